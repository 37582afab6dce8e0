"""PS-side driver of the accelerator: the register map, the descriptor writer, the segment run.

Two small interfaces keep it independent of where it runs:

- ``Mmio``: ``read(offset) -> int`` and ``write(offset, value)`` on the 32-bit AXI4-Lite register
  block (PYNQ's ``pynq.MMIO`` has exactly these; the cocotb adapter ``rtl.tb.tb_system`` replays
  the same calls on ``AxiLiteMaster``).
- ``DdrImage``: where the PS puts the segment's buffers (a contiguous DDR region it allocated,
  e.g. ``pynq.allocate``); here a byte image with a bump allocator.

``Segment`` collects the tiles of one PL segment.  Each tile names its input stream as a list of
DDR buffers (the parameter blocks and the activations: ``rtl.sequencer`` concatenates them) and
one output buffer; ``Segment.descriptors`` writes the list ``rtl.sequencer`` fetches.  The
register sequence of one segment (``start_ops`` then, after the interrupt, ``finish_ops``) is the
one the runtime's sync costs count: 3 writes to start, one interrupt, one write to acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from amaranth.hdl import Shape

from .contract import beat_stride
from .layout import LayerConfig
from .params import ParamError, PEArrayParams
from .regs import OFFSET
from .sequencer import FENCE_BIT, LAST_BIT, MAX_SEGS, NSEG_LO

ALIGN = 64          # buffers start on a cache line (and so on a bus word)


class Mmio(Protocol):
    def read(self, offset: int) -> int: ...
    def write(self, offset: int, value: int) -> None: ...


def pack_cfg(cfg: dict[str, int]) -> int:
    """LayerConfig field values -> its packed bits (Amaranth's StructLayout order, LSB first)."""
    word = 0
    for name, fld in LayerConfig:
        w = Shape.cast(fld.shape).width
        word |= (int(cfg.get(name, 0)) & ((1 << w) - 1)) << fld.offset
    return word


def beats_to_bytes(beats: list[int], nbytes: int) -> bytes:
    """Engine beats as they sit in DDR: ``beat_stride(nbytes)`` bytes each, little-endian."""
    s = beat_stride(nbytes)
    return b"".join(int(b).to_bytes(s, "little") for b in beats)


def bytes_to_beats(raw: bytes, nbytes: int) -> list[int]:
    s = beat_stride(nbytes)
    mask = (1 << (8 * nbytes)) - 1
    return [int.from_bytes(raw[i:i + s], "little") & mask for i in range(0, len(raw), s)]


@dataclass
class DdrImage:
    base: int = 0
    size: int = 1 << 22
    chunks: dict[int, bytes] = field(default_factory=dict)
    top: int = 0

    def alloc(self, nbytes: int) -> int:
        addr = self.base + self.top
        self.top += -(-max(nbytes, 1) // ALIGN) * ALIGN
        if self.top > self.size:
            raise ParamError(f"segment needs {self.top} bytes of DDR; the image has {self.size}")
        return addr

    def put(self, data: bytes) -> int:
        addr = self.alloc(len(data))
        self.chunks[addr] = bytes(data)
        return addr


@dataclass
class Tile:
    cfg: dict[str, int]
    inputs: list[tuple[int, int]]         # (DDR address, engine input beats) in stream order
    out_addr: int
    out_beats: int
    fence: bool = False


@dataclass
class Segment:
    params: PEArrayParams
    ddr: DdrImage = field(default_factory=DdrImage)
    tiles: list[Tile] = field(default_factory=list)

    def buffer(self, beats: list[int]) -> tuple[int, int]:
        """Place an input stream piece (parameter block or activations) in DDR."""
        return self.ddr.put(beats_to_bytes(beats, self.params.in_bytes)), len(beats)

    def output(self, n_beats: int) -> int:
        return self.ddr.alloc(n_beats * beat_stride(self.params.out_bytes))

    def add(self, cfg: dict[str, int], inputs: list[tuple[int, int]], out_addr: int, out_beats: int,
            fence: bool = False) -> None:
        if not 1 <= len(inputs) <= MAX_SEGS:
            raise ParamError(f"a tile reads 1..{MAX_SEGS} DDR buffers, not {len(inputs)}")
        self.tiles.append(Tile(dict(cfg), list(inputs), out_addr, out_beats, fence))

    def descriptors(self) -> tuple[int, bytes]:
        """Write the descriptor list into the image; return its address and bytes."""
        if not self.tiles:
            raise ParamError("a segment needs at least one tile")
        out = bytearray()
        for i, t in enumerate(self.tiles):
            w0 = pack_cfg(t.cfg) | (len(t.inputs) << NSEG_LO) | (int(i == len(self.tiles) - 1) << LAST_BIT) \
                | (int(t.fence) << FENCE_BIT)
            w1 = t.out_addr | (t.out_beats << 32)
            out += w0.to_bytes(16, "little") + w1.to_bytes(16, "little")
            for addr, n in t.inputs:
                out += (addr | (n << 32)).to_bytes(16, "little")
        return self.ddr.put(bytes(out)), bytes(out)


def start_ops(desc_base: int) -> list[tuple[str, int, int]]:
    """Register writes that start one segment (and enable its interrupt)."""
    return [("w", OFFSET["DESC_BASE"], desc_base), ("w", OFFSET["IER"], 1), ("w", OFFSET["CTRL"], 1)]


def finish_ops() -> list[tuple[str, int, int]]:
    """After the interrupt: acknowledge it, read the status and the counters."""
    return [("w", OFFSET["ISR"], 1)] + [("r", OFFSET[n], 0) for n in
                                         ("STATUS", "CYC_TOTAL", "CYC_ENGINE", "CYC_MEMWAIT", "TILES", "HWINFO")]


def run_segment(mmio: Mmio, desc_base: int, wait_interrupt) -> dict[str, int]:
    """PYNQ-style synchronous run: start, wait for the interrupt (``wait_interrupt()``), acknowledge,
    read the counters."""
    for _, off, v in start_ops(desc_base):
        mmio.write(off, v)
    wait_interrupt()
    out = {}
    for op, off, v in finish_ops():
        if op == "w":
            mmio.write(off, v)
        else:
            out[next(n for n, o in OFFSET.items() if o == off)] = mmio.read(off)
    return out
