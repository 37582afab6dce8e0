"""The RTL contract: every stream-format and timing fact the engines, the golden models and the
cycle model share, in one module that imports neither NumPy nor Amaranth.

Three parties speak it and none of them defines it:

* the hardware (``rtl.layout``, ``rtl.postproc``, ``rtl.pointwise``, ``rtl.depthwise``) builds its
  configuration fields, parameter registers and drain counters from these numbers;
* the NumPy golden models (``rtl.golden_pw``, ``rtl.golden_dw``) pack their streams with them and
  are otherwise independent references of the arithmetic (they import nothing else from ``rtl``
  but ``rtl.params`` and the shared ``rtl.golden``);
* the cycle model (``rtl.cycles``, and through it ``hwsim``) counts beats and bytes with them.

A layout bug here is therefore visible as a disagreement between the RTL and its golden model
(output beats) or the cycle model (cycles) in the cocotb regression, not hidden in one of them.

The stream layouts themselves are described in ``rtl.golden_pw`` (CONV) and ``rtl.golden_dw``
(depthwise-engine modes); this module holds the sizes those descriptions name.
"""

from __future__ import annotations

from math import ceil

from .params import Mode, ParamError, PEArrayParams, TileSpec

# ---- configuration fields (rtl.layout.LayerConfig, LSB first): name, width, signed ------------------
CFG_FIELDS: tuple[tuple[str, int, bool], ...] = (
    ("mode", 3, False),        # rtl.params.Mode
    ("cin", 13, False),        # input channels (depthwise modes: channels of the tile)
    ("cout", 13, False),       # output channels
    ("h", 12, False),          # CONV: output pixel rows of the tile; other modes: input rows
    ("w", 12, False),          # CONV: output pixel columns; other modes: input columns
    ("k", 3, False),           # kernel size (window side)
    ("stride", 2, False),
    ("pad", 2, False),         # symmetric zero padding (depthwise/pool modes)
    ("clamp_lo", 8, True),     # activation clamp after requantisation: ReLU -> 0, ReLU6 -> q(6)
    ("clamp_hi", 8, True),
    ("lut_en", 1, False),      # pass the requantised value through the 256-entry activation LUT
)
CFG_BITS = {name: width for name, width, _ in CFG_FIELDS}


def cfg_max(name: str) -> int:
    """Largest value an unsigned configuration field holds."""
    return (1 << CFG_BITS[name]) - 1


# ---- post-processing (rtl.postproc): the per-channel requantisation fields ---------------------------
BIAS_WIDTH = 32                 # int32 bias per output channel
MULT_WIDTH = 16                 # unsigned requantisation multiplier
SHIFT_WIDTH = 6                 # right shift field (values above MAX_SHIFT are not part of the contract)
MAX_SHIFT = 47
POSTPROC_LATENCY = 5            # register stages of rtl.postproc.PostProc

# ---- the activation LUT: 256 INT8 entries, written one word per input beat ---------------------------
LUT_ENTRIES = 256


def lut_word_bytes(beat_bytes: int) -> int:
    """Bytes of the LUT written per cycle: the largest power of two <= min(beat_bytes, 256)."""
    return 1 << (min(beat_bytes, LUT_ENTRIES).bit_length() - 1)


def lut_beats(beat_bytes: int) -> int:
    """Input beats that carry the 256-entry activation LUT."""
    return LUT_ENTRIES // lut_word_bytes(beat_bytes)


# ---- CONV engine (rtl.pointwise) ---------------------------------------------------------------------
CONV_QREC_BYTES = 8             # per output channel: int32 bias, uint16 mult, uint8 shift, one zero byte
# cycles of a CONV output-channel group beyond its beats, S and the pixel groups' post-processing
# (rtl.pointwise's timeline): a pixel group reaches post-processing S + 3 cycles after its first
# activation beat, the group's last output beat leaves PP + 6 cycles after the last one does, and
# the next group starts on the next cycle: 3 + 6 + 1
CONV_GROUP_TAIL = 10

# ---- depthwise engine (rtl.depthwise) ----------------------------------------------------------------
DW_MODES = (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL, Mode.SCALE, Mode.GAP, Mode.ADD)
WINDOW_MODES = (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL)
LUT_MODES = (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL, Mode.GAP)   # outputs through rtl.postproc (LUT sent)
RQ_BYTES = 7                    # per channel of a depthwise block: int32 bias, uint16 mult, uint8 shift
EW_SHIFT_WIDTH = 5              # SCALE / ADD per-tensor shift field
EW_MAX_SHIFT = (1 << EW_SHIFT_WIDTH) - 1
HEADER_BYTES = {Mode.SCALE: 1, Mode.ADD: 5}     # SCALE: uint8 shift; ADD: int16 ma, int16 mb, uint8 shift
DW_PIPE_STAGES = 3              # window, products, sum/accumulate
DW_LATENCY = DW_PIPE_STAGES + POSTPROC_LATENCY   # a window step to its output beat
EW_LATENCY = 4                  # SCALE / ADD: input, products, shift, output
DW_PARAM_HOLD = DW_PIPE_STAGES  # a group's parameters stay in use until its last step leaves the sum stage
DW_MAX_PAD = cfg_max("pad")
DW_STRIDES = (1, 2)


def group_lanes(p: PEArrayParams, mode: Mode) -> int:
    """Channels per channel group (and per pixel beat) of a depthwise-engine mode."""
    mode = Mode(mode)
    if mode in (Mode.SCALE, Mode.GAP):
        return p.ew_lanes
    if mode == Mode.ADD:
        return p.add_lanes
    return p.dw_channels


def taps_per_lane(p: PEArrayParams, mode: Mode) -> int:
    """INT8 taps per lane in a DW channel group's parameter block (other modes: 0)."""
    return p.kmax * p.kmax if Mode(mode) == Mode.DW else 0


def block_bytes(p: PEArrayParams, mode: Mode) -> int:
    """Bytes of one channel group's parameter block (layout: ``rtl.golden_dw``)."""
    mode = Mode(mode)
    if mode in WINDOW_MODES:
        return p.dw_channels * (taps_per_lane(p, mode) + RQ_BYTES)
    if mode == Mode.GAP:
        return p.ew_lanes * RQ_BYTES
    if mode == Mode.SCALE:
        return 2 * p.ew_lanes
    return 0


def block_beats(p: PEArrayParams, mode: Mode) -> int:
    return ceil(block_bytes(p, mode) / p.in_bytes)


def header_bytes(mode: Mode) -> int:
    """Bytes of the per-tensor header a tile sends once, before group 0."""
    return HEADER_BYTES.get(Mode(mode), 0)


def header_beats(p: PEArrayParams, mode: Mode) -> int:
    return ceil(header_bytes(mode) / p.in_bytes)


def uses_lut(mode: Mode) -> bool:
    """Whether the tile's stream starts with the activation LUT."""
    return Mode(mode) in LUT_MODES


def param_bytes(p: PEArrayParams, mode: Mode, channels: int) -> int:
    """Parameter bytes a depthwise-engine tile of ``channels`` channels streams ahead of / between
    its pixels: the LUT (LUT modes), the per-tensor header and one block per channel group."""
    return ((LUT_ENTRIES if uses_lut(mode) else 0) + header_bytes(mode)
            + ceil(channels / group_lanes(p, mode)) * block_bytes(p, mode))


def window(mode: Mode, k: int, stride: int, pad: int) -> tuple[int, int, int]:
    """The (k, stride, pad) the engine runs: SCALE, GAP and ADD are pixel-wise (1, 1, 0)."""
    if Mode(mode) in (Mode.SCALE, Mode.GAP, Mode.ADD):
        return 1, 1, 0
    return k, stride, pad


def gap_chunks(p: PEArrayParams) -> int:
    """PostProc passes (of dw_channels lanes) that post-process one GAP group's ew_lanes sums."""
    return -(-p.ew_lanes // p.dw_channels)


def shadow_beats(p: PEArrayParams) -> int:
    """Beats of the depthwise engine's shadow/running parameter register: the widest of the DW,
    GAP, SCALE (header + block) and ADD (header) parameter loads."""
    return max(block_beats(p, Mode.DW), block_beats(p, Mode.MAXPOOL), block_beats(p, Mode.GAP),
               header_beats(p, Mode.SCALE) + block_beats(p, Mode.SCALE), header_beats(p, Mode.ADD))


# ---- what an instance can run ------------------------------------------------------------------------
def check_tile(p: PEArrayParams, t: TileSpec) -> None:
    """Raise ParamError if the instance cannot run this tile."""
    if max(t.cin, t.cout) > p.max_channels:
        raise ParamError(f"tile has {max(t.cin, t.cout)} channels; the engine describes at most {p.max_channels}")
    if t.mode == Mode.CONV:
        if ceil(t.cin * t.k * t.k / p.icp) > p.wbuf_depth:
            raise ParamError(f"conv tile reduction {t.cin}x{t.k}x{t.k} exceeds the weight buffer "
                             f"({p.wbuf_depth} x {p.icp})")
        if t.k > cfg_max("k"):
            raise ParamError(f"conv kernel {t.k} exceeds the engine's largest kernel ({cfg_max('k')})")
        if max(t.h, t.w) > min(cfg_max("h"), cfg_max("w")):
            raise ParamError(f"conv tile of {t.h}x{t.w} output pixels exceeds the engine's "
                             f"{cfg_max('h')}x{cfg_max('w')} limit")
        if max(t.cin, t.cout) > min(cfg_max("cin"), cfg_max("cout")):
            raise ParamError(f"conv tile with {max(t.cin, t.cout)} channels exceeds the "
                             f"{CFG_BITS['cin']}-bit channel fields ({cfg_max('cin')})")
    else:
        _check_dw(p, t)


def _check_dw(p: PEArrayParams, t: TileSpec) -> None:
    """Depthwise-engine modes (rtl.depthwise): what its configuration fields, line buffer and
    accumulators can hold."""
    name = t.mode.name
    if t.cout != t.cin:
        raise ParamError(f"{name} tile has cin={t.cin} but cout={t.cout}; the depthwise engine keeps "
                         f"the channel count (cout must equal cin)")
    if max(t.h, t.w) > min(cfg_max("h"), cfg_max("w")):
        raise ParamError(f"{name} tile {t.h}x{t.w} exceeds the {CFG_BITS['h']}-bit h/w configuration "
                         f"fields ({cfg_max('h')})")
    k, stride, pad = window(t.mode, t.k, t.stride, t.pad)
    if t.mode == Mode.DW and k not in p.dw_kernels:
        raise ParamError(f"depthwise kernel {k} is not supported (dw_kernels {list(p.dw_kernels)})")
    if t.mode in (Mode.MAXPOOL, Mode.AVGPOOL) and k > p.kmax:
        raise ParamError(f"{name} kernel {k} exceeds the depthwise window ({p.kmax}x{p.kmax})")
    if t.mode in WINDOW_MODES:
        if t.w > p.max_width:
            raise ParamError(f"{name} tile width {t.w} exceeds the line buffer ({p.max_width} pixels)")
        if stride not in DW_STRIDES:
            raise ParamError(f"{name} stride {stride} is not supported by the depthwise engine "
                             f"({' or '.join(map(str, DW_STRIDES))})")
        if pad >= k or pad > DW_MAX_PAD:
            raise ParamError(f"{name} pad {pad} must be below the kernel size {k} and at most {DW_MAX_PAD}")
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
