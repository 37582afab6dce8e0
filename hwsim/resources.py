"""Device resources of a whole accelerator configuration, and whether it fits the board.

The PE-array core is counted by ``rtl.synth.estimate`` (held to Yosys by tests/rtl/test_synth.py);
the input/output activation buffers (``accel.ibuf_kib``/``obuf_kib``) sit outside that core, in
the data mover, and are added here as 36 Kb block RAMs.  ``hwsim sweep`` and ``hwsim study`` both
judge feasibility with these functions.
"""

from __future__ import annotations

import math
from typing import Any

from .config import Config

# INT8 MACs one DSP slice can do per cycle at most: a DSP48E2 (UltraScale+) packs two INT8
# multiplies sharing an operand (Xilinx WP486, "Deep Learning with INT8 Optimization on Xilinx
# Devices"); rtl.pointwise does the same with macs_per_dsp = 2.  Other families: one.
INT8_MACS_PER_DSP = {"zynquplus": 2}

BRAM36_BYTES = 4096     # a RAMB36E2 holds 4 KiB of bytes (4K x 9 or 512 x 72 with parity unused; UG573)


def activation_buffer_bram36(accel: dict[str, Any]) -> int:
    """Block RAMs of the input and output activation buffers."""
    return sum(math.ceil(float(accel[k]) * 1024 / BRAM36_BYTES) for k in ("ibuf_kib", "obuf_kib") if k in accel)


def accel_resources(cfg: Config) -> dict[str, float]:
    """DSP, LUT, FF and BRAM36 of the configuration's accelerator: PE-array core + activation buffers."""
    from rtl.synth import estimate
    res = dict(estimate(cfg.pe))
    res["bram36"] += activation_buffer_bram36(cfg.accel)
    return res


def device_fit(cfg: Config, res: dict[str, float] | None = None) -> dict[str, Any]:
    """``{"util": {resource: fraction}, "fits": bool, "over": [resources above board.max_util]}``."""
    from rtl.synth import fit
    return fit(accel_resources(cfg) if res is None else res, cfg.board)


def device_peak_macs_per_cycle(board: dict[str, Any]) -> int:
    """The device's INT8 MAC ceiling per PL cycle: every DSP slice busy, packed where the family
    allows (``INT8_MACS_PER_DSP``).  No PE array that uses each DSP once per PL cycle beats it at that
    clock; one that double-pumps its DSPs at twice the PL clock (the DPU's ``dpu_2x_clk``, PG338 port
    table) can reach twice it."""
    return int(board["dsp"]) * INT8_MACS_PER_DSP.get(str(board.get("family", "")), 1)
