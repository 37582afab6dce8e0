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
def _sigint_held(spawning: bool = False) -> Iterator[None]:
    """Hold SIGINT back during a step of the cluster's (its start, its shutdown) and deliver a Ctrl-C
    that came meanwhile once the step is over, to the handler in force before (``KeyboardInterrupt``
    by default, in this process only): a step that a Ctrl-C interrupted half-way would leave a
    cluster half up or half down, with tracebacks from its threads.

    SIGINT is blocked in this thread and a handler that only takes note stands in for the one in
    force (a Ctrl-C that another thread receives still reaches the main thread's handler).
    ``spawning``: worker processes start meanwhile, and they must ignore SIGINT from their first
    instruction on (a terminal's Ctrl-C goes to the whole process group; the driver stops them
    cleanly), which only an ignored disposition, inherited, gives them; so SIGINT is ignored
    instead of noted, and a Ctrl-C meanwhile is delivered after the step where the kernel keeps a
    blocked signal pending even while it is ignored (Linux does: "blocked signals are never
    ignored", kernel/signal.c) and lost where it does not."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    old = signal.signal(signal.SIGINT, signal.SIG_IGN if spawning else (lambda signum, frame: held.append(signum)))
    mask = getattr(signal, "pthread_sigmask", None)
    blocked = mask(signal.SIG_BLOCK, {signal.SIGINT}) if mask else None
    try:
        yield
    finally:
        if spawning:
            signal.signal(signal.SIGINT, old)        # back before the unblock: a pending one reaches it
        if mask:
            mask(signal.SIG_SETMASK, blocked)
        if not spawning:
            signal.signal(signal.SIGINT, old)
            if held:
                signal.raise_signal(signal.SIGINT)   # the one noted meanwhile, to the handler in force


class _SyncCancelBug:
    """Drops one record of ``tornado.application``: distributed's ``sync()`` answers a Ctrl-C that
    comes before its coroutine started with a callback, ``cancel``, that reads the coroutine's
    future before it is assigned and dies with ``NameError`` (distributed 2026.8,
    ``distributed/utils.py``), logged with its traceback from the loop's thread.  The interrupt
    itself goes on as ``KeyboardInterrupt``; only this log line is noise."""

    def filter(self, record: Any) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, NameError):
            return True
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        code = tb.tb_frame.f_code if tb is not None else None
        return not (code is not None and code.co_name == "cancel"
                    and code.co_filename.replace("\\", "/").endswith("distributed/utils.py"))


def _drop_sync_cancel_bug() -> None:
    import logging
    log = logging.getLogger("tornado.application")
    if not any(isinstance(f, _SyncCancelBug) for f in log.filters):
        log.addFilter(_SyncCancelBug())


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

    _drop_sync_cancel_bug()
    cluster = client = None
    futures: list[Any] = []
    try:
        try:
            if scheduler is None:
                # Up with Ctrl-C held (a Ctrl-C meanwhile interrupts once it is up, then it closes).
                # The workers log only what is critical: a task's failure comes back through its
                # future, and their heartbeats racing the scheduler's shutdown are not errors.
                # No dashboard; the scheduler's HTTP endpoint (always started) on a free loopback
                # port, not 8787, which another cluster on a shared machine may hold.
                with _sigint_held(spawning=True):
                    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                           scheduler_kwargs={"dashboard": False},
                                           silence_logs=logging.CRITICAL)
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
            where = f"Dask scheduler {scheduler}" if scheduler else "a local Dask cluster"
            hint = ("" if scheduler is None or isinstance(e, (OSError, TimeoutError))
                    else " (is a Dask scheduler listening there?)")
            raise HwsimError(f"cannot reach {where}: {type(e).__name__}: {_one_line(e)}{hint}") from None
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
        # Shut down (whatever got up: a cluster without a client too) with Ctrl-C held and every
        # step's error swallowed: an interrupt is reported once, as "hwsim: interrupted" and exit
        # 130, never as a traceback from the teardown; one that comes during it is delivered after.
        log = logging.getLogger("distributed")
        level = log.level
        with _sigint_held():
            log.setLevel(logging.CRITICAL)
            if futures and client is not None:
                _quietly(client.cancel, futures)
            if client is not None:
                _quietly(client.close)
            if cluster is not None:
                _quietly(cluster.close)
            log.setLevel(level)
