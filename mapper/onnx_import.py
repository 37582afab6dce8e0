"""Import an ONNX model (opset 7 to current) into ``mapper.ir.Graph``.

``load(path, input_size=None)`` returns the faithful graph: batch-norms, separate activations,
dropouts and reshapes stay nodes (``mapper.passes.prepare`` folds and fuses them).  Only
activations spelt as several ops are rewritten to theirs: ``x * sigmoid(x)`` -> swish,
``relu6(x + 3) / 6`` -> hsigmoid, ``x * hardsigmoid(x)`` and ``x * relu6(x + 3) / 6`` -> hswish.

- Weights are not read: a weight's shape is enough (``ConstantOfShape`` weights, as in the onnx
  package's "light" models, are never materialised).  Constant sub-graphs (the shape plumbing
  exporters emit: Shape, Gather, Unsqueeze, Concat, Cast, ...) are folded by evaluating them with
  ``onnx.reference``, with the runtime tensors' shapes known from the IR's shape inference.
- The input is the first graph input that is not an initializer, NCHW (or NHWC when its only
  reader is a Transpose to NCHW, as tf2onnx emits); batch is 1 and ``input_size`` overrides H, W.
- A constant added to / multiplying a feature map per channel is a batch-norm-like affine node
  (``Op.BATCHNORM``); a bias ``Add`` right after a Conv / MatMul becomes that node's bias.
- A zero ``Pad`` feeding a Conv / pool is folded into its padding; ``Identity``, ``Cast`` and
  ``QuantizeLinear`` / ``DequantizeLinear`` on feature maps are pass-throughs.
- Anything else the IR has no kind for (LSTM, Resize, Tanh, dilated convs, ...) is an
  ``OnnxImportError`` naming the op and node: an op the device would have to compute never
  silently becomes zero work.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from .ir import Graph, IRError, Node, Op
from .passes import recognise_hard_activations, recognise_swish


class OnnxImportError(ValueError):
    """A model that cannot be read or mapped (one-line message naming the file, op and node)."""


_ACTIVATIONS = {"Relu": Op.RELU, "Sigmoid": Op.SIGMOID, "HardSigmoid": Op.HSIGMOID,
                "HardSwish": Op.HSWISH}
# Pass-throughs on feature maps: no arithmetic the accelerator model counts (INT8 throughout).
_ALIASES = {"Identity", "Cast", "QuantizeLinear", "DequantizeLinear"}


def load(path: str | os.PathLike, input_size: int | None = None) -> Graph:
    """Read ``path`` and return its graph (see the module docstring)."""
    p = Path(path)
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int)
                                   or input_size <= 0):
        raise OnnxImportError(f"input_size must be a positive integer, not {input_size!r}")
    if not p.is_file():
        raise OnnxImportError(f"ONNX model {str(p)!r} does not exist" if not p.exists()
                              else f"ONNX model {str(p)!r} is not a file")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except OSError as e:
        raise OnnxImportError(f"{p.name}: cannot read: {e.strerror or e}") from None
    except Exception as e:   # DecodeError and whatever else protobuf raises on a bad file
        raise OnnxImportError(f"{p.name}: not a valid ONNX model ({_one_line(e)}); "
                              f"is the file truncated or of another format?") from None
    return _Importer(model, p.name, input_size).run()


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] or type(e).__name__


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _window_pads(attrs: dict[str, Any], hw: tuple[int, int], k: tuple[int, int],
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


def _channelwise(cshape: tuple[int, ...], xshape: tuple[int, ...]) -> bool:
    """Whether a constant of ``cshape`` broadcasts onto ``xshape`` along the channel axis only."""
    if math.prod(cshape) == 1:
        return True
    if len(cshape) > len(xshape) or len(xshape) < 2:
        return False
    full = (1,) * (len(xshape) - len(cshape)) + tuple(cshape)
    return all(d == 1 or (i == 1 and d == xshape[1]) for i, d in enumerate(full))


class _Importer:
    def __init__(self, model: onnx.ModelProto, file: str, input_size: int | None):
        self.model, self.file, self.input_size = model, file, input_size
        self.gp = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        self.consts: dict[str, Any] = {}          # ONNX name -> np.ndarray or TensorProto (lazy)
        self.rt: dict[str, str] = {}              # ONNX runtime tensor -> IR tensor
        self.pads: dict[str, tuple[str, tuple[int, int, int, int]]] = {}   # pending zero Pads
        self.readers: Counter[str] = Counter()
        self.nhwc: str | None = None              # the NCHW tensor of an NHWC input's Transpose
        self.g: Graph | None = None

    # ---- errors and small helpers ------------------------------------------------------------
    def fail(self, msg: str) -> OnnxImportError:
        return OnnxImportError(f"{self.file}: {msg}")

    def at(self, node: onnx.NodeProto, msg: str) -> OnnxImportError:
        return self.fail(f"{msg} at node '{self._label(node)}' ({node.op_type})")

    @staticmethod
    def _label(node: onnx.NodeProto) -> str:
        return node.name or (node.output[0] if node.output else node.op_type)

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def const(self, name: str) -> np.ndarray:
        v = self.consts[name]
        if isinstance(v, onnx.TensorProto):
            if v.data_location == onnx.TensorProto.EXTERNAL:
                raise self.fail(f"constant {name!r} is stored in an external file; its value is needed")
            v = self.consts[name] = numpy_helper.to_array(v)
        return v

    def const_in(self, node: onnx.NodeProto, i: int) -> np.ndarray:
        """The value of input ``i`` of ``node``, which must be a (foldable) constant."""
        if node.input[i] not in self.consts:
            raise self.at(node, f"input {i} ({node.input[i]!r}) must be a constant, not computed at run time")
        return self.const(node.input[i])

    def const_shape(self, name: str) -> tuple[int, ...]:
        v = self.consts[name]
        return tuple(int(d) for d in v.dims) if isinstance(v, onnx.TensorProto) else tuple(v.shape)

    def runtime(self, node: onnx.NodeProto, name: str) -> str:
        if name in self.pads:
            raise self.at(node, f"a Pad feeding {node.op_type} is not supported (only Conv / pools)")
        if name not in self.rt:
            raise self.at(node, f"input {name!r} must be the feature map, not a constant")
        return self.rt[name]

    def shape(self, ir_tensor: str) -> tuple[int, ...]:
        assert self.g is not None
        return self.g.shape(ir_tensor)

    def unique(self, base: str) -> str:
        assert self.g is not None
        name, i = base, 0
        while name in self.g._names or name in self.g.tensors:
            i += 1
            name = f"{base}_{i}"
        return name

    def emit(self, node: onnx.NodeProto, op: Op, inputs: list[str], *, suffix: str = "",
             outputs: int = 1, **attrs: Any) -> str | list[str]:
        assert self.g is not None
        name = self.unique(self._label(node) + suffix)
        try:
            return self.g.add(op, inputs, name, outputs=outputs, **attrs)
        except IRError as e:
            hint = "; was the model exported for another input size?" if self.input_size else ""
            raise self.fail(f"{e} (ONNX {node.op_type}{hint})") from None

    def producer(self, ir_tensor: str) -> Node | None:
        assert self.g is not None
        return next((n for n in reversed(self.g.nodes) if ir_tensor in n.outputs), None)

    # ---- driver ------------------------------------------------------------------------------
    def run(self) -> Graph:
        if not self.gp.node:
            raise self.fail("the model has no nodes (empty, truncated or not an ONNX model?)")
        if self.opset is None:
            raise self.fail("the model declares no ONNX opset (truncated, or not an ONNX model?)")
        for t in self.gp.initializer:
            self.consts[t.name] = t
        self._make_input()
        for n in self.gp.node:
            self.readers.update(i for i in n.input if i)
        self.readers.update(o.name for o in self.gp.output)
        for node in self._toposort():
            self._node(node)
        outs = []
        for o in self.gp.output:
            if o.name in self.pads:
                raise self.fail(f"graph output {o.name!r} is a Pad result; not supported")
            if o.name not in self.rt and o.name not in self.consts:
                raise self.fail(f"graph output {o.name!r} is never produced (truncated or malformed model?)")
            if o.name in self.rt and self.rt[o.name] not in outs:
                outs.append(self.rt[o.name])
        if not outs:
            raise self.fail("no graph output depends on the input")
        assert self.g is not None
        self.g.set_outputs(*outs)
        recognise_hard_activations(self.g)
        recognise_swish(self.g)
        self.g.validate()
        self.g.meta.update(source="onnx", file=self.file, opset=self.opset)
        return self.g

    def _make_input(self) -> None:
        inputs = [i for i in self.gp.input if i.name not in self.consts]
        if not inputs:
            raise self.fail("the graph has no input that is not an initializer")
        x = inputs[0]
        tt = x.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        if len(dims) != 4:
            raise self.fail(f"input {x.name!r} has rank {len(dims)}; expected an NCHW image batch")
        readers = [n for n in self.gp.node if x.name in n.input]
        if (len(readers) == 1 and readers[0].op_type == "Transpose"
                and list(_attrs(readers[0]).get("perm", [])) == [0, 3, 1, 2]):
            # an NHWC input transposed to NCHW first (tf2onnx): the IR input is that NCHW tensor
            self.nhwc = readers[0].output[0]
            dims = [dims[0], dims[3], dims[1], dims[2]]
        if dims[1] is None:
            raise self.fail(f"input {x.name!r} has a dynamic channel count")
        if self.input_size is not None:
            dims[2] = dims[3] = self.input_size
        elif dims[2] is None or dims[3] is None:
            raise self.fail(f"input {x.name!r} has a dynamic height/width; pass input_size")
        name = self.gp.name or Path(self.file).stem
        self.g = Graph(name, (1, dims[1], dims[2], dims[3]), input_name=x.name)
        self.rt[x.name] = x.name

    def _toposort(self) -> list[onnx.NodeProto]:
        """The nodes in dependency order (exporters usually, not always, emit them sorted)."""
        known = set(self.consts) | set(self.rt) | {""}
        pending = list(self.gp.node)
        order: list[onnx.NodeProto] = []
        while pending:
            rest = []
            for n in pending:
                if all(i in known for i in n.input):
                    order.append(n)
                    known.update(n.output)
                else:
                    rest.append(n)
            if len(rest) == len(pending):
                n = rest[0]
                missing = next(i for i in n.input if i not in known)
                other = {i.name for i in self.gp.input} - set(self.consts)
                why = ("a second graph input; only single-input models are supported" if missing in other
                       else "a tensor nothing produces (truncated or malformed model?)")
                raise self.at(n, f"input {missing!r} is {why}")
            pending = rest
        return order

    def _node(self, node: onnx.NodeProto) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise self.at(node, f"unsupported ONNX op '{node.domain}.{op}'")
        ins = [i for i in node.input if i]
        fold = op == "Constant" or (op in ("Shape", "Size") and ins and ins[0] in self.rt) or (
            ins and all(self.is_const(i) for i in ins))
        if fold:
            handler = self._fold
        elif op in _ACTIVATIONS:
            handler = lambda node, a: self._act(node, _ACTIVATIONS[op])   # noqa: E731
        elif op in _ALIASES:
            handler = lambda node, a: self._alias(node)                  # noqa: E731
        else:
            handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            raise self.at(node, f"unsupported ONNX op '{op}'")
        try:
            handler(node, _attrs(node))
        except OnnxImportError:
            raise
        except Exception as e:   # a malformed node (missing attribute / input, bad value)
            raise self.at(node, f"cannot {'evaluate constant' if fold else 'map'} {op}: {_one_line(e)}") from None

    # ---- constant folding --------------------------------------------------------------------
    def _fold(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        op = node.op_type
        if op in ("Shape", "Size") and node.input[0] in self.rt:
            shape = self.shape(self.rt[node.input[0]])
            if op == "Size":
                self.consts[node.output[0]] = np.array(math.prod(shape), dtype=np.int64)
            else:
                self.consts[node.output[0]] = np.array(shape[a.get("start", 0):a.get("end", len(shape))],
                                                       dtype=np.int64)
            return
        if op == "Constant":
            kind, value = next(iter(a.items()), (None, None))
            if kind not in ("value", "value_float", "value_floats", "value_int", "value_ints"):
                raise self.at(node, f"Constant with {kind!r} is not supported")
            self.consts[node.output[0]] = numpy_helper.to_array(value) if kind == "value" else np.array(value)
            return
        if op == "ConstantOfShape":   # weights of the "light" models: shape only, never materialised
            value = numpy_helper.to_array(a["value"]).reshape(()) if "value" in a else np.float32(0)
            self.consts[node.output[0]] = np.broadcast_to(value, tuple(int(d) for d in self.const_in(node, 0)))
            return
        feeds = {i: self.const(i) for i in node.input if i}
        graph = helper.make_graph([node], "fold", [helper.make_empty_tensor_value_info(i) for i in feeds],
                                  [helper.make_empty_tensor_value_info(o) for o in node.output if o])
        # a one-node graph: a bare NodeProto would be run at the newest opset
        outs = ReferenceEvaluator(graph, opsets={"": self.opset}).run(None, feeds)
        for name, v in zip(node.output, outs):
            if name:
                self.consts[name] = np.asarray(v)

    # ---- feature-map ops ---------------------------------------------------------------------
    def _alias(self, node: onnx.NodeProto) -> None:
        self.rt[node.output[0]] = self.runtime(node, node.input[0])

    def _input4(self, node: onnx.NodeProto, name: str) -> tuple[str, tuple[int, int, int, int]]:
        """A windowed op's input, through a pending zero Pad (whose padding is returned)."""
        extra = (0, 0, 0, 0)
        if name in self.pads:
            name, extra = self.pads[name]
        x = self.runtime(node, name)
        if len(self.shape(x)) != 4:
            raise self.at(node, f"only 2-D {node.op_type} on NCHW maps is supported, input is {self.shape(x)}")
        return x, extra

    def _window(self, node: onnx.NodeProto, a: dict[str, Any], x: str, k: tuple[int, int],
                extra: tuple[int, int, int, int]) -> dict[str, Any]:
        if any(int(d) != 1 for d in a.get("dilations", [1, 1])):
            raise self.at(node, f"dilated {node.op_type} (dilations {a['dilations']}) is not supported")
        s = tuple(int(v) for v in a.get("strides", [1, 1]))
        if len(s) != 2:
            raise self.at(node, f"only 2-D {node.op_type} is supported")
        pad = _window_pads(a, self.shape(x)[2:], k, s)      # type: ignore[arg-type]
        pad = tuple(p + e for p, e in zip(pad, extra))
        return {"k": k if k[0] != k[1] else k[0], "stride": s if s[0] != s[1] else s[0], "pad": pad}

    def _op_Conv(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x, extra = self._input4(node, node.input[0])
        if not self.is_const(node.input[1]):
            raise self.at(node, "a Conv whose weights are computed at run time is not supported")
        w = self.const_shape(node.input[1])
        if len(w) != 4:
            raise self.at(node, f"only 2-D convolutions are supported (weight shape {list(w)})")
        group = int(a.get("group", 1))
        cin = self.shape(x)[1]
        if w[1] * group != cin:
            raise self.at(node, f"weight {list(w)} with group={group} does not fit {cin} input channels")
        k = tuple(int(v) for v in a.get("kernel_shape", w[2:]))
        attrs = self._window(node, a, x, k, extra)    # type: ignore[arg-type]
        op = Op.DWCONV if group == cin == w[0] else Op.CONV
        bias = len(node.input) > 2 and bool(node.input[2])
        self.rt[node.output[0]] = self.emit(node, op, [x], cout=int(w[0]), groups=group, bias=bias,
                                            act=None, **attrs)

    def _pool(self, node: onnx.NodeProto, a: dict[str, Any], op: Op) -> None:
        if len(node.output) > 1 and node.output[1] and self.readers[node.output[1]]:
            raise self.at(node, "MaxPool indices output is not supported")
        x, extra = self._input4(node, node.input[0])
        k = tuple(int(v) for v in a["kernel_shape"])
        if len(k) != 2:
            raise self.at(node, f"only 2-D {node.op_type} is supported")
        attrs = self._window(node, a, x, k, extra)    # type: ignore[arg-type]
        if a.get("ceil_mode"):
            attrs["ceil_mode"] = True
        if op == Op.AVGPOOL:
            attrs["count_include_pad"] = bool(a.get("count_include_pad", 0))
        self.rt[node.output[0]] = self.emit(node, op, [x], **attrs)

    def _op_MaxPool(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        self._pool(node, a, Op.MAXPOOL)

    def _op_AveragePool(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        self._pool(node, a, Op.AVGPOOL)

    def _op_GlobalAveragePool(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x, _ = self._input4(node, node.input[0])
        self.rt[node.output[0]] = self.emit(node, Op.GLOBAL_AVGPOOL, [x])

    def _op_ReduceMean(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x = self.runtime(node, node.input[0])
        rank = len(self.shape(x))
        axes = a.get("axes")
        if len(node.input) > 1 and node.input[1]:
            axes = self.const_in(node, 1).tolist()
        if axes is None or rank != 4 or sorted(int(v) % rank for v in axes) != [2, 3]:
            raise self.at(node, f"ReduceMean over axes {axes} of a rank-{rank} tensor is not supported "
                                f"(only the spatial axes of NCHW)")
        y = self.emit(node, Op.GLOBAL_AVGPOOL, [x])
        if not a.get("keepdims", 1):
            y = self.emit(node, Op.FLATTEN, [y], suffix="_squeeze", axis=1)
        self.rt[node.output[0]] = y

    def _op_BatchNormalization(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        if any(self.readers[o] for o in node.output[1:] if o):
            raise self.at(node, "training-mode BatchNormalization (running-statistics outputs) is not supported")
        x = self.runtime(node, node.input[0])
        self.rt[node.output[0]] = self.emit(node, Op.BATCHNORM, [x])

    def _act(self, node: onnx.NodeProto, op: Op) -> None:
        self.rt[node.output[0]] = self.emit(node, op, [self.runtime(node, node.input[0])])


    def _op_LRN(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        self.rt[node.output[0]] = self.emit(node, Op.LRN, [self.runtime(node, node.input[0])],
                                            size=int(a["size"]))

    def _op_Clip(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        lo, hi = a.get("min"), a.get("max")
        if self.opset >= 11:
            bounds = [i for i in node.input[1:3]]
            if any(i and not self.is_const(i) for i in bounds):
                raise self.at(node, "Clip bounds computed at run time are not supported")
            lo, hi = [self.const(i).item() if i else None for i in bounds + ["", ""]][:2]
        if lo == 0 and hi is not None and abs(hi - 6) < 1e-6:
            op = Op.RELU6
        elif lo == 0 and (hi is None or hi >= 3.4e38):
            op = Op.RELU
        else:
            raise self.at(node, f"Clip to [{lo}, {hi}] is not supported (only ReLU [0, inf) and ReLU6 [0, 6])")
        self._act(node, op)

    def _op_Softmax(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x = self.runtime(node, node.input[0])
        axis = int(a.get("axis", 1 if self.opset < 13 else -1)) % len(self.shape(x))
        self.rt[node.output[0]] = self.emit(node, Op.SOFTMAX, [x], axis=axis)

    def _op_Dropout(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        if len(node.output) > 1 and node.output[1] and self.readers[node.output[1]]:
            raise self.at(node, "Dropout mask output is not supported")
        self.rt[node.output[0]] = self.emit(node, Op.DROPOUT, [self.runtime(node, node.input[0])])

    def _op_Flatten(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x = self.runtime(node, node.input[0])
        axis = int(a.get("axis", 1)) % (len(self.shape(x)) + 1)
        self.rt[node.output[0]] = self.emit(node, Op.FLATTEN, [x], axis=axis)

    def _op_Reshape(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x = self.runtime(node, node.input[0])
        target = a.get("shape") if self.opset < 5 else self.const_in(node, 1).tolist()
        if a.get("allowzero") and 0 in target:
            raise self.at(node, "Reshape with allowzero=1 and a zero dimension is not supported")
        self.rt[node.output[0]] = self.emit(node, Op.RESHAPE, [x], shape=[int(d) for d in target])

    def _squeeze(self, node: onnx.NodeProto, a: dict[str, Any], unsqueeze: bool) -> None:
        x = self.runtime(node, node.input[0])
        shape = list(self.shape(x))
        axes = a.get("axes")
        if len(node.input) > 1 and node.input[1]:
            axes = self.const_in(node, 1).tolist()
        if unsqueeze:
            rank = len(shape) + len(axes)
            out = iter(shape)
            norm = {int(v) % rank for v in axes}
            shape = [1 if i in norm else next(out) for i in range(rank)]
        else:
            norm = {int(v) % len(shape) for v in axes} if axes else {i for i, d in enumerate(shape) if d == 1}
            if any(shape[i] != 1 for i in norm):
                raise self.at(node, f"Squeeze of non-unit axes {sorted(norm)} of {tuple(shape)}")
            shape = [d for i, d in enumerate(shape) if i not in norm]
        self.rt[node.output[0]] = self.emit(node, Op.RESHAPE, [x], shape=shape)

    _op_Squeeze = lambda self, node, a: self._squeeze(node, a, False)
    _op_Unsqueeze = lambda self, node, a: self._squeeze(node, a, True)

    def _op_Transpose(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        if node.output[0] == self.nhwc:
            self.rt[node.output[0]] = self.g.inputs[0]
            return
        x = self.runtime(node, node.input[0])
        perm = a.get("perm") or list(reversed(range(len(self.shape(x)))))
        self.rt[node.output[0]] = self.emit(node, Op.TRANSPOSE, [x], perm=[int(p) for p in perm])

    def _op_Concat(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        xs = [self.runtime(node, i) for i in node.input if i]
        axis = int(a["axis"]) % len(self.shape(xs[0]))
        self.rt[node.output[0]] = self.emit(node, Op.CONCAT, xs, axis=axis)

    def _op_Split(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x = self.runtime(node, node.input[0])
        shape = self.shape(x)
        axis = int(a.get("axis", 0)) % len(shape)
        sizes = a.get("split")
        if len(node.input) > 1 and node.input[1]:
            sizes = self.const_in(node, 1).tolist()
        n = len(node.output)
        if not sizes:   # equal parts; opset 18's num_outputs makes the last one smaller if need be
            part = -(-shape[axis] // n)
            sizes = [part] * (n - 1) + [shape[axis] - part * (n - 1)]
        outs = self.emit(node, Op.SPLIT, [x], outputs=n, axis=axis, sizes=[int(s) for s in sizes])
        for o, t in zip(node.output, [outs] if n == 1 else outs):
            self.rt[o] = t

    def _op_Pad(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        """A zero constant Pad of H/W only; folded into the Conv / pool that reads it."""
        x = self.runtime(node, node.input[0])
        if len(node.input) > 1 and node.input[1]:
            pads = self.const_in(node, 1).tolist()
        else:
            pads = a.get("pads", a.get("paddings"))
        value = a.get("value", 0.0)
        if len(node.input) > 2 and node.input[2]:
            value = self.const_in(node, 2).item()
        if len(node.input) > 3 and node.input[3]:
            raise self.at(node, "Pad with explicit axes is not supported")
        rank = len(self.shape(x))
        if (a.get("mode", "constant") != "constant" or value != 0 or rank != 4 or len(pads) != 8
                or any(pads[i] for i in (0, 1, 4, 5))):
            raise self.at(node, f"only a zero constant Pad of H and W is supported (pads {pads}, "
                                f"mode {a.get('mode', 'constant')!r}, value {value})")
        if not any(pads):
            self.rt[node.output[0]] = x
            return
        self.pads[node.output[0]] = (node.input[0], (int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])))

    def _op_Gemm(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        if a.get("transA"):
            raise self.at(node, "Gemm with transA=1 is not supported")
        x = self.runtime(node, node.input[0])
        if not self.is_const(node.input[1]):
            raise self.at(node, "a Gemm whose weights are computed at run time is not supported")
        w = self.const_shape(node.input[1])
        cin, cout = (w[1], w[0]) if a.get("transB") else (w[0], w[1])
        bias = len(node.input) > 2 and bool(node.input[2])
        self.rt[node.output[0]] = self.emit(node, Op.FC, [x], cin=int(cin), cout=int(cout), bias=bias, act=None)

    def _op_MatMul(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        x = self.runtime(node, node.input[0])
        if not self.is_const(node.input[1]) or len(self.const_shape(node.input[1])) != 2:
            raise self.at(node, "only MatMul of a feature vector by a constant 2-D weight is supported")
        if len(self.shape(x)) != 2:
            raise self.at(node, f"MatMul on a rank-{len(self.shape(x))} tensor is not supported "
                                f"(only (N, features))")
        cin, cout = self.const_shape(node.input[1])
        self.rt[node.output[0]] = self.emit(node, Op.FC, [x], cin=int(cin), cout=int(cout), bias=False, act=None)

    def _binary(self, node: onnx.NodeProto, op: str) -> None:
        ins = [i for i in node.input if i]
        consts = [i for i in ins if self.is_const(i)]
        if not consts:
            xs = [self.runtime(node, i) for i in ins]
            if op in ("Sub", "Div"):
                raise self.at(node, f"unsupported ONNX op '{op}' of two feature maps")
            kind = Op.MUL if op == "Mul" else Op.ADD
            y = xs[0]
            for j, other in enumerate(xs[1:]):
                y = self.emit(node, kind, [y, other], suffix="" if j == 0 else f"_{j}")
            self.rt[node.output[0]] = y
            return
        if len(ins) != 2:
            raise self.at(node, f"{op} of {len(ins)} inputs with constants is not supported")
        (c,) = consts
        xname = ins[0] if ins[1] == c else ins[1]
        x = self.runtime(node, xname)
        xs, cs = self.shape(x), self.const_shape(c)
        if op == "Div" and c == ins[0]:
            raise self.at(node, "a constant divided by a feature map is not supported")
        if not _channelwise(cs, xs):
            raise self.at(node, f"{op} with a constant of shape {list(cs)} on a {list(xs)} feature map "
                                f"is not supported (only per-channel constants)")
        prod = self.producer(x)
        if (op in ("Add", "Sum") and prod is not None and prod.op in (Op.CONV, Op.DWCONV, Op.FC)
                and not prod.attrs.get("bias") and prod.attrs.get("act") is None
                and self.readers[xname] == 1 and math.prod(cs) in (1, xs[1])):
            prod.attrs["bias"] = True          # Conv/MatMul + Add(bias) is one biased layer
            self.rt[node.output[0]] = x
            return
        attrs: dict[str, Any] = {"affine": "scale" if op in ("Mul", "Div") else "shift"}
        if op == "Sub" and c == ins[0]:
            attrs["affine"] = "scale_shift"      # c - x
        elif math.prod(cs) == 1:                # a scalar: kept so passes can spot relu6(x + 3) / 6
            v = float(np.asarray(self.const(c)).reshape(-1)[0])
            value = {"Mul": v, "Div": 1 / v if v else None, "Sub": -v}.get(op, v)
            if value is not None:
                attrs["value"] = value
        self.rt[node.output[0]] = self.emit(node, Op.BATCHNORM, [x], **attrs)

    _op_Add = lambda self, node, a: self._binary(node, "Add")
    _op_Sum = lambda self, node, a: self._binary(node, "Sum") if len(node.input) > 1 else self._alias(node)
    _op_Sub = lambda self, node, a: self._binary(node, "Sub")
    _op_Mul = lambda self, node, a: self._binary(node, "Mul")
    _op_Div = lambda self, node, a: self._binary(node, "Div")
