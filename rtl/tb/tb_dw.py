"""cocotb bench of the emitted ``layer_engine`` for depthwise-engine tiles (DW, MAXPOOL, AVGPOOL,
SCALE, GAP, ADD), driven by ``rtl.sim.run_cocotb``; the tiles, their golden outputs and the checks
live on the pytest side: tests/rtl/test_cocotb_dw.py."""

import cocotb

from rtl.tb.common import run_cases


@cocotb.test()
async def dw_tiles(dut):
    await run_cases(dut)
