"""Hardware layouts shared by every engine: the layer configuration and the AXI4-Stream beat.

Both engines (``rtl.pointwise`` and ``rtl.depthwise``) and the top (``rtl.top.LayerEngine``)
present the same interface:

    cfg:   In(LayerConfig)        sampled on the cycle ``start`` is high while idle
    start: In(1)
    busy:  Out(1)                 high from the cycle after ``start`` until the last output beat
    s:     In(stream.Signature(Beat(params.in_bytes)))    parameter block, then activations
    m:     Out(stream.Signature(Beat(params.out_bytes)))  results; ``last`` on the final beat

Quantisation is symmetric (zero points are 0): activations and weights are signed INT8.
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from .params import PEArrayParams

LayerConfig = data.StructLayout({
    "mode": unsigned(3),        # rtl.params.Mode
    "cin": unsigned(13),        # input channels (depthwise modes: channels of the tile)
    "cout": unsigned(13),       # output channels
    "h": unsigned(12),          # CONV: output pixel rows of the tile; other modes: input rows
    "w": unsigned(12),          # CONV: output pixel columns; other modes: input columns
    "k": unsigned(3),           # kernel size (window side)
    "stride": unsigned(2),
    "pad": unsigned(2),         # symmetric zero padding (depthwise/pool modes)
    "clamp_lo": signed(8),      # activation clamp after requantisation: ReLU -> 0, ReLU6 -> q(6)
    "clamp_hi": signed(8),
    "lut_en": unsigned(1),      # pass the requantised value through the 256-entry activation LUT
})


def Beat(nbytes: int) -> data.StructLayout:
    """One AXI4-Stream beat: ``nbytes`` little-endian byte lanes (lane i = bits 8i..8i+7) + tlast."""
    return data.StructLayout({"data": unsigned(8 * nbytes), "last": unsigned(1)})


def in_beat(p: PEArrayParams) -> data.StructLayout:
    return Beat(p.in_bytes)


def out_beat(p: PEArrayParams) -> data.StructLayout:
    return Beat(p.out_bytes)


def engine_signature(p: PEArrayParams) -> dict:
    """The ports every engine and the top present (the module docstring says what each does)."""
    return {
        "cfg": In(LayerConfig),
        "start": In(1),
        "busy": Out(1),
        "s": In(stream.Signature(in_beat(p))),
        "m": Out(stream.Signature(out_beat(p))),
    }
