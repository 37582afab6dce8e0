"""Speed and memory of one frame-rate estimate (``hwsim.estimate``), EfficientNet-B4 at 256x256 on
the Ultra96 by default.

    .venv/bin/python bench/estimate_speed.py [--model efficientnet_b4] [--input-size 256] [--runs 20]

Prints the median wall time of each stage for ``--model`` (model build, ``prepare`` (the graph
passes), partition, the cycle model itself, and the whole ``estimate()`` call); then, for
EfficientNet-B4 at 256 and MobileNetV2, the end-to-end ``estimate()`` time next to the cycle
model's own time and the tracemalloc peak of the whole call (the promise: a full B4 estimate in well
under 100 ms in-process); then the tracemalloc peak of the cycle model for a range of networks and
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
from mapper.passes import prepare

END_TO_END = [("efficientnet_b4", 256), ("mobilenet_v2", None)]   # None: the native input size


def median_ms(fn, runs: int) -> float:
    fn()                                     # warm-up (imports, caches)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def paired_ms(fns, runs: int) -> list[tuple[float, float]]:
    """(median, min) ms of each of ``fns``, timed in turn within each run (so that a busy machine
    slows them alike)."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, ts in zip(fns, times):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
    return [(statistics.median(ts) * 1e3, min(ts) * 1e3) for ts in times]


def peak_mib(fn) -> float:
    """The tracemalloc peak of one call of ``fn`` (after a warm-up call)."""
    fn()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


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
    tiles = sum(getattr(l, "tiles", 0) for l in e.layers)
    print(f"{args.model} @ {args.input_size} on {args.board}, policy {args.policy}: {len(g)} nodes -> "
          f"{len(plan.graph)} after prepare, {len(e.layers)} layers, {tiles} PL tiles; "
          f"fps {e.fps:.2f}, latency {e.latency_ms:.1f} ms")
    print(f"  model build      {median_ms(lambda: load_model(args.model, args.input_size), args.runs):8.1f} ms")
    print(f"  prepare          {median_ms(lambda: prepare(g, cfg.accel.pl_fused or ()), args.runs):8.1f} ms (graph passes)")
    print(f"  partition        {median_ms(lambda: partition(load_model(args.model, args.input_size), cfg.accel, args.policy), args.runs):8.1f} ms (incl. build)")
    print(f"  cycle model      {median_ms(lambda: estimate_plan(plan, cfg), args.runs):8.1f} ms (estimate_plan)")
    print(f"  estimate()       {median_ms(lambda: estimate(args.model, input_size=args.input_size, policy=args.policy, cfg=cfg), args.runs):8.1f} ms (all of it)")

    print(f"end-to-end estimate() vs the cycle model alone on {args.board}, policy {args.policy} "
          f"(median of {args.runs} runs each, interleaved):")
    for model, size in END_TO_END:
        p = partition(load_model(model, size), cfg.accel, args.policy)
        size = p.graph.shape(p.graph.inputs[0])[-1]
        run = lambda: estimate(model, input_size=size, policy=args.policy, cfg=cfg)  # noqa: E731
        (total, total_min), (cycle, cycle_min) = paired_ms([run, lambda: estimate_plan(p, cfg)], args.runs)
        print(f"  {model:<16} @ {size:<4} estimate() {total:6.1f} ms (min {total_min:5.1f})   "
              f"cycle model {cycle:6.1f} ms (min {cycle_min:5.1f})   tracemalloc peak {peak_mib(run):6.2f} MiB")

    print("tracemalloc peak of the cycle model (estimate_plan):")
    for model, size in [("efficientnet_b0", 224), ("efficientnet_b4", 256), ("efficientnet_b4", 512),
                        ("efficientnet_b7", 600)]:
        p = partition(load_model(model, size), cfg.accel, args.policy)
        r = estimate_plan(p, cfg)
        peak = peak_mib(lambda: estimate_plan(p, cfg))
        t = sum(getattr(l, "tiles", 0) for l in r.layers)
        print(f"  {model:<16} @ {size:<4} {len(r.layers):4d} layers {t:6d} tiles  peak {peak:6.2f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
