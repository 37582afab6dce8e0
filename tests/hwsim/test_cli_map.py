"""``hwsim zoo`` and ``hwsim map`` through the CLI, including every kind of bad input."""

from __future__ import annotations

import json
import re

import pytest

from hwsim.cli import main
from mapper import zoo


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tiny_onnx(path) -> None:
    """conv 3x3 -> relu -> global pool -> flatten -> gemm, 3x32x32 input (written with onnx.helper)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    fw = numpy_helper.from_array(np.zeros((10, 8), np.float32), "fw")
    fb = numpy_helper.from_array(np.zeros((10,), np.float32), "fb")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], [w, fw, fb])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def test_zoo_json_lists_every_model_with_its_costs(capsys):
    code, out, _ = run(capsys, "zoo", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["name"] for r in rows] == zoo.names()
    by_name = {r["name"]: r for r in rows}
    for name in ("mobilenet_v2", "efficientnet_b4"):
        g = zoo.build(name)
        assert by_name[name]["macs"] == g.total_macs() and by_name[name]["params"] == g.total_params()
    assert by_name["efficientnet_b4"]["input_size"] == 380 and by_name["mobilenet_v2"]["input_size"] == 224
    assert all(set(r) >= {"name", "input_size", "macs", "params"} for r in rows)


def test_zoo_table(capsys):
    code, out, _ = run(capsys, "zoo")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["model", "input", "MMACs", "Mparams"]
    row = next(line for line in lines if line.startswith("mobilenet_v2 "))
    assert row.split()[1:3] == ["224x224", f"{zoo.build('mobilenet_v2').total_macs() / 1e6:.1f}"]


def test_map_json(capsys):
    code, out, _ = run(capsys, "map", "efficientnet_b4", "--input-size", "256", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["model"] == "efficientnet_b4" and plan["input_size"] == 256 and plan["policy"] == "naive"
    assert plan["board"] == "ultra96v1" and plan["accel"] == "ultra96v1_default"
    assert sum(s["device"] == "PS" for s in plan["segments"]) == 33
    assert all(set(s) >= {"device", "ops", "macs"} for s in plan["segments"])
    assert sum(s["macs"] for s in plan["segments"]) == plan["macs"] == zoo.build("efficientnet_b4", 256).total_macs()
    assert all(set(t) >= {"from", "to", "bytes"} and {t["from"], t["to"]} == {"PL", "PS"} for t in plan["transfers"])
    assert plan["transfers"][0] == {"from": "PS", "to": "PL", "tensor": "input", "bytes": 3 * 256 * 256,
                                    "src_segment": -1, "dst_segment": 0}
    code, out, _ = run(capsys, "map", "efficientnet_b4", "--input-size", "256", "--policy", "optimized", "--json")
    opt = json.loads(out)
    assert opt["policy"] == "optimized" and opt["transfer_bytes"] < plan["transfer_bytes"] / 30


def test_map_human_output(capsys):
    code, out, _ = run(capsys, "map", "mobilenet_v2", "--board", "zcu104")
    assert code == 0
    assert out.startswith("mobilenet_v2 224x224 on zcu104 / zcu104_default, policy naive: 2 segments (1 on the PS)")
    assert "[1] PS  1 ops  1,280,000 MACs" in out and "fc  <- fc not in accel.pl_ops" in out
    assert re.search(r"-1 -> 0\s+PS->PL\s+150528 B  input", out)


def test_map_an_onnx_file(capsys, tmp_path):
    path = tmp_path / "tiny.onnx"
    tiny_onnx(path)
    code, out, err = run(capsys, "map", str(path), "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert [s["device"] for s in plan["segments"]] == ["PL", "PS"]      # the Gemm is the FC, on the PS
    assert plan["macs"] == 8 * 27 * 32 * 32 + 80
    assert [(t["from"], t["bytes"]) for t in plan["transfers"]] == [("PS", 3 * 32 * 32), ("PL", 8)]


@pytest.mark.parametrize("argv, names", [
    (["map", "mobilenet_v9"], "unknown model 'mobilenet_v9'"),
    (["map", "mobilenet_v2", "--board", "zcu999"], "unknown board 'zcu999'"),
    (["map", "mobilenet_v2", "--accel", "dpu_b1"], "unknown accel 'dpu_b1'"),
    (["map", "mobilenet_v2", "--set", "accel.clock_mhz"], "malformed --set 'accel.clock_mhz'"),
    (["map", "mobilenet_v2", "--input-size", "8"], "input size 8 is too small"),
    (["map", "mobilenet_v2", "--input-size", "-3"], "input size must be a positive number of pixels, not -3"),
    (["map", "/nonexistent/net.onnx"], "net.onnx"),
])
def test_bad_input_is_one_line_naming_the_problem(capsys, argv, names):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert re.fullmatch(r"hwsim: error: [^\n]+\n", err), err
    assert names in err


def test_garbage_onnx_file(capsys, tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x00\x01 this is not a protobuf \xff" * 10)
    code, out, err = run(capsys, "map", str(path))
    assert code == 2 and out == ""
    assert re.fullmatch(r"hwsim: error: [^\n]+\n", err) and "garbage.onnx" in err


def test_not_an_onnx_file(capsys, tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("hello")
    code, _, err = run(capsys, "map", str(path))
    assert code == 2 and err == f"hwsim: error: {str(path)!r} is not an .onnx file\n"
