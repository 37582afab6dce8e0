"""Device resources of a whole accelerator configuration, and whether it fits the board.

The PE-array core is counted by ``rtl.synth.estimate`` (held to Yosys by tests/rtl/test_synth.py);
the input/output activation buffers (``accel.ibuf_kib``/``obuf_kib``) sit outside that core, in
the data mover, and are added here as 36 Kb block RAMs.  ``hwsim sweep`` and ``hwsim study`` both
judge feasibility with these functions.
"""

from __future__ import annotations

import math
from typing import Any

from .config import Config, dsp_usages
from .sections import Accel, Board

# INT8 MACs one DSP slice can do per cycle at most: a DSP48E2 (UltraScale+) packs two INT8
# multiplies sharing an operand (Xilinx WP486, "Deep Learning with INT8 Optimization on Xilinx
# Devices"); rtl.pointwise does the same with macs_per_dsp = 2.  Other families: one.
INT8_MACS_PER_DSP = {"zynquplus": 2}
# DSP clock per PL clock at most: the DPU double-pumps its DSP slices (its ``dpu_2x_clk`` runs at twice
# ``m_axi_dpu_aclk``, "DSP double data rate", AMD PG338 DPUCZDX8G, clocking section and port table).
DSP_CLOCK_MULTIPLE = 2

BRAM36_BYTES = 4096     # a RAMB36E2 holds 4 KiB of bytes (4K x 9 or 512 x 72 with parity unused; UG573)


def activation_buffer_bram36(accel: Accel) -> int:
    """Block RAMs of the input and output activation buffers (``accel``: the typed section)."""
    return sum(math.ceil(kib * 1024 / BRAM36_BYTES) for kib in (accel.ibuf_kib, accel.obuf_kib))


RESOURCES = ("dsp", "lut", "ff", "bram36")


def _hardware_fields() -> set[str]:
    """The [accel] fields that change the hardware (and so its resources): the PE-array parameters
    and the activation buffers.  Clock, op coverage and port use do not change a resource count."""
    from dataclasses import fields
    from rtl.params import PEArrayParams
    return {f.name for f in fields(PEArrayParams)} | {"ibuf_kib", "obuf_kib"}


def uses_published(cfg: Config) -> bool:
    """True when the accelerator file publishes its resources (``[published_resources]``, e.g. the
    DPU's PG338 utilisation) and no hardware field was changed from the file's: the published
    figures describe that hardware and no other."""
    if not cfg.published or cfg.shipped_accel is None:
        return False
    table = cfg.accel.raw()             # compared as loaded with the file's table as shipped
    return all(table.get(k) == cfg.shipped_accel.get(k) for k in _hardware_fields())


def dsp_usage(cfg: Config) -> str | None:
    """The published table the accelerator's resources come from: ``accel.dsp_usage`` (PG338's
    "DSP Usage": ``high``, DSPs multiply and accumulate; ``low``, LUTs accumulate), or the only one."""
    if not cfg.published:
        return None
    return cfg.accel.dsp_usage or dsp_usages(cfg.published)[0]


def resource_source(cfg: Config) -> str:
    """Where ``accel_resources(cfg)`` comes from, in a few words."""
    if uses_published(cfg):
        return f"published: {cfg.published['source']}, {dsp_usage(cfg)} DSP usage"
    return "estimate: rtl.synth.estimate, held to Yosys, + activation buffers"


# Published DPU block-RAM figures are for builds without UltraRAM (ZCU102 has none).  On a device
# with UltraRAM the DPU moves its image/weight banks there (PG338 UBANK_IMG_N / UBANK_WGT_N): the
# KV260 smartcam B3136 build reports 67 BRAM36 + 44 URAM (kria-apps-docs "Hardware Architecture of the
# Accelerator", nlp-smartvision 2020.2) where the ZCU102 build needs 210 BRAM36, so each URAM stood in
# for (210 - 67) / 44 = 3.25 BRAM36.
BRAM36_PER_URAM = (210 - 67) / 44


def accel_cores(accel: Accel) -> int:
    """``accel.cores`` (the typed section, ``hwsim.sections.Accel``): identical accelerator instances
    in the PL (the DPU's published builds put several DPU cores in one design: ZCU102 3 x B4096,
    ZCU104 2 x B4096, see the DPU files); 1 if the description does not say.  Every instance counts
    in the resources and the fit check.  Its range and ``accel.max_cores`` are checked at load
    (``hwsim.schema``)."""
    return accel.cores if accel.cores is not None else 1


def _published(cfg: Config, usage: str | None = None) -> dict[str, float]:
    counts = cfg.published[usage or dsp_usage(cfg)]
    n = accel_cores(cfg.accel)
    # counts as published (ints; BRAM may be half blocks), one set per core
    res = {k: counts[k] * n for k in RESOURCES}
    uram = cfg.board.uram or 0
    room = cfg.board.bram36 * _max_util(cfg)
    if uram and room is not None and res["bram36"] > room:
        need = math.ceil((res["bram36"] - room) / BRAM36_PER_URAM)
        res["bram36"] = max(0.0, res["bram36"] - need * BRAM36_PER_URAM)
        res["uram"] = need
    return res


def accel_resources(cfg: Config) -> dict[str, float]:
    """DSP, LUT, FF and BRAM36 of the configuration's accelerator: the published figures where the
    accelerator file has them and its hardware is unchanged (``uses_published``; block RAM beyond the
    device's share moved to UltraRAM where the device has it, then with a ``uram`` count), else this
    project's PE-array core estimate + activation buffers."""
    if uses_published(cfg):
        return _published(cfg)
    from rtl.synth import estimate
    res = dict(estimate(cfg.pe))
    res["bram36"] += activation_buffer_bram36(cfg.accel)
    n = accel_cores(cfg.accel)
    return {k: v * n for k, v in res.items()} if n > 1 else res


def fitting_dsp_usage(cfg: Config) -> tuple[str, dict[str, float]] | None:
    """Another published DSP usage setting under which the accelerator fits the board, with its
    resources (``None`` if there is none, or the resources are not the published ones)."""
    if not uses_published(cfg):
        return None
    from rtl.synth import fit
    for usage in (u for u in dsp_usages(cfg.published) if u != dsp_usage(cfg)):
        res = _published(cfg, usage)
        if fit(res, fit_board(cfg))["fits"]:
            return usage, res
    return None


# A published build (PG338's utilisation of a DPU that Xilinx placed, routed and ships, e.g. DPU-PYNQ's
# B1600 on the Ultra96 at 312 of 360 DSPs, 87%: measured.md) is not an estimate: its figures are
# what the implemented design uses, so it fits when they fit the device itself.  board.max_util
# (85%) is this project's margin for its own arrays, whose resources are an estimate held to Yosys
# without place and route; it stays their rule.
PUBLISHED_BUILD_LIMIT = 1.0


def fit_limit(cfg: Config) -> float:
    """The largest fraction of each device resource the configuration's accelerator may use: the
    whole device for a published build (``uses_published``), else ``board.max_util``."""
    return PUBLISHED_BUILD_LIMIT if uses_published(cfg) else _max_util(cfg)


def _max_util(cfg: Config) -> float:
    """``board.max_util``, the whole device if the board file does not say."""
    return cfg.board.max_util if cfg.board.max_util is not None else 1.0


DEVICE_FIELDS = ("dsp", "lut", "ff", "bram36", "uram")


def device_table(board: Board, max_util: float | None = None) -> dict[str, Any]:
    """The board's device resources as the table ``rtl.synth.fit`` judges by (``rtl`` does not
    import ``hwsim``): its counts (``uram`` where it has UltraRAM) and ``max_util`` (the board's, or
    the one given)."""
    out: dict[str, Any] = {k: getattr(board, k) for k in DEVICE_FIELDS if getattr(board, k) is not None}
    util = board.max_util if max_util is None else max_util
    if util is not None:
        out["max_util"] = util
    return out


def fit_board(cfg: Config) -> dict[str, Any]:
    """The device table with ``max_util`` set to ``fit_limit(cfg)`` (what ``rtl.synth.fit`` judges by)."""
    return device_table(cfg.board, fit_limit(cfg))


def device_fit(cfg: Config, res: dict[str, float] | None = None) -> dict[str, Any]:
    """``{"util": {resource: fraction}, "fits": bool, "over": [resources above fit_limit(cfg)]}``."""
    from rtl.synth import fit
    return fit(accel_resources(cfg) if res is None else res, fit_board(cfg))


def cfg_misfit(cfg: Config, res: dict[str, float] | None = None) -> str:
    """``misfit`` under the configuration's own rule (``fit_limit``): ``""`` if it fits."""
    return _misfit(fit_board(cfg), accel_resources(cfg) if res is None else res)


def fit_verdict(cfg: Config, res: dict[str, float] | None = None) -> str:
    """One phrase: ``fits: published build, 312 DSP = 87%`` (its most used resource), ``fits the
    ZU3EG (at most 85% of each)``, or ``does NOT fit ...`` with the same rule."""
    res = accel_resources(cfg) if res is None else res
    ok = not cfg_misfit(cfg, res)
    if uses_published(cfg):
        util = device_fit(cfg, res)["util"]
        top = max(util, key=util.get)
        names = {"dsp": "DSP", "lut": "LUT", "ff": "FF", "bram36": "BRAM36", "uram": "URAM"}
        used = f"{fmt_count(res[top])} {names.get(top, top)} = {util[top]:.0%}"
        return (f"fits: published build, {used}" if ok else
                f"does NOT fit the {cfg.board.device}: published build, {used}")
    return (f"{'fits' if ok else 'does NOT fit'} the {cfg.board.device} "
            f"(at most {fit_limit(cfg):.0%} of each)")


def fmt_count(x: float) -> str:
    """A resource count as people write it: 2,084,600 LUTs, 183.6 BRAM36."""
    x = float(x)
    return f"{x:,.0f}" if x.is_integer() else f"{x:,.1f}"


def misfit(board: Board, res: dict[str, float]) -> str:
    """Why ``res`` does not fit the board (``""`` if it does): ``rtl.synth.fit``'s verdict (each
    resource at most the board's ``max_util`` of the device's) as one line."""
    return _misfit(device_table(board), res)


def _misfit(board: dict[str, Any], res: dict[str, float]) -> str:
    from rtl.synth import fit
    util = float(board.get("max_util", 1.0))
    return "; ".join(f"{r} {fmt_count(res[r])} > {fmt_count(board[r] * util)} ({util:.0%} of {fmt_count(board[r])})"
                     for r in fit(res, board)["over"])


def device_peak_macs_per_cycle(board: Board) -> int:
    """The PL's peak INT8 MAC rate per PL clock cycle, what an op count assumes before anyone sizes an
    array: every DSP slice busy, packing ``INT8_MACS_PER_DSP`` products, clocked at
    ``DSP_CLOCK_MULTIPLE`` times the PL clock.  That is how Xilinx's own DPU reaches its peak on these
    parts.  Our RTL does not double-pump: at most half of it packed (``macs_per_dsp = 2``), a quarter
    unpacked."""
    return board.dsp * int8_macs_per_dsp(board) * DSP_CLOCK_MULTIPLE


def int8_macs_per_dsp(board: Board) -> int:
    """INT8 MACs one of the board's DSP slices packs per DSP clock (``INT8_MACS_PER_DSP``)."""
    return INT8_MACS_PER_DSP.get(board.family or "", 1)
