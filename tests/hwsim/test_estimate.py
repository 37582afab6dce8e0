import json
import math

import pytest

from hwsim.cli import main
from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.estimate import BREAKDOWN, estimate, estimate_plan
from mapper.ir import Graph
from mapper.plan import Plan, Segment, Transfer


def hand_plan() -> Plan:
    """conv + global pool on the PL, FC on the PS."""
    g = Graph("tiny", (1, 8, 16, 16))
    c = g.add("conv", "input", "c", cout=16, k=3, pad=1)
    p = g.add("global_avgpool", c, "gap")
    f = g.add("fc", p, "fc", cout=10)
    g.set_outputs(f)
    segs = [Segment(0, "PL", ["c", "gap"], g.macs(g.node("c"))), Segment(1, "PS", ["fc"], 160)]
    trs = [Transfer(-1, 0, "input", g.tensors["input"].nbytes, "PS", "PL"),
           Transfer(0, 1, "gap", g.tensors["gap"].nbytes, "PL", "PS")]
    return Plan("tiny", "naive", segs, trs, g)


def test_breakdown_layers_and_transfers_add_up():
    cfg = load("ultra96v1", overrides=["runtime.invocation=segment"])
    e = estimate_plan(hand_plan(), cfg)
    j = e.to_json()
    assert set(j["breakdown_ms"]) == set(BREAKDOWN)
    assert j["latency_ms"] == math.fsum(j["breakdown_ms"].values())
    pl = [l for l in j["layers"] if l["device"] == "PL"]
    ps = [l for l in j["layers"] if l["device"] == "PS"]
    assert [l["name"] for l in j["layers"]] == ["c", "gap", "fc"]
    clock = cfg.clock_hz
    # integer cycles add up exactly; times are the same sums divided by the clock
    assert all(l["cycles"] == l["compute_cycles"] + l["stall_cycles"] for l in pl)
    assert sum(l["compute_cycles"] for l in pl) / clock * 1e3 == j["breakdown_ms"]["pl_compute"]
    assert sum(l["stall_cycles"] for l in pl) / clock * 1e3 == j["breakdown_ms"]["pl_memory_stall"]
    assert math.fsum(l["time_ms"] for l in ps) == j["breakdown_ms"]["ps_compute"]
    assert math.fsum(t["time_ms"] for t in j["transfers"]) == j["breakdown_ms"]["transfer"]
    assert math.fsum(s["time_ms"] for s in j["syncs"]) == j["breakdown_ms"]["sync"]
    assert math.fsum(h["time_ms"] for h in j["host"]) == j["breakdown_ms"]["host_pre_post"]
    # one PL segment, invoked per segment: one start and one completion
    assert [s["event"] for s in j["syncs"]] == ["start", "done"]
    assert j["breakdown_ms"]["sync"] == pytest.approx(10e-3 + 20e-3)
    # the timeline is the same chain
    last = j["timeline"][-1]
    assert last["start_ms"] + last["time_ms"] == pytest.approx(j["latency_ms"])
    assert j["params"]["config"]["accel"]["clock_mhz"] == 100.0


def test_by_kind_regroups_the_same_time_and_reports_utilisation():
    cfg = load("ultra96v1")
    e = estimate_plan(hand_plan(), cfg)
    groups = e.by_kind()
    assert {(g["device"], g["kind"]) for g in groups} == {("PL", "CONV"), ("PL", "GAP"), ("PS", "fc")}
    assert math.fsum(g["time_ms"] for g in groups) == pytest.approx(math.fsum(l.time_ms for l in e.layers))
    conv = next(g for g in groups if g["kind"] == "CONV")
    assert conv["utilisation"] == pytest.approx(conv["macs"] / (cfg.pe.pw_macs_per_cycle * conv["cycles"]))
    assert 0 < conv["utilisation"] <= 1


def test_fps_op_count_fps_and_pipelining():
    cfg1 = load("ultra96v1", overrides=["ps.pipeline_frames=1"])
    e1 = estimate_plan(hand_plan(), cfg1)
    assert e1.fps == pytest.approx(1e3 / e1.latency_ms)          # no overlap: fps = 1 / latency
    e2 = estimate_plan(hand_plan(), load("ultra96v1", overrides=["runtime.frames_in_flight=2"]))
    assert e2.latency_ms == pytest.approx(e1.latency_ms)
    assert e2.fps >= e1.fps
    assert e2.fps <= 1e3 / max(e2.busy_ms.values()) + 1e-9       # never faster than the busiest resource
    pe = cfg1.pe
    g = hand_plan().graph
    assert e1.array_op_count_fps == pytest.approx(pe.multipliers * 100e6 / g.total_macs())
    # the op count at the PL's peak: 360 DSP48E2 x 2 INT8 MACs (WP486) x 2 (double-pumped, PG338)
    assert e1.op_count_fps == pytest.approx(1440 * 100e6 / g.total_macs()) and e1.op_count_fps > e1.array_op_count_fps
    assert e1.params["device_peak_macs_per_cycle"] == 1440
    # the device's peak does not depend on the array; packing the array keeps its peak MAC rate
    e3 = estimate_plan(hand_plan(), load("ultra96v1", overrides=["accel.macs_per_dsp=2", "runtime.frames_in_flight=2"]))
    e4 = estimate_plan(hand_plan(), load("ultra96v1", overrides=["accel.ocp=4"]))
    assert e4.op_count_fps == pytest.approx(e1.op_count_fps) and e4.array_op_count_fps < e1.array_op_count_fps
    assert e3.array_op_count_fps == pytest.approx(e2.array_op_count_fps)
    assert e3.params["pe_dsps"] == pe.dsps - pe.pw_macs_per_cycle // 2
    assert e3.fps == pytest.approx(e2.fps)            # same array shape, same cycles: only the DSP count changes


def test_more_ps_threads_never_slow_a_frame():
    plan = hand_plan()
    t1 = estimate_plan(plan, load("ultra96v1", overrides=["ps.threads=1"]))
    t4 = estimate_plan(plan, load("ultra96v1", overrides=["ps.threads=4"]))
    assert t4.breakdown_ms["ps_compute"] <= t1.breakdown_ms["ps_compute"]
    assert t4.breakdown_ms["pl_compute"] == t1.breakdown_ms["pl_compute"]


def test_a_slower_ddr_shows_up_as_memory_stall_not_compute():
    plan = hand_plan()
    fast = estimate_plan(plan, load("ultra96v1"))
    slow = estimate_plan(plan, load("ultra96v1", overrides=["ddr.peak_gbps=0.05"]))
    assert slow.breakdown_ms["pl_compute"] == fast.breakdown_ms["pl_compute"]
    assert slow.breakdown_ms["pl_memory_stall"] > 10 * fast.breakdown_ms["pl_memory_stall"]


def test_bad_plans_are_one_line_errors():
    plan = hand_plan()
    plan.transfers.append(Transfer(0, 7, "gap", 16, "PL", "PS"))
    with pytest.raises(HwsimError, match="targets segment 7; the plan has 2"):
        estimate_plan(plan, load("ultra96v1"))
    plan = hand_plan()
    plan.segments[1].nodes.append("nope")
    with pytest.raises(HwsimError, match="names node 'nope'"):
        estimate_plan(plan, load("ultra96v1"))


def test_real_partition_naive_moves_more_data_than_optimized():
    cfg = load("ultra96v1")
    naive = estimate("efficientnet_b0", input_size=128, policy="naive", cfg=cfg)
    opt = estimate("efficientnet_b0", input_size=128, policy="optimized", cfg=cfg)
    nb = sum(t.bytes for t in naive.transfers)
    ob = sum(t.bytes for t in opt.transfers)
    assert nb > 10 * ob
    assert naive.breakdown_ms["transfer"] > opt.breakdown_ms["transfer"]
    assert naive.breakdown_ms["ps_compute"] > opt.breakdown_ms["ps_compute"]
    for e in (naive, opt):
        j = e.to_json()
        assert j["latency_ms"] == math.fsum(j["breakdown_ms"].values())
        assert 0 < j["fps"] and j["op_count_fps"] > j["fps"]


# ---- the command line ----------------------------------------------------------------------------

def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_pre_rename_json_keys_are_deprecated_aliases_with_the_same_values(capsys):
    code, out, err = run(capsys, "estimate", "mobilenet_v2", "--input-size", "96", "--json")
    assert code == 0, err
    j = json.loads(out)
    e = estimate("mobilenet_v2", input_size=96)
    assert j["op_count_fps"] == pytest.approx(e.op_count_fps) and e.op_count_fps > e.array_op_count_fps > e.fps
    assert (j["naive_fps"], j["array_peak_fps"], j["naive_over_fps"]) == \
        (j["op_count_fps"], j["array_op_count_fps"], j["op_count_over_fps"])
    assert j["op_count_over_fps"] == pytest.approx(e.op_count_fps / e.fps)
    assert not hasattr(e, "naive_fps") and not hasattr(e, "array_peak_fps")   # the record has the new names only


def test_estimate_json_shape(capsys):
    code, out, err = run(capsys, "estimate", "mobilenet_v2", "--input-size", "96", "--json")
    assert code == 0, err
    j = json.loads(out)
    for key in ("model", "board", "accel", "fps", "latency_ms", "op_count_fps", "breakdown_ms", "layers",
                "transfers", "policy", "params", "other_policy"):
        assert key in j
    assert set(j["breakdown_ms"]) == {"pl_compute", "pl_memory_stall", "ps_compute", "transfer", "sync", "host_pre_post"}
    assert math.fsum(j["breakdown_ms"].values()) == pytest.approx(j["latency_ms"])
    for l in j["layers"]:
        assert {"name", "op", "device", "macs", "cycles", "time_ms"} <= set(l)
    for t in j["transfers"]:
        assert {"from", "to", "bytes", "time_ms"} <= set(t)
    assert j["other_policy"]["policy"] == "optimized"
    assert (j["model"], j["board"], j["accel"]) == ("mobilenet_v2", "ultra96v1", "ultra96v1_default")


def test_estimate_human_output(capsys):
    code, out, _ = run(capsys, "estimate", "mobilenet_v2", "--input-size", "96", "--policy", "optimized")
    assert code == 0
    assert "fps" in out and "latency" in out and "top 10 layers" in out and "with policy naive" in out


def test_compare_side_by_side(capsys):
    code, out, err = run(capsys, "compare", "mobilenet_v2", "squeezenet1_1", "--input-size", "96", "--json")
    assert code == 0, err
    j = json.loads(out)
    assert [r["model"] for r in j["models"]] == ["mobilenet_v2", "squeezenet1_1"]
    code, out, _ = run(capsys, "compare", "mobilenet_v2", "squeezenet1_1", "--input-size", "96")
    lines = out.splitlines()
    assert lines[2].startswith("mobilenet_v2") and lines[3].startswith("squeezenet1_1")


@pytest.mark.parametrize("argv, message", [
    (["estimate", "no_such_net"], "unknown model 'no_such_net'"),
    (["estimate", "mobilenet_v2", "--set", "ps.threads=0"], "ps.threads must be an integer"),
    (["estimate", "mobilenet_v2", "--set", "runtime.completion_us=-1"], "runtime.completion_us must be"),
    (["estimate", "mobilenet_v2", "--set", "runtime.frames_in_flight=0"], "runtime.frames_in_flight must be a positive"),
    # the names these had on the board before runtime profiles still reach them
    (["estimate", "mobilenet_v2", "--set", "transfer.irq_latency_us=-1"], "runtime.completion_us must be"),
    (["estimate", "mobilenet_v2", "--set", "ps.pipeline_frames=0"], "runtime.frames_in_flight must be a positive"),
    (["estimate", "mobilenet_v2", "--set", "axi.nope=1"], "has no field 'nope'"),
    (["compare", "mobilenet_v2", "nope_net", "--input-size", "96"], "unknown model 'nope_net'"),
])
def test_bad_input_is_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hwsim: error: ") and message in err


def test_op_count_gap_adds_up_to_latency_and_period():
    e = estimate("efficientnet_b4", input_size=256)
    gap = e.op_count_gap()
    assert gap["op_count"] == pytest.approx(1e3 / e.op_count_fps)
    assert gap["op_count"] + gap["array_peak"] == pytest.approx(1e3 / e.array_op_count_fps) and gap["array_peak"] > 0
    steps = [gap[k] for k in ("op_count", "array_peak", "pl_below_peak", "pl_memory_stall", "ps_compute", "transfer", "sync",
                              "host_pre_post")]
    assert math.fsum(steps) == pytest.approx(e.latency_ms, rel=1e-12)
    assert math.fsum(steps) + gap["pipelining"] + gap["ddr_bound"] == pytest.approx(e.period_ms, rel=1e-12)
    assert gap["pipelining"] <= 0 and gap["ddr_bound"] == 0 and e.to_json()["op_count_gap_ms"] == gap


def test_ddr_traffic_of_overlapping_frames_bounds_the_frame_rate():
    # EfficientNet-B0's SE blocks and the PL stream through DDR at once when frames overlap; with the
    # Ultra96's DDR slowed to 0.5 GB/s (of 4.26) their bytes no longer fit in the PL/PS pipeline's period
    slow = estimate("efficientnet_b0", overrides=["ddr.peak_gbps=1.0", "runtime.frames_in_flight=2", "runtime.invocation=segment"])
    slower = estimate("efficientnet_b0", overrides=["ddr.peak_gbps=0.5", "runtime.frames_in_flight=2",
                                                   "runtime.invocation=segment"])
    for e, peak in ((slow, 1.0), (slower, 0.5)):
        pl = sum(l.load_bytes + l.store_bytes for l in e.layers if l.device == "PL")
        ps = sum(l.bytes for l in e.layers if l.device == "PS")
        assert e.ddr_bytes == {"PL": pl, "PS": ps} and ps > 0
        assert e.busy_ms["DDR"] == pytest.approx((pl + ps) / (peak * 0.70 * 1e9) * 1e3)
        assert e.period_ms == pytest.approx(max(e.pipelined_ms, e.busy_ms["DDR"]))
    assert slow.period_ms == slow.pipelined_ms and slow.ddr_share < 1 and slow.bottleneck == "PL"
    assert slower.period_ms == slower.busy_ms["DDR"] > slower.pipelined_ms
    assert slower.ddr_share == 1 and slower.bottleneck == "DDR"
    gap = slower.op_count_gap()
    assert gap["ddr_bound"] == pytest.approx(slower.period_ms - slower.pipelined_ms) and gap["ddr_bound"] > 10
    steps = ("op_count", "array_peak", "pl_below_peak", "pl_memory_stall", "ps_compute", "transfer", "sync",
             "host_pre_post", "pipelining", "ddr_bound")
    assert math.fsum(gap[k] for k in steps) == pytest.approx(slower.period_ms, rel=1e-12)
    # one frame at a time: nothing overlaps, the frame's own time already carries its traffic
    single = estimate("efficientnet_b0", overrides=["ddr.peak_gbps=0.5", "runtime.frames_in_flight=1"])
    assert single.period_ms == pytest.approx(single.latency_ms) and single.busy_ms["DDR"] < single.latency_ms


def test_estimate_prints_the_ddr_traffic_and_whether_it_binds(capsys):
    code, out, _ = run(capsys, "estimate", "efficientnet_b0", "--set", "ddr.peak_gbps=0.5", "--set", "runtime.frames_in_flight=2",
                       "--set", "runtime.invocation=segment")
    assert code == 0 and "bottleneck DDR busy 78.1 ms/frame" in out
    assert "at the sustained 0.35 GB/s, 100%: it bounds the frame rate" in out and "the DDR takes back +13.40" in out
    code, out, _ = run(capsys, "estimate", "efficientnet_b0", "--set", "runtime.frames_in_flight=2",
                       "--set", "runtime.invocation=segment")
    assert code == 0 and "at the sustained 2.98 GB/s, 23% of the frame period" in out and "takes back" not in out


def test_records_are_typed_frozen_and_become_json_only_at_the_boundary():
    import dataclasses

    from hwsim.records import PLLayerRecord, PSOpRecord, SyncRecord, TransferRecord, layer_from_json
    e = estimate("efficientnet_b0", input_size=128)
    assert {type(l) for l in e.layers} == {PLLayerRecord, PSOpRecord}
    assert e.transfers and all(isinstance(t, TransferRecord) for t in e.transfers)
    assert e.syncs and all(isinstance(s, SyncRecord) for s in e.syncs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.layers[0].time_ms = 0.0
    j = e.to_json()
    # the JSON keys of a transfer are the ones it has always had ("from"/"to"), the values the record's
    t, tj = e.transfers[0], j["transfers"][0]
    assert list(tj) == ["from", "to", "tensor", "bytes", "src_segment", "dst_segment", "buffer_mode", "time_ms"]
    assert (tj["from"], tj["to"], tj["bytes"], tj["time_ms"]) == (t.src_device, t.dst_device, t.bytes, t.time_ms)
    # a PL layer's ms are its cycles at the PL clock; a results.json read back gives the same records
    pl = next(l for l in e.layers if l.device == "PL" and l.cycles)
    assert pl.time_ms == pytest.approx(pl.cycles / 100e6 * 1e3) and pl.cycles == pl.compute_cycles + pl.stall_cycles
    assert [layer_from_json(d) for d in json.loads(json.dumps(j["layers"]))] == e.layers
    assert math.fsum(s.time_ms for s in e.syncs) == pytest.approx(e.breakdown_ms["sync"])
