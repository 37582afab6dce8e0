"""hwsim sweep: evaluate a grid of accelerator/board configurations on Dask, find the Pareto fronts."""

from __future__ import annotations

import argparse
import sys

from ..cli import add_target_args, print_json

EPILOG = """\
grid values parse like --set values (TOML); values are separated by the commas outside brackets and
quotes, so list fields take TOML arrays:
  hwsim sweep mobilenet_v2 --grid accel.pp=2,4,8 --grid accel.clock_mhz=100,150,200 \\
      --grid 'accel.pl_ops=["conv","dwconv"],["conv","dwconv","maxpool"]' --out build/sweep
--workers 0 evaluates in this process (no Dask); --scheduler tcp://HOST:PORT uses a running cluster
(dask scheduler / dask worker, or dask-jobqueue), whose workers must have this package installed.
outputs in --out: results.csv (one row per point, written as chunks finish), pareto.png, summary.json.
exit status: 0 when every point was evaluated or judged infeasible, 1 when some failed, 2 on bad input
(also: another sweep writing to the same --out).
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="design-space sweep over board/accelerator fields (Dask), Pareto fronts",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL", help="zoo model name or ONNX file (one or more)")
    p.add_argument("--grid", action="append", default=[], metavar="SECTION.KEY=V1,V2,...",
                   help="one sweep axis (repeatable; the sweep is the cartesian product)")
    add_target_args(p, policy=False)
    p.add_argument("--policy", default="naive", metavar="naive|optimized|naive,optimized",
                   help="placement policies to sweep (default: naive)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://10.0.0.5:8786, or the .json file of "
                        "`dask scheduler --scheduler-file` (default: an embedded LocalCluster)")
    p.add_argument("--workers", type=int, default=2, metavar="N",
                   help="embedded cluster's worker processes, 1 thread each "
                        "(default 2; 0 = serial, in-process; ignored with --scheduler)")
    p.add_argument("--chunk-size", type=int, default=None, metavar="N",
                   help="points per Dask task (default: about 4 tasks per worker, at most 50 points)")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out, skipping points done")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import sweep
    from ..errors import HwsimError

    if args.runtime is not None:
        raise HwsimError("hwsim sweep runs the board's default_runtime; sweep or set a profile's fields with "
                         "--grid runtime.KEY=V1,V2 or --set runtime.KEY=VALUE instead of --runtime")
    evaluator = sweep.DefaultEvaluator()
    spec = sweep.Sweep.create(args.models, [s.strip() for s in args.policy.split(",")], args.grid, evaluator,
                              board=args.board, accel=args.accel, overrides=args.overrides,
                              input_size=args.input_size)
    summary = sweep.run(spec, args.out, evaluator, workers=args.workers, scheduler=args.scheduler,
                        resume=args.resume, chunk=args.chunk_size, progress=not args.json and sys.stderr.isatty())
    if summary.dropped:
        print(summary.dropped_line(), file=sys.stderr)
    if args.json:
        print_json(summary.to_json())
    else:
        print(summary.line())
        for line in summary.error_lines() + summary.front_lines(spec.keys):
            print(line)
    # every point must have been evaluated or judged infeasible: failed points are a failed sweep
    if summary.failed:
        print(f"hwsim: {summary.failed} of {summary.points} points failed (reasons in "
              f"{summary.out / 'summary.json'}); exit status 1", file=sys.stderr)
        return 1
    return 0
