"""Malformed ONNX the importer used to accept (issue 15): each is a one-line error, exit 2 on the
CLI; a dangling branch is dropped and said so; a directory or /dev/null is named as what it is."""

from __future__ import annotations

import json
import os
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from hwsim.cli import main
from mapper.ir import Op
from mapper.onnx.core import OPSET_MAX
from mapper.onnx_import import OnnxImportError, load
from tests.mapper.test_onnx_import import Model, one_line


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def small(opset: int = 13) -> Model:
    m = Model((1, 8, 16, 16), opset)
    m("Relu", [m.conv("x", "c1", 8, 8, k=3)], "r1")
    return m


def refused(capsys, path: Path, message: str) -> None:
    with pytest.raises(OnnxImportError) as e:
        load(path)
    assert message in one_line(e), one_line(e)
    code, out, err = cli(capsys, "map", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err and "Traceback" not in err


def edit(path: Path, fn) -> Path:
    model = onnx.load(path)
    fn(model)
    onnx.save(model, path)
    return path


def test_two_nodes_producing_one_tensor(tmp_path: Path, capsys):
    m = small()
    m("Sigmoid", ["c1"], "r1")                     # a second producer of tensor 'r1'
    refused(capsys, m.save(tmp_path, "r1"), "tensor 'r1' is produced twice (node 'r1' (Relu) and node 'r1' (Sigmoid))")


def test_duplicate_initializer_names(tmp_path: Path, capsys):
    path = edit(small().save(tmp_path, "r1"), lambda m: m.graph.initializer.append(m.graph.initializer[0]))
    refused(capsys, path, "initializer 'c1.w' is defined 2 times")


def test_a_node_output_named_like_the_input(tmp_path: Path, capsys):
    m = small()
    m("Relu", ["r1"], "x")
    refused(capsys, m.save(tmp_path, "x"), "tensor 'x' is produced twice (a graph input and node 'x' (Relu))")


@pytest.mark.parametrize("opset", [1, 6, OPSET_MAX + 1, 99])
def test_opset_outside_the_supported_range(tmp_path: Path, capsys, opset: int):
    path = edit(small().save(tmp_path, "r1"), lambda m: m.opset_import[0].__setattr__("version", opset))
    refused(capsys, path, f"ONNX opset {opset} is outside the supported range 7 to {OPSET_MAX}")


@pytest.mark.parametrize("opset", [7, OPSET_MAX])
def test_opsets_at_the_ends_of_the_range_import(tmp_path: Path, opset: int):
    assert load(small(opset).save(tmp_path, "r1")).total_macs() == 16 * 16 * 8 * 8 * 9


@pytest.mark.parametrize("op, pads", [("Conv", [-1, 0, 0, 0]), ("MaxPool", [0, 0, -2, 0])])
def test_negative_pads(tmp_path: Path, capsys, op: str, pads: list[int]):
    m = Model((1, 8, 16, 16), 13)
    if op == "Conv":
        y = m.conv("x", "neg", 8, 8, k=3, pads=pads)
    else:
        y = m("MaxPool", ["x"], "neg", kernel_shape=[3, 3], pads=pads)
    refused(capsys, m.save(tmp_path, y), f"negative pads {pads} are not supported")


@pytest.mark.parametrize("elem, name", [(TensorProto.STRING, "STRING"), (TensorProto.BOOL, "BOOL")])
def test_input_that_cannot_be_an_image(tmp_path: Path, capsys, elem: int, name: str):
    path = edit(small().save(tmp_path, "r1"), lambda m: m.graph.input[0].type.tensor_type.__setattr__("elem_type", elem))
    refused(capsys, path, f"input 'x' is a {name} tensor; expected an image batch")


def dangling(tmp_path: Path) -> Path:
    """A 3x3 conv branch (64 -> 256 channels) that no output reads, beside the real path."""
    m = Model((1, 64, 32, 32), 13)
    m("Relu", [m.conv("x", "used", 64, 64)], "out")
    m("Relu", [m.conv("x", "unused_conv", 64, 256, k=3)], "unused_relu")
    return m.save(tmp_path, "out")


def test_dangling_branch_is_dropped_and_listed(tmp_path: Path, capsys):
    g = load(dangling(tmp_path))
    assert [n.name for n in g] == ["used", "out"] and g.total_macs() == 32 * 32 * 64 * 64
    assert g.meta["dropped_nodes"] == ["unused_conv", "unused_relu"]
    code, out, _ = cli(capsys, "map", str(tmp_path / "m.onnx"))
    assert code == 0 and "note: dropped 2 ONNX node(s) that no graph output depends on" in out
    assert "unused_conv, unused_relu" in out
    code, out, _ = cli(capsys, "map", str(tmp_path / "m.onnx"), "--json")
    assert code == 0 and json.loads(out)["dropped_nodes"] == ["unused_conv", "unused_relu"]
    code, out, _ = cli(capsys, "estimate", str(tmp_path / "m.onnx"))
    assert code == 0 and "note: dropped 2 ONNX node(s)" in out
    code, out, _ = cli(capsys, "estimate", str(tmp_path / "m.onnx"), "--json")
    est = json.loads(out)
    assert est["dropped_nodes"] == ["unused_conv", "unused_relu"] and est["total_macs"] == 32 * 32 * 64 * 64
    assert "unused_conv" not in {l["name"] for l in est["layers"]}


def test_a_model_without_dangling_nodes_has_no_note(tmp_path: Path, capsys):
    code, out, _ = cli(capsys, "map", str(small().save(tmp_path, "r1")))
    assert code == 0 and "dropped" not in out
    code, out, _ = cli(capsys, "map", "mobilenet_v2", "--json")
    assert json.loads(out)["dropped_nodes"] == []


def test_directory_and_dev_null_say_what_they_are(tmp_path: Path, capsys):
    d = tmp_path / "model.onnx"
    d.mkdir()
    for path, what in ((d, "is a directory, not an ONNX file"), (Path(os.devnull), "is a character device")):
        code, _, err = cli(capsys, "estimate", str(path))
        assert code == 2 and what in err and "no such" not in err and err.count("\n") == 1
        with pytest.raises(OnnxImportError, match=what):
            load(path)
    code, _, err = cli(capsys, "map", str(tmp_path / "missing.onnx"))
    assert code == 2 and "no such ONNX file" in err


def test_weight_input_without_a_declared_shape(tmp_path: Path, capsys):
    """export_params=False with a parameter whose shape is not declared cannot be sized."""
    m = Model((1, 8, 16, 16), 13)
    m("Conv", ["x", "w"], "c", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    path = m.save(tmp_path, "c")
    path = edit(path, lambda mm: mm.graph.input.append(helper.make_tensor_value_info("w", TensorProto.FLOAT,
                                                                                      ["o", 8, 3, 3])))
    refused(capsys, path, "parameter input 'w' has no fully declared shape")
    path = edit(path, lambda mm: mm.graph.input[1].CopyFrom(helper.make_tensor_value_info("w", TensorProto.FLOAT,
                                                                                           [4, 8, 3, 3])))
    g = load(path)
    assert g.node("c").op == Op.CONV and g.shape("c") == (1, 4, 16, 16)
    assert g.total_macs() == 16 * 16 * 4 * 8 * 9
