"""Graph passes on hand-built IR graphs (built the way the zoo builds them) and on zoo models."""

from __future__ import annotations

import copy
from collections import Counter

import pytest

from mapper import passes
from mapper.ir import Graph, IRError, Op
from mapper.passes import (DEFAULT_FUSABLE, find_se_blocks, fold_batchnorm, fuse_activations, prepare,
                           recognise_channel_shuffle, recognise_swish, remove_identities)


def kinds(g: Graph) -> dict[Op, int]:
    out: dict[Op, int] = {}
    for n in g:
        out[n.op] = out.get(n.op, 0) + 1
    return out


def inverted_residual(c: int = 16, expand: int = 6) -> Graph:
    """MobileNetV2 block: 1x1 expand -> BN -> ReLU6 -> dw 3x3 -> BN -> ReLU6 -> 1x1 project -> BN -> add."""
    g = Graph("ir", (1, c, 14, 14))
    x = g.add("conv", "input", "expand", cout=c * expand, k=1, bias=False)
    x = g.add("batchnorm", x, "expand_bn")
    x = g.add("relu6", x, "expand_act")
    x = g.add("dwconv", x, "dw", k=3, pad=1, bias=False)
    x = g.add("batchnorm", x, "dw_bn")
    x = g.add("relu6", x, "dw_act")
    x = g.add("conv", x, "project", cout=c, k=1, bias=False)
    x = g.add("batchnorm", x, "project_bn")
    x = g.add("add", [x, "input"], "residual")
    g.set_outputs(x)
    return g


def se_conv_block(c: int = 32, fused_gate_input: bool = False) -> Graph:
    """EfficientNet MBConv tail: dw -> BN -> swish -> SE (pool, 1x1 conv, swish, 1x1 conv, sigmoid, mul) -> project."""
    g = Graph("se_conv", (1, c, 28, 28))
    f = g.add("dwconv", "input", "dw", k=5, pad=2, bias=False)
    f = g.add("batchnorm", f, "dw_bn")
    f = g.add("swish", f, "dw_act")
    s = g.add("global_avgpool", f, "se_pool")
    s = g.add("conv", s, "se_reduce", cout=c // 4, k=1, bias=True)
    s = g.add("swish", s, "se_act")
    s = g.add("conv", s, "se_expand", cout=c, k=1, bias=True)
    s = g.add("sigmoid", s, "se_gate")
    y = g.add("mul", [f, s], "se_mul")
    y = g.add("conv", y, "project", cout=c, k=1, bias=False)
    y = g.add("batchnorm", y, "project_bn")
    g.set_outputs(y)
    return g


def se_fc_block(c: int = 40) -> Graph:
    """MobileNetV3-style SE with fc layers: pool -> flatten -> fc -> relu -> fc -> hsigmoid -> reshape -> mul."""
    g = Graph("se_fc", (1, c, 14, 14))
    f = g.add("conv", "input", "conv", cout=c, k=3, pad=1, bias=False)
    f = g.add("batchnorm", f, "bn")
    f = g.add("hswish", f, "act")
    s = g.add("global_avgpool", f, "pool")
    s = g.add("flatten", s, "flat")
    s = g.add("fc", s, "fc1", cout=c // 4)
    s = g.add("relu", s, "relu")
    s = g.add("fc", s, "fc2", cout=c)
    s = g.add("hsigmoid", s, "hsig")
    s = g.add("reshape", s, "unflat", shape=[1, c, 1, 1])
    y = g.add("mul", [s, f], "scale")      # gate first: order must not matter
    g.set_outputs(y)
    return g


def test_fold_batchnorm_keeps_macs_and_moves_params_into_biases():
    g = inverted_residual()
    macs, params = g.total_macs(), g.total_params()
    bn_params = sum(g.params(n) for n in g if n.op == Op.BATCHNORM)
    biases = sum(int(g.node(n).attrs["cout"]) for n in ("expand", "dw", "project"))
    assert fold_batchnorm(g) is True
    assert Op.BATCHNORM not in kinds(g)
    assert all(g.node(n).attrs["bias"] for n in ("expand", "dw", "project"))
    assert g.total_macs() == macs
    assert g.total_params() == params - bn_params + biases
    g.validate()
    assert fold_batchnorm(g) is False


def test_batchnorm_not_folded_into_a_conv_with_other_readers():
    g = Graph("t", (1, 8, 8, 8))
    c = g.add("conv", "input", "c", cout=8, k=3, pad=1)
    b = g.add("batchnorm", c, "bn")
    g.add("add", [b, c], "sum")
    g.set_outputs("sum")
    assert fold_batchnorm(g) is False
    assert kinds(g)[Op.BATCHNORM] == 1


def test_consecutive_batchnorms_compose():
    g = Graph("t", (1, 8, 8, 8))
    a = g.add("concat", ["input", "input"], "cat")
    a = g.add("batchnorm", a, "bn1")
    a = g.add("batchnorm", a, "scale")
    g.set_outputs(g.add("relu", a, "r"))
    assert fold_batchnorm(g)
    assert [n.name for n in g] == ["cat", "bn1", "r"]
    assert g.node("r").inputs == ["bn1"]


def test_prepare_fuses_activations_and_leaves_input_untouched():
    g = inverted_residual()
    p = prepare(g)
    assert [n.op for n in p] == [Op.CONV, Op.DWCONV, Op.CONV, Op.ADD]
    assert p.node("expand").attrs["act"] == Op.RELU6 and p.node("dw").attrs["act"] == Op.RELU6
    assert p.node("project").attrs.get("act") is None       # linear bottleneck stays linear
    assert p.total_macs() == g.total_macs()
    assert len(g) == 9                                      # prepare works on a copy
    assert p.outputs == ["residual"]


def test_prepare_with_string_kinds_and_without_batchnorm_folding():
    p = prepare(inverted_residual(), fusable=["relu6"])
    assert kinds(p)[Op.BATCHNORM] == 3                      # "batchnorm" not fusable -> not folded
    assert kinds(p)[Op.RELU6] == 2                          # ... so a BN, not a conv, feeds each ReLU6
    p = prepare(inverted_residual(), fusable=["batchnorm", "relu6"])
    assert set(kinds(p)) == {Op.CONV, Op.DWCONV, Op.ADD}
    with pytest.raises(IRError, match="unknown op kind 'relu7'"):
        prepare(inverted_residual(), fusable=["relu7"])


def test_activation_not_fused_when_preactivation_is_read_elsewhere():
    g = Graph("t", (1, 8, 8, 8))
    c = g.add("conv", "input", "c", cout=8, k=1)
    r = g.add("relu", c, "r")
    g.set_outputs(g.add("add", [r, c], "sum"))
    assert fuse_activations(g, DEFAULT_FUSABLE) is False


def test_se_block_found_before_and_after_fusion():
    g = se_conv_block()
    before = find_se_blocks(g)
    assert len(before) == 1
    se = before[0]
    assert (se.pool, se.reduce, se.act, se.expand, se.gate, se.mul) == (
        "se_pool", "se_reduce", "se_act", "se_expand", "se_gate", "se_mul")
    assert se.input == "dw_act" and se.channels == 32
    assert se.nodes == ["se_pool", "se_reduce", "se_act", "se_expand", "se_gate", "se_mul"]

    p = prepare(g)
    after = find_se_blocks(p)
    assert len(after) == 1
    se = after[0]
    assert se.act is None and p.node("se_reduce").attrs["act"] == Op.SWISH
    assert se.gate == "se_gate"                 # the gate is not in DEFAULT_FUSABLE: it stays a node
    assert se.input == "dw" and p.node("dw").attrs["act"] == Op.SWISH
    assert se.nodes == ["se_pool", "se_reduce", "se_expand", "se_gate", "se_mul"]

    q = prepare(g, fusable=DEFAULT_FUSABLE | {Op.SIGMOID})
    (se,) = find_se_blocks(q)
    assert se.gate is None and q.node("se_expand").attrs["act"] == Op.SIGMOID   # into the SE's own conv


def test_se_block_with_fc_and_reshapes():
    g = se_fc_block()
    (se,) = find_se_blocks(g)
    assert (se.reduce, se.act, se.expand, se.gate, se.mul, se.channels) == ("fc1", "relu", "fc2", "hsig", "scale", 40)
    assert se.nodes == ["pool", "flat", "fc1", "relu", "fc2", "hsig", "unflat", "scale"]
    p = prepare(g)
    (se,) = find_se_blocks(p)
    assert se.act is None and p.node("fc1").attrs["act"] == Op.RELU
    assert se.gate == "hsig"


def test_lookalikes_are_not_se_blocks():
    # the excitation scales a different feature map than the one it pooled
    g = Graph("t", (1, 16, 8, 8))
    a = g.add("conv", "input", "a", cout=16, k=3, pad=1)
    b = g.add("conv", "input", "b", cout=16, k=3, pad=1)
    s = g.add("global_avgpool", a, "pool")
    s = g.add("conv", s, "red", cout=4, k=1)
    s = g.add("relu", s, "act")
    s = g.add("conv", s, "exp", cout=16, k=1)
    s = g.add("sigmoid", s, "gate")
    g.set_outputs(g.add("mul", [b, s], "mul"))
    assert find_se_blocks(g) == []
    # no activation between the two 1x1 convs
    h = Graph("t", (1, 16, 8, 8))
    s = h.add("global_avgpool", "input", "pool")
    s = h.add("conv", s, "red", cout=4, k=1)
    s = h.add("conv", s, "exp", cout=16, k=1)
    s = h.add("sigmoid", s, "gate")
    h.set_outputs(h.add("mul", ["input", s], "mul"))
    assert find_se_blocks(h) == []
    # a plain element-wise product of two feature maps
    m = Graph("t", (1, 16, 8, 8))
    m.set_outputs(m.add("mul", ["input", m.add("sigmoid", "input", "s")], "mul"))
    assert find_se_blocks(m) == []


def test_swish_recognised_only_when_sigmoid_is_private():
    g = Graph("t", (1, 8, 8, 8))
    c = g.add("conv", "input", "c", cout=8, k=1)
    s = g.add("sigmoid", c, "sig")
    g.set_outputs(g.add("mul", [s, c], "sw"))
    assert recognise_swish(g)
    assert [(n.name, n.op) for n in g] == [("c", Op.CONV), ("sw", Op.SWISH)]
    assert g.node("sw").inputs == ["c"]

    h = Graph("t", (1, 8, 8, 8))
    s = h.add("hsigmoid", "input", "hs")
    m = h.add("mul", ["input", s], "m")
    h.set_outputs(h.add("add", [m, s], "both"))
    assert recognise_swish(h) is False


def test_channel_shuffle_recognised():
    g = Graph("t", (1, 116, 28, 28))
    x = g.add("conv", "input", "c", cout=116, k=1)
    x = g.add("reshape", x, "r1", shape=[1, 2, 58, 28, 28])
    x = g.add("transpose", x, "t", perm=[0, 2, 1, 3, 4])
    x = g.add("reshape", x, "r2", shape=[1, -1, 28, 28])
    g.set_outputs(g.add("relu", x, "after"))
    assert recognise_channel_shuffle(g)
    assert [n.op for n in g] == [Op.CONV, Op.CHANNEL_SHUFFLE, Op.RELU]
    n = g.node("r2")
    assert n.attrs == {"groups": 2} and n.inputs == ["c"] and g.shape("r2") == (1, 116, 28, 28)
    assert g.node("after").inputs == ["r2"]


def test_transpose_that_is_not_a_shuffle_is_kept():
    g = Graph("t", (1, 8, 4, 4))
    x = g.add("reshape", "input", "r1", shape=[1, 2, 4, 4, 4])
    x = g.add("transpose", x, "t", perm=[0, 1, 2, 4, 3])     # swaps H and W
    g.set_outputs(g.add("reshape", x, "r2", shape=[1, 8, 4, 4]))
    assert recognise_channel_shuffle(g) is False


def test_remove_identities():
    g = Graph("t", (1, 8, 4, 4))
    x = g.add("dropout", "input", "drop")
    x = g.add("reshape", x, "same", shape=[1, 8, 4, 4])
    x = g.add("flatten", x, "flat")
    x = g.add("reshape", x, "back", shape=[0, 8, 16])      # 0: copy dim 0 of the flattened input
    g.set_outputs(x)
    assert remove_identities(g)
    assert [(n.name, n.op) for n in g] == [("back", Op.RESHAPE)]
    assert g.node("back").inputs == ["input"] and g.node("back").attrs["shape"] == [1, 8, 16]
    assert g.shape("back") == (1, 8, 16)
    assert g.outputs == ["back"]


def contents(g: Graph) -> tuple:
    """Everything a graph holds, as plain values (two graphs with equal contents are the same graph)."""
    return (g.name, [(n.name, n.op, n.inputs, n.outputs, n.attrs) for n in g],
            [(k, t.name, t.shape, t.dtype) for k, t in g.tensors.items()], g.inputs, g.outputs, g.meta)


def check_graph(g: Graph) -> None:
    """A well-formed graph: topological, indexed by name, no tensor left over from a removed node."""
    g.validate()
    names = [n.name for n in g]
    assert len(set(names)) == len(names)
    assert all(g.node(n.name) is n for n in g) and len(g._names) == len(g)
    assert set(g.tensors) == set(g.inputs) | {t for n in g for t in n.outputs}
    assert all(g.tensors[t].shape is not None for t in g.tensors)


def test_graph_copy_is_a_deep_copy():
    g = se_fc_block()
    g.node("unflat").attrs["shape"] = [1, 40, [1, 1]]           # nested values are copied too
    g.meta["tags"] = {"family": ["se"]}
    c = g.copy()
    assert contents(c) == contents(g) == contents(copy.deepcopy(g))
    check_graph(c)
    assert not {id(n) for n in c} & {id(n) for n in g}
    c.node("unflat").attrs["shape"][2].append(1)
    c.node("fc1").attrs["act"] = Op.RELU
    c.node("scale").inputs.append("x")
    c.tensors["pool"].shape = (1,)
    c.meta["tags"]["family"].append("x")
    c.outputs.append("act")
    c.set_outputs("act")
    c.remove_node("scale")
    assert g.node("unflat").attrs["shape"] == [1, 40, [1, 1]] and g.meta["tags"] == {"family": ["se"]}
    assert g.node("fc1").attrs.get("act") is None and g.node("scale").inputs == ["unflat", "act"]
    assert g.shape("pool") == (1, 40, 1, 1) and g.outputs == ["scale"]
    check_graph(g)


def test_remove_nodes_and_replace_uses():
    g = Graph("t", (1, 8, 4, 4))
    a = g.add("relu", "input", "a")
    b = g.add("relu", a, "b")
    c = g.add("relu", b, "c")
    g.set_outputs(g.add("add", [a, c], "out"))
    with pytest.raises(IRError, match="cannot remove node 'b': its output 'b' is still used"):
        g.remove_node("b")
    with pytest.raises(IRError, match="cannot remove node 'out': its output 'out' is still used"):
        g.remove_node("out")                                    # a graph output
    with pytest.raises(KeyError):
        g.remove_node("nope")
    with pytest.raises(IRError, match="unknown tensor 'nope'"):
        g.replace_uses(c, "nope")
    g.replace_uses(c, a)
    assert g.node("out").inputs == ["a", "a"] and g.node("c").inputs == ["b"]
    g.remove_nodes(["b", "c"])                                  # a chain goes at once, in any order
    assert [n.name for n in g] == ["a", "out"] and set(g.tensors) == {"input", "a", "out"}
    with pytest.raises(KeyError):
        g.node("b")
    check_graph(g)
    g.replace_uses("out", "a")                                  # graph outputs follow
    assert g.outputs == ["a"]
    g.remove_node("out")
    g.add("relu", "a", "b")                                     # the name is free again
    assert [n.name for n in g] == ["a", "b"]
    check_graph(g)


def hard_activations_and_plumbing() -> Graph:
    """Every rewrite of the pipeline: hand-written hswish / hsigmoid (imported affines), x*sigmoid(x),
    a whole-map average pool, a reshape-transpose-reshape channel shuffle, dropout and reshape chains."""
    g = Graph("t", (1, 24, 14, 14))
    f = g.add("conv", "input", "conv", cout=24, k=3, pad=1, bias=False)
    f = g.add("batchnorm", f, "bn")
    r = g.add("batchnorm", f, "plus3", affine="shift", value=3.0)
    r = g.add("relu6", r, "clip")
    f = g.add("mul", [f, r], "times")
    f = g.add("batchnorm", f, "hswish", affine="scale", value=1 / 6)
    f = g.add("dropout", f, "drop")
    x = g.add("reshape", f, "split", shape=[1, 2, 12, 14, 14])
    x = g.add("transpose", x, "swap", perm=[0, 2, 1, 3, 4])
    f = g.add("reshape", x, "shuffled", shape=[1, 24, 14, 14])
    s = g.add("avgpool", f, "se_pool", k=14)
    s = g.add("conv", s, "se_reduce", cout=8, k=1, bias=True)
    s = g.add("sigmoid", g.add("batchnorm", s, "se_bn"), "se_sig")
    s = g.add("mul", ["se_bn", s], "se_swish")
    s = g.add("conv", s, "se_expand", cout=24, k=1, bias=True)
    r = g.add("relu6", g.add("batchnorm", s, "se_plus3", affine="shift", value=3.0), "se_clip")
    s = g.add("batchnorm", r, "se_gate", affine="scale", value=1 / 6)
    f = g.add("mul", [f, s], "se_mul")
    f = g.add("flatten", g.add("global_avgpool", f, "pool"), "flat")
    f = g.add("reshape", g.add("reshape", f, "r1", shape=[1, 24, 1, 1]), "r2", shape=[1, 24])
    g.set_outputs(g.add("fc", f, "fc", cout=10))
    return g


def fresh_links(g: Graph, links) -> tuple:
    live = [n for n in g if id(n) in links.alive]
    return ({t: id(n) for n in live for t in n.outputs}, Counter((t, id(n)) for n in live for t in n.inputs))


@pytest.mark.parametrize("build", [hard_activations_and_plumbing, inverted_residual, se_conv_block, se_fc_block])
def test_prepare_keeps_its_links_up_to_date(monkeypatch, build):
    """After every rewrite the incrementally kept producer/reader links are what a rebuild gives."""
    sweep, rewrites = passes._sweep, Counter()

    def checked_sweep(g, links, rewrite, ops):
        def checked(g, n, links):
            did = rewrite(g, n, links)
            if did:
                rewrites[rewrite.__name__] += 1
                assert {id(n) for n in g if n not in links.dead} == links.alive
                have = ({t: id(n) for t, n in links.producers.items()},
                        Counter((t, id(n)) for t, ns in links.readers.items() for n in ns))
                assert have == fresh_links(g, links)
            return did
        return sweep(g, links, checked, ops)

    monkeypatch.setattr(passes, "_sweep", checked_sweep)
    g = build()
    p = prepare(g)
    check_graph(p)
    assert p.total_macs() == g.total_macs() and rewrites
    if build is hard_activations_and_plumbing:
        assert [(n.name, n.op, n.inputs, n.attrs.get("act")) for n in p] == [
            ("conv", Op.CONV, ["input"], Op.HSWISH), ("shuffled", Op.CHANNEL_SHUFFLE, ["conv"], None),
            ("se_pool", Op.GLOBAL_AVGPOOL, ["shuffled"], None), ("se_reduce", Op.CONV, ["se_pool"], Op.SWISH),
            ("se_expand", Op.CONV, ["se_reduce"], None), ("se_gate", Op.HSIGMOID, ["se_expand"], None),
            ("se_mul", Op.MUL, ["shuffled", "se_gate"], None), ("pool", Op.GLOBAL_AVGPOOL, ["se_mul"], None),
            ("r2", Op.RESHAPE, ["pool"], None), ("fc", Op.FC, ["r2"], None)]
        assert p.node("r2").attrs == {"shape": [1, 24]} and p.node("shuffled").attrs == {"groups": 2}
        assert p.outputs == ["fc"] and len(find_se_blocks(p)) == 1
        assert rewrites == {"_identity": 3, "_hard_activation": 2, "_swish": 1, "_global_pool": 1,
                            "_channel_shuffle": 1, "_fold_batchnorm": 2, "fuse": 2}




@pytest.mark.parametrize("name, blocks", [("efficientnet_b0", 16), ("efficientnet_b4", 32),
                                          ("mobilenet_v3_large", 8), ("efficientnet_lite0", 0)])
def test_zoo_se_block_counts(name: str, blocks: int):
    from mapper import zoo
    g = zoo.build(name)
    p = prepare(g)
    assert len(find_se_blocks(g)) == blocks
    se = find_se_blocks(p)
    assert len(se) == blocks
    assert p.total_macs() == g.total_macs()
    assert Op.BATCHNORM not in kinds(p)
    for b in se:
        assert p.shape(b.input)[1] == b.channels
        assert p.node(b.mul).op == Op.MUL


@pytest.mark.parametrize("name, size, nodes, ops, acts", [
    ("efficientnet_b4", 256, (477, 284),
     {Op.ADD: 25, Op.CONV: 128, Op.DWCONV: 32, Op.FC: 1, Op.FLATTEN: 1, Op.GLOBAL_AVGPOOL: 33, Op.MUL: 32,
      Op.SIGMOID: 32}, {Op.SWISH: 96}),
    ("mobilenet_v2", None, (153, 65),
     {Op.ADD: 10, Op.CONV: 35, Op.DWCONV: 17, Op.FC: 1, Op.FLATTEN: 1, Op.GLOBAL_AVGPOOL: 1}, {Op.RELU6: 35}),
    ("shufflenet_v2_x1_0", None, (198, 105),
     {Op.CHANNEL_SHUFFLE: 16, Op.CONCAT: 16, Op.CONV: 37, Op.DWCONV: 19, Op.FC: 1, Op.FLATTEN: 1,
      Op.GLOBAL_AVGPOOL: 1, Op.MAXPOOL: 1, Op.SPLIT: 13}, {Op.RELU: 37}),
    ("mobilenet_v3_large", None, (187, 100),
     {Op.ADD: 10, Op.CONV: 47, Op.DWCONV: 15, Op.FC: 2, Op.FLATTEN: 1, Op.GLOBAL_AVGPOOL: 9, Op.HSIGMOID: 8,
      Op.MUL: 8}, {Op.HSWISH: 21, Op.RELU: 19}),
])
def test_zoo_prepare_known_answers(monkeypatch, name, size, nodes, ops, acts):
    """Exact node counts, and the pipeline's cost: one link-building pass, one shape inference, and
    removals batched per sweep (not a scan of the graph per removed node)."""
    from mapper import zoo
    g = zoo.build(name, size)
    before = contents(g)
    calls: Counter = Counter()
    for method in ("producers", "infer_shapes", "remove_nodes"):
        def counted(self, *a, _f=getattr(Graph, method), _m=method):
            calls[_m] += 1
            return _f(self, *a)
        monkeypatch.setattr(Graph, method, counted)
    p = prepare(g)
    assert (len(g), len(p)) == nodes
    assert kinds(p) == ops
    assert Counter(n.attrs["act"] for n in p if n.attrs.get("act")) == acts
    assert contents(g) == before and p.total_macs() == g.total_macs()
    check_graph(p)
    assert calls["producers"] == 1 and calls["infer_shapes"] == 1
    assert calls["remove_nodes"] <= 4 < len(g) - len(p), calls
