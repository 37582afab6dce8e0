"""``hwsim synth``: Yosys synthesis of the accelerator instance; DSP/LUT/FF/BRAM use and device fit."""

from __future__ import annotations

import argparse

from ..cli import add_target_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="synthesise the accelerator with Yosys and check it fits the device",
                       description=__doc__.splitlines()[0])
    add_target_args(p, policy=False, input_size=False)
    p.add_argument("--estimate-only", action="store_true",
                   help="report the analytic estimate (rtl.synth.estimate) without running Yosys")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rtl.synth import estimate, fit, fmax_estimate, recorded_timing, synthesize, yosys_family

    from ..config import load
    from ..errors import HwsimError
    from ..resources import activation_buffer_bram36, device_table

    cfg = load(args.board, args.accel, args.overrides, runtime=args.runtime)
    pe, board = cfg.pe, cfg.board
    est = estimate(pe)
    if est["dsp"] > board.dsp:     # cannot be placed at all: no point running Yosys for minutes
        pw = pe.pw_dsps
        packed = f" / {pe.macs_per_dsp} MACs per DSP" if pe.macs_per_dsp > 1 else ""
        raise HwsimError(f"the PE array needs {est['dsp']} DSP48E2 (CONV array PP x ICP x OCP = "
                         f"{pe.pp}x{pe.icp}x{pe.ocp}{packed} = {pw}, depthwise engine {est['dsp'] - pw}); "
                         f"{board.device} has {board.dsp}")
    res = est if args.estimate_only else synthesize(pe, family=yosys_family(board.family or "zynquplus"))
    # the activation buffers sit in the data mover, outside the synthesised core, but on the same device
    buffers = activation_buffer_bram36(cfg.accel)
    total = {**res, "bram36": res["bram36"] + buffers}
    f = fit(total, device_table(board))
    out = {"device": board.device, "dsp": total["dsp"], "lut": total["lut"], "ff": total["ff"],
           "bram36": total["bram36"], "core_bram36": res["bram36"], "buffer_bram36": buffers, "fits": f["fits"],
           "source": "estimate" if args.estimate_only else "yosys",
           "max_util": board.max_util if board.max_util is not None else 1.0, "util": {k: round(v, 4) for k, v in f["util"].items()},
           "estimate": est}
    # with --estimate-only, the Fmax estimate of a recorded Yosys run of this instance, where there is one
    timing = recorded_timing(pe) if args.estimate_only else fmax_estimate(res)
    clock = cfg.accel.clock_mhz
    if timing is not None:
        out["fmax_mhz_estimate"] = timing["fmax_mhz_estimate"]
        out["timing"] = {**timing, "clock_mhz": clock, "supports_clock": timing["fmax_mhz_estimate"] >= clock}
    if args.json:
        print_json(out)
        return 0
    print(f"{cfg.accel_name} on {board.device} ({out['source']}): PP={pe.pp} ICP={pe.icp} OCP={pe.ocp} "
          f"dw_channels={pe.dw_channels} macs_per_dsp={pe.macs_per_dsp}")
    print(f"  BRAM36 = accelerator (engine, data mover, sequencer, registers) {res['bram36']:g} + activation buffers {buffers} (accel.ibuf_kib/obuf_kib)")
    for k, name in (("dsp", "DSP48E2"), ("lut", "LUT"), ("ff", "FF"), ("bram36", "BRAM36")):
        note = "" if args.estimate_only else f"   (estimate {est[k] + (buffers if k == 'bram36' else 0):g})"
        print(f"  {name:<8} {total[k]:>9g} / {getattr(board, k):<7} {100 * f['util'][k]:5.1f}%{note}")
    if timing is not None:
        print(f"  Fmax     ~{timing['fmax_mhz_estimate']:g} MHz (estimate: {timing['path_lut_levels']} LUT levels + "
              f"{timing['path_carry_cells']} carry cells on Yosys' longest register-to-register path, "
              f"limited by {timing['limited_by']}{'; ' + timing['source'] if 'source' in timing else ''}); accel.clock_mhz {clock:g} "
              f"{'is within it' if timing['fmax_mhz_estimate'] >= clock else 'is NOT supported'}")
    limit = f"{100 * out['max_util']:.0f}%"
    print(f"  fits: {'yes' if f['fits'] else 'NO'} (limit {limit} of each resource"
          + (f"; over: {', '.join(f['over'])})" if f["over"] else ")"))
    return 0
