"""``hwsim advise``: the best designs that fit the board for one or more networks, and what changed."""

from __future__ import annotations

import argparse
import inspect
import sys

from ..cli import add_target_args, print_json

EPILOG = """\
levers searched (from the deployed design): array shape (accel.pp, icp, ocp, dw_channels), packing
(accel.macs_per_dsp), buffers (accel.ibuf_kib, obuf_kib, wbuf_depth), clock (accel.clock_mhz, up to
--max-clock-mhz; default: the clock Xilinx's DPU runs at on the board's device), placement (naive or
optimized), ops on PS vs PL (accel.pl_ops), runtime (ps.threads, and the runtime profile's
frames_in_flight, buffer_mode and completion).  Designs that do not fit the device (analytic
resource estimate) are dropped before any simulation.  --lever GROUP limits the search, e.g.
  hwsim advise efficientnet_b4 --input-size 256 --lever clock --lever packing --json
outputs in --out: designs.jsonl (every design simulated, streamed), optuna.journal (the search),
advise.json (the result); --resume continues there.
"""


def register(sub: argparse._SubParsersAction) -> None:
    from ..advise import DEFAULT_BUDGET, OBJECTIVES
    p = sub.add_parser("advise", help="search accelerator shape, clock, placement and runtime for the best "
                                      "designs that fit the board",
                       description=__doc__.splitlines()[0], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL", help="zoo model name or ONNX file (several: geometric mean)")
    add_target_args(p)
    from ..config import load
    if "runtime" in inspect.signature(load).parameters and "--runtime" not in p._option_string_actions:
        p.add_argument("--runtime", default=None, help="runtime profile of the starting point")
    p.add_argument("--objective", choices=OBJECTIVES, default="fps", help="what to maximise (latency: minimise)")
    p.add_argument("--max-clock-mhz", type=float, default=None, metavar="F",
                   help="highest PL clock to try (default: the DPU's published clock on this board's device)")
    p.add_argument("--budget", type=int, default=DEFAULT_BUDGET, metavar="N",
                   help=f"designs to simulate at most (default {DEFAULT_BUDGET})")
    p.add_argument("--lever", dest="levers", action="append", default=None, metavar="GROUP|FIELD",
                   help="search only this lever group or field (repeatable; default: all)")
    p.add_argument("--top", type=int, default=10, metavar="N", help="designs to report (default 10)")
    p.add_argument("--by-lever", action="store_true",
                   help="the best design of each lever alone, then of all at once (what hwsim study reports)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address (or its scheduler file) to simulate on (default: this process)")
    p.add_argument("--out", default=None, metavar="DIR", help="stream designs and the search to DIR")
    p.add_argument("--resume", action="store_true", help="continue the search in --out")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..advise import AdviseError, advise
    if args.resume and not args.out:
        raise AdviseError("--resume needs --out DIR")
    if args.top < 1:
        raise AdviseError(f"--top must be a positive integer, not {args.top}")
    if args.by_lever:
        return _by_lever(args)
    a = advise(args.models, board=args.board, accel=args.accel, overrides=args.overrides, input_size=args.input_size,
               objective=args.objective, max_clock_mhz=args.max_clock_mhz, budget=args.budget, levers=args.levers,
               policy=args.policy, scheduler=args.scheduler, out=args.out, resume=args.resume,
               progress=sys.stderr.isatty() or not args.json, top=args.top, runtime=getattr(args, "runtime", None))
    if args.json:
        print_json(a.to_json())
        return 0
    for line in a.lines():
        print(line)
    return 0


def _by_lever(args: argparse.Namespace) -> int:
    from ..advise import DEFAULT_BUDGET, AdviseError, by_lever, lever_label
    for flag, bad in (("--lever", args.levers), ("--out", args.out), ("--budget", args.budget != DEFAULT_BUDGET)):
        if bad:
            raise AdviseError(f"--by-lever searches its own levers and budgets; drop {flag}")
    rows = by_lever(args.models, board=args.board, accel=args.accel, overrides=args.overrides,
                    input_size=args.input_size, objective=args.objective, max_clock_mhz=args.max_clock_mhz,
                    policy=args.policy, scheduler=args.scheduler, runtime=getattr(args, "runtime", None),
                    on_lever=(lambda what: print(what, file=sys.stderr)) if sys.stderr.isatty() or not args.json
                    else None)
    done = [(lever, a) for lever, a in rows if a is not None]
    if not done:
        raise AdviseError("no lever can be searched here (every one is fixed by --set)")
    base = done[0][1].baseline
    if args.json:
        print_json({"baseline": base, "by_lever": [
            {"lever": lever.name, "label": lever_label(lever, a), "search": a.search,
             "best": a.designs[0] if a.designs else None} for lever, a in done]})
        return 0
    a0 = done[0][1]
    print(f"advise {' '.join(a0.models)} on {a0.board} / {a0.accel}, objective {a0.objective}, one lever at a time")
    print(f"  as deployed: {base['fps']:.2f} fps, latency {base['latency_ms']:.1f} ms")
    for lever, a in done:
        d = a.designs[0] if a.designs else a.baseline
        print(f"  {d['fps']:7.2f} fps  {d['fps'] / base['fps']:4.2f}x  {d['latency_ms']:6.1f} ms  {lever_label(lever, a)}")
    return 0
