"""The model zoo against published MAC / parameter counts and the graph conventions other passes rely on.

MACs are conv / depthwise / FC multiply-accumulates (Graph.total_macs); params are torchvision's
count (weights + biases + BN gamma/beta; Graph.total_params).  Every published number below carries
its source.  torchvision's "GFLOPS" (``_ops`` in the weight metadata) counts multiply-adds too.
"""

from __future__ import annotations

import time

import pytest

from mapper import zoo
from mapper.ir import IRError, Op

M, G = 1e6, 1e9


def rel(a: float, b: float) -> float:
    return abs(a / b - 1)


# ---- published figures, 3% ------------------------------------------------------------------

# (model, published MACs, published params, source); input at the model's native size
PUBLISHED = [
    ("mobilenet_v1", 569 * M, 4.2 * M, "Howard et al. 2017, Table 8"),
    ("mobilenet_v1_0.75", 325 * M, 2.6 * M, "Howard et al. 2017, Table 6"),
    ("mobilenet_v1_0.5", 149 * M, 1.3 * M, "Howard et al. 2017, Table 6"),
    ("mobilenet_v3_large", 219 * M, 5.4 * M, "Howard et al. 2019, Table 3"),
    ("mobilenet_v3_small", 56 * M, 2.5 * M, "Howard et al. 2019, Table 4"),
    ("efficientnet_b0", 0.39 * G, 5.3 * M, "Tan & Le 2019, Table 2"),
    ("efficientnet_b1", 0.70 * G, 7.8 * M, "Tan & Le 2019, Table 2"),
    ("efficientnet_b2", 1.0 * G, 9.2 * M, "Tan & Le 2019, Table 2"),
    ("efficientnet_b3", 1.8 * G, 12 * M, "Tan & Le 2019, Table 2"),
    ("efficientnet_b6", 19 * G, 43 * M, "Tan & Le 2019, Table 2"),
    ("efficientnet_b7", 37 * G, 66 * M, "Tan & Le 2019, Table 2"),
    ("shufflenet_v2_x0_5", 41 * M, 1.4 * M, "Ma et al. 2018, Table 8 (MFLOPs 41); params: torchvision 1,366,792"),
    ("shufflenet_v2_x1_0", 146 * M, 2.3 * M, "Ma et al. 2018, Table 5"),
    ("shufflenet_v2_x1_5", 299 * M, 3.5 * M, "Ma et al. 2018, Table 8 (MFLOPs 299); params: torchvision 3,503,624"),
    ("shufflenet_v2_x2_0", 591 * M, 7.4 * M, "Ma et al. 2018, Table 8 (MFLOPs 591, 7.4M params)"),
    ("squeezenet1_0", 0.82 * G, 1.248 * M, "torchvision docs: squeezenet1_0 GFLOPS 0.82, 1,248,424 params"),
    ("resnet50", 4.09 * G, 25.557032 * M, "torchvision docs: resnet50 GFLOPS 4.09, 25,557,032 params"),
]


@pytest.mark.parametrize("name,macs,params,source", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_published_macs_and_params_within_3_percent(name, macs, params, source):
    g = zoo.build(name)
    assert rel(g.total_macs(), macs) < 0.03, f"{name} MACs {g.total_macs() / M:.1f}M vs {source}"
    assert rel(g.total_params(), params) < 0.03, f"{name} params {g.total_params() / M:.3f}M vs {source}"


def test_mobilenet_v1_quarter_width_matches_the_rounded_paper_figures():
    # Howard et al. 2017, Table 6: 0.25 MobileNet-224: 41M MACs, 0.5M params.  The paper rounds
    # params to 0.1M; the faithful count (470,072 with BN) rounds to 0.5M but is 6% below 0.5M.
    g = zoo.build("mobilenet_v1_0.25")
    assert rel(g.total_macs(), 41 * M) < 0.03
    assert round(g.total_params() / M, 1) == 0.5


def test_mobilenet_v2_against_the_paper():
    # Sandler et al. 2018, Table 4: 300M MACs, 3.4M params.  The paper's figure leaves out BN's
    # gamma/beta: conv+FC weights alone are 3.47M (2.1% above it), while torchvision's count with
    # BN, 3,504,872, is 3.1% above.  So the 3% check is on the weights, plus torchvision's exact count.
    g = zoo.build("mobilenet_v2")
    assert rel(g.total_macs(), 300 * M) < 0.03
    weights = g.total_params() - sum(g.params(n) for n in g if n.op == Op.BATCHNORM)
    assert rel(weights, 3.4 * M) < 0.03
    assert g.total_params() == 3_504_872


def test_efficientnet_b4_and_b5_against_torchvision_and_the_paper():
    # Tan & Le 2019 Table 2 says 4.2B (B4 @380) and 9.9B (B5 @456).  The architecture built
    # layer by layer from TF's / torchvision's definition has 4.394B and 10.266B MACs, exactly
    # torchvision's documented "_ops" (efficientnet.py EfficientNet_B4/B5_Weights: 4.394, 10.266);
    # thop on the TF-ported lukemelas/EfficientNet-PyTorch model finds 4.49 / 10.46 "GFLOPs" as well
    # (Lyken17/pytorch-OpCounter issue #69).  The paper's two figures are 4.6% and 3.7% lower than
    # any faithful count, so the 3% check is against torchvision and the paper gets a 5% bound.
    b4, b5 = zoo.build("efficientnet_b4"), zoo.build("efficientnet_b5")
    assert b4.meta["input_size"] == 380 and b5.meta["input_size"] == 456
    assert rel(b4.total_macs(), 4.394 * G) < 0.03
    assert rel(b5.total_macs(), 10.266 * G) < 0.03
    assert rel(b4.total_macs(), 4.2 * G) < 0.05
    assert rel(b5.total_macs(), 9.9 * G) < 0.05
    assert rel(b4.total_params(), 19 * M) < 0.03          # Tan & Le 2019, Table 2
    assert rel(b5.total_params(), 30 * M) < 0.03          # Tan & Le 2019, Table 2


def test_resnet50_params_are_torchvision_exact_and_its_shortcuts_project_once_per_stage():
    # torchvision resnet50 (IMAGENET1K_V1 docs): 25,557,032 parameters, weights + biases + BN.
    g = zoo.build("resnet50")
    assert g.total_params() == 25_557_032
    downs = [n.name for n in g if n.name.endswith(".down.conv")]
    assert downs == ["s1.b0.down.conv", "s2.b0.down.conv", "s3.b0.down.conv", "s4.b0.down.conv"]
    assert g.out_shape(g.node("s4.b2.conv3.conv")) == (1, 2048, 7, 7)


def test_squeezenet_1_1_is_2_4x_cheaper_with_slightly_fewer_params():
    # SqueezeNet v1.1 README (DeepScale/SqueezeNet) and torchvision's squeezenet1_1 docstring:
    # "2.4x less computation and slightly fewer parameters than SqueezeNet 1.0".
    g10, g11 = zoo.build("squeezenet1_0"), zoo.build("squeezenet1_1")
    assert rel(g10.total_macs() / g11.total_macs(), 2.4) < 0.03
    assert 0.98 < g11.total_params() / g10.total_params() < 1.0


# (model, published params, published MAdds): TF tpu models/official/efficientnet/lite/README.md
LITE_README = [("efficientnet_lite0", 4.7 * M, 407 * M), ("efficientnet_lite1", 5.4 * M, 631 * M),
               ("efficientnet_lite2", 6.1 * M, 899 * M), ("efficientnet_lite3", 8.2 * M, 1.44 * G),
               ("efficientnet_lite4", 13.0 * M, 2.64 * G)]


@pytest.mark.parametrize("name,params,madds", LITE_README, ids=[x[0] for x in LITE_README])
def test_efficientnet_lite_against_the_tf_readme(name, params, madds):
    g = zoo.build(name)
    assert rel(g.total_params(), params) < 0.03
    # The README's MAdds run 3-6% above the conv/FC MAC count for every Lite model (its profiler
    # counts more than multiply-accumulates), while params agree within 1.1% and lite0's conv
    # MACs equal B0's minus SE (test below) and the Vitis AI zoo's 0.77 GOPs.  So: below, by < 6%.
    assert 0.94 * madds < g.total_macs() < madds


def test_efficientnet_lite0_is_b0_without_se():
    # Same convolutions as B0, minus the SE excitations; Vitis AI 3.0 model zoo lists lite0 at
    # 0.77 GOPs (2 ops per MAC) at 224 (/work/shared/reference/platforms.md).
    b0, lite0 = zoo.build("efficientnet_b0"), zoo.build("efficientnet_lite0")
    se_macs = sum(b0.macs(n) for n in b0 if str(n.attrs.get("block", "")).startswith("se"))
    assert se_macs > 0
    assert lite0.total_macs() == b0.total_macs() - se_macs
    assert rel(2 * lite0.total_macs(), 0.77 * G) < 0.03


# ---- torchvision's exact figures ----------------------------------------------------------------

# torchvision/models/*.py weight metadata: (model, num_params, "_ops" GFLOPS as documented, input)
TORCHVISION = [
    ("mobilenet_v2", 3_504_872, "0.301", None),
    ("mobilenet_v3_large", 5_483_032, "0.217", None),
    ("mobilenet_v3_small", 2_542_856, "0.057", None),
    ("efficientnet_b0", 5_288_548, "0.386", None),
    ("efficientnet_b1", 7_794_184, "0.687", None),
    ("efficientnet_b2", 9_109_994, "1.088", 288),    # torchvision evaluates B2 at crop 288, not 260
    ("efficientnet_b3", 12_233_232, "1.827", None),
    ("efficientnet_b4", 19_341_616, "4.394", None),
    ("efficientnet_b5", 30_389_784, "10.266", None),
    ("efficientnet_b6", 43_040_704, "19.068", None),
    ("efficientnet_b7", 66_347_960, "37.746", None),
    ("shufflenet_v2_x0_5", 1_366_792, "0.04", None),
    ("shufflenet_v2_x1_0", 2_278_604, "0.145", None),
    ("shufflenet_v2_x1_5", 3_503_624, "0.296", None),
    ("shufflenet_v2_x2_0", 7_393_996, "0.583", None),
    ("squeezenet1_0", 1_248_424, "0.819", None),
    ("squeezenet1_1", 1_235_496, "0.349", None),
]


@pytest.mark.parametrize("name,num_params,ops,size", TORCHVISION, ids=[t[0] for t in TORCHVISION])
def test_torchvision_exact_params_and_documented_gflops(name, num_params, ops, size):
    g = zoo.build(name, size)
    assert g.total_params() == num_params
    digits = len(ops.split(".")[1])
    assert round(g.total_macs() / G, digits) == float(ops)


# ---- building ---------------------------------------------------------------------------------

NATIVE = {"mobilenet_v1": 224, "mobilenet_v2": 224, "mobilenet_v3_large": 224, "mobilenet_v3_small": 224,
          # Tan & Le 2019 / TF efficientnet_builder.efficientnet_params
          "efficientnet_b0": 224, "efficientnet_b1": 240, "efficientnet_b2": 260, "efficientnet_b3": 300,
          "efficientnet_b4": 380, "efficientnet_b5": 456, "efficientnet_b6": 528, "efficientnet_b7": 600,
          # TF lite/efficientnet_lite_builder.efficientnet_lite_params
          "efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260,
          "efficientnet_lite3": 280, "efficientnet_lite4": 300,
          "shufflenet_v2_x0_5": 224, "shufflenet_v2_x1_0": 224, "shufflenet_v2_x1_5": 224,
          "shufflenet_v2_x2_0": 224, "squeezenet1_0": 224, "squeezenet1_1": 224, "resnet50": 224}


def test_names_are_stable_and_info_matches():
    assert zoo.names() == list(NATIVE)
    for name, size in NATIVE.items():
        e = zoo.info(name)
        assert (e.name, e.input_size) == (name, size)
        assert e.family and e.reference


@pytest.mark.parametrize("name", list(NATIVE))
def test_every_model_builds_at_native_and_other_sizes(name):
    t0 = time.perf_counter()
    g = zoo.build(name)
    assert time.perf_counter() - t0 < 1.0
    native = NATIVE[name]
    assert g.shape(g.inputs[0]) == (1, 3, native, native)
    assert g.meta["input_size"] == native and g.meta["family"] == zoo.info(name).family
    assert len(g.outputs) == 1 and g.shape(g.outputs[0]) == (1, 1000)
    last = g.producers()[g.outputs[0]]
    assert last.op in (Op.FC, Op.FLATTEN) and all(n.op != Op.SOFTMAX for n in g)
    g.validate()
    for size in (native + 37, 160):
        other = zoo.build(name, size)
        assert other.meta["input_size"] == size and other.shape(other.outputs[0]) == (1, 1000)
        assert other.total_params() == g.total_params()
        assert (other.total_macs() > g.total_macs()) == (size > native)


def test_founding_story_model_b4_at_256():
    g = zoo.build("efficientnet_b4", 256)
    assert g.shape("input") == (1, 3, 256, 256)
    head = g.node("head.conv")
    assert g.out_shape(head) == (1, 1792, 8, 8)
    assert len(se_blocks(g)) == 32
    assert 1.9 * G < g.total_macs() < 2.0 * G       # ~ (256/380)^2 of 4.39B


# ---- structure --------------------------------------------------------------------------------

def se_blocks(g) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in g:
        tag = str(n.attrs.get("block", ""))
        if tag.startswith("se"):
            out.setdefault(tag, []).append(n)
    return out


@pytest.mark.parametrize("name,count", [("efficientnet_b0", 16), ("efficientnet_b4", 32),
                                        ("mobilenet_v3_large", 8), ("mobilenet_v3_small", 9),
                                        ("efficientnet_lite0", 0), ("efficientnet_lite4", 0),
                                        ("mobilenet_v2", 0)])
def test_se_blocks_have_the_exact_pattern(name, count):
    g = zoo.build(name)
    blocks = se_blocks(g)
    assert len(blocks) == count
    if name.startswith("efficientnet_b"):     # every MBConv block has SE
        assert count == sum(n.op == Op.DWCONV for n in g)
    prod = g.producers()
    for tag, nodes in blocks.items():
        assert [n.op for n in nodes][:2] == [Op.GLOBAL_AVGPOOL, Op.CONV]
        mul = nodes[-1]
        assert mul.op == Op.MUL and mul.name == f"b{tag[2:]}.se.mul"
        feat, gate_t = mul.inputs
        gate = prod[gate_t]
        fc2 = prod[gate.inputs[0]]
        act = prod[fc2.inputs[0]]
        fc1 = prod[act.inputs[0]]
        pool = prod[fc1.inputs[0]]
        assert gate.op == (Op.SIGMOID if name.startswith("efficientnet") else Op.HSIGMOID)
        assert act.op == (Op.SWISH if name.startswith("efficientnet") else Op.RELU)
        for fc in (fc1, fc2):
            assert fc.op == Op.CONV and fc.attrs["k"] == 1 and fc.attrs["bias"] is True
            assert g.out_shape(fc)[2:] == (1, 1)
        assert pool.op == Op.GLOBAL_AVGPOOL and pool.inputs == [feat]
        assert g.out_shape(fc2)[1] == g.shape(feat)[1] and g.out_shape(mul) == g.shape(feat)
        assert {n.name for n in nodes} == {pool.name, fc1.name, act.name, fc2.name, gate.name, mul.name}


def test_se_squeeze_widths_follow_the_references():
    # EfficientNet: 0.25 x block INPUT channels (b4's first block: 48 in -> 12; its 2nd: 24 -> 6)
    b4 = zoo.build("efficientnet_b4")
    assert b4.node("b1.se.fc1").attrs["cout"] == 12 and b4.node("b2.se.fc1").attrs["cout"] == 6
    # MobileNetV3: _make_divisible(expanded // 4, 8) (large b4: 72 expanded -> 24)
    v3 = zoo.build("mobilenet_v3_large")
    assert v3.node("b4.se.fc1").attrs["cout"] == 24 and v3.node("b4.se.fc2").attrs["cout"] == 72


def test_conv_bn_act_convention():
    g = zoo.build("efficientnet_b0")
    cons = g.consumers()
    for n in g:
        if n.op in (Op.CONV, Op.DWCONV) and "se" not in str(n.attrs.get("block", "")):
            assert n.attrs["bias"] is False
            assert [c.op for c in cons[n.outputs[0]]] == [Op.BATCHNORM]
        if n.op == Op.CONV:
            assert n.attrs["groups"] == 1     # depthwise convs are DWCONV, never grouped CONV
    names = [n.name for n in g]
    assert len(set(names)) == len(names)
    assert {"stem.conv", "b2.expand.conv", "b2.dw.conv", "b2.se.fc1", "b2.project.bn", "head.act",
            "pool", "flatten", "dropout", "fc"} <= set(names)


# Residual adds: every stride-1 block whose input and output widths match (all but each stage's
# first block in these tables; MobileNetV3 per its per-block table, torchvision use_res_connect).
@pytest.mark.parametrize("name,adds", [("efficientnet_b0", 16 - 7), ("efficientnet_b4", 32 - 7),
                                       ("efficientnet_lite4", 30 - 7), ("mobilenet_v2", 17 - 7),
                                       ("mobilenet_v3_large", 10), ("mobilenet_v3_small", 6)])
def test_residual_adds(name, adds):
    g = zoo.build(name)
    res = [n for n in g if n.op == Op.ADD]
    assert len(res) == adds
    prod = g.producers()
    for n in res:   # block output (after the projection BN) + block input, same shape
        assert prod[n.inputs[0]].name.endswith(".project.bn")
        assert g.shape(n.inputs[0]) == g.shape(n.inputs[1])


def test_compound_scaling_b4_vs_lite4():
    def stages(g):
        return [g.out_shape(n)[1] for n in g if n.name.endswith(".project.conv")]

    b4, lite4 = zoo.build("efficientnet_b4"), zoo.build("efficientnet_lite4")
    # width 1.4: round_filters(32)=48, 16->24, 24->32, 40->56, 80->112, 112->160, 192->272, 320->448, 1280->1792
    # depth 1.8: ceil([1,2,2,3,3,4,1] * 1.8) = [2,4,4,6,6,8,2]
    expect = [24] * 2 + [32] * 4 + [56] * 4 + [112] * 6 + [160] * 6 + [272] * 8 + [448] * 2
    assert g_out(b4, "stem.conv") == 48 and g_out(b4, "head.conv") == 1792
    assert stages(b4) == expect
    # Lite (fix_head_stem): stem 32 and head 1280 unscaled, first/last stage repeats unscaled
    assert g_out(lite4, "stem.conv") == 32 and g_out(lite4, "head.conv") == 1280
    assert stages(lite4) == [24] + expect[2:-2] + [448]
    assert all(n.op != Op.SWISH for n in lite4) and any(n.op == Op.RELU6 for n in lite4)


def g_out(g, node: str) -> int:
    return g.out_shape(g.node(node))[1]


def test_shufflenet_split_concat_shuffle():
    g = zoo.build("shufflenet_v2_x1_0")
    units = [n for n in g if n.op == Op.CHANNEL_SHUFFLE]
    assert len(units) == 16 and all(n.attrs["groups"] == 2 for n in units)
    splits = [n for n in g if n.op == Op.SPLIT]
    assert len(splits) == 16 - 3                      # every stride-1 unit splits its input
    s = g.node("b2.split")
    assert g.shape(s.outputs[0]) == g.shape(s.outputs[1]) == (1, 58, 28, 28)
    cat = g.node("b2.concat")
    assert cat.inputs[0] == s.outputs[0]              # the untouched half goes straight to concat
    assert g.out_shape(g.node("head.conv")) == (1, 1024, 7, 7)


def test_squeezenet_ceil_mode_pools_and_conv_classifier():
    g = zoo.build("squeezenet1_0")
    pools = [n for n in g if n.op == Op.MAXPOOL]
    assert len(pools) == 3 and all(p.attrs["ceil_mode"] for p in pools)
    # 224 -conv7/2-> 109 -pool-> 54 -pool-> 27 -pool-> 13 (torchvision's 13x13 final map)
    assert [g.out_shape(p)[2] for p in pools] == [54, 27, 13]
    assert g.out_shape(g.node("conv10.conv")) == (1, 1000, 13, 13)
    assert sum(n.op == Op.CONCAT for n in g) == 8     # fire2..fire9
    assert all(n.attrs["bias"] for n in g if n.op == Op.CONV) and not any(n.op == Op.BATCHNORM for n in g)


# ---- width multipliers and user errors ------------------------------------------------------

def test_width_by_name_or_keyword():
    a, b = zoo.build("mobilenet_v1_0.75"), zoo.build("mobilenet_v1", width=0.75)
    assert a.name == b.name == "mobilenet_v1_0.75" and a.meta["width"] == 0.75
    assert (a.total_macs(), a.total_params()) == (b.total_macs(), b.total_params())
    assert zoo.info("mobilenet_v2_1.4").width == 1.4
    # TF-slim MobileNetV2 1.4 @224: 582M MACs (Sandler et al. 2018, Table 4 rounds to 585M)
    assert rel(zoo.build("mobilenet_v2", width=1.4).total_macs(), 582 * M) < 0.01
    assert zoo.build("mobilenet_v2", width=1.0).total_params() == 3_504_872


@pytest.mark.parametrize("kwargs,needle", [
    ({"name": "mobilenet_v3_large", "width": 0.5}, "takes no width"),
    ({"name": "mobilenet_v1_0.5", "width": 0.75}, "already says width 0.5"),
    ({"name": "mobilenet_v1", "width": 0}, "width multiplier"),
    ({"name": "mobilenet_v1", "width": "wide"}, "width multiplier"),
    ({"name": "mobilenet_v1_0.5", "width": "wide"}, "width multiplier"),
    ({"name": "mobilenet_v1_0", "width": None}, "width multiplier"),
    ({"name": "efficientnet_b4", "input_size": "256"}, "input size"),
    ({"name": "efficientnet_b4", "input_size": 256.5}, "input size"),
])
def test_bad_options_raise_zoo_error(kwargs, needle):
    with pytest.raises(zoo.ZooError, match=needle) as e:
        zoo.build(**kwargs)
    assert "\n" not in str(e.value)


def test_unknown_name_lists_close_matches():
    with pytest.raises(zoo.ZooError) as e:
        zoo.build("efficientnet_b9")
    msg = str(e.value)
    assert "'efficientnet_b9'" in msg and "efficientnet_b7" in msg and "\n" not in msg
    with pytest.raises(zoo.ZooError, match="'vgg16'.*known models: mobilenet_v1"):
        zoo.info("vgg16")


def test_names_are_forgiving_about_case_and_dashes():
    assert zoo.info("EfficientNet-B4").name == "efficientnet_b4"
    assert zoo.build("MobileNet_V1_0.5").name == "mobilenet_v1_0.5"


@pytest.mark.parametrize("name,size", [("efficientnet_b4", 31), ("mobilenet_v1", 0),
                                       ("squeezenet1_0", 20), ("shufflenet_v2_x1_0", -224)])
def test_too_small_input_raises_ir_error(name, size):
    with pytest.raises(IRError, match=rf"^{name}: input size {size} is too small.* at least 32x32$"):
        zoo.build(name, size)
    assert zoo.info(name).min_input_size == 32
    zoo.build(name, 32)         # the minimum itself builds
