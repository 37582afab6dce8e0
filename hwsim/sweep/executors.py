"""Executors: where the chunks of points run (nowhere, in this process, or on Dask), each a context
manager yielding ``(points, rows, failure)`` per chunk as they finish."""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import HwsimError
from .worker import Evaluator, _one_line, evaluate_chunk

MAX_CHUNK = 50

Results = Iterator[tuple[Sequence[Any], list[dict[str, Any]], str]]


def chunk_size(n: int, slots: int) -> int:
    """About four chunks per worker slot (load balance), at most MAX_CHUNK points each."""
    return max(1, min(MAX_CHUNK, math.ceil(n / (4 * max(1, slots)))))


def _chunks(points: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [points[i:i + size] for i in range(0, len(points), size)]


@contextmanager
def _nothing() -> Iterator[Results]:
    yield iter(())


@contextmanager
def _serial(evaluator: Evaluator, sweep: Any, points: Sequence[Any], size: int | None) -> Iterator[Results]:
    def run() -> Results:
        for c in _chunks(points, size or chunk_size(len(points), 1)):
            rows, failure = evaluate_chunk(evaluator, sweep.target, sweep.keys, c)
            yield c, rows, failure
    yield run()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are spawned (they inherit it and then leave a terminal's
    Ctrl-C, sent to the whole process group, to this process instead of dying with tracebacks) and
    while the cluster shuts down (a Ctrl-C there would replace the first one with a traceback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _quietly(fn: Any, *args: Any, **kw: Any) -> None:
    """A cleanup step whose failure must not replace the exception (or Ctrl-C) being handled."""
    try:
        fn(*args, **kw)
    except Exception:      # noqa: BLE001 - the cluster is going away either way
        pass


@contextmanager
def _dask(evaluator: Evaluator, sweep: Any, points: Sequence[Any], size: int | None,
          scheduler: str | None, workers: int, timeout_s: float = 5.0) -> Iterator[Results]:
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
            client = Client(cluster, timeout=timeout_s)
        elif scheduler.endswith(".json"):      # the file `dask scheduler --scheduler-file` writes
            if not Path(scheduler).is_file():
                raise HwsimError(f"no such scheduler file {scheduler!r}")
            client = Client(scheduler_file=scheduler, timeout=timeout_s)
        else:
            client = Client(scheduler, timeout=timeout_s)
    except HwsimError:
        raise
    except Exception as e:     # noqa: BLE001 - refused, timed out, malformed, or not a Dask scheduler at all
        if cluster is not None:
            with _sigint_ignored():
                _quietly(cluster.close)
        where = f"Dask scheduler {scheduler}" if scheduler else "a local Dask cluster"
        hint = ("" if scheduler is None or isinstance(e, (OSError, TimeoutError))
                else " (is a Dask scheduler listening there?)")
        raise HwsimError(f"cannot reach {where}: {type(e).__name__}: {_one_line(e)}{hint}") from None
    futures = []
    try:
        if scheduler is not None:
            try:
                client.wait_for_workers(1, timeout=timeout_s * 2)
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
        # Shut down with Ctrl-C ignored and every step's error swallowed: an interrupt is reported
        # once, as "hwsim: interrupted" and exit 130, never as a traceback from the teardown.
        log = logging.getLogger("distributed")
        level = log.level
        with _sigint_ignored():
            log.setLevel(logging.CRITICAL)
            if futures:
                _quietly(client.cancel, futures)
            _quietly(client.close)
            if cluster is not None:
                _quietly(cluster.close)
            log.setLevel(level)
