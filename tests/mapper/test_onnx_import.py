"""ONNX import: the real graphs the onnx package ships, hand-built exporter patterns, bad input."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mapper import ir
from mapper.ir import Op
from mapper.onnx_import import OnnxImportError, load
from mapper.passes import find_se_blocks, prepare

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def kinds(g) -> Counter:
    return Counter(n.op for n in g)


class Model:
    """A tiny ONNX graph builder: nodes, float initializers, one NCHW input."""

    def __init__(self, shape: list[int | str] = (1, 16, 14, 14), opset: int = 13):
        self.shape, self.opset = list(shape), opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def w(self, name: str, shape_or_value, dtype=np.float32) -> str:
        """A float weight of the given shape, or an int64 constant of the given value."""
        v = np.asarray(shape_or_value, dtype) if dtype == np.int64 else np.full(shape_or_value, 0.1, dtype)
        self.inits.append(numpy_helper.from_array(v, name))
        return name

    def scalar(self, name: str, value: float, *, node: bool = False) -> str:
        """A float scalar, as an initializer or as a Constant node."""
        t = numpy_helper.from_array(np.array(value, np.float32), name)
        if node:
            return self("Constant", [], name, value=t)
        self.inits.append(t)
        return name

    def __call__(self, op: str, inputs: list[str], name: str, outputs: int = 1, **attrs) -> str | list[str]:
        outs = [name] if outputs == 1 else [f"{name}_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        return outs[0] if outputs == 1 else outs

    def conv(self, x: str, name: str, cin: int, cout: int, k: int = 1, group: int = 1, bias: bool = False,
             **attrs) -> str:
        ins = [x, self.w(f"{name}.w", (cout, cin // group, k, k))] + ([self.w(f"{name}.b", (cout,))] if bias else [])
        pads = attrs.pop("pads", [k // 2] * 4)
        if pads is not None:
            attrs["pads"] = pads
        return self("Conv", ins, name, group=group, kernel_shape=[k, k], **attrs)

    def bn(self, x: str, name: str, c: int) -> str:
        return self("BatchNormalization", [x] + [self.w(f"{name}.{p}", (c,)) for p in "sbmv"], name)

    def save(self, path: Path, *outputs: str) -> Path:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape)
        ys = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs]
        graph = helper.make_graph(self.nodes, "test", [x], ys, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 7 if self.opset < 15 else 8
        path = path / "m.onnx"
        onnx.save(model, path)
        return path


# ---- the real graphs shipped with onnx ------------------------------------------------------
def test_resnet50_macs_params_and_structure():
    g = load(LIGHT / "light_resnet50.onnx")
    assert g.shape(g.inputs[0]) == (1, 3, 224, 224)
    # 53 Conv, 53 BatchNormalization, 49 Relu, 16 Sum (residual adds) in the file
    k = kinds(g)
    assert (k[Op.CONV], k[Op.BATCHNORM], k[Op.RELU], k[Op.ADD], k[Op.FC]) == (53, 53, 49, 16, 1)
    # This export strides the 3x3 conv of each down-sampling bottleneck (torchvision "v1.5"):
    # torchvision lists 4.09 GFLOPS (multiply-adds) for resnet50; He et al. 2016's 3.8e9 is the
    # original v1, which strides the first 1x1 conv instead.
    strided = [n for n in g if n.op == Op.CONV and n.attrs["stride"] == 2]
    assert sorted(n.attrs["k"] for n in strided) == [1, 1, 1, 3, 3, 3, 7]
    assert g.total_macs() == pytest.approx(4.089e9, rel=1e-3)
    fc = next(n for n in g if n.op == Op.FC)
    assert (fc.attrs["cin"], fc.attrs["cout"], g.macs(fc)) == (2048, 1000, 2_048_000)
    # torchvision resnet50: 25,557,032 parameters (BN scale+shift counted, as here)
    assert g.total_params() == 25_557_032
    assert g.shape(g.outputs[0]) == (1, 1000)

    p = prepare(g)
    assert Op.BATCHNORM not in kinds(p) and Op.RELU not in kinds(p)
    assert p.total_macs() == g.total_macs()
    bn = sum(g.params(n) for n in g if n.op == Op.BATCHNORM)
    new_biases = sum(int(n.attrs["cout"]) for n in g if n.op == Op.CONV)    # none had a bias
    assert p.total_params() == g.total_params() - bn + new_biases
    assert kinds(p)[Op.GLOBAL_AVGPOOL] == 1        # the 7x7 average pool over a 7x7 map


def test_squeezenet_shapes():
    g = load(LIGHT / "light_squeezenet.onnx")
    k = kinds(g)
    assert (k[Op.CONV], k[Op.RELU], k[Op.MAXPOOL], k[Op.CONCAT]) == (26, 26, 3, 8)
    convs = [n for n in g if n.op == Op.CONV]
    assert g.out_shape(convs[0]) == (1, 64, 111, 111)       # SqueezeNet 1.1: 3x3/2 conv, no padding
    cats = [g.out_shape(n) for n in g if n.op == Op.CONCAT]
    assert cats[0] == (1, 128, 55, 55) and cats[-1] == (1, 512, 13, 13)
    assert g.shape(g.outputs[0]) == (1, 1000, 1, 1)
    assert g.total_macs() == pytest.approx(0.349e9, rel=0.01)  # torchvision squeezenet1_1: 0.35 GFLOPS
    big = load(LIGHT / "light_squeezenet.onnx", input_size=256)   # fully convolutional: any size
    assert big.out_shape(next(n for n in big if n.op == Op.CONV)) == (1, 64, 127, 127)
    assert big.total_macs() > g.total_macs() * 1.25


def test_shufflenet_channel_shuffles_recognised():
    g = load(LIGHT / "light_shufflenet.onnx")
    assert kinds(g)[Op.TRANSPOSE] == 16 and kinds(g)[Op.RESHAPE] == 33
    p = prepare(g)
    shuffles = [n for n in p if n.op == Op.CHANNEL_SHUFFLE]
    assert len(shuffles) == 16 and Op.TRANSPOSE not in kinds(p)
    # ShuffleNet v1 with g = 4 (Zhang et al. 2018, Table 1: stages of 272, 544, 1088 channels)
    assert {n.attrs["groups"] for n in shuffles} == {4}
    assert Counter(n.attrs["groups"] for n in p if n.op == Op.CONV) == {4: 32, 1: 1}
    assert [p.out_shape(n)[1] for n in p if n.op == Op.CONCAT] == [272 // 2, 272, 544]
    assert all(p.in_shape(n) == p.out_shape(n) for n in shuffles)
    assert kinds(p)[Op.DWCONV] == 16
    assert p.total_macs() == g.total_macs()


@pytest.mark.parametrize("name, convs, macs, params", [
    # torchvision: vgg19 19.63 GFLOPS / 143,667,240 params; densenet121 2.83 GFLOPS
    ("light_vgg19", 16, 19.63e9, 143_667_240),
    ("light_densenet121", 121, 2.83e9, None),
    # Szegedy et al. 2014: GoogLeNet "1.5 billion multiply-adds"
    ("light_inception_v1", 57, 1.5e9, None),
])
def test_published_costs(name: str, convs: int, macs: float, params: int | None):
    g = load(LIGHT / f"{name}.onnx")
    assert kinds(g)[Op.CONV] == convs
    assert g.total_macs() == pytest.approx(macs, rel=0.05)
    if params is not None:
        assert g.total_params() == params
    assert prepare(g).total_macs() == g.total_macs()


def test_lrn_and_grouped_convs_of_alexnet():
    g = load(LIGHT / "light_bvlc_alexnet.onnx")
    lrn = [n for n in g if n.op == Op.LRN]
    assert len(lrn) == 2 and all(n.attrs["size"] == 5 for n in lrn)
    assert g.elem_ops(lrn[0]) == g.tensors[lrn[0].outputs[0]].numel * 7     # not zero work
    assert [n.attrs["groups"] for n in g if n.op == Op.CONV] == [1, 2, 1, 2, 2]
    assert [n.attrs["cout"] for n in g if n.op == Op.FC] == [4096, 4096, 1000]


@pytest.mark.parametrize("path", sorted(LIGHT.glob("*.onnx")), ids=lambda p: p.stem)
def test_every_shape_matches_onnx_shape_inference(path: Path):
    """Each node's output shape equals what onnx's own shape inference says (nodes are named alike)."""
    model = onnx.load(path)
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
    shapes = {v.name: tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
              for v in [*inferred.value_info, *inferred.output]}
    first_output = {n.name: n.output[0] for n in model.graph.node}
    g = load(path)
    compared = [(n.name, shapes[first_output[n.name]], g.shape(n.outputs[0])) for n in g]
    assert len(compared) == len(g) > 0
    assert [c for c in compared if c[1] != c[2]] == []
    p = prepare(g)
    assert p.total_macs() == g.total_macs() > 0


def test_fixed_size_export_at_another_size_is_a_clear_error():
    with pytest.raises(OnnxImportError, match=r"light_resnet50.onnx: .*cannot reshape .*another input size"):
        load(LIGHT / "light_resnet50.onnx", input_size=256)


# ---- exporter patterns ----------------------------------------------------------------------
def inverted_residual(opset: int) -> Model:
    """MobileNetV2 block; ReLU6 is Clip(0, 6): attributes before opset 11, inputs since."""
    m = Model((1, 16, 14, 14), opset)

    def relu6(x: str, name: str) -> str:
        if opset < 11:
            return m("Clip", [x], name, min=0.0, max=6.0)
        return m("Clip", [x, m.scalar(f"{name}.lo", 0.0), m.scalar(f"{name}.hi", 6.0, node=True)], name)

    y = m.conv("x", "expand", 16, 96)
    y = relu6(m.bn(y, "expand_bn", 96), "expand_act")
    y = m.conv(y, "dw", 96, 96, k=3, group=96)
    y = relu6(m.bn(y, "dw_bn", 96), "dw_act")
    y = m.bn(m.conv(y, "project", 96, 16), "project_bn", 16)
    m("Add", ["x", y], "residual")
    return m


@pytest.mark.parametrize("opset", [7, 9, 13, 17])
def test_inverted_residual_clip_relu6(tmp_path: Path, opset: int):
    g = load(inverted_residual(opset).save(tmp_path, "residual"))
    k = kinds(g)
    assert (k[Op.CONV], k[Op.DWCONV], k[Op.BATCHNORM], k[Op.RELU6], k[Op.ADD]) == (2, 1, 3, 2, 1)
    hw = 14 * 14
    assert g.total_macs() == hw * (16 * 96 + 96 * 9 + 96 * 16)
    p = prepare(g)
    assert [n.op for n in p] == [Op.CONV, Op.DWCONV, Op.CONV, Op.ADD]
    assert [n.attrs.get("act") for n in p] == [Op.RELU6, Op.RELU6, None, None]
    assert p.node("dw").attrs["pad"] == (1, 1, 1, 1) and p.total_macs() == g.total_macs()


def test_se_from_reducemean_gemm_hardsigmoid(tmp_path: Path):
    m = Model((1, 40, 14, 14), opset=18)
    f = m("HardSwish", [m.bn(m.conv("x", "conv", 40, 40, k=3), "bn", 40)], "act")
    s = m("ReduceMean", [f, m.w("axes", [2, 3], np.int64)], "se_pool", keepdims=0)
    s = m("Gemm", [s, m.w("fc1.w", (10, 40)), m.w("fc1.b", (10,))], "se_fc1", transB=1)
    s = m("Relu", [s], "se_relu")
    s = m("Gemm", [s, m.w("fc2.w", (10, 40)), m.w("fc2.b", (40,))], "se_fc2")
    s = m("HardSigmoid", [s], "se_gate", alpha=1 / 6)
    s = m("Unsqueeze", [s, m.w("ax", [2, 3], np.int64)], "se_unsq")
    m("Mul", [f, s], "se_mul")
    g = load(m.save(tmp_path, "se_mul"))
    assert g.node("se_fc1").attrs["cin"] == 40 and g.node("se_fc2").attrs["cout"] == 40
    (se,) = find_se_blocks(g)
    assert (se.reduce, se.act, se.expand, se.gate, se.mul, se.input, se.channels) == (
        "se_fc1", "se_relu", "se_fc2", "se_gate", "se_mul", "act", 40)
    assert g.node(se.pool).op == Op.GLOBAL_AVGPOOL
    assert len(se.nodes) == 8        # pool, squeeze, fc1, relu, fc2, gate, unsqueeze, mul
    (se,) = find_se_blocks(prepare(g))
    assert se.act is None and se.gate == "se_gate" and se.input == "conv"


def se_conv_model(opset: int = 11) -> Model:
    """EfficientNet MBConv tail as TF/PyTorch export it: swish as x * Sigmoid(x), SE from 1x1 Convs."""
    m = Model((1, 32, 28, 28), opset)
    f = m.bn(m.conv("x", "dw", 32, 32, k=5, group=32), "dw_bn", 32)
    f = m("Mul", [f, m("Sigmoid", [f], "dw_sig")], "dw_swish")
    s = m("GlobalAveragePool", [f], "se_pool")
    s = m.conv(s, "se_reduce", 32, 8, bias=True)
    s = m("Mul", [m("Sigmoid", [s], "se_sig"), s], "se_swish")
    s = m("Sigmoid", [m.conv(s, "se_expand", 8, 32, bias=True)], "se_gate")
    y = m("Mul", [s, f], "se_mul")
    m.bn(m.conv(y, "project", 32, 16), "project_bn", 16)
    return m


def test_se_from_1x1_convs_and_swish(tmp_path: Path):
    g = load(se_conv_model().save(tmp_path, "project_bn"))
    assert g.node("dw_swish").op == Op.SWISH and g.node("se_swish").op == Op.SWISH
    assert Op.SIGMOID in kinds(g) and kinds(g)[Op.SIGMOID] == 1      # only the gate is left
    (se,) = find_se_blocks(g)
    assert (se.pool, se.reduce, se.act, se.expand, se.gate, se.mul, se.input, se.channels) == (
        "se_pool", "se_reduce", "se_swish", "se_expand", "se_gate", "se_mul", "dw_swish", 32)
    p = prepare(g)
    (se,) = find_se_blocks(p)
    assert p.node("dw").attrs["act"] == Op.SWISH and p.node("se_reduce").attrs["act"] == Op.SWISH
    assert se.act is None and se.gate == "se_gate" and p.node("se_expand").attrs.get("act") is None
    assert [n.op for n in p] == [Op.DWCONV, Op.GLOBAL_AVGPOOL, Op.CONV, Op.CONV, Op.SIGMOID, Op.MUL, Op.CONV]


def test_shufflenetv2_shuffle_with_shape_plumbing(tmp_path: Path):
    m = Model((1, 116, 28, 28), opset=13)
    a, b = m("Split", ["x", m.w("sizes", [58, 58], np.int64)], "split", outputs=2, axis=1)
    y = m("Relu", [m.bn(m.conv(b, "pw1", 58, 58), "bn1", 58)], "r1")
    y = m.bn(m.conv(y, "dw", 58, 58, k=3, group=58), "bn2", 58)
    y = m("Relu", [m.bn(m.conv(y, "pw2", 58, 58), "bn3", 58)], "r2")
    x = m("Concat", [a, y], "cat", axis=1)
    # torchvision channel_shuffle: view(n, g, c // g, h, w).transpose(1, 2).view(n, -1, h, w)
    shp = m("Shape", [x], "shape")
    dims = [m("Unsqueeze", [m("Gather", [shp, m.w(f"i{i}", i, np.int64)], f"g{i}", axis=0),
                            m.w(f"u{i}.axes", [0], np.int64)], f"u{i}") for i in range(4)]
    cg = m("Unsqueeze", [m("Div", [m("Gather", [shp, m.w("ic", 1, np.int64)], "gc", axis=0),
                                   m.w("two", 2, np.int64)], "cdiv"), m.w("uc", [0], np.int64)], "ucg")
    split_shape = m("Concat", [dims[0], m.w("groups", [2], np.int64), cg, dims[2], dims[3]], "s5", axis=0)
    v = m("Reshape", [x, split_shape], "view")
    t = m("Transpose", [v], "swap", perm=[0, 2, 1, 3, 4])
    back = m("Concat", [dims[0], m.w("m1", [-1], np.int64), dims[2], dims[3]], "s4", axis=0)
    m("Reshape", [t, back], "shuffled")
    g = load(m.save(tmp_path, "shuffled"))
    assert kinds(g)[Op.TRANSPOSE] == 1 and g.node("view").attrs["shape"] == [1, 2, 58, 28, 28]
    assert g.out_shape(g.node("split"), 1) == (1, 58, 28, 28)
    p = prepare(g)
    sh = p.node("shuffled")
    assert sh.op == Op.CHANNEL_SHUFFLE and sh.attrs["groups"] == 2 and sh.inputs == ["cat"]
    assert Op.TRANSPOSE not in kinds(p) and Op.RESHAPE not in kinds(p)
    assert p.shape(p.outputs[0]) == (1, 116, 28, 28)


def test_matmul_bias_add_pad_and_auto_pad(tmp_path: Path):
    m = Model((1, 8, 224, 224), opset=13)
    y = m("Pad", ["x", m.w("pads", [0, 0, 0, 0, 0, 0, 1, 1], np.int64)], "tf_pad")   # TF "SAME", stride 2
    y = m.conv(y, "c1", 8, 16, k=3, strides=[2, 2], pads=[0, 0, 0, 0])
    y = m.conv(y, "c2", 16, 16, k=3, strides=[2, 2], pads=None, auto_pad="SAME_UPPER")
    y = m.conv(y, "c3", 16, 16, k=3, strides=[2, 2], pads=None, auto_pad="SAME_LOWER")
    y = m("Add", [m.conv(y, "c4", 16, 16), m.w("c4.bias", (1, 16, 1, 1))], "c4_bias")
    y = m("Flatten", [m("GlobalAveragePool", [y], "gap")], "flat")
    y = m("Add", [m("MatMul", [y, m.w("fc.w", (16, 10))], "fc"), m.w("fc.b", (10,))], "fc_bias")
    m("Softmax", [y], "prob")
    g = load(m.save(tmp_path, "prob"))
    assert Op.ADD not in kinds(g) and Op.BATCHNORM not in kinds(g)     # both Adds are biases
    assert g.node("c1").attrs["pad"] == (0, 0, 1, 1) and g.out_shape(g.node("c1")) == (1, 16, 112, 112)
    assert g.node("c2").attrs["pad"] == (0, 0, 1, 1) and g.node("c3").attrs["pad"] == (1, 1, 0, 0)
    assert g.node("c4").attrs["bias"] and g.node("fc").attrs == {"cin": 16, "cout": 10, "bias": True, "act": None}
    assert g.outputs == ["prob"] and g.shape("prob") == (1, 10)


def test_affine_constants_become_batchnorm(tmp_path: Path):
    m = Model((1, 8, 8, 8), opset=9)
    y = m("Concat", ["x", "x"], "cat", axis=1)
    y = m("Mul", [y, m.w("gamma", (16, 1, 1))], "scale")
    y = m("Add", [m.w("beta", (1, 16, 1, 1)), y], "shift")
    m("Relu", [y], "relu")
    g = load(m.save(tmp_path, "relu"))
    assert [(n.name, n.op, n.attrs.get("affine")) for n in g][1:3] == [
        ("scale", Op.BATCHNORM, "scale"), ("shift", Op.BATCHNORM, "shift")]
    assert kinds(prepare(g))[Op.BATCHNORM] == 1      # two affines compose into one


def test_dynamic_batch_and_spatial_dims(tmp_path: Path):
    m = Model(["N", 3, "H", "W"], opset=13)
    m.conv("x", "c", 3, 8, k=3)
    path = m.save(tmp_path, "c")
    with pytest.raises(OnnxImportError, match="dynamic height/width; pass input_size"):
        load(path)
    g = load(path, input_size=96)
    assert g.shape(g.inputs[0]) == (1, 3, 96, 96) and g.shape("c") == (1, 8, 96, 96)


# ---- bad input ------------------------------------------------------------------------------
def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg and msg
    return msg


def test_missing_file(tmp_path: Path):
    with pytest.raises(OnnxImportError) as e:
        load(tmp_path / "nope.onnx")
    assert "nope.onnx" in one_line(e) and "does not exist" in one_line(e)


def test_garbage_bytes(tmp_path: Path):
    p = tmp_path / "garbage.onnx"
    p.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    with pytest.raises(OnnxImportError) as e:
        load(p)
    assert one_line(e).startswith("garbage.onnx: ")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(OnnxImportError, match="empty.onnx: .*no nodes"):
        load(tmp_path / "empty.onnx")


@pytest.mark.parametrize("fraction", [0.3, 0.5, 0.9])
def test_truncated_real_model(tmp_path: Path, fraction: float):
    data = (LIGHT / "light_resnet50.onnx").read_bytes()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(OnnxImportError) as e:
        load(p)
    assert one_line(e).startswith("cut.onnx: ")


@pytest.mark.parametrize("cut, message", [
    (lambda nodes: nodes.__delitem__(slice(240, None)), "graph output 'gpu_0/softmax_1' is never produced"),
    (lambda nodes: nodes.remove(next(n for n in nodes if n.op_type == "Conv")),
     "input 'r0' is a tensor nothing produces"),
])
def test_model_cut_at_a_message_boundary(tmp_path: Path, cut, message: str):
    """A file cut between two protobuf fields still parses: the missing nodes must be reported."""
    model = onnx.load(LIGHT / "light_resnet50.onnx")
    cut(model.graph.node)
    onnx.save(model, tmp_path / "cut.onnx")
    with pytest.raises(OnnxImportError) as e:
        load(tmp_path / "cut.onnx")
    assert one_line(e).startswith("cut.onnx: ") and message in one_line(e)


@pytest.mark.parametrize("op, attrs, message", [
    ("LSTM", {"hidden_size": 4}, "unsupported ONNX op 'LSTM' at node 'lstm_1'"),
    ("Tanh", {}, "unsupported ONNX op 'Tanh' at node 'lstm_1'"),
    ("Clip", {"min": -1.0, "max": 1.0}, "Clip to [-1.0, 1.0] is not supported"),
    ("Conv", {"dilations": [2, 2]}, "dilated Conv"),
])
def test_unsupported_ops(tmp_path: Path, op: str, attrs: dict, message: str):
    m = Model((1, 4, 8, 8), opset=9)
    ins = ["x", m.w("k", (4, 4, 3, 3))] if op == "Conv" else ["x"]
    y = m(op, ins, "lstm_1", **attrs)
    path = m.save(tmp_path, y)
    with pytest.raises(OnnxImportError) as e:
        load(path)
    assert message in one_line(e) and "m.onnx" in one_line(e)


def test_custom_domain_and_second_input(tmp_path: Path):
    m = Model((1, 4, 8, 8))
    m.nodes.append(helper.make_node("FusedConv", ["x"], ["y"], name="fused", domain="com.microsoft"))
    with pytest.raises(OnnxImportError, match="unsupported ONNX op 'com.microsoft.FusedConv' at node 'fused'"):
        load(m.save(tmp_path, "y"))
    m = Model((1, 4, 8, 8))
    m("Add", ["x", "other"], "add")
    path = m.save(tmp_path, "add")
    model = onnx.load(path)
    model.graph.input.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [1, 4, 8, 8]))
    onnx.save(model, path)
    with pytest.raises(OnnxImportError, match="second graph input"):
        load(path)


def test_bad_input_size():
    with pytest.raises(OnnxImportError, match="input_size must be a positive integer"):
        load(LIGHT / "light_squeezenet.onnx", input_size=0)


def test_hand_written_hard_activations(tmp_path: Path):
    """MobileNetV3 as often hand-written: hswish = x * relu6(x + 3) / 6, SE gate = relu6(x + 3) / 6."""
    m = Model((1, 24, 14, 14), opset=11)

    def relu6(x: str, name: str) -> str:
        return m("Clip", [x, m.scalar(f"{name}.lo", 0.0), m.scalar(f"{name}.hi", 6.0)], name)

    f = m.bn(m.conv("x", "conv", 24, 24, k=3), "bn", 24)
    r = relu6(m("Add", [f, m.scalar("three", 3.0)], "plus3"), "clip")
    f = m("Div", [m("Mul", [f, r], "times"), m.scalar("six", 6.0)], "hswish")
    s = m("GlobalAveragePool", [f], "se_pool")
    s = m("Relu", [m.conv(s, "se_reduce", 24, 8, bias=True)], "se_relu")
    s = m.conv(s, "se_expand", 8, 24, bias=True)
    s = m("Mul", [relu6(m("Add", [m.scalar("three_b", 3.0), s], "se_plus3"), "se_clip"),
                  m.scalar("sixth", 1 / 6)], "se_gate")
    m("Mul", [f, s], "se_mul")
    g = load(m.save(tmp_path, "se_mul"))
    assert g.node("hswish").op == Op.HSWISH and g.node("hswish").inputs == ["bn"]
    assert g.node("se_gate").op == Op.HSIGMOID and g.node("se_gate").inputs == ["se_expand"]
    assert Op.RELU6 not in kinds(g) and kinds(g)[Op.BATCHNORM] == 1
    (se,) = find_se_blocks(g)
    assert (se.gate, se.act, se.input) == ("se_gate", "se_relu", "hswish")
    p = prepare(g)
    assert p.node("conv").attrs["act"] == Op.HSWISH and len(find_se_blocks(p)) == 1


def test_nhwc_input_transposed_to_nchw(tmp_path: Path):
    """tf2onnx keeps TensorFlow's NHWC input and transposes it to NCHW before the first conv."""
    m = Model(["unk__1", 300, 300, 3], opset=13)
    y = m("Transpose", ["x"], "to_nchw", perm=[0, 3, 1, 2])
    m.conv(y, "stem", 3, 32, k=3, strides=[2, 2])
    g = load(m.save(tmp_path, "stem"))
    assert g.shape(g.inputs[0]) == (1, 3, 300, 300) and Op.TRANSPOSE not in kinds(g)
    assert g.node("stem").inputs == g.inputs and g.shape("stem") == (1, 32, 150, 150)
    assert load(tmp_path / "m.onnx", input_size=224).shape("stem") == (1, 32, 112, 112)


# ---- round trip: zoo graphs exported to ONNX the way PyTorch / TensorFlow exporters spell them -----


def export(g, path: Path, opset: int) -> Path:
    """Write IR graph ``g`` as ONNX: weights as ConstantOfShape (as the onnx "light" models), swish as
    x * Sigmoid(x); opset < 14 spells hswish x * HardSigmoid(x) and pools SEs with GlobalAveragePool,
    opset >= 18 uses HardSwish and ReduceMean with an axes input."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, np.int64 if isinstance(value, list) else np.float32),
                                             name))
        return name

    def weight(name: str, shape: tuple[int, ...]) -> str:
        nodes.append(helper.make_node("ConstantOfShape", [const(name + "_shape", list(shape))], [name]))
        return name

    def node(op: str, ins: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    for n in g:
        x, y, a = n.inputs[0], n.outputs[0], n.attrs
        if n.op in (Op.CONV, Op.DWCONV):
            cin, (kh, kw) = g.in_shape(n)[1], ir.kernel_size(n)
            w = weight(f"{y}.w", (a["cout"], cin // a["groups"], kh, kw))
            b = [weight(f"{y}.b", (a["cout"],))] if a.get("bias") else []
            t, l, bo, r = ir.pads(n)
            node("Conv", [x, w, *b], y, group=a["groups"], kernel_shape=[kh, kw], strides=list(ir.strides(n)),
                 pads=[t, l, bo, r])
        elif n.op == Op.BATCHNORM:
            node("BatchNormalization", [x] + [weight(f"{y}.{p}", (g.shape(x)[1],)) for p in "sbmv"], y)
        elif n.op in (Op.MAXPOOL, Op.AVGPOOL):
            t, l, bo, r = ir.pads(n)
            node("MaxPool" if n.op == Op.MAXPOOL else "AveragePool", [x], y, kernel_shape=list(ir.kernel_size(n)),
                 strides=list(ir.strides(n)), pads=[t, l, bo, r], ceil_mode=int(bool(a.get("ceil_mode"))))
        elif n.op == Op.GLOBAL_AVGPOOL:
            if opset >= 18:
                node("ReduceMean", [x, const(f"{y}.axes", [2, 3])], y, keepdims=1)
            else:
                node("GlobalAveragePool", [x], y)
        elif n.op == Op.FC:
            node("Gemm", [x, weight(f"{y}.w", (a["cout"], a["cin"])), weight(f"{y}.b", (a["cout"],))], y, transB=1)
        elif n.op in (Op.SWISH, Op.HSWISH) and (n.op == Op.SWISH or opset < 14):
            s = node("Sigmoid" if n.op == Op.SWISH else "HardSigmoid", [x], f"{y}.gate")
            node("Mul", [x, s], y)
        elif n.op == Op.RELU6:
            node("Clip", [x, const(f"{y}.lo", 0.0), const(f"{y}.hi", 6.0)], y)
        elif n.op == Op.CHANNEL_SHUFFLE:
            c, gr = g.shape(x)[1], a["groups"]
            v = node("Reshape", [x, const(f"{y}.s1", [1, gr, c // gr, *g.shape(x)[2:]])], f"{y}.view")
            t = node("Transpose", [v], f"{y}.t", perm=[0, 2, 1, 3, 4])
            node("Reshape", [t, const(f"{y}.s2", [1, -1, *g.shape(x)[2:]])], y)
        elif n.op == Op.SPLIT:
            nodes.append(helper.make_node("Split", [x, const(f"{n.name}.sizes", list(a["sizes"]))], n.outputs,
                                          name=n.name, axis=a.get("axis", 1)))
        else:
            simple = {Op.RELU: "Relu", Op.SIGMOID: "Sigmoid", Op.HSIGMOID: "HardSigmoid", Op.HSWISH: "HardSwish",
                      Op.ADD: "Add", Op.MUL: "Mul", Op.CONCAT: "Concat", Op.FLATTEN: "Flatten",
                      Op.DROPOUT: "Dropout"}
            extra = {"axis": a.get("axis", 1)} if n.op in (Op.CONCAT, Op.FLATTEN) else {}
            node(simple[n.op], n.inputs, y, **extra)
    shape = g.shape(g.inputs[0])
    graph = helper.make_graph(nodes, g.name, [helper.make_tensor_value_info(g.inputs[0], TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in g.outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("name, se_blocks", [("efficientnet_b0", 16), ("efficientnet_b4", 32),
                                             ("mobilenet_v3_large", 8), ("mobilenet_v3_small", 9),
                                             ("efficientnet_lite0", 0), ("shufflenet_v2_x1_0", 0),
                                             ("mobilenet_v2", 0)])
@pytest.mark.parametrize("opset", [11, 18])
def test_zoo_round_trip_through_onnx(tmp_path: Path, name: str, se_blocks: int, opset: int):
    """Exported and re-imported, a zoo graph keeps its MACs, parameters and SE blocks."""
    from mapper import zoo
    g = zoo.build(name)
    back = load(export(g, tmp_path / f"{name}.onnx", opset))
    assert back.total_macs() == g.total_macs() and back.total_params() == g.total_params()
    assert back.shape(back.outputs[0]) == g.shape(g.outputs[0])
    faithful = kinds(g)                 # load() keeps shuffles as reshape-transpose-reshape ...
    shuffles = faithful.pop(Op.CHANNEL_SHUFFLE, 0)
    faithful.update({Op.RESHAPE: 2 * shuffles, Op.TRANSPOSE: shuffles})
    assert kinds(back) == +faithful     # ... but recognises spelt-out swish / hswish at once
    assert len(find_se_blocks(back)) == len(find_se_blocks(prepare(back))) == se_blocks
    assert kinds(prepare(back)) == kinds(prepare(g))


def test_shipped_squeezenet_equals_zoo_squeezenet1_1():
    from mapper import zoo
    z, s = zoo.build("squeezenet1_1"), load(LIGHT / "light_squeezenet.onnx")
    assert (s.total_macs(), s.total_params()) == (z.total_macs(), z.total_params()) == (349_151_936, 1_235_496)
    assert [s.shape(n.outputs[0]) for n in s if n.op == Op.CONV] == [z.shape(n.outputs[0]) for n in z if n.op == Op.CONV]


def test_byte_flips_never_escape_as_tracebacks(tmp_path: Path):
    """Corrupted copies of a shipped model either import or fail with a one-line OnnxImportError."""
    data = (LIGHT / "light_shufflenet.onnx").read_bytes()
    rng = np.random.default_rng(7)
    path, failures = tmp_path / "flipped.onnx", 0
    for _ in range(80):
        d = bytearray(data)
        for at in rng.integers(0, len(d), 3):
            d[at] = int(rng.integers(0, 256))
        path.write_bytes(bytes(d))
        try:
            load(path)
        except OnnxImportError as e:
            assert "\n" not in str(e) and str(e).startswith("flipped.onnx: ")
            failures += 1
    assert failures > 40          # most flips break the model; the point is how they are reported


def test_plumbing_and_pass_through_ops(tmp_path: Path):
    m = Model((1, 12, 8, 8), opset=18)
    y = m("Identity", [m("Sum", ["x", "x", "x"], "sum3")], "same")
    a, b, c = m("Split", [y], "thirds", outputs=3, axis=1, num_outputs=3)
    m.inits.append(numpy_helper.from_array(np.array(0, np.int8), "zp"))
    q = m("QuantizeLinear", [a, m.scalar("qs", 0.1), "zp"], "q")
    d = m("DequantizeLinear", [q, m.scalar("ds", 0.1), "zp"], "dq")
    y = m("Concat", [d, b, c], "cat", axis=-3)
    y = m("Dropout", [y, m.scalar("ratio", 0.2)], "drop")
    y = m("Squeeze", [m("ReduceMean", [y, m.w("axes", [2, 3], np.int64)], "gap", keepdims=1),
                      m.w("sq", [2, 3], np.int64)], "squeeze")
    m("Softmax", [m("Unsqueeze", [y, m.w("us", [1], np.int64)], "unsq")], "prob")
    g = load(m.save(tmp_path, "prob"))
    assert [(n.name, n.op) for n in g] == [
        ("sum3", Op.ADD), ("sum3_1", Op.ADD), ("thirds", Op.SPLIT), ("cat", Op.CONCAT), ("drop", Op.DROPOUT),
        ("gap", Op.GLOBAL_AVGPOOL), ("squeeze", Op.RESHAPE), ("unsq", Op.RESHAPE), ("prob", Op.SOFTMAX)]
    assert g.node("thirds").attrs["sizes"] == [4, 4, 4] and g.node("cat").attrs["axis"] == 1
    assert g.shape("squeeze") == (1, 12) and g.shape("unsq") == (1, 1, 12)
    assert g.node("prob").attrs["axis"] == 2            # opset >= 13 default: the last axis
    assert g.node("cat").inputs == ["thirds:0", "thirds:1", "thirds:2"]    # Q/DQ are pass-throughs
