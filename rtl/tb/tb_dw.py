"""cocotb bench of the emitted ``layer_engine`` for depthwise-engine tiles (DW, MAXPOOL, AVGPOOL on
the dw_channels window lanes; SCALE, GAP, ADD on the full beat width: ``ew_lanes`` / ``add_lanes``
channels per beat), driven by ``rtl.sim.run_cocotb``; the tiles, their golden outputs (any number
of output lanes per beat: the harness compares whole ``m_axis`` words) and the checks live on the
pytest side: tests/rtl/test_cocotb_dw.py."""

import cocotb

from rtl.tb.common import run_cases


@cocotb.test()
async def dw_tiles(dut):
    await run_cases(dut)
