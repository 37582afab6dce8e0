"""Depthwise engine (rtl.depthwise) against the NumPy golden (rtl.golden_dw) in the Amaranth
simulator: every mode, ragged channel groups (window lanes and the wide SCALE/GAP/ADD lanes),
stride 2, padding, k = 2/3/5/7, stalls, reset mid-tile, and measured cycles ==
rtl.cycles.tile_cycles."""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from rtl import cycles
from rtl.cycles import check_tile, tile_cycles
from rtl.depthwise import EW_LATENCY, LATENCY, PIPE_STAGES, DepthwiseEngine, gap_chunks
from rtl.golden_dw import accumulate, dw_case, dw_tile_case, golden, group_lanes, pack
from rtl.params import Mode, ParamError, PEArrayParams, TileSpec
from rtl.sim import drive_tile, run_amaranth

P4 = PEArrayParams()                                               # 4 lanes, 32-byte beats, k 3/5: L 32, A 16
P3 = PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=3, max_width=8)  # 3 lanes, 8-byte beats, tiny line buffer: L 8, A 4
P7 = PEArrayParams(pp=1, icp=4, ocp=4, dw_channels=1, dw_kernels=(3, 7), max_width=16)   # L 4, A 2, 4 GAP chunks
PN = PEArrayParams(pp=1, icp=8, ocp=4, dw_channels=4)               # out beats narrower than in beats: L 4, A 4
PX = PEArrayParams(pp=4, icp=8, ocp=8, dw_channels=1, dw_kernels=(2,), max_width=16)  # 4 window multipliers < 32 lanes

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
    (P4, TileSpec(Mode.SCALE, 70, 70, 2, 3)),                       # 3 groups of 32, ragged
    (P4, TileSpec(Mode.SCALE, 64, 64, 2, 2)),                       # whole groups
    (P3, TileSpec(Mode.SCALE, 4, 4, 1, 1)),
    (P3, TileSpec(Mode.SCALE, 19, 19, 2, 1)),
    (PN, TileSpec(Mode.SCALE, 9, 9, 2, 2)),
    (P7, TileSpec(Mode.SCALE, 5, 5, 3, 2)),
    (PX, TileSpec(Mode.SCALE, 40, 40, 1, 3)),
    (P4, TileSpec(Mode.GAP, 9, 9, 4, 5)),
    (P4, TileSpec(Mode.GAP, 70, 70, 3, 2)),
    (P3, TileSpec(Mode.GAP, 3, 3, 7, 3, k=7)),                      # k/stride/pad ignored by GAP
    (P3, TileSpec(Mode.GAP, 17, 17, 2, 3)),                         # 8 lanes through 3-lane PostProc
    (P7, TileSpec(Mode.GAP, 9, 9, 1, 1)),
    (PN, TileSpec(Mode.GAP, 6, 6, 2, 2)),
    (PX, TileSpec(Mode.GAP, 33, 33, 2, 2)),
    (P4, TileSpec(Mode.ADD, 6, 6, 4, 3)),
    (P4, TileSpec(Mode.ADD, 40, 40, 2, 3)),                         # 3 groups of 16, ragged
    (P3, TileSpec(Mode.ADD, 4, 4, 3, 3)),
    (P3, TileSpec(Mode.ADD, 9, 9, 3, 1)),
    (P7, TileSpec(Mode.ADD, 5, 5, 2, 2)),
    (PN, TileSpec(Mode.ADD, 10, 10, 1, 2)),
    (PX, TileSpec(Mode.ADD, 35, 35, 2, 1)),
]


def _id(case):
    p, t = case
    return f"{t.mode.name}-d{p.dw_channels}b{p.in_bytes}o{p.out_bytes}-c{t.cin}-{t.h}x{t.w}-k{t.k}s{t.stride}p{t.pad}"


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
                                  TileSpec(Mode.ADD, 3, 3, 3, 3), TileSpec(Mode.SCALE, 72, 72, 2, 3),
                                  TileSpec(Mode.GAP, 40, 40, 3, 3), TileSpec(Mode.ADD, 33, 33, 2, 2)],
                         ids=lambda t: f"{t.mode.name}-{t.cin}")
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
                                  TileSpec(Mode.GAP, 70, 70, 2, 2),
                                  TileSpec(Mode.SCALE, 70, 70, 3, 2),
                                  TileSpec(Mode.ADD, 5, 5, 3, 3),
                                  TileSpec(Mode.ADD, 40, 40, 2, 2)], ids=lambda t: f"{t.mode.name}-{t.cin}")
def test_stalls_keep_results(tile):
    """Idle input and output backpressure at irregular rates change timing, never data."""
    c = dw_case(P4, tile, np.random.default_rng(7), use_lut=True, clamp=(-128, 127))
    r = run_amaranth(DepthwiseEngine(P4), c, in_pause=(0, 1, 0, 0, 1, 1, 0), out_pause=(1, 0, 1, 1, 0))
    assert r.out_beats == c.out_beats
    assert r.out_lasts[-1] == 1 and sum(r.out_lasts) == 1
    assert r.cycles > tile_cycles(P4, tile)


@pytest.mark.parametrize("p,mode", [(P4, Mode.SCALE), (P4, Mode.ADD), (P4, Mode.DW), (P4, Mode.GAP),
                                    (P3, Mode.GAP), (P3, Mode.SCALE)], ids=lambda v: getattr(v, "name", ""))
def test_group_handover_under_backpressure(p, mode):
    """Many small channel groups with output stalls of every phase: a group's parameters (and its
    lane mask) must stay in place until its last step has used them (GAP: until its serialised
    post-processing has taken the last chunk); ADD's groups follow each other without a gap."""
    n = 5 * group_lanes(p, mode) + 2
    tile = TileSpec(mode, n, n, 2, 3, k=3, pad=1) if mode == Mode.DW else TileSpec(mode, n, n, 1 + (mode != Mode.GAP), 2)
    c = dw_case(p, tile, np.random.default_rng(int(mode)), use_lut=False, clamp=(-128, 127))
    for out_pause in [(0, 0, 1), (0, 1, 1, 0, 0), (1, 0, 0, 0, 1, 1, 1), (0, 0, 0, 1)]:
        r = run_amaranth(DepthwiseEngine(p), c, out_pause=out_pause, in_pause=(0, 0, 0, 1, 0))
        assert r.out_beats == c.out_beats, out_pause
        assert r.out_lasts == [0] * (len(c.out_beats) - 1) + [1]


@pytest.mark.parametrize("t1,t2", [
    (TileSpec(Mode.DW, 6, 6, 6, 6, k=3, stride=1, pad=1), TileSpec(Mode.AVGPOOL, 5, 5, 4, 4, k=3, stride=2, pad=1)),
    (TileSpec(Mode.GAP, 70, 70, 2, 2), TileSpec(Mode.SCALE, 40, 40, 2, 3)),
    (TileSpec(Mode.ADD, 40, 40, 2, 2), TileSpec(Mode.GAP, 40, 40, 2, 2)),
    (TileSpec(Mode.SCALE, 70, 70, 2, 2), TileSpec(Mode.ADD, 20, 20, 2, 3)),
], ids=lambda t: t.mode.name)
def test_reset_mid_tile_then_clean_tile(t1, t2):
    """A synchronous reset in the middle of a tile returns to idle; the next tile is exact."""
    p = P4
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
        while outs < 1 or i < len(c1.in_beats) // 2:      # part-way through the first tile
            assert i < len(c1.in_beats)
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
        r = await drive_tile(ctx, dut, c2)
        seen["got"], seen["cycles"] = r.out_beats, r.cycles

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
            got.append((await drive_tile(ctx, dut, c)).out_beats)

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
    assert accumulate(Mode.SCALE, x, taps=np.array([2, 300])).tolist() == [[[20, -6000]], [[60, 12000]]]
    assert accumulate(Mode.ADD, x, taps=np.array([2, -5]), b=b).tolist() == [[[15, -50]], [[45, 100]]]
    # SCALE / ADD: round to nearest, ties toward +inf, then saturate and clamp; no bias/mult/LUT
    xs = np.array([[[3, -3, 5, -5, 127, -128]]])
    s = np.array([1, 1, 1, 1, 65535, 65535])
    assert golden(Mode.SCALE, xs, shift=1, taps=s).tolist() == [[[2, -1, 3, -2, 127, -128]]]
    assert golden(Mode.SCALE, xs, shift=0, taps=s, clamp_lo=0, clamp_hi=4).tolist() == [[[3, 0, 4, 0, 4, 0]]]
    assert golden(Mode.SCALE, xs, shift=31, taps=s).tolist() == [[[0, 0, 0, 0, 0, 0]]]
    assert golden(Mode.ADD, x, shift=2, taps=np.array([2, -5]), b=b).tolist() == [[[4, -12]], [[11, 25]]]
    # 2x2 average pool of a constant 40 with mult/shift = 1/4 gives 40 back
    y = golden(Mode.AVGPOOL, np.full((4, 4, 1), 40), 0, 1, 2, k=2, stride=2)
    assert y.tolist() == [[[40], [40]], [[40], [40]]]


def test_latency_constants_match_cycle_model():
    assert LATENCY == cycles.DW_LATENCY
    assert EW_LATENCY == cycles.EW_LATENCY
    assert PIPE_STAGES == cycles.DW_PARAM_HOLD
    for p in (P4, P3, P7, PN, PX):
        assert gap_chunks(p) == cycles.gap_chunks(p)


def test_lane_counts_and_multipliers():
    """ew_lanes = min(in_bytes, out_bytes), add_lanes = min(in_bytes // 2, out_bytes); the window
    multipliers are reused, extra ones only when the pixel-wise lanes outnumber them."""
    from hwsim.config import load
    u = load("ultra96v1").pe
    assert (u.in_bytes, u.out_bytes, u.ew_lanes, u.add_lanes) == (32, 32, 32, 16)
    assert u.dw_multipliers == u.dw_channels * 25 == 50                      # 32 and 2 x 16 lanes fit in 50
    assert (PN.ew_lanes, PN.add_lanes, PN.dw_multipliers) == (4, 4, 100)
    assert (P7.ew_lanes, P7.add_lanes) == (4, 2)
    assert (PX.ew_lanes, PX.add_lanes, PX.dw_multipliers, PX.multipliers) == (32, 16, 32, 256 + 32)
    assert PEArrayParams(pp=1, icp=1, ocp=1, dw_channels=1).add_lanes == 0


def test_cycle_formula_steady_state():
    """One input pixel per cycle: a wider tile costs exactly its extra steps per group."""
    a = tile_cycles(P4, TileSpec(Mode.DW, 8, 8, 10, 10, k=3, pad=1))
    b = tile_cycles(P4, TileSpec(Mode.DW, 8, 8, 10, 11, k=3, pad=1))
    assert b - a == 2 * (10 + 1)
    g1 = tile_cycles(P4, TileSpec(Mode.SCALE, 32, 32, 10, 10))
    g2 = tile_cycles(P4, TileSpec(Mode.SCALE, 64, 64, 10, 10))
    assert g2 - g1 == 100 + 3            # one more group of 32: its pixels, its 2-beat block during the hold
    assert tile_cycles(P4, TileSpec(Mode.SCALE, 33, 33, 10, 10)) == g2
    a1 = tile_cycles(P4, TileSpec(Mode.ADD, 16, 16, 10, 10))
    assert tile_cycles(P4, TileSpec(Mode.ADD, 32, 32, 10, 10)) - a1 == 100   # ADD groups back to back
    assert a1 == 1 + 1 + 100 + 4        # start, header beat, pixels, EW_LATENCY
    q1 = tile_cycles(P4, TileSpec(Mode.GAP, 32, 32, 10, 10))
    assert tile_cycles(P4, TileSpec(Mode.GAP, 64, 64, 10, 10)) - q1 == 100 + 3 + 8 - 1   # hold: 8 chunks of 4
    assert q1 == 1 + 8 + 7 + 99 + 8 + 8 + 1    # start, LUT, block, last step, latency + chunks, inclusive


@pytest.mark.parametrize("p,tile,msg", [
    (P4, TileSpec(Mode.DW, 4, 4, 8, 8, k=7, pad=1), "depthwise kernel 7"),
    (P4, TileSpec(Mode.MAXPOOL, 4, 4, 8, 8, k=6), "exceeds the depthwise window"),
    (P3, TileSpec(Mode.DW, 4, 4, 8, 9, k=3, pad=1), "width 9 exceeds the line buffer"),
    (P4, TileSpec(Mode.AVGPOOL, 4, 4, 9, 9, k=3, stride=3), "stride 3"),
    (P4, TileSpec(Mode.DW, 4, 4, 8, 8, k=3, pad=3), "pad 3"),
    (P4, TileSpec(Mode.DW, 4, 4, 1, 8, k=5, pad=1), "smaller than its 5x5 window"),
    (P4, TileSpec(Mode.SCALE, 4, 8, 8, 8), "cout must equal cin"),
    (PEArrayParams(pp=1, icp=1, ocp=1, dw_channels=1), TileSpec(Mode.ADD, 2, 2, 4, 4), "2 input lanes per channel"),
    (PEArrayParams(acc_width=16), TileSpec(Mode.GAP, 4, 4, 16, 17), "acc = -34816, beyond the 16-bit"),
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
    with pytest.raises(ParamError, match="shift must be 0..31"):
        dw_tile_case(P4, tile, x, 0, 1, 32, taps=np.ones(2))
    with pytest.raises(ParamError, match="clamp range"):
        dw_tile_case(P4, tile, x, 0, 1, 0, taps=np.ones(2), clamp_lo=10, clamp_hi=5)
    with pytest.raises(ParamError, match="unsigned 16-bit"):
        dw_tile_case(P4, tile, x, 0, 1, 3, taps=np.array([1, 65536]))
    with pytest.raises(ParamError, match="no bias, mult or activation LUT"):
        dw_tile_case(P4, tile, x, 5, 1, 3, taps=np.ones(2))
    with pytest.raises(ParamError, match="per-tensor shift"):
        dw_tile_case(P4, tile, x, 0, 1, [1, 2], taps=np.ones(2))
    add = TileSpec(Mode.ADD, 2, 2, 1, 1)
    with pytest.raises(ParamError, match="signed 16-bit"):
        dw_tile_case(P4, add, x, 0, 1, 3, taps=np.array([1, 1 << 15]), b=x)
    with pytest.raises(ParamError, match="shift"):
        dw_tile_case(P4, TileSpec(Mode.GAP, 2, 2, 1, 1), x, 0, 1, 48)


def test_packing_of_the_pixelwise_modes():
    """Stream layout of SCALE / ADD / GAP (rtl.golden_dw docstring), byte by byte on P3 (8-byte beats,
    L = 8, A = 4, dw_channels 3)."""
    def lanes(word):
        return list(int(word).to_bytes(8, "little"))
    x = np.arange(1, 10).reshape(1, 1, 9)                                  # 9 channels: 2 groups
    s = np.arange(0x101, 0x10a)
    st = pack(P3, TileSpec(Mode.SCALE, 9, 9, 1, 1), x, shift=7, taps=s)
    assert len(st) == 1 + 2 * (2 + 1)                                      # header, 2 x (s block, pixel)
    assert lanes(st[0]) == [0] * 7 + [7]
    assert lanes(st[1]) + lanes(st[2]) == [b for v in s[:8] for b in (v & 255, v >> 8)]
    assert lanes(st[3]) == list(range(1, 9))
    assert lanes(st[4]) + lanes(st[5]) == [9, 1] + [0] * 14 and lanes(st[6]) == [9] + [0] * 7
    b = -np.arange(1, 10).reshape(1, 1, 9)
    st = pack(P3, TileSpec(Mode.ADD, 9, 9, 1, 1), x, shift=3, taps=(-2, 0x1234), b=b)
    assert lanes(st[0]) == [0, 0, 0, 0xFE, 0xFF, 0x34, 0x12, 3]         # right-aligned ma, mb, shift
    assert len(st) == 1 + 3 and lanes(st[1]) == [1, 2, 3, 4, 255, 254, 253, 252]
    assert lanes(st[3]) == [9, 0, 0, 0, 247, 0, 0, 0]
    st = pack(P3, TileSpec(Mode.GAP, 9, 9, 1, 1), x, bias=-1, mult=0x203, shift=5)
    assert len(st) == 32 + 2 * (7 + 1)                                     # LUT, 2 x (7-beat block, pixel)
    blk = sum((lanes(w) for w in st[32:39]), [])
    assert blk == [255] * 32 + [3, 2] * 8 + [5] * 8


def test_check_tile_accepts_exact_accumulator_limits():
    check_tile(PEArrayParams(acc_width=16), TileSpec(Mode.GAP, 4, 4, 16, 16))      # -128 * 256 = -2^15
    check_tile(PEArrayParams(acc_width=20), TileSpec(Mode.DW, 4, 4, 8, 8, k=5, pad=2))
    for mode in (Mode.SCALE, Mode.ADD):      # no accumulator: the light path is fixed-width
        check_tile(PEArrayParams(acc_width=16), TileSpec(mode, 4, 4, 4095, 4095))
