"""Pass-throughs and quantisers: Identity, Cast, CastLike on feature maps; ONNX
``QuantizeLinear`` / ``DequantizeLinear`` (QDQ graphs, as ``onnxruntime.quantization`` writes
them, in the ONNX domain or onnxruntime's ``com.microsoft`` one it uses for 16-bit and 4-bit types)
and QONNX ``Quant`` / ``BipolarQuant`` / ``Trunc`` (as Brevitas exports for FINN); ``QLinearConv`` /
``QLinearMatMul`` (onnxruntime's QOperator format) map as the layers they compute.

Quantisers carry no arithmetic the accelerator model counts: the PL array is INT8 throughout and
the cycle model already prices every layer at 8 bits.  What they tell is the precision, and the
array computes exactly one: 8-bit weights and activations into 32-bit accumulators.  So an 8-bit
quantiser (and a 32-bit bias, which the accumulators hold) imports as today, and any other width
(binary, 4-bit, 16-bit, float8) is a one-line ``OnnxImportError`` naming the node and the width.
Not a PS fallback: the ARM cores' rate in ``hwsim.ps`` (``ps.macs_per_cycle``) is an assumed fp32
NEON rate, and no measured rate for sub-byte or 16-bit kernels backs a number, so moving such a
layer would print an estimate of a design nobody described.  The bit widths read are in ``graph.meta["quantisation"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto

from .core import Importer, Weight, handles

BITS = {TensorProto.INT8: 8, TensorProto.UINT8: 8, TensorProto.INT16: 16, TensorProto.UINT16: 16,
        TensorProto.INT32: 32, TensorProto.UINT32: 32}
for _t in ("INT4", "UINT4"):
    if hasattr(TensorProto, _t):
        BITS[getattr(TensorProto, _t)] = 4
for _t in ("INT2", "UINT2"):
    if hasattr(TensorProto, _t):
        BITS[getattr(TensorProto, _t)] = 2
ARRAY_BITS = 8          # rtl/: INT8 multipliers, 32-bit accumulators
BIAS_BITS = 32
_BIAS_INPUT = {"Conv": 2, "Gemm": 2, "ConvTranspose": 2}
_QDQ = ("QuantizeLinear", "DequantizeLinear")   # ONNX's, or com.microsoft's (16-bit and 4-bit QDQ)


def _alias(imp: Importer, node: onnx.NodeProto) -> None:
    imp.rt[node.output[0]] = imp.runtime(node, node.input[0])


@handles("Identity", "Cast", "CastLike")
def pass_through(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    _alias(imp, node)


def _is_bias(imp: Importer, name: str) -> bool:
    users = imp.consumers.get(name, [])
    return bool(users) and all(_BIAS_INPUT.get(n.op_type) is not None and len(n.input) > _BIAS_INPUT[n.op_type]
                               and n.input[_BIAS_INPUT[n.op_type]] == name for n in users)


def _type_bits(imp: Importer, node: onnx.NodeProto, t: int) -> int:
    if t not in BITS:
        raise imp.at(node, f"quantised type {onnx.TensorProto.DataType.Name(t)} is not an integer the "
                           f"INT8 array computes")
    return BITS[t]


def check_bits(imp: Importer, node: onnx.NodeProto, bits: int, fmt: str) -> None:
    """Record ``bits`` for ``node``'s output; refuse a width the INT8 array cannot run."""
    out = node.output[0]
    if bits == BIAS_BITS and _is_bias(imp, out):
        pass                                    # a bias, added in the 32-bit accumulators
    elif bits != ARRAY_BITS:
        what = "weights" if imp.is_const(node.input[0]) else "activations"
        raise imp.at(node, f"{bits}-bit {what}: the PL's INT8 array computes {ARRAY_BITS}-bit weights and "
                           f"activations only; requantise the model to {ARRAY_BITS} bits")
    imp.bits[out] = bits
    imp.quant_formats.add(fmt)


def _const_or_alias(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = node.input[0]
    if not imp.is_const(x):
        _alias(imp, node)
    elif node.op_type in _QDQ and not imp._weightlike(x) and _scalar_q(imp, node):
        pass                                  # a small constant with a per-tensor scale: its value
    elif node.op_type in _QDQ or imp._weightlike(x):
        imp._fold_by_shape(node, a)
    else:
        # a small constant behind a QONNX Quant (e.g. a scalar multiplier): its float value, which the
        # importer only reads to recognise activations such as relu6(x + 3) / 6
        imp.consts[node.output[0]] = imp.consts[x]


def _scalar_q(imp: Importer, node: onnx.NodeProto) -> bool:
    """Evaluate a Q / DQ of a constant with a per-tensor scale and zero point (ONNX's formulas:
    ``(x - zp) * scale``, ``saturate(round(x / scale) + zp)``); False when they are not scalars."""
    ins = [i for i in node.input[1:3] if i]
    if not all(imp.resolve(i) and np.asarray(imp.const(i)).size == 1 for i in ins):
        return False
    x = np.asarray(imp.const(node.input[0]))
    scale = float(np.asarray(imp.const(node.input[1])).reshape(-1)[0])
    zp_arr = np.asarray(imp.const(ins[1])) if len(ins) > 1 else np.zeros((), np.uint8)
    zp = int(zp_arr.reshape(-1)[0])
    if node.op_type == "DequantizeLinear":
        imp.consts[node.output[0]] = ((x.astype(np.int64) - zp) * scale).astype(np.float32)
    else:
        info = np.iinfo(zp_arr.dtype) if zp_arr.dtype.kind in "iu" else np.iinfo(np.uint8)
        q = np.clip(np.rint(x.astype(np.float64) / scale) + zp, info.min, info.max)
        imp.consts[node.output[0]] = q.astype(zp_arr.dtype if zp_arr.dtype.kind in "iu" else np.uint8)
    return True


@handles("QuantizeLinear", "com.microsoft.QuantizeLinear")
def quantize_linear(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    zp = node.input[2] if len(node.input) > 2 else ""
    t = int(a.get("output_dtype") or 0) or (imp.const_dtype(zp) if zp and imp.resolve(zp) else TensorProto.UINT8)
    check_bits(imp, node, _type_bits(imp, node, t), "qdq")
    _const_or_alias(imp, node, a)


@handles("DequantizeLinear", "com.microsoft.DequantizeLinear")
def dequantize_linear(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = node.input[0]
    zp = node.input[2] if len(node.input) > 2 else ""
    if imp.is_const(x):
        t = imp.const_dtype(x)
        bits = _type_bits(imp, node, t)
    elif zp and imp.resolve(zp):
        bits = _type_bits(imp, node, imp.const_dtype(zp))
    else:
        bits = imp.bits.get(x, ARRAY_BITS)
    check_bits(imp, node, bits, "qdq")
    _const_or_alias(imp, node, a)


def _qonnx_bits(imp: Importer, node: onnx.NodeProto, i: int) -> int:
    v = np.asarray(imp.const_in(node, i)).reshape(-1)
    if v.size != 1 or not float(v[0]).is_integer() or v[0] < 1:
        raise imp.at(node, f"bit width {v.tolist()} is not one positive integer")
    return int(v[0])


@handles("qonnx.Quant")
def qonnx_quant(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    check_bits(imp, node, _qonnx_bits(imp, node, 3), "qonnx")
    _const_or_alias(imp, node, a)


@handles("qonnx.BipolarQuant")
def qonnx_bipolar(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    check_bits(imp, node, 1, "qonnx")


@handles("qonnx.Trunc")
def qonnx_trunc(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    check_bits(imp, node, _qonnx_bits(imp, node, 4), "qonnx")
    _alias(imp, node)


__all__ = ["ARRAY_BITS", "BITS", "Weight", "check_bits"]


# ---- QOperator format (onnxruntime.quantization's QuantFormat.QOperator) ------------------------
def _require_8(imp: Importer, node: onnx.NodeProto, name: str, what: str) -> None:
    if not name or not imp.resolve(name):
        return
    bits = _type_bits(imp, node, imp.const_dtype(name))
    if bits != ARRAY_BITS:
        raise imp.at(node, f"{bits}-bit {what}: the PL's INT8 array computes {ARRAY_BITS}-bit weights and "
                           f"activations only; requantise the model to {ARRAY_BITS} bits")
    imp.bits[node.output[0]] = bits


def _as(imp: Importer, node: onnx.NodeProto, op_type: str, inputs: list[str], a: dict[str, Any], fmt: str) -> None:
    """Map a quantised layer as the float layer it computes (same shapes, same MACs)."""
    from .convolution import conv, matmul
    proxy = onnx.helper.make_node(op_type, inputs, list(node.output), name=imp.label(node))
    proxy.attribute.extend(node.attribute)
    (conv if op_type == "Conv" else matmul)(imp, proxy, a)
    imp.quant_formats.add(fmt)


@handles("QLinearConv")
def qlinear_conv(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    ins = list(node.input) + [""] * (9 - len(node.input))
    _require_8(imp, node, ins[2], "activations")
    _require_8(imp, node, ins[3], "weights")
    _require_8(imp, node, ins[7], "activations")
    _as(imp, node, "Conv", [ins[0], ins[3]] + ([ins[8]] if ins[8] else []), a, "qoperator")


@handles("QLinearMatMul")
def qlinear_matmul(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    _require_8(imp, node, node.input[2], "activations")
    _require_8(imp, node, node.input[3], "weights")
    _require_8(imp, node, node.input[7], "activations")
    _as(imp, node, "MatMul", [node.input[0], node.input[3]], a, "qoperator")
