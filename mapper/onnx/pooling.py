"""Pools: MaxPool, AveragePool, GlobalAveragePool and ReduceMean over the spatial axes."""

from __future__ import annotations

from typing import Any

import onnx

from ..ir import Op
from .convolution import input4, window
from .core import Importer, handles


def _pool(imp: Importer, node: onnx.NodeProto, a: dict[str, Any], op: Op) -> None:
    if len(node.output) > 1 and node.output[1] and imp.readers[node.output[1]]:
        raise imp.at(node, "MaxPool indices output is not supported")
    x, extra = input4(imp, node, node.input[0])
    k = tuple(int(v) for v in a["kernel_shape"])
    if len(k) != 2:
        raise imp.at(node, f"only 2-D {node.op_type} is supported")
    attrs = window(imp, node, a, x, k, extra)    # type: ignore[arg-type]
    if a.get("ceil_mode"):
        attrs["ceil_mode"] = True
    if op == Op.AVGPOOL:
        attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
    imp.rt[node.output[0]] = imp.emit(node, op, [x], **attrs)


@handles("MaxPool")
def maxpool(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    _pool(imp, node, a, Op.MAXPOOL)


@handles("AveragePool")
def avgpool(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    _pool(imp, node, a, Op.AVGPOOL)


@handles("GlobalAveragePool")
def global_avgpool(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x, _ = input4(imp, node, node.input[0])
    imp.rt[node.output[0]] = imp.emit(node, Op.GLOBAL_AVGPOOL, [x])


@handles("ReduceMean")
def reduce_mean(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    rank = len(imp.shape(x))
    axes = a.get("axes")
    if len(node.input) > 1 and node.input[1]:
        axes = imp.const_in(node, 1).tolist()
    if axes is None or rank != 4 or sorted(int(v) % rank for v in axes) != [2, 3]:
        raise imp.at(node, f"ReduceMean over axes {axes} of a rank-{rank} tensor is not supported "
                           f"(only the spatial axes of NCHW)")
    y = imp.emit(node, Op.GLOBAL_AVGPOOL, [x])
    if not a.get("keepdims", 1):
        y = imp.emit(node, Op.FLATTEN, [y], suffix="_squeeze", axis=1)
    imp.rt[node.output[0]] = y
