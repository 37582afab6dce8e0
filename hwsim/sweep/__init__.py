"""Design-space sweeps: every point of a grid of board/accelerator fields, evaluated on Dask.

A sweep is the cartesian product of models x placement policies x ``--grid`` axes.  An axis is
``section.key=v1,v2,...``: each value parses like a ``--set`` value (``hwsim.config.parse_value``,
TOML syntax) and is checked against the field's type and range before anything runs; values are
separated by the commas that are *outside* brackets and quotes, so a list-valued field takes TOML
arrays: ``accel.pl_ops=["conv","dwconv"],["conv","dwconv","maxpool"]``.  Each point's
configuration is built by ``hwsim.config.build``, the constructor ``--set`` goes through.

Each point is checked against the device first (``Evaluator.resources`` vs the board's
``dsp``/``lut``/``ff``/``bram36`` times ``max_util``); a point that does not fit is recorded as
infeasible with the reason and not estimated.  Points travel to the workers in chunks (an estimate
takes milliseconds, so per-task overhead matters); each worker process caches the prepared model
(graph + plan) under ``Evaluator.prepare_key`` so a model is loaded and partitioned once per
worker and partition-relevant configuration, not once per point.

Results stream to ``OUT/results.csv`` (flushed per chunk); ``OUT/sweep.json`` records what the
sweep was run against so ``resume=True`` can refuse a directory written for another board,
accelerator or grid, and skips every point already in the file (after validating every row:
``store``).  One writer per directory at a time (``OUT/.lock``).

The package's modules follow the sweep's parts: ``grid`` (axes, points, the validated sweep),
``worker`` (what runs per point, on the workers), ``executors`` (serial or Dask), ``store`` (the
directory, its lock and files, the summary); ``run`` here drives them.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from .. import pareto
from ..errors import HwsimError
from ..resources import RESOURCES
from .executors import MAX_CHUNK, Results, _chunks, _dask, _nothing, _serial, _sigint_held, chunk_size
from .grid import POLICIES, Axis, Point, Sweep, Target, parse_axis, split_values
from .store import (MANIFEST, REJECTED, RESULTS, Progress, Summary, _typed, check_out, final_rows, lock,
                    os_error, prepare_out)
from .worker import (_PREPARED, _PREPARED_MAX, BREAKDOWN, METRICS, DefaultEvaluator, Evaluator, encode,
                     evaluate_chunk, evaluate_point, point_config)

CONNECT_TIMEOUT_S = 5.0

__all__ = ["Axis", "BREAKDOWN", "CONNECT_TIMEOUT_S", "DefaultEvaluator", "Evaluator", "MANIFEST", "MAX_CHUNK",
           "METRICS", "POLICIES", "Point", "Progress", "REJECTED", "RESULTS", "Results", "Summary", "Sweep",
           "Target", "chunk_size", "encode", "evaluate_chunk", "evaluate_point", "parse_axis", "point_config",
           "run", "split_values"]


def run(sweep: Sweep, out: str | Path, evaluator: Evaluator, *, workers: int = 2, scheduler: str | None = None,
        resume: bool = False, chunk: int | None = None, progress: bool = False) -> Summary:
    """Evaluate every point not yet in ``OUT/results.csv``; write results, Pareto plot and summary.
    Returns the ``Summary``, whose ``rows`` are every point's results row (typed, in grid order).

    ``workers=0`` (and no ``scheduler``) evaluates in this process, serially; otherwise an embedded
    LocalCluster of ``workers`` single-threaded processes, or the cluster at ``scheduler``.
    """
    if workers < 0:
        raise HwsimError(f"--workers must be >= 0, not {workers}")
    if chunk is not None and chunk <= 0:
        raise HwsimError(f"--chunk-size must be a positive integer, not {chunk}")
    out = Path(out)
    check_out(out, resume)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise os_error("create the sweep directory", out, e) from None
    try:
        with lock(out):
            return _run_locked(sweep, out, evaluator, workers, scheduler, resume, chunk, progress)
    except BaseException:
        if created:          # a sweep that never started leaves nothing behind
            _remove_if_empty(out)
        raise


def _remove_if_empty(out: Path) -> None:
    try:
        if {p.name for p in out.iterdir()} <= {".lock"}:
            (out / ".lock").unlink(missing_ok=True)
            out.rmdir()
    except OSError:
        pass


def _run_locked(sweep: Sweep, out: Path, evaluator: Evaluator, workers: int, scheduler: str | None,
                resume: bool, chunk: int | None, progress: bool) -> Summary:
    prep = prepare_out(sweep, out, resume)
    points = sweep.points()
    todo = [p for p in points if p.key() not in prep.done]
    results = out / RESULTS
    bar = Progress(len(points), len(points) - len(todo), progress)
    t0 = time.monotonic()
    failure = ""
    if not todo:
        executor = _nothing()
    elif workers == 0 and scheduler is None:
        executor = _serial(evaluator, sweep, todo, chunk)
    else:
        executor = _dask(evaluator, sweep, todo, chunk, scheduler, workers, CONNECT_TIMEOUT_S)
    # Files are written only once the executor is up: a cluster that cannot start leaves nothing.
    with executor as stream:
        try:
            (out / MANIFEST).write_text(json.dumps(sweep.manifest(), indent=2) + "\n")
            fresh = not results.exists() or results.stat().st_size == 0
            fh = open(results, "a", newline="")
        except OSError as e:
            raise os_error("write to", out, e) from None
        with fh:
            writer = csv.DictWriter(fh, fieldnames=prep.header)
            try:
                if fresh:
                    writer.writeheader()
                    fh.flush()
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
            except OSError as e:
                raise os_error("write to", results, e) from None
            bar.close()
    elapsed = time.monotonic() - t0
    new = bar.done - bar.start_done
    if failure:
        raise HwsimError(f"sweep stopped, {failure}; {bar.done} of {len(points)} points are saved in "
                         f"{results}: fix the cause and rerun with --resume")
    summary = _finish(sweep, out, points, new, len(points) - len(todo), elapsed)
    summary.dropped = prep.dropped
    _write_summary(sweep, out, summary)
    return summary


def _finish(sweep: Sweep, out: Path, points: list[Point], new: int, resumed: int, elapsed: float) -> Summary:
    raw = final_rows(out / RESULTS)
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
                      errors=errors, rows=rows)
    board = sweep.config.board
    util = board.max_util if board.max_util is not None else 1.0
    limits = {r: getattr(board, r) * util for r in ("dsp", "lut")}
    try:
        pareto.plot(ok, out / "pareto.png", limits=limits,
                    title=f"{sweep.target.board} / {sweep.target.accel}: {len(ok)} feasible points")
    except OSError as e:
        raise os_error("write", out / "pareto.png", e) from None
    return summary


def _write_summary(sweep: Sweep, out: Path, summary: Summary) -> None:
    from ..schema import assert_finite_json
    doc = {**summary.to_json(), "board": sweep.target.board, "accel": sweep.target.accel,
           "input_size": sweep.target.input_size, "models": list(sweep.models), "policies": list(sweep.policies),
           "grid": {a.key: list(a.values) for a in sweep.axes}}
    assert_finite_json(doc)
    try:
        (out / "summary.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    except OSError as e:
        raise os_error("write", out / "summary.json", e) from None


def _front_row(sweep: Sweep, r: dict[str, Any]) -> dict[str, Any]:
    keep = ("model", "policy", *sweep.keys, *METRICS, *RESOURCES, *(f"{b}_ms" for b in BREAKDOWN))
    return {k: r[k] for k in keep}
