"""Frame rate of a network on a board: ``estimate(model, ...)`` -> ``Estimate``.

The plan (``mapper.partition``) gives PL and PS segments in execution order and the tensors that
cross between them.  One frame is the chain

    CPU pre-processing of the input (host_pre_post)
    for each segment:  its incoming transfers (cache maintenance on the PS)
                       PL: per invocation (the runtime's granularity: the segment, each layer or each
                           tile) start (software) -> the layers' tile schedules -> completion
                       PS: every op on the ARM cores
    then the frame output's transfers, and the CPU post-processing (softmax, top-k)

(``hwsim.pl``, ``hwsim.ps``, ``hwsim.transfer``, ``hwsim.runtime``, ``hwsim.timeline``).  ``latency_ms``
is the chain's length; ``fps`` the pipelined throughput with the runtime's ``frames_in_flight``;
``op_count_fps`` the op-count estimate: total MACs / (the PL's peak MACs per cycle x PL clock), the
PL's peak being every DSP slice at its INT8 best (``resources.device_peak_macs_per_cycle``);
``array_op_count_fps`` the same at this accelerator's own peak (its engines' multipliers).

Everything adds up: per-layer PL cycles = compute + stall cycles (integers); breakdown
``pl_compute`` / ``pl_memory_stall`` are the layers' sums, ``ps_compute`` the PS ops' sum,
``transfer`` the transfers' sum, ``sync`` the syncs' sum, ``host_pre_post`` the pre/post records'
sum, and ``latency_ms`` the sum of the breakdown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mapper.plan import Plan

from .config import Config, load
from .errors import HwsimError
from .memory import MemoryModel, ddr_footprint
from .pl import Tiler, pl_check, simulate_segment
from .resources import accel_cores, accel_resources, cfg_misfit, device_peak_macs_per_cycle, resource_source
from .ps import PSModel
from .records import LayerRecord, PLLayerRecord, PSOpRecord, SyncRecord, TransferRecord
from .runtime import Runtime, host_pre_post
from .timeline import Event, busy, pipeline_period, place, stages
from .transfer import TransferModel

# JSON keys renamed after 0.1.0 ("naive" also names a placement policy in the same tables): the old
# names are written alongside the new ones in Estimate.summary()/to_json() for one release, then removed
DEPRECATED_KEYS = {"naive_fps": "op_count_fps", "array_peak_fps": "array_op_count_fps",
                   "naive_over_fps": "op_count_over_fps"}
BREAKDOWN = ("pl_compute", "pl_memory_stall", "ps_compute", "transfer", "sync", "host_pre_post")


@dataclass
class Estimate:
    model: str
    board: str
    accel: str
    policy: str
    input_shape: list[int]
    fps: float
    latency_ms: float
    period_ms: float
    op_count_fps: float | None
    breakdown_ms: dict[str, float]
    busy_ms: dict[str, float]
    layers: list[LayerRecord]               # PL layers and PS ops in execution order (hwsim.records)
    transfers: list[TransferRecord]
    syncs: list[SyncRecord]
    timeline: list[dict[str, Any]]
    segments: list[dict[str, Any]]          # the plan's PL/PS segments (device, ops, MACs, PS reasons)
    frames_in_flight: int
    total_macs: int
    params: dict[str, Any] = field(repr=False, default_factory=dict)
    array_op_count_fps: float | None = None     # the op count at this accelerator's peak (its engines' multipliers)
    resources: dict[str, float] = field(default_factory=dict)   # the accelerator's DSP/LUT/FF/BRAM36
    resources_source: str = ""              # published figures or this project's estimate
    misfit: str = ""                        # why it does not fit the board's device ("" if it fits)
    pipelined_ms: float | None = None       # the PL/PS pipeline's period before the DDR bound (period_ms >= it)
    ddr_bytes: dict[str, int] = field(default_factory=dict)     # one frame's DDR traffic, PL tiles and PS ops
    ddr_footprint: dict[str, Any] = field(default_factory=dict)  # hwsim.memory.ddr_footprint + the board's capacity
    runtime: str = ""                       # the runtime profile (hwsim.runtime)
    host: list[dict[str, Any]] = field(default_factory=list)    # CPU pre/post-processing records (host_pre_post)
    cores: int = 1                          # accelerator instances (accel.cores) the frames in flight share

    @property
    def bottleneck(self) -> str:
        return max(self.busy_ms, key=self.busy_ms.__getitem__)

    @property
    def ddr_share(self) -> float | None:
        """One frame's DDR time at the sustained rate (``busy_ms["DDR"]``) over the frame period:
        1.0 when the DDR bounds the frame rate."""
        d = self.busy_ms.get("DDR")
        return d / self.period_ms if d is not None and self.period_ms else None

    def by_kind(self) -> list[dict[str, Any]]:
        """Layers grouped by device and engine mode (PL) or op (PS), slowest first; PL groups carry
        their MAC-array utilisation (MACs / (the engine's peak MACs per cycle x cycles))."""
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for l in self.layers:
            kind = l.kind
            if kind == "fused":
                continue
            g = groups.setdefault((l.device, kind), {"device": l.device, "kind": kind, "layers": 0,
                                                     "macs": 0, "cycles": 0, "time_ms": 0.0})
            g["layers"] += 1
            g["macs"] += l.macs
            g["cycles"] += l.cycles
            g["time_ms"] += l.time_ms
        peaks = self.params.get("engine_peak_macs_per_cycle", {})
        for g in groups.values():
            if g["device"] == "PL" and g["kind"] in peaks and g["cycles"]:
                g["utilisation"] = g["macs"] / (peaks[g["kind"]] * g["cycles"])
        return sorted(groups.values(), key=lambda g: -g["time_ms"])

    def op_count_gap(self) -> dict[str, float] | None:
        """From the op-count estimate's frame time to the simulated one, ms per frame, in order:
        ``op_count`` (MACs at the PL's peak) + ``array_peak`` (this accelerator's peak is lower) +
        ``pl_below_peak`` + ``pl_memory_stall`` + ``ps_compute`` + ``transfer`` + ``sync`` +
        ``host_pre_post`` = ``latency_ms``; then ``pipelining`` (negative: what overlapping frames gives back) and
        ``ddr_bound`` (what the DDR's sustained rate takes back when PL and PS traffic together exceed
        it; usually 0) bring it to ``period_ms`` = 1000 / fps."""
        if not self.op_count_fps:
            return None
        ideal = 1e3 / self.op_count_fps
        array = 1e3 / self.array_op_count_fps if self.array_op_count_fps else ideal
        b = self.breakdown_ms
        pipelined = self.period_ms if self.pipelined_ms is None else self.pipelined_ms
        return {"op_count": ideal, "array_peak": array - ideal, "pl_below_peak": b["pl_compute"] - array,
                "pl_memory_stall": b["pl_memory_stall"], "ps_compute": b["ps_compute"],
                "transfer": b["transfer"], "sync": b["sync"], "host_pre_post": b["host_pre_post"],
                "pipelining": pipelined - self.latency_ms,
                "ddr_bound": self.period_ms - pipelined}

    def summary(self) -> dict[str, Any]:
        """The headline numbers, without the per-layer records; with the deprecated aliases
        (``DEPRECATED_KEYS``: ``naive_fps``, ``array_peak_fps``, ``naive_over_fps``) for one release."""
        s = {"model": self.model, "board": self.board, "accel": self.accel, "runtime": self.runtime,
                "policy": self.policy,
                "input_shape": self.input_shape, "fps": self.fps, "latency_ms": self.latency_ms,
                "period_ms": self.period_ms, "op_count_fps": self.op_count_fps, "array_op_count_fps": self.array_op_count_fps,
                "op_count_over_fps": (self.op_count_fps / self.fps) if self.op_count_fps and self.fps else None,
                "breakdown_ms": dict(self.breakdown_ms), "busy_ms": dict(self.busy_ms),
                "bottleneck": self.bottleneck, "frames_in_flight": self.frames_in_flight, "cores": self.cores,
                "total_macs": self.total_macs, "op_count_gap_ms": self.op_count_gap(),
                "resources": dict(self.resources), "resources_source": self.resources_source,
                "fits": not self.misfit, "misfit": self.misfit,
                "ddr_bytes": dict(self.ddr_bytes), "ddr_share": self.ddr_share,
                "ddr_footprint": dict(self.ddr_footprint)}
        return {**s, **{old: s[new] for old, new in DEPRECATED_KEYS.items()}}

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``hwsim estimate --json`` and the study's ``results.json``: the summary and
        every record (``hwsim.records``), the only place the records become dicts."""
        return {**self.summary(), "by_kind": self.by_kind(), "layers": [l.to_json() for l in self.layers],
                "transfers": [t.to_json() for t in self.transfers], "syncs": [s.to_json() for s in self.syncs], "host": self.host, "timeline": self.timeline,
                "segments": self.segments, "params": self.params}


def multi_core_period(chain: list[tuple[str | None, float]], threads: int, cores: int, ps_cores: int) -> float:
    """Steady-state seconds per frame of one frame's event ``chain`` (``timeline.stages``) with
    ``threads`` frames in flight on ``cores`` identical accelerator instances (``accel.cores``) and
    ``ps_cores`` ARM cores.

    Each thread runs whole frames and drives one accelerator instance; k = min(threads, cores)
    instances are busy, instance i serving m_i of the threads (round robin: threads // k, one more
    for the first threads % k).  Instance i with its m_i frames in flight is the one-accelerator
    pipeline ``timeline.pipeline_period(chain, m_i)``, whose "PS" resource is one ARM core
    (its frames' PS events one at a time; so at most ``ps_cores`` instances may be busy, and threads
    beyond them share their instance's core: conservative); the instances add their frame rates.  The
    DDR, shared by every instance, bounds the result in the caller (``estimate_plan``).  With one
    instance it is exactly ``pipeline_period(chain, threads)``."""
    if threads < 1 or cores < 1 or ps_cores < 1:
        raise HwsimError("threads, accelerator cores and PS cores must be positive")
    if not chain:
        return 0.0
    k = min(threads, cores)
    if k > ps_cores:
        raise HwsimError(f"{k} accelerator instances busy at once need as many ARM cores to drive them; "
                         f"the board has {ps_cores} (ps.cores)")
    rates = [1.0 / pipeline_period(chain, threads // k + (1 if i < threads % k else 0)) for i in range(k)]
    return 1.0 / math.fsum(rates)


def _binary_size(n: float) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def estimate_plan(plan: Plan, cfg: Config) -> Estimate:
    """Simulate one frame of ``plan`` on the board and accelerator of ``cfg``."""
    g = plan.graph
    if g is None:
        raise HwsimError("the plan carries no graph")
    pe = cfg.pe
    clock = cfg.clock_hz
    mem = MemoryModel.from_config(cfg)
    tiler = Tiler(pe, cfg.accel)
    ps = PSModel.from_config(cfg)
    tm = TransferModel.from_config(cfg)
    rt = Runtime.from_config(cfg)
    in_flight = rt.frames_in_flight
    by_name = {n.name: n for n in g.nodes}
    footprint = {**ddr_footprint(g), "capacity": int(cfg.ddr.capacity_gib * 2**30)}
    if footprint["total"] > footprint["capacity"]:
        raise HwsimError(
            f"{plan.model} at {'x'.join(map(str, g.shape(g.inputs[0])))} needs at least "
            f"{_binary_size(footprint['total'])} of DDR (weights {footprint['weights'] / 2**20:.1f} MiB + "
            f"{footprint['activations_peak'] / 2**20:.1f} MiB of activations live at {footprint['peak_at']}), more "
            f"than the {cfg.ddr.capacity_gib:g} GiB of {cfg.board_name} (ddr.capacity_gib)")

    nseg = len(plan.segments)
    incoming: dict[int, list] = {}
    for tr in plan.transfers:
        if not 0 <= tr.dst <= nseg:
            raise HwsimError(f"transfer of {tr.tensor!r} targets segment {tr.dst}; the plan has {nseg}")
        incoming.setdefault(tr.dst, []).append(tr)

    events: list[Event] = []
    layers: list[LayerRecord] = []
    transfers: list[TransferRecord] = []
    syncs: list[SyncRecord] = []
    pl_compute = pl_stall = 0
    ps_times: list[float] = []
    shared = frozenset(tr.tensor for tr in plan.transfers)     # tensors in buffers the PS and the PL share
    done_on = "PS" if rt.completion == "poll" else None          # a poll keeps a core busy; an interrupt does not
    host = host_pre_post(rt, ps, g, shared)
    for h in host:
        h["time_ms"] = h["time_s"] * 1e3

    def add_host(stage: str) -> None:
        for h in host:
            if h["stage"] == stage and h["time_s"]:
                events.append(Event("host", f"{stage}-processing {h['tensor']}", "PS", h["time_s"]))

    def start(seg: int, layer: str | None, n: int) -> None:
        t = n * tm.dma_setup_s
        syncs.append(SyncRecord(segment=seg, layer=layer, event="start", invocations=n, time_ms=t * 1e3))
        events.append(Event("sync", f"start PL {'segment ' + str(seg) if layer is None else layer}", "PS", t))

    def done(seg: int, layer: str | None, n: int) -> None:
        t = n * tm.irq_latency_s
        syncs.append(SyncRecord(segment=seg, layer=layer, event="done", invocations=n, time_ms=t * 1e3))
        events.append(Event("sync", f"PL {'segment ' + str(seg) if layer is None else layer} done", done_on, t))

    def add_transfers(dst: int) -> None:
        for tr in incoming.get(dst, []):
            t = tm.cache_s(tr)
            transfers.append(TransferRecord(src_device=tr.src_device, dst_device=tr.dst_device, tensor=tr.tensor,
                                            bytes=tr.bytes, src_segment=tr.src, dst_segment=tr.dst,
                                            buffer_mode=rt.buffer_mode, time_ms=t * 1e3))
            events.append(Event("transfer", f"{tr.src_device}->{tr.dst_device} {tr.tensor}", "PS", t))

    add_host("pre")
    for seg in plan.segments:
        add_transfers(seg.index)
        if seg.device == "PL":
            per_segment = rt.invocation == "segment"
            if per_segment:
                start(seg.index, None, 1)
            for l in simulate_segment(g, seg.nodes, tiler, mem, by_name):
                layers.append(PLLayerRecord.of(l, clock))
                pl_compute += l.compute_cycles
                pl_stall += l.stall_cycles
                n = 0 if per_segment or not l.cycles else (1 if rt.invocation == "layer" else l.tiles)
                if n:
                    start(seg.index, l.name, n)
                if l.cycles:
                    events.append(Event("pl", l.name, "PL", l.cycles / clock))
                if n:
                    done(seg.index, l.name, n)
            if per_segment:
                done(seg.index, None, 1)
        elif seg.device == "PS":
            for o in ps.segment(g, seg.nodes, by_name, shared):
                layers.append(PSOpRecord.of(o, ps.freq_hz))
                ps_times.append(o.time_s)
                if o.time_s:
                    events.append(Event("ps", o.name, "PS", o.time_s))
        else:
            raise HwsimError(f"segment {seg.index} has unknown device {seg.device!r}")
    add_transfers(nseg)
    add_host("post")

    breakdown = {
        "pl_compute": pl_compute / clock * 1e3,
        "pl_memory_stall": pl_stall / clock * 1e3,
        "ps_compute": math.fsum(ps_times) * 1e3,
        "transfer": math.fsum(t.time_ms for t in transfers),
        "sync": math.fsum(s.time_ms for s in syncs),
        "host_pre_post": math.fsum(h["time_ms"] for h in host),
    }
    latency_ms = math.fsum(breakdown.values())
    place(events)
    # The PL's tiles and the PS's ops each stream at most at the DDR's sustained rate, but when frames
    # overlap both stream at once: a frame can never take less than its DDR bytes at that rate.
    ddr_bytes = {d: sum(l.ddr_bytes for l in layers if l.device == d) for d in ("PL", "PS")}
    ddr_s = sum(ddr_bytes.values()) / (mem.ddr_bytes_per_cycle * clock)
    # one frame in flight: the period is the latency (summed once, so the two agree to the last bit);
    # several accelerator instances (accel.cores): multi_core_period
    cores = accel_cores(cfg.accel)
    if in_flight == 1:
        pipelined_s = latency_ms / 1e3
    elif cores == 1:
        pipelined_s = pipeline_period(stages(events), in_flight)
    else:
        pipelined_s = multi_core_period(stages(events), in_flight, cores, cfg.ps.cores)
    period_s = max(pipelined_s, ddr_s)
    if not period_s > 0:
        raise HwsimError(f"{plan.model} does no work on this board (every op is a view of its input, "
                         f"nothing crosses): there is no frame rate to estimate")
    total_macs = g.total_macs()
    device_peak = device_peak_macs_per_cycle(cfg.board)
    res = accel_resources(cfg)
    return Estimate(
        model=plan.model, board=cfg.board_name, accel=cfg.accel_name, policy=plan.policy,
        input_shape=list(g.shape(g.inputs[0])),
        fps=1.0 / period_s, latency_ms=latency_ms, period_ms=period_s * 1e3,
        op_count_fps=device_peak * clock / total_macs if total_macs else None,
        array_op_count_fps=pe.multipliers * clock / total_macs if total_macs else None,
        resources=res, resources_source=resource_source(cfg), misfit=cfg_misfit(cfg, res),
        breakdown_ms=breakdown, busy_ms={**{k: v * 1e3 for k, v in busy(events).items()}, "DDR": ddr_s * 1e3},
        pipelined_ms=pipelined_s * 1e3, ddr_bytes=ddr_bytes, ddr_footprint=footprint,
        layers=layers, transfers=transfers, syncs=syncs, timeline=[e.to_json() for e in events],
        segments=plan.to_json()["segments"], frames_in_flight=in_flight, total_macs=total_macs,
        runtime=cfg.runtime_name, host=host, cores=cores,
        params={"config": cfg.to_json(), "pe_peak_macs_per_cycle": pe.multipliers,
                "device_peak_macs_per_cycle": device_peak, "pe_dsps": pe.dsps,
                "engine_peak_macs_per_cycle": {"CONV": pe.pw_macs_per_cycle, "DW": pe.dw_macs_per_cycle},
                "memory": mem.to_json(), "ps": ps.to_json(), "transfer": tm.to_json(), "runtime": rt.to_json()},
    )


def estimate(model: str, *, board: str | None = None, accel: str | None = None,
             overrides: list[str] | tuple[str, ...] = (), input_size: int | None = None,
             policy: str = "naive", cfg: Config | None = None, runtime: str | None = None,
             fit_check: bool = False) -> Estimate:
    """Load ``model`` (zoo name or ONNX path), partition it for the accelerator, simulate a frame.

    ``fit_check``: first refuse an accelerator that does not fit the board's device, exactly as
    ``hwsim estimate`` does unless ``--no-fit-check`` (``hwsim.fitcheck.check_fit``; ``overrides``
    name the changed fields in its message).  Off by default: the study's what-if rows simulate an
    array that does not fit, on purpose."""
    from mapper.models import load_model
    from mapper.partition import POLICIES
    if policy not in POLICIES:
        raise HwsimError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1):
        raise HwsimError(f"--input-size must be a positive integer, not {input_size!r}")
    cfg = cfg or load(board, accel, overrides, runtime=runtime)
    if fit_check:
        from .fitcheck import check_fit
        check_fit(cfg, list(overrides))
    graph = load_model(model, input_size)
    return estimate_plan(plan_model(graph, cfg, policy), cfg)


def plan_model(graph, cfg: Config, policy: str = "naive") -> Plan:
    """The plan the cycle model can run: ``mapper.partition.partition`` with the tiler's and
    ``check_tile``'s answer to "can the PL run this node" (``hwsim.pl.pl_check``)."""
    from mapper.partition import partition
    return partition(graph, cfg.accel, policy, pl_check=pl_check(cfg.pe, cfg.accel))
