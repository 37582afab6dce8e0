"""The RTL contract (rtl.contract) against numbers counted by hand from the stream layouts in the
rtl.golden_dw / rtl.golden_pw docstrings, and the golden packers' streams against the contract's
beat counts (the cycle model's prologue and the DUT's stimulus are the same length)."""

from __future__ import annotations

import numpy as np
import pytest

from rtl import contract
from rtl.golden_dw import dw_case
from rtl.golden_pw import conv_case
from rtl.params import Mode, PEArrayParams, TileSpec

DEFAULT = PEArrayParams()            # 4 x 8 x 8 array, 4 depthwise lanes, kernels (3, 5): 32-byte beats


def test_parameter_bytes_counted_by_hand():
    # DW block: 4 lanes x (5x5 taps + int32 bias + uint16 mult + uint8 shift) = 4 x 32
    assert contract.block_bytes(DEFAULT, Mode.DW) == 128
    assert contract.block_bytes(DEFAULT, Mode.MAXPOOL) == 4 * 7
    # GAP and SCALE use the full beat: min(32, 32) = 32 lanes; GAP 7 bytes each, SCALE a uint16 each
    assert contract.block_bytes(DEFAULT, Mode.GAP) == 224
    assert contract.block_bytes(DEFAULT, Mode.SCALE) == 64
    assert contract.block_bytes(DEFAULT, Mode.ADD) == 0
    # a 10-channel DW tile: the 256-entry LUT + 3 groups of 4 lanes; SCALE: 1-byte shift header +
    # one group of 32 lanes; ADD: int16 ma, int16 mb and a uint8 shift, no LUT, no blocks
    assert contract.param_bytes(DEFAULT, Mode.DW, 10) == 256 + 3 * 128
    assert contract.param_bytes(DEFAULT, Mode.SCALE, 10) == 1 + 64
    assert contract.param_bytes(DEFAULT, Mode.ADD, 40) == 5
    assert contract.param_bytes(DEFAULT, Mode.GAP, 33) == 256 + 2 * 224
    # LUT words: the largest power of two <= the beat (32 bytes -> 8 beats; 24 -> 16 -> 16 beats)
    assert [contract.lut_beats(b) for b in (1, 8, 24, 32, 300)] == [256, 32, 16, 8, 1]


def test_configuration_limits_counted_by_hand():
    # LayerConfig: 3-bit k, 12-bit h/w, 13-bit channels, 2-bit pad
    assert (contract.cfg_max("k"), contract.cfg_max("h"), contract.cfg_max("cin"), contract.DW_MAX_PAD) == \
        (7, 4095, 8191, 3)
    assert sum(w for _, w, _ in contract.CFG_FIELDS) == 3 + 13 + 13 + 12 + 12 + 3 + 2 + 2 + 8 + 8 + 1


@pytest.mark.parametrize("mode", contract.DW_MODES)
@pytest.mark.parametrize("p", [PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2),
                               PEArrayParams(pp=1, icp=8, ocp=4, dw_channels=4, macs_per_dsp=2)],
                         ids=["8-byte beats", "packed"])
def test_the_golden_streams_what_the_contract_counts(p, mode):
    """Beats of a depthwise tile's input stream: LUT, header, then per group its block and h x w pixels."""
    h, w, c = 6, 5, 7
    k = 3 if mode in contract.WINDOW_MODES else 1
    tile = TileSpec(mode, c, c, h, w, k, 1, 1 if k == 3 else 0)
    case = dw_case(p, tile, np.random.default_rng(1))
    groups = -(-c // contract.group_lanes(p, mode))
    want = ((contract.lut_beats(p.in_bytes) if contract.uses_lut(mode) else 0) + contract.header_beats(p, mode)
            + groups * (contract.block_beats(p, mode) + h * w))
    assert len(case.in_beats) == want


def test_the_conv_golden_streams_what_the_contract_counts():
    p = PEArrayParams(pp=2, icp=4, ocp=4, dw_channels=2)            # 8-byte beats
    case = conv_case(p, TileSpec(Mode.CONV, 6, 9, 3, 5), np.random.default_rng(2))
    # LUT 32 beats, then 3 output-channel groups of 2 steps x 2 weight beats + 4 beats of 4 x 8-byte
    # records + 8 pixel groups x 2 steps of activations
    assert len(case.in_beats) == 32 + 3 * (2 * 2 + 4 + 8 * 2)
