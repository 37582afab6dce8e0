"""Element-wise arithmetic (Add, Sum, Sub, Mul, Div: of two feature maps, or a per-channel
constant as an affine / bias) and Concat."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import onnx

from ..ir import Op
from .core import Importer, handles


def channelwise(cshape: tuple[int, ...], xshape: tuple[int, ...]) -> bool:
    """Whether a constant of ``cshape`` broadcasts onto ``xshape`` along the channel axis only."""
    if math.prod(cshape) == 1:
        return True
    if len(cshape) > len(xshape) or len(xshape) < 2:
        return False
    full = (1,) * (len(xshape) - len(cshape)) + tuple(cshape)
    return all(d == 1 or (i == 1 and d == xshape[1]) for i, d in enumerate(full))


@handles("Add", "Sum", "Sub", "Mul", "Div")
def binary(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    op = node.op_type
    ins = [i for i in node.input if i]
    if op == "Sum" and len(ins) == 1:
        imp.rt[node.output[0]] = imp.runtime(node, ins[0])
        return
    consts = [i for i in ins if imp.is_const(i)]
    if not consts:
        xs = [imp.runtime(node, i) for i in ins]
        if op in ("Sub", "Div"):
            raise imp.at(node, f"unsupported ONNX op '{op}' of two feature maps")
        kind = Op.MUL if op == "Mul" else Op.ADD
        y = xs[0]
        for j, other in enumerate(xs[1:]):
            y = imp.emit(node, kind, [y, other], suffix="" if j == 0 else f"_{j}")
        imp.rt[node.output[0]] = y
        return
    if len(ins) != 2:
        raise imp.at(node, f"{op} of {len(ins)} inputs with constants is not supported")
    (c,) = consts
    xname = ins[0] if ins[1] == c else ins[1]
    x = imp.runtime(node, xname)
    xs, cs = imp.shape(x), imp.const_shape(c)
    if op == "Div" and c == ins[0]:
        raise imp.at(node, "a constant divided by a feature map is not supported")
    if not channelwise(cs, xs):
        raise imp.at(node, f"{op} with a constant of shape {list(cs)} on a {list(xs)} feature map "
                           f"is not supported (only per-channel constants)")
    prod = imp.producer(x)
    if (op in ("Add", "Sum") and prod is not None and prod.op in (Op.CONV, Op.DWCONV, Op.FC)
            and not prod.attrs.get("bias") and prod.attrs.get("act") is None
            and imp.readers[xname] == 1 and math.prod(cs) in (1, xs[1])):
        prod.attrs["bias"] = True          # Conv/MatMul + Add(bias) is one biased layer
        imp.rt[node.output[0]] = x
        return
    attrs: dict[str, Any] = {"affine": "scale" if op in ("Mul", "Div") else "shift"}
    if op == "Sub" and c == ins[0]:
        attrs["affine"] = "scale_shift"      # c - x
    elif math.prod(cs) == 1:                # a scalar: kept so passes can spot relu6(x + 3) / 6
        v = float(np.asarray(imp.const(c)).reshape(-1)[0])
        value = {"Mul": v, "Div": 1 / v if v else None, "Sub": -v}.get(op, v)
        if value is not None:
            attrs["value"] = value
    imp.rt[node.output[0]] = imp.emit(node, Op.BATCHNORM, [x], **attrs)


@handles("Concat")
def concat(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    xs = [imp.runtime(node, i) for i in node.input if i]
    axis = int(a["axis"]) % len(imp.shape(xs[0]))
    imp.rt[node.output[0]] = imp.emit(node, Op.CONCAT, xs, axis=axis)
