"""hwsim rtl-check: whole layers through the emitted RTL agree with the golden model and, cycle for
cycle, with the cycle model's tiles (both simulators, every layer kind)."""

import json

import pytest

from hwsim.cli import main
from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.rtlcheck import layer_tiles, parse_spec, rtl_check
from rtl.cycles import tile_cycles

# The regression instance "pp2-icp4-ocp4-dw2" of tests/rtl/conftest.py, so the build is shared.
SMALL = ["accel.pp=2", "accel.icp=4", "accel.ocp=4", "accel.dw_channels=2", "accel.wbuf_depth=64"]

LAYERS = [
    "dw:c=5,h=9,w=7,k=3,s=1",
    "dw:c=3,h=11,w=10,k=5,s=2",
    "pw:cin=6,cout=9,h=3,w=5",
    "conv:cin=3,cout=5,h=9,w=9,k=3,s=2",
    "pool:c=3,h=8,w=8,k=2,s=2",
    "avgpool:c=3,h=9,w=9,k=3,s=2",
    "gap:c=5,h=4,w=6",
    "scale:c=7,h=3,w=4",
    "add:c=3,h=5,w=4",
]

# Whole-layer cycles counted by hand from the engines' timelines (rtl/pointwise.py and
# rtl/depthwise.py docstrings) on SMALL: 8-byte beats, so the LUT is 256 / 8 = 32 beats.
HAND_CYCLES = {
    # one tile; S = ceil(6 / 4) = 2 steps, G = ceil(15 / 2) = 8 pixel groups, NG = ceil(9 / 4) = 3
    # channel groups of 2 x ceil(16/8) weight + ceil(32/8) qparam + 2 + 7 x max(2, 2) + 2 + 10 = 36
    # cycles: 1 + 32 + 3 x 36
    "pw:cin=6,cout=9,h=3,w=5": 141,
    # one tile, pad 1: 3 groups of 2 lanes, a block of 2 x (5x5 taps + 7) = 64 bytes = 8 beats,
    # (9+1) x (7+1) = 80 steps a group, groups max(8, 3) = 8 cycles apart, the last window completes
    # at step 9 x 8 + 7 = 79, 8 cycles of latency: 1 + 32 + 8 + 2 x (80 + 8) + 79 + 8 + 1
    "dw:c=5,h=9,w=7,k=3,s=1": 305,
    # one group of add_lanes = 4 channels: a 5-byte header in 1 beat, no LUT, no block, 20 steps,
    # the last at step 19, latency 4: 1 + 1 + 19 + 4 + 1
    "add:c=3,h=5,w=4": 26,
}


def test_the_cycle_model_counts_the_hand_counted_layers():
    cfg = load(overrides=SMALL)
    assert {l: sum(tile_cycles(cfg.pe, t) for t in layer_tiles(parse_spec(l), cfg)) for l in HAND_CYCLES} \
        == HAND_CYCLES


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize("layer", LAYERS)
def test_layer_agrees(sim, layer):
    cfg = load(overrides=SMALL)
    r = rtl_check(parse_spec(layer), cfg, sim, seed=3)
    assert r["mismatches"] == 0
    assert r["outputs_checked"] > 0
    assert r["rtl_cycles"] == r["model_cycles"] > 0
    if layer in HAND_CYCLES:
        assert r["rtl_cycles"] == HAND_CYCLES[layer]


# The packed regression instance "pp1-icp8-ocp4-dw4-pack2" (two INT8 products per DSP48E2).
PACKED = ["accel.pp=1", "accel.icp=8", "accel.ocp=4", "accel.dw_channels=4", "accel.wbuf_depth=64",
          "accel.macs_per_dsp=2"]


@pytest.mark.cocotb
@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize("layer", ["pw:cin=19,cout=14,h=3,w=5", "conv:cin=3,cout=6,h=8,w=8,k=3,s=2"])
def test_packed_conv_layer_agrees(sim, layer):
    cfg = load(overrides=PACKED)
    assert cfg.pe.macs_per_dsp == 2
    r = rtl_check(parse_spec(layer), cfg, sim, seed=5)
    assert r["mismatches"] == 0 and r["outputs_checked"] > 0
    assert r["rtl_cycles"] == r["model_cycles"] > 0


@pytest.mark.cocotb
def test_cli_json(capsys):
    assert main(["rtl-check", "--layer", LAYERS[0], "--sim", "icarus", "--json", *sum((["--set", s] for s in SMALL), [])]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"sim", "rtl_cycles", "model_cycles", "outputs_checked", "mismatches"}
    assert out["sim"] == "icarus" and out["rtl_cycles"] == out["model_cycles"]


def test_specs_parse_with_defaults():
    assert parse_spec("pool:c=16,h=16,w=16,k=2").args["s"] == 2      # pools stride by their window
    assert parse_spec("dw:c=32,h=16,w=16,k=3").args["s"] == 1
    assert str(parse_spec("pw:cin=32,cout=64,h=8,w=8")) == "pw:cin=32,cout=64,h=8,w=8"


def test_a_layer_the_engine_cannot_run_is_one_line(capsys):
    assert main(["rtl-check", "--layer", "avgpool:c=3,h=9,w=9,k=3,s=3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stride 3 is not supported" in err[0]


def test_a_big_layer_is_tiled_like_the_cycle_model():
    cfg = load()
    tiles = layer_tiles(parse_spec("pw:cin=144,cout=24,h=64,w=64"), cfg)
    assert len(tiles) > 1 and sum(t.h * t.w for t in tiles) % (64 * 64) == 0


@pytest.mark.parametrize("spec,msg", [
    ("dw:c=5,h=6", "missing w, k"),
    ("foo:c=1", "KIND one of"),
    ("dw:c=x,h=1,w=1,k=3", "c must be an integer"),
    ("dw:c=4,h=4,w=4,k=3,q=1", "'q=1' is not one of"),
    ("conv:cin=3,cout=0,h=4,w=4,k=3", "cout must be positive"),
    ("dw c=4", "expected KIND:key=value"),
])
def test_bad_specs_are_one_line(spec, msg, capsys):
    with pytest.raises(HwsimError, match=msg):
        parse_spec(spec)
    assert main(["rtl-check", "--layer", spec]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and msg in err[0]
