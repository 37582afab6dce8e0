"""The cycle model of the RTL: exact cycles of one tile, unstalled streams.

``tile_cycles(params, tile)`` is the number of clock cycles from the cycle the engine accepts its
``start`` to the cycle the last output beat (``tlast``) is transferred, inclusive, when ``s_axis``
always has data and ``m_axis`` is always ready.  The cocotb regression measures the emitted
Verilog against this function cycle for cycle; ``hwsim`` never uses any other formula for compute.
The beat and latency facts it counts with are the RTL contract (``rtl.contract``).

Proved by: tests/rtl/test_pointwise.py and test_depthwise.py (Amaranth simulation of every mode),
tests/rtl/test_cocotb_conv.py and test_cocotb_dw.py (the emitted Verilog on Icarus and Verilator),
tests/hwsim/test_rtl_check.py (whole layers, tiled as the cycle model tiles them).
"""

from __future__ import annotations

from math import ceil

from .contract import (CONV_GROUP_TAIL, CONV_QREC_BYTES, DW_LATENCY, DW_PARAM_HOLD, EW_LATENCY, block_beats,
                       check_tile, gap_chunks, group_lanes, header_beats, lut_beats, uses_lut, window)
from .params import Mode, PEArrayParams, TileSpec

__all__ = ["tile_cycles", "check_tile", "gap_chunks", "DW_LATENCY", "EW_LATENCY", "DW_PARAM_HOLD"]


def tile_cycles(p: PEArrayParams, t: TileSpec) -> int:
    check_tile(p, t)
    if t.mode == Mode.CONV:
        # rtl/pointwise.py (proven by tests/rtl/test_cocotb_conv.py): the LUT block, then per
        # output-channel group (activations re-streamed): S weight entries of ceil(ICP*OCP/B) beats,
        # ceil(8*OCP/B) quantisation beats, one activation beat per reduction step, pixel groups
        # post-processed one pixel per cycle (a group every max(S, PP) cycles), then the drain.
        b = p.in_bytes
        steps = ceil(t.cin * t.k * t.k / p.icp)
        groups = ceil(t.h * t.w / p.pp)
        per_group = (steps * ceil(p.icp * p.ocp / b) + ceil(CONV_QREC_BYTES * p.ocp / b) + steps
                     + (groups - 1) * max(steps, p.pp) + p.pp + CONV_GROUP_TAIL)
        return 1 + lut_beats(b) + ceil(t.cout / p.ocp) * per_group
    return _dw_cycles(p, t)


def _dw_cycles(p: PEArrayParams, t: TileSpec) -> int:
    """rtl.depthwise: the tile prologue (the activation LUT, or SCALE/ADD's per-tensor header), the
    first group's parameter block, then per channel group (``rtl.contract.group_lanes`` channels)
    one step per cycle over the (h+pad) x (w+pad) padded input (bottom/right padding steps take no
    input); the next group's block loads while the pipeline drains, and its first step follows
    max(block beats, hold) cycles after the previous group's last (hold: DW_PARAM_HOLD, GAP
    DW_PARAM_HOLD + chunks - 1; ADD has no per-group block and no gap).  The tile ends when its
    last output beat leaves, the mode's latency after the step that completes the last output
    (window modes and GAP's accumulation DW_LATENCY, GAP + its serialised chunks, SCALE/ADD
    EW_LATENCY)."""
    k, stride, pad = window(t.mode, t.k, t.stride, t.pad)
    groups = ceil(t.cin / group_lanes(p, t.mode))
    blk = block_beats(p, t.mode)
    pre = (lut_beats(p.in_bytes) if uses_lut(t.mode) else 0) + header_beats(p, t.mode)
    steps = (t.h + pad) * (t.w + pad)
    last_y = (t.out_h - 1) * stride + k - 1 - pad        # step of the last output window
    last_x = (t.out_w - 1) * stride + k - 1 - pad
    last_step = steps - 1 if t.mode == Mode.GAP else last_y * (t.w + pad) + last_x
    if t.mode == Mode.ADD:
        gap, latency = 0, EW_LATENCY
    elif t.mode == Mode.SCALE:
        gap, latency = max(blk, DW_PARAM_HOLD), EW_LATENCY
    elif t.mode == Mode.GAP:
        gap, latency = max(blk, DW_PARAM_HOLD + gap_chunks(p) - 1), DW_LATENCY + gap_chunks(p)
    else:
        gap, latency = max(blk, DW_PARAM_HOLD), DW_LATENCY
    return 1 + pre + blk + (groups - 1) * (steps + gap) + last_step + latency + 1
