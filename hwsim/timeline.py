"""One frame as a chain of events, its latency, and the pipelined throughput.

Every event occupies one resource: ``PL`` (the accelerator: PL layers), ``PS`` (the ARM cores:
fallback ops, cache maintenance, starting a PL segment), or none (pure waiting: the interrupt and
wake-up latency at the end of a PL segment, during which the cores may serve another frame).

Latency: a frame's events run strictly one after another (each needs its predecessor's data), so
the latency is the sum of their durations.

Throughput: up to ``frames_in_flight`` frames are in the pipeline at once (frame n+1 may start
when frame n+1-frames_in_flight has finished).  Each resource serves one event at a time, first
come (earliest ready) first served, ties to the older frame.  ``pipeline_period`` simulates this
event by event until the schedule repeats and returns its exact steady-state time between frame
completions; with one frame in flight it is exactly the latency, and it is never below the busiest
resource's time per frame nor below latency / frames in flight.  The schedule is greedy (a list
schedule), so it shows Graham's timing anomalies (R. L. Graham, "Bounds on multiprocessing timing
anomalies", SIAM J. Appl. Math. 17(2), 1969): with three or more frames in flight a shorter stage
(a faster PL clock) can lengthen the steady-state period by a few percent; ``tests/fuzz`` pins an
example.  An optimal cyclic schedule would not, but a first-come first-served runtime does.
"""

from __future__ import annotations

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


def pipeline_period(chain: list[tuple[str | None, float]], frames_in_flight: int, frames: int | None = None) -> float:
    """Steady-state seconds per frame of the chain with up to ``frames_in_flight`` frames overlapping.

    A runtime allowed ``frames_in_flight`` frames may keep fewer in flight, so the result is the
    best steady state over 1..frames_in_flight admitted frames (non-increasing in
    ``frames_in_flight``).  Each steady state is exact: the schedule is simulated until the
    system's state (every in-flight frame's next stage and its ready time, every resource's free
    time, all relative to the moment a frame completes) repeats, which makes every later completion
    repeat with it; the period is the time between the two equal states over the frames completed
    in between.  ``frames`` caps the simulated frames per admission count (default: 4000 or
    ``SIMULATION_BUDGET`` stage events, whichever is fewer); a schedule that has not repeated by then (not seen in practice) falls
    back to the mean completion spacing over the second half of the run, held to the bounds below.  Cost: at most
    ``frames_in_flight x SIMULATION_BUDGET`` heap operations (under a second at the limit,
    ``MAX_FRAMES_IN_FLIGHT``, which the configuration schema holds ``ps.pipeline_frames`` to).

    Bounds (checked, an ``AssertionError`` if the simulation ever broke them): never below the
    busiest resource's time per frame, never below latency / frames_in_flight (Little's law: each
    frame is in the system for at least the latency), never above the latency.
    """
    if isinstance(frames_in_flight, bool) or not isinstance(frames_in_flight, int) or frames_in_flight < 1:
        raise ValueError(f"frames_in_flight must be a positive integer, not {frames_in_flight!r}")
    if frames_in_flight > MAX_FRAMES_IN_FLIGHT:
        raise ValueError(f"frames_in_flight must be at most {MAX_FRAMES_IN_FLIGHT}, not {frames_in_flight}")
    if any(d < 0 for _, d in chain):
        raise ValueError("a stage has a negative duration")
    chain = [(r, d) for r, d in chain if d > 0]
    if not chain:
        return 0.0
    latency = math.fsum(d for _, d in chain)
    per_resource: dict[str, float] = {}
    for r, d in chain:
        if r is not None:
            per_resource[r] = per_resource.get(r, 0.0) + d
    busiest = max(per_resource.values(), default=0.0)
    cap = frames or max(4 * frames_in_flight, min(MAX_SIMULATED_FRAMES, SIMULATION_BUDGET // len(chain)))
    best = latency                                    # one frame at a time: exactly the latency
    for f in range(2, frames_in_flight + 1):
        floor = max(busiest, latency / f)
        if best <= floor * (1 + 1e-12):
            break                                     # nothing more in flight can do better
        best = min(best, _steady_period(chain, f, cap))
    tol = 1e-9 * latency
    if not (max(busiest, latency / frames_in_flight) - tol <= best <= latency + tol):
        raise AssertionError(f"pipeline period {best!r} outside [max(busiest {busiest!r}, latency/"
                             f"{frames_in_flight}), latency {latency!r}]")
    return max(best, busiest, latency / frames_in_flight)


# A runtime keeps a frame's activations in its own DDR buffers per frame in flight; DPU runtimes run
# a handful of threads (Vitis AI examples: 1 to 8).  assumption: 32 is beyond any real deployment,
# and bounds the simulation's cost.
MAX_FRAMES_IN_FLIGHT = 32
MAX_SIMULATED_FRAMES = 4000
SIMULATION_BUDGET = 100_000          # stage events per admission count, when ``frames`` is not given


def _steady_period(chain: list[tuple[str | None, float]], in_flight: int, cap: int) -> float:
    """The exact steady-state period of ``in_flight`` frames circulating through ``chain``: each
    resource serves one stage at a time, earliest ready first, ties to the older frame; frame
    n + in_flight is admitted when frame n completes."""
    latency = math.fsum(d for _, d in chain)
    quantum = latency * 1e-9                            # states equal to this are equal
    free: dict[str, float] = {}
    heap = [(0.0, f, 0) for f in range(in_flight)]
    heapq.heapify(heap)
    seen: dict[tuple, tuple[int, float]] = {}
    completions: list[float] = []
    nxt = in_flight
    while len(completions) < cap:
        ready, f, j = heapq.heappop(heap)
        res, d = chain[j]
        start = ready if res is None else max(ready, free.get(res, 0.0))
        end = start + d
        if res is not None:
            free[res] = end
        if j + 1 < len(chain):
            heapq.heappush(heap, (end, f, j + 1))
            continue
        completions.append(end)
        heapq.heappush(heap, (end, nxt, 0))
        nxt += 1
        # the state at this completion, relative to its time and to the oldest frame in flight
        # (a resource free before the earliest pending ready time is as good as free then)
        oldest = min(e[1] for e in heap)
        lo = min(e[0] for e in heap)
        state = (tuple(sorted((round((t - end) / quantum), g - oldest, s) for t, g, s in heap)),
                 tuple(sorted((r, round((max(t, lo) - end) / quantum)) for r, t in free.items())))
        k = len(completions)
        if state in seen:
            k0, t0 = seen[state]
            return (end - t0) / (k - k0)
        seen[state] = (k, end)
    # Not repeated within the cap: the mean spacing over the second half, whose window error (a
    # clump of up to in_flight completions at either end) can take it below the bounds it obeys.
    half = len(completions) // 2
    mean = (completions[-1] - completions[half - 1]) / (len(completions) - half)
    busiest = max([math.fsum(d for r, d in chain if r == x) for x in {r for r, _ in chain} - {None}], default=0.0)
    return max(mean, busiest, latency / in_flight)
