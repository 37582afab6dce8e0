"""Every field of a board and accelerator description: its type and its physical range.

``hwsim.config.load`` validates the whole configuration once, after the ``--set`` overrides and
before any model reads it (``validate``); the models then read plain, checked numbers.  A value
out of its type or range is one ``ConfigError`` line naming the field and the value.

A section is one table of ``Field`` s, registered with ``register``; a new section (e.g. a
``runtime`` section of the board files) is one call::

    register("runtime", {
        "buffer_mode": Field(str, choices=("copy", "zero_copy")),
        "threads": Field(int, 1, 64),
        "overhead_us": Field(float, 0, 1e6, unit="us"),
    }, required=False)

Relations between fields (``ps.threads`` at most ``ps.cores``, ...) are ``check`` functions.

The ranges are physical limits, far outside any real board, not design rules: they exist so a
typo (``1e308``, ``1e-129``) is refused instead of overflowing into ``inf`` or ``NaN`` or into
cycle counts beyond 64 bits.  Lower limits of rates: 1 MHz clocks, 10 MB/s of memory bandwidth, 1%
DDR efficiency, one MAC per thousand cycles; buffers of at least 1 KiB.  The largest AMD parts
have about 12,300 DSP slices (Virtex UltraScale+ VU13P), 9 million LUTs (VU19P) and 4,300 36 Kb
block RAMs; FPGA fabric closes timing below 1 GHz; an A53/A72 class core runs below 5 GHz.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import HwsimError
from .timeline import MAX_FRAMES_IN_FLIGHT


class ConfigError(HwsimError, ValueError):
    """Unknown board/accelerator, malformed file or override, a field of the wrong type or outside
    its range (re-exported as ``hwsim.config.ConfigError``)."""


@dataclass(frozen=True)
class Field:
    """One field: ``kind`` is ``int``, ``float`` (an int is accepted), ``str``, ``bool`` or
    ``list`` (of ``item``); numbers lie in [``lo``, ``hi``] (``lo`` excluded when ``lo_open``)."""

    kind: type
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    required: bool = True
    choices: tuple[Any, ...] | None = None
    item: type | None = None
    unit: str = ""
    meaning: str = ""            # says what the range means: "NAME is MEANING, not VALUE"
    plan: bool = True            # accel: a placement or tiling decision may read it (the sweep's plan cache key)

    def check(self, name: str, v: Any) -> None:
        if self.kind is bool:
            if not isinstance(v, bool):
                raise ConfigError(f"{name} must be true or false, not {v!r}")
            return
        if self.kind in (int, float):
            self._number(name, v)
        elif self.kind is str:
            if not isinstance(v, str):
                raise ConfigError(f"{name} must be a string, not {_show(v)}")
        elif self.kind is list:
            if not isinstance(v, list):
                raise ConfigError(f"{name} must be a list, not {_show(v)}")
            item = Field(self.item or str, self.lo, self.hi, self.lo_open, unit=self.unit)
            for i, x in enumerate(v):
                item.check(f"{name}[{i}]", x)
            return
        if self.choices is not None and v not in self.choices:
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, self.choices))}, not {_show(v)}")

    def _number(self, name: str, v: Any) -> None:
        integer = self.kind is int
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
            what = "an integer" if integer else "a number"
            raise ConfigError(f"{name} must be {what}, not {_show(v)}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{name} must be a finite number, not {_show(v)}")
        lo, hi, unit = self.lo, self.hi, f" {self.unit}" if self.unit else ""
        what = "integer" if integer else "number"
        low = lo is not None and (v <= lo if self.lo_open else v < lo)
        if self.meaning and (low or (hi is not None and v > hi)):
            raise ConfigError(f"{name} is {self.meaning}, not {_show(v)}")
        if low:
            if lo == 0:
                sign = "positive" if self.lo_open else "non-negative"
                raise ConfigError(f"{name} must be a {sign} {what}, not {_show(v)}")
            if integer and lo == 1:
                raise ConfigError(f"{name} must be a positive integer, not {_show(v)}")
            if not integer and lo > 0 >= v:
                raise ConfigError(f"{name} must be a positive number (at least {_show(lo)}{unit}), not {_show(v)}")
            raise ConfigError(f"{name} must be {'above' if self.lo_open else 'at least'} {_show(lo)}{unit}, "
                              f"not {_show(v)}")
        if hi is not None and v > hi:
            raise ConfigError(f"{name} must be at most {_show(hi)}{unit}, not {_show(v)}")


def _show(v: Any) -> str:
    """A value in a message: huge integers (1e308 through --set) shortened."""
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**15:
        return f"{float(v):.3g}"
    if isinstance(v, float) and v.is_integer() and abs(v) < 10**15:
        return repr(v).removesuffix(".0") if abs(v) >= 1 else repr(v)
    return repr(v)


@dataclass(frozen=True)
class Section:
    fields: dict[str, Field]
    required: bool = True
    extra: bool = False          # unknown fields allowed (free-form sections)


SECTIONS: dict[str, Section] = {}
CHECKS: list[Callable[[dict[str, dict[str, Any]]], None]] = []


def register(name: str, fields: dict[str, Field], *, required: bool = True, extra: bool = False) -> None:
    """Declare section ``name`` (its fields, whether a description must have it)."""
    SECTIONS[name] = Section(dict(fields), required, extra)


def check(fn: Callable[[dict[str, dict[str, Any]]], None]) -> Callable[[dict[str, dict[str, Any]]], None]:
    """Register a relation between fields (called with the validated data, raises ConfigError)."""
    CHECKS.append(fn)
    return fn


def validate(data: dict[str, dict[str, Any]], where: Callable[[str], str] = lambda s: "") -> None:
    """Check every registered section of ``data`` field by field, then the relations.
    ``where(section)`` names the file a section came from, for the missing-field message."""
    for name, sec in SECTIONS.items():
        table = data.get(name)
        if table is None:
            if sec.required:
                raise ConfigError(f"{where(name)}has no [{name}] section")
            continue
        if not isinstance(table, dict):
            raise ConfigError(f"{where(name)}[{name}] must be a table, not {_show(table)}")
        for key, f in sec.fields.items():
            if key not in table:
                if f.required:
                    raise ConfigError(f"{where(name)}[{name}] has no field {key!r}")
                continue
            f.check(f"{name}.{key}", table[key])
        if not sec.extra:
            unknown = sorted(set(table) - set(sec.fields))
            if unknown:
                raise ConfigError(f"{where(name)}[{name}] has unknown field {unknown[0]!r} "
                                  f"(fields: {', '.join(sorted(sec.fields))})")
    for fn in CHECKS:
        fn(data)


def assert_finite_json(obj: Any, path: str = "$") -> None:
    """The JSON boundary: no NaN or Infinity anywhere in ``obj`` (a model bug if there is)."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise AssertionError(f"non-finite number {obj!r} at {path} in JSON output")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert_finite_json(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            assert_finite_json(v, f"{path}[{i}]")


# ------------------------------------------------------------------------------- the sections

register("board", {
    "name": Field(str, required=False), "part": Field(str, required=False), "device": Field(str),
    "family": Field(str, required=False),              # Yosys synth_xilinx -family; default zynquplus
    "dsp": Field(int, 1, 20_000), "lut": Field(int, 1, 20_000_000), "ff": Field(int, 1, 40_000_000),
    "bram36": Field(int, 1, 20_000), "uram": Field(int, 0, 10_000, required=False),
    "max_util": Field(float, 0, 1, lo_open=True, required=False,
                      meaning="the largest fraction of each device resource an accelerator may use, in (0, 1]"),
    "default_accel": Field(str, required=False), "default_runtime": Field(str, required=False),
})
register("ddr", {
    "type": Field(str, required=False), "bus_bits": Field(int, 8, 1024), "mt_s": Field(int, 1, 20_000, unit="MT/s"),
    "peak_gbps": Field(float, 0.01, 2_000, unit="GB/s"),
    "capacity_gib": Field(float, 2**-10, 4096, unit="GiB"),
    "efficiency": Field(float, 0.01, 1),
})
register("axi", {
    "hp_ports": Field(int, 1, 64), "port_bits": Field(int, 8, 1024),
    "burst_latency_ns": Field(float, 0, 1e6, unit="ns"),
})
register("ps", {
    "cpu": Field(str, required=False), "cores": Field(int, 1, 256), "freq_mhz": Field(float, 1, 5_000, unit="MHz"),
    "threads": Field(int),                             # 1 to ps.cores: _threads_within_cores
    "macs_per_cycle": Field(float, 1e-3, 1e4), "elem_ops_per_cycle": Field(float, 1e-3, 1e4),
    "transcendental_cycles": Field(float, 0, 1e6), "mem_gbps": Field(float, 0.01, 2_000, unit="GB/s"),
    "call_overhead_us": Field(float, 0, 1e6, unit="us"),
})
register("transfer", {
    "cache_line_bytes": Field(int, 1, 4096), "flush_ns_per_line": Field(float, 0, 1e6, unit="ns"),
    "invalidate_ns_per_line": Field(float, 0, 1e6, unit="ns"),
})
register("accel", {
    # plan=False: fields no placement or tiling decision reads (the clock, the memory ports, the
    # published resource table chosen, the name): a sweep over them reuses one plan per model and policy
    "name": Field(str, required=False, plan=False),
    "clock_mhz": Field(float, 1, 1_000, unit="MHz", plan=False),
    "pp": Field(int, 1, 1024), "icp": Field(int, 1, 1024), "ocp": Field(int, 1, 1024),
    "macs_per_dsp": Field(int, 1, 2, required=False), "dw_channels": Field(int, 1, 4096),
    "dw_kernels": Field(list, 1, 15, item=int), "max_width": Field(int, 1, 65_536),
    "wbuf_depth": Field(int, 1, 1 << 24), "max_channels": Field(int, 1, 1 << 20),
    "data_width": Field(int, 1, 64, required=False), "acc_width": Field(int, 1, 128, required=False),
    "ibuf_kib": Field(float, 1, 1 << 20, unit="KiB"),
    "obuf_kib": Field(float, 1, 1 << 20, unit="KiB"),
    "hp_ports_used": Field(int, 1, 64, plan=False), "pl_ops": Field(list, item=str),
    "pl_fused": Field(list, item=str, required=False), "max_kernel": Field(int, 1, 255),
    "dsp_usage": Field(str, required=False, plan=False),
    # the Xilinx DPU's descriptions (hwsim/data/accels/dpu_*.toml; hwsim.pl, mapper.partition)
    "conv_cycles": Field(str, required=False, choices=("rtl", "dpu")),
    "dw_macs_per_cycle": Field(int, 1, 1 << 20, required=False),
    "replace_sigmoid": Field(str, required=False, choices=("none", "all", "except_se")),
    "placement": Field(str, required=False, choices=("policy", "compiler")),
    # the data mover's parameters (rtl.params.PEArrayParams, rtl.axi), read by the memory model too
    "axi_data_bits": Field(int, 32, 1024, required=False),
    "burst_beats": Field(int, 1, 256, required=False),  # AXI4 INCR bursts: at most 256 beats
    "outstanding": Field(int, 1, 1024, required=False),
    "cores": Field(int, 1, 64, required=False),        # instances of the accelerator (the DPU's multi-core builds)
    "max_cores": Field(int, 1, 64, required=False),    # the most its IP allows (PG338: four DPU cores)
})


@check
def _threads_within_cores(data: dict[str, dict[str, Any]]) -> None:
    ps = data["ps"]
    if not 1 <= ps["threads"] <= ps["cores"]:
        raise ConfigError(f"ps.threads must be an integer from 1 to the board's {ps['cores']} cores, "
                          f"not {ps['threads']!r}")


@check
def _ports_within_board(data: dict[str, dict[str, Any]]) -> None:
    used, have = data["accel"]["hp_ports_used"], data["axi"]["hp_ports"]
    if used > have:
        raise ConfigError(f"accel.hp_ports_used={used} exceeds the board's {have} HP ports")


@check
def _cores_within_ip(data: dict[str, dict[str, Any]]) -> None:
    a = data["accel"]
    c, top = a.get("cores", 1), a.get("max_cores")
    if top is not None and c > top:
        raise ConfigError(f"accel.cores = {c}: this accelerator has at most {top} cores per design (accel.max_cores)")


@check
def _op_kinds(data: dict[str, dict[str, Any]]) -> None:
    from mapper.ir import IRError
    from mapper.passes import op_kinds
    for key in ("pl_ops", "pl_fused"):
        try:
            op_kinds(data["accel"].get(key, []))
        except IRError as e:
            raise ConfigError(f"accel.{key}: {e}") from None


# The software that drives the PL (hwsim/data/runtimes/*.toml, hwsim.runtime): every field required,
# since a profile fixes all of them; the section itself is absent only in a configuration built by hand.
BUFFER_MODES = ("cacheable", "uncached", "coherent")
INVOCATIONS = ("auto", "segment", "layer", "tile")
COMPLETIONS = ("interrupt", "poll")
register("runtime", {
    "name": Field(str, required=False), "description": Field(str, required=False),
    "buffer_mode": Field(str, choices=BUFFER_MODES), "invocation": Field(str, choices=INVOCATIONS),
    "invoke_us": Field(float, 0, 1e6, unit="us"), "completion": Field(str, choices=COMPLETIONS),
    "completion_us": Field(float, 0, 1e6, unit="us"),
    "frames_in_flight": Field(int, 1, MAX_FRAMES_IN_FLIGHT),   # the simulation's stated range (hwsim.timeline)
    "fallback": Field(str, required=False),
    "fallback_mac_rate": Field(float, 1e-3, 1e3), "fallback_elem_rate": Field(float, 1e-3, 1e3),
    "op_dispatch_us": Field(float, 0, 1e6, unit="us"),
    "pre_ops_per_input_elem": Field(float, 0, 1e6), "post_ops_per_output_elem": Field(float, 0, 1e6),
    "uncached_read_gbps": Field(float, 0.001, 2_000, unit="GB/s"),
    "uncached_write_gbps": Field(float, 0.001, 2_000, unit="GB/s"),
    "coherent_ports": Field(int, 1, 64),
    "coherent_port_efficiency": Field(float, 0, 1, lo_open=True,
                                      meaning="the fraction of a plain HP port's bytes a coherent port moves, in (0, 1]"),
    "coherent_ps_ratio": Field(float, 0, 1, lo_open=True,
                               meaning="the fraction of the cached rate the PS reaches on a coherent buffer, in (0, 1]"),
}, required=False)
