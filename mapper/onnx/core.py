"""The importer's driver: file and graph checks, constant folding, shared helpers, the registry.

An op family module registers a handler ``f(imp, node, attrs)`` with ``@handles("Conv")``; the
driver calls it for every node that is not folded as a constant.  Handlers read inputs with
``imp.runtime`` (a feature map) or ``imp.const_in`` / ``imp.const_shape`` (a constant), and bind
each ONNX output to an IR tensor in ``imp.rt`` (usually what ``imp.emit`` returns).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from rtl.errors import UserError

from ..ir import Graph, IRError, Node, Op
from ..paths import describe_non_file
from ..passes import recognise_hard_activations, recognise_swish

OPSET_MIN = 7                                   # the oldest opset the importer is tested at
OPSET_MAX = onnx.defs.onnx_opset_version()      # the newest one this onnx package knows

# Domains a QONNX ``Quant`` (Brevitas, FINN) may be spelt in.
QONNX_DOMAINS = frozenset({"qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn"})

# Graph-input element types that cannot be an image batch.
_NOT_IMAGES = {onnx.TensorProto.STRING: "STRING", onnx.TensorProto.BOOL: "BOOL",
               onnx.TensorProto.COMPLEX64: "COMPLEX64", onnx.TensorProto.COMPLEX128: "COMPLEX128"}

# The inputs of these ops that are layer parameters: with export_params=False PyTorch makes them
# graph inputs, with declared shapes and no values.
_PARAM_INPUTS = {"Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (1, 2), "MatMul": (1,),
                 "BatchNormalization": (1, 2, 3, 4), "PRelu": (1,), "InstanceNormalization": (1, 2)}
# Ops that only re-type or re-lay a parameter on its way to a layer (folded shape-only).
SHAPE_ONLY_FOLDS = frozenset({"Identity", "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear",
                              "Transpose", "Quant", "BipolarQuant"})
# Elements: a re-typing of a constant larger than this is folded by its shape only.  Such constants
# are weights, whose values the importer never reads (reshape targets, axes and scalars are small).
_BIG = 4096


class OnnxImportError(UserError, ValueError):
    """A model that cannot be read or mapped (one-line message naming the file, op and node)."""


Handler = Callable[["Importer", onnx.NodeProto, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}


def handles(*op_types: str) -> Callable[[Handler], Handler]:
    """Register ``f(imp, node, attrs)`` as the handler of ``op_types`` (``Domain.Op`` or ``Op``)."""
    def register(f: Handler) -> Handler:
        for t in op_types:
            if t in HANDLERS:
                raise RuntimeError(f"ONNX op {t!r} has two handlers")
            HANDLERS[t] = f
        return f
    return register


class Weight:
    """A constant known by its shape and element type only: weights in an external data file, or
    left out of the file (``export_params=False``), or a re-typing of a big weight folded by shape."""

    def __init__(self, shape: tuple[int, ...], dtype: int, why: str):
        self.shape, self.dtype, self.why = tuple(int(d) for d in shape), dtype, why


def load(path: str | os.PathLike, input_size: int | None = None) -> Graph:
    """Read ``path`` and return its graph (see the package docstring)."""
    p = Path(path)
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int)
                                   or input_size <= 0):
        raise OnnxImportError(f"input_size must be a positive integer, not {input_size!r}")
    what = describe_non_file(p)
    if what is not None:
        raise OnnxImportError(f"ONNX model {str(p)!r} {what}")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except OSError as e:
        raise OnnxImportError(f"{p.name}: cannot read: {e.strerror or e}") from None
    except Exception as e:   # DecodeError and whatever else protobuf raises on a bad file
        raise OnnxImportError(f"{p.name}: not a valid ONNX model ({_one_line(e)}); "
                              f"is the file truncated or of another format?") from None
    if model.functions:      # the dynamo exporter without its optimiser keeps model-local functions
        try:
            from onnx import inliner
            model = inliner.inline_local_functions(model)
        except Exception as e:
            raise OnnxImportError(f"{p.name}: cannot inline its model-local functions ({_one_line(e)})") from None
    return Importer(model, p.name, input_size).run()


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] or type(e).__name__


def attrs_of(node: onnx.NodeProto) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def dtype_name(t: int) -> str:
    return onnx.TensorProto.DataType.Name(t)


class Importer:
    def __init__(self, model: onnx.ModelProto, file: str, input_size: int | None):
        self.model, self.file, self.input_size = model, file, input_size
        self.gp = model.graph
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        self.consts: dict[str, Any] = {}          # ONNX name -> np.ndarray, TensorProto (lazy) or Weight
        self.rt: dict[str, str] = {}              # ONNX runtime tensor -> IR tensor
        self.pads: dict[str, tuple[str, tuple[int, int, int, int]]] = {}   # pending zero Pads
        self.readers: Counter[str] = Counter()
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.producers: dict[str, onnx.NodeProto] = {}
        self.done: set[int] = set()               # id() of nodes a sibling's handler already mapped
        self.seqs: dict[str, list[str]] = {}      # ONNX sequence -> its IR tensors (SplitToSequence)
        self.bits: dict[str, int] = {}            # ONNX tensor -> bit width of its quantised values
        self.quant_formats: set[str] = set()
        self.shuffle_tails: set[str] = set()      # Transpose outputs of recognised channel shuffles
        self.nhwc: str | None = None              # the NCHW tensor of an NHWC input's Transpose
        self.dropped: list[str] = []
        self.g: Graph | None = None

    # ---- errors and small helpers ------------------------------------------------------------
    def fail(self, msg: str) -> OnnxImportError:
        return OnnxImportError(f"{self.file}: {msg}")

    def at(self, node: onnx.NodeProto, msg: str) -> OnnxImportError:
        return self.fail(f"{msg} at node '{self.label(node)}' ({node.op_type})")

    @staticmethod
    def label(node: onnx.NodeProto) -> str:
        return node.name or (node.output[0] if node.output else node.op_type)

    def is_const(self, name: str) -> bool:
        return name in self.consts

    def const(self, name: str) -> np.ndarray:
        v = self.consts[name]
        if isinstance(v, Weight):
            raise self.fail(f"constant {name!r} is {v.why}; its value is needed")
        if isinstance(v, onnx.TensorProto):
            if v.data_location == onnx.TensorProto.EXTERNAL:
                raise self.fail(f"constant {name!r} is stored in an external file; its value is needed")
            v = self.consts[name] = numpy_helper.to_array(v)
        return v

    def const_in(self, node: onnx.NodeProto, i: int) -> np.ndarray:
        """The value of input ``i`` of ``node``, which must be a (foldable) constant."""
        if not self.resolve(node.input[i]):
            raise self.at(node, f"input {i} ({node.input[i]!r}) must be a constant, not computed at run time")
        return self.const(node.input[i])

    def const_shape(self, name: str) -> tuple[int, ...]:
        v = self.consts[name]
        if isinstance(v, (onnx.TensorProto,)):
            return tuple(int(d) for d in v.dims)
        return tuple(v.shape)

    def const_dtype(self, name: str) -> int:
        """The ONNX element type of constant ``name``."""
        v = self.consts[name]
        if isinstance(v, onnx.TensorProto):
            return v.data_type
        if isinstance(v, Weight):
            return v.dtype
        return helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype)

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
        name = self.unique(self.label(node) + suffix)
        try:
            return self.g.add(op, inputs, name, outputs=outputs, **attrs)
        except IRError as e:
            hint = "; was the model exported for another input size?" if self.input_size else ""
            raise self.fail(f"{e} (ONNX {node.op_type}{hint})") from None

    def producer(self, ir_tensor: str) -> Node | None:
        assert self.g is not None
        return next((n for n in reversed(self.g.nodes) if ir_tensor in n.outputs), None)

    def resolve(self, name: str) -> bool:
        """Whether ONNX tensor ``name`` is a constant, folding its producers on demand (a handler may
        need a sibling's constant inputs before the driver reaches them)."""
        if name in self.consts:
            return True
        p = self.producers.get(name)
        if p is None or name in self.rt or id(p) in self.done or p.domain not in ("", "ai.onnx") \
                or p.op_type in ("QuantizeLinear", "DequantizeLinear"):
            return False
        ins = [i for i in p.input if i]
        shape_of_map = p.op_type in ("Shape", "Size") and ins and ins[0] in self.rt
        if not (p.op_type == "Constant" or shape_of_map or all(self.resolve(i) for i in ins)):
            return False
        self._fold_node(p)
        return name in self.consts

    # ---- driver ------------------------------------------------------------------------------
    def run(self) -> Graph:
        if not self.gp.node:
            raise self.fail("the model has no nodes (empty, truncated or not an ONNX model?)")
        if self.opset is None:
            raise self.fail("the model declares no ONNX opset (truncated, or not an ONNX model?)")
        if not OPSET_MIN <= self.opset <= OPSET_MAX:
            raise self.fail(f"ONNX opset {self.opset} is outside the supported range {OPSET_MIN} to {OPSET_MAX}")
        self._check_names()
        for t in self.gp.initializer:
            self.consts[t.name] = t
        for t in self.gp.sparse_initializer:
            self.consts[t.values.name] = Weight(tuple(t.dims), t.values.data_type, "a sparse initializer")
        self._make_input()
        for n in self.gp.node:
            self.readers.update(i for i in n.input if i)
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
            for o in n.output:
                if o:
                    self.producers[o] = n
        self.readers.update(o.name for o in self.gp.output)
        self._weight_inputs()
        for node in self._toposort(self._live_nodes()):
            if id(node) not in self.done:
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
        if self.dropped:
            self.g.meta["dropped_nodes"] = list(self.dropped)
        if self.quant_formats:
            self.g.meta["quantisation"] = {"format": "+".join(sorted(self.quant_formats)),
                                           "bits": sorted(set(self.bits.values()))}
        return self.g

    def _check_names(self) -> None:
        """Every tensor has one producer: the input, an initializer or one node output."""
        seen: dict[str, str] = {}

        def claim(name: str, what: str) -> None:
            if not name:
                return
            if name in seen:
                raise self.fail(f"tensor {name!r} is produced twice ({seen[name]} and {what}); "
                                f"a malformed model")
            seen[name] = what
        inits = Counter(t.name for t in self.gp.initializer)
        dup = next((n for n, c in inits.items() if c > 1), None)
        if dup is not None:
            raise self.fail(f"initializer {dup!r} is defined {inits[dup]} times; a malformed model")
        for t in self.gp.initializer:
            claim(t.name, "an initializer")
        for i in self.gp.input:
            if i.name not in inits:
                claim(i.name, "a graph input")
        for n in self.gp.node:
            for o in n.output:
                claim(o, f"node '{self.label(n)}' ({n.op_type})")

    def _weight_inputs(self) -> None:
        """Graph inputs after the image that only feed layer parameters (``export_params=False``)
        become constants known by their declared shape; unread ones are ignored.  A parameter is
        a Conv / Gemm / MatMul / BatchNormalization input after the first, possibly through
        re-typings (Identity, Cast, Transpose, quantisers), or a vector (a bias) added to a layer."""
        def only_params(name: str, rank: int, depth: int = 0) -> bool:
            users = self.consumers.get(name, [])
            for n in users:
                ok = any(n.input[i] == name for i in _PARAM_INPUTS.get(n.op_type, ()) if i < len(n.input))
                if not ok and n.op_type in ("Add", "Mul", "Sub", "Div") and rank <= 1:
                    ok = True
                if not ok and n.op_type in SHAPE_ONLY_FOLDS and n.input and n.input[0] == name and depth < 3:
                    ok = all(only_params(o, rank, depth + 1) for o in n.output if o)
                if not ok:
                    return False
            return bool(users)
        for x in self.gp.input[1:]:
            if x.name in self.consts or x.name in self.rt:
                continue
            tt = x.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            if not only_params(x.name, len(dims)):
                continue
            if not tt.HasField("shape") or any(d < 0 for d in dims):
                raise self.fail(f"parameter input {x.name!r} has no fully declared shape")
            self.consts[x.name] = Weight(tuple(dims), tt.elem_type, "a graph input (the weights were left out)")

    def _live_nodes(self) -> list[onnx.NodeProto]:
        """The nodes some graph output depends on; the rest are dropped (and listed in the meta)."""
        live: set[int] = set()
        stack = [o.name for o in self.gp.output]
        seen: set[str] = set()
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            p = self.producers.get(t)
            if p is not None and id(p) not in live:
                live.add(id(p))
                stack.extend(i for i in p.input if i)
        out = []
        for n in self.gp.node:
            if id(n) in live:
                out.append(n)
            elif n.op_type != "Constant":
                self.dropped.append(self.label(n))
        return out

    def _make_input(self) -> None:
        inputs = [i for i in self.gp.input if i.name not in self.consts]
        if not inputs:
            raise self.fail("the graph has no input that is not an initializer")
        x = inputs[0]
        tt = x.type.tensor_type
        if tt.elem_type in _NOT_IMAGES:
            raise self.fail(f"input {x.name!r} is a {_NOT_IMAGES[tt.elem_type]} tensor; expected an image batch "
                            f"(float or integer)")
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        if len(dims) != 4:
            raise self.fail(f"input {x.name!r} has rank {len(dims)}; expected an NCHW image batch")
        readers = [n for n in self.gp.node if x.name in n.input]
        if (len(readers) == 1 and readers[0].op_type == "Transpose"
                and list(attrs_of(readers[0]).get("perm", [])) == [0, 3, 1, 2]):
            # an NHWC input transposed to NCHW first (tf2onnx): the IR input is that NCHW tensor
            self.nhwc = readers[0].output[0]
            dims = [dims[0], dims[3], dims[1], dims[2]]
        if dims[1] is None:
            raise self.fail(f"input {x.name!r} has a dynamic channel count")
        if self.input_size is not None:
            dims[2] = dims[3] = self.input_size
        elif dims[2] is None or dims[3] is None:
            raise self.fail(f"input {x.name!r} has a dynamic height/width; pass input_size "
                            f"(--input-size N on the command line)")
        generic = {"", "main_graph", "torch-jit-export", "torch_jit", "tf2onnx"}   # exporters' default names
        name = Path(self.file).stem if self.gp.name in generic else self.gp.name
        self.g = Graph(name, (1, dims[1], dims[2], dims[3]), input_name=x.name)
        self.rt[x.name] = x.name

    def _toposort(self, nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
        """The nodes in dependency order (exporters usually, not always, emit them sorted)."""
        known = set(self.consts) | set(self.rt) | {""}
        pending = list(nodes)
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

    def _foldable(self, node: onnx.NodeProto) -> bool:
        op = node.op_type
        ins = [i for i in node.input if i]
        if op == "Constant" or (op in ("Shape", "Size") and ins and ins[0] in self.rt):
            return True
        if op in ("QuantizeLinear", "DequantizeLinear"):
            return False                     # the quant handlers fold them and read their bit widths
        if op == "CastLike" and ins and self.is_const(ins[0]):
            return True                      # a constant cast to a feature map's type
        return bool(ins) and all(self.is_const(i) for i in ins)

    def _node(self, node: onnx.NodeProto) -> None:
        op = node.op_type
        key = op if node.domain in ("", "ai.onnx") else f"{node.domain}.{op}"
        if node.domain in QONNX_DOMAINS:
            key = f"qonnx.{op}"
        fold = node.domain in ("", "ai.onnx") and self._foldable(node)
        handler = None if fold else HANDLERS.get(key)
        if not fold and handler is None:
            raise self.at(node, f"unsupported ONNX op '{key}'")
        try:
            if fold:
                self._fold_node(node)
            else:
                handler(self, node, attrs_of(node))
        except OnnxImportError:
            raise
        except Exception as e:   # a malformed node (missing attribute / input, bad value)
            raise self.at(node, f"cannot {'evaluate constant' if fold else 'map'} {op}: {_one_line(e)}") from None

    # ---- constant folding --------------------------------------------------------------------
    def _fold_node(self, node: onnx.NodeProto) -> None:
        try:
            self._fold(node, attrs_of(node))
        except OnnxImportError:
            raise
        except Exception as e:
            raise self.at(node, f"cannot evaluate constant {node.op_type}: {_one_line(e)}") from None

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
        if op == "CastLike" and node.input[1] not in self.consts:
            # the dynamo exporter casts each scalar to the feature map's type; feature maps are float
            src = self.consts[node.input[0]]
            if isinstance(src, Weight):
                self.consts[node.output[0]] = Weight(src.shape, onnx.TensorProto.FLOAT, src.why)
            else:
                self.consts[node.output[0]] = np.asarray(self.const(node.input[0])).astype(np.float32)
            return
        x0 = node.input[0] if node.input else ""
        if op in SHAPE_ONLY_FOLDS and x0 and self._weightlike(x0):
            self._fold_by_shape(node, a)
            return
        feeds = {i: self.const(i) for i in node.input if i}
        graph = helper.make_graph([node], "fold", [helper.make_empty_tensor_value_info(i) for i in feeds],
                                  [helper.make_empty_tensor_value_info(o) for o in node.output if o])
        # a one-node graph: a bare NodeProto would be run at the newest opset
        outs = ReferenceEvaluator(graph, opsets={"": self.opset}).run(None, feeds)
        for name, v in zip(node.output, outs):
            if name:
                self.consts[name] = np.asarray(v)

    def _weightlike(self, name: str) -> bool:
        v = self.consts[name]
        if isinstance(v, Weight):
            return True
        if isinstance(v, onnx.TensorProto) and v.data_location == onnx.TensorProto.EXTERNAL:
            return True
        return math.prod(self.const_shape(name)) > _BIG

    def _fold_by_shape(self, node: onnx.NodeProto, a: dict[str, Any]) -> None:
        """A re-typing or re-layout of a weight: only its shape and element type are kept."""
        op, x = node.op_type, node.input[0]
        shape = self.const_shape(x)
        why = self.consts[x].why if isinstance(self.consts[x], Weight) else "a weight (only its shape is read)"
        dtype = self.const_dtype(x)
        if op == "Transpose":
            perm = a.get("perm") or list(reversed(range(len(shape))))
            shape = tuple(shape[int(p)] for p in perm)
        elif op == "Cast":
            dtype = int(a["to"])
        elif op == "CastLike":
            dtype = self.const_dtype(node.input[1]) if node.input[1] in self.consts else onnx.TensorProto.FLOAT
        elif op in ("DequantizeLinear", "Quant", "BipolarQuant"):
            dtype = onnx.TensorProto.FLOAT
        elif op == "QuantizeLinear":
            zp = node.input[2] if len(node.input) > 2 else ""
            dtype = int(a.get("output_dtype") or 0) or (self.const_dtype(zp) if zp else onnx.TensorProto.UINT8)
        self.consts[node.output[0]] = Weight(shape, dtype, why)
