"""``hwsim rtl-check --system``: whole layers DDR to DDR through ``zynq_accel`` (Icarus here; the
Verilator path is the same runner, exercised by tests/rtl/test_system_cocotb.py), every output
against the golden model, and the start-to-interrupt cycles against the data-mover model
``hwsim.memory.stream_segment_cycles``: equal where the engine is the bottleneck, within 2% where
the memory is."""

from __future__ import annotations

import json

import pytest

from hwsim.cli import main

pytestmark = pytest.mark.cocotb

SMALL = ["--set", "accel.pp=2", "--set", "accel.icp=4", "--set", "accel.ocp=4", "--set", "accel.dw_channels=2",
         "--set", "accel.wbuf_depth=64"]


def _check(capsys, layer, *extra):
    assert main(["rtl-check", "--layer", layer, "--system", "--sim", "icarus", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_compute_bound_pointwise_layer_cycles_equal(capsys):
    # 8-byte engine beats, 16-byte bus: the stream delivers two beats per cycle, the engine takes one
    r = _check(capsys, "pw:cin=32,cout=64,h=8,w=8", *SMALL)
    assert r["mismatches"] == 0 and r["outputs_checked"] == 8 * 8 * 64
    assert r["model"]["stall"] == 0
    assert r["system_cycles"] == r["model_system_cycles"]
    assert r["engine_busy_cycles"] < r["system_cycles"]


def test_compute_bound_multi_tile_segment_within_a_few_cycles(capsys):
    # 2 KiB activation buffers cut the layer into row bands: the sequencer's tile-to-tile overhead
    r = _check(capsys, "dw:c=8,h=16,w=16,k=3,s=1", *SMALL, "--set", "accel.ibuf_kib=2", "--set", "accel.obuf_kib=2")
    assert r["tiles"] > 1 and r["mismatches"] == 0
    assert abs(r["difference"]) <= 4


def test_memory_bound_layers_on_the_default_instance_within_two_percent(capsys):
    # 32-byte engine beats on a 16-byte bus: two bus words per beat, the stream is the bottleneck
    for layer in ("pw:cin=32,cout=64,h=8,w=8", "dw:c=32,h=16,w=16,k=3,s=1"):
        r = _check(capsys, layer)
        assert r["mismatches"] == 0, layer
        assert r["model"]["stall"] > 0.3 * r["model"]["compute"], layer
        assert abs(r["difference_pct"]) <= 2.0, (layer, r["system_cycles"], r["model_system_cycles"])
        assert r["memory_wait_cycles"] > 0
