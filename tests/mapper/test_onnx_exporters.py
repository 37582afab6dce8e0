"""ONNX as PyTorch's exporters write it (graphs from tests/mapper/torch_exports.py, spelt with
onnx.helper), Slice / Split in every form, constants exporters wrap, and quantised graphs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mapper import zoo
from mapper.ir import Op
from mapper.onnx.core import OPSET_MAX
from mapper.onnx_import import OnnxImportError, load
from mapper.partition import partition
from mapper.passes import prepare
from tests.mapper.test_onnx_import import Model, kinds, one_line
from tests.mapper.torch_exports import shufflenet_v2


def same_network(g, z) -> None:
    """Imported ``g`` is zoo graph ``z``: MACs, output, and (after prepare) op kinds and parameters
    (the legacy exporter folds eval BatchNorm into the conv bias, as prepare does)."""
    assert g.total_macs() == z.total_macs()
    assert g.shape(g.outputs[0]) == z.shape(z.outputs[0])
    p, q = prepare(g), prepare(z)
    assert kinds(p) == kinds(q) and p.total_params() == q.total_params()
    assert kinds(p)[Op.CHANNEL_SHUFFLE] == 16 and Op.TRANSPOSE not in kinds(p)


# ---- ShuffleNetV2 (torchvision) through every exporter setting ----------------------------
@pytest.mark.parametrize("opset", [7, 9, 10, 11, 12, 13, 16, 17, 18, 20, OPSET_MAX])
def test_shufflenet_v2_legacy_exporter_every_opset(tmp_path: Path, opset: int):
    z = zoo.build("shufflenet_v2_x1_0")
    g = load(shufflenet_v2(tmp_path / "sn.onnx", opset=opset))
    same_network(g, z)
    assert g.total_macs() == 144_907_992        # torchvision: 0.14 GFLOPS (multiply-adds)
    assert g.name == "sn"                       # torch's "main_graph" says nothing: the file's name


@pytest.mark.parametrize("exporter", ["legacy", "dynamo", "dynamo_noopt"])
@pytest.mark.parametrize("weights", ["embedded", "external", "absent"])
@pytest.mark.parametrize("dynamic", [False, True])
def test_shufflenet_v2_exporter_settings(tmp_path: Path, exporter: str, weights: str, dynamic: bool):
    """Weights embedded, in model.onnx.data or left out (export_params=False), static or dynamic
    batch / height / width, at the export size and at another one (frozen shuffles re-derived)."""
    path = shufflenet_v2(tmp_path / "sn.onnx", opset=18 if exporter != "legacy" else 11, exporter=exporter,
                         dynamic=dynamic, weights=weights)
    ops = Counter(n.op_type for n in onnx.load(path, load_external_data=False).graph.node)
    spelt = {"legacy": {"Slice": 26}, "dynamo": {"Split": 13, "BatchNormalization": 56},
             "dynamo_noopt": {"SplitToSequence": 13, "SequenceAt": 26, "channel_shuffle": 16, "MatMul": 1}}[exporter]
    assert {k: ops[k] for k in spelt} == spelt          # the generator writes the pattern under test
    assert (ops["Shape"] > 0) == dynamic                 # reshape targets computed, or frozen
    if weights == "external":
        assert (tmp_path / "sn.onnx.data").stat().st_size > 9_000_000     # 2.3 M float32 weights
    if weights == "absent":
        assert {t.data_type for t in onnx.load(path).graph.initializer} <= {TensorProto.INT64}   # no weights
    for size in ([224, 160] if dynamic else [None, 288]):
        same_network(load(path, size), zoo.build("shufflenet_v2_x1_0", size))


def test_shufflenet_v2_export_estimates_as_the_zoo_model(tmp_path: Path):
    from hwsim.estimate import estimate
    path = shufflenet_v2(tmp_path / "sn.onnx", opset=11)
    a, b = estimate(str(path), input_size=192), estimate("shufflenet_v2_x1_0", input_size=192)
    assert (a.fps, a.latency_ms, a.breakdown_ms) == (b.fps, b.latency_ms, b.breakdown_ms)


@pytest.mark.parametrize("s5", [[1, 2, 12, 14, 14], [1, 2, -1, 14, 14], [1, -1, 12, 14, 14]])
def test_frozen_shuffle_with_an_inferred_dim_runs_at_another_size(tmp_path: Path, s5: list[int]):
    """view(n, g, -1, h, w) traced at 14x14 keeps its -1 but freezes h, w: re-derived as well
    (else the -1 would silently absorb the new spatial size)."""
    m = Model((1, 24, 14, 14), opset=13)
    y = m("Reshape", [m.conv("x", "c", 24, 24), m.w("s5", s5, np.int64)], "view")
    y = m("Transpose", [y], "t", perm=[0, 2, 1, 3, 4])
    m.conv(m("Reshape", [y, m.w("s4", [1, -1, 14, 14], np.int64)], "back"), "after", 24, 24)
    g = prepare(load(m.save(tmp_path, "after"), input_size=20))
    assert g.node("back").op == Op.CHANNEL_SHUFFLE and g.node("back").attrs["groups"] == 2
    assert g.shape("after") == (1, 24, 20, 20)


def test_frozen_reshape_that_is_not_a_shuffle_still_refuses_another_size(tmp_path: Path):
    m = Model((1, 8, 14, 14), opset=13)
    y = m("Reshape", ["x", m.w("s5", [1, 2, 4, 14, 14], np.int64)], "view")
    y = m("Transpose", [y], "t", perm=[0, 1, 2, 4, 3])         # not the shuffle's transpose(1, 2)
    m("Reshape", [y, m.w("s4", [1, -1, 14, 14], np.int64)], "back")
    path = m.save(tmp_path, "back")
    assert load(path).shape("back") == (1, 8, 14, 14)
    with pytest.raises(OnnxImportError, match="cannot reshape"):
        load(path, input_size=20)


# ---- Slice and Split in every form ----------------------------------------------------------
I64_MAX = 2 ** 63 - 1


@pytest.mark.parametrize("spec, sizes, picks", [
    # (starts, ends, axes, steps) -> split sizes of the 12 channels, which output each Slice takes
    ([([0], [6], [1], None), ([6], [I64_MAX], [1], None)], [6, 6], [0, 1]),          # torch.chunk(2)
    ([([0], [4], [-3], [1]), ([4], [-4], [-3], [1]), ([-4], [12], [-3], [1])], [4, 4, 4], [0, 1, 2]),
    ([([2], [5], [1], None)], [2, 3, 7], [1]),                                         # one window
    ([([0], [-2], [1], None)], [10, 2], [0]),
    ([([0, 3], [I64_MAX, 9], [0, 1], [1, 1])], [3, 6, 3], [1]),                       # a no-op axis 0
])
def test_slice_forms(tmp_path: Path, spec, sizes, picks):
    m = Model((1, 12, 8, 8), opset=13)
    outs = []
    for i, (s, e, ax, st) in enumerate(spec):
        ins = ["x", m.w(f"s{i}", s, np.int64), m.w(f"e{i}", e, np.int64), m.w(f"a{i}", ax, np.int64)]
        if st is not None:
            ins.append(m.w(f"st{i}", st, np.int64))
        outs.append(m("Relu", [m("Slice", ins, f"slice{i}")], f"r{i}"))
    g = load(m.save(tmp_path, *outs))
    (split,) = [n for n in g if n.op == Op.SPLIT]
    assert split.attrs["sizes"] == sizes and split.attrs["axis"] == 1
    assert [g.node(f"r{i}").inputs[0] for i in range(len(spec))] == [split.outputs[p] for p in picks]


def test_slice_attributes_before_opset_10_and_a_whole_tensor_slice(tmp_path: Path):
    m = Model((1, 12, 8, 8), opset=9)
    a = m("Slice", ["x"], "a", starts=[0], ends=[3], axes=[1])
    b = m("Slice", ["x"], "b", starts=[0, 3], ends=[100, 12])        # axes default 0..n-1; axis 0 whole
    whole = m("Slice", ["x"], "c", starts=[0], ends=[I64_MAX], axes=[2])
    g = load(m.save(tmp_path, a, b, whole))
    (split,) = [n for n in g if n.op == Op.SPLIT]
    assert split.attrs["sizes"] == [3, 9] and g.shape(g.outputs[1]) == (1, 9, 8, 8)
    assert g.outputs[2] == "x"                                       # a no-op slice is the tensor


@pytest.mark.parametrize("ins, attrs, message", [
    (([0], [8], [2], [2]), {}, "a Slice with step 2 of a feature map is not supported"),
    (([8], [0], [2], [-1]), {}, "a Slice with step -1 of a feature map is not supported"),
    (([0, 0], [4, 4], [2, 3], None), {}, "a Slice of a feature map along 2 axes is not supported"),
    (([5], [5], [1], None), {}, "an empty Slice"),
])
def test_slice_refusals(tmp_path: Path, ins, attrs, message: str):
    m = Model((1, 12, 8, 8), opset=13)
    s, e, ax, st = ins
    args = ["x", m.w("s", s, np.int64), m.w("e", e, np.int64), m.w("a", ax, np.int64)]
    if st is not None:
        args.append(m.w("st", st, np.int64))
    y = m("Slice", args, "cut", **attrs)
    with pytest.raises(OnnxImportError) as e:
        load(m.save(tmp_path, y))
    assert message in one_line(e) and "at node 'cut' (Slice)" in one_line(e)


@pytest.mark.parametrize("opset, how, outputs, sizes", [
    (11, {"split": [2, 10]}, 2, [2, 10]),            # attribute
    (13, {"input": [5, 7]}, 2, [5, 7]),              # input
    (18, {"num_outputs": 3}, 3, [4, 4, 4]),
    (18, {"num_outputs": 5}, 5, [3, 3, 3, 3, 0]),    # refused below: an empty part
    (11, {}, 4, [3, 3, 3, 3]),                        # equal parts by the number of outputs
])
def test_split_forms(tmp_path: Path, opset: int, how: dict, outputs: int, sizes: list[int]):
    m = Model((1, 12, 8, 8), opset=opset)
    ins = ["x"] + ([m.w("sp", how.pop("input"), np.int64)] if "input" in how else [])
    outs = m("Split", ins, "sp_node", outputs=outputs, axis=-3, **how)
    path = m.save(tmp_path, *outs)
    if 0 in sizes:
        with pytest.raises(OnnxImportError, match="cannot be split into 5 parts"):
            load(path)
        return
    g = load(path)
    assert g.node("sp_node").attrs["sizes"] == sizes and g.node("sp_node").attrs["axis"] == 1


def test_split_num_outputs_uneven_and_mismatch(tmp_path: Path):
    m = Model((1, 10, 8, 8), opset=18)
    outs = m("Split", ["x"], "s", outputs=3, axis=1, num_outputs=3)
    assert load(m.save(tmp_path, *outs)).node("s").attrs["sizes"] == [4, 4, 2]     # ceil(10/3), last smaller
    m = Model((1, 10, 8, 8), opset=18)
    outs = m("Split", ["x"], "s", outputs=2, axis=1, num_outputs=3)
    with pytest.raises(OnnxImportError, match="num_outputs=3 but the node has 2 outputs"):
        load(m.save(tmp_path, *outs))
    m = Model((1, 10, 8, 8), opset=13)
    outs = m("Split", ["x", m.w("sp", [3, 3], np.int64)], "s", outputs=2, axis=1)
    with pytest.raises(OnnxImportError, match=r"split sizes \[3, 3\] do not cover axis 1"):
        load(m.save(tmp_path, *outs))


def test_castlike_constant_identity_and_cast_around_a_hard_swish(tmp_path: Path):
    """The dynamo exporter without its optimiser: every scalar a Constant cast like the feature
    map, Identity and Cast on the way; hswish = x * relu6(x + 3) / 6 is still recognised."""
    m = Model((1, 8, 8, 8), opset=18)

    def scalar(v: float, name: str) -> str:
        return m("CastLike", [m.scalar(name, v, node=True), "x"], f"{name}_like")

    y = m("Cast", [m("Identity", [m.conv("x", "c", 8, 8)], "idn")], "cast", to=TensorProto.FLOAT)
    r = m("Clip", [m("Add", [y, scalar(3.0, "three")], "plus3"), scalar(0.0, "lo"), scalar(6.0, "hi")], "clip")
    m("Div", [m("Mul", [y, r], "times"), scalar(6.0, "six")], "hswish")
    g = load(m.save(tmp_path, "hswish"))
    assert [n.op for n in g] == [Op.CONV, Op.HSWISH]


# ---- quantised graphs -------------------------------------------------------------------------
def qdq_conv(opset: int = 13, wtype=TensorProto.INT8, atype=TensorProto.UINT8, bias32: bool = True) -> Model:
    """Conv and Gemm in onnxruntime.quantization's QDQ format: Q/DQ pairs on activations, int8
    weights behind a DequantizeLinear, an int32 bias behind another."""
    m = Model((1, 16, 14, 14), opset)
    np_of = {TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8, TensorProto.INT32: np.int32,
             TensorProto.UINT16: np.uint16, TensorProto.INT16: np.int16}

    def init(name, value, t):
        if t in np_of:
            m.inits.append(numpy_helper.from_array(np.asarray(value, np_of[t]), name))
        else:
            m.inits.append(helper.make_tensor(name, t, np.shape(value), np.asarray(value).reshape(-1).tolist()))
        return name

    def qdq(x: str, name: str) -> str:
        zp = init(f"{name}.zp", 0, atype)
        q = m("QuantizeLinear", [x, m.scalar(f"{name}.s", 0.05), zp], f"{name}_q")
        return m("DequantizeLinear", [q, m.scalar(f"{name}.ds", 0.05), zp], f"{name}_dq")

    def weight(name: str, shape) -> str:
        w = init(name, np.zeros(shape, np.int64), wtype)
        return m("DequantizeLinear", [w, m.scalar(f"{name}.s", 0.01), init(f"{name}.zp", 0, wtype)], f"{name}_dq")

    x = qdq("x", "in")
    ins = [x, weight("conv.w", (32, 16, 3, 3))]
    if bias32:
        ins.append(m("DequantizeLinear", [init("conv.b", np.zeros(32), TensorProto.INT32), m.scalar("conv.bs", 5e-4)],
                     "conv.b_dq"))
    y = qdq(m("Relu", [m("Conv", ins, "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])], "relu"), "act")
    y = m("Flatten", [m("GlobalAveragePool", [y], "gap")], "flat")
    m("Gemm", [qdq(y, "fcin"), weight("fc.w", (10, 32))], "fc", transB=1)
    return m


def test_qdq_graph_imports_with_its_bit_widths_and_runs_on_the_pl(tmp_path: Path):
    g = load(qdq_conv().save(tmp_path, "fc"))
    assert [n.op for n in g] == [Op.CONV, Op.RELU, Op.GLOBAL_AVGPOOL, Op.FLATTEN, Op.FC]
    assert g.node("conv").attrs["bias"] and g.total_macs() == 14 * 14 * 32 * 16 * 9 + 320
    assert g.meta["quantisation"] == {"format": "qdq", "bits": [8, 32]}
    from hwsim.config import load as load_config
    plan = partition(g, load_config().accel, "naive")       # as hwsim estimate places it
    assert "conv" in {n for s in plan.segments if s.device == "PL" for n in s.nodes}


@pytest.mark.parametrize("wtype, atype, message", [
    (getattr(TensorProto, "INT4", None), TensorProto.UINT8, "4-bit weights: the PL's INT8 array computes 8-bit"),
    (TensorProto.INT8, TensorProto.UINT16, "16-bit activations: the PL's INT8 array computes 8-bit"),
    (TensorProto.INT16, TensorProto.UINT8, "16-bit weights"),
])
def test_qdq_precisions_the_array_cannot_run(tmp_path: Path, wtype, atype, message: str):
    if wtype is None:
        pytest.skip("this onnx has no INT4")
    m = qdq_conv(opset=21, wtype=wtype, atype=atype)
    with pytest.raises(OnnxImportError) as e:
        load(m.save(tmp_path, "fc"))
    assert message in one_line(e) and "requantise the model to 8 bits" in one_line(e)


def qonnx_model(wbits: float, abits: float, bipolar: bool = False) -> Model:
    """Brevitas -> QONNX: Quant(x, scale, zero_point, bit_width) on the weights and activations."""
    m = Model((1, 8, 10, 10), opset=13)

    def quant(x: str, name: str, bits: float) -> str:
        ins = [x, m.scalar(f"{name}.s", 0.1), m.scalar(f"{name}.zp", 0.0), m.scalar(f"{name}.bits", bits)]
        m.nodes.append(helper.make_node("Quant", ins, [name], name=name, domain="qonnx.custom_op.general",
                                        signed=1, narrow=0, rounding_mode="ROUND"))
        return name

    w = quant(m.w("w", (16, 8, 3, 3)), "wq", wbits)
    y = m("Conv", [quant("x", "xq", abits), w], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    if bipolar:
        m.nodes.append(helper.make_node("BipolarQuant", [y, m.scalar("bs", 1.0)], ["bq"], name="bq",
                                        domain="qonnx.custom_op.general"))
        y = "bq"
    m("Relu", [y], "relu")
    return m


def save_qonnx(m: Model, path: Path) -> Path:
    p = m.save(path, "relu")
    model = onnx.load(p)
    model.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 1))
    onnx.save(model, p)
    return p


def test_qonnx_quant_8_bit_imports(tmp_path: Path):
    g = load(save_qonnx(qonnx_model(8, 8), tmp_path))
    assert [n.op for n in g] == [Op.CONV, Op.RELU] and g.total_macs() == 100 * 16 * 8 * 9
    assert g.meta["quantisation"] == {"format": "qonnx", "bits": [8]}


@pytest.mark.parametrize("wbits, abits, bipolar, message", [
    (4, 8, False, "4-bit weights"), (8, 4, False, "4-bit activations"), (8, 16, False, "16-bit activations"),
    (8, 8, True, "1-bit activations"), (2.5, 8, False, "bit width [2.5] is not one positive integer"),
])
def test_qonnx_precisions_the_array_cannot_run(tmp_path: Path, wbits, abits, bipolar, message: str):
    with pytest.raises(OnnxImportError) as e:
        load(save_qonnx(qonnx_model(wbits, abits, bipolar), tmp_path))
    assert message in one_line(e) and one_line(e).startswith("m.onnx: ")


def test_qdq_scalar_constants_keep_their_value(tmp_path: Path):
    """onnxruntime quantises an Add's constant too: DQ(30, scale 0.1) is 3.0, so x * relu6(x + 3) / 6
    spelt with quantised constants is still a hard swish."""
    m = Model((1, 8, 8, 8), opset=13)

    def qconst(value: int, name: str) -> str:
        m.inits.append(numpy_helper.from_array(np.array(value, np.uint8), name))
        return m("DequantizeLinear", [name, m.scalar(f"{name}.s", 0.1)], f"{name}_dq")

    y = m.conv("x", "c", 8, 8)
    r = m("Clip", [m("Add", [y, qconst(30, "three")], "plus3"), m.scalar("lo", 0.0), qconst(60, "six_hi")], "clip")
    m("Div", [m("Mul", [y, r], "times"), qconst(60, "six")], "hswish")
    g = load(m.save(tmp_path, "hswish"))
    assert [n.op for n in g] == [Op.CONV, Op.HSWISH]


# ---- Slice semantics against onnx's reference implementation --------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

BOUND = st.one_of(st.integers(-14, 14), st.sampled_from([I64_MAX, -I64_MAX - 1]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(axis=st.integers(-4, 3), start=BOUND, end=BOUND, step=st.sampled_from([1, 1, 1, 2, -1]),
       with_steps=st.booleans())
def test_slice_matches_the_onnx_reference(tmp_path_factory, axis: int, start: int, end: int, step: int,
                                          with_steps: bool):
    """Where a Slice of a (1, 12, 6, 10) map starts and how long it is, as onnx.reference computes
    them (negative and out-of-range indices); refused exactly when it is empty or strided."""
    from onnx.reference import ReferenceEvaluator
    step = step if with_steps else 1
    shape = (1, 12, 6, 10)
    node = helper.make_node("Slice", ["x", "s", "e", "a"] + (["st"] if with_steps else []), ["y"])
    feeds = {"s": np.array([start]), "e": np.array([end]), "a": np.array([axis])} | (
        {"st": np.array([step])} if with_steps else {})
    graph = helper.make_graph([node], "ref", [helper.make_tensor_value_info(k, TensorProto.INT64, None)
                                              for k in ("x", *feeds)],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    ax = axis % 4
    index = np.broadcast_to(np.arange(shape[ax]).reshape([-1 if i == ax else 1 for i in range(4)]), shape)
    (ref,) = ReferenceEvaluator(graph, opsets={"": 13}).run(None, {"x": np.ascontiguousarray(index), **feeds})

    m = Model(shape, opset=13)
    ins = ["x", m.w("s", [start], np.int64), m.w("e", [end], np.int64), m.w("a", [axis], np.int64)]
    if with_steps:
        ins.append(m.w("st", [step], np.int64))
    y = m("Slice", ins, "cut")
    path = m.save(tmp_path_factory.mktemp("slice"), y)
    whole = ref.shape == shape and (ref.size == 0 or (ref.reshape(-1)[:1] == 0).all() and step == 1)
    if ref.size == 0 or (step != 1 and not whole):
        with pytest.raises(OnnxImportError) as e:
            load(path)
        assert "\n" not in str(e.value) and ("empty Slice" in str(e.value) or "step" in str(e.value))
        return
    g = load(path)
    out = g.outputs[0]
    assert g.shape(out) == ref.shape
    if out != "x":
        split = g.node(out.split(":")[0])
        k = split.outputs.index(out)
        assert sum(split.attrs["sizes"][:k]) == int(ref.reshape(-1)[0])     # where the slice starts


def test_contrib_domain_qdq_16_bit_is_refused(tmp_path: Path):
    """onnxruntime writes 16-bit QDQ with its com.microsoft QuantizeLinear / DequantizeLinear."""
    m = qdq_conv(opset=13, atype=TensorProto.UINT16)
    for n in m.nodes:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.name.startswith("in_"):
            n.domain = "com.microsoft"
    path = m.save(tmp_path, "fc")
    model = onnx.load(path)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, path)
    with pytest.raises(OnnxImportError) as e:
        load(path)
    assert "16-bit activations" in one_line(e) and "at node 'in_q' (QuantizeLinear)" in one_line(e)


@pytest.mark.parametrize("wtype, ok", [(TensorProto.INT8, True), (TensorProto.INT16, False)])
def test_qoperator_format_qlinearconv_and_qlinearmatmul(tmp_path: Path, wtype, ok: bool):
    """onnxruntime's QOperator format: QLinearConv / QLinearMatMul between QuantizeLinear and
    DequantizeLinear; mapped as the float layers they compute, their weights' width checked."""
    m = Model((1, 16, 14, 14), opset=13)
    np_w = {TensorProto.INT8: np.int8, TensorProto.INT16: np.int16}[wtype]

    def init(name, value, dtype):
        m.inits.append(numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    s, zp = m.scalar("s", 0.05), init("zp", 0, np.uint8)
    x = m("QuantizeLinear", ["x", s, zp], "qx")
    y = m("QLinearConv", [x, s, zp, init("w", np.zeros((8, 16, 3, 3)), np_w), s, init("wzp", 0, np_w), s, zp,
                          init("b", np.zeros(8), np.int32)], "qconv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    y = m("Reshape", [y, m.w("flat", [1, 8 * 14 * 14], np.int64)], "flatten")
    y = m("QLinearMatMul", [y, s, zp, init("fw", np.zeros((8 * 14 * 14, 10)), np.int8), s,
                            init("fzp", 0, np.int8), s, zp], "qfc")
    m("DequantizeLinear", [y, s, zp], "out")
    path = m.save(tmp_path, "out")
    if not ok:
        with pytest.raises(OnnxImportError) as e:
            load(path)
        assert "16-bit weights" in one_line(e) and "at node 'qconv' (QLinearConv)" in one_line(e)
        return
    g = load(path)
    assert [n.op for n in g] == [Op.CONV, Op.RESHAPE, Op.FC] and g.node("qconv").attrs["bias"]
    assert g.total_macs() == 14 * 14 * 8 * 16 * 9 + 8 * 14 * 14 * 10
    assert g.meta["quantisation"]["format"] == "qdq+qoperator"


def test_qdq_bit_widths_in_the_cli_json(tmp_path: Path, capsys):
    import json

    from hwsim.cli import main
    path = qdq_conv().save(tmp_path, "fc")
    for cmd in ("map", "estimate"):
        assert main([cmd, str(path), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["quantisation"] == {"format": "qdq", "bits": [8, 32]}
    assert main(["map", "mobilenet_v2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quantisation"] is None


def test_initializers_also_listed_as_graph_inputs(tmp_path: Path):
    """keep_initializers_as_inputs=True (the legacy exporter's default before IR version 4): every
    weight is both an initializer and a graph input; the image is still the one true input."""
    path = shufflenet_v2(tmp_path / "sn.onnx", opset=9)
    model = onnx.load(path)
    model.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in model.graph.initializer)
    model.ir_version = 3
    onnx.save(model, path)
    same_network(load(path), zoo.build("shufflenet_v2_x1_0"))


# ---- the real exporter, where PyTorch happens to be installed (never a dependency) --------------
@pytest.mark.parametrize("opset", [11, 17])
def test_real_torch_export_of_torchvision_shufflenet(tmp_path: Path, opset: int):
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    net = models.shufflenet_v2_x1_0(weights=None).eval()
    path = tmp_path / "sn.onnx"
    import inspect
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(net, torch.zeros(1, 3, 224, 224), str(path), opset_version=opset, **legacy)
    same_network(load(path), zoo.build("shufflenet_v2_x1_0"))
    same_network(load(path, 160), zoo.build("shufflenet_v2_x1_0", 160))
