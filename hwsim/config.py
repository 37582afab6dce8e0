"""Board and accelerator descriptions: TOML data files shipped with the package.

A board file (``data/boards/NAME.toml``) has the sections ``board`` (device and resources),
``ddr``, ``axi``, ``ps`` (the ARM cores) and ``transfer`` (PS<->PL hand-over costs).  A runtime
profile (``data/runtimes/NAME.toml``, ``hwsim.runtime``) adds the section ``runtime``: the software
that drives the PL (``load(..., runtime=NAME)``, default the board's ``default_runtime``).  An
accelerator file (``data/accels/NAME.toml``) has one ``accel`` section: the PE-array parameters
(``rtl.params.PEArrayParams`` fields), ``clock_mhz``, the PL's op kinds ``pl_ops`` and their
limits, and on-chip buffer sizes.  Every number carries its source in a comment.

``load(board=..., accel=..., overrides=[...])`` returns a ``Config``; ``--set section.key=value``
edits the raw tables first and overrides any existing field (a new key is an error, so a typo
cannot silently do nothing).  The result is validated once, after the overrides, against
``hwsim.schema`` (every field's type and physical range) by ``build``, the one constructor that
the sweep's points go through too, which then gives each section its typed, frozen view
(``hwsim.sections``): ``cfg.board``, ``cfg.ddr``, ``cfg.axi``, ``cfg.ps``, ``cfg.transfer``,
``cfg.runtime`` and ``cfg.accel`` (with ``cfg.accel.pe``, the ``PEArrayParams`` it describes, and
``cfg.accel.plan_key()``, the fields a placement reads).  The models, the applications and the
CLI read those typed fields; ``cfg.data`` (and ``cfg["ps"]``) are the validated raw tables, what
``--set`` and the sweep's points edit before ``build`` and what results.json records.
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rtl.params import ParamError, PEArrayParams

from . import schema, sections
from .schema import ConfigError


DATA = resources.files("hwsim") / "data"
DEFAULT_BOARD = "ultra96v1"


def _names(kind: str) -> list[str]:
    return sorted(p.name[:-5] for p in (DATA / kind).iterdir() if p.name.endswith(".toml"))


def boards() -> list[str]:
    return _names("boards")


def accels() -> list[str]:
    return _names("accels")


def runtimes() -> list[str]:
    return _names("runtimes")


def _read(kind: str, name: str) -> dict[str, Any]:
    path = Path(name)
    if name.endswith(".toml") and path.exists():
        text = path.read_text()
    else:
        res = DATA / kind / f"{name}.toml"
        if not res.is_file():
            singular = kind[:-1]
            raise ConfigError(f"unknown {singular} {name!r}; known: {', '.join(_names(kind))}")
        text = res.read_text()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{kind[:-1]} description {name!r} is not valid TOML: {e}") from None


def parse_value(text: str) -> Any:
    """A --set value: TOML syntax if it parses (numbers, booleans, ["lists"]), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


@dataclass
class Config:
    board_name: str
    accel_name: str
    data: dict[str, dict[str, Any]]     # section -> table (board, ddr, axi, ps, transfer, accel)
    # The accelerator file's [published_resources] (vendor-published utilisation, for accelerators
    # that are not this project's RTL) and its [accel] table as shipped: the published figures
    # describe that hardware only (``hwsim.resources.accel_resources``).
    published: dict[str, Any] | None = None
    shipped_accel: dict[str, Any] | None = None
    runtime_name: str = ""              # the runtime profile (data/runtimes/NAME.toml), section "runtime"
    # the typed, frozen sections (hwsim.sections), built by ``build`` from the validated ``data``
    views: dict[str, sections.Section] = field(default_factory=dict, repr=False)

    def __getitem__(self, section: str) -> dict[str, Any]:
        """The raw table as validated (the models read the typed sections: ``cfg.ps.threads``)."""
        return self.data[section]

    def _view(self, section: str) -> Any:
        if section not in self.views:
            self.views[section] = sections.view(section, self.data[section])
        return self.views[section]

    @property
    def board(self) -> sections.Board:
        return self._view("board")

    @property
    def ddr(self) -> sections.DDR:
        return self._view("ddr")

    @property
    def axi(self) -> sections.AXI:
        return self._view("axi")

    @property
    def ps(self) -> sections.PS:
        return self._view("ps")

    @property
    def transfer(self) -> sections.Transfer:
        return self._view("transfer")

    @property
    def runtime(self) -> sections.Runtime:
        return self._view("runtime")

    @property
    def accel(self) -> sections.Accel:
        if "accel" not in self.views:
            self.views["accel"] = sections.view("accel", self.data["accel"], pe=self._pe())
        return self.views["accel"]

    def _pe(self) -> PEArrayParams:
        try:
            return PEArrayParams.from_dict(self.data["accel"])
        except (ParamError, TypeError) as e:
            raise ConfigError(f"accelerator {self.accel_name!r}: {e}") from None

    @property
    def pe(self) -> PEArrayParams:
        return self.accel.pe

    @property
    def clock_hz(self) -> float:
        return self.accel.clock_mhz * 1e6

    def to_json(self) -> dict[str, Any]:
        return {"board": self.board_name, "accel": self.accel_name, **copy.deepcopy(self.data)}


# Software-side fields that moved from the board to the runtime profile: the old names still work.
MOVED = {"ps.pipeline_frames": "runtime.frames_in_flight", "transfer.dma_setup_us": "runtime.invoke_us",
         "transfer.irq_latency_us": "runtime.completion_us"}


def apply_override(data: dict[str, dict[str, Any]], spec: str) -> None:
    if "=" not in spec:
        raise ConfigError(f"malformed --set {spec!r}: expected section.key=value")
    key, _, value = spec.partition("=")
    if "." not in key or not value.strip():
        raise ConfigError(f"malformed --set {spec!r}: expected section.key=value")
    if "runtime" in data:
        key = MOVED.get(key.strip(), key)
    section, _, field = key.strip().partition(".")
    if section not in data:
        raise ConfigError(f"--set {spec!r}: no section {section!r} (sections: {', '.join(sorted(data))})")
    if field not in data[section]:
        raise ConfigError(f"--set {spec!r}: section {section!r} has no field {field!r} "
                          f"(fields: {', '.join(sorted(data[section]))})")
    new = parse_value(value.strip())
    if isinstance(new, float) and not math.isfinite(new):
        raise ConfigError(f"--set {spec!r}: {section}.{field} must be a finite number, not {value.strip()}")
    old = data[section][field]
    if isinstance(old, bool) != isinstance(new, bool) or (
            isinstance(old, (int, float)) and not isinstance(old, bool) and not isinstance(new, (int, float))):
        raise ConfigError(f"--set {spec!r}: {section}.{field} must be {type(old).__name__}, not {new!r}")
    if isinstance(old, int) and not isinstance(old, bool) and isinstance(new, float):
        if not new.is_integer():
            raise ConfigError(f"--set {spec!r}: {section}.{field} must be an integer, not {new!r}")
        new = int(new)
    if isinstance(old, list) and not isinstance(new, list):
        new = [new]
    data[section][field] = new


PUBLISHED_FIELDS = ("dsp", "lut", "ff", "bram36")


def dsp_usages(pub: dict[str, Any]) -> list[str]:
    """The DSP usage settings an accelerator's [published_resources] has a table for."""
    return sorted(k for k in pub if k != "source")


def _check_published(accel: str, pub: Any) -> None:
    """[published_resources]: a ``source`` and one table of counts per DSP usage setting
    ([published_resources.high], [published_resources.low]), chosen by ``accel.dsp_usage``."""
    if not isinstance(pub, dict):
        raise ConfigError(f"accelerator description {accel!r}: [published_resources] must be a table")
    if not isinstance(pub.get("source"), str) or not pub["source"].strip():
        raise ConfigError(f"accelerator description {accel!r}: published_resources.source must cite "
                          f"where the figures were read")
    variants = {k: pub[k] for k in dsp_usages(pub)}
    if not variants or not all(isinstance(v, dict) for v in variants.values()):
        raise ConfigError(f"accelerator description {accel!r}: [published_resources] must hold one table per "
                          f"DSP usage setting, e.g. [published_resources.high]")
    for usage, counts in variants.items():
        for k in PUBLISHED_FIELDS:
            v = counts.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ConfigError(f"accelerator description {accel!r}: published_resources.{usage}.{k} must be a "
                                  f"non-negative number, not {v!r}")


def _check_dsp_usage(accel: str, a: dict[str, Any], pub: dict[str, Any] | None) -> None:
    """``accel.dsp_usage`` names one of the published tables (and only accelerators that publish
    their resources have one: this project's RTL always multiplies and accumulates in DSPs)."""
    if pub is None:
        if "dsp_usage" in a:
            raise ConfigError(f"accelerator {accel!r}: dsp_usage needs [published_resources] tables to choose from")
        return
    usages = dsp_usages(pub)
    usage = a.get("dsp_usage")
    if usage is None and len(usages) == 1:
        return
    if usage not in usages:
        raise ConfigError(f"accelerator {accel!r}: dsp_usage must be one of {', '.join(map(repr, usages))}, "
                          f"not {usage!r}")


def load(board: str | None = None, accel: str | None = None, overrides: list[str] | tuple[str, ...] = (),
         runtime: str | None = None) -> Config:
    board = board or DEFAULT_BOARD
    b = _read("boards", board)
    runtime = runtime or b.get("board", {}).get("default_runtime")
    if not runtime:
        raise ConfigError(f"board {board!r} names no default_runtime; pass --runtime")
    r = _read("runtimes", runtime)
    if not isinstance(r.get("runtime"), dict):
        raise ConfigError(f"runtime description {runtime!r} has no [runtime] section")
    accel = accel or b.get("board", {}).get("default_accel")
    if not accel:
        raise ConfigError(f"board {board!r} names no default_accel; pass --accel")
    if not isinstance(accel, str):
        raise ConfigError(f"board description {board!r}: board.default_accel must be a string, not {accel!r}")
    a = _read("accels", accel)
    if not isinstance(a.get("accel"), dict):
        raise ConfigError(f"accelerator description {accel!r} has no [accel] section")
    for need in ("board", "ddr", "axi", "ps", "transfer"):
        if not isinstance(b.get(need), dict):
            raise ConfigError(f"board description {board!r} has no [{need}] section")
    data = {k: dict(v) for k, v in b.items() if isinstance(v, dict)}
    data["accel"] = dict(a["accel"])
    data["runtime"] = dict(r["runtime"])
    published = a.get("published_resources")
    if published is not None:
        _check_published(accel, published)
    for spec in overrides:
        apply_override(data, spec)
    return build(board, accel, data, published, a["accel"], runtime)


def build(board: str, accel: str, data: dict[str, dict[str, Any]], published: dict[str, Any] | None = None,
          shipped_accel: dict[str, Any] | None = None, runtime: str | None = None) -> Config:
    """The one constructor of a validated ``Config`` (``load`` after its overrides, and every sweep
    point): every field against ``hwsim.schema``, the DSP usage table, the PE-array parameters."""
    def where(section: str) -> str:
        if section == "accel":
            return f"accelerator description {accel!r}: "
        if section == "runtime":
            return f"runtime description {runtime or data['runtime'].get('name', '')!r}: "
        return f"board description {board!r}: "
    schema.validate(data, where)
    _check_dsp_usage(accel, data["accel"], published)
    cfg = Config(board, accel, data, published=published,
                 shipped_accel=copy.deepcopy(shipped_accel if shipped_accel is not None else data["accel"]),
                 runtime_name=runtime or str(data.get("runtime", {}).get("name", "")))
    for name in sections.CLASSES:       # the typed, frozen sections (the PE array's parameters checked here)
        if name in data:
            getattr(cfg, name)
    from .runtime import Runtime
    Runtime.from_config(cfg)            # and the runtime profile's fields
    return cfg


def check_field(section: str, name: str, value: Any, published: dict[str, Any] | None = None) -> None:
    """One field's value alone against the rules ``build`` applies to it (its type and range, and
    for ``accel.dsp_usage`` the published tables): a ``--grid`` value is checked before the sweep."""
    sec = schema.SECTIONS.get(section)
    if sec is not None and name in sec.fields:
        sec.fields[name].check(f"{section}.{name}", value)
    if (section, name) == ("accel", "dsp_usage"):
        usages = dsp_usages(published) if published else []
        if value not in usages:
            raise ConfigError(f"accel.dsp_usage must be one of {', '.join(map(repr, usages)) or 'nothing'} "
                              f"(the accelerator's [published_resources] tables), not {value!r}")
