"""The grid: axes parsed like ``--set`` values, the points (models x policies x axes), the sweep."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, ConfigError, apply_override, check_field, load, parse_value
from ..errors import HwsimError
from ..resources import RESOURCES
from .worker import BREAKDOWN, METRICS, Evaluator, encode

POLICIES = ("naive", "optimized")


def split_values(text: str) -> list[str]:
    """Split a value list on the commas outside ``[...]``, ``{...}`` and quotes."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if quote or depth != 0:
        raise ConfigError(f"unbalanced quotes or brackets in {text!r}")
    parts.append("".join(cur).strip())
    return parts


@dataclass(frozen=True)
class Axis:
    key: str                      # "section.field"
    values: tuple[Any, ...]


def parse_axis(spec: str, data: dict[str, dict[str, Any]], published: dict[str, Any] | None = None) -> Axis:
    """One ``--grid section.key=v1,v2,...``, checked against a loaded configuration's fields: each
    value is parsed like ``--set`` (``apply_override``) and checked alone against the field's type
    and range (``hwsim.config.check_field``, the rules ``load`` applies); what depends on the other
    axes (a PE array that cannot be built) is judged per point, a failed row."""
    key, eq, text = spec.partition("=")
    key = key.strip()
    if "runtime" in data:
        from ..config import MOVED
        key = MOVED.get(key, key)          # ps.pipeline_frames -> runtime.frames_in_flight, as --set does
    if not eq or "." not in key:
        raise ConfigError(f"malformed --grid {spec!r}: expected section.key=v1,v2,...")
    section, _, name = key.partition(".")
    if section not in data:
        raise ConfigError(f"--grid {key}: no section {section!r} (sections: {', '.join(sorted(data))})")
    if name not in data[section]:
        raise ConfigError(f"--grid {key}: section {section!r} has no field {name!r} "
                          f"(fields: {', '.join(sorted(data[section]))})")
    if not text.strip():
        raise ConfigError(f"--grid {key}: empty value list")
    try:
        texts = split_values(text)
    except ConfigError as e:
        raise ConfigError(f"--grid {key}: {e}") from None
    old = data[section][name]
    values: list[Any] = []
    for t in texts:
        if not t:
            raise ConfigError(f"--grid {key}: empty value in {text!r}")
        if isinstance(old, list) and t.startswith("[") and not isinstance(parse_value(t), list):
            raise ConfigError(f"--grid {key}: {t} is not a TOML list (quote strings: [\"conv\",\"dwconv\"])")
        probe = {section: dict(data[section])}
        one = f"{key}={t}"
        try:
            apply_override(probe, one)
        except ConfigError as e:
            raise ConfigError(f"--grid {key}: {str(e).removeprefix(f'--set {one!r}: ')}") from None
        v = probe[section][name]
        if isinstance(old, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        try:
            check_field(section, name, v, published)
        except ConfigError as e:
            raise ConfigError(f"--grid {key}: {e}") from None
        if any(encode(v) == encode(u) for u in values):
            raise ConfigError(f"--grid {key}: value {t} given twice")
        values.append(v)
    return Axis(key, tuple(values))


@dataclass(frozen=True)
class Point:
    model: str
    policy: str
    values: tuple[Any, ...]       # one per axis, in axis order

    def key(self) -> tuple[str, ...]:
        return (self.model, self.policy, *map(encode, self.values))


@dataclass(frozen=True)
class Target:
    """What every point of a sweep shares (sent once per chunk to the workers)."""

    board: str
    accel: str
    overrides: tuple[str, ...]
    input_size: int | None
    sources: tuple[tuple[str, str], ...]     # model label -> what the evaluator loads (abs path or name)


@dataclass
class Sweep:
    """A validated sweep: built by ``Sweep.create`` before any cluster starts."""

    models: tuple[str, ...]
    policies: tuple[str, ...]
    axes: tuple[Axis, ...]
    target: Target
    config: Config

    @classmethod
    def create(cls, models: Sequence[str], policies: Sequence[str], grid: Sequence[str], evaluator: Evaluator, *,
               board: str | None = None, accel: str | None = None, overrides: Sequence[str] = (),
               input_size: int | None = None) -> "Sweep":
        if not models:
            raise HwsimError("no model to sweep")
        if len(set(models)) != len(models):
            raise HwsimError(f"a model is named twice in {list(models)}")
        if not policies or any(p not in POLICIES for p in policies) or len(set(policies)) != len(policies):
            raise HwsimError(f"--policy must be a comma-separated list of distinct {'/'.join(POLICIES)}, "
                             f"not {','.join(policies)!r}")
        if not grid:
            raise HwsimError("empty grid: give at least one --grid section.key=v1,v2,...")
        if input_size is not None and input_size <= 0:
            raise HwsimError(f"--input-size must be a positive integer, not {input_size}")
        cfg = load(board, accel, list(overrides))
        axes = tuple(parse_axis(g, cfg.data, cfg.published) for g in grid)
        keys = [a.key for a in axes]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise HwsimError(f"--grid {dup[0]} given twice")
        fixed = {o.partition("=")[0].strip() for o in overrides} & set(keys)
        if fixed:
            raise HwsimError(f"{sorted(fixed)[0]} is both a --set override and a --grid axis")
        evaluator.check(models, input_size)
        sources = tuple((m, str(Path(m).resolve()) if Path(m).is_file() else m) for m in models)
        target = Target(cfg.board_name, cfg.accel_name, tuple(overrides), input_size, sources)
        return cls(tuple(models), tuple(policies), axes, target, cfg)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.axes)

    def points(self) -> list[Point]:
        return [Point(m, p, vals) for m in self.models for p in self.policies
                for vals in itertools.product(*(a.values for a in self.axes))]

    def columns(self) -> list[str]:
        return ["model", "policy", *self.keys, *METRICS, *RESOURCES, "feasible",
                *(f"{b}_ms" for b in BREAKDOWN), "error"]

    def manifest(self) -> dict[str, Any]:
        return {"board": self.target.board, "accel": self.target.accel, "input_size": self.target.input_size,
                "overrides": sorted(self.target.overrides), "grid_keys": list(self.keys)}
