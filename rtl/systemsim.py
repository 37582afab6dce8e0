"""cocotb runs of the whole accelerator (``rtl.system``) DDR to DDR: builds, the testbench top with
its DDR latency stage, and ``run_system``.

The testbench top ``zynq_accel_tb`` is the emitted ``zynq_accel`` with its AR and AW channels
through ``DdrLatency`` stages (each address is presented to the RAM ``latency`` cycles after the
accelerator issued it; up to ``outstanding + 2`` in flight), so the AXI RAM answers a burst about
``latency`` cycles after its address: the round trip ``axi.burst_latency_ns`` at the PL clock that
``hwsim.memory.MemoryModel`` uses.  Builds are cached per (simulator, instance, latency, RTL hash)
under ``build/cocotb-system`` (file-locked) like ``rtl.sim``'s.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out


from .emit import SYS_TOP, _system_ports, params_hash, write_system_verilog
from .params import PEArrayParams
from .cache import cache_dir
from .sim import REPO, _environ, build_once, rtl_source_hash, run_and_collect, simulator_env


TB_TOP = "zynq_accel_tb"
RECIPE = 1
AR = ["araddr", "arlen", "arsize", "arburst", "arcache", "arprot"]
AW = ["awaddr", "awlen", "awsize", "awburst", "awcache", "awprot"]


class DdrLatency(wiring.Component):
    """An AXI address channel delayed by ``latency`` cycles (FIFO of payload + arrival time)."""

    def __init__(self, width: int, latency: int, depth: int):
        self.width, self.latency, self.depth = width, latency, depth
        super().__init__({"i_payload": In(width), "i_valid": In(1), "i_ready": Out(1),
                          "o_payload": Out(width), "o_valid": Out(1), "o_ready": In(1)})

    def elaborate(self, platform):
        m = Module()
        t = Signal(32)
        m.d.sync += t.eq(t + 1)
        m.submodules.q = q = SyncFIFOBuffered(width=self.width + 32, depth=self.depth)
        m.d.comb += [q.w_data.eq(self.i_payload | (t << self.width)), q.w_en.eq(self.i_valid),
                     self.i_ready.eq(q.w_rdy), self.o_payload.eq(q.r_data[:self.width]),
                     self.o_valid.eq(q.r_rdy & ((t - q.r_data[self.width:]) >= self.latency)),
                     q.r_en.eq(self.o_valid & self.o_ready)]
        return m


def tb_top_verilog(p: PEArrayParams, latency: int) -> str:
    ports = _system_ports(p)
    widths = {n: w for _, n, w in ports}
    lines = [f"module {TB_TOP} (", "  input wire ap_clk,", "  input wire ap_rst_n,"]
    decl, body = [], []
    for d, n, w in ports:
        rng = f"[{w - 1}:0] " if w > 1 else ""
        if n.startswith("m_axi_"):
            decl.append(f"  {d} wire {rng}ddr_{n[6:]}")
            body.append(f"  wire {rng}{n};")
        else:
            decl.append(f"  {d} wire {rng}{n}")
    lines.append(",\n".join(decl))
    lines.append(");")
    lines += body
    for ch, names in (("ar", AR), ("aw", AW)):
        cat = ", ".join(f"m_axi_{n}" for n in reversed(names))
        dcat = ", ".join(f"ddr_{n}" for n in reversed(names))
        wsum = sum(widths[f"m_axi_{n}"] for n in names)
        lines += [f"  wire [{wsum - 1}:0] {ch}_dly_o;",
                  f"  assign {{{dcat}}} = {ch}_dly_o;",
                  f"  ddr_latency_{ch} {ch}_dly (.clk(ap_clk), .rst(~ap_rst_n), .i_payload({{{cat}}}),",
                  f"    .i_valid(m_axi_{ch}valid), .i_ready(m_axi_{ch}ready), .o_payload({ch}_dly_o),",
                  f"    .o_valid(ddr_{ch}valid), .o_ready(ddr_{ch}ready));"]
    delayed = set(AR + AW + ["arvalid", "arready", "awvalid", "awready"])
    for d, n, w in ports:
        if n.startswith("m_axi_") and n[6:] not in delayed:
            lines.append(f"  assign {'ddr_' + n[6:] if d == 'output' else n} = {n if d == 'output' else 'ddr_' + n[6:]};")
    conns = ",\n".join(["    .ap_clk(ap_clk)", "    .ap_rst_n(ap_rst_n)"] + [f"    .{n}({n})" for _, n, _ in ports])
    lines += [f"  {SYS_TOP} dut (", conns, "  );", "endmodule", ""]
    return "\n".join(lines)


def write_tb(p: PEArrayParams, latency: int, out: Path) -> list[Path]:
    files = write_system_verilog(p, out)
    for ch, names in (("ar", AR), ("aw", AW)):
        width = 32 + 8 + 3 + 2 + 4 + 3
        f = out / f"ddr_latency_{ch}.v"
        f.write_text(verilog.convert(DdrLatency(width, max(latency, 0), p.outstanding + 2),
                                     name=f"ddr_latency_{ch}", emit_src=False))
        files.append(f)
    tb = out / f"{TB_TOP}.v"
    tb.write_text(tb_top_verilog(p, latency))
    return [tb] + files


def build_dir(p: PEArrayParams, sim: str, latency: int) -> Path:
    return cache_dir("cocotb-system") / f"{sim}-{params_hash(p)}-L{latency}-{rtl_source_hash()}-r{RECIPE}"


def _runner(p, sim, bdir, latency, compile: bool):
    from cocotb_tools.runner import get_runner
    runner = get_runner(sim)
    if not compile:
        runner._build_command = lambda: []
    args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if sim == "verilator" else ["-g2005"]
    src = bdir / "src"
    sources = write_tb(p, latency, src) if compile else sorted(src.glob("*.v"))
    runner.build(sources=sources, hdl_toplevel=TB_TOP, build_dir=bdir, build_args=args,
                 timescale=("1ns", "1ps"), always=compile, log_file=bdir / "build.log" if compile else None)
    return runner


def build(p: PEArrayParams, sim: str, latency: int) -> Path:
    return build_once(p, sim, build_dir(p, sim, latency),
                      lambda bdir: _runner(p, sim, bdir, latency, compile=True), "the accelerator")


def run_system(p: PEArrayParams, spec: dict, sim: str, latency: int) -> dict:
    """One segment through the accelerator: ``spec`` as ``rtl.tb.tb_system`` reads it."""
    bdir = build(p, sim, latency)
    tdir = bdir / f"run-{uuid.uuid4().hex[:8]}"
    tdir.mkdir(parents=True)
    cases, results = tdir / "cases.json", tdir / "results.json"
    spec = dict(spec, ram_prefix="ddr")
    cases.write_text(json.dumps(spec))
    env = {"RTL_CASES": str(cases), "RTL_RESULTS": str(results),
           "PYTHONPATH": os.pathsep.join([str(REPO)] + sys.path)}
    def test(log: Path) -> None:
        with _environ(simulator_env(sim)):
            _runner(p, sim, bdir, latency, compile=False).test(
                test_module="rtl.tb.tb_system", hdl_toplevel=TB_TOP, build_dir=bdir, test_dir=tdir,
                extra_env=env, timescale=("1ns", "1ps"), log_file=log)
    return run_and_collect(test, tdir, results, f"{sim} simulation of the accelerator")
