"""The contract between the RTL and the cycle model: exact cycles of one tile, unstalled streams.

``tile_cycles(params, tile)`` is the number of clock cycles from the cycle the engine accepts its
``start`` to the cycle the last output beat (``tlast``) is transferred, inclusive, when ``s_axis``
always has data and ``m_axis`` is always ready.  The cocotb regression measures the emitted
Verilog against this function cycle for cycle; ``hwsim`` never uses any other formula for compute.

PROVISIONAL: the per-engine formulas below are placeholders until the RTL lands; the RTL work
replaces them with the formulas its hardware actually follows (and the cocotb tests prove it).
"""

from __future__ import annotations

from math import ceil

from .params import Mode, ParamError, PEArrayParams, TileSpec


def check_tile(p: PEArrayParams, t: TileSpec) -> None:
    """Raise ParamError if the instance cannot run this tile."""
    if max(t.cin, t.cout) > p.max_channels:
        raise ParamError(f"tile has {max(t.cin, t.cout)} channels; the engine describes at most {p.max_channels}")
    if t.mode == Mode.CONV:
        if ceil(t.cin * t.k * t.k / p.icp) > p.wbuf_depth:
            raise ParamError(f"conv tile reduction {t.cin}x{t.k}x{t.k} exceeds the weight buffer "
                             f"({p.wbuf_depth} x {p.icp})")
        if t.k > 7:     # rtl.layout.LayerConfig.k is 3 bits
            raise ParamError(f"conv kernel {t.k} exceeds the engine's largest kernel (7)")
        if max(t.h, t.w) > 4095:     # LayerConfig.h/w are 12 bits
            raise ParamError(f"conv tile of {t.h}x{t.w} output pixels exceeds the engine's 4095x4095 limit")
    elif t.mode in (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL):
        if t.k not in p.dw_kernels and not (t.mode != Mode.DW and t.k <= p.kmax):
            raise ParamError(f"kernel {t.k} is not supported by the depthwise engine (kernels {list(p.dw_kernels)})")
        if t.w > p.max_width:
            raise ParamError(f"tile width {t.w} exceeds the line buffer ({p.max_width} pixels)")


def tile_cycles(p: PEArrayParams, t: TileSpec) -> int:
    check_tile(p, t)
    if t.mode == Mode.CONV:
        # rtl/pointwise.py (proven by tests/rtl/test_cocotb_conv.py): the LUT block, then per
        # output-channel group (activations re-streamed): S weight entries of ceil(ICP*OCP/B) beats,
        # ceil(8*OCP/B) quantisation beats, one activation beat per reduction step, and the pipeline
        # drain (accept, multiply, adder tree, accumulate, 5 post-processing stages = 9 cycles).
        b = p.in_bytes
        steps = ceil(t.cin * t.k * t.k / p.icp)
        lut_beats = 256 // (1 << (min(b, 256).bit_length() - 1))
        per_group = (steps * ceil(p.icp * p.ocp / b) + ceil(8 * p.ocp / b)
                     + ceil(t.h * t.w / p.pp) * steps + 9)
        return 1 + lut_beats + ceil(t.cout / p.ocp) * per_group
    groups = ceil(t.cin / p.dw_channels)
    if t.mode == Mode.GAP:
        return groups * (3 + t.h * t.w + 2)
    if t.mode == Mode.SCALE:
        return groups * (3 + t.h * t.w + 2)
    wbeats = t.k * t.k + 3 if t.mode == Mode.DW else 3
    return groups * (wbeats + (t.h + t.pad) * (t.w + t.pad) + 2)
