"""cocotb harness shared by the engine benches (``tb_conv``, ``tb_dw``) of the emitted ``layer_engine``.

The pytest side (``rtl.sim.run_cocotb``) writes the tiles to run as JSON (env ``RTL_CASES``):
``{"tiles": [{"name", "cfg", "in_beats": [hex], "n_out", "in_pause", "out_pause", "reset_after"}]}``.
``run_cases(dut)`` drives them in order through cocotbext-axi AXI4-Stream source/sink and writes
one result per tile to the JSON file named by ``RTL_RESULTS``:
``{"name", "out_beats": [hex], "cycles", "timeout", "extra_outputs", "busy_after"}``.
Comparison with the golden happens on the pytest side, so a mismatch shows as a test failure with
the full picture instead of a half-finished simulation.

``cycles`` counts from the cycle ``start`` is high (cycle 0) to the cycle the ``tlast`` output beat
is transferred, inclusive: the ``rtl.cycles.tile_cycles`` contract.  A tile with ``reset_after``
is aborted by a two-cycle synchronous reset that many cycles after its start; ``busy_after`` then
is ``busy`` right after the reset (must be 0).
"""

from __future__ import annotations

import json
import os

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, SimTimeoutError, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

PERIOD_NS = 10


class Harness:
    def __init__(self, dut):
        self.dut = dut
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.in_bytes = len(dut.s_axis_tdata) // 8
        self.out_bytes = len(dut.m_axis_tdata) // 8

    async def reset(self, cycles: int = 2) -> None:
        self.dut.rst.value = 1
        self.dut.start.value = 0
        await ClockCycles(self.dut.clk, cycles)
        self.src.clear()
        self.sink.clear()
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def set_cfg(self, cfg: dict[str, int]) -> None:
        for name, value in cfg.items():
            sig = getattr(self.dut, f"cfg_{name}")
            sig.value = int(value) & ((1 << len(sig)) - 1)

    async def _watch_last(self) -> int:
        """Cycles from now (cycle 0) until a tlast beat is transferred, inclusive."""
        d = self.dut
        n = 0
        await ReadOnly()
        while True:
            if int(d.m_axis_tvalid.value) and int(d.m_axis_tready.value) and int(d.m_axis_tlast.value):
                return n + 1
            await RisingEdge(d.clk)
            n += 1
            await ReadOnly()

    async def run_tile(self, tile: dict) -> dict:
        import cocotb
        d = self.dut
        res = {"name": tile["name"], "out_beats": [], "cycles": None, "timeout": False,
               "extra_outputs": 0, "busy_after": None}
        pause = [(self.src, tile.get("in_pause")), (self.sink, tile.get("out_pause"))]
        for ep, pat in pause:
            ep.set_pause_generator(_cycle(pat) if pat else None)
            ep.pause = False
        data = b"".join(int(b, 16).to_bytes(self.in_bytes, "little") for b in tile["in_beats"])
        await RisingEdge(d.clk)
        self.src.send_nowait(AxiStreamFrame(data))
        self.set_cfg(tile["cfg"])
        d.start.value = 1
        watch = cocotb.start_soon(self._watch_last())
        await RisingEdge(d.clk)
        d.start.value = 0
        if tile.get("reset_after") is not None:
            await ClockCycles(d.clk, int(tile["reset_after"]) - 1)
            watch.cancel()
            await self.reset()
            await ReadOnly()
            res["busy_after"] = int(d.busy.value)
            await RisingEdge(d.clk)
            return res
        budget = 50 * (len(tile["in_beats"]) + tile["n_out"]) + 1000
        try:
            frame = await with_timeout(self.sink.recv(), budget * PERIOD_NS, "ns")
            res["cycles"] = await watch
        except SimTimeoutError:
            res["timeout"] = True
            watch.cancel()
            return res
        raw = bytes(frame.tdata)
        ob = self.out_bytes
        res["out_beats"] = [hex(int.from_bytes(raw[i:i + ob], "little")) for i in range(0, len(raw), ob)]
        for ep, _ in pause:
            ep.clear_pause_generator()
            ep.pause = False
        await ClockCycles(d.clk, 20)        # nothing else may come out after tlast
        res["extra_outputs"] = self.sink.count()
        self.sink.clear()
        await ReadOnly()
        res["busy_after"] = int(d.busy.value)
        await RisingEdge(d.clk)
        return res


def _cycle(pattern):
    while True:
        yield from (int(v) for v in pattern)


async def run_cases(dut) -> None:
    """Run every tile of ``$RTL_CASES`` and write the results to ``$RTL_RESULTS``."""
    with open(os.environ["RTL_CASES"]) as f:
        spec = json.load(f)
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    h = Harness(dut)
    h.set_cfg({k: 0 for k in spec["tiles"][0]["cfg"]})
    dut.start.value = 0
    await h.reset()
    results = []
    for tile in spec["tiles"]:
        results.append(await h.run_tile(tile))
        if results[-1]["timeout"]:
            await h.reset()
    with open(os.environ["RTL_RESULTS"], "w") as f:
        json.dump(results, f)
