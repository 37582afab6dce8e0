"""cocotb regression of the depthwise engine inside the emitted ``layer_engine`` Verilog, on Icarus
and Verilator, for the shared regression configurations (tests/rtl/conftest.py): random shapes of
every depthwise-engine mode (ragged channel groups of the dw_channels window lanes and of the wide
SCALE/GAP/ADD lanes, stride 2, padding, k = 2/3/5), random data and quantisation, random
idle/backpressure, resets mid-tile (a window tile, a GAP tile) each followed by a clean tile.  Every output
beat is compared with ``rtl.golden_dw``; every unstalled tile's measured cycles must equal
``rtl.cycles.tile_cycles`` exactly.  One simulation per (simulator, configuration) runs the batch
on the build the other benches share."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from rtl.cycles import tile_cycles
from rtl.golden_dw import dw_case, group_lanes
from rtl.params import Mode, PEArrayParams, TileSpec
from rtl.sim import TileRun

from .conftest import CONFIGS, SIMS

pytestmark = pytest.mark.cocotb

MODES = [Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL, Mode.SCALE, Mode.GAP, Mode.ADD]
N_FIXED, N_RANDOM, N_STALLED = 8, 36, 16


def _random_tile(rng: np.random.Generator, p: PEArrayParams, mode: Mode) -> TileSpec:
    cin = int(rng.integers(1, 3 * group_lanes(p, mode) + 2))      # up to 4 groups, usually ragged
    h, w = int(rng.integers(1, 8)), int(rng.integers(1, 12))
    if mode in (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL):
        k = int(rng.choice(p.dw_kernels if mode == Mode.DW else (2, 3, 5)))
        stride = int(rng.integers(1, 3))
        pad = int(rng.integers(0, min(k - 1, 2) + 1))
        h, w = max(h, k - 2 * pad), max(w, k - 2 * pad)
        return TileSpec(mode, cin, cin, h, w, k=k, stride=stride, pad=pad)
    return TileSpec(mode, cin, cin, h, w)


def _pause(rng: np.random.Generator) -> list[int]:
    """A cycled pause pattern with at least one open cycle (all ones would never transfer)."""
    pat = [int(v) for v in rng.random(int(rng.integers(3, 12))) < rng.uniform(0.2, 0.6)]
    pat[int(rng.integers(len(pat)))] = 0
    return pat


def _batch(p: PEArrayParams, seed: int) -> list[TileRun]:
    rng = np.random.default_rng(seed)
    runs: list[TileRun] = []
    d = p.dw_channels
    el, al = p.ew_lanes, p.add_lanes

    def add(name, tile, **kw):
        runs.append(TileRun(name, dw_case(p, tile, rng), **kw))

    fixed = [TileSpec(Mode.DW, d + 1, d + 1, 6, 7, k=3, stride=1, pad=1),
             TileSpec(Mode.DW, 2 * d + 1, 2 * d + 1, 7, 6, k=5, stride=2, pad=2),
             TileSpec(Mode.DW, d, d, 3, 40, k=5, stride=1, pad=2),
             TileSpec(Mode.MAXPOOL, d + 1, d + 1, 7, 7, k=3, stride=2, pad=1),
             TileSpec(Mode.AVGPOOL, d, d, 6, 6, k=2, stride=2),
             TileSpec(Mode.SCALE, 2 * el + 1, 2 * el + 1, 3, 4),
             TileSpec(Mode.GAP, el + 1, el + 1, 5, 5),
             TileSpec(Mode.ADD, 2 * al + 1, 2 * al + 1, 4, 3)]
    assert len(fixed) == N_FIXED
    for i, t in enumerate(fixed):
        add(f"fixed{i}-{t.mode.name}", t)
    for i in range(N_RANDOM):
        add(f"rand{i}", _random_tile(rng, p, MODES[i % len(MODES)]))
    for i in range(N_STALLED):
        add(f"stall{i}", _random_tile(rng, p, MODES[(i + 3) % len(MODES)]), in_pause=_pause(rng),
            out_pause=_pause(rng))
    reset_tile = TileSpec(Mode.DW, d + 2, d + 2, 6, 6, k=3, stride=1, pad=1)
    add("reset", reset_tile, reset_after=int(rng.integers(10, tile_cycles(p, reset_tile))), out_pause=[0, 1])
    add("after-reset", TileSpec(Mode.DW, d + 1, d + 1, 5, 6, k=5, stride=2, pad=2))
    gap_tile = TileSpec(Mode.GAP, 2 * el + 1, 2 * el + 1, 3, 4)
    add("reset-gap", gap_tile, reset_after=int(rng.integers(10, tile_cycles(p, gap_tile))), out_pause=[0, 0, 1])
    add("after-reset-gap", TileSpec(Mode.SCALE, el + 2, el + 2, 2, 3))
    return runs


def _results(sim: str, cfg: str, tile_batch) -> tuple[list[TileRun], dict[str, dict]]:
    return tile_batch(sim, cfg, _batch, zlib.crc32(b"dw-" + cfg.encode()), "rtl.tb.tb_dw")


CASES = [pytest.param(sim, cfg, id=f"{sim}-{cfg}") for sim in SIMS for cfg in CONFIGS]


@pytest.mark.parametrize("sim,cfg", CASES)
def test_outputs_match_golden(sim, cfg, tile_batch):
    runs, res = _results(sim, cfg, tile_batch)
    bad = []
    for run in runs:
        if run.reset_after is not None:
            continue
        r = res[run.name]
        got = [int(b, 16) for b in r["out_beats"]]
        want = run.case.out_beats
        if r["timeout"] or got != want or r["extra_outputs"] or r["busy_after"]:
            diff = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
            bad.append(f"{run.name} {run.case.tile}: timeout={r['timeout']} extra={r['extra_outputs']} "
                       f"busy_after={r['busy_after']}, {len(got)}/{len(want)} beats, first difference at {diff}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("sim,cfg", CASES)
def test_unstalled_cycles_match_tile_cycles(sim, cfg, tile_batch):
    runs, res = _results(sim, cfg, tile_batch)
    p = CONFIGS[cfg]
    unstalled = [r for r in runs if r.in_pause is None and r.reset_after is None]
    assert len(unstalled) == N_FIXED + N_RANDOM + 2
    measured = {r.name: res[r.name]["cycles"] for r in unstalled}
    assert measured == {r.name: tile_cycles(p, r.case.tile) for r in unstalled}


@pytest.mark.parametrize("sim,cfg", CASES)
def test_reset_mid_tile_then_clean_tile(sim, cfg, tile_batch):
    runs, res = _results(sim, cfg, tile_batch)
    for name in ("reset", "reset-gap"):
        assert res[name]["busy_after"] == 0
        after = next(r for r in runs if r.name == f"after-{name}")
        assert [int(b, 16) for b in res[f"after-{name}"]["out_beats"]] == after.case.out_beats
        assert res[f"after-{name}"]["cycles"] == tile_cycles(CONFIGS[cfg], after.case.tile)
