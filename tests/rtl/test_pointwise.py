"""PointwiseArray (CONV engine) against the NumPy golden in the Amaranth simulator."""

from __future__ import annotations

import numpy as np
import pytest

from rtl.cycles import check_tile, tile_cycles
from rtl.golden_pw import conv_case, conv_golden, im2col, unpack_beat
from rtl.params import Mode, ParamError, PEArrayParams, TileSpec
from rtl.pointwise import PointwiseArray, packed_products
from rtl.sim import run_amaranth

SMALL = PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2, wbuf_depth=64)
NARROW = PEArrayParams(pp=1, icp=8, ocp=4, dw_channels=4, wbuf_depth=64)
PACKED = PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2, wbuf_depth=64, macs_per_dsp=2)
PACKED_NARROW = PEArrayParams(pp=1, icp=8, ocp=4, dw_channels=4, wbuf_depth=64, macs_per_dsp=2)


def test_im2col_is_a_convolution():
    rng = np.random.default_rng(1)
    img = rng.integers(-5, 5, size=(4, 5, 3))
    w = rng.integers(-5, 5, size=(3, 3, 3, 2))
    y = im2col(img, 3, 1, 1) @ w.reshape(27, 2)
    ip = np.pad(img, ((1, 1), (1, 1), (0, 0)))
    ref = np.einsum("ijabc,abco->ijo", np.stack([np.stack([ip[i:i + 3, j:j + 3] for j in range(5)])
                                                 for i in range(4)]), w).reshape(20, 2)
    np.testing.assert_array_equal(y, ref)


def _check(p, tile, seed, in_pause=(0,), out_pause=(0,), **kw):
    case = conv_case(p, tile, np.random.default_rng(seed), **kw)
    res = run_amaranth(PointwiseArray(p), case, in_pause=in_pause, out_pause=out_pause)
    ob = p.out_bytes
    got = np.array([unpack_beat(b, ob) for b in res.out_beats])
    want = np.array([unpack_beat(b, ob) for b in case.out_beats])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert res.out_lasts == [0] * (len(want) - 1) + [1]
    assert res.in_consumed == len(case.in_beats)
    return case, res


@pytest.mark.parametrize("p,tile", [
    (SMALL, TileSpec(Mode.CONV, cin=3, cout=5, h=3, w=3, k=3)),      # ragged everything, 2 oc groups
    (SMALL, TileSpec(Mode.CONV, cin=8, cout=4, h=2, w=2, k=1)),      # exact fit, S = 2
    (SMALL, TileSpec(Mode.CONV, cin=2, cout=3, h=1, w=3, k=1)),      # S = 1: one step per pixel group
    (NARROW, TileSpec(Mode.CONV, cin=5, cout=9, h=2, w=3, k=2)),     # even kernel, 3 oc groups
    (PACKED, TileSpec(Mode.CONV, cin=3, cout=5, h=3, w=3, k=3)),     # two products per DSP, odd cout
    (PACKED_NARROW, TileSpec(Mode.CONV, cin=9, cout=7, h=2, w=3, k=1)),
], ids=["ragged3x3", "exact1x1", "single-step", "narrow2x2", "packed3x3", "packed-narrow"])
def test_conv_unstalled_matches_golden_and_cycles(p, tile):
    case, res = _check(p, tile, seed=tile.cin * 7 + tile.cout)
    assert res.cycles == tile_cycles(p, tile)


WIDE = PEArrayParams(pp=4, icp=2, ocp=3, dw_channels=2, wbuf_depth=32)


@pytest.mark.parametrize("cin", [1, 3, 5, 7, 9])
def test_conv_serialised_post_processing_cycles(cin):
    """PP = 4 pixels share OCP post-processing lanes: S = 1..5 steps around S = PP."""
    tile = TileSpec(Mode.CONV, cin=cin * WIDE.icp // 2, cout=4, h=3, w=3, k=1)
    _, res = _check(WIDE, tile, seed=cin)
    assert res.cycles == tile_cycles(WIDE, tile)


def test_conv_with_backpressure_and_gaps():
    tile = TileSpec(Mode.CONV, cin=6, cout=6, h=3, w=2, k=1)
    case, res = _check(SMALL, tile, seed=5, in_pause=(0, 1, 0, 0, 1, 1), out_pause=(1, 0, 1, 1, 0))
    assert res.cycles > tile_cycles(SMALL, tile)


def test_conv_relu_and_lut_paths():
    tile = TileSpec(Mode.CONV, cin=4, cout=4, h=2, w=2, k=1)
    case, _ = _check(SMALL, tile, seed=9, clamp=(0, 127), use_lut=False)
    assert case.arrays["y"].min() >= 0
    case, _ = _check(SMALL, tile, seed=9, clamp=(-128, 127), use_lut=True)
    a = case.arrays
    plain = conv_golden(a["x"], a["w"], a["bias"], a["mult"], a["shift"])
    assert not np.array_equal(plain, a["y"])      # the LUT really changed the outputs


def test_check_tile_limits():
    with pytest.raises(ParamError, match="weight buffer"):
        check_tile(SMALL, TileSpec(Mode.CONV, cin=300, cout=4, h=1, w=1, k=1))
    with pytest.raises(ParamError, match="kernel 9"):
        check_tile(SMALL, TileSpec(Mode.CONV, cin=1, cout=4, h=1, w=1, k=9))
    with pytest.raises(ParamError, match="4096x1"):
        check_tile(SMALL, TileSpec(Mode.CONV, cin=1, cout=4, h=4096, w=1, k=1))
    roomy = PEArrayParams(pp=1, icp=8, ocp=4, max_channels=10000, wbuf_depth=100000)
    with pytest.raises(ParamError, match="9000 channels"):
        check_tile(roomy, TileSpec(Mode.CONV, cin=9000, cout=4, h=1, w=1, k=1))


def test_conv_case_refuses_tiles_the_engine_cannot_run():
    with pytest.raises(ParamError, match="weight buffer"):
        conv_case(SMALL, TileSpec(Mode.CONV, cin=100, cout=4, h=1, w=1, k=3), np.random.default_rng(0))
    with pytest.raises(ParamError, match="CONV tile"):
        conv_case(SMALL, TileSpec(Mode.DW, cin=4, cout=4, h=3, w=3, k=3), np.random.default_rng(0))


def test_packed_products_are_exact_at_every_int8_extreme():
    """The WP486 packing: one 27 x 8 multiply gives x * w_hi and x * w_lo exactly, for all 256
    activations against every pair of extreme weights (the sign correction matters exactly when
    x * w_lo < 0) and random pairs."""
    from amaranth.hdl import Module, Signal, signed
    from amaranth.sim import Simulator

    xs = list(range(-128, 128))
    edges = [-128, -127, -65, -64, -2, -1, 0, 1, 2, 63, 64, 126, 127]
    rng = np.random.default_rng(3)
    pairs = [(a, b) for a in edges for b in edges] + [tuple(int(v) for v in rng.integers(-128, 128, 2))
                                                     for _ in range(60)]
    m = Module()
    x = [Signal(signed(8), name=f"x{i}") for i in range(len(xs))]
    wh, wl = Signal(signed(8)), Signal(signed(8))
    outs = [packed_products(m, 1, xi, wh, wl, f"pk{i}") for i, xi in enumerate(x)]
    bad: list[tuple[int, int, int]] = []

    async def tb(ctx):
        for xi, v in zip(x, xs):
            ctx.set(xi, v)
        for a, b in pairs:
            ctx.set(wh, a)
            ctx.set(wl, b)
            await ctx.tick()
            for v, (hi, lo) in zip(xs, outs):
                if (ctx.get(hi), ctx.get(lo)) != (v * a, v * b):
                    bad.append((v, a, b))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert not bad, f"{len(bad)} wrong (x, w_hi, w_lo), e.g. {bad[:5]}"


def test_packing_is_validated():
    assert PACKED.dsps == PACKED.pw_dsps + PACKED.dw_multipliers == 16 + 50
    assert PACKED.multipliers == SMALL.multipliers == 32 + 50          # same peak MAC rate
    with pytest.raises(ParamError, match="ocp must be even"):
        PEArrayParams(pp=2, icp=4, ocp=3, macs_per_dsp=2)
    for bad in (3, 0, 2.0, True):
        with pytest.raises(ParamError, match="macs_per_dsp must be 1 or 2"):
            PEArrayParams(macs_per_dsp=bad)
