"""NumPy golden model of the depthwise engine (``rtl.depthwise``) and its stream packer.

Every mode is bit-exact INT8 arithmetic followed by the shared post-processing stage
``rtl.golden.requantize`` (per channel ``bias``/``mult``/``shift``, clamp, optional LUT):

    DW       acc[y,x,c] = sum_{i,j<k} x_pad[y*s+i, x*s+j, c] * w[c,i,j]      (zero padding)
    MAXPOOL  acc[y,x,c] = max_{i,j<k} x_pad[...]     (padding never wins: it is -128, INT8's minimum)
    AVGPOOL  acc[y,x,c] = sum_{i,j<k} x_pad[...]     (zero padding, i.e. count_include_pad: the
                                                       packer picks mult/shift ~ 1/k^2)
    SCALE    acc[y,x,c] = x[y,x,c] * s[c]            (the SE multiply; ``s`` signed INT8)
    GAP      acc[0,0,c] = sum_{y,x} x[y,x,c]         (mult/shift ~ 1/(h*w))
    ADD      acc[y,x,c] = a[y,x,c] * ma[c] + b[y,x,c] * mb[c]   (ma, mb signed INT8; per tensor in
                                                       practice: the packer repeats them per channel)
    out = requantize(acc, bias, mult, shift, clamp_lo, clamp_hi, lut)

SCALE, GAP and ADD are pixel-wise: they ignore the tile's k, stride and pad (see ``window``).

Stream packing (``B = params.in_bytes`` byte lanes per input beat, ``D = params.dw_channels``).
Channels are processed in groups of D (group g = channels g*D .. g*D+D-1; in a ragged last group
the unused lanes carry zeros in and come out as zeros).  The input stream of a tile is:

    LUT      ``rtl.postproc.lut_beats(B)`` beats, once per tile (before group 0), always sent
             (ignored unless ``lut_en``): beat a carries entries a*W .. a*W+W-1 in its lowest
             lanes, W = ``lut_word_bytes(B)``
    then for every channel group:
      block  the group's parameter bytes, right-aligned in ``block_beats`` beats (zero bytes first,
             the block's last byte is the top lane of the last beat).  Block byte order:
               taps   DW: D x kmax*kmax INT8, lane-major: byte c*kmax^2 + t is tap t = r*kmax + col
                      of lane c; a k x k kernel sits in the bottom-right k x k corner (other taps 0).
                      SCALE: D bytes s[c].  ADD: D bytes ma[c], then D bytes mb[c].
                      MAXPOOL, AVGPOOL, GAP: no taps.
               bias   D x int32, little-endian (lane c at bytes 4c..4c+3)
               mult   D x uint16, little-endian
               shift  D x uint8 (0..47)
      pixels h*w beats in raster order; lane c = channel g*D+c.  ADD: lanes 0..D-1 carry operand a,
             lanes D..2D-1 operand b.
The output stream is, per group, out_h*out_w beats in raster order, lane c = channel g*D+c (upper
lanes zero), ``last`` on the final beat of the tile.
"""

from __future__ import annotations

from math import ceil

import numpy as np

from .golden import requantize
from .golden_pw import MAX_SHIFT, Case, check_qparams, lut_block, pack_beats
from .params import Mode, ParamError, PEArrayParams, TileSpec

DW_MODES = (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL, Mode.SCALE, Mode.GAP, Mode.ADD)
RQ_BYTES = 7            # per channel: int32 bias, uint16 mult, uint8 shift


def taps_per_lane(p: PEArrayParams, mode: Mode) -> int:
    """INT8 taps per lane in a channel group's parameter block."""
    return {Mode.DW: p.kmax * p.kmax, Mode.SCALE: 1, Mode.ADD: 2}.get(Mode(mode), 0)


def block_bytes(p: PEArrayParams, mode: Mode) -> int:
    """Bytes of one channel group's parameter block."""
    return p.dw_channels * (taps_per_lane(p, mode) + RQ_BYTES)


def block_beats(p: PEArrayParams, mode: Mode) -> int:
    return ceil(block_bytes(p, mode) / p.in_bytes)


def window(mode: Mode, k: int, stride: int, pad: int) -> tuple[int, int, int]:
    """The (k, stride, pad) the engine runs: SCALE, GAP and ADD are pixel-wise (1, 1, 0)."""
    if Mode(mode) in (Mode.SCALE, Mode.GAP, Mode.ADD):
        return 1, 1, 0
    return k, stride, pad


def accumulate(mode: Mode, x: np.ndarray, *, k: int = 1, stride: int = 1, pad: int = 0,
               taps: np.ndarray | None = None, b: np.ndarray | None = None) -> np.ndarray:
    """Accumulator values (int64, shape (out_h, out_w, C)) of one mode on ``x`` (h, w, C) INT8.

    ``taps``: DW (C, k, k); SCALE (C,); ADD (C, 2) = (ma, mb).  ``b``: ADD's second operand.
    """
    mode = Mode(mode)
    x = np.asarray(x, dtype=np.int64)
    h, w, c = x.shape
    if mode == Mode.GAP:
        return x.sum(axis=(0, 1), keepdims=True)
    if mode == Mode.SCALE:
        return x * np.asarray(taps, dtype=np.int64)[None, None, :]
    if mode == Mode.ADD:
        t = np.asarray(taps, dtype=np.int64)
        return x * t[:, 0] + np.asarray(b, dtype=np.int64) * t[:, 1]
    if mode not in (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL):
        raise ParamError(f"mode {mode.name} does not run on the depthwise engine")
    padval = -128 if mode == Mode.MAXPOOL else 0
    xp = np.full((h + 2 * pad, w + 2 * pad, c), padval, dtype=np.int64)
    xp[pad:pad + h, pad:pad + w] = x
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    win = np.stack([xp[i:i + (oh - 1) * stride + 1:stride, j:j + (ow - 1) * stride + 1:stride]
                    for i in range(k) for j in range(k)])           # (k*k, oh, ow, C)
    if mode == Mode.MAXPOOL:
        return win.max(axis=0)
    if mode == Mode.AVGPOOL:
        return win.sum(axis=0)
    wt = np.asarray(taps, dtype=np.int64).reshape(c, k * k).T[:, None, None, :]
    return (win * wt).sum(axis=0)


def golden(mode: Mode, x: np.ndarray, bias, mult, shift, *, k: int = 1, stride: int = 1, pad: int = 0,
           taps=None, b=None, clamp_lo: int = -128, clamp_hi: int = 127, lut=None) -> np.ndarray:
    """INT8 output (out_h, out_w, C) of one depthwise-engine mode."""
    k, stride, pad = window(mode, k, stride, pad)
    acc = accumulate(mode, x, k=k, stride=stride, pad=pad, taps=taps, b=b)
    return requantize(acc, bias, mult, shift, clamp_lo, clamp_hi, lut)


def pack(p: PEArrayParams, tile: TileSpec, x: np.ndarray, bias, mult, shift, *, taps=None, b=None,
         lut=None) -> list[int]:
    """The input stream (beat data, ``p.in_bytes`` lanes each) of a depthwise-engine tile."""
    mode, d, nb, km = Mode(tile.mode), p.dw_channels, p.in_bytes, p.kmax
    k, _, _ = window(mode, tile.k, tile.stride, tile.pad)
    h, w, cin = tile.h, tile.w, tile.cin
    groups = ceil(cin / d)
    cpad = groups * d                                  # channels rounded up to whole groups

    def padded(a, shape):
        out = np.zeros(shape, dtype=np.int64)
        a = np.asarray(a, dtype=np.int64)
        out[tuple(slice(0, n) for n in a.shape)] = a
        return out

    tapv = np.zeros((cpad, km * km), dtype=np.int64)   # DW: lane-major kmax x kmax taps
    if mode == Mode.DW:
        kern = np.zeros((cin, km, km), dtype=np.int64)
        kern[:, km - k:, km - k:] = np.asarray(taps, dtype=np.int64).reshape(cin, k, k)
        tapv[:cin] = kern.reshape(cin, -1)
    elif mode == Mode.SCALE:
        tapv[:cin, 0] = np.asarray(taps, dtype=np.int64)
    elif mode == Mode.ADD:
        tapv[:cin, :2] = np.asarray(taps, dtype=np.int64)
    rq = [padded(np.broadcast_to(np.asarray(v, dtype=np.int64), (cin,)), (cpad,)) for v in (bias, mult, shift)]
    xs = padded(x, (h, w, cpad))
    bs = padded(b, (h, w, cpad)) if mode == Mode.ADD else np.zeros((h, w, cpad), dtype=np.int64)
    stream = lut_block(None if lut is None else np.asarray(lut), nb)
    for g in range(groups):
        ch = slice(g * d, (g + 1) * d)
        fields = []
        if mode == Mode.DW:
            fields = [tapv[ch].reshape(-1)]
        elif mode in (Mode.SCALE, Mode.ADD):      # s | ma lanes, then mb lanes
            fields = [tapv[ch, j] for j in range(taps_per_lane(p, mode))]
        fields += [rq[0][ch].astype("<i4").view(np.uint8), rq[1][ch].astype("<u2").view(np.uint8),
                   rq[2][ch].astype(np.uint8)]
        blk = np.concatenate([f.astype(np.int64) & 0xFF for f in fields])
        stream += pack_beats(np.concatenate([np.zeros(block_beats(p, mode) * nb - blk.size, np.int64), blk]), nb)
        lanes = np.concatenate([xs[:, :, ch], bs[:, :, ch]], axis=2) if mode == Mode.ADD else xs[:, :, ch]
        for pix in lanes.reshape(h * w, -1):
            stream += pack_beats(pix, nb)
    return stream


def out_beats(p: PEArrayParams, out: np.ndarray) -> list[int]:
    """The output stream (beat data, ``p.out_bytes`` lanes) carrying ``out`` (out_h, out_w, C)."""
    d = p.dw_channels
    oh, ow, cin = out.shape
    groups = ceil(cin / d)
    op = np.zeros((oh, ow, groups * d), dtype=np.int64)
    op[:, :, :cin] = out
    beats: list[int] = []
    for g in range(groups):
        for pix in op[:, :, g * d:(g + 1) * d].reshape(oh * ow, d):
            beats += pack_beats(pix, p.out_bytes)
    return beats


def dw_tile_case(p: PEArrayParams, tile: TileSpec, x: np.ndarray, bias, mult, shift, *, taps=None, b=None,
                 clamp_lo: int = -128, clamp_hi: int = 127, lut=None) -> Case:
    """The Case of one depthwise-engine tile with the given tensors and quantisation."""
    from .cycles import check_tile
    check_tile(p, tile)
    mode = Mode(tile.mode)
    bias, mult, shift = (np.broadcast_to(np.asarray(v, dtype=np.int64), (tile.cin,)) for v in (bias, mult, shift))
    check_qparams(bias, mult, shift)
    if not -128 <= clamp_lo <= clamp_hi <= 127:
        raise ParamError(f"clamp range [{clamp_lo}, {clamp_hi}] is not an INT8 interval")
    y = golden(mode, x, bias, mult, shift, k=tile.k, stride=tile.stride, pad=tile.pad, taps=taps, b=b,
               clamp_lo=clamp_lo, clamp_hi=clamp_hi, lut=lut).astype(np.int64)
    cfg = {"mode": int(mode), "cin": tile.cin, "cout": tile.cin, "h": tile.h, "w": tile.w, "k": tile.k,
           "stride": tile.stride, "pad": tile.pad, "clamp_lo": clamp_lo, "clamp_hi": clamp_hi,
           "lut_en": int(lut is not None)}
    arrays = {"x": np.asarray(x), "bias": bias, "mult": mult, "shift": shift, "y": y}
    if taps is not None:
        arrays["taps"] = np.asarray(taps)
    if b is not None:
        arrays["b"] = np.asarray(b)
    return Case(p, tile, cfg, pack(p, tile, x, bias, mult, shift, taps=taps, b=b, lut=lut), out_beats(p, y), arrays)


def _requant_for(acc: np.ndarray, rng: np.random.Generator, target: float = 150.0):
    """Per-channel bias/mult/shift mapping ``acc``'s range to about +-target (some saturation)."""
    c = acc.shape[-1]
    bias = rng.integers(-200, 201, size=c)
    mult = rng.integers(1 << 13, 1 << 15, size=c)
    peak = np.abs(acc + bias).reshape(-1, c).max(axis=0) + 1
    shift = np.clip(np.ceil(np.log2(peak * mult / target)), 0, MAX_SHIFT).astype(np.int64)
    return bias, mult, shift


def dw_case(p: PEArrayParams, tile: TileSpec, rng: np.random.Generator, *,
            clamp: tuple[int, int] | None = None, use_lut: bool | None = None) -> Case:
    """A random tile of a depthwise-engine mode (random data, taps, quantisation, clamp, LUT).

    The requantisation maps each channel's accumulator range onto about +-150 (so saturation is
    exercised too); MAXPOOL gets the identity (bias 0, mult 1, shift 0) as a real packer would.
    """
    mode = Mode(tile.mode)
    if mode not in DW_MODES:
        raise ParamError(f"dw_case needs a depthwise-engine tile, not {mode.name}")
    k, stride, pad = window(mode, tile.k, tile.stride, tile.pad)
    h, w, cin = tile.h, tile.w, tile.cin
    x = rng.integers(-128, 128, size=(h, w, cin))
    taps = b = None
    if mode == Mode.DW:
        taps = rng.integers(-128, 128, size=(cin, k, k))
    elif mode == Mode.SCALE:
        taps = rng.integers(-128, 128, size=cin)
    elif mode == Mode.ADD:
        taps = np.repeat(rng.integers(-128, 128, size=(1, 2)), cin, axis=0)   # per-tensor ma, mb
        b = rng.integers(-128, 128, size=(h, w, cin))
    if mode == Mode.MAXPOOL:
        bias, mult, shift = 0, 1, 0
    else:
        from .cycles import check_tile
        check_tile(p, tile)          # before the golden touches an impossible shape
        bias, mult, shift = _requant_for(accumulate(mode, x, k=k, stride=stride, pad=pad, taps=taps, b=b), rng)
    if clamp is None:
        clamp = [(-128, 127), (0, 127), (0, 48)][int(rng.integers(3))]
    if use_lut is None:
        use_lut = bool(rng.integers(2))
    lut = rng.integers(-128, 128, size=256) if use_lut else None
    return dw_tile_case(p, tile, x, bias, mult, shift, taps=taps, b=b, clamp_lo=clamp[0], clamp_hi=clamp[1],
                        lut=lut)
