"""NumPy golden model of the CONV engine (``rtl.pointwise``) and its stream packer.

A CONV tile computes ``y[n, oc] = requantize(sum_r x[n, r] * W[r, oc], ...)`` for ``N = h * w``
output pixels and a reduction of ``R = k * k * cin`` (``x`` is the receptive field the data
mover streams, tap-major then input channels: ``r = (ky * k + kx) * cin + c``; see ``im2col``).

Stream packing (B = ``params.in_bytes`` bytes per input beat, little-endian byte lanes; ``S =
ceil(R / ICP)`` reduction steps, ``G = ceil(N / PP)`` pixel groups, ``NG = ceil(cout / OCP)``
output-channel groups):

1. Activation LUT, always (``tile_cycles`` knows no ``lut_en``; send zeros when it is off):
   ``256 / LW`` beats, beat a carries entries ``a*LW .. a*LW+LW-1`` in its lowest lanes,
   ``LW = rtl.contract.lut_word_bytes(B)``.
2. For each output-channel group g (the activations are streamed again for every group):
   a. weights: S entries of ``ICP * OCP`` bytes, byte ``i * OCP + o`` of entry s is
      ``W[s*ICP + i, g*OCP + o]`` (0 beyond R or cout); each entry takes ``ceil(ICP*OCP / B)``
      beats, zero-filled at its end.
   b. quantisation parameters: ``OCP`` records of 8 bytes (int32 bias, uint16 mult, uint8
      shift, one zero byte), little-endian, record o for channel ``g*OCP + o`` (zeros beyond
      cout); ``ceil(8 * OCP / B)`` beats.
   c. activations: for each pixel group j, for each step s, one beat with lane ``p * ICP + i`` =
      ``x[j*PP + p, s*ICP + i]`` (0 beyond N or R).
   Output: for each group g, for each pixel group j, one beat of ``params.out_bytes`` lanes,
   lane ``p * OCP + o`` = ``y[j*PP + p, g*OCP + o]`` (0 beyond N or cout); ``last`` on the
   tile's final beat.  The input's final beat also carries ``last`` (the engine ignores it).
"""

from __future__ import annotations

from math import ceil

import numpy as np

from .contract import CONV_QREC_BYTES, MAX_SHIFT, check_tile, lut_word_bytes
from .golden import Case, check_qparams, lut_block, pack_beats, requantize, unpack_beat
from .params import Mode, ParamError, PEArrayParams, TileSpec

__all__ = ["Case", "MAX_SHIFT", "check_qparams", "conv_beats", "conv_case", "conv_golden", "im2col",
           "lut_block", "lut_word_bytes", "pack_beats", "qparam_block", "unpack_beat"]


def qparam_block(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray, beat_bytes: int) -> list[int]:
    """Per-channel records of 8 bytes: int32 bias, uint16 mult, uint8 shift, 0."""
    rec = np.zeros((len(bias), CONV_QREC_BYTES), dtype=np.uint8)
    for o, (b, m, s) in enumerate(zip(bias, mult, shift)):
        rec[o, 0:4] = np.frombuffer(int(b).to_bytes(4, "little", signed=True), dtype=np.uint8)
        rec[o, 4:6] = np.frombuffer(int(m).to_bytes(2, "little"), dtype=np.uint8)
        rec[o, 6] = int(s)
    return pack_beats(rec.reshape(-1), beat_bytes)


def im2col(img: np.ndarray, k: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """[H, W, C] image -> [out_h * out_w, k * k * C] receptive fields, tap-major then channels."""
    h, w, c = img.shape
    x = np.pad(img, ((pad, pad), (pad, pad), (0, 0)))
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    cols = np.empty((oh, ow, k, k, c), dtype=img.dtype)
    for ky in range(k):
        for kx in range(k):
            cols[:, :, ky, kx, :] = x[ky:ky + stride * oh:stride, kx:kx + stride * ow:stride, :]
    return cols.reshape(oh * ow, k * k * c)


def conv_golden(x: np.ndarray, wts: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray,
                clamp_lo: int = -128, clamp_hi: int = 127, lut: np.ndarray | None = None) -> np.ndarray:
    """[N, R] activations x [R, cout] weights -> [N, cout] INT8 outputs."""
    acc = np.asarray(x, dtype=np.int64) @ np.asarray(wts, dtype=np.int64)
    return requantize(acc, bias, mult, shift, clamp_lo, clamp_hi, lut).astype(np.int64)


def conv_beats(p: PEArrayParams, x: np.ndarray, wts: np.ndarray, bias: np.ndarray, mult: np.ndarray,
               shift: np.ndarray, lut: np.ndarray | None, y: np.ndarray) -> tuple[list[int], list[int]]:
    """Pack one CONV tile's parameter block + activations and its expected outputs into beats."""
    n, r = x.shape
    cout = wts.shape[1]
    B, OB = p.in_bytes, p.out_bytes
    steps, groups, ngroups = ceil(r / p.icp), ceil(n / p.pp), ceil(cout / p.ocp)
    xp = np.zeros((groups * p.pp, steps * p.icp), dtype=np.int64)
    xp[:n, :r] = x
    wp = np.zeros((steps * p.icp, ngroups * p.ocp), dtype=np.int64)
    wp[:r, :cout] = wts
    yp = np.zeros((groups * p.pp, ngroups * p.ocp), dtype=np.int64)
    yp[:n, :cout] = y
    qp = [np.zeros(ngroups * p.ocp, dtype=np.int64) for _ in range(3)]
    for a, v in zip(qp, (bias, mult, shift)):
        a[:cout] = v
    ins = lut_block(lut, B)
    outs: list[int] = []
    for g in range(ngroups):
        oc = slice(g * p.ocp, (g + 1) * p.ocp)
        for s in range(steps):
            ins += pack_beats(wp[s * p.icp:(s + 1) * p.icp, oc].reshape(-1), B)
        ins += qparam_block(qp[0][oc], qp[1][oc], qp[2][oc], B)
        for j in range(groups):
            px = slice(j * p.pp, (j + 1) * p.pp)
            for s in range(steps):
                ins += pack_beats(xp[px, s * p.icp:(s + 1) * p.icp].reshape(-1), B)
            outs += pack_beats(yp[px, oc].reshape(-1), OB)
    return ins, outs


def conv_case(p: PEArrayParams, tile: TileSpec, rng: np.random.Generator, *, clamp: tuple[int, int] | None = None,
              use_lut: bool | None = None) -> Case:
    """A random CONV tile: image, weights, per-channel quantisation, optional clamp and LUT."""
    if tile.mode != Mode.CONV:
        raise ParamError(f"conv_case needs a CONV tile, not {tile.mode.name}")
    check_tile(p, tile)
    k, cin, cout = tile.k, tile.cin, tile.cout
    pad = (k - 1) // 2     # "same"-style padding; the input is sized so the output is h x w
    img = rng.integers(-128, 128, size=(tile.h + k - 1 - 2 * pad, tile.w + k - 1 - 2 * pad, cin))
    x = im2col(img, k, 1, pad)
    wts = rng.integers(-128, 128, size=(k * k * cin, cout))
    # realistic requantisation: map the accumulator's typical spread onto INT8
    spread = 128.0 * 128.0 * np.sqrt(k * k * cin) / 3
    mult = rng.integers(1 << 14, 1 << 16, size=cout)
    shift = np.clip(np.round(np.log2(spread * mult / 64)).astype(np.int64), 0, MAX_SHIFT)
    bias = rng.integers(-int(spread), int(spread) + 1, size=cout)
    if clamp is None:
        clamp = [(-128, 127), (0, 127), (0, 48)][int(rng.integers(3))]
    if use_lut is None:
        use_lut = bool(rng.integers(2))
    lut = rng.integers(-128, 128, size=256) if use_lut else None
    check_qparams(bias, mult, shift)
    y = conv_golden(x, wts, bias, mult, shift, clamp[0], clamp[1], lut)
    ins, outs = conv_beats(p, x, wts, bias, mult, shift, lut, y)
    cfg = {"mode": int(Mode.CONV), "cin": cin, "cout": cout, "h": tile.h, "w": tile.w, "k": k,
           "stride": 1, "pad": 0, "clamp_lo": clamp[0], "clamp_hi": clamp[1], "lut_en": int(use_lut)}
    return Case(p, tile, cfg, ins, outs, {"x": x, "w": wts, "bias": bias, "mult": mult, "shift": shift, "y": y})
