"""A small graph IR for CNNs: nodes with first-class op kinds, NCHW tensors and cost figures.

Every tensor is named; every node names its input and output tensors.  Weights are not stored
(the zoo is built from architecture tables, not downloaded weights): a node's parameter count is
derived from its attributes and its input shape.  Batch size is always 1.

Conventions for the cost figures (the ones the papers use, so zoo tests can compare):
- ``macs``: multiply-accumulates of conv / depthwise / fully-connected nodes.  Element-wise ops,
  pooling, batch-norm and activations count 0 MACs (they are listed separately as ``elem_ops``).
- ``params``: learnable parameters: conv/FC weights + biases, batch-norm scale and shift (2 per
  channel; running statistics are buffers, not parameters, as in torchvision).
- bytes: INT8 activations and weights (``dtype`` int8, 1 byte per element) unless a tensor says
  otherwise; biases are int32 (4 bytes).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Iterator

from rtl.errors import UserError


class IRError(UserError, ValueError):
    """A graph that cannot be built or shape-inferred (the message names the node)."""


class Op(str, Enum):
    INPUT = "input"
    CONV = "conv"                # any k, stride, padding, groups (groups == cin == cout is DWCONV)
    DWCONV = "dwconv"            # depthwise conv
    MAXPOOL = "maxpool"
    AVGPOOL = "avgpool"
    GLOBAL_AVGPOOL = "global_avgpool"
    FC = "fc"                    # fully connected (Gemm / MatMul / Linear)
    RELU = "relu"
    RELU6 = "relu6"
    SIGMOID = "sigmoid"
    SWISH = "swish"
    HSIGMOID = "hsigmoid"
    HSWISH = "hswish"
    BATCHNORM = "batchnorm"
    ADD = "add"
    MUL = "mul"                  # element-wise, incl. channel-wise broadcast (N,C,1,1) * (N,C,H,W)
    CONCAT = "concat"
    SPLIT = "split"
    CHANNEL_SHUFFLE = "channel_shuffle"
    RESHAPE = "reshape"
    FLATTEN = "flatten"
    SOFTMAX = "softmax"
    DROPOUT = "dropout"          # identity at inference; kept so imported graphs stay faithful
    TRANSPOSE = "transpose"      # axis permutation (imported graphs; channel shuffles are recognised)
    LRN = "lrn"                  # local response normalisation across channels (AlexNet, GoogLeNet)

    def __str__(self) -> str:  # "conv", not "Op.CONV"
        return self.value


ACTIVATIONS = frozenset({Op.RELU, Op.RELU6, Op.SIGMOID, Op.SWISH, Op.HSIGMOID, Op.HSWISH})
ELEMENTWISE = frozenset({Op.ADD, Op.MUL}) | ACTIVATIONS | {Op.BATCHNORM}
# Ops that only move or relabel data (no arithmetic).
DATA_MOVEMENT = frozenset({Op.CONCAT, Op.SPLIT, Op.CHANNEL_SHUFFLE, Op.RESHAPE, Op.FLATTEN,
                           Op.DROPOUT, Op.INPUT, Op.TRANSPOSE})

DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float16": 2, "float32": 4}


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...] | None = None   # NCHW for feature maps, (N, F) after flatten
    dtype: str = "int8"

    @property
    def numel(self) -> int:
        if self.shape is None:
            raise IRError(f"tensor {self.name!r} has no shape yet (run infer_shapes)")
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_BYTES[self.dtype]


@dataclass
class Node:
    """One operation.  ``attrs`` keys by op kind:

    conv/dwconv: ``cout``, ``k`` (int or (kh, kw)), ``stride``, ``pad`` ((top, left, bottom, right)
      or int), ``groups``, ``bias`` (bool), ``act`` (fused activation Op or None).
    maxpool/avgpool: ``k``, ``stride``, ``pad``.   global_avgpool: none.
    fc: ``cout``, ``bias``, ``act``.
    batchnorm: none (channels from the input).   activations: none.
    add/mul: none (inputs broadcast NumPy-style).   concat: ``axis`` (default 1).
    split: ``axis``, ``sizes`` (list).   channel_shuffle: ``groups``.
    reshape: ``shape`` (target, -1 and 0 allowed as in ONNX).   flatten: ``axis`` (default 1).
    softmax: ``axis``.   input: ``shape``.   transpose: ``perm``.   lrn: ``size`` (channels summed).
    Free-form annotations (``block``: e.g. "se3", ``stage``) are kept and ignored by the math.
    """

    name: str
    op: Op
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise IRError(f"expected an int or a pair, not {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _pads(v: Any) -> tuple[int, int, int, int]:
    """(top, left, bottom, right)."""
    if v is None:
        return (0, 0, 0, 0)
    if isinstance(v, (tuple, list)):
        if len(v) == 2:
            return (int(v[0]), int(v[1]), int(v[0]), int(v[1]))
        if len(v) == 4:
            return tuple(int(x) for x in v)  # type: ignore[return-value]
        raise IRError(f"padding must be an int, a pair or (top, left, bottom, right), not {v!r}")
    return (int(v),) * 4  # type: ignore[return-value]


def window_out(size: int, k: int, stride: int, pad_lo: int, pad_hi: int, *, ceil: bool = False) -> int:
    span = size + pad_lo + pad_hi - k
    if span < 0:
        raise IRError(f"window {k} does not fit an input of {size} with padding {pad_lo}+{pad_hi}")
    return (-(-span // stride) if ceil else span // stride) + 1


class Graph:
    """Nodes in topological order, plus the tensors they connect.

    Add and drop nodes with ``add`` and ``remove_node(s)`` only: ``node(name)`` reads an index they
    keep.  Rewiring (``node.inputs``) is free.
    """

    def __init__(self, name: str, input_shape: tuple[int, ...], *, input_name: str = "input",
                 dtype: str = "int8"):
        self.name = name
        self.nodes: list[Node] = []
        self.tensors: dict[str, Tensor] = {input_name: Tensor(input_name, tuple(input_shape), dtype)}
        self.inputs: list[str] = [input_name]
        self.outputs: list[str] = []
        self.meta: dict[str, Any] = {}
        self._names: dict[str, Node] = {}     # node name -> node: the nodes of ``nodes``, indexed

    # ---- building -------------------------------------------------------------------------
    def add(self, op: Op | str, inputs: str | Iterable[str], name: str | None = None, *,
            outputs: int | list[str] = 1, **attrs: Any) -> str | list[str]:
        """Append a node; returns its output tensor name (or names, for several outputs)."""
        op = Op(op)
        ins = [inputs] if isinstance(inputs, str) else list(inputs)
        for t in ins:
            if t not in self.tensors:
                raise IRError(f"node {name or op.value!r}: unknown input tensor {t!r}")
        if name is None:
            name = f"{op.value}_{len(self.nodes)}"
        if name in self._names:
            raise IRError(f"duplicate node name {name!r}")
        outs = [f"{name}:{i}" if isinstance(outputs, int) and outputs > 1 else name
                for i in range(outputs)] if isinstance(outputs, int) else list(outputs)
        for t in outs:
            if t in self.tensors:
                raise IRError(f"node {name!r}: tensor {t!r} is produced twice")
            self.tensors[t] = Tensor(t, None, self.tensors[ins[0]].dtype if ins else "int8")
        node = Node(name, op, ins, outs, dict(attrs))
        self.nodes.append(node)
        self._names[name] = node
        self._infer(node)
        return outs[0] if len(outs) == 1 else outs

    def remove_node(self, name: str) -> None:
        """Drop a node and its output tensors (rewire their consumers first, see ``replace_uses``)."""
        self.remove_nodes([name])

    def remove_nodes(self, names: Iterable[str]) -> None:
        """Drop several nodes and their output tensors in one pass over the graph.

        The other nodes keep their order.  No node left (nor a graph output) may read an output of
        a dropped node; dropped nodes may read each other's (a chain goes at once).
        """
        dead = {id(node): node for node in map(self.node, names)}
        if not dead:
            return
        outs = {t for node in dead.values() for t in node.outputs}
        used = outs.intersection(self.outputs)
        for n in self.nodes:
            if not outs.isdisjoint(n.inputs) and id(n) not in dead:
                used.update(outs.intersection(n.inputs))
        for node in dead.values():
            for t in node.outputs:
                if t in used:
                    raise IRError(f"cannot remove node {node.name!r}: its output {t!r} is still used")
        self.nodes[:] = [n for n in self.nodes if id(n) not in dead]
        for node in dead.values():
            del self._names[node.name]
            for t in node.outputs:
                del self.tensors[t]

    def replace_uses(self, old: str, new: str) -> None:
        """Make every consumer of tensor ``old`` (and the graph outputs) read ``new`` instead."""
        if new not in self.tensors:
            raise IRError(f"unknown tensor {new!r}")
        for n in self.nodes:
            if old in n.inputs:
                n.inputs = [new if t == old else t for t in n.inputs]
        if old in self.outputs:
            self.outputs = [new if t == old else t for t in self.outputs]

    def copy(self) -> "Graph":
        """An independent copy (what ``copy.deepcopy`` gives, built field by field: much faster).

        Nodes, tensors and the input/output lists are new objects; attribute and meta values are
        copied recursively (lists, dicts, sets; immutable values are shared, anything else goes
        through ``copy.deepcopy``).
        """
        new = object.__new__(type(self))
        for key, v in self.__dict__.items():
            if key not in ("nodes", "tensors", "_names"):
                new.__dict__[key] = _copy_value(v)
        new.tensors = {k: _copy_record(t) for k, t in self.tensors.items()}
        new.nodes = [_copy_record(n) for n in self.nodes]
        new._names = {n.name: n for n in new.nodes}
        return new

    def set_outputs(self, *names: str) -> None:
        for n in names:
            if n not in self.tensors:
                raise IRError(f"unknown output tensor {n!r}")
        self.outputs = list(names)

    # ---- queries --------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        return self._names[name]

    def shape(self, tensor: str) -> tuple[int, ...]:
        s = self.tensors[tensor].shape
        if s is None:
            raise IRError(f"tensor {tensor!r} has no shape")
        return s

    def producers(self) -> dict[str, Node]:
        return {t: n for n in self.nodes for t in n.outputs}

    def consumers(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {t: [] for t in self.tensors}
        for n in self.nodes:
            for t in n.inputs:
                out[t].append(n)
        return out

    def in_shape(self, node: Node, i: int = 0) -> tuple[int, ...]:
        return self.shape(node.inputs[i])

    def out_shape(self, node: Node, i: int = 0) -> tuple[int, ...]:
        return self.shape(node.outputs[i])

    # ---- shape inference ------------------------------------------------------------------
    def infer_shapes(self) -> None:
        """Recompute every shape from the input (after a pass rewired the graph)."""
        for n in self.nodes:
            for t in n.outputs:
                self.tensors[t].shape = None
        for n in self.nodes:
            self._infer(n)

    def _infer(self, n: Node) -> None:
        try:
            shapes = self._infer_shapes(n)
        except IRError as e:
            msg = str(e)
            raise IRError(msg if msg.startswith(f"node {n.name!r}") else f"node {n.name!r} ({n.op}): {msg}") from None
        for t, s in zip(n.outputs, shapes):
            if any(d <= 0 for d in s):
                raise IRError(f"node {n.name!r} ({n.op}): output shape {s} is empty; "
                              f"the input is too small for this network")
            self.tensors[t].shape = tuple(int(d) for d in s)

    def _infer_shapes(self, n: Node) -> list[tuple[int, ...]]:
        ins = [self.shape(t) for t in n.inputs]
        x = ins[0] if ins else None
        op = n.op
        if op == Op.INPUT:
            return [tuple(n.attrs["shape"])]
        if op in (Op.CONV, Op.DWCONV):
            if len(x) != 4:
                raise IRError(f"expects an NCHW input, got {x}")
            _, cin, h, w = x
            kh, kw = _pair(n.attrs.get("k", 1))
            sh, sw = _pair(n.attrs.get("stride", 1))
            pt, pl, pb, pr = _pads(n.attrs.get("pad", 0))
            if op == Op.DWCONV:
                n.attrs.setdefault("groups", cin)
                n.attrs.setdefault("cout", cin * int(n.attrs.get("multiplier", 1)))
            groups = int(n.attrs.get("groups", 1))
            cout = int(n.attrs["cout"])
            if cin % groups or cout % groups:
                raise IRError(f"channels {cin}->{cout} are not divisible by groups={groups}")
            return [(x[0], cout, window_out(h, kh, sh, pt, pb), window_out(w, kw, sw, pl, pr))]
        if op in (Op.MAXPOOL, Op.AVGPOOL):
            if len(x) != 4:
                raise IRError(f"expects an NCHW input, got {x}")
            kh, kw = _pair(n.attrs["k"])
            sh, sw = _pair(n.attrs.get("stride", n.attrs["k"]))
            pt, pl, pb, pr = _pads(n.attrs.get("pad", 0))
            ceil = bool(n.attrs.get("ceil_mode", False))
            return [(x[0], x[1], window_out(x[2], kh, sh, pt, pb, ceil=ceil),
                     window_out(x[3], kw, sw, pl, pr, ceil=ceil))]
        if op == Op.GLOBAL_AVGPOOL:
            if len(x) != 4:
                raise IRError(f"expects an NCHW input, got {x}")
            return [(x[0], x[1], 1, 1)]
        if op == Op.FC:
            f = math.prod(x[1:])
            n.attrs.setdefault("cin", f)
            if int(n.attrs["cin"]) != f:
                raise IRError(f"expects {n.attrs['cin']} input features, got {f} (shape {x})")
            # keep 4-D (N, C, 1, 1) when fed a 4-D 1x1 map, as SE blocks are
            if len(x) == 4:
                return [(x[0], int(n.attrs["cout"]), 1, 1)]
            return [(x[0], int(n.attrs["cout"]))]
        if op in ACTIVATIONS or op in (Op.BATCHNORM, Op.DROPOUT, Op.SOFTMAX, Op.LRN):
            return [x]
        if op in (Op.ADD, Op.MUL):
            try:
                return [tuple(_broadcast(ins))]
            except ValueError:
                raise IRError(f"inputs {ins} do not broadcast") from None
        if op == Op.CONCAT:
            axis = int(n.attrs.get("axis", 1)) % len(x)
            for s in ins[1:]:
                if len(s) != len(x) or any(a != b for i, (a, b) in enumerate(zip(s, x)) if i != axis):
                    raise IRError(f"cannot concatenate {ins} on axis {axis}")
            out = list(x)
            out[axis] = sum(s[axis] for s in ins)
            return [tuple(out)]
        if op == Op.SPLIT:
            axis = int(n.attrs.get("axis", 1)) % len(x)
            sizes = list(n.attrs.get("sizes") or [x[axis] // len(n.outputs)] * len(n.outputs))
            if sum(sizes) != x[axis] or len(sizes) != len(n.outputs):
                raise IRError(f"split sizes {sizes} do not cover axis {axis} of {x}")
            n.attrs["sizes"] = sizes
            return [tuple(s if i == axis else d for i, d in enumerate(x)) for s in sizes]
        if op == Op.CHANNEL_SHUFFLE:
            g = int(n.attrs["groups"])
            if x[1] % g:
                raise IRError(f"{x[1]} channels do not split into {g} groups")
            return [x]
        if op == Op.TRANSPOSE:
            perm = [int(p) for p in n.attrs["perm"]]
            if sorted(perm) != list(range(len(x))):
                raise IRError(f"perm {perm} is not a permutation of the {len(x)} axes of {x}")
            return [tuple(x[p] for p in perm)]
        if op == Op.FLATTEN:
            axis = int(n.attrs.get("axis", 1))
            return [(math.prod(x[:axis]), math.prod(x[axis:]))]
        if op == Op.RESHAPE:
            target = [int(d) for d in n.attrs["shape"]]
            target = [x[i] if d == 0 else d for i, d in enumerate(target)]
            if target.count(-1) > 1:
                raise IRError(f"reshape target {target} has more than one -1")
            if -1 in target:
                known = math.prod(d for d in target if d != -1)
                if known == 0 or math.prod(x) % known:
                    raise IRError(f"cannot reshape {x} to {target}")
                target[target.index(-1)] = math.prod(x) // known
            if math.prod(target) != math.prod(x):
                raise IRError(f"cannot reshape {x} ({math.prod(x)} elements) to {target}")
            return [tuple(target)]
        raise IRError(f"no shape rule for op {op}")

    # ---- costs ----------------------------------------------------------------------------
    def macs(self, n: Node) -> int:
        if n.op in (Op.CONV, Op.DWCONV):
            kh, kw = _pair(n.attrs.get("k", 1))
            cin = self.in_shape(n)[1]
            out = self.out_shape(n)
            return out[1] * out[2] * out[3] * (cin // int(n.attrs.get("groups", 1))) * kh * kw
        if n.op == Op.FC:
            return int(n.attrs["cin"]) * int(n.attrs["cout"])
        return 0

    def params(self, n: Node) -> int:
        if n.op in (Op.CONV, Op.DWCONV):
            kh, kw = _pair(n.attrs.get("k", 1))
            cin = self.in_shape(n)[1]
            cout = int(n.attrs["cout"])
            return cout * (cin // int(n.attrs.get("groups", 1))) * kh * kw + (cout if n.attrs.get("bias") else 0)
        if n.op == Op.FC:
            return int(n.attrs["cin"]) * int(n.attrs["cout"]) + (int(n.attrs["cout"]) if n.attrs.get("bias", True) else 0)
        if n.op == Op.BATCHNORM:
            return 2 * self.in_shape(n)[1]
        return 0

    def weight_bytes(self, n: Node) -> int:
        """INT8 weights plus INT32 biases (one bias per output channel once batch-norm is folded)."""
        if n.op in (Op.CONV, Op.DWCONV, Op.FC):
            cout = int(n.attrs["cout"])
            w = self.params(n) - (cout if n.attrs.get("bias", n.op == Op.FC) else 0)
            return w + 4 * cout
        if n.op == Op.BATCHNORM:
            return 8 * self.in_shape(n)[1]
        return 0

    def elem_ops(self, n: Node) -> int:
        """Non-MAC arithmetic: one per output element for element-wise ops, per window tap for pools."""
        if n.op in ELEMENTWISE:
            return self.tensors[n.outputs[0]].numel
        if n.op in (Op.MAXPOOL, Op.AVGPOOL):
            kh, kw = _pair(n.attrs["k"])
            return self.tensors[n.outputs[0]].numel * kh * kw
        if n.op == Op.GLOBAL_AVGPOOL:
            return self.tensors[n.inputs[0]].numel
        if n.op == Op.SOFTMAX:
            return 3 * self.tensors[n.outputs[0]].numel
        if n.op == Op.LRN:   # a sum of ``size`` squares per element, then one power and one divide
            return self.tensors[n.outputs[0]].numel * (int(n.attrs.get("size", 5)) + 2)
        return 0

    def in_bytes(self, n: Node) -> int:
        return sum(self.tensors[t].nbytes for t in n.inputs)

    def out_bytes(self, n: Node) -> int:
        return sum(self.tensors[t].nbytes for t in n.outputs)

    def total_macs(self) -> int:
        return sum(self.macs(n) for n in self.nodes)

    def total_params(self) -> int:
        return sum(self.params(n) for n in self.nodes)

    def validate(self) -> None:
        """Check topological order, single producers and that outputs exist."""
        seen = set(self.inputs)
        for n in self.nodes:
            for t in n.inputs:
                if t not in seen:
                    raise IRError(f"node {n.name!r} reads {t!r} before it is produced")
            seen.update(n.outputs)
        for t in self.outputs:
            if t not in seen:
                raise IRError(f"graph output {t!r} is never produced")

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "input_shape": list(self.shape(self.inputs[0])),
                "nodes": len(self.nodes), "macs": self.total_macs(), "params": self.total_params()}


_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None), range, Op})
_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), range, Enum)


def _copy_value(v: Any) -> Any:
    """``copy.deepcopy(v)`` for attribute values, fast for the plain ones: immutable values are
    shared, lists, dicts, tuples and sets copied element by element, anything else deep-copied."""
    t = type(v)
    if t in _ATOMS:
        return v
    if t is list:
        return [x if type(x) in _ATOMS else _copy_value(x) for x in v]
    if t is dict:
        return {k: x if type(x) in _ATOMS else _copy_value(x) for k, x in v.items()}
    if t is tuple:
        if all(type(x) in _ATOMS for x in v):
            return v
        c = tuple(_copy_value(x) for x in v)
        return v if all(a is b for a, b in zip(c, v)) else c
    if t is set:
        return {_copy_value(x) for x in v}
    if isinstance(v, _IMMUTABLE):
        return v
    return copy.deepcopy(v)


def _copy_record(r: Any) -> Any:
    """A copy of a ``Node`` or ``Tensor`` (each field copied with ``_copy_value``)."""
    c = object.__new__(type(r))
    d = r.__dict__.copy()
    for k, v in d.items():
        if type(v) not in _ATOMS:
            d[k] = _copy_value(v)
    c.__dict__ = d
    return c


def _broadcast(shapes: list[tuple[int, ...]]) -> list[int]:
    nd = max(len(s) for s in shapes)
    out = []
    for i in range(nd):
        dims = {s[len(s) - nd + i] for s in shapes if len(s) - nd + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ValueError
        out.append(dims.pop() if dims else 1)
    return out


def kernel_size(n: Node) -> tuple[int, int]:
    return _pair(n.attrs.get("k", 1))


def strides(n: Node) -> tuple[int, int]:
    return _pair(n.attrs.get("stride", n.attrs.get("k", 1) if n.op in (Op.MAXPOOL, Op.AVGPOOL) else 1))


def pads(n: Node) -> tuple[int, int, int, int]:
    return _pads(n.attrs.get("pad", 0))
