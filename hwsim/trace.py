"""The frame timeline as a Chrome trace-event JSON file (opens in Perfetto and chrome://tracing).

Format: the Trace Event Format's JSON object form (``{"traceEvents": [...], "displayTimeUnit":
"ms"}``), with complete events (``"ph": "X"``, ``ts`` and ``dur`` in microseconds) and metadata
events (``"ph": "M"``: ``process_name``, ``thread_name``, ``thread_sort_index``).

Process 1, "one frame": the estimate's own event chain (``Estimate.timeline``), so its length is
``latency_ms``.  One track (thread) per engine and resource, every event named as in the breakdown
(the layer, PS op, transfer or sync it is):

- ``PL conv array`` / ``PL depthwise engine``: PL layers by the engine mode they run in; each
  layer's ``args`` split it into ``compute_ms`` and ``stall_ms`` (the two PL breakdown terms);
- ``PS (ARM cores)``: fallback ops (``ps_compute``), cache maintenance of every crossing
  (``transfer``) and starting each PL segment (part of ``sync``);
- ``PL->PS interrupt``: the completion interrupt and wake-up of each PL segment (the rest of
  ``sync``; no resource is busy);
- ``DDR``: each PL layer's tile loads and stores and each PS op's bytes at the sustained DDR rate,
  from the start of the event that moves them (serialised on the track), summing to
  ``busy_ms["DDR"]``.

Process 2, "pipelined": with ``frames_in_flight`` > 1, the same events for a dozen frames or more,
at the starts of ``hwsim.timeline.schedule``: the dispatch table the estimate's pipelined period
comes from (one implementation), so the spacing of frame completions is that period.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import HwsimError
from .records import layer_from_json
from .timeline import schedule

PL_ENGINES = {"CONV": "PL conv array"}          # every other PL mode runs on the depthwise engine
DW_ENGINE = "PL depthwise engine"
TRACKS = ("PL conv array", DW_ENGINE, "PS (ARM cores)", "PL->PS interrupt", "DDR")
_TID = {name: i + 1 for i, name in enumerate(TRACKS)}
_CATEGORY = {"ps": "ps_compute", "transfer": "transfer", "sync": "sync", "pl": "pl", "host": "host_pre_post"}


def _track(e: dict[str, Any], mode: dict[str, str]) -> str:
    if e["kind"] == "pl":
        return PL_ENGINES.get(mode.get(e["name"], ""), DW_ENGINE)
    return "PL->PS interrupt" if e["resource"] is None else "PS (ARM cores)"


def _us(ms: float) -> float:
    return round(ms * 1e3, 6)


class _Writer:
    def __init__(self, est: Any):
        self.events: list[dict[str, Any]] = []
        self.layers = {l.name: l for l in est.layers}
        self.mode = {l.name: l.mode for l in est.layers if l.device == "PL"}
        total = sum(est.ddr_bytes.values())
        self.ms_per_byte = est.busy_ms.get("DDR", 0.0) / total if total else 0.0
        self.ddr_end: dict[int, float] = {}       # pid -> when its DDR track is next free (ms)

    def meta(self, pid: int, tid: int | None, name: str, value: Any) -> None:
        e = {"ph": "M", "pid": pid, "name": name, "args": {"name" if "name" in name else "sort_index": value}}
        if tid is not None:
            e["tid"] = tid
        self.events.append(e)

    def process(self, pid: int, title: str, tracks: dict[str, int]) -> None:
        self.meta(pid, None, "process_name", title)
        for name, tid in tracks.items():
            self.meta(pid, tid, "thread_name", name)
            self.meta(pid, tid, "thread_sort_index", tid)

    def frame(self, pid: int, placed: list[tuple[dict[str, Any], float]], frame: int | None,
              irq_tid: int) -> None:
        """Complete events for ``placed`` (timeline event, start in ms), plus their DDR traffic."""
        ddr_end = self.ddr_end.get(pid, 0.0)
        for e, start in placed:
            if e["time_ms"] <= 0:
                continue
            track = _track(e, self.mode)
            tid = irq_tid if track == "PL->PS interrupt" else _TID[track]
            args: dict[str, Any] = {"kind": e["kind"], "time_ms": e["time_ms"]}
            rec = self.layers.get(e["name"]) if e["kind"] in ("pl", "ps") else None
            if rec is not None and e["kind"] == "pl":
                args.update(compute_ms=rec.compute_ms, stall_ms=rec.stall_ms, mode=rec.mode,
                            tiles=rec.tiles, macs=rec.macs)
            elif rec is not None:
                args.update(compute_ms=rec.compute_ms, memory_ms=rec.memory_ms,
                            overhead_ms=rec.overhead_ms, macs=rec.macs)
            if frame is not None:
                args["frame"] = frame
            self.events.append({"ph": "X", "pid": pid, "tid": tid, "name": e["name"],
                                "cat": _CATEGORY[e["kind"]], "ts": _us(start), "dur": _us(e["time_ms"]),
                                "args": args})
            nbytes = 0
            if rec is not None:
                nbytes = rec.ddr_bytes
            if nbytes and self.ms_per_byte:
                at = max(start, ddr_end)
                d = nbytes * self.ms_per_byte
                ddr_end = at + d
                self.events.append({"ph": "X", "pid": pid, "tid": _TID["DDR"], "name": e["name"], "cat": "ddr",
                                    "ts": _us(at), "dur": _us(d),
                                    "args": {"bytes": nbytes, "time_ms": d, **({"frame": frame} if frame is not None
                                                                               else {})}})
        self.ddr_end[pid] = ddr_end


def _stages(timeline: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """Consecutive non-empty events on one resource, as ``hwsim.timeline.stages`` merges them."""
    out: list[tuple[str | None, list[dict[str, Any]]]] = []
    for e in timeline:
        if e["time_ms"] == 0:
            continue
        if out and out[-1][0] == e["resource"]:
            out[-1][1].append(e)
        else:
            out.append((e["resource"], [e]))
    return out


def pipelined_schedule(timeline: list[dict[str, Any]], in_flight: int,
                       frames: int | None = None) -> tuple[list[list[tuple[dict[str, Any], float]]], float]:
    """Each frame's events with their start (ms) when up to ``in_flight`` frames overlap, and the
    steady-state period (ms): ``hwsim.timeline.schedule``, the schedule ``pipeline_period`` (so the
    estimate's fps) comes from, on the same stages (``hwsim.timeline.stages``)."""
    chain = _stages(timeline)
    n = frames or max(12, 6 * in_flight)
    placed: list[list[tuple[dict[str, Any], float]]] = [[] for _ in range(n)]
    if not chain:
        return placed, 0.0
    starts, period, _ = schedule([(r, sum(e["time_ms"] for e in evs)) for r, evs in chain], in_flight, n)
    for f, row in enumerate(starts):
        for (_, evs), t in zip(chain, row):
            for e in evs:
                placed[f].append((e, t))
                t += e["time_ms"]
    return placed, period


class _View:
    """Attribute access to an estimate's JSON (``Estimate.to_json()``, what the study keeps)."""

    def __init__(self, d: dict[str, Any]):
        self.__dict__.update(d)
        self.layers = [layer_from_json(l) for l in d["layers"]]


def chrome_trace(est: Any, *, pipelined: bool = True) -> dict[str, Any]:
    """The trace-event JSON object of estimate ``est`` (an ``hwsim.estimate.Estimate`` or its
    ``to_json()``)."""
    if isinstance(est, dict):
        est = _View(est)
    w = _Writer(est)
    w.process(1, f"{est.model} one frame ({est.latency_ms:.2f} ms latency)", {t: _TID[t] for t in TRACKS})
    w.frame(1, [(e, e["start_ms"]) for e in est.timeline], None, _TID["PL->PS interrupt"])
    extra: dict[str, Any] = {}
    if pipelined and est.frames_in_flight > 1:
        frames, period = pipelined_schedule(est.timeline, est.frames_in_flight)
        irq = {f"PL->PS interrupt (frame slot {s})": 10 + s for s in range(est.frames_in_flight)}
        w.process(2, f"{est.model} pipelined, {est.frames_in_flight} frames in flight "
                     f"({period:.2f} ms/frame before the DDR bound)",
                  {**{t: _TID[t] for t in TRACKS if t != "PL->PS interrupt"}, **irq})
        for f, placed in enumerate(frames):
            w.frame(2, placed, f, 10 + f % est.frames_in_flight)
        extra = {"pipelined_frames": len(frames), "pipelined_period_ms": period}
    return {"traceEvents": w.events, "displayTimeUnit": "ms",
            "otherData": {"model": est.model, "board": est.board, "accel": est.accel, "policy": est.policy,
                          "fps": est.fps, "latency_ms": est.latency_ms, "breakdown_ms": dict(est.breakdown_ms),
                          "busy_ms": dict(est.busy_ms), **extra}}


def write_trace(est: Any, path: str | Path) -> Path:
    """Write ``chrome_trace(est)`` to ``path``; a path that cannot be written is a one-line error."""
    p = Path(path)
    try:
        if p.is_dir():
            raise HwsimError(f"trace file {str(p)!r} is a directory; give a file name")
        text = json.dumps(chrome_trace(est), allow_nan=False)
    except ValueError as e:
        raise HwsimError(f"cannot write trace {str(p)!r}: {e}") from None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    except OSError as e:
        raise HwsimError(f"cannot write trace {str(p)!r}: {e.strerror or e}") from None
    return p
