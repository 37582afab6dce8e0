"""NumPy golden model: shared bit-exact INT8 arithmetic.  Per-mode models live beside it
(``rtl.golden_pw`` for CONV, ``rtl.golden_dw`` for the depthwise-engine modes) and reuse these."""

from __future__ import annotations

import numpy as np


def requantize(acc: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray,
               clamp_lo: int = -128, clamp_hi: int = 127, lut: np.ndarray | None = None) -> np.ndarray:
    """Post-processing stage, per output channel (last axis of ``acc`` is the channel):

    y = (acc + bias) * mult, rounded to nearest (ties toward +inf) by an arithmetic right shift:
        y = (y + (1 << (shift - 1))) >> shift      (shift == 0: no rounding term)
    then saturate to [-128, 127], clamp to [clamp_lo, clamp_hi] (ReLU/ReLU6), and optionally map
    through the 256-entry activation LUT indexed by the value's two's-complement byte.
    ``mult`` is an unsigned 16-bit multiplier, ``shift`` 0..47; all arithmetic in int64 so the
    hardware's wide product never overflows here.
    """
    acc = np.asarray(acc, dtype=np.int64)
    bias = np.asarray(bias, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    prod = (acc + bias) * mult
    rnd = np.where(shift > 0, np.left_shift(np.int64(1), np.maximum(shift - 1, 0)), 0)
    y = np.right_shift(prod + rnd, shift)
    y = np.clip(y, -128, 127)
    y = np.clip(y, clamp_lo, clamp_hi)
    if lut is not None:
        lut = np.asarray(lut, dtype=np.int64)
        y = lut[(y & 0xFF).astype(np.int64)]
    return y.astype(np.int8)
