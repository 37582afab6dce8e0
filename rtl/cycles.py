"""The contract between the RTL and the cycle model: exact cycles of one tile, unstalled streams.

``tile_cycles(params, tile)`` is the number of clock cycles from the cycle the engine accepts its
``start`` to the cycle the last output beat (``tlast``) is transferred, inclusive, when ``s_axis``
always has data and ``m_axis`` is always ready.  The cocotb regression measures the emitted
Verilog against this function cycle for cycle; ``hwsim`` never uses any other formula for compute.

Proved by: tests/rtl/test_pointwise.py and test_depthwise.py (Amaranth simulation of every mode),
tests/rtl/test_cocotb_conv.py and test_cocotb_dw.py (the emitted Verilog on Icarus and Verilator),
tests/hwsim/test_rtl_check.py (whole layers, tiled as the cycle model tiles them).
"""

from __future__ import annotations

from math import ceil

from .params import Mode, ParamError, PEArrayParams, TileSpec

# rtl.depthwise.LATENCY: window, products and sum stages + rtl.postproc.PostProc's 5 stages
DW_LATENCY = 8
# rtl.depthwise.EW_LATENCY: SCALE / ADD input, products, shift and output stages
EW_LATENCY = 4
# rtl.depthwise.PIPE_STAGES: a group's parameters stay in use until its last step leaves the sum stage
DW_PARAM_HOLD = 3


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
        if max(t.cin, t.cout) > 8191:     # LayerConfig.cin/cout are 13 bits
            raise ParamError(f"conv tile with {max(t.cin, t.cout)} channels exceeds the 13-bit channel fields (8191)")
    else:
        _check_dw(p, t)


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
        lut_beats = 256 // (1 << (min(b, 256).bit_length() - 1))
        per_group = (steps * ceil(p.icp * p.ocp / b) + ceil(8 * p.ocp / b) + steps
                     + (groups - 1) * max(steps, p.pp) + p.pp + 10)
        return 1 + lut_beats + ceil(t.cout / p.ocp) * per_group
    return _dw_cycles(p, t)


def _check_dw(p: PEArrayParams, t: TileSpec) -> None:
    """Depthwise-engine modes (rtl.depthwise): what its configuration fields, line buffer and
    accumulators can hold."""
    from .golden_dw import window
    name = t.mode.name
    if t.cout != t.cin:
        raise ParamError(f"{name} tile has cin={t.cin} but cout={t.cout}; the depthwise engine keeps "
                         f"the channel count (cout must equal cin)")
    if max(t.h, t.w) > 4095:
        raise ParamError(f"{name} tile {t.h}x{t.w} exceeds the 12-bit h/w configuration fields (4095)")
    k, stride, pad = window(t.mode, t.k, t.stride, t.pad)
    if t.mode == Mode.DW and k not in p.dw_kernels:
        raise ParamError(f"depthwise kernel {k} is not supported (dw_kernels {list(p.dw_kernels)})")
    if t.mode in (Mode.MAXPOOL, Mode.AVGPOOL) and k > p.kmax:
        raise ParamError(f"{name} kernel {k} exceeds the depthwise window ({p.kmax}x{p.kmax})")
    if t.mode in (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL):
        if t.w > p.max_width:
            raise ParamError(f"{name} tile width {t.w} exceeds the line buffer ({p.max_width} pixels)")
        if stride not in (1, 2):
            raise ParamError(f"{name} stride {stride} is not supported by the depthwise engine (1 or 2)")
        if pad >= k or pad > 3:
            raise ParamError(f"{name} pad {pad} must be below the kernel size {k} and at most 3")
        if min(t.h, t.w) + 2 * pad < k:
            raise ParamError(f"{name} tile {t.h}x{t.w} (pad {pad}) is smaller than its {k}x{k} window")
    if t.mode == Mode.ADD and p.add_lanes < 1:
        raise ParamError(f"ADD needs 2 input lanes per channel (a and b); beats have {p.in_bytes}")
    if t.mode in (Mode.SCALE, Mode.ADD):
        return          # no accumulator: the fixed-width light output path holds any INT8 x 16-bit product
    n = {Mode.DW: k * k, Mode.MAXPOOL: 1, Mode.AVGPOOL: k * k, Mode.GAP: t.h * t.w}[t.mode]   # terms summed
    lo, hi = (-128 * 127 * n, 128 * 128 * n) if t.mode == Mode.DW else (-128 * n, 127 * n)
    if lo < -(1 << (p.acc_width - 1)) or hi >= 1 << (p.acc_width - 1):
        raise ParamError(f"{name} tile {t.h}x{t.w} k={k} can reach acc = {hi if hi >= -lo else lo}, "
                         f"beyond the {p.acc_width}-bit accumulator")


def gap_chunks(p: PEArrayParams) -> int:
    """rtl.depthwise.gap_chunks: PostProc passes of dw_channels lanes per GAP group."""
    return -(-p.ew_lanes // p.dw_channels)


def _dw_cycles(p: PEArrayParams, t: TileSpec) -> int:
    """rtl.depthwise: the tile prologue (the activation LUT, or SCALE/ADD's per-tensor header), the
    first group's parameter block, then per channel group (``rtl.golden_dw.group_lanes`` channels)
    one step per cycle over the (h+pad) x (w+pad) padded input (bottom/right padding steps take no
    input); the next group's block loads while the pipeline drains, and its first step follows
    max(block beats, hold) cycles after the previous group's last (hold: DW_PARAM_HOLD, GAP
    DW_PARAM_HOLD + chunks - 1; ADD has no per-group block and no gap).  The tile ends when its
    last output beat leaves, the mode's latency after the step that completes the last output
    (window modes and GAP's accumulation DW_LATENCY, GAP + its serialised chunks, SCALE/ADD
    EW_LATENCY)."""
    from .golden_dw import block_beats, group_lanes, header_beats, uses_lut, window
    from .golden_pw import lut_word_bytes
    k, stride, pad = window(t.mode, t.k, t.stride, t.pad)
    groups = ceil(t.cin / group_lanes(p, t.mode))
    blk = block_beats(p, t.mode)
    pre = (256 // lut_word_bytes(p.in_bytes) if uses_lut(t.mode) else 0) + header_beats(p, t.mode)
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
