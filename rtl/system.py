"""The whole accelerator: AXI4 data mover + command sequencer + layer engine + AXI4-Lite registers.

``Accelerator`` (Amaranth) has flat ports named as Vivado's IP integrator infers interfaces:
``m_axi_*`` (AXI4 master, one ID, to an S_AXI_HP port), ``s_axi_control_*`` (AXI4-Lite slave,
``rtl.regs.REGS``) and ``interrupt``; Amaranth's ``clk``/``rst`` become ``ap_clk``/``ap_rst_n``
(active-low reset) in the Verilog top ``rtl.emit.system_wrapper_verilog`` writes.

    s_axi_control -> ControlRegs --go/desc_base--> Sequencer --cfg/start--> LayerEngine
                                                     |  ^ rd_cmd/rd_data      | s  ^ m
    m_axi (AR/R) <----------------- AxiReader <------+  |                     |  |
    m_axi (AW/W/B) <--------------- AxiWriter <--------- wr_cmd/wr_data <-----+--+
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring

from .axi import AxiReader, AxiWriter, _axi_ports
from .params import PEArrayParams
from .regs import ControlRegs, control_ports
from .sequencer import Sequencer
from .top import LayerEngine

AXI_READ = ["arid", "rid", "araddr", "arlen", "arsize", "arburst", "arcache", "arprot", "arvalid", "arready",
            "rdata", "rresp", "rlast", "rvalid", "rready"]
AXI_WRITE = ["awid", "bid", "awaddr", "awlen", "awsize", "awburst", "awcache", "awprot", "awvalid", "awready",
             "wdata", "wstrb", "wlast", "wvalid", "wready", "bresp", "bvalid", "bready"]
AXIL = ["awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp", "bvalid", "bready",
        "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid", "rready"]


def system_signature(p: PEArrayParams) -> dict:
    sig = {}
    sig.update(_axi_ports("m_axi_", False, p.axi_data_bits))
    sig.update(_axi_ports("m_axi_", True, p.axi_data_bits))
    sig.update(control_ports("s_axi_control_"))
    sig["interrupt"] = wiring.Out(1)
    return sig


class Accelerator(wiring.Component):
    def __init__(self, params: PEArrayParams):
        self.params = params
        super().__init__(system_signature(params))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        m.submodules.rd = rd = AxiReader(p)
        m.submodules.wr = wr = AxiWriter(p)
        m.submodules.seq = seq = Sequencer(p)
        m.submodules.engine = eng = LayerEngine(p)
        m.submodules.regs = regs = ControlRegs(p)
        for n in AXI_READ:
            a, b = getattr(self, f"m_axi_{n}"), getattr(rd, n)
            m.d.comb += (a.eq(b) if n not in ("arready", "rid", "rdata", "rresp", "rlast", "rvalid") else b.eq(a))
        for n in AXI_WRITE:
            a, b = getattr(self, f"m_axi_{n}"), getattr(wr, n)
            m.d.comb += (a.eq(b) if n not in ("awready", "wready", "bid", "bresp", "bvalid") else b.eq(a))
        for n in AXIL:
            a, b = getattr(self, f"s_axi_control_{n}"), getattr(regs, n)
            outs = ("awready", "wready", "bid", "bresp", "bvalid", "arready", "rdata", "rresp", "rvalid")
            m.d.comb += (a.eq(b) if n in outs else b.eq(a))
        wiring.connect(m, seq.rd_cmd, rd.cmd)
        wiring.connect(m, rd.data, seq.rd_data)
        wiring.connect(m, seq.wr_cmd, wr.cmd)
        wiring.connect(m, seq.wr_data, wr.data)
        m.d.comb += [
            seq.wr_idle.eq(wr.idle), seq.go.eq(regs.start), seq.desc_base.eq(regs.desc_base),
            eng.cfg.eq(seq.cfg), eng.start.eq(seq.start), seq.busy.eq(eng.busy),
            eng.s.payload.data.eq(seq.s_data), eng.s.valid.eq(seq.s_valid), seq.s_ready.eq(eng.s.ready),
            seq.m_data.eq(eng.m.payload.data), seq.m_valid.eq(eng.m.valid), eng.m.ready.eq(seq.m_ready),
            regs.running.eq(seq.running), regs.done.eq(seq.done), regs.err.eq(rd.err | wr.err),
            regs.engine_busy.eq(eng.busy), regs.tile_done.eq(seq.tile_done),
            regs.mem_wait.eq(eng.busy & ((eng.s.ready & ~eng.s.valid) | (eng.m.valid & ~eng.m.ready))),
            self.interrupt.eq(regs.interrupt),
        ]
        return m
