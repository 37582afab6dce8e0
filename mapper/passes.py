"""Graph passes and analyses over ``mapper.ir.Graph`` (the qonnx/FINN shape).

A pass is one function ``pass_(g) -> bool`` that rewrites ``g`` in place and says whether it
changed anything; ``prepare`` copies the graph and repeats the standard pipeline until nothing
changes.  Analyses (``find_se_blocks``) only read the graph.  Every pass keeps the graph valid
(topological order, shapes) and never changes the MACs of conv/dwconv/fc nodes.

Each pass is a local rewrite (``_fold_batchnorm(g, node, links)`` ...) swept over the nodes of the
kinds it can rewrite until nothing changes.  The rewrites only remove nodes, rewire readers to a
tensor of the same shape and relabel a node without changing its output shape, so no tensor ever
changes shape; and they keep the producer/reader links (``_Links``) up to date themselves, so a
whole pipeline costs time linear in the graph's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from .ir import ACTIVATIONS, Graph, IRError, Node, Op, kernel_size, pads

GATES = frozenset({Op.SIGMOID, Op.HSIGMOID})
# What the default PL accelerator fuses (hwsim/data/accels/*.toml ``pl_fused``): batch-norm by
# folding into the producing conv, these activations into its post-processing stage.  Sigmoid /
# hard-sigmoid (the SE gates) are not in it: SE internals run on the PS.
DEFAULT_FUSABLE = frozenset({Op.BATCHNORM, Op.RELU, Op.RELU6, Op.SWISH, Op.HSWISH})
# Producers whose output stage can apply an activation.
FUSE_INTO = frozenset({Op.CONV, Op.DWCONV, Op.FC, Op.MAXPOOL, Op.AVGPOOL, Op.GLOBAL_AVGPOOL, Op.ADD})
_WEIGHTED = (Op.CONV, Op.DWCONV, Op.FC)
_RESHAPES = (Op.RESHAPE, Op.FLATTEN)


def op_kinds(kinds: Iterable[Op | str]) -> frozenset[Op]:
    """Op kinds from names as accelerator files list them ("relu", "batchnorm", ...)."""
    out = set()
    for k in kinds:
        try:
            out.add(Op(k))
        except ValueError:
            raise IRError(f"unknown op kind {k!r} (known: {', '.join(o.value for o in Op)})") from None
    return frozenset(out)


class _Links:
    """Who produces and who reads each tensor, kept up to date as the rewrites change the wiring.

    A rewrite changes the graph's wiring only through ``set_inputs``, ``bypass`` and ``remove`` (it
    may change a node's op and attrs directly).  Removed nodes leave ``alive`` at once and
    ``g.nodes`` (with their output tensors) at the end of the sweep, all in one pass (``flush``).
    """

    def __init__(self, g: Graph):
        self.g = g
        self.producers = g.producers()
        self.readers: dict[str, list[Node]] = {}
        for n in g.nodes:
            for t in n.inputs:
                self.readers.setdefault(t, []).append(n)
        self.alive = {id(n) for n in g.nodes}
        self.dead: list[Node] = []

    def producer(self, tensor: str) -> Node | None:
        return self.producers.get(tensor)

    def only_reader(self, tensor: str) -> Node | None:
        """The single node reading ``tensor``, if exactly one does and it is not a graph output."""
        users = self.readers.get(tensor, [])
        return users[0] if len(users) == 1 and tensor not in self.g.outputs else None

    def _detach(self, node: Node) -> None:
        for t in dict.fromkeys(node.inputs):
            self.readers[t] = [r for r in self.readers[t] if r is not node]

    def set_inputs(self, node: Node, inputs: list[str]) -> None:
        """Make ``node`` read ``inputs``."""
        self._detach(node)
        node.inputs = inputs
        for t in inputs:
            self.readers.setdefault(t, []).append(node)

    def remove(self, node: Node) -> None:
        """Remove ``node`` (nothing may read its outputs by the end of the sweep)."""
        self._detach(node)
        for t in node.outputs:
            del self.producers[t]
        self.alive.discard(id(node))
        self.dead.append(node)

    def bypass(self, node: Node, source: str) -> None:
        """Remove ``node``, making its readers (and the graph outputs) read ``source`` instead of its output."""
        old = node.outputs[0]
        if source not in self.g.tensors:
            raise IRError(f"unknown tensor {source!r}")
        for r in {id(r): r for r in self.readers.get(old, ())}.values():   # each reader once
            self.set_inputs(r, [source if t == old else t for t in r.inputs])
        if old in self.g.outputs:
            self.g.outputs = [source if t == old else t for t in self.g.outputs]
        self.remove(node)

    def flush(self) -> None:
        """Drop the removed nodes from the graph."""
        if self.dead:
            dead, self.dead = self.dead, []
            self.g.remove_nodes(n.name for n in dead)


_Rewrite = Callable[[Graph, Node, _Links], bool]   # (graph, node, links) -> whether it rewrote


def _sweep(g: Graph, links: _Links, rewrite: _Rewrite, ops: frozenset[Op]) -> bool:
    """Sweep ``rewrite(g, node, links)`` over the live nodes of kind ``ops`` (the only ones it can
    rewrite) until a sweep changes nothing; whether any did.

    A rewrite changes only its own node's op, so the candidates can be picked as a sweep starts.
    """
    changed = False
    while True:
        swept = False
        for n in [n for n in g.nodes if n.op in ops]:
            if id(n) in links.alive and rewrite(g, n, links):
                swept = True
        links.flush()
        if not swept:
            return changed
        changed = True


def _rewrite_each(g: Graph, rewrite: _Rewrite, ops: frozenset[Op]) -> bool:
    """Run one rewrite to a fixed point, then check the graph and recompute its shapes."""
    links = _Links(g)
    try:
        changed = _sweep(g, links, rewrite, ops)
    finally:
        links.flush()
    if changed:
        g.validate()
        g.infer_shapes()
    return changed


# ---- passes ---------------------------------------------------------------------------------
_FOLD_BATCHNORM_OPS = frozenset({Op.BATCHNORM})


def _fold_batchnorm(g: Graph, bn: Node, links: _Links) -> bool:
    if bn.op != Op.BATCHNORM:
        return False
    prod = links.producer(bn.inputs[0])
    if prod is None or links.only_reader(bn.inputs[0]) is not bn:
        return False
    if prod.op in _WEIGHTED and prod.attrs.get("act") is None:
        prod.attrs["bias"] = True
    elif prod.op != Op.BATCHNORM:     # two per-channel affines compose into one
        return False
    links.bypass(bn, prod.outputs[0])
    return True


def fold_batchnorm(g: Graph) -> bool:
    """Fold a batch-norm into the conv/dwconv/fc (gaining a bias) or batch-norm feeding it alone."""
    return _rewrite_each(g, _fold_batchnorm, _FOLD_BATCHNORM_OPS)


def _fuse_activation(acts: frozenset[Op]) -> _Rewrite:
    def fuse(g: Graph, act: Node, links: _Links) -> bool:
        if act.op not in acts:
            return False
        prod = links.producer(act.inputs[0])
        if (prod is None or prod.op not in FUSE_INTO or prod.attrs.get("act") is not None
                or links.only_reader(act.inputs[0]) is not act):
            return False
        prod.attrs["act"] = act.op
        links.bypass(act, prod.outputs[0])
        return True
    return fuse


def fuse_activations(g: Graph, fusable: Iterable[Op | str]) -> bool:
    """Move an activation in ``fusable`` into its producer's ``attrs["act"]`` (conv/dwconv/fc/pool/add)."""
    acts = op_kinds(fusable) & ACTIVATIONS
    return _rewrite_each(g, _fuse_activation(acts), acts)


_SWISH_OPS = frozenset({Op.MUL})


def _swish(g: Graph, mul: Node, links: _Links) -> bool:
    if mul.op != Op.MUL or len(mul.inputs) != 2:
        return False
    for i in (0, 1):
        x, s = mul.inputs[1 - i], mul.inputs[i]
        gate = links.producer(s)
        if (gate is not None and gate.op in GATES and gate.inputs[0] == x
                and links.only_reader(s) is mul and g.shape(x) == g.shape(mul.outputs[0])):
            mul.op = Op.SWISH if gate.op == Op.SIGMOID else Op.HSWISH
            links.set_inputs(mul, [x])
            links.remove(gate)
            return True
    return False


def recognise_swish(g: Graph) -> bool:
    """``x * sigmoid(x)`` -> swish and ``x * hsigmoid(x)`` -> hswish (the mul node becomes the activation)."""
    return _rewrite_each(g, _swish, _SWISH_OPS)


def _affine(n: Node | None, kind: str, value: float) -> bool:
    """A scalar affine node (imported ``x + c`` / ``x * c``) with the given constant."""
    return (n is not None and n.op == Op.BATCHNORM and n.attrs.get("affine") == kind
            and n.attrs.get("value") is not None and abs(float(n.attrs["value"]) - value) < 1e-4)


_HARD_ACTIVATION_OPS = frozenset({Op.BATCHNORM})


def _hard_activation(g: Graph, scale: Node, links: _Links) -> bool:
    if not _affine(scale, "scale", 1 / 6):
        return False
    mid = links.producer(scale.inputs[0])
    if mid is None or links.only_reader(mid.outputs[0]) is not scale:
        return False
    x, dead = None, [mid]
    if mid.op == Op.RELU6:                                   # relu6(x + 3) / 6
        shift = links.producer(mid.inputs[0])
        if _affine(shift, "shift", 3.0) and links.only_reader(shift.outputs[0]) is mid:
            x, kind, dead = shift.inputs[0], Op.HSIGMOID, [mid, shift]
    elif mid.op == Op.MUL and len(mid.inputs) == 2:          # (x * relu6(x + 3)) / 6
        for i in (0, 1):
            r = links.producer(mid.inputs[i])
            shift = links.producer(r.inputs[0]) if r is not None and r.op == Op.RELU6 else None
            if (_affine(shift, "shift", 3.0) and shift.inputs[0] == mid.inputs[1 - i]
                    and links.only_reader(r.outputs[0]) is mid and links.only_reader(shift.outputs[0]) is r):
                x, kind, dead = mid.inputs[1 - i], Op.HSWISH, [mid, r, shift]
                break
    if x is None:
        return False
    scale.op, scale.attrs = kind, {}
    links.set_inputs(scale, [x])
    for n in dead:
        links.remove(n)
    return True


def recognise_hard_activations(g: Graph) -> bool:
    """``relu6(x + 3) / 6`` -> hsigmoid and ``x * relu6(x + 3) / 6`` -> hswish (hand-written MobileNetV3s).

    The scalar add / divide are the imported affine nodes (``attrs["affine"]``, ``attrs["value"]``).
    """
    return _rewrite_each(g, _hard_activation, _HARD_ACTIVATION_OPS)


_GLOBAL_POOL_OPS = frozenset({Op.AVGPOOL})


def _global_pool(g: Graph, n: Node, links: _Links) -> bool:
    if n.op != Op.AVGPOOL or any(pads(n)):
        return False
    h, w = g.in_shape(n)[2:]
    if kernel_size(n) != (h, w):
        return False
    n.op = Op.GLOBAL_AVGPOOL
    for key in ("k", "stride", "pad", "ceil_mode", "count_include_pad"):
        n.attrs.pop(key, None)
    return True


_CHANNEL_SHUFFLE_OPS = frozenset(_RESHAPES)


def _channel_shuffle(g: Graph, r2: Node, links: _Links) -> bool:
    if r2.op not in _RESHAPES:
        return False
    t = links.producer(r2.inputs[0])
    if t is None or t.op != Op.TRANSPOSE or links.only_reader(t.outputs[0]) is not r2:
        return False
    r1 = links.producer(t.inputs[0])
    if r1 is None or r1.op != Op.RESHAPE or links.only_reader(r1.outputs[0]) is not t:
        return False
    x = r1.inputs[0]
    xs, split = g.shape(x), g.shape(r1.outputs[0])
    perm = [int(p) for p in t.attrs["perm"]]
    if (len(xs) != 4 or len(split) < 4 or perm != [0, 2, 1, *range(3, len(split))]
            or split[0] != xs[0] or split[1] * split[2] != xs[1]
            or g.shape(r2.outputs[0]) != xs):
        return False
    r2.op, r2.attrs = Op.CHANNEL_SHUFFLE, {"groups": split[1]}
    links.set_inputs(r2, [x])
    links.remove(t)
    links.remove(r1)
    return True


def recognise_channel_shuffle(g: Graph) -> bool:
    """Reshape (N,C,H,W)->(N,g,C/g,...) -> Transpose(0,2,1,...) -> Reshape back -> channel_shuffle(g)."""
    return _rewrite_each(g, _channel_shuffle, _CHANNEL_SHUFFLE_OPS)


_IDENTITY_OPS = frozenset({Op.DROPOUT, *_RESHAPES, Op.CONCAT, Op.TRANSPOSE})


def _identity(g: Graph, n: Node, links: _Links) -> bool:
    if len(n.outputs) != 1 or not n.inputs:
        return False
    same = g.shape(n.inputs[0]) == g.shape(n.outputs[0])
    if (n.op == Op.DROPOUT or (n.op in _RESHAPES and same) or (n.op == Op.CONCAT and len(n.inputs) == 1)
            or (n.op == Op.TRANSPOSE and list(n.attrs["perm"]) == sorted(n.attrs["perm"]))):
        links.bypass(n, n.inputs[0])
        return True
    first = links.producer(n.inputs[0])
    if n.op in _RESHAPES and first is not None and first.op in _RESHAPES \
            and links.only_reader(first.outputs[0]) is n:
        n.op, n.attrs = Op.RESHAPE, {"shape": list(g.shape(n.outputs[0]))}
        links.set_inputs(n, [first.inputs[0]])
        links.remove(first)
        return True
    return False


def remove_identities(g: Graph) -> bool:
    """Drop dropouts, shape-preserving reshapes/flattens/transposes, one-input concats; merge reshape chains."""
    return _rewrite_each(g, _identity, _IDENTITY_OPS)


# ---- analyses -------------------------------------------------------------------------------
@dataclass
class SEBlock:
    """A squeeze-and-excitation block: pool -> reduce -> act -> expand -> gate -> mul(input, gate)."""

    index: int
    pool: str
    reduce: str
    act: str | None        # None when fused into ``reduce`` (attrs["act"])
    expand: str
    gate: str | None       # None when fused into ``expand`` (attrs["act"])
    mul: str
    input: str             # the feature map the block scales
    channels: int
    nodes: list[str] = field(default_factory=list)   # every node of the block, in graph order


def is_conv_as_fc(g: Graph, n: Node) -> bool:
    """A 1x1 ungrouped conv applied to a 1x1 feature map: it computes exactly what an fc does
    (SE excitations are often built this way; the partitioner treats it as an fc)."""
    return (n.op == Op.CONV and kernel_size(n) == (1, 1) and int(n.attrs.get("groups", 1)) == 1
            and g.in_shape(n)[2:] == (1, 1))


def is_depthwise(g: Graph, n: Node) -> bool:
    """One filter per channel (groups == cin == cout > 1), however the node was built or imported:
    what the PL's depthwise engine runs.  A DWCONV with a channel multiplier is not one."""
    if n.op not in (Op.CONV, Op.DWCONV):
        return False
    cin = g.in_shape(n)[1]
    return cin > 1 and int(n.attrs.get("groups", 1)) == cin == int(n.attrs["cout"])


def _is_pointwise(g: Graph, n: Node | None) -> bool:
    """An fc, or a conv that is one (the two ways SE excitations are built)."""
    return n is not None and (n.op == Op.FC or is_conv_as_fc(g, n))


def _skip_reshapes(n: Node | None, producers: dict[str, Node], chain: list[Node]) -> Node | None:
    while n is not None and n.op in _RESHAPES:
        chain.append(n)
        n = producers.get(n.inputs[0])
    return n


def _match_se(g: Graph, mul: Node, gate_in: str, feat: str, producers: dict[str, Node]) -> list | None:
    """Trace the excitation branch back from the mul's gate input; None unless it is an SE block."""
    shape = g.shape(feat)
    if len(shape) != 4 or g.shape(mul.outputs[0]) != shape:
        return None
    chain: list[Node] = [mul]
    n = _skip_reshapes(producers.get(gate_in), producers, chain)
    gate = None
    if n is not None and n.op in GATES:
        gate, n = n, producers.get(n.inputs[0])
        chain.append(gate)
    expand = n
    if not _is_pointwise(g, expand) or (expand.attrs.get("act") in GATES) == (gate is not None):
        return None
    if int(expand.attrs["cout"]) != shape[1]:
        return None
    n = producers.get(expand.inputs[0])
    act = None
    if n is not None and n.op in ACTIVATIONS:
        act, n = n, producers.get(n.inputs[0])
        chain.append(act)
    reduce = n
    if not _is_pointwise(g, reduce) or (reduce.attrs.get("act") in ACTIVATIONS) == (act is not None):
        return None
    pool = _skip_reshapes(producers.get(reduce.inputs[0]), producers, chain)
    if pool is None or pool.inputs[0] != feat:
        return None
    if pool.op == Op.AVGPOOL:   # an average pool over the whole map, not yet canonicalised
        if any(pads(pool)) or kernel_size(pool) != shape[2:]:
            return None
    elif pool.op != Op.GLOBAL_AVGPOOL:
        return None
    chain += [expand, reduce, pool]
    return [pool, reduce, act, expand, gate, chain]


def find_se_blocks(g: Graph) -> list[SEBlock]:
    """Every squeeze-and-excitation block, however it was built or imported, before or after fusion."""
    producers = g.producers()
    order = {n.name: i for i, n in enumerate(g.nodes)}
    blocks: list[SEBlock] = []
    for mul in g.nodes:
        if mul.op != Op.MUL or len(mul.inputs) != 2:
            continue
        for gi in (0, 1):
            m = _match_se(g, mul, mul.inputs[gi], mul.inputs[1 - gi], producers)
            if m is None:
                continue
            pool, reduce, act, expand, gate, chain = m
            blocks.append(SEBlock(
                index=len(blocks), pool=pool.name, reduce=reduce.name, act=act and act.name,
                expand=expand.name, gate=gate and gate.name, mul=mul.name, input=mul.inputs[1 - gi],
                channels=g.shape(mul.inputs[1 - gi])[1],
                nodes=sorted((n.name for n in chain), key=order.__getitem__)))
            break
    return blocks


# ---- pipeline -------------------------------------------------------------------------------
def prepare(g: Graph, fusable: Iterable[Op | str] = DEFAULT_FUSABLE) -> Graph:
    """A copy of ``g`` after the standard pipeline, repeated to a fixed point.

    Identities are dropped, ``relu6(x+3)/6`` and ``x*sigmoid(x)`` become hsigmoid and swish, whole-map average pools become global
    ones, channel shuffles are recognised; then batch-norm is folded (if "batchnorm" is in
    ``fusable``) and the activations in ``fusable`` are fused into their producers.

    The same as running the passes one after the other until none changes anything, but the
    producer/reader links are kept across passes and the graph is checked and its shapes
    recomputed once, at the end (no pass changes a shape, see the module doc).
    """
    kinds = op_kinds(fusable)
    g = g.copy()
    pipeline: list[tuple[_Rewrite, frozenset[Op]]] = [
        (_identity, _IDENTITY_OPS), (_hard_activation, _HARD_ACTIVATION_OPS), (_swish, _SWISH_OPS),
        (_global_pool, _GLOBAL_POOL_OPS), (_channel_shuffle, _CHANNEL_SHUFFLE_OPS)]
    if Op.BATCHNORM in kinds:
        pipeline.append((_fold_batchnorm, _FOLD_BATCHNORM_OPS))
    acts = kinds & ACTIVATIONS
    pipeline.append((_fuse_activation(acts), acts))
    links = _Links(g)
    for _ in range(100):
        changed = False
        for rewrite, ops in pipeline:
            changed |= _sweep(g, links, rewrite, ops)
        if not changed:
            break
    else:
        raise IRError(f"graph {g.name!r}: passes did not reach a fixed point")
    g.validate()
    g.infer_shapes()
    return g
