"""``hwsim compare``: several models side by side on one board (fps, latency, where the time goes)."""

from __future__ import annotations

import argparse

from ..cli import add_fit_arg, add_target_args, check_fit, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="side-by-side frame rate of several models on a board",
                       description=__doc__.splitlines()[0])
    p.add_argument("models", metavar="MODEL", nargs="+", help="zoo model names or .onnx paths")
    add_target_args(p)
    add_fit_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load
    from ..estimate import BREAKDOWN, estimate

    cfg = load(args.board, args.accel, args.overrides, runtime=args.runtime)
    check_fit(cfg, args.overrides, args.no_fit_check)
    rows = [estimate(m, input_size=args.input_size, policy=args.policy, cfg=cfg) for m in args.models]
    if args.json:
        print_json({"board": cfg.board_name, "accel": cfg.accel_name, "runtime": cfg.runtime_name,
                    "policy": args.policy, "params": {"runtime": cfg.runtime.raw()},
                    "models": [r.summary() for r in rows]})
        return 0
    width = max(12, *(len(r.model) for r in rows))
    heads = ["input", "GMAC", "fps", "latency", "op_count", "op/fps", "array_op"] + list(BREAKDOWN) + ["bottleneck"]
    print(f"{cfg.board_name} / {cfg.accel_name}, runtime {cfg.runtime_name}, policy {args.policy} (times in ms per frame; op_count: the op "
          f"count at the PL's peak in fps, array_op: at this accelerator's)")
    print(f"{'model':<{width}}  " + "  ".join(f"{h:>15}" if h in BREAKDOWN else f"{h:>9}" for h in heads))
    for r in rows:
        over = r.op_count_fps / r.fps if r.op_count_fps and r.fps else None
        cells = [f"{r.input_shape[-1]:>9}", f"{r.total_macs / 1e9:>9.2f}", f"{r.fps:>9.2f}",
                 f"{r.latency_ms:>9.2f}",
                 f"{r.op_count_fps:>9.2f}" if r.op_count_fps else f"{'-':>9}",
                 f"{over:>9.1f}" if over else f"{'-':>9}",
                 f"{r.array_op_count_fps:>9.2f}" if r.array_op_count_fps else f"{'-':>9}"]
        cells += [f"{r.breakdown_ms[k]:>15.2f}" for k in BREAKDOWN]
        cells.append(f"{r.bottleneck:>9}")
        print(f"{r.model:<{width}}  " + "  ".join(cells))
    return 0
