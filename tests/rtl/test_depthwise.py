"""Depthwise engine (rtl.depthwise) against the NumPy golden (rtl.golden_dw) in the Amaranth
simulator: every mode, ragged channel groups, stride 2, padding, k = 2/3/5/7, stalls, reset mid-tile,
and measured cycles == rtl.cycles.tile_cycles."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from rtl import cycles
from rtl.cycles import check_tile, tile_cycles
from rtl.depthwise import LATENCY, PIPE_STAGES, DepthwiseEngine
from rtl.golden_dw import accumulate, dw_case, dw_tile_case, golden
from rtl.params import Mode, ParamError, PEArrayParams, TileSpec
from rtl.sim import run_amaranth

P4 = PEArrayParams()                                               # 4 lanes, 32-byte beats, k 3/5
P3 = PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=3, max_width=8)  # 3 lanes, 8-byte beats, tiny line buffer
P7 = PEArrayParams(pp=1, icp=4, ocp=4, dw_channels=1, dw_kernels=(3, 7), max_width=16)

TILES = [  # (params, tile)
    (P4, TileSpec(Mode.DW, 4, 4, 6, 7, k=3, stride=1, pad=1)),
    (P4, TileSpec(Mode.DW, 9, 9, 7, 6, k=3, stride=2, pad=1)),      # ragged last group, stride 2
    (P4, TileSpec(Mode.DW, 5, 5, 9, 8, k=5, stride=1, pad=2)),
    (P4, TileSpec(Mode.DW, 3, 3, 8, 9, k=5, stride=2, pad=2)),
    (P4, TileSpec(Mode.DW, 2, 2, 5, 5, k=3, stride=1, pad=0)),
    (P3, TileSpec(Mode.DW, 7, 7, 5, 8, k=3, stride=2, pad=1)),      # w == max_width
    (P7, TileSpec(Mode.DW, 2, 2, 8, 7, k=7, stride=1, pad=3)),
    (P4, TileSpec(Mode.MAXPOOL, 6, 6, 7, 7, k=3, stride=2, pad=1)),
    (P4, TileSpec(Mode.MAXPOOL, 4, 4, 6, 6, k=2, stride=2, pad=0)),
    (P3, TileSpec(Mode.MAXPOOL, 2, 2, 5, 4, k=5, stride=1, pad=2)),
    (P4, TileSpec(Mode.AVGPOOL, 5, 5, 6, 6, k=2, stride=2, pad=0)),
    (P4, TileSpec(Mode.AVGPOOL, 3, 3, 5, 7, k=3, stride=1, pad=1)),
    (P4, TileSpec(Mode.SCALE, 6, 6, 3, 5)),
    (P3, TileSpec(Mode.SCALE, 4, 4, 1, 1)),
    (P4, TileSpec(Mode.GAP, 9, 9, 4, 5)),
    (P3, TileSpec(Mode.GAP, 3, 3, 7, 3, k=7)),                      # k/stride/pad ignored by GAP
    (P4, TileSpec(Mode.ADD, 6, 6, 4, 3)),
    (P3, TileSpec(Mode.ADD, 4, 4, 3, 3)),
]


def _id(case):
    p, t = case
    return f"{t.mode.name}-d{p.dw_channels}-c{t.cin}-{t.h}x{t.w}-k{t.k}s{t.stride}p{t.pad}"


@pytest.mark.parametrize("case", TILES, ids=[_id(c) for c in TILES])
def test_mode_matches_golden_and_cycles(case):
    p, tile = case
    rng = np.random.default_rng(zlib.crc32(_id(case).encode()))
    c = dw_case(p, tile, rng)
    r = run_amaranth(DepthwiseEngine(p), c)
    assert r.out_beats == c.out_beats
    assert r.out_lasts == [0] * (len(c.out_beats) - 1) + [1]
    assert r.in_consumed == len(c.in_beats)
    assert r.cycles == tile_cycles(p, tile)


@pytest.mark.parametrize("tile", [TileSpec(Mode.DW, 5, 5, 9, 8, k=5, stride=2, pad=2),
                                  TileSpec(Mode.DW, 3, 3, 6, 6, k=3, stride=1, pad=1),
                                  TileSpec(Mode.SCALE, 5, 5, 4, 4), TileSpec(Mode.GAP, 3, 3, 4, 4),
                                  TileSpec(Mode.ADD, 3, 3, 3, 3)], ids=lambda t: t.mode.name)
def test_shipped_ultra96_instance(tile):
    """The accelerator the default board ships with (hwsim/data/accels/ultra96v1_default.toml)."""
    from hwsim.config import load
    p = load("ultra96v1").pe
    c = dw_case(p, tile, np.random.default_rng(5))
    r = run_amaranth(DepthwiseEngine(p), c)
    assert r.out_beats == c.out_beats
    assert r.cycles == tile_cycles(p, tile)


@pytest.mark.parametrize("tile", [TileSpec(Mode.DW, 5, 5, 6, 5, k=5, stride=2, pad=2),
                                  TileSpec(Mode.GAP, 5, 5, 3, 4),
                                  TileSpec(Mode.ADD, 5, 5, 3, 3)], ids=lambda t: t.mode.name)
def test_stalls_keep_results(tile):
    """Idle input and output backpressure at irregular rates change timing, never data."""
    c = dw_case(P4, tile, np.random.default_rng(7), use_lut=True, clamp=(-128, 127))
    r = run_amaranth(DepthwiseEngine(P4), c, in_pause=(0, 1, 0, 0, 1, 1, 0), out_pause=(1, 0, 1, 1, 0))
    assert r.out_beats == c.out_beats
    assert r.out_lasts[-1] == 1 and sum(r.out_lasts) == 1
    assert r.cycles > tile_cycles(P4, tile)


@pytest.mark.parametrize("mode", [Mode.SCALE, Mode.ADD, Mode.DW], ids=lambda m: m.name)
def test_group_handover_under_backpressure(mode):
    """Many small channel groups (1-2 beat blocks) with output stalls of every phase: a group's
    parameters must stay in place until its last step has left the sum stage."""
    tile = TileSpec(mode, 22, 22, 2, 3, k=3, pad=1) if mode == Mode.DW else TileSpec(mode, 22, 22, 2, 2)
    c = dw_case(P4, tile, np.random.default_rng(int(mode)), use_lut=False, clamp=(-128, 127))
    for out_pause in [(0, 0, 1), (0, 1, 1, 0, 0), (1, 0, 0, 0, 1, 1, 1), (0, 0, 0, 1)]:
        r = run_amaranth(DepthwiseEngine(P4), c, out_pause=out_pause)
        assert r.out_beats == c.out_beats, out_pause


def test_reset_mid_tile_then_clean_tile():
    """A synchronous reset in the middle of a tile returns to idle; the next tile is exact."""
    p = P4
    t1 = TileSpec(Mode.DW, 6, 6, 6, 6, k=3, stride=1, pad=1)
    t2 = TileSpec(Mode.AVGPOOL, 5, 5, 4, 4, k=3, stride=2, pad=1)
    rng = np.random.default_rng(3)
    c1, c2 = dw_case(p, t1, rng), dw_case(p, t2, rng)
    top = Module()
    top.domains.sync = cd = ClockDomain("sync")
    top.submodules.dut = dut = DepthwiseEngine(p)
    seen: dict[str, object] = {}

    async def tb(ctx):
        ctx.set(dut.m.ready, 1)
        ctx.set(dut.cfg, c1.cfg)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        i = outs = 0
        while outs < 3:                      # part-way through the first tile
            ctx.set(dut.s.valid, 1)
            ctx.set(dut.s.payload.data, c1.in_beats[i])
            if ctx.get(dut.s.ready):
                i += 1
            outs += ctx.get(dut.m.valid)
            await ctx.tick()
        assert ctx.get(dut.busy)
        ctx.set(dut.s.valid, 0)
        ctx.set(cd.rst, 1)
        await ctx.tick()
        ctx.set(cd.rst, 0)
        seen["after_reset"] = (ctx.get(dut.busy), ctx.get(dut.m.valid), ctx.get(dut.s.ready))
        ctx.set(dut.cfg, c2.cfg)
        ctx.set(dut.start, 1)
        got, cycle, i = [], 0, 0
        while True:
            if cycle == 1:
                ctx.set(dut.start, 0)
            ctx.set(dut.s.valid, int(i < len(c2.in_beats)))
            if i < len(c2.in_beats):
                ctx.set(dut.s.payload.data, c2.in_beats[i])
                if ctx.get(dut.s.ready):
                    i += 1
            if ctx.get(dut.m.valid):
                got.append(ctx.get(dut.m.payload.data))
                if ctx.get(dut.m.payload.last):
                    break
            cycle += 1
            assert cycle < 2000
            await ctx.tick()
        seen["got"], seen["cycles"] = got, cycle + 1

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen["after_reset"] == (0, 0, 0)
    assert seen["got"] == c2.out_beats
    assert seen["cycles"] == tile_cycles(p, t2)


def test_back_to_back_tiles():
    """Two tiles in a row on one engine instance: the second reloads its own LUT and taps."""
    p = P3
    rng = np.random.default_rng(11)
    cases = [dw_case(p, TileSpec(Mode.DW, 4, 4, 4, 5, k=3, stride=1, pad=1), rng, use_lut=True),
             dw_case(p, TileSpec(Mode.SCALE, 4, 4, 3, 2), rng, use_lut=True)]
    dut = DepthwiseEngine(p)
    got: list[list[int]] = []

    async def tb(ctx):
        ctx.set(dut.m.ready, 1)
        for c in cases:
            while ctx.get(dut.busy):
                await ctx.tick()
            ctx.set(dut.cfg, c.cfg)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            outs, i = [], 0
            while True:
                ctx.set(dut.s.valid, int(i < len(c.in_beats)))
                if i < len(c.in_beats):
                    ctx.set(dut.s.payload.data, c.in_beats[i])
                    if ctx.get(dut.s.ready):
                        i += 1
                if ctx.get(dut.m.valid):
                    outs.append(ctx.get(dut.m.payload.data))
                    if ctx.get(dut.m.payload.last):
                        await ctx.tick()
                        break
                await ctx.tick()
            ctx.set(dut.s.valid, 0)
            got.append(outs)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert got == [c.out_beats for c in cases]


# ---- golden model against independent, naive definitions

def _naive(mode, x, k, s, pad, taps=None):
    h, w, c = x.shape
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    out = np.zeros((oh, ow, c), dtype=np.int64)
    for oy, ox, ch in itertools.product(range(oh), range(ow), range(c)):
        vals = []
        for i, j in itertools.product(range(k), range(k)):
            yy, xx = oy * s + i - pad, ox * s + j - pad
            inside = 0 <= yy < h and 0 <= xx < w
            v = int(x[yy, xx, ch]) if inside else None
            if mode == Mode.DW:
                vals.append((v or 0) * int(taps[ch, i, j]))
            elif mode == Mode.AVGPOOL:
                vals.append(v or 0)
            elif inside:
                vals.append(v)
        out[oy, ox, ch] = max(vals) if mode == Mode.MAXPOOL else sum(vals)
    return out


@pytest.mark.parametrize("mode,k,s,pad", [(Mode.DW, 3, 2, 1), (Mode.DW, 5, 1, 2), (Mode.MAXPOOL, 3, 2, 1),
                                          (Mode.AVGPOOL, 2, 2, 0), (Mode.AVGPOOL, 3, 1, 1)])
def test_golden_windows_match_naive(mode, k, s, pad):
    rng = np.random.default_rng(k * 10 + s)
    x = rng.integers(-128, 128, size=(7, 6, 3))
    x[:, :, 2] = -100                                # max pooling must not see its padding as a value
    taps = rng.integers(-128, 128, size=(3, k, k)) if mode == Mode.DW else None
    got = accumulate(mode, x, k=k, stride=s, pad=pad, taps=taps)
    assert np.array_equal(got, _naive(mode, x, k, s, pad, taps))
    if mode == Mode.MAXPOOL:
        assert np.all(got[:, :, 2] == -100)


def test_golden_pixelwise_modes():
    x = np.array([[[10, -20]], [[30, 40]]])                           # h=2, w=1, C=2
    b = np.array([[[1, 2]], [[3, -4]]])
    assert accumulate(Mode.GAP, x).tolist() == [[[40, 20]]]
    assert accumulate(Mode.SCALE, x, taps=np.array([2, -3])).tolist() == [[[20, 60]], [[60, -120]]]
    assert accumulate(Mode.ADD, x, taps=np.array([[2, 5], [2, 5]]), b=b).tolist() == [[[25, -30]], [[75, 60]]]
    # 2x2 average pool of a constant 40 with mult/shift = 1/4 gives 40 back
    y = golden(Mode.AVGPOOL, np.full((4, 4, 1), 40), 0, 1, 2, k=2, stride=2)
    assert y.tolist() == [[[40], [40]], [[40], [40]]]


def test_latency_constants_match_cycle_model():
    assert LATENCY == cycles.DW_LATENCY
    assert PIPE_STAGES == cycles.DW_PARAM_HOLD


def test_cycle_formula_steady_state():
    """One input pixel per cycle: a wider tile costs exactly its extra steps per group."""
    a = tile_cycles(P4, TileSpec(Mode.DW, 8, 8, 10, 10, k=3, pad=1))
    b = tile_cycles(P4, TileSpec(Mode.DW, 8, 8, 10, 11, k=3, pad=1))
    assert b - a == 2 * (10 + 1)
    g1 = tile_cycles(P4, TileSpec(Mode.SCALE, 4, 4, 10, 10))
    g2 = tile_cycles(P4, TileSpec(Mode.SCALE, 8, 8, 10, 10))
    assert g2 - g1 == 100 + 3            # one more group: its pixels, its block loaded during the drain


@pytest.mark.parametrize("p,tile,msg", [
    (P4, TileSpec(Mode.DW, 4, 4, 8, 8, k=7, pad=1), "depthwise kernel 7"),
    (P4, TileSpec(Mode.MAXPOOL, 4, 4, 8, 8, k=6), "exceeds the depthwise window"),
    (P3, TileSpec(Mode.DW, 4, 4, 8, 9, k=3, pad=1), "width 9 exceeds the line buffer"),
    (P4, TileSpec(Mode.AVGPOOL, 4, 4, 9, 9, k=3, stride=3), "stride 3"),
    (P4, TileSpec(Mode.DW, 4, 4, 8, 8, k=3, pad=3), "pad 3"),
    (P4, TileSpec(Mode.DW, 4, 4, 1, 8, k=5, pad=1), "smaller than its 5x5 window"),
    (P4, TileSpec(Mode.SCALE, 4, 8, 8, 8), "cout must equal cin"),
    (PEArrayParams(pp=1, icp=2, dw_channels=2), TileSpec(Mode.ADD, 2, 2, 4, 4), "4 input lanes"),
    (PEArrayParams(acc_width=16), TileSpec(Mode.GAP, 4, 4, 16, 17), "acc = -34816, beyond the 16-bit"),
    (PEArrayParams(acc_width=16), TileSpec(Mode.ADD, 4, 4, 2, 2), "acc = 32768"),
    (P4, TileSpec(Mode.GAP, 4, 4, 4096, 2), "4095"),
])
def test_check_tile_rejects(p, tile, msg):
    with pytest.raises(ParamError, match=msg):
        check_tile(p, tile)
    with pytest.raises(ParamError, match=msg):
        tile_cycles(p, tile)


def test_packer_rejects_bad_quantisation():
    tile = TileSpec(Mode.SCALE, 2, 2, 1, 1)
    x = np.zeros((1, 1, 2), dtype=np.int64)
    with pytest.raises(ParamError, match="shift"):
        dw_tile_case(P4, tile, x, 0, 1, 60, taps=np.ones(2))
    with pytest.raises(ParamError, match="clamp range"):
        dw_tile_case(P4, tile, x, 0, 1, 0, taps=np.ones(2), clamp_lo=10, clamp_hi=5)


def test_check_tile_accepts_exact_accumulator_limits():
    check_tile(PEArrayParams(acc_width=16), TileSpec(Mode.GAP, 4, 4, 16, 16))      # -128 * 256 = -2^15
    check_tile(PEArrayParams(acc_width=20), TileSpec(Mode.DW, 4, 4, 8, 8, k=5, pad=2))
