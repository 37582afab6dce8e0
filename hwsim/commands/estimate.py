"""``hwsim estimate``: frame rate, latency and where the time goes for one model on one board."""

from __future__ import annotations

import argparse

from ..cli import add_fit_arg, add_target_args, check_fit, print_json
from ..records import PLLayerRecord, PSOpRecord

TOP_LAYERS = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("estimate", help="cycle-level frame rate and latency of a model on a board",
                       description=__doc__.splitlines()[0])
    p.add_argument("model", metavar="MODEL", help="zoo model name or path to an .onnx file")
    add_target_args(p)
    add_fit_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--trace", metavar="FILE", help="also write the frame timeline as a Chrome trace-event "
                                                    "JSON file (open it in Perfetto or chrome://tracing)")
    p.set_defaults(func=run)


def _other(policy: str) -> str:
    return "optimized" if policy == "naive" else "naive"


def run(args: argparse.Namespace) -> int:
    from mapper.models import import_note, is_onnx_path, load_model

    from ..config import load
    from ..estimate import BREAKDOWN, estimate
    from ..resources import DSP_CLOCK_MULTIPLE, fit_verdict, fmt_count, int8_macs_per_dsp

    cfg = load(args.board, args.accel, args.overrides, runtime=args.runtime)
    check_fit(cfg, args.overrides, args.no_fit_check)
    est = estimate(args.model, input_size=args.input_size, policy=args.policy, cfg=cfg)
    other = estimate(args.model, input_size=args.input_size, policy=_other(args.policy), cfg=cfg)
    dropped: list[str] = []
    note, quantisation = None, None
    if is_onnx_path(args.model):      # what the importer left out (nodes no output depends on)
        graph = load_model(args.model, args.input_size)
        dropped, note = list(graph.meta.get("dropped_nodes", [])), import_note(graph)
        quantisation = graph.meta.get("quantisation")
    if args.trace:
        from ..trace import write_trace
        write_trace(est, args.trace)
    alt = {"policy": other.policy, "fps": other.fps, "latency_ms": other.latency_ms,
           "breakdown_ms": other.breakdown_ms}
    if args.json:
        print_json({**est.to_json(), "other_policy": alt, "dropped_nodes": dropped,
                    "quantisation": quantisation})
        return 0
    shape = "x".join(str(d) for d in est.input_shape)
    clock = cfg.accel.raw()["clock_mhz"]        # as the file (or --set) spells it: 100.0, 150
    print(f"{est.model} ({shape}) on {est.board} / {est.accel} at {clock} MHz, policy {est.policy}, "
          f"runtime {est.runtime}")
    rt = est.params["runtime"]
    done = (f"{rt['completion']} {rt['completion_s'] * 1e6:g} us" if rt["completion_s"] else f"{rt['completion']} (in the start)")
    print(f"  runtime     {rt['buffer_mode']} shared buffers; per PL {rt['invocation']}: start {rt['invoke_s'] * 1e6:g} us, "
          f"completion {done}; {rt['frames_in_flight']} frame(s) in flight; fallback ops in {rt['fallback']}")
    how = (f"pipelined, {est.frames_in_flight} frames in flight" if est.frames_in_flight > 1
           else "one frame at a time (1 frame in flight)")
    if est.cores > 1:      # accel.cores: identical accelerator instances (hwsim.estimate.multi_core_period)
        how += f" on {est.cores} accelerator cores"
    print(f"  fps         {est.fps:8.2f}   {how}; "
          f"bottleneck {est.bottleneck} busy {est.busy_ms[est.bottleneck]:.1f} ms/frame")
    print(f"  latency     {est.latency_ms:8.2f} ms")
    if note:
        print(f"  {note}")
    if est.op_count_fps:
        dev, dsp, pack = est.params["device_peak_macs_per_cycle"], cfg.board.dsp, int8_macs_per_dsp(cfg.board)
        how = f"{dsp:,} DSPs" + (f" x {pack} INT8 MACs packed" if pack > 1 else "") + \
            f" x {DSP_CLOCK_MULTIPLE} double-pumped, as the DPU's"
        print(f"  op_count_fps {est.op_count_fps:7.2f}   op count: {est.total_macs / 1e9:.2f} GMAC at the "
              f"{cfg.board.device}'s peak, {dev:,} MAC/cycle ({how}) x {clock} MHz "
              f"= {est.op_count_fps / est.fps:.1f}x the simulated fps")
    if est.array_op_count_fps:
        print(f"  array_fps   {est.array_op_count_fps:8.2f}   array_op_count_fps, the op count at this accelerator's peak instead: "
              f"{est.params['pe_peak_macs_per_cycle']:,} MAC/cycle x {clock} MHz "
              f"= {est.array_op_count_fps / est.fps:.1f}x the simulated fps")
    if est.resources:
        parts = []
        for k, name in (("dsp", "DSP"), ("lut", "LUT"), ("ff", "FF"), ("bram36", "BRAM36"), ("uram", "URAM")):
            if k in est.resources:
                v, avail = est.resources[k], getattr(cfg.board, k)
                pct = f" ({100 * v / avail:.1f}%)" if avail else ""
                parts.append(f"{fmt_count(v)} {name}{pct}")
        print(f"  resources   {', '.join(parts)}: {fit_verdict(cfg, est.resources)}; {est.resources_source}")
    print("  where one frame's time goes:")
    for k in BREAKDOWN:
        v = est.breakdown_ms[k]
        print(f"    {k:<16} {v:9.2f} ms  {100 * v / est.latency_ms:5.1f}%")
    gap = est.op_count_gap()
    if gap:
        print(f"  vs the op count ({gap['op_count']:.2f} ms/frame of MACs at the PL's peak): this array has "
              f"{est.params['pe_peak_macs_per_cycle']:,} of those MAC/cycle +{gap['array_peak']:.2f} ms, its engines run "
              f"below that +{gap['pl_below_peak']:.2f} ms, wait for DDR +{gap['pl_memory_stall']:.2f}, the PS "
              f"+{gap['ps_compute']:.2f}, cache maintenance +{gap['transfer']:.2f}, start/completion +{gap['sync']:.2f}, "
              f"CPU pre/post-processing +{gap['host_pre_post']:.2f}"
              + (f"; overlapping frames gives back {-gap['pipelining']:.2f} ms/frame" if est.frames_in_flight > 1
                 else "; one frame in flight, nothing overlaps")
              + (f", the DDR takes back +{gap['ddr_bound']:.2f}" if gap["ddr_bound"] > 0 else ""))
    sustained = est.params["memory"]["ddr_bytes_per_cycle"] * cfg.clock_hz
    bound = (": it bounds the frame rate (PL and PS traffic of overlapping frames share it)"
             if est.pipelined_ms < est.period_ms else " of the frame period")
    print(f"  DDR traffic {sum(est.ddr_bytes.values()) / 1e6:.2f} MB/frame (PL tiles {est.ddr_bytes['PL'] / 1e6:.2f}, "
          f"PS ops {est.ddr_bytes['PS'] / 1e6:.2f}) = {est.busy_ms['DDR']:.2f} ms at the sustained "
          f"{sustained / 1e9:.2f} GB/s, {100 * est.ddr_share:.0f}%{bound}")
    fp = est.ddr_footprint
    print(f"  DDR space   at least {fp['total'] / 2**20:.1f} MiB (weights {fp['weights'] / 2**20:.1f} + activations live "
          f"at {fp['peak_at']} {fp['activations_peak'] / 2**20:.1f}), {100 * fp['total'] / fp['capacity']:.1f}% of "
          f"the board's {fp['capacity'] / 2**30:g} GiB")
    print("  by engine / op:")
    for g in est.by_kind():
        util = f"  {100 * g['utilisation']:5.1f}% of the engine's peak MACs" if "utilisation" in g else ""
        print(f"    {g['device']} {g['kind']:<16} {g['layers']:4d} layers {g['macs'] / 1e6:9.1f} MMAC "
              f"{g['time_ms']:9.2f} ms{util}")
    print(f"  top {TOP_LAYERS} layers:")
    for l in sorted(est.layers, key=lambda l: -l.time_ms)[:TOP_LAYERS]:
        extra = (f"compute {l.compute_ms:.2f} + stall {l.stall_ms:.2f}" if isinstance(l, PLLayerRecord)
                 else f"compute {l.compute_ms:.2f} / memory {l.memory_ms:.2f} + overhead {l.overhead_ms:.3f}")
        print(f"    {l.name:<28} {l.op:<15} {l.device}  {l.time_ms:7.2f} ms  ({extra})")
    n_tr = len(est.transfers)
    mb = sum(t.bytes for t in est.transfers) / 1e6
    print(f"  {n_tr} PS<->PL transfers, {mb:.2f} MB, {est.breakdown_ms['transfer']:.2f} ms cache maintenance; "
          f"{sum(s.invocations for s in est.syncs if s.event == 'start')} PL invocations "
          f"(per {rt['invocation']}) {est.breakdown_ms['sync']:.2f} ms start/completion")
    shared = [l for l in est.layers if isinstance(l, PSOpRecord) and l.touches_shared]
    if shared:
        r = sum(l.shared_read_bytes for l in shared) / 1e6
        w = sum(l.shared_write_bytes for l in shared) / 1e6
        print(f"  PS ops on {rt['buffer_mode']} shared buffers: {len(shared)} ops read {r:.2f} MB at "
              f"{shared[0].shared_read_bytes_per_s / 1e9:.2f} GB/s and write {w:.2f} MB at "
              f"{shared[0].shared_write_bytes_per_s / 1e9:.2f} GB/s (private data at "
              f"{est.params['ps']['mem_bytes_per_s'] / 1e9:.2f} GB/s)")
    print(f"  with policy {other.policy}: {other.fps:.2f} fps, latency {other.latency_ms:.2f} ms")
    if args.trace:
        print(f"  wrote the timeline to {args.trace} (Chrome trace-event JSON: Perfetto, chrome://tracing)")
    return 0
