"""Data movement: Reshape (with frozen channel-shuffle targets re-derived), Flatten, Squeeze,
Unsqueeze, Transpose, Split (every form), Slice (every form; ``torch.chunk``'s sibling Slices
become one split) and SplitToSequence / SequenceAt."""

from __future__ import annotations

from typing import Any

import onnx

from ..ir import Op
from .core import Importer, handles


def _only_consumer(imp: Importer, name: str, op_type: str) -> onnx.NodeProto | None:
    users = imp.consumers.get(name, [])
    return users[0] if len(users) == 1 and users[0].op_type == op_type else None


def _unfreeze(imp: Importer, node: onnx.NodeProto, xs: tuple[int, ...], target: list[int]) -> list[int]:
    """A channel shuffle traced at a fixed size, (N, C, H, W) -> (1, g, C/g, h, w) -> transpose(1, 2)
    -> (1, -1, h, w), keeps its export-time h, w: re-derive both reshapes' targets from the map."""
    if node.input[0] in imp.shuffle_tails and len(target) == 4 and len(xs) == 5:
        return [xs[0], -1, xs[3], xs[4]]
    if len(xs) != 4 or len(target) != 5:
        return target
    g, cg = target[1], target[2]
    if g == -1 and cg > 0 and xs[1] % cg == 0:          # view(n, -1, c // g, h, w)
        g = xs[1] // cg
    elif cg == -1 and g > 0 and xs[1] % g == 0:         # view(n, g, -1, h, w)
        cg = xs[1] // g
    if g <= 0 or cg <= 0 or g * cg != xs[1]:
        return target
    t = _only_consumer(imp, node.output[0], "Transpose")
    if t is None:
        return target
    perm = [int(p) for p in next((onnx.helper.get_attribute_value(at) for at in t.attribute if at.name == "perm"), [])]
    if perm != [0, 2, 1, 3, 4] or _only_consumer(imp, t.output[0], "Reshape") is None:
        return target
    imp.shuffle_tails.add(t.output[0])
    return [xs[0], g, cg, xs[2], xs[3]]


@handles("Reshape")
def reshape(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    target = a.get("shape") if imp.opset < 5 else imp.const_in(node, 1).tolist()
    target = [int(d) for d in target]
    if a.get("allowzero") and 0 in target:
        raise imp.at(node, "Reshape with allowzero=1 and a zero dimension is not supported")
    target = _unfreeze(imp, node, imp.shape(x), target)
    imp.rt[node.output[0]] = imp.emit(node, Op.RESHAPE, [x], shape=target)


@handles("Flatten")
def flatten(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    axis = int(a.get("axis", 1)) % (len(imp.shape(x)) + 1)
    imp.rt[node.output[0]] = imp.emit(node, Op.FLATTEN, [x], axis=axis)


def _squeeze(imp: Importer, node: onnx.NodeProto, a: dict[str, Any], unsqueeze: bool) -> None:
    x = imp.runtime(node, node.input[0])
    shape = list(imp.shape(x))
    axes = a.get("axes")
    if len(node.input) > 1 and node.input[1]:
        axes = imp.const_in(node, 1).tolist()
    if unsqueeze:
        rank = len(shape) + len(axes)
        out = iter(shape)
        norm = {int(v) % rank for v in axes}
        shape = [1 if i in norm else next(out) for i in range(rank)]
    else:
        norm = {int(v) % len(shape) for v in axes} if axes else {i for i, d in enumerate(shape) if d == 1}
        if any(shape[i] != 1 for i in norm):
            raise imp.at(node, f"Squeeze of non-unit axes {sorted(norm)} of {tuple(shape)}")
        shape = [d for i, d in enumerate(shape) if i not in norm]
    imp.rt[node.output[0]] = imp.emit(node, Op.RESHAPE, [x], shape=shape)


@handles("Squeeze")
def squeeze(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    _squeeze(imp, node, a, False)


@handles("Unsqueeze")
def unsqueeze(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    _squeeze(imp, node, a, True)


@handles("Transpose")
def transpose(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    if node.output[0] == imp.nhwc:
        imp.rt[node.output[0]] = imp.g.inputs[0]
        return
    x = imp.runtime(node, node.input[0])
    perm = a.get("perm") or list(reversed(range(len(imp.shape(x)))))
    imp.rt[node.output[0]] = imp.emit(node, Op.TRANSPOSE, [x], perm=[int(p) for p in perm])


def _bind(imp: Importer, names: list[str], outs: str | list[str]) -> None:
    for o, t in zip(names, [outs] if isinstance(outs, str) else outs):
        if o:
            imp.rt[o] = t


def _equal_parts(total: int, n: int) -> list[int]:
    """Opset 18's num_outputs (and an absent split): equal parts, the last one smaller if need be."""
    part = -(-total // n)
    sizes = [part] * (n - 1) + [total - part * (n - 1)]
    if sizes[-1] <= 0:
        raise ValueError(f"{total} cannot be split into {n} parts")
    return sizes


@handles("Split")
def split(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    shape = imp.shape(x)
    axis = int(a.get("axis", 0)) % len(shape)
    sizes = a.get("split")
    if len(node.input) > 1 and node.input[1]:
        sizes = imp.const_in(node, 1).tolist()
    n = len(node.output)
    if "num_outputs" in a and int(a["num_outputs"]) != n:
        raise imp.at(node, f"num_outputs={a['num_outputs']} but the node has {n} outputs")
    if not sizes:
        sizes = _equal_parts(shape[axis], n)
    if len(sizes) != n:
        raise imp.at(node, f"{len(sizes)} split sizes {list(sizes)} for {n} outputs")
    outs = imp.emit(node, Op.SPLIT, [x], outputs=n, axis=axis, sizes=[int(s) for s in sizes])
    _bind(imp, list(node.output), outs)


def _slice_spec(imp: Importer, node: onnx.NodeProto) -> list[tuple[int, int, int, int]] | None:
    """(axis, start, end, step) per sliced axis, normalised as ONNX defines (negative indices from
    the end, clamped to the axis); ``None`` when a bound is not a constant."""
    a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
    shape = imp.shape(imp.rt[node.input[0]])
    if imp.opset < 10:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    else:
        ins = list(node.input) + [""] * (5 - len(node.input))
        if not all(imp.resolve(i) for i in ins[1:5] if i):
            return None
        starts, ends = imp.const(ins[1]).tolist(), imp.const(ins[2]).tolist()
        axes = imp.const(ins[3]).tolist() if ins[3] else None
        steps = imp.const(ins[4]).tolist() if ins[4] else None
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise imp.at(node, f"Slice starts {starts}, ends {ends}, axes {axes}, steps {steps} differ in length")
    out = []
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = int(ax) % len(shape)
        dim = shape[ax]
        if st == 0:
            raise imp.at(node, "Slice with step 0")
        s, e = int(s) + dim if s < 0 else int(s), int(e) + dim if e < 0 else int(e)
        lo, hi = (0, dim) if st > 0 else (-1, dim - 1)
        s, e = min(max(s, lo), hi), min(max(e, lo), hi)
        out.append((ax, s, e, int(st)))
    return out


def _contiguous(imp: Importer, node: onnx.NodeProto, spec) -> tuple[int, int, int] | None:
    """The one axis a Slice cuts and its [start, end); ``None`` for no cut (the whole tensor)."""
    shape = imp.shape(imp.rt[node.input[0]])
    cuts = [(ax, s, e, st) for ax, s, e, st in spec if not (st == 1 and s == 0 and e == shape[ax])]
    if not cuts:
        return None
    if len({c[0] for c in cuts}) != len(cuts) or len(cuts) > 1:
        raise imp.at(node, f"a Slice of a feature map along {len(cuts)} axes is not supported (one axis)")
    ax, s, e, st = cuts[0]
    if st != 1:
        raise imp.at(node, f"a Slice with step {st} of a feature map is not supported (only contiguous slices)")
    if e <= s:
        raise imp.at(node, f"an empty Slice [{s}:{e}] of axis {ax} (size {shape[ax]})")
    return ax, s, e


@handles("Slice")
def slice_(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    spec = _slice_spec(imp, node)
    if spec is None:
        raise imp.at(node, "Slice bounds computed at run time are not supported")
    cut = _contiguous(imp, node, spec)
    if cut is None:
        imp.rt[node.output[0]] = x
        return
    ax, s, e = cut
    dim = imp.shape(x)[ax]
    # torch.chunk / split exported as sibling Slices that tile the axis: one split, as the zoo builds it
    sibs = []
    for n in imp.consumers.get(node.input[0], []):
        if n.op_type != "Slice" or id(n) in imp.done or n.input[0] != node.input[0]:
            continue
        sp = _slice_spec(imp, n) if n is not node else spec
        c = None if sp is None else _contiguous(imp, n, sp)
        if c is not None and c[0] == ax:
            sibs.append((c[1], c[2], n))
    sibs.sort(key=lambda t: t[0])
    if len(sibs) > 1 and sibs[0][0] == 0 and sibs[-1][1] == dim and all(
            p[1] == q[0] for p, q in zip(sibs, sibs[1:])):
        outs = imp.emit(node, Op.SPLIT, [x], outputs=len(sibs), axis=ax, sizes=[e - s for s, e, _ in sibs])
        for (_, _, n), o in zip(sibs, outs):
            imp.rt[n.output[0]] = o
            imp.done.add(id(n))
        return
    parts = [(0, s), (s, e), (e, dim)]
    sizes = [q - p for p, q in parts if q > p]
    outs = imp.emit(node, Op.SPLIT, [x], outputs=len(sizes), axis=ax, sizes=sizes)
    imp.rt[node.output[0]] = outs[1 if s > 0 else 0]


@handles("SplitToSequence")
def split_to_sequence(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    x = imp.runtime(node, node.input[0])
    shape = imp.shape(x)
    axis = int(a.get("axis", 0)) % len(shape)
    if len(node.input) > 1 and node.input[1]:
        split = imp.const_in(node, 1)
        if split.ndim == 0:
            step = int(split)
            sizes = [step] * (shape[axis] // step) + ([shape[axis] % step] if shape[axis] % step else [])
        else:
            sizes = [int(v) for v in split.tolist()]
    elif a.get("keepdims", 1):
        sizes = [1] * shape[axis]
    else:
        raise imp.at(node, "SplitToSequence with keepdims=0 is not supported")
    outs = imp.emit(node, Op.SPLIT, [x], outputs=len(sizes), axis=axis, sizes=sizes)
    imp.seqs[node.output[0]] = [outs] if isinstance(outs, str) else list(outs)


@handles("SequenceAt")
def sequence_at(imp: Importer, node: onnx.NodeProto, a: dict[str, Any]) -> None:
    if node.input[0] not in imp.seqs:
        raise imp.at(node, f"input {node.input[0]!r} is not a sequence of feature maps")
    seq = imp.seqs[node.input[0]]
    i = int(imp.const_in(node, 1))
    if not -len(seq) <= i < len(seq):
        raise imp.at(node, f"position {i} of a sequence of {len(seq)}")
    imp.rt[node.output[0]] = seq[i]
