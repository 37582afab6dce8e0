"""cocotb regression of the CONV engine inside the emitted ``layer_engine`` Verilog, on Icarus and
Verilator, for two array configurations: random layer shapes with ragged edges (channels and pixel
counts not multiples of the parallelism, kernels 1..4), random data and quantisation, random
idle/backpressure patterns, a reset in the middle of a tile followed by a clean tile.  Every output
beat is compared with ``rtl.golden_pw``; every unstalled tile's measured cycles equal
``rtl.cycles.tile_cycles`` exactly.  One simulation per (simulator, configuration) runs the batch.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from rtl.cycles import tile_cycles
from rtl.golden_pw import conv_case
from rtl.params import Mode, PEArrayParams, TileSpec
from rtl.sim import TileRun

from .conftest import CONFIGS, SIMS

pytestmark = pytest.mark.cocotb


def _random_tile(rng: np.random.Generator, p: PEArrayParams) -> TileSpec:
    k = int(rng.choice([1, 1, 2, 3, 4]))
    cin = int(rng.integers(1, 3 * p.icp))
    cout = int(rng.integers(1, 3 * p.ocp))
    h, w = (int(v) for v in rng.integers(1, 5, size=2))
    return TileSpec(Mode.CONV, cin, cout, h, w, k=k)


def _pause(rng: np.random.Generator) -> list[int]:
    return [int(v) for v in rng.random(int(rng.integers(2, 9))) < rng.uniform(0.2, 0.7)]


def _batch(p: PEArrayParams, seed: int) -> list[TileRun]:
    rng = np.random.default_rng(seed)
    runs: list[TileRun] = []

    def add(name, tile, **kw):
        runs.append(TileRun(name, conv_case(p, tile, rng), **kw))

    add("ragged3x3", TileSpec(Mode.CONV, cin=p.icp + 1, cout=p.ocp + 3, h=3, w=3, k=3))
    add("pointwise", TileSpec(Mode.CONV, cin=2 * p.icp, cout=p.ocp, h=2, w=p.pp * 2 + 1, k=1))
    add("single-step", TileSpec(Mode.CONV, cin=1, cout=2, h=1, w=3, k=1))
    for i in range(5):
        add(f"rand{i}", _random_tile(rng, p))
    for i in range(4):
        add(f"stall{i}", _random_tile(rng, p), in_pause=_pause(rng), out_pause=_pause(rng))
    reset_tile = TileSpec(Mode.CONV, cin=p.icp * 2 + 1, cout=p.ocp + 1, h=2, w=3, k=2)
    mid = tile_cycles(p, reset_tile) // 2
    add("reset", reset_tile, reset_after=mid, out_pause=[0, 1])
    add("after-reset", TileSpec(Mode.CONV, cin=3, cout=p.ocp + 2, h=2, w=2, k=3))
    return runs


def _results(sim: str, cfg: str, tile_batch) -> tuple[list[TileRun], dict[str, dict]]:
    return tile_batch(sim, cfg, _batch, zlib.crc32(cfg.encode()), "rtl.tb.tb_conv")


CASES = [pytest.param(sim, cfg, id=f"{sim}-{cfg}") for sim in SIMS for cfg in CONFIGS]


@pytest.mark.parametrize("sim,cfg", CASES)
def test_outputs_match_golden(sim, cfg, tile_batch):
    runs, res = _results(sim, cfg, tile_batch)
    ob = CONFIGS[cfg].out_bytes
    for run in runs:
        if run.reset_after is not None:
            continue
        r = res[run.name]
        assert not r["timeout"], f"{run.name}: {run.case.tile} never produced its last beat"
        got = [int(b, 16) for b in r["out_beats"]]
        assert len(got) == len(run.case.out_beats), f"{run.name}: {len(got)} beats until tlast, " \
                                                    f"expected {len(run.case.out_beats)}"
        for j, (g, w) in enumerate(zip(got, run.case.out_beats)):
            assert g == w, f"{run.name} {run.case.tile} beat {j}: got {g:0{2 * ob}x}, golden {w:0{2 * ob}x}"
        assert r["extra_outputs"] == 0, f"{run.name}: output beats after tlast"
        assert r["busy_after"] == 0, f"{run.name}: busy still high after the tile"


@pytest.mark.parametrize("sim,cfg", CASES)
def test_unstalled_cycles_equal_tile_cycles(sim, cfg, tile_batch):
    runs, res = _results(sim, cfg, tile_batch)
    p = CONFIGS[cfg]
    checked = 0
    for run in runs:
        r = res[run.name]
        if run.reset_after is not None or run.in_pause or run.out_pause:
            if run.reset_after is None:      # stalled tiles take longer, never shorter
                assert r["cycles"] >= tile_cycles(p, run.case.tile), run.name
            continue
        assert r["cycles"] == tile_cycles(p, run.case.tile), f"{run.name}: {run.case.tile}"
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("sim,cfg", CASES)
def test_reset_mid_tile_then_clean_tile(sim, cfg, tile_batch):
    runs, res = _results(sim, cfg, tile_batch)
    names = [r.name for r in runs]
    i = names.index("reset")
    assert runs[i + 1].name == "after-reset"
    assert res["reset"]["busy_after"] == 0, "busy still high right after the mid-tile reset"
    after = res["after-reset"]
    assert not after["timeout"]
    assert [int(b, 16) for b in after["out_beats"]] == runs[i + 1].case.out_beats
    assert after["cycles"] == tile_cycles(CONFIGS[cfg], runs[i + 1].case.tile)


def test_rtl_layer_one_tile_on_icarus(rtl_build):
    """The single-layer entry point ``hwsim rtl-check`` uses: measured cycles and outputs."""
    from rtl.sim import rtl_layer
    p = CONFIGS["pp2-icp4-ocp4-dw2"]
    tile = TileSpec(Mode.CONV, cin=6, cout=5, h=3, w=2, k=3)
    case = conv_case(p, tile, np.random.default_rng(7))
    res = rtl_layer(p, case, "icarus")
    assert res.out_beats == case.out_beats
    assert res.cycles == tile_cycles(p, tile)


def test_unknown_simulator_is_a_one_line_error():
    from hwsim.errors import HwsimError
    from rtl.sim import simulator_env
    with pytest.raises(HwsimError, match="unknown simulator 'modelsim'"):
        simulator_env("modelsim")


def test_default_ultra96_instance_on_icarus():
    """The shipped Ultra96 instance (PP=4, ICP=8, OCP=8; 256-bit streams) itself, one 3x3 and one
    1x1 tile: bit-exact and cycle-exact (Icarus builds it in seconds)."""
    from hwsim.config import load
    from rtl.sim import rtl_layer
    p = load().pe
    for tile in (TileSpec(Mode.CONV, cin=19, cout=10, h=3, w=3, k=3), TileSpec(Mode.CONV, cin=64, cout=16, h=4, w=4, k=1)):
        case = conv_case(p, tile, np.random.default_rng(tile.cin))
        res = rtl_layer(p, case, "icarus")
        assert res.out_beats == case.out_beats, tile
        assert res.cycles == tile_cycles(p, tile), tile
