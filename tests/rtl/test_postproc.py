"""PostProc against rtl.golden.requantize, in the Amaranth simulator, with random stalls."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtl.golden import requantize
from rtl.postproc import MAX_SHIFT, PostProc, lut_beats, lut_word_bytes


def test_lut_word_bytes():
    assert [lut_word_bytes(b) for b in (1, 2, 3, 8, 24, 32, 300)] == [1, 2, 2, 8, 16, 32, 256]
    assert lut_beats(24) == 16


def _vectors(rng, n, lanes, acc_width):
    lim = 1 << (acc_width - 1)
    acc = rng.integers(-lim, lim, size=(n, lanes), dtype=np.int64)
    # mix of huge and realistic accumulators so both saturation and in-range rounding are hit
    small = rng.integers(-5000, 5000, size=(n, lanes))
    acc = np.where(rng.random((n, lanes)) < 0.7, small, acc)
    bias = rng.integers(-(1 << 31), 1 << 31, size=(n, lanes), dtype=np.int64)
    bias = np.where(rng.random((n, lanes)) < 0.7, rng.integers(-3000, 3000, size=(n, lanes)), bias)
    mult = rng.integers(0, 1 << 16, size=(n, lanes))
    shift = rng.integers(0, MAX_SHIFT + 1, size=(n, lanes))
    shift = np.where(rng.random((n, lanes)) < 0.6, rng.integers(14, 26, size=(n, lanes)), shift)
    mask = rng.integers(0, 2, size=(n, lanes))
    return acc, bias, mult, shift, mask


@pytest.mark.parametrize("lanes,lut_word,lut_on", [(3, 4, False), (4, 8, True), (2, 1, True)])
def test_postproc_matches_golden(lanes, lut_word, lut_on):
    rng = np.random.default_rng(lanes * 10 + lut_word)
    acc_width = 32
    n = 60
    acc, bias, mult, shift, mask = _vectors(rng, n, lanes, acc_width)
    clamp_lo, clamp_hi = (-100, 90) if lut_on else (0, 127)
    lut = rng.integers(-128, 128, size=256)
    want = np.stack([requantize(acc[i], bias[i], mult[i], shift[i], clamp_lo, clamp_hi,
                                lut if lut_on else None) for i in range(n)]).astype(np.int64)
    want = np.where(mask == 1, want, 0)

    dut = PostProc(lanes, acc_width, lut_word)
    got: list[list[int]] = []
    lasts: list[int] = []

    async def tb(ctx):
        ctx.set(dut.clamp_lo, clamp_lo)
        ctx.set(dut.clamp_hi, clamp_hi)
        ctx.set(dut.lut_en, int(lut_on))
        for a in range(256 // lut_word):      # load the LUT one word per cycle
            word = sum((int(lut[a * lut_word + j]) & 0xFF) << (8 * j) for j in range(lut_word))
            ctx.set(dut.lut_we, 1)
            ctx.set(dut.lut_waddr, a)
            ctx.set(dut.lut_wdata, word)
            await ctx.tick()
        ctx.set(dut.lut_we, 0)
        i = 0
        cycles = 0
        while len(got) < n:
            cycles += 1
            assert cycles < 20 * n, "post-processing pipeline stopped producing results"
            en = int(rng.random() < 0.7)
            ctx.set(dut.en, en)
            feed = i < n and rng.random() < 0.8
            ctx.set(dut.i_valid, int(feed))
            if feed:
                ctx.set(dut.i_acc, [int(v) for v in acc[i]])
                ctx.set(dut.i_bias, [int(v) for v in bias[i]])
                ctx.set(dut.i_mult, [int(v) for v in mult[i]])
                ctx.set(dut.i_shift, [int(v) for v in shift[i]])
                ctx.set(dut.i_mask, sum(int(b) << j for j, b in enumerate(mask[i])))
                ctx.set(dut.i_last, int(i == n - 1))
            if en and ctx.get(dut.o_valid):
                got.append([ctx.get(dut.o_data[j]) for j in range(lanes)])
                lasts.append(ctx.get(dut.o_last))
            if en and feed:
                i += 1
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    np.testing.assert_array_equal(np.array(got), want)
    assert lasts == [0] * (n - 1) + [1]


def test_postproc_latency_is_fixed():
    dut = PostProc(1, 32, 1)
    seen: list[int] = []

    async def tb(ctx):
        ctx.set(dut.en, 1)
        ctx.set(dut.clamp_lo, -128)
        ctx.set(dut.clamp_hi, 127)
        ctx.set(dut.i_mask, 1)
        ctx.set(dut.i_acc, [5])
        ctx.set(dut.i_mult, [1])
        ctx.set(dut.i_valid, 1)
        await ctx.tick()
        ctx.set(dut.i_valid, 0)
        for c in range(1, 10):
            if ctx.get(dut.o_valid):
                seen.append(c)
                assert ctx.get(dut.o_data[0]) == 5
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen == [PostProc.LATENCY]
