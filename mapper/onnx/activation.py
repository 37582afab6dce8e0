"""Per-element and normalising ops: activations, Clip (ReLU / ReLU6), BatchNormalization,
Softmax, LRN and Dropout."""

from __future__ import annotations

from typing import Any

import onnx

from ..ir import Op
from .core import Importer, handles

ACTIVATIONS = {"Relu": Op.RELU, "Sigmoid": Op.SIGMOID, "HardSigmoid": Op.HSIGMOID, "HardSwish": Op.HSWISH}


def act(imp: Importer, node: onnx.NodeProto, op: Op) -> None:
    imp.rt[node.output[0]] = imp.emit(node, op, [imp.runtime(node, node.input[0])])


@handles(*ACTIVATIONS)
def activation(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    act(imp, node, ACTIVATIONS[node.op_type])


@handles("Clip")
def clip(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    lo, hi = a.get("min"), a.get("max")
    if imp.opset >= 11:
        bounds = [i for i in node.input[1:3]]
        if any(i and not imp.resolve(i) for i in bounds):
            raise imp.at(node, "Clip bounds computed at run time are not supported")
        lo, hi = [imp.const(i).item() if i else None for i in bounds + ["", ""]][:2]
    if lo == 0 and hi is not None and abs(hi - 6) < 1e-6:
        op = Op.RELU6
    elif lo == 0 and (hi is None or hi >= 3.4e38):
        op = Op.RELU
    else:
        raise imp.at(node, f"Clip to [{lo}, {hi}] is not supported (only ReLU [0, inf) and ReLU6 [0, 6])")
    act(imp, node, op)


@handles("BatchNormalization")
def batchnorm(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    if any(imp.readers[o] for o in node.output[1:] if o) or a.get("training_mode"):
        raise imp.at(node, "training-mode BatchNormalization (running-statistics outputs) is not supported")
    x = imp.runtime(node, node.input[0])
    imp.rt[node.output[0]] = imp.emit(node, Op.BATCHNORM, [x])


@handles("LRN")
def lrn(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    imp.rt[node.output[0]] = imp.emit(node, Op.LRN, [imp.runtime(node, node.input[0])], size=int(a["size"]))


@handles("Softmax")
def softmax(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    axis = int(a.get("axis", 1 if imp.opset < 13 else -1)) % len(imp.shape(x))
    imp.rt[node.output[0]] = imp.emit(node, Op.SOFTMAX, [x], axis=axis)


@handles("Dropout")
def dropout(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    if len(node.output) > 1 and node.output[1] and imp.readers[node.output[1]]:
        raise imp.at(node, "Dropout mask output is not supported")
    imp.rt[node.output[0]] = imp.emit(node, Op.DROPOUT, [imp.runtime(node, node.input[0])])
