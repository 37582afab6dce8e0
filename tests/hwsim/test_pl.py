import numpy as np
import pytest

from hwsim.config import build, load
from hwsim.errors import HwsimError
from hwsim.memory import MemoryModel
from hwsim.pl import Tiler, schedule, simulate_layer
from mapper.ir import Graph
from rtl.cycles import tile_cycles
from rtl.params import Mode, TileSpec

PE = load("ultra96v1").pe


def unit_memory(**kw) -> MemoryModel:
    """1 byte per cycle each way and through DDR, no latency: easy to count by hand."""
    base = dict(clock_hz=100e6, port_bytes_per_cycle=1.0, burst_bytes=256, burst_latency_cycles=0.0,
                outstanding=4, ports=1, ddr_bytes_per_cycle=1.0)
    base.update(kw)
    return MemoryModel(**base)


def accel(**kw):
    """The Ultra96 default's typed [accel] section with ``kw`` set (through ``--set``, validated)."""
    return load("ultra96v1", overrides=[f"accel.{k}={v}" for k, v in kw.items()]).accel


# ---- the double-buffered schedule ------------------------------------------------------------------

def test_schedule_by_hand_compute_bound():
    # prologue: load tile 0 (50).  step 0: max(100, load 1 = 50).  step 1: max(100, load 2 + store 0
    # through the shared 1 B/cycle DDR = 80).  step 2: max(100, store 1 = 30).  epilogue: store 2 (30).
    total = schedule(np.array([100, 100, 100]), np.array([50, 50, 50]), np.array([30, 30, 30]), unit_memory())
    assert total == 50 + 100 + 100 + 100 + 30


def test_schedule_by_hand_memory_bound():
    total = schedule(np.array([100, 100, 100]), np.array([500, 500, 500]), np.array([30, 30, 30]), unit_memory())
    assert total == 500 + 500 + 530 + 100 + 30


def test_double_buffering_hides_loads_when_compute_bound():
    n, c = 20, 1000
    compute = np.full(n, c)
    load, store = np.full(n, 400), np.full(n, 300)
    total = schedule(compute, load, store, unit_memory())
    assert total == n * c + 400 + 300          # only the first load and the last store show
    # without overlap (e.g. one tile) everything is exposed
    assert schedule(np.array([c]), np.array([400]), np.array([300]), unit_memory()) == c + 700


def test_stalls_grow_with_memory_time_when_memory_bound():
    compute, load, store = np.full(10, 100), np.full(10, 400), np.full(10, 100)
    fast = schedule(compute, load, store, unit_memory(ddr_bytes_per_cycle=100.0, port_bytes_per_cycle=100.0))
    slow = schedule(compute, load, store, unit_memory())
    assert fast == 10 * 100 + 4 + 1
    assert slow > 10 * 400                          # every step waits for its 400-byte load
    assert schedule(np.array([], dtype=np.int64), np.array([]), np.array([]), unit_memory()) == 0


# ---- tiling ----------------------------------------------------------------------------------------

# Parameter bytes a CONV tile streams, by hand (rtl.golden_pw's stream layout): the activation LUT is
# 256 INT8 entries; each output channel's quantisation record is an int32 bias, a uint16 mult, a
# uint8 shift and one zero byte.
LUT = 256
QREC = 4 + 2 + 1 + 1


def test_the_hand_counted_parameter_bytes_are_what_the_golden_packer_streams():
    from rtl.golden_pw import lut_block, qparam_block
    assert len(lut_block(None, 1)) == LUT                                  # 1-byte beats: one per byte
    assert len(qparam_block(np.zeros(16), np.ones(16), np.zeros(16), 1)) == 16 * QREC


def conv_graph(cin=16, cout=16, hw=8, k=1, stride=1, pad=0) -> Graph:
    g = Graph("t", (1, cin, hw, hw))
    g.add("conv", "input", "c", cout=cout, k=k, stride=stride, pad=pad)
    return g


def test_small_conv_is_one_tile_with_exact_bytes_and_rtl_cycles():
    g = conv_graph()
    t = Tiler(PE, accel()).tile(g, g.node("c"))
    assert t.mode == Mode.CONV
    assert t.specs == [(Mode.CONV, 16, 16, 8, 8, 1, 1, 0)]
    assert t.load == [8 * 8 * 16 + 16 * (16 + QREC) + LUT]
    assert t.store == [8 * 8 * 16]
    layer = simulate_layer(g, g.node("c"), Tiler(PE, accel()), unit_memory())
    assert layer.compute_cycles == tile_cycles(PE, TileSpec(Mode.CONV, 16, 16, 8, 8, 1))
    assert layer.cycles == layer.compute_cycles + layer.stall_cycles
    assert layer.stall_cycles == t.load[0] + t.store[0]     # one tile: nothing to overlap


def test_conv_bands_with_halo_fit_the_input_buffer():
    # 3x3 conv on 32x32x64: an input row is 2048 B; the 8 KiB halves of a 16 KiB buffer hold 4 input
    # rows = 2 output rows + 2 halo rows
    g = conv_graph(cin=64, cout=64, hw=32, k=3, pad=1)
    tiler = Tiler(PE, accel(ibuf_kib=16, obuf_kib=64))
    t = tiler.tile(g, g.node("c"))
    assert all(s[3] == 2 and s[4] == 32 for s in t.specs)          # 2 output rows, full width
    assert len(t.specs) == 16
    w = 64 * (64 * 9 + QREC) + LUT
    inputs = [l - w for l in t.load]
    assert max(inputs) <= tiler.half_in
    # edge bands read 3 rows (padding is not loaded), inner bands 4
    assert inputs == [3 * 2048] + [4 * 2048] * 14 + [3 * 2048]
    assert sum(t.store) == 64 * 32 * 32                              # every output once


def test_conv_output_channels_are_chunked_when_outputs_do_not_fit():
    g = conv_graph(cin=32, cout=256, hw=16)
    tiler = Tiler(PE, accel(obuf_kib=16))                            # 8 KiB halves
    t = tiler.tile(g, g.node("c"))
    assert all(s[2] % PE.ocp == 0 for s in t.specs)
    assert all(sto <= tiler.half_out for sto in t.store)
    assert sum(s[2] * s[3] * s[4] for s in t.specs) == 256 * 16 * 16
    # the band's input is loaded with its first chunk only; later chunks load weights only
    chunk_w = [s[2] * (32 + QREC) + LUT for s in t.specs]
    assert sum(l - w for l, w in zip(t.load, chunk_w)) == 32 * 16 * 16


def test_depthwise_rows_strips_and_channel_groups():
    g = Graph("t", (1, 8, 40, 1100))
    g.add("dwconv", "input", "d", k=3, stride=1, pad=1)
    tiler = Tiler(PE, accel(ibuf_kib=64))
    t = tiler.tile(g, g.node("d"))
    assert t.mode == Mode.DW
    for (mode, cin, cout, h, w, k, s, p) in t.specs:
        TileSpec(mode, cin, cout, h, w, k, s, p)                       # valid for the engine
        assert w <= PE.max_width and cin == cout and cin % PE.dw_channels == 0
    assert sum(s[1] * s[3] * s[4] for s in t.specs) == 8 * 40 * 1100   # stride 1, pad 1: in == out
    assert sum(t.store) == 8 * 40 * 1100


def test_every_pl_layer_of_a_zoo_model_writes_its_output_exactly_once():
    from mapper.models import load_model
    from mapper.partition import partition
    cfg = load("ultra96v1")
    plan = partition(load_model("mobilenet_v2", 96), cfg.accel, "naive")
    g = plan.graph
    tiler, mem = Tiler(cfg.pe, cfg.accel), MemoryModel.from_config(cfg)
    seen = 0
    for seg in plan.segments:
        if seg.device != "PL":
            continue
        for name in seg.nodes:
            n = g.node(name)
            t = tiler.tile(g, n)
            if t is None:
                continue
            seen += 1
            assert sum(t.store) == g.out_bytes(n), name
            assert all(l > 0 for l in t.load)
            layer = simulate_layer(g, n, tiler, mem)
            assert layer.compute_cycles == sum(tile_cycles(cfg.pe, TileSpec(*s)) for s in t.specs)
    assert seen > 20


def test_ops_the_accelerator_does_not_run_are_one_line_errors():
    g = Graph("t", (1, 8, 4, 4))
    g.add("sigmoid", "input", "s")
    with pytest.raises(HwsimError, match=r"node 's' \(sigmoid\) is placed on the PL, but the accelerator does not run sigmoid"):
        Tiler(PE, accel()).tile(g, g.node("s"))
    g2 = Graph("t", (1, 8, 4, 4))
    g2.add("maxpool", "input", "p", k=7, stride=1, pad=3)
    with pytest.raises(HwsimError, match="7x7 pooling exceeds"):
        Tiler(PE, accel()).tile(g2, g2.node("p"))
    base = load("ultra96v1")                # a description without a buffer size: refused at load
    data = {s: dict(t) for s, t in base.data.items()}
    del data["accel"]["ibuf_kib"]
    with pytest.raises(HwsimError, match="ibuf_kib"):
        build(base.board_name, base.accel_name, data)


def test_fused_and_data_movement_nodes_cost_nothing():
    g = Graph("t", (1, 8, 4, 4))
    g.add("relu", "input", "r")
    g.add("flatten", "r", "f")
    tiler = Tiler(PE, accel())
    for name in ("r", "f"):
        layer = simulate_layer(g, g.node(name), tiler, unit_memory())
        assert (layer.cycles, layer.tiles, layer.mode) == (0, 0, "fused")


def test_dpu_depthwise_windows_share_the_engines_multipliers():
    """accel.dw_macs_per_cycle (the DPU files, PG338's (PP/2) x ICP x 3): a 5x5 window takes 25 of the
    multipliers a 3x3 window takes 9 of, so a 5x5 depthwise conv runs at about 9/25 of the 3x3 rate;
    the 3x3 engine is the file's own dw_channels."""
    from hwsim import config as _config
    from hwsim.memory import MemoryModel as _Mem
    from mapper.ir import Graph as _Graph, Op as _Op
    cfg = _config.load("zcu102", "dpu_b4096")
    tiler = Tiler(cfg.pe, cfg.accel)
    assert tiler.dw_engine(3) == cfg.pe                     # 192 // 9 = 21 = dw_channels
    assert tiler.dw_engine(5).dw_channels == 192 // 25 == 7
    cyc = {}
    for k in (3, 5):
        g = _Graph("dw", (1, 672, 14, 14))
        g.set_outputs(g.add(_Op.DWCONV, "input", "dw", k=k, pad=k // 2))
        layer = simulate_layer(g, g.node("dw"), tiler, _Mem.from_config(cfg))
        cyc[k] = layer.compute_cycles
    assert 2.5 < cyc[5] / cyc[3] < 3.5                      # 21 / 7 = 3 channel groups per one
    with pytest.raises(HwsimError, match="dw_macs_per_cycle must be a positive integer"):
        _config.load("zcu102", "dpu_b4096", ["accel.dw_macs_per_cycle=0"])


def test_dpu_conv_tiles_run_at_the_dpus_parallelism_and_the_own_array_at_its_rtls():
    """accel.conv_cycles = "dpu": PP x ICP x OCP MACs per cycle (PG338), reduction in k x k x
    ceil(cin / ICP) steps (UG1414's bank layout).  Hand-computed on B4096 (PP 8, ICP 16, OCP 16): a 3x3
    conv, 32 -> 48 channels, 14x14 outputs: ceil(196 / 8) = 25 pixel groups x 9 x 2 steps x 3 channel
    groups = 1,350 cycles; 1,350 x 2,048 MACs/cycle against its 2,709,504 MACs is 98%."""
    from hwsim import config as _config
    from hwsim.memory import MemoryModel as _Mem
    from mapper.ir import Op as _Op
    cfg = _config.load("zcu102", "dpu_b4096")
    tiler = Tiler(cfg.pe, cfg.accel)
    g = Graph("c", (1, 32, 14, 14))
    g.set_outputs(g.add(_Op.CONV, "input", "c", cout=48, k=3, pad=1))
    layer = simulate_layer(g, g.node("c"), tiler, _Mem.from_config(cfg))
    assert layer.tiles == 1 and layer.compute_cycles == 1350 and layer.macs == 2_709_504
    # the project's own array keeps the RTL's exact cycles for the same tile
    own = load()
    t = Tiler(own.pe, own.accel)
    key = (Mode.CONV, 32, 48, 14, 14, 3, 1, 0)
    assert not t.dpu_conv and t.cycles(own.pe, key) == tile_cycles(own.pe, TileSpec(*key))
    with pytest.raises(HwsimError, match="accel.conv_cycles must be one of 'rtl', 'dpu', not 'fast'"):
        _config.load("zcu102", "dpu_b4096", ["accel.conv_cycles=fast"])
