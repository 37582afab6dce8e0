"""Shared fixtures of the RTL tests: the regression instances and the simulators.

Every (simulator, instance) pair is built once per RTL revision under
``build/cocotb/<sim>-<params hash>-<rtl hash>`` by ``rtl.sim.build`` (file-locked), and every
cocotb bench (CONV, DW) runs on that build.
"""

from __future__ import annotations

import pytest

from rtl.params import PEArrayParams

SIMS = ["icarus", "verilator"]

# Small instances keep the builds fast; both have ragged relations between the parallelisms.  The
# second packs two INT8 products per DSP48E2 (macs_per_dsp = 2), so both CONV datapaths are covered.
CONFIGS = {
    "pp2-icp4-ocp4-dw2": PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2, wbuf_depth=64),
    "pp1-icp8-ocp4-dw4-pack2": PEArrayParams(pp=1, icp=8, ocp=4, dw_channels=4, wbuf_depth=64, macs_per_dsp=2),
}


@pytest.fixture(scope="session")
def rtl_build():
    """``rtl_build(params, sim) -> build dir``: builds on first use, then reuses."""
    from rtl.sim import build
    done: dict[tuple[PEArrayParams, str], object] = {}

    def get(params: PEArrayParams, sim: str):
        if (params, sim) not in done:
            done[(params, sim)] = build(params, sim)
        return done[(params, sim)]
    return get


@pytest.fixture(scope="session")
def tile_batch(rtl_build):
    """``tile_batch(sim, cfg, make_batch, seed, test_module) -> (runs, {name: result})``: the tiles
    ``make_batch(params, seed)`` builds, run once per session on the (simulator, instance) build;
    every test of a bench reads the same results."""
    from rtl.sim import run_cocotb
    done: dict[tuple[str, str, str], tuple[list, dict[str, dict]]] = {}

    def get(sim: str, cfg: str, make_batch, seed: int, test_module: str):
        key = (sim, cfg, test_module)
        if key not in done:
            p = CONFIGS[cfg]
            rtl_build(p, sim)
            runs = make_batch(p, seed)
            done[key] = (runs, {r["name"]: r for r in run_cocotb(p, runs, sim, test_module=test_module)})
        return done[key]
    return get
