"""Worker-side evaluation: what a Dask worker (or the serial executor) runs for each point.

Imports neither the CLI nor the other sweep modules' heavy parts: it travels to the workers.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

from ..config import Config, build, load
from ..errors import HwsimError, user_errors
from ..resources import RESOURCES, misfit

METRICS = ("fps", "latency_ms", "op_count_fps", "array_op_count_fps")
from ..estimate import BREAKDOWN  # noqa: E402  (the estimate's terms, so the columns add up to latency_ms)


def encode(v: Any) -> str:
    """A grid value as written in results.csv (and compared on --resume)."""
    import json
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return repr(v) if isinstance(v, float) else str(v)


class Evaluator(Protocol):
    """What the engine needs to evaluate one point; must pickle (it travels to Dask workers)."""

    def check(self, models: Sequence[str], input_size: int | None) -> None:
        """Raise a user error (one line) for a model that cannot be loaded."""

    def resources(self, cfg: Config) -> dict[str, float]:
        """Device resources of the configuration's accelerator: dsp, lut, ff, bram36."""

    def prepare_key(self, model: str, policy: str, cfg: Config, input_size: int | None) -> Hashable:
        """Everything ``prepare`` reads from its arguments (the per-worker cache key)."""

    def prepare(self, model: str, policy: str, cfg: Config, input_size: int | None) -> Any:
        """The expensive per-model part (load + partition), cached per worker process."""

    def evaluate(self, prepared: Any, cfg: Config) -> dict[str, Any]:
        """``fps``, ``latency_ms``, ``op_count_fps``, ``array_op_count_fps`` and ``breakdown_ms`` of one point."""


@functools.lru_cache(maxsize=16)
def _graph(source: str, input_size: int | None) -> Any:
    from mapper.models import load_model
    return load_model(source, input_size)



class DefaultEvaluator:
    """The real thing: resources of the PE-array core (``rtl.synth.estimate``) plus its activation
    buffers' block RAM, and ``mapper`` + ``hwsim.estimate`` for the frame rate."""

    def check(self, models: Sequence[str], input_size: int | None) -> None:
        for m in models:
            _graph(m, input_size)
        for mod in ("rtl.synth", "hwsim.estimate", "mapper.partition"):
            try:
                __import__(mod)
            except ImportError as e:
                raise HwsimError(f"sweep needs {mod}, which cannot be imported: {e}") from None

    def resources(self, cfg: Config) -> dict[str, float]:
        from ..resources import accel_resources
        return accel_resources(cfg)

    def prepare_key(self, model: str, policy: str, cfg: Config, input_size: int | None) -> Hashable:
        # the plan depends on the accelerator through the partitioner and the tiler's pl_check
        # (hwsim.estimate.plan_model): on the accelerator's plan view (every field the schema does
        # not mark plan=False: those only timing and resources read)
        return model, input_size, policy, cfg.accel.plan_key()

    def prepare(self, model: str, policy: str, cfg: Config, input_size: int | None) -> Any:
        from ..estimate import plan_model
        return plan_model(_graph(model, input_size), cfg, policy)

    def evaluate(self, plan: Any, cfg: Config) -> dict[str, Any]:
        from ..estimate import estimate_plan
        e = estimate_plan(plan, cfg)
        return {"fps": e.fps, "latency_ms": e.latency_ms, "op_count_fps": e.op_count_fps,
                "array_op_count_fps": e.array_op_count_fps, "breakdown_ms": e.breakdown_ms}


@functools.lru_cache(maxsize=8)
def _base_config(board: str, accel: str, overrides: tuple[str, ...]) -> Config:
    return load(board, accel, list(overrides))


_PREPARED: dict[Hashable, Any] = {}
_PREPARED_MAX = 64


def _prepared(evaluator: Evaluator, source: str, policy: str, cfg: Config, input_size: int | None) -> Any:
    """The evaluator's prepared model, cached in this (worker) process; errors are cached too."""
    key = (type(evaluator).__module__, type(evaluator).__qualname__,
           evaluator.prepare_key(source, policy, cfg, input_size))
    if key not in _PREPARED:
        if len(_PREPARED) >= _PREPARED_MAX:
            _PREPARED.clear()
        try:
            _PREPARED[key] = (True, evaluator.prepare(source, policy, cfg, input_size))
        except user_errors() as e:
            _PREPARED[key] = (False, e)
    ok, value = _PREPARED[key]
    if not ok:
        raise value
    return value


def point_config(target: Any, keys: Sequence[str], values: Sequence[Any]) -> Config:
    """The point's configuration through the one constructor ``--set`` goes through
    (``hwsim.config.build``): a combination it refuses is the point's error."""
    base = _base_config(target.board, target.accel, target.overrides)
    data = {s: dict(t) for s, t in base.data.items()}
    for k, v in zip(keys, values):
        s, _, f = k.partition(".")
        data[s][f] = list(v) if isinstance(v, list) else v
    return build(base.board_name, base.accel_name, data, base.published, base.shipped_accel)


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def evaluate_point(evaluator: Evaluator, target: Any, keys: Sequence[str], point: Any) -> dict[str, Any]:
    """One results row (without the point's own columns); user errors land in ``error``."""
    row: dict[str, Any] = {}
    try:
        cfg = point_config(target, keys, point.values)
        res = evaluator.resources(cfg)
        row.update({r: res.get(r) for r in RESOURCES})
        reason = misfit(cfg.board, res)
        row["feasible"] = not reason
        if reason:
            row["error"] = f"infeasible: {reason}"
            return row
        prepared = _prepared(evaluator, dict(target.sources)[point.model], point.policy, cfg, target.input_size)
        out = evaluator.evaluate(prepared, cfg)
        row.update({m: out[m] for m in METRICS})
        row.update({f"{b}_ms": out["breakdown_ms"][b] for b in BREAKDOWN})
    except user_errors() as e:
        row["error"] = _one_line(e)
    return row


def evaluate_chunk(evaluator: Evaluator, target: Any, keys: Sequence[str],
                   points: Sequence[Any]) -> tuple[list[dict[str, Any]], str]:
    """Rows of the points evaluated, and why the chunk stopped early (``""`` if it did not).

    An unexpected exception (a bug, not bad input) stops the chunk but keeps the rows before it,
    so the sweep can save them and no point is ever evaluated twice.
    """
    rows: list[dict[str, Any]] = []
    for p in points:
        try:
            rows.append(evaluate_point(evaluator, target, keys, p))
        except Exception as e:     # noqa: BLE001 - reported to the driver, which aborts the sweep
            desc = " ".join([p.model, p.policy, *(f"{k}={encode(v)}" for k, v in zip(keys, p.values))])
            return rows, f"point {desc}: {type(e).__name__}: {_one_line(e)}"
    return rows, ""
