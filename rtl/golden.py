"""NumPy golden model: shared bit-exact INT8 arithmetic and beat packing.  Per-mode models live
beside it (``rtl.golden_pw`` for CONV, ``rtl.golden_dw`` for the depthwise-engine modes) and reuse
these; the stream sizes they share with the hardware and the cycle model come from ``rtl.contract``."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

import numpy as np

from .contract import LUT_ENTRIES, MAX_SHIFT, lut_word_bytes
from .params import ParamError, PEArrayParams, TileSpec


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


@dataclass
class Case:
    """One tile's worth of stimulus and expected response, for any engine mode."""

    params: PEArrayParams
    tile: TileSpec
    cfg: dict[str, int]              # rtl.layout.LayerConfig field values
    in_beats: list[int]              # input beat data words; ``last`` on the final one
    out_beats: list[int]             # expected output beat data words; ``last`` on the final one
    arrays: dict[str, np.ndarray] = field(default_factory=dict)   # the tensors behind the beats

    def to_json(self) -> dict:
        return {"params": self.params.to_dict(), "tile": {
            "mode": int(self.tile.mode), "cin": self.tile.cin, "cout": self.tile.cout, "h": self.tile.h,
            "w": self.tile.w, "k": self.tile.k, "stride": self.tile.stride, "pad": self.tile.pad},
            "cfg": dict(self.cfg), "in_beats": [hex(b) for b in self.in_beats],
            "out_beats": [hex(b) for b in self.out_beats]}


def pack_beats(byts: np.ndarray, beat_bytes: int) -> list[int]:
    """Little-endian pack of a byte vector into beats of ``beat_bytes`` lanes (last beat zero-filled)."""
    b = np.asarray(byts, dtype=np.int64).astype(np.uint8).reshape(-1)
    nb = max(1, ceil(b.size / beat_bytes))
    buf = np.zeros(nb * beat_bytes, dtype=np.uint8)
    buf[:b.size] = b
    return [int.from_bytes(buf[i * beat_bytes:(i + 1) * beat_bytes].tobytes(), "little") for i in range(nb)]


def unpack_beat(word: int, nbytes: int) -> np.ndarray:
    """Byte lanes of one beat as signed INT8."""
    return np.frombuffer(int(word).to_bytes(nbytes, "little"), dtype=np.int8).astype(np.int64)


def lut_block(lut: np.ndarray | None, beat_bytes: int) -> list[int]:
    """The LUT part of a parameter block (zeros if no LUT)."""
    lw = lut_word_bytes(beat_bytes)
    table = np.zeros(LUT_ENTRIES, dtype=np.int64) if lut is None else np.asarray(lut, dtype=np.int64)
    if table.shape != (LUT_ENTRIES,):
        raise ParamError(f"activation LUT must have 256 entries, not shape {table.shape}")
    beats = []
    for a in range(LUT_ENTRIES // lw):
        beats += pack_beats(table[a * lw:(a + 1) * lw], beat_bytes)
    return beats


def check_qparams(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> None:
    """Raise ParamError for quantisation parameters the post-processing stage cannot hold."""
    if np.any((bias < -(1 << 31)) | (bias >= 1 << 31)):
        raise ParamError(f"bias must fit int32, got range [{bias.min()}, {bias.max()}]")
    if np.any((mult < 0) | (mult >= 1 << 16)):
        raise ParamError(f"requantisation multiplier must be 0..65535, got range [{mult.min()}, {mult.max()}]")
    if np.any((shift < 0) | (shift > MAX_SHIFT)):
        raise ParamError(f"requantisation shift must be 0..{MAX_SHIFT}, got range [{shift.min()}, {shift.max()}]")
