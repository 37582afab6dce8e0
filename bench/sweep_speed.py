"""Sweep throughput: points per second of a MobileNetV2 sweep, in-process serial vs an embedded
Dask LocalCluster.

    .venv/bin/python bench/sweep_speed.py [--model mobilenet_v2] [--workers 2]

The cluster run sweeps 1,296 points (PP x ICP x OCP x 9 clocks x dw_channels x input buffer x both
policies); the serial run the same grid at one clock (144 points; its rate does not depend on how
many), each into a fresh temporary directory.  The cluster's time includes starting it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from hwsim import sweep

GRID = ["accel.pp=1,2,4", "accel.icp=4,8", "accel.ocp=4,8,16",
        "accel.clock_mhz=100,125,150,175,200,225,250,275,300", "accel.dw_channels=1,2", "accel.ibuf_kib=64,128"]


def timed(grid: list[str], model: str, out: Path, workers: int) -> tuple[int, float, sweep.Summary]:
    spec = sweep.Sweep.create([model], ["naive", "optimized"], grid, sweep.DefaultEvaluator())
    t = time.perf_counter()
    s = sweep.run(spec, out, sweep.DefaultEvaluator(), workers=workers)
    return s.new, time.perf_counter() - t, s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet_v2")
    ap.add_argument("--workers", type=int, default=2, help="embedded cluster size (default 2)")
    args = ap.parse_args()
    serial_grid = [g if not g.startswith("accel.clock_mhz=") else "accel.clock_mhz=100" for g in GRID]
    with tempfile.TemporaryDirectory() as d:
        n, dt, s = timed(serial_grid, args.model, Path(d) / "serial", 0)
        print(f"serial (in-process): {n} points in {dt:.2f} s = {n / dt:.1f} points/s "
              f"({s.evaluated} evaluated, {s.infeasible} infeasible)")
        n, dt, s = timed(GRID, args.model, Path(d) / "dask", args.workers)
        print(f"dask LocalCluster ({args.workers} workers, incl. start-up): {n} points in {dt:.2f} s = "
              f"{n / dt:.1f} points/s ({s.evaluated} evaluated, {s.infeasible} infeasible, {s.failed} failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
