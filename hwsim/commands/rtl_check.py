"""``hwsim rtl-check``: one layer through the emitted RTL vs the golden model and the cycle model."""

from __future__ import annotations

import argparse

from ..cli import add_target_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    from ..rtlcheck import __doc__ as doc
    p = sub.add_parser("rtl-check", help="run one layer through the RTL; compare outputs and cycles with the models",
                       description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layer", required=True, metavar="SPEC", help="e.g. dw:c=32,h=16,w=16,k=3,s=1")
    p.add_argument("--sim", choices=["icarus", "verilator"], default="verilator")
    p.add_argument("--seed", type=int, default=0, help="random data seed (default 0)")
    p.add_argument("--force", action="store_true",
                   help="simulate a layer above the size limit (rtlcheck.MAX_VALUES values) anyway")
    add_target_args(p, policy=False, input_size=False)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..config import load
    from ..errors import HwsimError
    from ..rtlcheck import check_size, parse_spec, rtl_check
    if not 0 <= args.seed < 2**63:
        raise HwsimError(f"--seed must be a non-negative integer below 2**63, not {args.seed}")
    spec = parse_spec(args.layer)            # a bad spec fails before any build
    if not args.force:
        check_size(spec)
    cfg = load(args.board, args.accel, args.overrides, runtime=args.runtime)
    r = rtl_check(spec, cfg, args.sim, args.seed)
    if args.json:
        print_json(r)
    else:
        print(f"{r['layer']} on {r['accel']} ({r['tiles']} tile(s)), {r['sim']}:")
        print(f"  cycles   RTL {r['rtl_cycles']:,}   model {r['model_cycles']:,}   "
              f"{'equal' if r['rtl_cycles'] == r['model_cycles'] else 'DIFFERENT'}")
        print(f"  outputs  {r['outputs_checked']:,} checked against the golden model, {r['mismatches']:,} mismatches")
    return 0 if r["agree"] else 1
