"""Design-space sweeps: every point of a grid of board/accelerator fields, evaluated on Dask.

A sweep is the cartesian product of models x placement policies x ``--grid`` axes.  An axis is
``section.key=v1,v2,...``: each value parses like a ``--set`` value (``hwsim.config.parse_value``,
TOML syntax) and values are separated by the commas that are *outside* brackets and quotes, so a
list-valued field takes TOML arrays: ``accel.pl_ops=["conv","dwconv"],["conv","dwconv","maxpool"]``.

Each point is checked against the device first (``Evaluator.resources`` vs the board's
``dsp``/``lut``/``ff``/``bram36`` times ``max_util``); a point that does not fit is recorded as
infeasible with the reason and not estimated.  Points travel to the workers in chunks (an estimate
takes milliseconds, so per-task overhead matters); each worker process caches the prepared model
(graph + plan) under ``Evaluator.prepare_key`` so a model is loaded and partitioned once per
worker and partition-relevant configuration, not once per point.

Results stream to ``OUT/results.csv`` (flushed per chunk); ``OUT/sweep.json`` records what the
sweep was run against so ``resume=True`` can refuse a directory written for another board,
accelerator or grid, and skips every point already in the file.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .config import Config, ConfigError, apply_override, load, parse_value
from .errors import HwsimError
from .resources import RESOURCES, misfit
from mapper.partition import ACCEL_FIELDS

from . import pareto

POLICIES = ("naive", "optimized")
METRICS = ("fps", "latency_ms", "naive_fps", "array_peak_fps")
BREAKDOWN = ("pl_compute", "pl_memory_stall", "ps_compute", "transfer", "sync")
RESULTS = "results.csv"
MANIFEST = "sweep.json"
CONNECT_TIMEOUT_S = 5.0
MAX_CHUNK = 50


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
        """``fps``, ``latency_ms``, ``naive_fps``, ``array_peak_fps`` and ``breakdown_ms`` of one point."""


def _frozen(v: Any) -> Hashable:
    return tuple(v) if isinstance(v, list) else v


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
        from .resources import accel_resources
        return accel_resources(cfg)

    def prepare_key(self, model: str, policy: str, cfg: Config, input_size: int | None) -> Hashable:
        return model, input_size, policy, tuple(_frozen(cfg.accel.get(f)) for f in ACCEL_FIELDS)

    def prepare(self, model: str, policy: str, cfg: Config, input_size: int | None) -> Any:
        from mapper.partition import partition
        return partition(_graph(model, input_size), cfg.accel, policy)

    def evaluate(self, plan: Any, cfg: Config) -> dict[str, Any]:
        from .estimate import estimate_plan
        e = estimate_plan(plan, cfg)
        return {"fps": e.fps, "latency_ms": e.latency_ms, "naive_fps": e.naive_fps,
                "array_peak_fps": e.array_peak_fps, "breakdown_ms": e.breakdown_ms}


# ----------------------------------------------------------------------------------- the grid

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


def encode(v: Any) -> str:
    """A grid value as written in results.csv (and compared on --resume)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return repr(v) if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Axis:
    key: str                      # "section.field"
    values: tuple[Any, ...]


def parse_axis(spec: str, data: dict[str, dict[str, Any]]) -> Axis:
    """One ``--grid section.key=v1,v2,...``, checked against a loaded configuration's fields."""
    key, eq, text = spec.partition("=")
    key = key.strip()
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
        axes = tuple(parse_axis(g, cfg.data) for g in grid)
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


# ---------------------------------------------------------------------- worker-side evaluation

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
        except _user_errors() as e:
            _PREPARED[key] = (False, e)
    ok, value = _PREPARED[key]
    if not ok:
        raise value
    return value


def _user_errors() -> tuple[type[BaseException], ...]:
    from .cli import user_errors
    return user_errors()


def point_config(target: Target, keys: Sequence[str], values: Sequence[Any]) -> Config:
    base = _base_config(target.board, target.accel, target.overrides)
    data = {s: dict(t) for s, t in base.data.items()}
    for k, v in zip(keys, values):
        s, _, f = k.partition(".")
        data[s][f] = v
    cfg = Config(base.board_name, base.accel_name, data, published=base.published,
                 shipped_accel=base.shipped_accel)
    cfg.pe    # ParamError/ConfigError for a combination the PE array cannot be built with
    return cfg


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def evaluate_point(evaluator: Evaluator, target: Target, keys: Sequence[str], point: Point) -> dict[str, Any]:
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
    except _user_errors() as e:
        row["error"] = _one_line(e)
    return row


def evaluate_chunk(evaluator: Evaluator, target: Target, keys: Sequence[str],
                   points: Sequence[Point]) -> tuple[list[dict[str, Any]], str]:
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


# ---------------------------------------------------------------------------------- executors

Results = Iterator[tuple[Sequence[Point], list[dict[str, Any]], str]]


def chunk_size(n: int, slots: int) -> int:
    """About four chunks per worker slot (load balance), at most MAX_CHUNK points each."""
    return max(1, min(MAX_CHUNK, math.ceil(n / (4 * max(1, slots)))))


def _chunks(points: Sequence[Point], size: int) -> list[Sequence[Point]]:
    return [points[i:i + size] for i in range(0, len(points), size)]


@contextmanager
def _nothing() -> Iterator[Results]:
    yield iter(())


@contextmanager
def _serial(evaluator: Evaluator, sweep: Sweep, points: Sequence[Point], size: int | None) -> Iterator[Results]:
    def run() -> Results:
        for c in _chunks(points, size or chunk_size(len(points), 1)):
            rows, failure = evaluate_chunk(evaluator, sweep.target, sweep.keys, c)
            yield c, rows, failure
    yield run()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are spawned: they inherit it and then leave a terminal's
    Ctrl-C (sent to the whole process group) to this process instead of dying with tracebacks."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def _dask(evaluator: Evaluator, sweep: Sweep, points: Sequence[Point], size: int | None,
          scheduler: str | None, workers: int) -> Iterator[Results]:
    import logging

    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if scheduler is None:
            with _sigint_ignored():   # Ctrl-C stops the driver, which shuts the workers down cleanly
                # No dashboard; the scheduler's HTTP endpoint (always started) on a free loopback port,
                # not 8787, which another cluster on a shared machine may hold.
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                       scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR)
            client = Client(cluster, timeout=CONNECT_TIMEOUT_S)
        elif scheduler.endswith(".json"):      # the file `dask scheduler --scheduler-file` writes
            if not Path(scheduler).is_file():
                raise HwsimError(f"no such scheduler file {scheduler!r}")
            client = Client(scheduler_file=scheduler, timeout=CONNECT_TIMEOUT_S)
        else:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except HwsimError:
        raise
    except Exception as e:     # noqa: BLE001 - refused, timed out, malformed, or not a Dask scheduler at all
        if cluster is not None:
            cluster.close()
        where = f"Dask scheduler {scheduler}" if scheduler else "a local Dask cluster"
        hint = ("" if scheduler is None or isinstance(e, (OSError, TimeoutError))
                else " (is a Dask scheduler listening there?)")
        raise HwsimError(f"cannot reach {where}: {type(e).__name__}: {_one_line(e)}{hint}") from None
    futures = []
    try:
        if scheduler is not None:
            try:
                client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S * 2)
            except (TimeoutError, OSError) as e:
                raise HwsimError(f"Dask scheduler {scheduler} has no workers: {_one_line(e)}") from None
        slots = sum(client.nthreads().values())
        chunks = _chunks(points, size or chunk_size(len(points), slots))
        futures = [client.submit(evaluate_chunk, evaluator, sweep.target, sweep.keys, list(c), pure=False)
                   for c in chunks]
        index = {f.key: c for f, c in zip(futures, chunks)}

        def run() -> Results:
            for f in as_completed(futures):
                try:
                    rows, failure = f.result()
                except Exception as e:     # noqa: BLE001 - a lost worker, a task that cannot unpickle
                    rows, failure = [], f"a Dask task failed: {type(e).__name__}: {_one_line(e)}"
                yield index[f.key], rows, failure
        yield run()
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


# ------------------------------------------------------------------------------------- driver

class Progress:
    """``done/total points, rate, time left`` on stderr (a TTY only) and a count for the summary."""

    def __init__(self, total: int, done: int, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.start_done, self.t0 = done, time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        dt = time.monotonic() - self.t0
        rate = (self.done - self.start_done) / dt if dt > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        sys.stderr.write(f"\rsweep: {self.done}/{self.total} points, {rate:.1f} points/s, "
                         f"{left:.0f} s left   ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _read_results(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of an existing results.csv; a torn last line (killed mid-write) is dropped."""
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
        path.write_text(text)
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _typed(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for k in (*METRICS, *RESOURCES, *(f"{b}_ms" for b in BREAKDOWN)):
        v = row.get(k, "")
        out[k] = float(v) if v not in ("", None) else None
    for k in RESOURCES:     # counts stay integers where they are (bram36 may be half a block)
        if out[k] is not None and out[k].is_integer():
            out[k] = int(out[k])
    out["feasible"] = {"True": True, "False": False}.get(row.get("feasible", ""))
    return out


@dataclass
class Summary:
    points: int
    evaluated: int
    infeasible: int
    failed: int
    resumed: int
    new: int
    elapsed_s: float
    infeasible_reasons: dict[str, int]
    pareto: list[dict[str, Any]]
    out: Path
    errors: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"points": self.points, "evaluated": self.evaluated, "infeasible": self.infeasible,
                "failed": self.failed, "resumed": self.resumed, "new": self.new,
                "elapsed_s": round(self.elapsed_s, 3),
                "points_per_s": round(self.new / self.elapsed_s, 2) if self.elapsed_s > 0 else None,
                "infeasible_reasons": self.infeasible_reasons, "errors": self.errors, "pareto": self.pareto}

    def line(self) -> str:
        why = ", ".join(f"{k} over: {n}" for k, n in sorted(self.infeasible_reasons.items()))
        rate = f"{self.new / self.elapsed_s:.1f}" if self.elapsed_s > 0 else "-"
        return (f"sweep: {self.points} points: {self.evaluated} evaluated, {self.infeasible} infeasible"
                f"{f' ({why})' if why else ''}, {self.failed} failed; {self.new} new in {self.elapsed_s:.1f} s "
                f"({rate} points/s), {self.resumed} resumed -> {self.out}")

    def error_lines(self, most: int = 5) -> list[str]:
        """The commonest reasons points failed (not infeasible: they could not be evaluated)."""
        top = sorted(self.errors.items(), key=lambda kv: -kv[1])
        out = [f"  failed ({n} points): {msg}" for msg, n in top[:most]]
        if len(top) > most:
            out.append(f"  ... {len(top) - most} more failure reasons in {self.out / 'summary.json'}")
        return out

    def front_lines(self, keys: Sequence[str], per_model: int = 10) -> list[str]:
        """The Pareto rows, best fps first, at most ``per_model`` per model."""
        out = ["Pareto front (max fps, min DSP and LUT) per model:"] if self.pareto else []
        shown: dict[str, int] = {}
        for r in self.pareto:
            shown[r["model"]] = shown.get(r["model"], 0) + 1
            if shown[r["model"]] <= per_model:
                params = " ".join(f"{k}={encode(r[k])}" for k in keys)
                out.append(f"  {r['model']} {r['policy']} {params}: {r['fps']:.1f} fps, "
                           f"{r['dsp']:g} DSP, {r['lut']:g} LUT")
        for m, n in shown.items():
            if n > per_model:
                out.append(f"  ... {n - per_model} more {m} rows on the front in {self.out / 'summary.json'}")
        return out


def _prepare_out(sweep: Sweep, out: Path, resume: bool) -> tuple[set[tuple[str, ...]], list[str]]:
    """Check/create OUT; the keys already done and the CSV header to append with."""
    results, manifest = out / RESULTS, out / MANIFEST
    if out.exists() and not out.is_dir():
        raise HwsimError(f"--out {out} exists and is not a directory")
    if results.exists() and not resume:
        raise HwsimError(f"{results} already exists: use --resume to continue that sweep or another --out")
    header = sweep.columns()
    if not (resume and results.exists()):
        return set(), header
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except json.JSONDecodeError:
            raise HwsimError(f"{manifest} is not valid JSON; cannot --resume from {out}") from None
        mine = sweep.manifest()
        diff = [k for k in ("board", "accel", "input_size", "overrides") if old.get(k) != mine[k]]
        if diff:
            k = diff[0]
            raise HwsimError(f"cannot --resume: {out} was swept with {k} {old.get(k)!r}, not {mine[k]!r}")
    have, rows = _read_results(results)
    if have and set(have) != set(header):
        extra = sorted(set(have) ^ set(header))
        raise HwsimError(f"cannot --resume: {results} has other columns than this sweep "
                         f"(differs in {', '.join(extra)}); use the same --grid keys or another --out")
    keys = {(r["model"], r["policy"], *(r[k] for k in sweep.keys)) for r in rows}
    return keys, have or header


def run(sweep: Sweep, out: str | Path, evaluator: Evaluator, *, workers: int = 2, scheduler: str | None = None,
        resume: bool = False, chunk: int | None = None, progress: bool = False) -> Summary:
    """Evaluate every point not yet in ``OUT/results.csv``; write results, Pareto plot and summary.

    ``workers=0`` (and no ``scheduler``) evaluates in this process, serially; otherwise an embedded
    LocalCluster of ``workers`` single-threaded processes, or the cluster at ``scheduler``.
    """
    if workers < 0:
        raise HwsimError(f"--workers must be >= 0, not {workers}")
    if chunk is not None and chunk <= 0:
        raise HwsimError(f"--chunk-size must be a positive integer, not {chunk}")
    out = Path(out)
    done, header = _prepare_out(sweep, out, resume)
    points = sweep.points()
    todo = [p for p in points if p.key() not in done]
    results = out / RESULTS
    bar = Progress(len(points), len(points) - len(todo), progress)
    t0 = time.monotonic()
    failure = ""
    if not todo:
        executor = _nothing()
    elif workers == 0 and scheduler is None:
        executor = _serial(evaluator, sweep, todo, chunk)
    else:
        executor = _dask(evaluator, sweep, todo, chunk, scheduler, workers)
    # Files are created only once the executor is up: a cluster that cannot start leaves nothing.
    with executor as stream:
        out.mkdir(parents=True, exist_ok=True)
        (out / MANIFEST).write_text(json.dumps(sweep.manifest(), indent=2) + "\n")
        fresh = not results.exists() or results.stat().st_size == 0
        with open(results, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            if fresh:
                writer.writeheader()
                fh.flush()
            try:
                for chunk_points, rows, failure in stream:
                    for p, r in zip(chunk_points, rows):
                        writer.writerow({"model": p.model, "policy": p.policy,
                                         **{k: encode(v) for k, v in zip(sweep.keys, p.values)}, **r})
                    fh.flush()
                    bar.add(len(rows))
                    if failure:
                        break
            except KeyboardInterrupt:
                bar.close()
                sys.stderr.write(f"sweep: {bar.done} of {len(points)} points are saved in {results}; "
                                 "rerun with --resume to continue\n")
                raise
            bar.close()
    elapsed = time.monotonic() - t0
    new = bar.done - bar.start_done
    if failure:
        raise HwsimError(f"sweep stopped, {failure}; {bar.done} of {len(points)} points are saved in "
                         f"{results}: fix the cause and rerun with --resume")
    return _finish(sweep, out, points, new, len(points) - len(todo), elapsed)


def _finish(sweep: Sweep, out: Path, points: list[Point], new: int, resumed: int, elapsed: float) -> Summary:
    _, raw = _read_results(out / RESULTS)
    by_key = {(r["model"], r["policy"], *(r[k] for k in sweep.keys)): r for r in raw}
    rows: list[dict[str, Any]] = []
    for p in points:
        r = _typed(by_key[p.key()])
        r.update(zip(sweep.keys, p.values))
        rows.append(r)
    ok = [r for r in rows if r["feasible"] and not r["error"] and r["fps"] is not None]
    infeasible = [r for r in rows if r["feasible"] is False]
    reasons: dict[str, int] = {}
    for r in infeasible:
        for part in r["error"].removeprefix("infeasible: ").split("; "):
            reasons[part.split()[0]] = reasons.get(part.split()[0], 0) + 1
    errors: dict[str, int] = {}
    for r in rows:
        if r["error"] and r["feasible"] is not False:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
    front = [ok[i] for i in pareto.front_by(ok, "model", ("fps",), ("dsp", "lut"))]
    front.sort(key=lambda r: (r["model"], -r["fps"]))
    summary = Summary(points=len(points), evaluated=len(ok), infeasible=len(infeasible),
                      failed=len(rows) - len(ok) - len(infeasible), resumed=resumed, new=new, elapsed_s=elapsed,
                      infeasible_reasons=reasons, pareto=[_front_row(sweep, r) for r in front], out=out,
                      errors=errors)
    board = sweep.config.board
    util = float(board.get("max_util", 1.0))
    limits = {r: board[r] * util for r in ("dsp", "lut") if r in board}
    pareto.plot(ok, out / "pareto.png", limits=limits,
                title=f"{sweep.target.board} / {sweep.target.accel}: {len(ok)} feasible points")
    (out / "summary.json").write_text(json.dumps(
        {**summary.to_json(), "board": sweep.target.board, "accel": sweep.target.accel,
         "input_size": sweep.target.input_size, "models": list(sweep.models), "policies": list(sweep.policies),
         "grid": {a.key: list(a.values) for a in sweep.axes}}, indent=2) + "\n")
    return summary


def _front_row(sweep: Sweep, r: dict[str, Any]) -> dict[str, Any]:
    keep = ("model", "policy", *sweep.keys, *METRICS, *RESOURCES, *(f"{b}_ms" for b in BREAKDOWN))
    return {k: r[k] for k in keep}

