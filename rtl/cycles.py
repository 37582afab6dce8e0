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
    elif t.mode in (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL):
        if t.k not in p.dw_kernels and not (t.mode != Mode.DW and t.k <= p.kmax):
            raise ParamError(f"kernel {t.k} is not supported by the depthwise engine (kernels {list(p.dw_kernels)})")
        if t.w > p.max_width:
            raise ParamError(f"tile width {t.w} exceeds the line buffer ({p.max_width} pixels)")


def tile_cycles(p: PEArrayParams, t: TileSpec) -> int:
    check_tile(p, t)
    if t.mode == Mode.CONV:
        r = ceil(t.cin * t.k * t.k / p.icp)
        groups = ceil(t.cout / p.ocp)
        pix = ceil(t.h * t.w / p.pp)
        wbeats = r * ceil(p.icp * p.ocp / p.in_bytes) + 3 * ceil(p.ocp / p.in_bytes * 4)
        return groups * (wbeats + pix * r + 2)
    groups = ceil(t.cin / p.dw_channels)
    if t.mode == Mode.GAP:
        return groups * (3 + t.h * t.w + 2)
    if t.mode == Mode.SCALE:
        return groups * (3 + t.h * t.w + 2)
    wbeats = t.k * t.k + 3 if t.mode == Mode.DW else 3
    return groups * (wbeats + (t.h + t.pad) * (t.w + t.pad) + 2)
