"""Structurally mutated exports (a node dropped, an input rewired, an attribute or an initializer's
shape changed): the importer returns a sane graph or one OnnxImportError line, never anything else."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

from mapper.onnx_import import OnnxImportError, load
from tests.mapper.torch_exports import Exporter

BASES = {kw: Exporter(**dict(kw)).shufflenet_v2() for kw in (
    (("opset", 11),), (("opset", 11), ("dynamic", True)), (("opset", 18), ("exporter", "dynamo_noopt")),
    (("opset", 9), ("weights", "absent")))}
for _m in BASES.values():           # shape-only weights keep each example small
    for _t in _m.graph.initializer:
        if len(_t.dims) > 1 or (_t.dims and _t.dims[0] > 64):
            _t.ClearField("raw_data")
            _t.data_location = onnx.TensorProto.EXTERNAL
            _t.external_data.add(key="location", value="absent.data")


def mutate(model: onnx.ModelProto, kind: str, i: int, value: int) -> onnx.ModelProto:
    m = copy.deepcopy(model)
    nodes = m.graph.node
    n = nodes[i % len(nodes)]
    if kind == "drop":
        nodes.remove(n)
    elif kind == "rewire" and n.input:
        outs = [o for k in nodes for o in k.output] + [x.name for x in m.graph.input]
        n.input[value % len(n.input)] = outs[value % len(outs)]
    elif kind == "attribute" and n.attribute:
        a = n.attribute[value % len(n.attribute)]
        if a.type == onnx.AttributeProto.INT:
            a.i = value
        elif a.type == onnx.AttributeProto.INTS and a.ints:
            a.ints[value % len(a.ints)] = value
    elif kind == "initializer" and m.graph.initializer:
        t = m.graph.initializer[value % len(m.graph.initializer)]
        if t.dims:
            t.dims[value % len(t.dims)] = abs(value) % 7
    elif kind == "opset":
        m.opset_import[0].version = value
    elif kind == "duplicate":
        nodes.append(copy.deepcopy(n))
    elif kind == "constant" and n.op_type == "Constant":
        v = np.asarray(value, np.int64).reshape([1])
        n.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array(v))
    elif kind == "input_type":
        m.graph.input[0].type.tensor_type.elem_type = abs(value) % 17
    return m


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(base=st.sampled_from(sorted(BASES)), kind=st.sampled_from(["drop", "rewire", "attribute", "initializer",
                                                                  "opset", "duplicate", "constant", "input_type"]),
       i=st.integers(0, 10_000), value=st.integers(-40, 40))
def test_mutated_exports_import_or_fail_in_one_line(tmp_path_factory, base, kind: str, i: int, value: int):
    path = Path(tmp_path_factory.mktemp("mut")) / "mut.onnx"
    onnx.save(mutate(BASES[base], kind, i, value), path)
    size = 224 if dict(base).get("dynamic") else None
    try:
        g = load(path, size)
    except OnnxImportError as e:
        msg = str(e)
        assert msg.startswith("mut.onnx: ") and "\n" not in msg and len(msg) < 400
        return
    macs = g.total_macs()
    assert 0 < macs < 10 * 144_907_992 and all(d > 0 for n in g for t in n.outputs for d in g.shape(t))
