"""ONNX graphs spelt as ``torch.onnx.export`` writes them, built with ``onnx.helper`` (PyTorch is
not a dependency).  ``shufflenet_v2`` is torchvision's ``shufflenet_v2_x1_0`` as each exporter
setting emits it:

- ``exporter="legacy"`` (TorchScript exporter, opsets 7 to current): eval-mode BatchNorm folded into
  the Conv's weights and bias (``_jit_pass_onnx_eval_peephole``); ``torch.chunk`` as ``Split``
  with a ``split`` attribute before opset 11, as sibling ``Slice`` nodes at opsets 11 and 12
  (``prim::ConstantChunk``: starts / ends from ``Shape -> Gather -> Add -> Div -> Mul``, as
  written with dynamic axes, or folded to constants), ``Split`` with a ``split`` input from 13
  on (``num_outputs`` at 18+ when static); ``x.mean([2, 3])`` as ``ReduceMean`` (axes an attribute
  before 18, an input from 18); the classifier as ``Gemm(transB=1)``; Constant nodes for values.
- ``exporter="dynamo"`` (``torch.onnx.export(dynamo=True)``, opset 18, optimiser on): BatchNorm
  kept (``training_mode=0``), ``Split(x, split)``, reshape targets as initializers.
- ``exporter="dynamo_noopt"`` (optimiser off): ``SplitToSequence`` + ``SequenceAt`` for the
  chunk (``CastLike`` around scalars too, which ShuffleNetV2 has none of: test_onnx_exporters
  spells a hard swish so), ``Transpose(W) -> MatMul -> Add`` for the classifier,
  ``Identity`` on the weights, and the channel shuffle as a model-local function (as the older
  ``dynamo_export`` wrote modules).
- ``dynamic=True``: ``dynamic_axes`` / ``dynamic_shapes`` on batch, height and width: symbolic
  input dims and every reshape target computed from ``Shape`` (``Shape(start, end)`` in the
  dynamo spelling; channel shuffles included);
  ``dynamic=False`` freezes the shuffle's reshape targets at the export size.
- ``weights``: "embedded", "external" (``model.onnx.data`` beside it), "absent"
  (``export_params=False``: parameters are graph inputs with declared shapes).

``python -m tests.mapper.torch_exports DIR`` writes a few of them for a look with Netron.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPEATS, CHANNELS = (4, 8, 4), (24, 116, 232, 464, 1024)   # torchvision shufflenet_v2_x1_0


class Exporter:
    def __init__(self, opset: int, exporter: str = "legacy", dynamic: bool = False, weights: str = "embedded",
                 size: int = 224):
        self.opset, self.exporter, self.dynamic, self.weights = opset, exporter, dynamic, weights
        self.dynamo = exporter.startswith("dynamo")
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.param_inputs: list[onnx.ValueInfoProto] = []
        self.functions: list[onnx.FunctionProto] = []
        self.size, self.k = size, 0

    # ---- spelling --------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        self.k += 1
        return f"/{base}/{self.k}"

    def node(self, op: str, ins: list[str], scope: str, outputs: int = 1, domain: str = "", **attrs) -> list[str]:
        name = self.fresh(f"{scope}/{op}")
        outs = [f"{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, ins, outs, name=name, domain=domain, **attrs))
        return outs

    def one(self, op: str, ins: list[str], scope: str, **attrs) -> str:
        return self.node(op, ins, scope, **attrs)[0]

    def const(self, value, scope: str, dtype=np.int64) -> str:
        """A small constant: a Constant node (legacy), an initializer (dynamo, optimised) or a
        Constant cast like the feature map (dynamo without its optimiser, for floats)."""
        t = numpy_helper.from_array(np.asarray(value, dtype), self.fresh(f"{scope}/const").replace("/", "_"))
        if self.exporter == "dynamo":
            self.inits.append(t)
            return t.name
        return self.one("Constant", [], scope, value=t)

    def param(self, name: str, shape: tuple[int, ...]) -> str:
        if self.weights == "absent":
            self.param_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape)))
        else:
            self.inits.append(numpy_helper.from_array(np.full(shape, 0.01, np.float32), name))
        if self.exporter == "dynamo_noopt":
            return self.one("Identity", [name], name)
        return name

    def axes(self, op: str, x: str, axes: list[int], scope: str, **attrs) -> str:
        """Unsqueeze / ReduceMean with axes as an attribute or (newer opsets) an input."""
        new = 13 if op in ("Unsqueeze", "Squeeze") else 18
        if self.opset >= new:
            return self.one(op, [x, self.const(axes, scope)], scope, **attrs)
        return self.one(op, [x], scope, axes=axes, **attrs)

    def shape_dims(self, x: str, idx: list[int], scope: str) -> list[str]:
        """Runtime dims of ``x`` as 1-element tensors: ``Shape(start=i, end=i+1)`` from the dynamo
        exporter (``sym_size``), ``Shape -> Gather -> Unsqueeze`` from the legacy one."""
        if self.dynamo:
            return [self.one("Shape", [x], scope, start=i, end=i + 1) for i in idx]
        shp = self.one("Shape", [x], scope)
        return [self.axes("Unsqueeze", self.one("Gather", [shp, self.const(i, scope)], scope, axis=0), [0], scope)
                for i in idx]

    # ---- layers --------------------------------------------------------------------------
    def conv_bn(self, x: str, scope: str, cin: int, cout: int, k: int, stride: int, dw: bool = False,
                relu: bool = True) -> str:
        group = cin if dw else 1
        w = self.param(f"{scope}.weight", (cout, cin // group, k, k))
        attrs = dict(group=group, kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4,
                     dilations=[1, 1])
        if self.dynamo:
            y = self.one("Conv", [x, w], scope, **attrs)
            bn = [self.param(f"{scope}.bn.{p}", (cout,)) for p in ("weight", "bias", "running_mean", "running_var")]
            extra = {"training_mode": 0} if self.opset >= 14 else {}
            y = self.one("BatchNormalization", [y] + bn, scope, epsilon=1e-5, momentum=0.9, **extra)
        else:    # eval-mode BN folded into the conv by the legacy exporter
            y = self.one("Conv", [x, w, self.param(f"onnx::Conv_{self.k}", (cout,))], scope, **attrs)
        return self.one("Relu", [y], scope) if relu else y

    def chunk(self, x: str, c: int, scope: str) -> tuple[str, str]:
        half = c // 2
        if self.exporter == "dynamo":
            a, b = self.node("Split", [x, self.const([half, half], scope)], scope, outputs=2, axis=1)
            return a, b
        if self.exporter == "dynamo_noopt":
            seq = self.one("SplitToSequence", [x, self.const(half, scope)], scope, axis=1)
            return tuple(self.one("SequenceAt", [seq, self.const(i, scope)], scope) for i in (0, 1))
        if self.opset < 11:     # prim::ConstantChunk -> prim_constant_split (symbolic_opset9)
            a, b = self.node("Split", [x], scope, outputs=2, axis=1, split=[half, half])
            return a, b
        if self.opset >= 18 and not self.dynamic:
            a, b = self.node("Split", [x], scope, outputs=2, axis=1, num_outputs=2)
            return a, b
        if self.opset >= 13:    # symbolic_opset13: the channel count is static, a Split with an input
            a, b = self.node("Split", [x, self.const([half, half], scope)], scope, outputs=2, axis=1)
            return a, b
        axis = self.const([1], scope)
        if self.dynamic:    # symbolic_opset11.prim_constant_chunk: bounds from the runtime shape
            shp = self.one("Shape", [x], scope)
            dim = self.one("Gather", [shp, axis], scope, axis=0)
            step = self.one("Div", [self.one("Add", [dim, self.const([1], scope)], scope), self.const([2], scope)],
                            scope)
            ends = [self.one("Mul", [step, self.const([i + 1], scope)], scope) for i in range(2)]
            starts = [self.const([0], scope), ends[0]]
        else:
            starts, ends = [self.const([0], scope), self.const([half], scope)], \
                [self.const([half], scope), self.const([2 ** 63 - 1], scope)]   # torch writes INT64_MAX
        return tuple(self.one("Slice", [x, s, e, axis], scope) for s, e in zip(starts, ends))

    def shuffle(self, x: str, c: int, hw: int, scope: str) -> str:
        if self.dynamic:
            n, h, w = self.shape_dims(x, [0, 2, 3], scope)
            s5 = self.one("Concat", [n, self.const([2], scope), self.const([c // 2], scope), h, w], scope, axis=0)
            s4 = self.one("Concat", [n, self.const([-1], scope), h, w], scope, axis=0)
        else:       # traced at the export size: frozen targets
            s5, s4 = self.const([1, 2, c // 2, hw, hw], scope), self.const([1, -1, hw, hw], scope)
        if self.exporter == "dynamo_noopt":
            return self.one("channel_shuffle", [x, s5, s4], scope, domain="pkg.torch")
        y = self.one("Reshape", [x, s5], scope)
        y = self.one("Transpose", [y], scope, perm=[0, 2, 1, 3, 4])
        return self.one("Reshape", [y, s4], scope)

    def shuffle_function(self) -> None:
        nodes = [helper.make_node("Reshape", ["x", "s5"], ["v"]),
                 helper.make_node("Transpose", ["v"], ["t"], perm=[0, 2, 1, 3, 4]),
                 helper.make_node("Reshape", ["t", "s4"], ["y"])]
        self.functions.append(helper.make_function("pkg.torch", "channel_shuffle", ["x", "s5", "s4"], ["y"], nodes,
                                                   [helper.make_opsetid("", self.opset)]))

    # ---- the network ---------------------------------------------------------------------
    def shufflenet_v2(self) -> onnx.ModelProto:
        x, hw = "input", self.size
        y = self.conv_bn(x, "conv1", 3, CHANNELS[0], 3, 2)
        hw = (hw + 1) // 2
        y = self.one("MaxPool", [y], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
        hw = (hw + 1) // 2
        cin = CHANNELS[0]
        for s, (reps, cout) in enumerate(zip(REPEATS, CHANNELS[1:4]), start=2):
            for j in range(reps):
                sc, half = f"stage{s}/{j}", cout // 2
                if j == 0:
                    hw = (hw + 1) // 2
                    a = self.conv_bn(y, f"{sc}/branch1.0", cin, cin, 3, 2, dw=True, relu=False)
                    a = self.conv_bn(a, f"{sc}/branch1.2", cin, half, 1, 1)
                    b = self.conv_bn(y, f"{sc}/branch2.0", cin, half, 1, 1)
                    b = self.conv_bn(b, f"{sc}/branch2.3", half, half, 3, 2, dw=True, relu=False)
                else:
                    a, b = self.chunk(y, cout, sc)
                    b = self.conv_bn(b, f"{sc}/branch2.0", half, half, 1, 1)
                    b = self.conv_bn(b, f"{sc}/branch2.3", half, half, 3, 1, dw=True, relu=False)
                b = self.conv_bn(b, f"{sc}/branch2.5", half, half, 1, 1)
                y = self.shuffle(self.one("Concat", [a, b], sc, axis=1), cout, hw, sc)
                cin = cout
        y = self.conv_bn(y, "conv5", cin, CHANNELS[4], 1, 1)
        y = self.axes("ReduceMean", y, [2, 3], "mean", keepdims=0)
        w, b = self.param("fc.weight", (1000, CHANNELS[4])), self.param("fc.bias", (1000,))
        if self.exporter == "dynamo_noopt":
            y = self.one("Add", [self.one("MatMul", [y, self.one("Transpose", [w], "fc", perm=[1, 0])], "fc"), b], "fc")
        else:
            y = self.one("Gemm", [y, w, b], "fc", alpha=1.0, beta=1.0, transB=1)
        if self.exporter == "dynamo_noopt":
            self.shuffle_function()
        return self.model(y, [1000])

    def model(self, y: str, out_dims: list) -> onnx.ModelProto:
        dims = ["batch_size", 3, "height", "width"] if self.dynamic else [1, 3, self.size, self.size]
        x = helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)
        out = helper.make_tensor_value_info(y, TensorProto.FLOAT, [dims[0], *out_dims])
        graph = helper.make_graph(self.nodes, "main_graph" if not self.dynamo else "main_graph",
                                  [x, *self.param_inputs], [out], self.inits)
        opsets = [helper.make_opsetid("", self.opset)] + (
            [helper.make_opsetid("pkg.torch", 1)] if self.functions else [])
        m = helper.make_model(graph, opset_imports=opsets, functions=self.functions,
                              producer_name="pytorch", producer_version="2.5.0")
        m.ir_version = 10 if self.dynamo else 7 if self.opset < 15 else 8
        return m


def save(model: onnx.ModelProto, path: Path, weights: str = "embedded") -> Path:
    if weights == "external":
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    return path


def shufflenet_v2(path: Path, opset: int = 17, exporter: str = "legacy", dynamic: bool = False,
                  weights: str = "embedded", size: int = 224) -> Path:
    return save(Exporter(opset, exporter, dynamic, weights, size).shufflenet_v2(), path, weights)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for name, kw in {"shufflenet_v2_legacy_opset9": dict(opset=9), "shufflenet_v2_legacy_opset11": dict(opset=11),
                     "shufflenet_v2_legacy_dynamic": dict(opset=17, dynamic=True),
                     "shufflenet_v2_dynamo": dict(opset=18, exporter="dynamo"),
                     "shufflenet_v2_dynamo_noopt": dict(opset=18, exporter="dynamo_noopt")}.items():
        print(shufflenet_v2(out / f"{name}.onnx", **kw))
