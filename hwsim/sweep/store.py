"""The sweep directory: its lock, ``results.csv`` (validated row by row on ``--resume``),
``sweep.json``, the summary, and the progress line.

One writer at a time: ``lock`` takes an exclusive ``flock`` on ``OUT/.lock`` (released by the
kernel when the process ends, however it ends), so a second ``hwsim sweep`` on the same directory is
refused with one line instead of appending the same points again.

On ``--resume`` every row of ``results.csv`` is checked against the sweep: its model and policy are
the sweep's, its grid cells are values of the grid's axes, its numbers parse and are finite, its
``feasible`` cell is ``True``/``False``/empty, and no point appears twice.  Valid rows are kept;
the others are moved to ``results.rejected.csv`` (nothing is lost) and counted in the summary.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import HwsimError
from ..resources import RESOURCES
from .worker import BREAKDOWN, METRICS, encode

RESULTS = "results.csv"
MANIFEST = "sweep.json"
REJECTED = "results.rejected.csv"
LOCK = ".lock"
NUMERIC = (*METRICS, *RESOURCES, *(f"{b}_ms" for b in BREAKDOWN))


def os_error(what: str, path: Path, e: OSError) -> HwsimError:
    """One line for a file system error on an output path."""
    return HwsimError(f"cannot {what} {str(path)!r}: {e.strerror or e}")


@contextmanager
def lock(out: Path) -> Iterator[None]:
    """Hold the sweep directory's lock for the block (``OUT`` must exist)."""
    import fcntl
    path = out / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise os_error("create the lock file", path, e) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise os_error("lock", path, e) from None
            try:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            except OSError:
                holder = ""
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise HwsimError(f"another hwsim sweep is writing to {str(out)!r}{who}: wait for it to finish, "
                             f"or use another --out") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass
        yield
    finally:
        os.close(fd)


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
        left = f"{(self.total - self.done) / rate:.0f}" if rate > 0 else "?"
        sys.stderr.write(f"\rsweep: {self.done}/{self.total} points, {rate:.1f} points/s, "
                         f"{left} s left   ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise HwsimError(f"cannot --resume: {str(path)!r} is not a file")
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise HwsimError(f"cannot --resume: {str(path)!r} is not a text CSV file") from None
    except OSError as e:
        raise os_error("read", path, e) from None


# results.csv columns renamed after 0.1.0 (hwsim.estimate.DEPRECATED_KEYS): a file written before
# reads with the new names, so --resume continues it (rewritten under the new header)
LEGACY_COLUMNS = {"naive_fps": "op_count_fps", "array_peak_fps": "array_op_count_fps"}


def _read_results(path: Path) -> tuple[list[str], list[dict[str, Any]], bool]:
    """Header (legacy column names mapped to today's, ``LEGACY_COLUMNS``), rows and whether a torn
    last line (killed mid-write) was dropped or a legacy column renamed (either way the file is
    rewritten before appending)."""
    text = _read_text(path)
    rewrite = bool(text) and not text.endswith("\n")
    if rewrite:
        text = text[:text.rfind("\n") + 1]
    try:
        reader = csv.DictReader(io.StringIO(text))
        rows = list(reader)
        header = list(reader.fieldnames or [])
    except csv.Error as e:
        raise HwsimError(f"cannot --resume: {str(path)!r} is not a readable CSV file: {e}") from None
    if any(k in LEGACY_COLUMNS for k in header) and not any(k in header for k in LEGACY_COLUMNS.values()):
        header = [LEGACY_COLUMNS.get(k, k) for k in header]
        rows = [{LEGACY_COLUMNS.get(k, k) if isinstance(k, str) else k: v for k, v in r.items()} for r in rows]
        rewrite = True
    return header, rows, rewrite


def _number(v: Any) -> float | None:
    if v in ("", None):
        return None
    x = float(v)                 # ValueError: not a number
    if not math.isfinite(x):
        raise ValueError(v)
    return x


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = dict(row)
    for k in NUMERIC:
        out[k] = _number(row.get(k, ""))
    for k in RESOURCES:     # counts stay integers where they are (bram36 may be half a block)
        if out[k] is not None and out[k].is_integer():
            out[k] = int(out[k])
    out["feasible"] = {"True": True, "False": False}.get(row.get("feasible", ""))
    out["error"] = row.get("error") or ""
    return out


def row_problem(sweep: Any, row: dict[str, Any], header: Sequence[str]) -> str:
    """Why a results.csv row is not a valid row of ``sweep`` ("" if it is)."""
    if None in row or any(row.get(k) is None for k in header):
        return "wrong number of cells"
    if row["model"] not in sweep.models:
        return f"model {row['model']!r} is not swept"
    if row["policy"] not in sweep.policies:
        return f"policy {row['policy']!r} is not swept"
    for a in sweep.axes:
        if row[a.key] not in {encode(v) for v in a.values}:
            return f"{a.key}={row[a.key]!r} is not on the grid"
    if row.get("feasible", "") not in ("True", "False", ""):
        return f"feasible is {row['feasible']!r}"
    for k in NUMERIC:
        try:
            _number(row.get(k, ""))
        except ValueError:
            return f"{k} is {row[k]!r}, not a finite number"
    if row.get("feasible") == "True" and not row.get("error") and _number(row.get("fps", "")) is None:
        return "an evaluated row without fps"
    if row.get("feasible") == "True" and not row.get("error") and not _number(row.get("fps", "")) > 0:
        return "fps is not positive"
    if row.get("feasible", "") == "" and not row.get("error"):
        return "neither evaluated nor an error"
    return ""


@dataclass
class Prepared:
    done: set[tuple[str, ...]]
    header: list[str]
    dropped: dict[str, int] = field(default_factory=dict)


def _manifest(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    try:
        old = json.loads(text)
    except json.JSONDecodeError:
        raise HwsimError(f"{path} is not valid JSON; cannot --resume from {path.parent}") from None
    if not isinstance(old, dict):
        raise HwsimError(f"{path} is not a sweep manifest (a JSON object); cannot --resume from {path.parent}")
    return old


def check_out(out: Path, resume: bool) -> None:
    """The checks that need no lock (run before any cluster starts)."""
    results = out / RESULTS
    if out.exists() and not out.is_dir():
        raise HwsimError(f"--out {out} exists and is not a directory")
    if not out.exists() and out.parent.exists() and not out.parent.is_dir():
        raise HwsimError(f"--out {out}: {out.parent} is not a directory")
    if (results.exists() or results.is_symlink()) and not resume:
        raise HwsimError(f"{results} already exists: use --resume to continue that sweep or another --out")


def prepare_out(sweep: Any, out: Path, resume: bool) -> Prepared:
    """Under the lock: the keys already done and the CSV header to append with; invalid rows of
    an existing results.csv moved to results.rejected.csv."""
    results, manifest = out / RESULTS, out / MANIFEST
    check_out(out, resume)
    header = sweep.columns()
    if not (resume and (results.exists() or results.is_symlink())):
        return Prepared(set(), header)
    if manifest.exists() or manifest.is_symlink():
        old = _manifest(manifest)
        mine = sweep.manifest()
        diff = [k for k in ("board", "accel", "input_size", "overrides") if old.get(k) != mine[k]]
        if diff:
            k = diff[0]
            raise HwsimError(f"cannot --resume: {out} was swept with {k} {old.get(k)!r}, not {mine[k]!r}")
    have, rows, rewrite = _read_results(results)
    if have and set(have) != set(header):
        extra = sorted(set(have) ^ set(header), key=str)
        raise HwsimError(f"cannot --resume: {results} has other columns than this sweep "
                         f"(differs in {', '.join(map(str, extra))}); use the same --grid keys or another --out")
    header = have or header
    keep, reject, dropped = [], [], {}
    done: set[tuple[str, ...]] = set()
    for r in rows:
        why = row_problem(sweep, r, header)
        key = (r.get("model"), r.get("policy"), *(r.get(k) for k in sweep.keys))
        if not why and key in done:
            why = "a point already in the file"
        if why:
            reject.append(r)
            dropped[why] = dropped.get(why, 0) + 1
        else:
            keep.append(r)
            done.add(key)
    if reject or rewrite:
        try:
            if reject:
                fresh = not (out / REJECTED).exists()
                with open(out / REJECTED, "a", newline="") as fh:
                    w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore", restval="")
                    if fresh:
                        w.writeheader()
                    w.writerows({k: v for k, v in r.items() if k is not None} for r in reject)
            tmp = out / (RESULTS + ".tmp")
            with open(tmp, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=header)
                w.writeheader()
                w.writerows(keep)
            os.replace(tmp, results)
        except OSError as e:
            raise os_error("rewrite", results, e) from None
    return Prepared(done, header, dropped)


def final_rows(path: Path) -> list[dict[str, Any]]:
    _, rows, _ = _read_results(path)
    return rows


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
    dropped: dict[str, int] = field(default_factory=dict)     # resume: invalid rows moved aside, by reason
    # every point's row in grid order (the results.csv columns, numbers typed, grid values as given);
    # results.csv is one consumer of these rows, ``hwsim.sweep(...)`` returns them
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"points": self.points, "evaluated": self.evaluated, "infeasible": self.infeasible,
                "failed": self.failed, "resumed": self.resumed, "new": self.new,
                "elapsed_s": round(self.elapsed_s, 3),
                "points_per_s": round(self.new / self.elapsed_s, 2) if self.elapsed_s > 0 else None,
                "infeasible_reasons": self.infeasible_reasons, "errors": self.errors,
                "dropped_rows": self.dropped, "pareto": self.pareto}

    def line(self) -> str:
        why = ", ".join(f"{k} over: {n}" for k, n in sorted(self.infeasible_reasons.items()))
        rate = f"{self.new / self.elapsed_s:.1f}" if self.elapsed_s > 0 else "-"
        return (f"sweep: {self.points} points: {self.evaluated} evaluated, {self.infeasible} infeasible"
                f"{f' ({why})' if why else ''}, {self.failed} failed; {self.new} new in {self.elapsed_s:.1f} s "
                f"({rate} points/s), {self.resumed} resumed -> {self.out}")

    def dropped_line(self) -> str:
        """One line on the rows --resume would not trust ("" if none)."""
        if not self.dropped:
            return ""
        n = sum(self.dropped.values())
        top = "; ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items(), key=lambda kv: -kv[1])[:3])
        return f"sweep: dropped {n} invalid row(s) of {self.out / RESULTS} ({top}), kept in {self.out / REJECTED}"

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
