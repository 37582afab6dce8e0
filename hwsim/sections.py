"""The typed, frozen view of a validated configuration: one dataclass per section.

``hwsim.config.build`` validates the raw tables (``hwsim.schema``) and then builds these: ``Board``,
``DDR``, ``AXI``, ``PS``, ``Transfer``, ``Accel`` (with the ``PEArrayParams`` it describes embedded,
``accel.pe``) and ``Runtime``.  Their fields are the schema's (one declaration: a field added to
``hwsim.schema`` is a typed attribute here), typed as the schema says: ``int`` fields are ints,
``float`` fields floats (a TOML ``100`` for ``clock_mhz`` is ``100.0``), lists tuples, and an
optional field a description leaves out is ``None``.  The models read ``cfg.ps.threads``, not
``cfg["ps"]["threads"]``.

Each view is also a read-only ``Mapping`` over the section's raw table (``cfg.accel["pl_ops"]``,
``cfg.accel.get("cores", 1)``, ``dict(cfg.accel)``) with the values exactly as loaded, for the
callers that still take a table (``mapper.partition.partition``, ``hwsim.pl.Tiler``,
``hwsim.resources``' board functions: see the module list in ``MAPPING_CALLERS``).
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import field, make_dataclass
from typing import Any

from rtl.params import PEArrayParams

from . import schema

# Callers that still read a section as a table (the compatibility Mapping): to convert next.
MAPPING_CALLERS = ("mapper.partition (accel)", "hwsim.pl.Tiler (accel)", "hwsim.resources (board, accel)",
                   "hwsim.advise (board, accel)", "hwsim.study (board)", "hwsim.commands (board, accel)")


class SectionView(Mapping):
    """Read-only Mapping access to the section's raw table (``_raw``), beside the typed fields."""

    _raw: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self._raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SectionView):
            return type(self) is type(other) and self._raw == other._raw
        return self._raw == other if isinstance(other, dict) else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def raw(self) -> dict[str, Any]:
        """A copy of the section's table as loaded (lists as lists)."""
        return {k: list(v) if isinstance(v, list) else v for k, v in self._raw.items()}


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


class AccelView(SectionView):
    pe: PEArrayParams

    def plan_key(self) -> tuple[tuple[str, Hashable], ...]:
        """Every field a placement or tiling decision may read (``hwsim.estimate.plan_model``): all
        but those the schema marks ``plan=False`` (timing and resource bookkeeping only).  The sweep
        caches one plan per model, policy and this key."""
        spec = schema.SECTIONS["accel"].fields
        return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in self._raw.items()
                            if spec[k].plan))


def _section_class(section: str, cls_name: str, base: type, extra: list[tuple[str, type, Any]] = ()) -> type:
    spec = schema.SECTIONS[section].fields
    fs = [(name, Any, field(default=None)) for name in spec]
    fs += list(extra)
    fs.append(("_raw", dict, field(default_factory=dict, repr=False, compare=False)))
    cls = make_dataclass(cls_name, fs, bases=(base,), frozen=True, eq=False)
    cls.__module__ = __name__
    cls.__doc__ = f"The validated [{section}] section (hwsim.schema), typed and frozen."
    return cls


Board = _section_class("board", "Board", SectionView)
DDR = _section_class("ddr", "DDR", SectionView)
AXI = _section_class("axi", "AXI", SectionView)
PS = _section_class("ps", "PS", SectionView)
Transfer = _section_class("transfer", "Transfer", SectionView)
Runtime = _section_class("runtime", "Runtime", SectionView)
Accel = _section_class("accel", "Accel", AccelView, [("pe", Any, field(default=None, repr=False))])

CLASSES: dict[str, type] = {"board": Board, "ddr": DDR, "axi": AXI, "ps": PS, "transfer": Transfer,
                            "runtime": Runtime, "accel": Accel}


def view(section: str, table: dict[str, Any], **extra: Any) -> SectionView:
    """The typed view of one validated section's ``table``."""
    spec = schema.SECTIONS[section].fields
    cls = CLASSES[section]
    kw = {k: _typed(spec[k].kind, table.get(k)) for k in spec}
    return cls(**kw, **extra, _raw=copy.deepcopy(table))
