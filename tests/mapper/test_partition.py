"""The PL/PS partitioner: placement rules, SE policies, segments and boundary transfers."""

from __future__ import annotations

import json

import pytest

from hwsim import config
from mapper import zoo
from mapper.ir import Graph, Op
from mapper.partition import PartitionError, partition
from mapper.passes import find_se_blocks


@pytest.fixture(scope="module")
def accel():
    return config.load().accel               # ultra96v1_default: conv, dwconv, pools, add; dw_kernels [3, 5]


def with_(accel, **changes):
    """The default accelerator with ``changes``, through ``--set`` (the one validated constructor)."""
    return config.load(overrides=[f"accel.{k}={json.dumps(v)}" for k, v in changes.items()]).accel


def devices(plan) -> list[str]:
    return [s.device for s in plan.segments]


def check_invariants(plan) -> None:
    g = plan.graph
    names = [n for s in plan.segments for n in s.nodes]
    assert sorted(names) == sorted(n.name for n in g.nodes) and len(set(names)) == len(names)
    assert [s.index for s in plan.segments] == list(range(len(plan.segments)))
    assert all(a.device != b.device for a, b in zip(plan.segments, plan.segments[1:]))
    assert sum(s.macs for s in plan.segments) == g.total_macs()
    for t in plan.transfers:
        assert t.bytes == g.tensors[t.tensor].nbytes
        assert t.src_device != t.dst_device and t.src < t.dst
    for s in plan.segments:
        assert set(s.reasons) == (set(s.nodes) if s.device == "PS" else set())


# ---- a tiny graph with a known answer --------------------------------------------------------
def tiny() -> Graph:
    g = Graph("tiny", (1, 8, 16, 16))
    a = g.add(Op.CONV, "input", "a", cout=16, k=3, pad=1)
    b = g.add(Op.DWCONV, a, "b", k=7, pad=3)                   # 7x7 depthwise: not in dw_kernels
    c = g.add(Op.CONV, b, "c", cout=32, k=1)
    p = g.add(Op.GLOBAL_AVGPOOL, c, "pool")
    f = g.add(Op.FLATTEN, p, "flat")
    y = g.add(Op.FC, f, "fc", cout=10)
    g.set_outputs(y)
    return g


def test_tiny_graph_known_answer(accel):
    plan = partition(tiny(), accel)
    check_invariants(plan)
    assert [(s.device, s.nodes) for s in plan.segments] == [
        ("PL", ["a"]), ("PS", ["b"]), ("PL", ["c", "pool", "flat"]), ("PS", ["fc"])]
    assert plan.segments[1].reasons == {"b": "kernel 7 not in dw_kernels [3, 5]"}
    assert plan.segments[3].reasons == {"fc": "fc not in accel.pl_ops"}
    assert [(t.src, t.dst, t.direction, t.tensor, t.bytes) for t in plan.transfers] == [
        (-1, 0, "PS->PL", "input", 8 * 16 * 16),          # the frame, from the camera/CPU
        (0, 1, "PL->PS", "a", 16 * 16 * 16),
        (1, 2, "PS->PL", "b", 16 * 16 * 16),
        (2, 3, "PL->PS", "flat", 32),                     # the output is made on the PS: no final move
    ]
    assert [s.macs for s in plan.segments] == [16 * 16 * 16 * 8 * 9, 16 * 16 * 16 * 49, 32 * 16 * 16 * 16, 320]


def test_output_made_on_the_pl_crosses_to_the_ps(accel):
    g = Graph("conv_only", (1, 3, 8, 8))
    g.set_outputs(g.add(Op.CONV, "input", "c", cout=4, k=3, pad=1))
    plan = partition(g, accel)
    assert devices(plan) == ["PL"]
    assert [(t.src, t.dst, t.direction, t.bytes) for t in plan.transfers] == [
        (-1, 0, "PS->PL", 3 * 64), (0, 1, "PL->PS", 4 * 64)]


def test_tensor_read_by_two_later_ps_segments_crosses_once(accel):
    # x (PL) is read by the 7x7 dw in PS segment 1 and again by the one in PS segment 3: after the
    # first crossing it sits in DDR, so it moves once.
    g = Graph("fanout", (1, 8, 12, 12))
    x = g.add(Op.CONV, "input", "x", cout=8, k=1)
    p1 = g.add(Op.DWCONV, x, "p1", k=7, pad=3)
    c = g.add(Op.CONV, p1, "c", cout=8, k=1)
    z = g.add(Op.DWCONV, x, "z", k=7, pad=3)
    g.set_outputs(g.add(Op.ADD, [c, z], "sum"))
    plan = partition(g, accel)
    check_invariants(plan)
    assert [(s.device, s.nodes) for s in plan.segments] == [
        ("PL", ["x"]), ("PS", ["p1"]), ("PL", ["c"]), ("PS", ["z"]), ("PL", ["sum"])]
    assert [(t.tensor, t.src, t.dst) for t in plan.transfers] == [
        ("input", -1, 0), ("x", 0, 1), ("p1", 1, 2), ("z", 3, 4), ("sum", 4, 5)]


def test_limits_send_ops_to_the_ps_with_a_reason(accel):
    g = Graph("limits", (1, 16, 8, 600))
    a = g.add(Op.DWCONV, "input", "wide_dw", k=3, pad=1)          # 600-pixel rows > max_width 512
    b = g.add(Op.CONV, a, "big_k", cout=16, k=9, pad=4)           # 9 > max_kernel 7
    c = g.add(Op.CONV, b, "stride3", cout=16, k=3, stride=3)
    d = g.add(Op.MAXPOOL, c, "pool7", k=7, stride=1, pad=3)       # window 7 > the 5x5 dw window
    e = g.add(Op.CONV, d, "ok", cout=16, k=3, pad=1)
    g.set_outputs(g.add(Op.SOFTMAX, e, "softmax"))
    plan = partition(g, accel)
    check_invariants(plan)
    reasons = {n: r for s in plan.segments for n, r in s.reasons.items()}
    assert reasons == {
        "wide_dw": "row width 600 > accel.max_width 512 (the line buffer holds one row)",
        "big_k": "kernel 9x9 > accel.max_kernel 7",
        "stride3": "stride 3x3 not supported (PL strides: 1, 2)",
        "pool7": "pool window 7x7 > the depthwise window 5x5",
        "softmax": "softmax not in accel.pl_ops",
    }
    assert plan.device_of()["ok"] == "PL"
    narrow = partition(g, with_(accel, max_channels=8))
    assert narrow.device_of()["ok"] == "PS"
    assert narrow.segments[-1].reasons["ok"] == "16 channels > accel.max_channels 8"
    small_wbuf = partition(g, with_(accel, wbuf_depth=10))        # 16*3*3 / icp 8 = 18 rows > 10
    assert "weight buffer" in {n: r for s in small_wbuf.segments for n, r in s.reasons.items()}["ok"]


def test_1x1_conv_on_a_1x1_map_is_an_fc(accel):
    g = Graph("fc_as_conv", (1, 8, 4, 4))
    p = g.add(Op.GLOBAL_AVGPOOL, "input", "pool")
    g.set_outputs(g.add(Op.CONV, p, "classifier", cout=10, k=1))
    plan = partition(g, accel)
    assert plan.device_of() == {"pool": "PL", "classifier": "PS"}
    assert plan.segments[1].reasons["classifier"] == "1x1 conv on a 1x1 map is an fc; fc not in accel.pl_ops"
    with_fc = partition(g, with_(accel, pl_ops=[*accel.pl_ops, "fc"]))
    assert devices(with_fc) == ["PL"]


def test_depthwise_with_a_channel_multiplier_stays_on_the_ps(accel):
    from hwsim.estimate import estimate_plan
    g = Graph("dw_mult", (1, 8, 8, 8))
    a = g.add(Op.DWCONV, "input", "dw2", k=3, pad=1, multiplier=2)          # 8 -> 16 channels
    b = g.add(Op.CONV, "input", "grouped_dw", cout=8, groups=8, k=3, pad=1)  # a plain conv node that is depthwise
    g.set_outputs(g.add(Op.CONCAT, [a, b], "cat"))
    plan = partition(g, accel)
    check_invariants(plan)
    dev = plan.device_of()
    assert dev["dw2"] == "PS" and dev["grouped_dw"] == "PL"
    ps = next(s for s in plan.segments if "dw2" in s.nodes)
    assert ps.reasons["dw2"] == "depthwise with channel multiplier (8->16) is not supported by the depthwise engine"
    assert estimate_plan(plan, config.load()).fps > 0        # the cycle model accepts the placement


def test_data_movement_rides_with_its_producer(accel):
    g = Graph("movers", (1, 8, 8, 8))
    a = g.add(Op.CONV, "input", "a", cout=8, k=1)
    s = g.add(Op.SOFTMAX, a, "sm")                                # PS
    r = g.add(Op.CHANNEL_SHUFFLE, s, "r", groups=2)               # rides on the PS
    c = g.add(Op.CONCAT, [r, a], "cat")                           # producer of its first input: PS
    d = g.add(Op.CONV, c, "d", cout=8, k=1)
    g.set_outputs(g.add(Op.FLATTEN, d, "flat"))                   # rides on the PL
    plan = partition(g, accel)
    check_invariants(plan)
    assert plan.device_of() == {"a": "PL", "sm": "PS", "r": "PS", "cat": "PS", "d": "PL", "flat": "PL"}
    # cat reads a (PL) on the PS: a crosses once; the output is made on the PL and crosses back
    assert [(t.tensor, t.direction) for t in plan.transfers] == [
        ("input", "PS->PL"), ("a", "PL->PS"), ("cat", "PS->PL"), ("flat", "PL->PS")]


def test_bad_policy_and_accelerator_descriptions(accel):
    """A bad policy is the partitioner's error; a bad accelerator description never reaches it: the
    configuration's one validation (hwsim.config.load, hwsim.schema) names the field."""
    with pytest.raises(PartitionError, match="unknown policy 'fast'; known: naive, optimized"):
        partition(tiny(), accel, "fast")
    with pytest.raises(config.ConfigError, match="accel.pl_ops: unknown op kind 'convv'"):
        with_(accel, pl_ops=["convv"])
    with pytest.raises(config.ConfigError, match="unknown op kind 'sigmoidd'"):
        with_(accel, pl_fused=["sigmoidd"])
    with pytest.raises(config.ConfigError, match="accel.max_kernel must be a positive integer"):
        with_(accel, max_kernel=0)
    base = config.load()
    missing = {s: dict(t) for s, t in base.data.items()}
    del missing["accel"]["pl_ops"]
    with pytest.raises(config.ConfigError, match="no field 'pl_ops'"):
        config.build(base.board_name, base.accel_name, missing)


def test_input_graph_is_not_modified(accel):
    g = zoo.build("efficientnet_b0")
    before = [(n.name, n.op, dict(n.attrs)) for n in g.nodes]
    plan = partition(g, accel, "optimized")
    assert [(n.name, n.op, dict(n.attrs)) for n in g.nodes] == before
    assert plan.graph is not g


# ---- the zoo ----------------------------------------------------------------------------------
def test_mobilenet_v2_only_the_classifier_on_the_ps(accel):
    g = zoo.build("mobilenet_v2")
    plan = partition(g, accel)
    check_invariants(plan)
    assert devices(plan) == ["PL", "PS"]
    ps = plan.segments[1]
    assert [plan.graph.node(n).op for n in ps.nodes] == [Op.FC]
    assert ps.macs == 1280 * 1000
    assert [(t.direction, t.bytes) for t in plan.transfers] == [("PS->PL", 3 * 224 * 224), ("PL->PS", 1280)]


@pytest.fixture(scope="module")
def b4_plans(accel):
    g = zoo.build("efficientnet_b4", 256)
    return {p: partition(g, accel, p) for p in ("naive", "optimized")}


def test_efficientnet_b4_naive_one_ps_segment_per_se_block_plus_the_classifier(b4_plans):
    plan = b4_plans["naive"]
    check_invariants(plan)
    blocks = find_se_blocks(plan.graph)
    assert len(blocks) == 32
    ps = [s for s in plan.segments if s.device == "PS"]
    assert len(ps) == 33
    assert [s.nodes for s in ps[:-1]] == [b.nodes for b in blocks]          # each SE block whole
    assert [plan.graph.node(n).op for n in ps[-1].nodes] == [Op.FC]
    into = {t.dst: t for t in plan.transfers if t.direction == "PL->PS"}
    back = {t.src: t for t in plan.transfers if t.direction == "PS->PL"}
    for s, b in zip(ps, blocks):
        fmap = plan.graph.tensors[b.input].nbytes                           # C x H x W, INT8
        assert into[s.index].tensor == b.input and into[s.index].bytes == fmap
        assert back[s.index].tensor == b.mul and back[s.index].bytes == fmap


def test_efficientnet_b4_optimized_moves_only_channel_vectors(b4_plans):
    plan = b4_plans["optimized"]
    check_invariants(plan)
    g = plan.graph
    blocks = find_se_blocks(g)
    ps = [s for s in plan.segments if s.device == "PS"]
    assert len(ps) == 33
    dev = plan.device_of()
    for s, b in zip(ps, blocks):
        assert dev[b.pool] == "PL" and dev[b.mul] == "PL"
        assert g.node(b.mul).attrs["pl_mode"] == "scale"
        crossing = [t for t in plan.transfers if s.index in (t.src, t.dst)]
        assert [(t.direction, t.bytes) for t in crossing] == [("PL->PS", b.channels), ("PS->PL", b.channels)]
    naive = b4_plans["naive"]
    assert plan.transfer_bytes() < naive.transfer_bytes() / 30


def test_naive_keeps_se_blocks_on_the_ps_even_if_the_pl_could_run_their_ops():
    dpu = config.load("zcu102", "dpu_b4096", ["accel.placement=policy"]).accel  # has "fc" and "mul" in pl_ops
    plan = partition(zoo.build("efficientnet_b0"), dpu, "naive")
    check_invariants(plan)
    dev = plan.device_of()
    for b in find_se_blocks(plan.graph):
        assert {dev[n] for n in b.nodes} == {"PS"}
    assert dev["fc"] == "PL"


def test_a_kernel_the_tiler_refuses_runs_on_the_ps_with_its_reason(accel):
    """One answer to "can the PL run this node": a 1x7 conv passes the partitioner's own limits
    (7 <= max_kernel) but the engine runs square kernels; with hwsim's check (the tiler and
    check_tile) the conv goes to the PS with the tiler's refusal and the model estimates."""
    from hwsim.estimate import estimate_plan, plan_model
    g = Graph("asym", (1, 8, 16, 16))
    a = g.add(Op.CONV, "input", "a", cout=16, k=3, pad=1)
    b = g.add(Op.CONV, a, "b", cout=16, k=(1, 7), pad=(0, 3, 0, 3))
    g.set_outputs(g.add(Op.CONV, b, "c", cout=8, k=1))
    cfg = config.load()
    assert partition(g, accel).device_of()["b"] == "PL"          # the mapper's limits alone accept it
    plan = plan_model(g, cfg)
    check_invariants(plan)
    assert plan.device_of() == {"a": "PL", "b": "PS", "c": "PL"}
    ps = next(s for s in plan.segments if "b" in s.nodes)
    assert ps.reasons["b"] == "the engine runs square kernels and strides, not 1x7 stride 1x1"
    e = estimate_plan(plan, cfg)
    assert e.fps > 0 and [l.device for l in e.layers] == ["PL", "PS", "PL"]
