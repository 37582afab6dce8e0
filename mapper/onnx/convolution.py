"""Layers with weights (Conv, Gemm, MatMul), the windowed-op helpers pools share, and zero Pads."""

from __future__ import annotations

from typing import Any

import onnx

from ..ir import Op
from .core import Importer, handles


def window_pads(attrs: dict[str, Any], hw: tuple[int, int], k: tuple[int, int],
                s: tuple[int, int]) -> tuple[int, int, int, int]:
    """ONNX pads / auto_pad -> (top, left, bottom, right)."""
    auto = attrs.get("auto_pad", "NOTSET") or "NOTSET"
    if auto == "NOTSET":
        p = [int(v) for v in attrs.get("pads", [0, 0, 0, 0])]
        if len(p) != 4:
            raise ValueError(f"pads {p} are not 2-D")
        return (p[0], p[1], p[2], p[3])   # ONNX order: x1_begin, x2_begin, x1_end, x2_end
    if auto == "VALID":
        return (0, 0, 0, 0)
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"unknown auto_pad {auto!r}")
    lo, hi = [], []
    for size, kk, ss in zip(hw, k, s):
        total = max((-(-size // ss) - 1) * ss + kk - size, 0)
        first = total // 2 if auto == "SAME_UPPER" else total - total // 2
        lo.append(first)
        hi.append(total - first)
    return (lo[0], lo[1], hi[0], hi[1])


def input4(imp: Importer, node: onnx.NodeProto, name: str) -> tuple[str, tuple[int, int, int, int]]:
    """A windowed op's input, through a pending zero Pad (whose padding is returned)."""
    extra = (0, 0, 0, 0)
    if name in imp.pads:
        name, extra = imp.pads[name]
    x = imp.runtime(node, name)
    if len(imp.shape(x)) != 4:
        raise imp.at(node, f"only 2-D {node.op_type} on NCHW maps is supported, input is {imp.shape(x)}")
    return x, extra


def window(imp: Importer, node: onnx.NodeProto, a: dict[str, Any], x: str, k: tuple[int, int],
           extra: tuple[int, int, int, int]) -> dict[str, Any]:
    if any(int(d) != 1 for d in a.get("dilations", [1, 1])):
        raise imp.at(node, f"dilated {node.op_type} (dilations {a['dilations']}) is not supported")
    s = tuple(int(v) for v in a.get("strides", [1, 1]))
    if len(s) != 2:
        raise imp.at(node, f"only 2-D {node.op_type} is supported")
    if any(v < 1 for v in s):
        raise imp.at(node, f"strides {list(s)} must be positive")
    if any(v < 1 for v in k):
        raise imp.at(node, f"kernel {list(k)} must be positive")
    pad = window_pads(a, imp.shape(x)[2:], k, s)      # type: ignore[arg-type]
    if any(p < 0 for p in pad):
        raise imp.at(node, f"negative pads {list(a.get('pads'))} are not supported (a crop, not a padding)")
    pad = tuple(p + e for p, e in zip(pad, extra))
    return {"k": k if k[0] != k[1] else k[0], "stride": s if s[0] != s[1] else s[0], "pad": pad}


@handles("Conv")
def conv(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x, extra = input4(imp, node, node.input[0])
    if not imp.is_const(node.input[1]):
        raise imp.at(node, "a Conv whose weights are computed at run time is not supported")
    w = imp.const_shape(node.input[1])
    if len(w) != 4:
        raise imp.at(node, f"only 2-D convolutions are supported (weight shape {list(w)})")
    group = int(a.get("group", 1))
    cin = imp.shape(x)[1]
    if group < 1 or w[1] * group != cin:
        raise imp.at(node, f"weight {list(w)} with group={group} does not fit {cin} input channels")
    k = tuple(int(v) for v in a.get("kernel_shape", w[2:]))
    attrs = window(imp, node, a, x, k, extra)    # type: ignore[arg-type]
    op = Op.DWCONV if group == cin == w[0] else Op.CONV
    bias = len(node.input) > 2 and bool(node.input[2])
    imp.rt[node.output[0]] = imp.emit(node, op, [x], cout=int(w[0]), groups=group, bias=bias,
                                      act=None, **attrs)


@handles("Pad")
def pad(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    """A zero constant Pad of H/W only; folded into the Conv / pool that reads it."""
    x = imp.runtime(node, node.input[0])
    if len(node.input) > 1 and node.input[1]:
        pads = imp.const_in(node, 1).tolist()
    else:
        pads = a.get("pads", a.get("paddings"))
    value = a.get("value", 0.0)
    if len(node.input) > 2 and node.input[2]:
        value = imp.const_in(node, 2).item()
    if len(node.input) > 3 and node.input[3]:
        raise imp.at(node, "Pad with explicit axes is not supported")
    rank = len(imp.shape(x))
    if (a.get("mode", "constant") != "constant" or value != 0 or rank != 4 or len(pads) != 8
            or any(pads[i] for i in (0, 1, 4, 5)) or any(p < 0 for p in pads)):
        raise imp.at(node, f"only a zero constant Pad of H and W is supported (pads {pads}, "
                           f"mode {a.get('mode', 'constant')!r}, value {value})")
    if not any(pads):
        imp.rt[node.output[0]] = x
        return
    imp.pads[node.output[0]] = (node.input[0], (int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])))


@handles("Gemm")
def gemm(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    if a.get("transA"):
        raise imp.at(node, "Gemm with transA=1 is not supported")
    x = imp.runtime(node, node.input[0])
    if not imp.is_const(node.input[1]):
        raise imp.at(node, "a Gemm whose weights are computed at run time is not supported")
    w = imp.const_shape(node.input[1])
    cin, cout = (w[1], w[0]) if a.get("transB") else (w[0], w[1])
    bias = len(node.input) > 2 and bool(node.input[2])
    imp.rt[node.output[0]] = imp.emit(node, Op.FC, [x], cin=int(cin), cout=int(cout), bias=bias, act=None)


@handles("MatMul")
def matmul(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    if not imp.is_const(node.input[1]) or len(imp.const_shape(node.input[1])) != 2:
        raise imp.at(node, "only MatMul of a feature vector by a constant 2-D weight is supported")
    if len(imp.shape(x)) != 2:
        raise imp.at(node, f"MatMul on a rank-{len(imp.shape(x))} tensor is not supported "
                           f"(only (N, features))")
    cin, cout = imp.const_shape(node.input[1])
    imp.rt[node.output[0]] = imp.emit(node, Op.FC, [x], cin=int(cin), cout=int(cout), bias=False, act=None)
