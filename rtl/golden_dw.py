"""NumPy golden model of the depthwise engine (``rtl.depthwise``) and its stream packer.

Window modes (``D = params.dw_channels`` lanes, the kmax x kmax window and line buffers) are
bit-exact INT8 arithmetic followed by the shared post-processing stage ``rtl.golden.requantize``
(per channel ``bias``/``mult``/``shift``, clamp, optional LUT):

    DW       acc[y,x,c] = sum_{i,j<k} x_pad[y*s+i, x*s+j, c] * w[c,i,j]      (zero padding)
    MAXPOOL  acc[y,x,c] = max_{i,j<k} x_pad[...]     (padding never wins: it is -128, INT8's minimum)
    AVGPOOL  acc[y,x,c] = sum_{i,j<k} x_pad[...]     (zero padding, i.e. count_include_pad: the
                                                       packer picks mult/shift ~ 1/k^2)
    out = requantize(acc, bias, mult, shift, clamp_lo, clamp_hi, lut)

Pixel-wise modes use the full beat width (``L = params.ew_lanes = min(in_bytes, out_bytes)``
channels per beat for SCALE and GAP, ``A = params.add_lanes = min(in_bytes // 2, out_bytes)`` for
ADD, whose input beat carries both operands); they ignore the tile's k, stride and pad (``window``):

    GAP      acc[0,0,c] = sum_{y,x} x[y,x,c];  out = requantize(acc, bias, mult, shift, clamp, lut)
                                             (per channel bias/mult/shift; mult/shift ~ 1/(h*w))
    SCALE    out[y,x,c] = clamp(sat8((x[y,x,c] * s[c] + rnd) >> shift))
             s[c] unsigned 16 bit (the PS folds the SE gate and the requantisation into it:
             s = round(gate * S_in / S_out * 2^shift)); ``shift`` per tensor, 0..31
    ADD      out[y,x,c] = clamp(sat8((a[y,x,c] * ma + b[y,x,c] * mb + rnd) >> shift))
             ma, mb signed 16 bit and ``shift`` (0..31) per tensor
  where rnd = 1 << (shift - 1) (0 for shift 0), i.e. round to nearest, ties toward +inf, exactly
  ``rtl.golden.requantize`` with bias 0 and mult 1; sat8 saturates to [-128, 127], clamp to
  [clamp_lo, clamp_hi].  SCALE and ADD have no bias, no per-channel mult and no activation LUT
  (``lut_en`` is ignored).

Stream packing (``B = params.in_bytes`` byte lanes per input beat).  Channels are processed in
groups of ``G = group_lanes(params, mode)`` (D for the window modes, L for SCALE/GAP, A for ADD;
group g = channels g*G .. g*G+G-1; in a ragged last group the unused lanes carry zeros in and come
out as zeros).  Every block below is right-aligned in its beats (zero bytes first, the block's last
byte is the top lane of its last beat).  The input stream of a tile is:

    LUT      DW, MAXPOOL, AVGPOOL, GAP (the modes whose outputs go through the post-processing
             stage): ``rtl.contract.lut_beats(B)`` beats, once per tile (before group 0), always
             sent (ignored unless ``lut_en``): beat a carries entries a*W .. a*W+W-1 in its lowest
             lanes, W = ``rtl.contract.lut_word_bytes(B)``.  SCALE and ADD send no LUT.
    header   per-tensor parameters, once per tile (before group 0), ``header_beats`` beats:
               SCALE: uint8 shift                                           (1 byte)
               ADD:   int16 ma, int16 mb (little-endian), uint8 shift      (5 bytes)
               other modes: none
    then for every channel group:
      block  the group's parameter bytes, ``block_beats`` beats.  Block byte order:
               DW:       D x kmax*kmax INT8 taps, lane-major: byte c*kmax^2 + t is tap t = r*kmax + col
                         of lane c (a k x k kernel sits in the bottom-right k x k corner, other taps 0),
                         then the requantisation fields of D lanes
               MAXPOOL, AVGPOOL: the requantisation fields of D lanes
               GAP:      the requantisation fields of L lanes
               SCALE:    L x uint16 s, little-endian (lane c at bytes 2c, 2c+1)
               ADD:      none (its parameters are per tensor: the header)
             requantisation fields of n lanes: n x int32 bias (lane c at bytes 4c..4c+3), then
             n x uint16 mult, then n x uint8 shift (0..47), little-endian
      pixels h*w beats in raster order: window modes lane c = channel g*D+c; SCALE/GAP lane c =
             channel g*L+c; ADD lanes 0..A-1 carry operand a, lanes A..2A-1 operand b.
The output stream is, per group, out_h*out_w beats in raster order (GAP: one beat), lane c =
channel g*G+c in the low G lanes of the ``out_bytes``-lane beat (other lanes zero), ``last`` on the
final beat of the tile.
"""

from __future__ import annotations

from math import ceil

import numpy as np

from .contract import (DW_MODES, EW_MAX_SHIFT, LUT_MODES, MAX_SHIFT, WINDOW_MODES, block_beats, check_tile,
                       group_lanes, header_beats, uses_lut, window)
from .golden import Case, check_qparams, lut_block, pack_beats, requantize
from .params import Mode, ParamError, PEArrayParams, TileSpec


def accumulate(mode: Mode, x: np.ndarray, *, k: int = 1, stride: int = 1, pad: int = 0,
               taps: np.ndarray | None = None, b: np.ndarray | None = None) -> np.ndarray:
    """Accumulator values (int64, shape (out_h, out_w, C)) of one mode on ``x`` (h, w, C) INT8:
    the value before rounding/shifting (SCALE: x*s; ADD: a*ma + b*mb).

    ``taps``: DW (C, k, k); SCALE s (C,); ADD (ma, mb).  ``b``: ADD's second operand.
    """
    mode = Mode(mode)
    x = np.asarray(x, dtype=np.int64)
    h, w, c = x.shape
    if mode == Mode.GAP:
        return x.sum(axis=(0, 1), keepdims=True)
    if mode == Mode.SCALE:
        return x * np.asarray(taps, dtype=np.int64)[None, None, :]
    if mode == Mode.ADD:
        ma, mb = (int(v) for v in np.asarray(taps, dtype=np.int64).reshape(2))
        return x * ma + np.asarray(b, dtype=np.int64) * mb
    if mode not in WINDOW_MODES:
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


def golden(mode: Mode, x: np.ndarray, bias=0, mult=1, shift=0, *, k: int = 1, stride: int = 1, pad: int = 0,
           taps=None, b=None, clamp_lo: int = -128, clamp_hi: int = 127, lut=None) -> np.ndarray:
    """INT8 output (out_h, out_w, C) of one depthwise-engine mode.  SCALE / ADD: ``shift`` is the
    per-tensor shift; ``bias``, ``mult`` and ``lut`` do not exist in those modes (ignored)."""
    mode = Mode(mode)
    k, stride, pad = window(mode, k, stride, pad)
    acc = accumulate(mode, x, k=k, stride=stride, pad=pad, taps=taps, b=b)
    if mode in (Mode.SCALE, Mode.ADD):
        return requantize(acc, 0, 1, int(np.asarray(shift).reshape(-1)[0]), clamp_lo, clamp_hi, None)
    return requantize(acc, bias, mult, shift, clamp_lo, clamp_hi, lut)


def _right_aligned(blk: np.ndarray, beats: int, nb: int) -> list[int]:
    blk = np.asarray(blk, dtype=np.int64) & 0xFF
    return pack_beats(np.concatenate([np.zeros(beats * nb - blk.size, np.int64), blk]), nb)


def _le(v, dtype) -> np.ndarray:
    return np.asarray(v, dtype=np.int64).astype(dtype).view(np.uint8).astype(np.int64)


def pack(p: PEArrayParams, tile: TileSpec, x: np.ndarray, bias=0, mult=1, shift=0, *, taps=None, b=None,
         lut=None) -> list[int]:
    """The input stream (beat data, ``p.in_bytes`` lanes each) of a depthwise-engine tile."""
    mode, nb, km = Mode(tile.mode), p.in_bytes, p.kmax
    d = group_lanes(p, mode)
    k, _, _ = window(mode, tile.k, tile.stride, tile.pad)
    h, w, cin = tile.h, tile.w, tile.cin
    groups = ceil(cin / d)
    cpad = groups * d                                  # channels rounded up to whole groups

    def padded(a, shape):
        out = np.zeros(shape, dtype=np.int64)
        a = np.asarray(a, dtype=np.int64)
        out[tuple(slice(0, n) for n in a.shape)] = a
        return out

    xs = padded(x, (h, w, cpad))
    stream = lut_block(None if lut is None else np.asarray(lut), nb) if uses_lut(mode) else []
    if mode == Mode.SCALE:
        stream += _right_aligned(np.array([int(np.asarray(shift).reshape(-1)[0])]), header_beats(p, mode), nb)
    elif mode == Mode.ADD:
        ma, mb = np.asarray(taps, dtype=np.int64).reshape(2)
        hdr = np.concatenate([_le([ma, mb], "<i2"), [int(np.asarray(shift).reshape(-1)[0])]])
        stream += _right_aligned(hdr, header_beats(p, mode), nb)
    if mode == Mode.DW:
        tapv = np.zeros((cpad, km, km), dtype=np.int64)
        tapv[:cin, km - k:, km - k:] = np.asarray(taps, dtype=np.int64).reshape(cin, k, k)
        tapv = tapv.reshape(cpad, km * km)
    if mode == Mode.SCALE:
        sv = padded(np.asarray(taps, dtype=np.int64).reshape(cin), (cpad,))
    if mode in LUT_MODES:
        rq = [padded(np.broadcast_to(np.asarray(v, dtype=np.int64), (cin,)), (cpad,)) for v in (bias, mult, shift)]
    bs = padded(b, (h, w, cpad)) if mode == Mode.ADD else None
    for g in range(groups):
        ch = slice(g * d, (g + 1) * d)
        fields = []
        if mode == Mode.DW:
            fields = [tapv[ch].reshape(-1)]
        if mode == Mode.SCALE:
            fields = [_le(sv[ch], "<u2")]
        if mode in LUT_MODES:
            fields += [_le(rq[0][ch], "<i4"), _le(rq[1][ch], "<u2"), rq[2][ch]]
        if fields:
            stream += _right_aligned(np.concatenate(fields), block_beats(p, mode), nb)
        lanes = np.concatenate([xs[:, :, ch], bs[:, :, ch]], axis=2) if mode == Mode.ADD else xs[:, :, ch]
        for pix in lanes.reshape(h * w, -1):
            stream += pack_beats(pix, nb)
    return stream


def out_beats(p: PEArrayParams, mode: Mode, out: np.ndarray) -> list[int]:
    """The output stream (beat data, ``p.out_bytes`` lanes) carrying ``out`` (out_h, out_w, C)."""
    d = group_lanes(p, mode)
    oh, ow, cin = out.shape
    groups = ceil(cin / d)
    op = np.zeros((oh, ow, groups * d), dtype=np.int64)
    op[:, :, :cin] = out
    beats: list[int] = []
    for g in range(groups):
        for pix in op[:, :, g * d:(g + 1) * d].reshape(oh * ow, d):
            beats += pack_beats(pix, p.out_bytes)
    return beats


def _check_ew(mode: Mode, taps, shift) -> None:
    """SCALE / ADD parameter ranges: s uint16; ma, mb int16; one per-tensor shift 0..31."""
    sh = np.asarray(shift, dtype=np.int64).reshape(-1)
    if sh.size == 0 or np.any(sh != sh[0]):
        raise ParamError(f"{mode.name} has one per-tensor shift, not per-channel shifts {sh.tolist()}")
    if not 0 <= sh[0] <= EW_MAX_SHIFT:
        raise ParamError(f"{mode.name} shift must be 0..{EW_MAX_SHIFT}, not {int(sh[0])}")
    t = np.asarray(taps, dtype=np.int64)
    if mode == Mode.SCALE and np.any((t < 0) | (t >= 1 << 16)):
        raise ParamError(f"SCALE factors s must be unsigned 16-bit, got range [{t.min()}, {t.max()}]")
    if mode == Mode.ADD and (t.size != 2 or np.any((t < -(1 << 15)) | (t >= 1 << 15))):
        raise ParamError(f"ADD needs per-tensor signed 16-bit (ma, mb), not {t.tolist()}")


def dw_tile_case(p: PEArrayParams, tile: TileSpec, x: np.ndarray, bias=0, mult=1, shift=0, *, taps=None, b=None,
                 clamp_lo: int = -128, clamp_hi: int = 127, lut=None) -> Case:
    """The Case of one depthwise-engine tile with the given tensors and quantisation.

    SCALE: ``taps`` = s (C,) uint16, ``shift`` per tensor; ADD: ``taps`` = (ma, mb), ``shift`` per
    tensor; both take no bias, mult or LUT."""
    check_tile(p, tile)
    mode = Mode(tile.mode)
    if not -128 <= clamp_lo <= clamp_hi <= 127:
        raise ParamError(f"clamp range [{clamp_lo}, {clamp_hi}] is not an INT8 interval")
    if mode in (Mode.SCALE, Mode.ADD):
        if lut is not None or np.any(np.asarray(bias) != 0) or np.any(np.asarray(mult) != 1):
            raise ParamError(f"{mode.name} has no bias, mult or activation LUT (its factors carry the scale)")
        _check_ew(mode, taps, shift)
        shift = int(np.asarray(shift).reshape(-1)[0])
        bias, mult = np.zeros(tile.cin, np.int64), np.ones(tile.cin, np.int64)
    else:
        bias, mult, shift = (np.broadcast_to(np.asarray(v, dtype=np.int64), (tile.cin,)) for v in (bias, mult, shift))
        check_qparams(bias, mult, shift)
    y = golden(mode, x, bias, mult, shift, k=tile.k, stride=tile.stride, pad=tile.pad, taps=taps, b=b,
               clamp_lo=clamp_lo, clamp_hi=clamp_hi, lut=lut).astype(np.int64)
    cfg = {"mode": int(mode), "cin": tile.cin, "cout": tile.cin, "h": tile.h, "w": tile.w, "k": tile.k,
           "stride": tile.stride, "pad": tile.pad, "clamp_lo": clamp_lo, "clamp_hi": clamp_hi,
           "lut_en": int(lut is not None)}
    arrays = {"x": np.asarray(x), "bias": np.asarray(bias), "mult": np.asarray(mult), "shift": np.asarray(shift),
              "y": y}
    if taps is not None:
        arrays["taps"] = np.asarray(taps)
    if b is not None:
        arrays["b"] = np.asarray(b)
    return Case(p, tile, cfg, pack(p, tile, x, bias, mult, shift, taps=taps, b=b, lut=lut),
                out_beats(p, mode, y), arrays)


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
    SCALE / ADD draw a per-tensor shift over the whole 0..31 range and factors that map the
    products onto about +-1.5 x the input range (extremes included: s = 65535, |ma| = 32768);
    they never use a LUT.
    """
    mode = Mode(tile.mode)
    if mode not in DW_MODES:
        raise ParamError(f"dw_case needs a depthwise-engine tile, not {mode.name}")
    k, stride, pad = window(mode, tile.k, tile.stride, tile.pad)
    h, w, cin = tile.h, tile.w, tile.cin
    x = rng.integers(-128, 128, size=(h, w, cin))
    taps = b = None
    if clamp is None:
        clamp = [(-128, 127), (0, 127), (0, 48)][int(rng.integers(3))]
    if mode in (Mode.SCALE, Mode.ADD):
        shift = int(rng.choice([0, 1, 5, 8, 12, 14, 15, 16, 20, 31]))
        top = min(1 << 15, int(1.5 * (1 << shift)) + 1)
        if mode == Mode.SCALE:
            taps = rng.integers(0, 2 * top, size=cin)
            taps[rng.random(cin) < 0.1] = 65535
            taps[rng.random(cin) < 0.1] = 0
            taps = np.minimum(taps, 65535)
        else:
            taps = rng.integers(-top, top, size=2)
            if rng.random() < 0.15:
                taps[int(rng.integers(2))] = -(1 << 15)
            b = rng.integers(-128, 128, size=(h, w, cin))
        check_tile(p, tile)
        return dw_tile_case(p, tile, x, 0, 1, shift, taps=taps, b=b, clamp_lo=clamp[0], clamp_hi=clamp[1])
    if mode == Mode.DW:
        taps = rng.integers(-128, 128, size=(cin, k, k))
    if mode == Mode.MAXPOOL:
        bias, mult, shift = 0, 1, 0
    else:
        check_tile(p, tile)          # before the golden touches an impossible shape
        bias, mult, shift = _requant_for(accumulate(mode, x, k=k, stride=stride, pad=pad, taps=taps, b=b), rng)
    if use_lut is None:
        use_lut = bool(rng.integers(2))
    lut = rng.integers(-128, 128, size=256) if use_lut else None
    return dw_tile_case(p, tile, x, bias, mult, shift, taps=taps, b=b, clamp_lo=clamp[0], clamp_hi=clamp[1],
                        lut=lut)
