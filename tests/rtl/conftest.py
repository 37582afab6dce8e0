"""Shared fixtures of the RTL tests: the regression instances and the simulators.

Every (simulator, instance) pair is built once per RTL revision under
``build/cocotb/<sim>-<params hash>-<rtl hash>`` by ``rtl.sim.build`` (file-locked), and every
cocotb bench (CONV, DW) runs on that build.
"""

from __future__ import annotations

import pytest

from rtl.params import PEArrayParams

SIMS = ["icarus", "verilator"]

# Small instances keep the builds fast; both have ragged relations between the parallelisms.
CONFIGS = {
    "pp2-icp4-ocp4-dw2": PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2, wbuf_depth=64),
    "pp1-icp8-ocp4-dw4": PEArrayParams(pp=1, icp=8, ocp=4, dw_channels=4, wbuf_depth=64),
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
