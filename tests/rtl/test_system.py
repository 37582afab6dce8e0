"""The accelerator's data mover, registers, driver and emitted top, without a Verilog simulator:
the AXI engines in the Amaranth simulator against a small AXI slave, the descriptor format, and
``hwsim rtl``'s default output."""

from __future__ import annotations

import json

import pytest
from amaranth.sim import Simulator

from hwsim.cli import main
from rtl.axi import AxiReader, AxiWriter
from rtl.driver import DdrImage, Segment, pack_cfg, run_segment
from rtl.params import ParamError, PEArrayParams
from rtl.regs import OFFSET, REGS

P = PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2, wbuf_depth=64, burst_beats=8, outstanding=3)


def _run_reader(addr: int, words: int, hold_r: int):
    """Issue one read command; the slave accepts every AR but returns no data for ``hold_r``
    cycles, then one beat per cycle.  Returns the ARs (addr, beats) in order and the peak number
    of bursts in flight."""
    dut = AxiReader(P)
    ars, peak = [], [0]

    async def tb(ctx):
        ctx.set(dut.cmd.payload.addr, addr)
        ctx.set(dut.cmd.payload.n, words)
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.arready, 1)
        ctx.set(dut.data.ready, 1)
        pending = []        # beats left per accepted burst
        cyc = 0
        while cyc < 2000 and (cyc < 5 or pending or ctx.get(dut.arvalid)):
            if ctx.get(dut.arvalid):
                ars.append((ctx.get(dut.araddr), ctx.get(dut.arlen) + 1))
                pending.append(ctx.get(dut.arlen) + 1)
            peak[0] = max(peak[0], len(pending))
            serve = cyc >= hold_r and pending
            ctx.set(dut.rvalid, 1 if serve else 0)
            ctx.set(dut.rlast, 1 if serve and pending[0] == 1 else 0)
            await ctx.tick()
            if serve:
                pending[0] -= 1
                if pending[0] == 0:
                    pending.pop(0)
            cyc += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return ars, peak[0]


def test_reader_splits_at_4k_and_burst_length_and_keeps_outstanding():
    start = 4096 - 3 * 16                   # 3 words before a 4 KiB boundary
    ars, peak = _run_reader(start, 40, hold_r=30)
    assert sum(n for _, n in ars) == 40
    assert all(n <= P.burst_beats for _, n in ars)
    for a, n in ars:                        # no burst crosses a 4 KiB boundary
        assert a // 4096 == (a + 16 * n - 1) // 4096, (hex(a), n)
    assert ars[0] == (start, 3)
    assert [a for a, _ in ars] == [start + 16 * sum(n for _, n in ars[:i]) for i in range(len(ars))]
    assert peak == P.outstanding


def test_writer_issues_w_only_for_issued_bursts():
    dut = AxiWriter(P)
    log = {"aw": [], "w": [], "max_w_ahead": 0}

    async def tb(ctx):
        ctx.set(dut.cmd.payload.addr, 0x2000 - 32)
        ctx.set(dut.cmd.payload.n, 12)
        ctx.set(dut.cmd.valid, 1)
        await ctx.tick()
        ctx.set(dut.cmd.valid, 0)
        ctx.set(dut.data.valid, 1)
        ctx.set(dut.wready, 1)
        bq = []
        for cyc in range(200):
            ctx.set(dut.awready, 1 if cyc % 7 == 6 else 0)       # slow address acceptance
            ctx.set(dut.data.payload, cyc)
            aw = ctx.get(dut.awvalid) and ctx.get(dut.awready)
            if aw:
                log["aw"].append((ctx.get(dut.awaddr), ctx.get(dut.awlen) + 1))
            if ctx.get(dut.wvalid):
                log["w"].append(ctx.get(dut.wlast))
                log["max_w_ahead"] = max(log["max_w_ahead"], len(log["w"]) - sum(n for _, n in log["aw"]) - (ctx.get(dut.awlen) + 1 if aw else 0))
                if ctx.get(dut.wlast):
                    bq.append(cyc + 3)
            ctx.set(dut.bvalid, 1 if bq and bq[0] <= cyc else 0)
            if bq and bq[0] <= cyc:
                bq.pop(0)
            await ctx.tick()
        assert ctx.get(dut.idle)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert log["aw"] == [(0x2000 - 32, 2), (0x2000, 8), (0x2000 + 128, 2)]
    assert len(log["w"]) == 12 and [i for i, v in enumerate(log["w"]) if v] == [1, 9, 11]
    assert log["max_w_ahead"] <= 0, "a W beat went out before its burst's AW"


def test_descriptor_list_layout():
    seg = Segment(P, DdrImage(size=1 << 16))
    a = seg.buffer([1, 2, 3])
    out = seg.output(5)
    cfg = {"mode": 1, "cin": 3, "cout": 3, "h": 4, "w": 5, "k": 3, "stride": 1, "pad": 1,
           "clamp_lo": -128, "clamp_hi": 127, "lut_en": 1}
    seg.add(cfg, [a, a], out, 5)
    seg.add(cfg, [a], out, 5, fence=True)
    base, raw = seg.descriptors()
    assert base % 16 == 0 and len(raw) == 16 * (2 + 2 + 2 + 1)
    w0 = int.from_bytes(raw[:16], "little")
    assert w0 & ((1 << 77) - 1) == pack_cfg(cfg)
    assert (w0 >> 80) & 0xFF == 2 and not (w0 >> 88) & 1 and not (w0 >> 89) & 1
    w0b = int.from_bytes(raw[64:80], "little")
    assert (w0b >> 88) & 1 and (w0b >> 89) & 1, "the last tile carries last and fence"
    seg1 = int.from_bytes(raw[32:48], "little")
    assert seg1 & 0xFFFFFFFF == a[0] and seg1 >> 32 == 3
    # mode is the low field, then cin: the packing follows rtl.layout.LayerConfig
    assert pack_cfg({"mode": 5}) == 5 and pack_cfg({"cin": 1}) == 8


def test_too_many_segments_refused():
    seg = Segment(P, DdrImage(size=1 << 16))
    with pytest.raises(ParamError, match="1..64 DDR buffers"):
        seg.add({}, [(0, 1)] * 65, 0, 1)


def test_driver_register_sequence_on_a_pynq_style_mmio():
    class Mmio:
        def __init__(self):
            self.log, self.regs = [], {OFFSET["STATUS"]: 2, OFFSET["CYC_TOTAL"]: 1234}

        def write(self, off, v):
            self.log.append(("w", off, v))

        def read(self, off):
            self.log.append(("r", off))
            return self.regs.get(off, 0)

    m, irqs = Mmio(), []
    out = run_segment(m, 0x4000, lambda: irqs.append(1))
    assert m.log[:3] == [("w", OFFSET["DESC_BASE"], 0x4000), ("w", OFFSET["IER"], 1), ("w", OFFSET["CTRL"], 1)]
    assert m.log[3] == ("w", OFFSET["ISR"], 1) and irqs == [1]
    assert out["CYC_TOTAL"] == 1234 and out["STATUS"] == 2
    assert len({off for off, *_ in REGS}) == len(REGS)


def test_rtl_command_writes_the_whole_accelerator_by_default(tmp_path, capsys):
    assert main(["rtl", "--out", str(tmp_path), "--json", "--set", "accel.pp=1", "--set", "accel.icp=4",
                 "--set", "accel.ocp=4", "--set", "accel.dw_channels=2", "--set", "accel.wbuf_depth=64"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["top"] == "zynq_accel"
    top = (tmp_path / "zynq_accel.v").read_text()
    for port in ("ap_clk", "ap_rst_n", "interrupt", "m_axi_araddr", "m_axi_rdata", "m_axi_wstrb", "m_axi_bready",
                 "s_axi_control_awaddr", "s_axi_control_rdata"):
        assert f" {port}" in top, port
    assert "input wire [127:0] m_axi_rdata" in top
    assert "module zynq_accel_core" in (tmp_path / "zynq_accel_core.v").read_text()


def test_readme_register_map_is_the_hardware_table():
    from pathlib import Path

    from rtl.regs import markdown_table
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme
    assert (Path(__file__).resolve().parents[2] / "docs" / "accelerator.png").stat().st_size > 10_000
