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

from .contract import CFG_FIELDS
from .params import PEArrayParams

# the configuration fields (names, widths, what each carries) are the RTL contract
LayerConfig = data.StructLayout({name: (signed if sg else unsigned)(width) for name, width, sg in CFG_FIELDS})


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
