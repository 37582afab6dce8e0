"""The DPU's op coverage (UG1414 3.0 "Currently Supported Operators", DPUCZDX8G) and the Vitis AI
quantiser's sigmoid/swish replacement (``accel.replace_sigmoid``), as the partitioner applies them."""

from __future__ import annotations

import pytest

from hwsim import config
from hwsim.pl import Tiler
from mapper import zoo
from mapper.ir import Graph, Op
from mapper.partition import partition
from mapper.passes import find_se_blocks

from .test_partition import check_invariants


def dpu(*sets: str):
    return config.load("zcu102", "dpu_b4096", list(sets)).accel


def test_replacing_every_activation_runs_efficientnet_b0_whole_on_the_dpu():
    # replace_sigmoid = "all": swish -> hard-swish (fused into its conv), sigmoid -> hard-sigmoid (fused
    # into the SE's expand conv); the compiler puts the SE pool, FCs and channel-wise multiply on the DPU
    plan = partition(zoo.build("efficientnet_b0"), dpu("accel.replace_sigmoid=all"))
    check_invariants(plan)
    assert [s.device for s in plan.segments] == ["PL"]
    g = plan.graph
    acts = {n.attrs.get("act") for n in g.nodes if n.op in (Op.CONV, Op.DWCONV)}
    assert Op.SWISH not in acts and Op.SIGMOID not in acts and {Op.HSWISH, Op.HSIGMOID} <= acts
    blocks = find_se_blocks(g)
    assert len(blocks) == 16
    tiler = Tiler(config.load("zcu102", "dpu_b4096").pe, dpu())
    for b in blocks:
        assert g.node(b.expand).attrs["act"] == Op.HSIGMOID and b.gate is None
        assert tiler.mode(g, g.node(b.mul)).name == "SCALE"      # the broadcast multiply on the engine
    # the same for both policies: the compiler, not the policy, places ops on a DPU
    opt = partition(zoo.build("efficientnet_b0"), dpu("accel.replace_sigmoid=all"), "optimized")
    assert opt.device_of() == plan.device_of()


def test_by_default_the_se_activations_stay_float_and_cut_the_dpu_graph_per_block():
    # "except_se" (the DPU files' default): the main path's swish are replaced and fused, each SE
    # block's swish and sigmoid stay float, on the CPU: DPU (.. pool, reduce) | swish | DPU (expand) |
    # sigmoid | DPU (mul ..), so 16 blocks make 1 + 16 x 4 segments, 33 of them on the DPU
    plan = partition(zoo.build("efficientnet_b0"), dpu())
    check_invariants(plan)
    assert len(plan.segments) == 65 and sum(s.device == "PL" for s in plan.segments) == 33
    g = plan.graph
    reasons = {n: r for s in plan.segments for n, r in s.reasons.items()}
    assert {g.node(n).op for n in reasons} == {Op.SWISH, Op.SIGMOID}
    assert all(g.node(n).attrs.get("block", "").startswith("se") for n in reasons)
    assert all(r.endswith('not replaced: accel.replace_sigmoid = except_se) not in accel.pl_ops')
               for r in reasons.values())
    main = {n.attrs.get("act") for n in g.nodes if n.op in (Op.CONV, Op.DWCONV) and not n.attrs.get("block")}
    assert Op.HSWISH in main and Op.SWISH not in main
    # MobileNetV3's SE blocks are ReLU + hard-sigmoid already: nothing to keep, one DPU run
    plan = partition(zoo.build("mobilenet_v3_small"), dpu())
    assert [s.device for s in plan.segments] == ["PL"]


def test_without_the_replacement_swish_and_sigmoid_fall_back_to_the_ps_with_a_reason():
    plan = partition(zoo.build("efficientnet_b0"), dpu("accel.replace_sigmoid=none"))
    check_invariants(plan)
    reasons = {n: r for s in plan.segments for n, r in s.reasons.items()}
    kinds = {plan.graph.node(n).op for n in reasons}
    assert kinds == {Op.SWISH, Op.SIGMOID}
    assert all(r == f"{plan.graph.node(n).op} not in accel.pl_ops" for n, r in reasons.items())
    # 16 MBConv blocks x (dw swish + SE reduce swish + SE gate) + the 15 expand swishes + stem + head
    assert len(reasons) == 16 * 3 + 15 + 2


def imported_swish() -> Graph:
    """conv -> x * sigmoid(x), as an ONNX export spells swish."""
    g = Graph("imp", (1, 16, 8, 8))
    c = g.add(Op.CONV, "input", "c", cout=16, k=1)
    s = g.add(Op.SIGMOID, c, "sig")
    m = g.add(Op.MUL, [c, s], "swish")
    y = g.add(Op.CONV, m, "d", cout=16, k=1)
    g.set_outputs(y)
    return g


def test_a_replaced_activation_the_pl_cannot_run_says_it_was_replaced():
    # an accelerator that runs neither swish nor hard-swish: the replaced op is on the PS as what it became
    plan = partition(imported_swish(), dpu('accel.pl_fused=["batchnorm","relu"]', "accel.replace_sigmoid=all"))
    reasons = {n: r for s in plan.segments for n, r in s.reasons.items()}
    assert reasons == {"swish": "hswish (swish replaced by hswish: accel.replace_sigmoid) not in accel.pl_ops"}
    assert plan.graph.node("swish").op == Op.HSWISH
    # with the DPU's own fusions it is one DPU op with its conv (Vitis-AI #1113: hard-sigmoid x mul fuses)
    plan = partition(imported_swish(), dpu("accel.replace_sigmoid=all"))
    assert [s.device for s in plan.segments] == ["PL"] and plan.graph.node("c").attrs["act"] == Op.HSWISH
    # without the replacement the float swish stays a swish, on the PS
    plan = partition(imported_swish(), dpu("accel.replace_sigmoid=none"))
    assert {plan.graph.node(n).op for s in plan.segments for n in s.reasons} == {Op.SWISH}


def test_a_multiply_of_two_full_maps_is_not_the_engines_scale():
    g = Graph("mm", (1, 16, 8, 8))
    a = g.add(Op.CONV, "input", "a", cout=16, k=1)
    b = g.add(Op.CONV, "input", "b", cout=16, k=1)
    m = g.add(Op.MUL, [a, b], "m")
    g.set_outputs(g.add(Op.CONV, m, "c", cout=16, k=1))
    plan = partition(g, dpu())
    reasons = {n: r for s in plan.segments for n, r in s.reasons.items()}
    assert list(reasons) == ["m"] and "channel-wise scale" in reasons["m"]


@pytest.mark.parametrize("field,value,msg", [("replace_sigmoid", "yes", "accel.replace_sigmoid must be one of 'none', 'all', 'except_se', not 'yes'"),
                                             ("placement", "vendor", "accel.placement must be one of 'policy', 'compiler', not 'vendor'")])
def test_bad_switch_values_are_configuration_errors(field, value, msg):
    """Refused, naming the field and its choices, by the configuration's one validation (the
    partitioner reads only validated sections)."""
    with pytest.raises(config.ConfigError, match=msg):
        dpu(f"accel.{field}={value}")


def test_the_projects_own_array_keeps_its_policy_placement_and_no_replacement():
    own = config.load().accel
    assert own.replace_sigmoid is None and own.placement in (None, "policy")
    plan = partition(zoo.build("efficientnet_b0"), own, "naive")
    dev = plan.device_of()
    assert all(dev[n] == "PS" for b in find_se_blocks(plan.graph) for n in b.nodes)
