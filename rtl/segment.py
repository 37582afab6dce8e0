"""Golden tiles -> a PL segment in DDR (``rtl.driver.Segment``) and its expected outputs.

A tile's input stream is cut into the DDR buffers it lives in: CONV tiles read [LUT + group-0
weights/quantisation] from the layer's parameter buffer, the activations from the layer's input
buffer, then every further output-channel group's weights/quantisation and the same activation
buffer again (the engine re-streams the activations per group; they are one buffer in DDR).
Depthwise-engine tiles are one buffer per tile (parameters and pixels as ``rtl.golden_dw`` packs
them).
"""

from __future__ import annotations

from math import ceil

from .driver import Segment, bytes_to_beats
from .golden_pw import Case
from .params import Mode, PEArrayParams
from .pointwise import conv_stream_constants


def conv_pieces(p: PEArrayParams, case: Case) -> list[tuple[str, list[int]]]:
    """(kind, beats) pieces of a CONV tile's input stream, in order: 'param' or 'act'."""
    t = case.tile
    c = conv_stream_constants(p)
    steps = ceil(t.cin * t.k * t.k / p.icp)
    groups = ceil(t.h * t.w / p.pp)
    wq = steps * c["WPB"] + c["QB"]
    act = groups * steps
    beats = case.in_beats
    out = []
    pos = c["LB"]
    lut = beats[:pos]
    for g in range(ceil(t.cout / p.ocp)):
        par = beats[pos:pos + wq]
        out.append(("param", (lut if g == 0 else []) + par))
        pos += wq
        out.append(("act", beats[pos:pos + act]))
        pos += act
    assert pos == len(beats)
    return out


def add_case(seg: Segment, case: Case, fence: bool = False, act_addr: int | None = None) -> int:
    """Place one golden tile in the segment; return its output buffer address."""
    p = seg.params
    if case.tile.mode == Mode.CONV:
        inputs, act_buf = [], act_addr
        for kind, beats in conv_pieces(p, case):
            if kind == "act":
                if act_buf is None:
                    act_buf, _ = seg.buffer(beats)
                inputs.append((act_buf, len(beats)))
            else:
                inputs.append(seg.buffer(beats))
    else:
        inputs = [seg.buffer(case.in_beats)]
    out = seg.output(len(case.out_beats))
    seg.add(case.cfg, inputs, out, len(case.out_beats), fence=fence)
    return out


def spec_for(seg: Segment, reads: list[tuple[int, int]], timeout_cycles: int = 2_000_000,
             r_pause: list[int] | None = None) -> dict:
    """The ``rtl.tb.tb_system`` spec of a segment (call after every tile is added)."""
    desc, _ = seg.descriptors()
    return {"chunks": [[a, b.hex()] for a, b in seg.ddr.chunks.items()], "desc_base": desc,
            "reads": [list(r) for r in reads], "ram_base": seg.ddr.base, "ram_size": seg.ddr.size,
            "timeout_cycles": timeout_cycles, "r_pause": r_pause}


def out_beats(seg: Segment, raw_hex: str) -> list[int]:
    return bytes_to_beats(bytes.fromhex(raw_hex), seg.params.out_bytes)
