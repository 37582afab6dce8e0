"""Speed and memory of one frame-rate estimate (``hwsim.estimate``), EfficientNet-B4 at 256x256 on
the Ultra96 by default.

    .venv/bin/python bench/estimate_speed.py [--model efficientnet_b4] [--input-size 256] [--runs 20]

Prints the median wall time of each stage (model build, partition, the cycle model itself, and the
whole ``estimate()`` call), then the tracemalloc peak of the cycle model for a range of networks and
resolutions: it keeps per-layer records only (tiles are transient numpy arrays), so its memory
follows the layer count, not the tile count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc

from hwsim.config import load
from hwsim.estimate import estimate, estimate_plan
from mapper.models import load_model
from mapper.partition import partition


def median_ms(fn, runs: int) -> float:
    fn()                                     # warm-up (imports, caches)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="efficientnet_b4")
    ap.add_argument("--input-size", type=int, default=256)
    ap.add_argument("--board", default="ultra96v1")
    ap.add_argument("--policy", default="naive", choices=["naive", "optimized"])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    cfg = load(args.board)
    g = load_model(args.model, args.input_size)
    plan = partition(g, cfg.accel, args.policy)
    e = estimate_plan(plan, cfg)
    tiles = sum(l.get("tiles", 0) for l in e.layers)
    print(f"{args.model} @ {args.input_size} on {args.board}, policy {args.policy}: {len(e.layers)} layers, "
          f"{tiles} PL tiles; fps {e.fps:.2f}, latency {e.latency_ms:.1f} ms")
    print(f"  model build      {median_ms(lambda: load_model(args.model, args.input_size), args.runs):8.1f} ms")
    print(f"  partition        {median_ms(lambda: partition(load_model(args.model, args.input_size), cfg.accel, args.policy), args.runs):8.1f} ms (incl. build)")
    print(f"  cycle model      {median_ms(lambda: estimate_plan(plan, cfg), args.runs):8.1f} ms (estimate_plan)")
    print(f"  estimate()       {median_ms(lambda: estimate(args.model, input_size=args.input_size, policy=args.policy, cfg=cfg), args.runs):8.1f} ms (all of it)")
    print("tracemalloc peak of the cycle model (estimate_plan):")
    for model, size in [("efficientnet_b0", 224), ("efficientnet_b4", 256), ("efficientnet_b4", 512),
                        ("efficientnet_b7", 600)]:
        p = partition(load_model(model, size), cfg.accel, args.policy)
        estimate_plan(p, cfg)
        tracemalloc.start()
        r = estimate_plan(p, cfg)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        t = sum(l.get("tiles", 0) for l in r.layers)
        print(f"  {model:<16} @ {size:<4} {len(r.layers):4d} layers {t:6d} tiles  peak {peak / 2**20:6.2f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
