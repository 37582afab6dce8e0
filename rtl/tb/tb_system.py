"""cocotb bench of the whole accelerator (``zynq_accel``, driven by ``rtl.systemsim.run_system``).

DDR is cocotbext-axi's ``AxiRam`` on ``m_axi`` (behind ``rtl.systemsim``'s latency stage when the
run asks for one; R/B backpressure from a pause pattern), the PS is ``AxiLiteMaster`` on
``s_axi_control`` replaying the driver's register sequence (``rtl.driver.start_ops`` /
``finish_ops``).  ``$RTL_CASES``: ``{"chunks": [[addr, hex]], "desc_base", "reads": [[addr, n]],
"r_pause", "timeout_cycles"}``.  Results (``$RTL_RESULTS``): the bytes of every ``reads`` region,
the register values ``finish_ops`` reads, ``irq_cycles`` (clock cycles from the CTRL write's
handshake to the cycle ``interrupt`` is high) and ``timeout``.
"""

from __future__ import annotations

import itertools
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from rtl.driver import finish_ops, start_ops
from rtl.regs import OFFSET

PERIOD_NS = 10


class SimMmio:
    """The driver's ``Mmio`` on cocotbext-axi's AxiLiteMaster (async)."""

    def __init__(self, master: AxiLiteMaster):
        self.m = master

    async def write(self, off: int, value: int) -> None:
        await self.m.write_dword(off, value)

    async def read(self, off: int) -> int:
        return await self.m.read_dword(off)


@cocotb.test()
async def system_segment(dut):
    with open(os.environ["RTL_CASES"]) as f:
        spec = json.load(f)
    Clock(dut.ap_clk, PERIOD_NS, unit="ns").start()
    ram_bus = AxiBus.from_prefix(dut, spec.get("ram_prefix", "m_axi"))
    ram = AxiRam(ram_bus, dut.ap_clk, dut.ap_rst_n, reset_active_level=False, size=spec["ram_size"])
    for addr, hx in spec["chunks"]:
        ram.write(addr - spec["ram_base"], bytes.fromhex(hx))
    if spec.get("r_pause"):
        pat = spec["r_pause"]
        ram.read_if.r_channel.set_pause_generator(itertools.cycle(pat))
        ram.write_if.b_channel.set_pause_generator(itertools.cycle(pat))
    mmio = SimMmio(AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk, dut.ap_rst_n,
                                 reset_active_level=False))
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    await ClockCycles(dut.ap_clk, 2)
    # the ram sees addresses relative to its base: the descriptor list and buffers are rebased by the runner
    ops = start_ops(spec["desc_base"])
    for _, off, v in ops[:-1]:
        await mmio.write(off, v)
    # count from the cycle the CTRL write is accepted (the accelerator's start) to the interrupt
    res = {"timeout": False}
    counter = {"n": None}

    pfx = spec.get("ram_prefix", "m_axi")
    rv, rr = getattr(dut, f"{pfx}_rvalid"), getattr(dut, f"{pfx}_rready")
    r_stats = {"r_beats": 0, "r_blocked": 0, "r_idle": 0}

    async def watch():
        await ReadOnly()
        while not (int(dut.s_axi_control_wvalid.value) and int(dut.s_axi_control_wready.value)):
            await RisingEdge(dut.ap_clk)
            await ReadOnly()
        n = 0
        while True:
            await RisingEdge(dut.ap_clk)
            n += 1
            await ReadOnly()
            v, r = int(rv.value), int(rr.value)
            r_stats["r_beats" if v and r else "r_blocked" if v else "r_idle"] += 1
            if int(dut.interrupt.value):
                counter["n"] = n
                return
            if n > spec["timeout_cycles"]:
                return
    w = cocotb.start_soon(watch())
    await mmio.write(ops[-1][1], ops[-1][2])
    await w
    if counter["n"] is None:
        res["timeout"] = True
    res["irq_cycles"] = counter["n"]
    res["r_stats"] = r_stats
    await RisingEdge(dut.ap_clk)
    regs = {}
    for op, off, v in finish_ops():
        if op == "w":
            await mmio.write(off, v)
        else:
            regs[next(n for n, o in OFFSET.items() if o == off)] = await mmio.read(off)
    res["regs"] = regs
    res["interrupt_after_ack"] = int(dut.interrupt.value)
    res["reads"] = [ram.read(a - spec["ram_base"], n).hex() for a, n in spec["reads"]]
    with open(os.environ["RTL_RESULTS"], "w") as f:
        json.dump(res, f)
