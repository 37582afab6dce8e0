"""One frame as a chain of events, its latency, and the pipelined throughput.

Every event occupies one resource: ``PL`` (the accelerator: PL layers), ``PS`` (the ARM cores:
fallback ops, cache maintenance, starting a PL segment), or none (pure waiting: the interrupt and
wake-up latency at the end of a PL segment, during which the cores may serve another frame).

Latency: a frame's events run strictly one after another (each needs its predecessor's data), so
the latency is the sum of their durations.

Throughput: up to ``frames_in_flight`` frames are in the pipeline at once (frame n + k may start
when frame n has finished).  Each resource serves one stage at a time, in a fixed cyclic order: a
dispatch table that says which stage of which frame each resource serves next, repeating every few
frames, and does not depend on how long the stages take.  Each stage starts as soon as its frame's
previous stage and the resource's previous stage in the table are done.  With the order fixed,
every start time is a max of sums of durations (a max-plus linear system: F. Baccelli, G. Cohen,
G. J. Olsder, J.-P. Quadrat, "Synchronization and Linearity", Wiley 1992, ch. 2-3), so its
steady-state period is non-decreasing in every duration: a shorter stage (a faster clock, a
smaller input) never lengthens it.  A greedy runtime (first come first served) does not have
that property: R. L. Graham's timing anomalies ("Bounds on multiprocessing timing anomalies",
SIAM J. Appl. Math. 17(2), 1969); with three or more frames in flight a faster PL clock gave a
few per cent fewer fps.

``pipeline_period`` is the best steady state over a set of dispatch tables that depends only on
the chain's sequence of resources and the frames in flight, never on the durations (so the best
one, a minimum of non-decreasing functions, is non-decreasing too): for every admission count k in
``ADMISSIONS`` up to frames_in_flight, the order a first-come first-served runtime settles into
when the stages last a fixed canonical time per resource (``CANONICAL``: every ratio of 1/4, 1
and 4 among PL, PS and waiting) and, for 3 to 8 frames in flight, canonical times per stage drawn
from a generator seeded by the resources alone (``RANDOM_TABLES``).  Each table's steady state is
exact (its periodic regime, found when the schedule's state repeats).  With one frame in flight it
is exactly the latency; it is never below the busiest resource's time per frame nor below latency
/ frames in flight, and more frames in flight never make it slower.  ``schedule`` gives the start
of every stage of every frame under the best table, which ``hwsim.trace`` draws.
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import dataclass

RESOURCES = ("PL", "PS")


@dataclass
class Event:
    kind: str                # "pl" | "ps" | "transfer" | "sync"
    name: str
    resource: str | None     # "PL", "PS" or None
    duration_s: float
    start_s: float = 0.0

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "resource": self.resource,
                "start_ms": self.start_s * 1e3, "time_ms": self.duration_s * 1e3}


def place(events: list[Event]) -> float:
    """Set every event's start time along the chain; return the frame latency."""
    t = 0.0
    for e in events:
        if e.duration_s < 0:
            raise ValueError(f"event {e.name!r} has a negative duration")
        e.start_s = t
        t += e.duration_s
    return t


def stages(events: list[Event]) -> list[tuple[str | None, float]]:
    """Consecutive events on the same resource merged (they could not interleave anyway)."""
    out: list[tuple[str | None, float]] = []
    for e in events:
        if e.duration_s == 0:
            continue
        if out and out[-1][0] == e.resource:
            out[-1] = (e.resource, out[-1][1] + e.duration_s)
        else:
            out.append((e.resource, e.duration_s))
    return out


def busy(events: list[Event]) -> dict[str, float]:
    """Busy time per resource in one frame."""
    b = {r: 0.0 for r in RESOURCES}
    for e in events:
        if e.resource is not None:
            b[e.resource] += e.duration_s
    return b


# A runtime keeps a frame's activations in its own DDR buffers per frame in flight; DPU runtimes run
# a handful of threads (Vitis AI examples: 1 to 8).  assumption: 32 is beyond any real deployment,
# and bounds the computation's cost.
MAX_FRAMES_IN_FLIGHT = 32
SIMULATION_BUDGET = 100_000          # stage events per dispatch table's evaluation

# Canonical stage times (per resource; None is waiting) the dispatch tables are derived at: every
# ratio of 1/4, 1 and 4 among the three (19), for up to 4 frames in flight; beyond, the ratios of 1
# and 4 (7), and only the admission counts in ``ADMISSIONS``.  assumption: wide enough that on the
# zoo's chains the best table is within a few per cent of what a first-come first-served runtime
# reaches at the actual times (often better: tests/hwsim/test_timeline.py), small enough to stay
# well under a second per estimate; a table is derived once per chain structure (cached).
def _canonical(ratios: tuple[float, ...]) -> tuple[tuple[tuple[str | None, float], ...], ...]:
    out: dict[tuple, None] = {}
    for a in ratios:
        for b in ratios:
            for c in ratios:
                m = min(a, b, c)
                out[(("PL", a / m), ("PS", b / m), (None, c / m))] = None
    return tuple(out)


CANONICAL = _canonical((0.25, 1.0, 4.0))
CANONICAL_MANY = _canonical((1.0, 4.0))
ADMISSIONS = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)
# From 3 to 8 frames in flight, also tables derived at stage times drawn at random (1/4, 1 or 4 per
# stage) from a generator seeded by the chain's resources and k alone: more orders to choose from,
# still none chosen by the actual times.  assumption: 8 per admission count brought the zoo's
# chains to or below the first-come first-served period at 3 to 8 frames in flight (e.g.
# mobilenet_v2: its PL bound from 4 frames in flight on), at a fraction of a second.
RANDOM_TABLES = 8


def _canonical_times(resources: tuple[str | None, ...], k: int) -> list[tuple[float, ...]]:
    import random
    out = [tuple(dict(c)[r] for r in resources) for c in (CANONICAL if k <= 4 else CANONICAL_MANY)]
    if 3 <= k <= 8:
        for i in range(RANDOM_TABLES):
            rng = random.Random(f"{k}:{i}:{resources}")
            out.append(tuple(rng.choice((0.25, 1.0, 4.0)) for _ in resources))
    return out


DERIVE_BUDGET = 8_000                # dispatched stages per table derivation (not repeated by then: no table)

Op = tuple[int, int]                 # (frame, stage index)


@dataclass(frozen=True)
class Table:
    """A dispatch table for ``k`` frames in flight: ``prefix`` once, then ``block`` forever, each
    repetition with every frame index advanced by ``shift``.  Every stage of every frame appears
    once, in an order consistent with the chain (a frame's stages in order; frame n + k's first
    after frame n's last), so the earliest schedule that follows it exists and is unique."""
    k: int
    prefix: tuple[Op, ...]
    block: tuple[Op, ...]
    shift: int


def _derive(resources: tuple[str | None, ...], k: int, times: tuple[float, ...]) -> Table | None:
    """The order a first-come first-served runtime (earliest ready first, ties to the older frame)
    settles into when stage j lasts ``times[j]`` (canonical times, never the actual ones):
    dispatched until its state (every in-flight frame's next stage and ready time, every resource's
    free time, relative to a frame completion) repeats, which makes every later dispatch repeat
    with it; ``None`` if it has not within ``DERIVE_BUDGET`` stages."""
    return _derive_cached(resources, k, times)


@functools.lru_cache(maxsize=1024)
def _derive_cached(resources: tuple[str | None, ...], k: int, times: tuple[float, ...]) -> Table | None:
    chain = list(zip(resources, times))
    m = len(chain)
    latency = math.fsum(d for _, d in chain)
    quantum = latency * 1e-9
    free: dict[str, float] = {}
    heap = [(0.0, f, 0) for f in range(k)]
    heapq.heapify(heap)
    seen: dict[tuple, tuple[int, int]] = {}
    ops: list[Op] = []
    nxt = k
    while len(ops) < DERIVE_BUDGET:
        ready, f, j = heapq.heappop(heap)
        res, d = chain[j]
        start = ready if res is None else max(ready, free.get(res, 0.0))
        end = start + d
        if res is not None:
            free[res] = end
        ops.append((f, j))
        if j + 1 < m:
            heapq.heappush(heap, (end, f, j + 1))
            continue
        heapq.heappush(heap, (end, nxt, 0))
        nxt += 1
        oldest = min(e[1] for e in heap)
        lo = min(e[0] for e in heap)
        state = (tuple(sorted((round((t - end) / quantum), g - oldest, s) for t, g, s in heap)),
                 tuple(sorted((str(r), round((max(t, lo) - end) / quantum)) for r, t in free.items())))
        if state in seen:
            i0, o0 = seen[state]
            return Table(k, tuple(ops[:i0]), tuple(ops[i0:]), oldest - o0)
        seen[state] = (len(ops), oldest)
    return None


class _Run:
    """The earliest schedule of ``chain`` that follows a table: each stage starts when its frame's
    previous stage (for a first stage: the frame k before it) and its resource's previous stage
    are done."""

    def __init__(self, chain: list[tuple[str | None, float]], k: int, record: int = 0):
        self.chain, self.k, self.record = chain, k, record
        self.last: dict[int, float] = {}          # frame -> end of its latest stage so far
        self.free: dict[str, float] = {}
        self.starts: dict[int, list[float]] = {}  # the first ``record`` frames' stage starts

    def run(self, f: int, j: int) -> None:
        res, d = self.chain[j]
        ready = self.last[f] if j else (self.last[f - self.k] if f >= self.k else 0.0)
        start = ready if res is None else max(ready, self.free.get(res, 0.0))
        end = start + d
        if res is not None:
            self.free[res] = end
        self.last[f] = end
        if f < self.record:
            self.starts.setdefault(f, []).append(start)


def _evaluate(chain: list[tuple[str | None, float]], table: Table, record: int = 0) -> tuple[float, _Run]:
    """The exact steady-state period of the earliest schedule that follows ``table``: the block is
    repeated until the state (every recent frame's latest end, every resource's free time, relative
    to the latest of them) repeats, and from there on it repeats for ever (the periodic regime of a
    max-plus system); the period is the time between the two equal states over the frames the
    blocks in between advanced.  A state that has not repeated within the budget (not seen in
    practice) gives the mean over the second half of the run."""
    latency = math.fsum(d for _, d in chain)
    quantum = latency * 1e-9
    r = _Run(chain, table.k, record)
    for f, j in table.prefix:
        r.run(f, j)
    lo = min(f for f, _ in table.block) - table.k
    hi = max(f for f, _ in table.block)
    seen: dict[tuple, tuple[int, float]] = {}
    refs: list[float] = []
    cap = max(8, SIMULATION_BUDGET // len(table.block))
    b = 0
    while b < cap or (record and any(len(r.starts.get(f, ())) < len(chain) for f in range(record))):
        s = b * table.shift
        for f, j in table.block:
            r.run(f + s, j)
        frames = range(lo + s, hi + s + 1)
        ref = max(r.last[f] for f in frames if f in r.last)
        refs.append(ref)
        state = (tuple(None if f not in r.last else round((r.last[f] - ref) / quantum) for f in frames),
                 tuple(sorted((x, round((t - ref) / quantum)) for x, t in r.free.items())))
        for f in [f for f in r.last if f < lo + s]:
            del r.last[f]
        b += 1
        if b >= cap:
            continue
        if state in seen and not (record and any(len(r.starts.get(f, ())) < len(chain) for f in range(record))):
            b0, r0 = seen[state]
            return (ref - r0) / ((b - 1 - b0) * table.shift), r
        seen.setdefault(state, (b - 1, ref))
    half = len(refs) // 2
    return (refs[-1] - refs[half - 1]) / ((len(refs) - half) * table.shift), r


def _check(chain: list[tuple[str | None, float]], frames_in_flight: int) -> tuple[list[tuple[str | None, float]], float, float]:
    if isinstance(frames_in_flight, bool) or not isinstance(frames_in_flight, int) or frames_in_flight < 1:
        raise ValueError(f"frames_in_flight must be a positive integer, not {frames_in_flight!r}")
    if frames_in_flight > MAX_FRAMES_IN_FLIGHT:
        raise ValueError(f"frames_in_flight must be at most {MAX_FRAMES_IN_FLIGHT}, not {frames_in_flight}")
    if any(d < 0 for _, d in chain):
        raise ValueError("a stage has a negative duration")
    # stages of no duration stay: they keep their place in a dispatch table, so the tables (which
    # depend on the sequence of resources) do not change when a stage's time falls to 0
    chain = list(chain)
    latency = math.fsum(d for _, d in chain)
    per_resource: dict[str, float] = {}
    for r, d in chain:
        if r is not None:
            per_resource[r] = per_resource.get(r, 0.0) + d
    return chain, latency, max(per_resource.values(), default=0.0)


def _best(chain: list[tuple[str | None, float]], frames_in_flight: int, latency: float,
          busiest: float) -> tuple[float, Table | None]:
    best, table = latency, None                        # one frame at a time: exactly the latency
    resources = tuple(r for r, _ in chain)
    for k in ADMISSIONS:
        if k > frames_in_flight or best <= max(busiest, latency / k) * (1 + 1e-12):
            break                                      # nothing more in flight can do better
        for times in _canonical_times(resources, k):
            t = _derive(resources, k, times)
            if t is None:
                continue
            p, _ = _evaluate(chain, t)
            if p < best * (1 - 1e-12):
                best, table = p, t
    return best, table


def pipeline_period(chain: list[tuple[str | None, float]], frames_in_flight: int) -> float:
    """Steady-state seconds per frame of the chain with up to ``frames_in_flight`` frames overlapping:
    the best over the dispatch tables of the module docstring, each exact (its periodic regime).
    Non-decreasing in every stage's duration, non-increasing in ``frames_in_flight``.

    Bounds (checked, an ``AssertionError`` if a schedule ever broke them): never below the busiest
    resource's time per frame, never below latency / frames_in_flight (Little's law: each frame is
    in the system for at least the latency), never above the latency.
    """
    chain, latency, busiest = _check(chain, frames_in_flight)
    if not latency > 0:
        return 0.0
    best, _ = _best(chain, frames_in_flight, latency, busiest)
    tol = 1e-9 * latency
    if not (max(busiest, latency / frames_in_flight) - tol <= best <= latency + tol):
        raise AssertionError(f"pipeline period {best!r} outside [max(busiest {busiest!r}, latency/"
                             f"{frames_in_flight}), latency {latency!r}]")
    return max(best, busiest, latency / frames_in_flight)


def schedule(chain: list[tuple[str | None, float]], frames_in_flight: int,
             frames: int) -> tuple[list[list[float]], float, int]:
    """The schedule ``pipeline_period`` takes its period from: the start of every stage of the
    first ``frames`` frames (per frame, in chain order), that period, and the frames it keeps in
    flight (1 when one at a time is best: frame n + 1 starts when frame n ends)."""
    chain, latency, busiest = _check(chain, frames_in_flight)
    if not latency > 0:
        return [[0.0] * len(chain) for _ in range(frames)], 0.0, 1
    best, table = _best(chain, frames_in_flight, latency, busiest)
    if table is None:
        starts, t = [], 0.0
        for _ in range(frames):
            row = []
            for _, d in chain:
                row.append(t)
                t += d
            starts.append(row)
        return starts, latency, 1
    _, run = _evaluate(chain, table, record=frames)
    return [run.starts[f] for f in range(frames)], max(best, busiest, latency / frames_in_flight), table.k
