"""The whole accelerator (``zynq_accel``) DDR to DDR under cocotb on Icarus and Verilator.

DDR is cocotbext-axi's AxiRam behind the testbench's address latency stage (``rtl.systemsim``),
the PS is AxiLiteMaster replaying the driver's register sequence (``rtl.driver``).  Each
simulation runs one PL segment; every output byte is compared with the golden models
(``rtl.golden_pw`` / ``rtl.golden_dw``), including a two-layer chain whose second layer reads
the first layer's output from DDR (fenced).  One segment per (simulator, scenario), cached per
session.
"""

from __future__ import annotations

import numpy as np
import pytest

from rtl.axi import beat_stride
from rtl.driver import DdrImage, Segment, bytes_to_beats
from rtl.golden_dw import dw_case
from rtl.golden_pw import conv_beats, conv_case, conv_golden
from rtl.params import Mode, TileSpec
from rtl.segment import add_case, spec_for

from .conftest import CONFIGS, SIMS

pytestmark = pytest.mark.cocotb

P = CONFIGS["pp2-icp4-ocp4-dw2"]
def _latency() -> int:
    """The DDR round trip the cycle model uses (axi.burst_latency_ns at accel.clock_mhz), in cycles."""
    import math

    from hwsim.config import load
    from hwsim.memory import MemoryModel
    return math.ceil(MemoryModel.from_config(load()).burst_latency_cycles - 1e-9)


LATENCY = _latency()


def _mixed(rng):
    """Several layer kinds with ragged shapes in one segment."""
    seg = Segment(P, DdrImage(size=1 << 20))
    cases = [conv_case(P, TileSpec(Mode.CONV, cin=6, cout=7, h=3, w=3, k=1), rng),
             conv_case(P, TileSpec(Mode.CONV, cin=5, cout=9, h=2, w=3, k=3), rng),
             dw_case(P, TileSpec(Mode.DW, cin=3, cout=3, h=5, w=4, k=3, stride=1, pad=1), rng),
             dw_case(P, TileSpec(Mode.MAXPOOL, cin=5, cout=5, h=4, w=4, k=2, stride=2), rng),
             dw_case(P, TileSpec(Mode.ADD, cin=5, cout=5, h=2, w=3), rng),
             dw_case(P, TileSpec(Mode.GAP, cin=3, cout=3, h=3, w=3), rng)]
    outs = [add_case(seg, c) for c in cases]
    return seg, [(o, c.out_beats) for o, c in zip(outs, cases)]


def _chain(rng):
    """pw 6->4 on 3x5 pixels, then pw 4->6 reading the first layer's output buffer from DDR: with
    PP x OCP lanes equal to PP x ICP lanes and one output-channel group, layer 1's output beats are
    layer 2's activation beats."""
    seg = Segment(P, DdrImage(size=1 << 20))
    c1 = conv_case(P, TileSpec(Mode.CONV, cin=6, cout=P.ocp, h=3, w=5, k=1), rng, use_lut=False)
    o1 = add_case(seg, c1)
    a = c1.arrays
    wts = rng.integers(-128, 128, size=(P.ocp, 6))
    bias, mult, shift = a["bias"][:1].repeat(6), a["mult"][:1].repeat(6), a["shift"][:1].repeat(6)
    y2 = conv_golden(a["y"], wts, bias, mult, shift)
    ins, outs = conv_beats(P, a["y"], wts, bias, mult, shift, None, y2)
    from rtl.golden_pw import Case
    c2 = Case(P, TileSpec(Mode.CONV, P.ocp, 6, 3, 5), {"mode": 0, "cin": P.ocp, "cout": 6, "h": 3, "w": 5, "k": 1,
              "stride": 1, "pad": 0, "clamp_lo": -128, "clamp_hi": 127, "lut_en": 0}, ins, outs)
    o2 = add_case(seg, c2, fence=True, act_addr=o1)
    return seg, [(o1, c1.out_beats), (o2, c2.out_beats)]


SCENARIOS = {"mixed": (_mixed, None), "chain": (_chain, None), "mixed-backpressure": (_mixed, [0, 1, 1, 0, 1])}
_done: dict = {}


def _run(sim, name):
    if (sim, name) not in _done:
        from rtl.systemsim import run_system
        make, pause = SCENARIOS[name]
        seg, expect = make(np.random.default_rng(len(make.__name__)))
        sb = beat_stride(P.out_bytes)
        spec = spec_for(seg, [(o, len(b) * sb) for o, b in expect], timeout_cycles=200_000, r_pause=pause)
        _done[(sim, name)] = (seg, expect, run_system(P, spec, sim, LATENCY))
    return _done[(sim, name)]


CASES = [pytest.param(sim, name, id=f"{sim}-{name}") for sim in SIMS for name in SCENARIOS]


@pytest.mark.parametrize("sim,name", CASES)
def test_segment_outputs_match_golden(sim, name):
    seg, expect, res = _run(sim, name)
    assert not res["timeout"], "no interrupt"
    for i, ((_, want), raw) in enumerate(zip(expect, res["reads"])):
        got = bytes_to_beats(bytes.fromhex(raw), P.out_bytes)
        bad = [j for j, (g, w) in enumerate(zip(got, want)) if g != w]
        assert not bad, f"tile {i}: {len(bad)} of {len(want)} output beats differ, first {bad[0]}"


@pytest.mark.parametrize("sim,name", CASES)
def test_registers_after_segment(sim, name):
    seg, expect, res = _run(sim, name)
    r = res["regs"]
    assert r["STATUS"] & 0b111 == 0b010, "done, not busy, no AXI error"
    assert r["TILES"] == len(seg.tiles)
    # the counter counts the cycles the segment ran; the bench sees the interrupt one cycle after it stops
    assert r["CYC_TOTAL"] + 1 == res["irq_cycles"]
    assert 0 < r["CYC_ENGINE"] < r["CYC_TOTAL"]
    assert res["interrupt_after_ack"] == 0, "writing ISR must drop the interrupt"
    hw = r["HWINFO"]
    assert (hw & 0xFF, hw >> 8 & 0xFF, hw >> 16 & 0xFF, hw >> 24) == (P.in_bytes, P.out_bytes, P.burst_beats, P.outstanding)


def test_backpressure_slows_the_segment_but_not_its_results():
    _, _, fast = _run("icarus", "mixed")
    _, _, slow = _run("icarus", "mixed-backpressure")
    assert slow["reads"] == fast["reads"]
    assert slow["regs"]["CYC_TOTAL"] > fast["regs"]["CYC_TOTAL"]
    assert slow["regs"]["CYC_MEMWAIT"] > fast["regs"]["CYC_MEMWAIT"]
