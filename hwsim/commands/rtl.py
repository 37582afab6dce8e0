"""``hwsim rtl``: write the Verilog of the board's accelerator instance (core + AXI4-Stream top)."""

from __future__ import annotations

import argparse

from ..cli import add_target_args, check_fit, output_dir, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rtl", help="write the Verilog of an accelerator instance",
                       description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write the Verilog files into")
    add_target_args(p, policy=False, input_size=False)
    p.add_argument("--no-fit-check", "--force", dest="no_fit_check", action="store_true",
                   help="write the Verilog even if the array does not fit the board's device (elaborating "
                        "an array far beyond it can take minutes and gigabytes)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtl.emit import TOP, write_verilog

    from ..config import load
    from ..errors import HwsimError

    cfg = load(args.board, args.accel, args.overrides, runtime=args.runtime)
    check_fit(cfg, args.overrides, args.no_fit_check)     # before elaborating anything
    pe = cfg.pe
    out = output_dir(args.out)
    try:
        files = write_verilog(pe, out)
    except OSError as e:
        raise HwsimError(f"cannot write Verilog to {args.out!r}: {e.strerror}") from None
    info = {"board": cfg.board_name, "accel": cfg.accel_name, "top": TOP, "params": pe.to_dict(),
            "files": [str(f) for f in files], "in_bytes": pe.in_bytes, "out_bytes": pe.out_bytes,
            "multipliers": pe.multipliers, "dsps": pe.dsps}
    if args.json:
        print_json(info)
        return 0
    print(f"{cfg.accel_name} on {cfg.board_name}: PP={pe.pp} ICP={pe.icp} OCP={pe.ocp} dw_channels={pe.dw_channels} "
          f"kernels={list(pe.dw_kernels)}, {pe.multipliers} INT8 products/cycle on {pe.dsps} DSP48E2, "
          f"s_axis {8 * pe.in_bytes} bit, m_axis {8 * pe.out_bytes} bit")
    for f in files:
        print(f"  wrote {f}")
    return 0
