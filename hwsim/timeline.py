"""One frame as a chain of events, its latency, and the pipelined throughput.

Every event occupies one resource: ``PL`` (the accelerator: PL layers), ``PS`` (the ARM cores:
fallback ops, cache maintenance, starting a PL segment), or none (pure waiting: the interrupt and
wake-up latency at the end of a PL segment, during which the cores may serve another frame).

Latency: a frame's events run strictly one after another (each needs its predecessor's data), so
the latency is the sum of their durations.

Throughput: up to ``frames_in_flight`` frames are in the pipeline at once (frame n+1 may start
when frame n+1-frames_in_flight has finished).  Each resource serves one event at a time, first
come (earliest ready) first served, ties to the older frame.  ``pipeline_period`` simulates this
event by event for enough frames to reach the steady state and returns the mean time between frame
completions (leaving out the final drain); with one frame in flight it is exactly the latency, and it is never below the busiest
resource's time per frame.
"""

from __future__ import annotations

import heapq
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
    """Steady-state seconds per frame of the chain with ``frames_in_flight`` frames overlapping."""
    if frames_in_flight < 1:
        raise ValueError("frames_in_flight must be at least 1")
    if not chain:
        return 0.0
    if frames_in_flight == 1:
        return sum(d for _, d in chain)
    n = frames or max(12, 6 * frames_in_flight)
    if n < 2 * frames_in_flight + 2:
        raise ValueError("simulate at least 2 x frames_in_flight + 2 frames")
    free: dict[str, float] = {}
    done = [0.0] * n
    heap = [(0.0, f, 0) for f in range(min(frames_in_flight, n))]
    heapq.heapify(heap)
    while heap:
        ready, f, j = heapq.heappop(heap)
        res, d = chain[j]
        start = ready if res is None else max(ready, free.get(res, 0.0))
        end = start + d
        if res is not None:
            free[res] = end
        if j + 1 < len(chain):
            heapq.heappush(heap, (end, f, j + 1))
        else:
            done[f] = end
            if f + frames_in_flight < n:
                heapq.heappush(heap, (end, f + frames_in_flight, 0))
    # the last frames_in_flight frames meet no later frames (a drain, not the steady state)
    last = n - frames_in_flight - 1
    k = last // 2
    return (done[last] - done[last - k]) / k
