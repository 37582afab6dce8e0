"""The typed, frozen view of a validated configuration: one dataclass per section.

``hwsim.config.build`` validates the raw tables (``hwsim.schema``) and then builds these: ``Board``,
``DDR``, ``AXI``, ``PS``, ``Transfer``, ``Accel`` (with the ``PEArrayParams`` it describes embedded,
``accel.pe``) and ``Runtime``.  Each declares the fields of its schema section, in the schema's
order, typed as the schema says: ``int`` fields are ints, ``float`` fields floats (a TOML ``100``
for ``clock_mhz`` is ``100.0``), lists tuples, and an optional field a description leaves out is
``None``.  The models read ``cfg.ps.threads``.  The schema holds the ranges and the checks; these
classes hold the types, and ``tests/hwsim/test_config.py`` holds the two to each other (every
schema field is declared here with its type and optionality, and nothing else is), so they cannot
drift apart.

``raw()`` is the section's table exactly as loaded, for the few places that print a value the way
the file spells it (``1200`` MHz, not ``1200.0``) or write the configuration to JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from dataclasses import dataclass, field, fields
from typing import Any

from rtl.params import PEArrayParams

from . import schema


@dataclass(frozen=True, kw_only=True)
class Section:
    """One validated section: its typed fields (the subclasses) and the table as loaded (``raw``)."""

    _raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def raw(self) -> dict[str, Any]:
        """A copy of the section's table as loaded (lists as lists, numbers as the file spells them)."""
        return copy.deepcopy(self._raw)


@dataclass(frozen=True, kw_only=True)
class Board(Section):
    """``[board]``: the device and its resources (board files, ``hwsim/data/boards``)."""

    name: str | None = None
    part: str | None = None               # the AMD part number
    device: str                           # the device name in messages (ZU3EG)
    family: str | None = None             # Yosys synth_xilinx -family; default zynquplus
    dsp: int                              # DSP slices
    lut: int
    ff: int
    bram36: int                           # 36 Kb block RAMs
    uram: int | None = None               # UltraRAM blocks (None: the device has none)
    max_util: float | None = None         # the largest fraction of each resource an accelerator may use
    default_accel: str | None = None
    default_runtime: str | None = None


@dataclass(frozen=True, kw_only=True)
class DDR(Section):
    """``[ddr]``: the PS DDR controller and its memory."""

    type: str | None = None               # LPDDR4, DDR4, ...
    bus_bits: int
    mt_s: int                             # MT/s
    peak_gbps: float                      # GB/s
    capacity_gib: float                   # GiB
    efficiency: float                     # sustained / peak


@dataclass(frozen=True, kw_only=True)
class AXI(Section):
    """``[axi]``: the PS-PL high-performance ports."""

    hp_ports: int
    port_bits: int
    burst_latency_ns: float               # ns from address to first beat


@dataclass(frozen=True, kw_only=True)
class PS(Section):
    """``[ps]``: the ARM cores that run the fallback ops."""

    cpu: str | None = None
    cores: int
    freq_mhz: float                       # MHz
    threads: int                          # threads for fallback ops, 1 to cores
    macs_per_cycle: float                 # per core
    elem_ops_per_cycle: float             # per core
    transcendental_cycles: float          # per exp / sigmoid
    mem_gbps: float                       # GB/s a core streams from DDR
    call_overhead_us: float               # us per op call


@dataclass(frozen=True, kw_only=True)
class Transfer(Section):
    """``[transfer]``: cache maintenance of a buffer the PS and PL share."""

    cache_line_bytes: int
    flush_ns_per_line: float              # ns
    invalidate_ns_per_line: float         # ns


@dataclass(frozen=True, kw_only=True)
class Accel(Section):
    """``[accel]``: the PL accelerator (accelerator files, ``hwsim/data/accels``): its PE array
    (``pe``, the ``rtl.params.PEArrayParams`` of these fields), clock, op kinds and buffers."""

    name: str | None = None
    clock_mhz: float                      # MHz
    pp: int                               # pixel parallelism of the pointwise array
    icp: int                              # input-channel parallelism
    ocp: int                              # output-channel parallelism
    macs_per_dsp: int | None = None       # INT8 MACs packed per DSP (WP486), 1 if absent
    dw_channels: int                      # depthwise engine channels per cycle
    dw_kernels: tuple[int, ...]           # depthwise kernel sizes the engine runs
    max_width: int                        # line-buffer width, pixels
    wbuf_depth: int                       # weight-buffer rows
    max_channels: int
    data_width: int | None = None         # bits
    acc_width: int | None = None          # bits
    ibuf_kib: float                       # input activation buffer, KiB
    obuf_kib: float                       # output activation buffer, KiB
    hp_ports_used: int
    pl_ops: tuple[str, ...]               # op kinds the PL runs (mapper.ir.Op values)
    pl_fused: tuple[str, ...] | None = None   # activations fused into the op before them
    max_kernel: int
    dsp_usage: str | None = None          # the [published_resources] table (PG338 "DSP Usage")
    conv_cycles: str | None = None        # "rtl" (absent) or "dpu" (hwsim.pl.dpu_conv_cycles)
    dw_macs_per_cycle: int | None = None  # the DPU's depthwise multipliers in all
    replace_sigmoid: str | None = None    # "none" (absent), "all" or "except_se" (mapper.partition)
    placement: str | None = None          # "policy" (absent) or "compiler"
    axi_data_bits: int | None = None      # the data mover's AXI data width
    burst_beats: int | None = None        # beats per AXI4 INCR burst
    outstanding: int | None = None        # bursts in flight
    cores: int | None = None              # accelerator instances, 1 if absent
    max_cores: int | None = None          # the most its IP allows
    pe: PEArrayParams = field(repr=False)  # the PE array these fields describe (not a schema field)

    def plan_key(self) -> tuple[tuple[str, Hashable], ...]:
        """Every field a placement or tiling decision may read (``hwsim.estimate.plan_model``): all
        but those the schema marks ``plan=False`` (timing and resource bookkeeping only).  The sweep
        caches one plan per model, policy and this key."""
        spec = schema.SECTIONS["accel"].fields
        return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self._raw.items()
                            if spec[k].plan))


@dataclass(frozen=True, kw_only=True)
class Runtime(Section):
    """``[runtime]``: the software that drives the PL (runtime profiles, ``hwsim/data/runtimes``;
    the model is ``hwsim.runtime``)."""

    name: str | None = None
    description: str | None = None
    buffer_mode: str                      # cacheable, uncached or coherent shared buffers
    invocation: str                       # auto, segment, layer or tile
    invoke_us: float                      # us per PL start
    completion: str                       # interrupt or poll
    completion_us: float                  # us per completion
    frames_in_flight: int
    fallback: str | None = None           # how the fallback ops are written
    fallback_mac_rate: float              # share of ps.macs_per_cycle they reach
    fallback_elem_rate: float             # share of ps.elem_ops_per_cycle
    op_dispatch_us: float                 # us per fallback op
    pre_ops_per_input_elem: float
    post_ops_per_output_elem: float
    uncached_read_gbps: float             # GB/s
    uncached_write_gbps: float            # GB/s
    coherent_ports: int
    coherent_port_efficiency: float
    coherent_ps_ratio: float


CLASSES: dict[str, type[Section]] = {"board": Board, "ddr": DDR, "axi": AXI, "ps": PS, "transfer": Transfer,
                                     "runtime": Runtime, "accel": Accel}


def schema_fields(cls: type[Section]) -> list[str]:
    """The schema fields ``cls`` declares, in order (``_raw`` and ``Accel.pe`` are not schema fields)."""
    return [f.name for f in fields(cls) if f.name not in ("_raw", "pe")]


def _typed(kind: type, v: Any) -> Any:
    if v is None:
        return None
    if kind is list:
        return tuple(v)
    if kind is float:
        return float(v)
    if kind is int:
        return int(v)
    return v


def view(section: str, table: dict[str, Any], **extra: Any) -> Section:
    """The typed view of one validated section's ``table``."""
    spec = schema.SECTIONS[section].fields
    kw = {k: _typed(spec[k].kind, table.get(k)) for k in spec}
    return CLASSES[section](**kw, **extra, _raw=copy.deepcopy(table))
