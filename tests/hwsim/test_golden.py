"""Golden regression numbers (ZigZag-style): any change to the RTL cycle formulas, the tiler, the
memory/PS/transfer models, the runtime profiles or a default parameter moves these, and must be looked
at and re-pinned on purpose.  Values: this tree on 2026-12-02, default board ultra96v1 / ultra96v1_default
at 100 MHz, its default runtime linux_uio (one frame in flight, one start + interrupt per PL layer, CPU
pre/post-processing included).
"""

import pytest

from hwsim.config import load
from hwsim.estimate import estimate
from rtl.cycles import tile_cycles
from rtl.params import Mode, TileSpec

# (model, input size, policy) -> (fps, latency_ms, PL cycles summed over layers)
FRAMES = {
    ("efficientnet_b4", 256, "naive"): (5.572619, 179.448841, 15208116),
    ("efficientnet_b4", 256, "optimized"): (5.798096, 172.470407, 16242996),
    ("mobilenet_v2", None, "naive"): (26.292711, 38.033354, 3477505),
    ("efficientnet_b0", None, "naive"): (20.599321, 48.545289, 3952979),
    ("mobilenet_v3_small", None, "optimized"): (83.114742, 12.03156, 834176),
}

# One tile of every engine mode on the default instance (PP=4, ICP=8, OCP=8, 2 depthwise channels).
# The first is checked by hand against rtl/cycles.py's CONV formula: S = 18 reduction steps,
# G = 64 pixel groups, 3 output-channel groups: 3 * (18*2 + 2 + 18 + 63*18 + 4 + 10) + 1 + 8 = 3621.
TILES = [
    (TileSpec(Mode.CONV, 144, 24, 8, 32), 3621),
    (TileSpec(Mode.CONV, 3, 48, 16, 16, k=3, stride=2), 1689),
    (TileSpec(Mode.DW, 144, 144, 18, 64, k=3, stride=1, pad=1), 89152),
    (TileSpec(Mode.DW, 32, 32, 20, 20, k=5, stride=2, pad=2), 7785),
    (TileSpec(Mode.MAXPOOL, 16, 16, 16, 16, k=2, stride=2), 2087),
    (TileSpec(Mode.AVGPOOL, 16, 16, 9, 9, k=3, stride=1, pad=1), 839),
    (TileSpec(Mode.SCALE, 144, 144, 8, 64), 2580),
    (TileSpec(Mode.GAP, 1632, 1632, 8, 8), 4204),
    (TileSpec(Mode.ADD, 56, 56, 16, 16), 1030),
]


@pytest.mark.parametrize("key", FRAMES, ids=lambda k: f"{k[0]}-{k[1] or 'native'}-{k[2]}")
def test_frame_numbers_are_pinned(key):
    model, size, policy = key
    fps, latency, pl_cycles = FRAMES[key]
    e = estimate(model, input_size=size, policy=policy)
    assert e.fps == pytest.approx(fps, rel=1e-6)
    assert e.latency_ms == pytest.approx(latency, rel=1e-6)
    assert sum(l.cycles for l in e.layers if l.device == "PL") == pl_cycles


@pytest.mark.parametrize("tile,cycles", TILES, ids=lambda t: t.mode.name if isinstance(t, TileSpec) else str(t))
def test_tile_cycles_are_pinned(tile, cycles):
    assert tile_cycles(load().pe, tile) == cycles


def test_the_founding_story():
    """EfficientNet-B4 at 256x256 on the Ultra96 at 100 MHz with SE blocks and the FC on the ARM
    cores: measured 6 FPS on the board, single digits here.  The op count at the PL's peak (every
    DSP48E2 packed and double-pumped: 1,440 MACs/cycle) is many times that, as the team's 80 was; at
    this accelerator's own, smaller peak it is still more than twice."""
    e = estimate("efficientnet_b4", input_size=256, overrides=["accel.clock_mhz=100"], policy="naive")
    assert e.runtime == "linux_uio"                       # the founding profile: C on Linux, one thread
    assert 1.0 <= e.fps < 10.0
    assert 1e3 / e.latency_ms < 10.0                    # also frame by frame, without pipelining
    assert e.op_count_fps == pytest.approx(1440 * 100e6 / e.total_macs) and 60 < e.op_count_fps < 80
    assert e.op_count_fps > 10 * e.fps
    assert e.op_count_fps > e.array_op_count_fps > 2 * e.fps
    assert sum(1 for s in e.segments if s["device"] == "PS") == 33     # 32 SE blocks + the classifier


def test_readme_shows_what_estimate_prints(capsys):
    """The README's `hwsim estimate efficientnet_b4 --input-size 256` block is that command's output,
    line for line (the lines it elides with `...` aside)."""
    from hwsim.cli import main
    from tests.hwsim import readme_block
    shown = [l for l in readme_block("hwsim estimate efficientnet_b4 --input-size 256") if l.strip() != "..."]
    assert main(["estimate", "efficientnet_b4", "--input-size", "256"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(shown) > 10 and [l for l in shown if l not in printed] == []
    assert [l for l in printed if l in shown] == shown           # and in the same order
