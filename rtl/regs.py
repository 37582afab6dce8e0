"""AXI4-Lite register block of the accelerator (``s_axi_control_*``) and its interrupt.

Register map (32-bit registers, byte offsets; ``REGS`` is the one table the driver, the tests and
the README read):

    0x00 CTRL         W   bit 0: start the segment whose descriptor list is at DESC_BASE (ignored while busy)
    0x04 STATUS       R   bit 0: busy; bit 1: done (the last segment completed; cleared by start);
                          bit 2: AXI error (a SLVERR/DECERR response since start)
    0x08 DESC_BASE    RW  DDR byte address of the segment's descriptor list (16-byte aligned)
    0x0C IER          RW  bit 0: raise ``interrupt`` on segment completion
    0x10 ISR          RW1C bit 0: segment completed (write 1 to clear)
    0x14 CYC_TOTAL    R   cycles from start to completion (counts while busy)
    0x18 CYC_ENGINE   R   cycles the layer engine was busy
    0x1C CYC_MEMWAIT  R   cycles the busy engine waited for memory (input starved or output blocked)
    0x20 TILES        R   tiles completed since start
    0x24 HWINFO       R   bits 7:0 in_bytes, 15:8 out_bytes, 23:16 burst_beats, 31:24 outstanding

``interrupt`` = ISR[0] & IER[0] (level, active high).  The slave takes a write when AW and W are
both valid (one response at a time) and answers a read one cycle after AR.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import PEArrayParams

ADDR_BITS = 6

REGS = [  # (offset, name, access, meaning)
    (0x00, "CTRL", "W", "bit 0: start the segment at DESC_BASE (ignored while busy)"),
    (0x04, "STATUS", "R", "bit 0 busy, bit 1 done (cleared by start), bit 2 AXI error response"),
    (0x08, "DESC_BASE", "RW", "DDR address of the segment's descriptor list (16-byte aligned)"),
    (0x0C, "IER", "RW", "bit 0: interrupt on segment completion"),
    (0x10, "ISR", "RW1C", "bit 0: segment completed; write 1 to clear"),
    (0x14, "CYC_TOTAL", "R", "cycles from start to completion"),
    (0x18, "CYC_ENGINE", "R", "cycles the layer engine was busy"),
    (0x1C, "CYC_MEMWAIT", "R", "cycles the busy engine waited for memory (input starved / output blocked)"),
    (0x20, "TILES", "R", "tiles completed since start"),
    (0x24, "HWINFO", "R", "bits 7:0 in_bytes, 15:8 out_bytes, 23:16 burst_beats, 31:24 outstanding"),
]
OFFSET = {name: off for off, name, _, _ in REGS}


def control_ports(prefix: str = "s_axi_control_") -> dict:
    return {f"{prefix}awaddr": In(ADDR_BITS), f"{prefix}awvalid": In(1), f"{prefix}awready": Out(1),
            f"{prefix}wdata": In(32), f"{prefix}wstrb": In(4), f"{prefix}wvalid": In(1), f"{prefix}wready": Out(1),
            f"{prefix}bresp": Out(2), f"{prefix}bvalid": Out(1), f"{prefix}bready": In(1),
            f"{prefix}araddr": In(ADDR_BITS), f"{prefix}arvalid": In(1), f"{prefix}arready": Out(1),
            f"{prefix}rdata": Out(32), f"{prefix}rresp": Out(2), f"{prefix}rvalid": Out(1), f"{prefix}rready": In(1)}


class ControlRegs(wiring.Component):
    """The register file; ``start`` pulses for one cycle, the counters count while ``running``."""

    def __init__(self, p: PEArrayParams):
        self.p = p
        sig = control_ports("")
        sig.update({"start": Out(1), "desc_base": Out(32), "interrupt": Out(1),
                    "running": In(1), "done": In(1), "err": In(1),
                    "engine_busy": In(1), "mem_wait": In(1), "tile_done": In(1)})
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        p = self.p
        ier, isr, done_f = Signal(), Signal(), Signal()
        cyc_total, cyc_eng, cyc_mem, tiles = (Signal(32, name=n) for n in ("cyc_total", "cyc_eng", "cyc_mem", "tiles"))
        # ---- writes
        wr = Signal()
        m.d.comb += [wr.eq(self.awvalid & self.wvalid & ~self.bvalid),
                     self.awready.eq(wr), self.wready.eq(wr), self.bresp.eq(0)]
        with m.If(self.bvalid & self.bready):
            m.d.sync += self.bvalid.eq(0)
        with m.If(wr):
            m.d.sync += self.bvalid.eq(1)
            with m.Switch(self.awaddr[2:]):
                with m.Case(OFFSET["CTRL"] >> 2):
                    m.d.comb += self.start.eq(self.wdata[0] & ~self.running)
                with m.Case(OFFSET["DESC_BASE"] >> 2):
                    m.d.sync += self.desc_base.eq(self.wdata)
                with m.Case(OFFSET["IER"] >> 2):
                    m.d.sync += ier.eq(self.wdata[0])
                with m.Case(OFFSET["ISR"] >> 2):
                    with m.If(self.wdata[0]):
                        m.d.sync += isr.eq(0)
        # ---- status and counters
        with m.If(self.start):
            m.d.sync += [done_f.eq(0), cyc_total.eq(0), cyc_eng.eq(0), cyc_mem.eq(0), tiles.eq(0)]
        with m.Elif(self.running):
            m.d.sync += [cyc_total.eq(cyc_total + 1), cyc_eng.eq(cyc_eng + self.engine_busy),
                         cyc_mem.eq(cyc_mem + self.mem_wait), tiles.eq(tiles + self.tile_done)]
        with m.If(self.done):
            m.d.sync += [done_f.eq(1), isr.eq(1)]
        m.d.comb += self.interrupt.eq(isr & ier)
        # ---- reads
        hwinfo = p.in_bytes | (p.out_bytes << 8) | (min(p.burst_beats, 255) << 16) | (min(p.outstanding, 255) << 24)
        rd = Signal(32)
        with m.Switch(self.araddr[2:]):
            with m.Case(OFFSET["STATUS"] >> 2):
                m.d.comb += rd.eq(self.running | (done_f << 1) | (self.err << 2))
            with m.Case(OFFSET["DESC_BASE"] >> 2):
                m.d.comb += rd.eq(self.desc_base)
            with m.Case(OFFSET["IER"] >> 2):
                m.d.comb += rd.eq(ier)
            with m.Case(OFFSET["ISR"] >> 2):
                m.d.comb += rd.eq(isr)
            with m.Case(OFFSET["CYC_TOTAL"] >> 2):
                m.d.comb += rd.eq(cyc_total)
            with m.Case(OFFSET["CYC_ENGINE"] >> 2):
                m.d.comb += rd.eq(cyc_eng)
            with m.Case(OFFSET["CYC_MEMWAIT"] >> 2):
                m.d.comb += rd.eq(cyc_mem)
            with m.Case(OFFSET["TILES"] >> 2):
                m.d.comb += rd.eq(tiles)
            with m.Case(OFFSET["HWINFO"] >> 2):
                m.d.comb += rd.eq(hwinfo)
        m.d.comb += [self.arready.eq(~self.rvalid), self.rresp.eq(0)]
        with m.If(self.rvalid & self.rready):
            m.d.sync += self.rvalid.eq(0)
        with m.If(self.arvalid & self.arready):
            m.d.sync += [self.rvalid.eq(1), self.rdata.eq(rd)]
        return m


def markdown_table() -> str:
    """The register map as the README shows it."""
    rows = ["| offset | register | access | meaning |", "|---|---|---|---|"]
    rows += [f"| 0x{off:02X} | {name} | {acc} | {what} |" for off, name, acc, what in REGS]
    return "\n".join(rows)
