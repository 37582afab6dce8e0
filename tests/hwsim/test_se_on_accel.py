"""An SE block on an accelerator costs what it costs there (issue 14), on the DPU and on this
project's own array under --policy optimized, all from the tiler and ``rtl.cycles.tile_cycles``:

- the global pool is a barrier: the block's feature map is finished, stored to DDR and read back
  whole by the pool before the excitation, and read whole again by the scale;
- the two FCs run on a 1x1 map, so the array's pixel lanes idle: PP - 1 of PP are unused;
- the broadcast multiply moves the whole map again (one load and one store of it).
"""

from __future__ import annotations

import math

import pytest

from hwsim import config
from hwsim.memory import MemoryModel
from hwsim.pl import Tiler, simulate_layer
from mapper import zoo
from mapper.partition import partition
from mapper.passes import find_se_blocks
from rtl.cycles import tile_cycles
from rtl.params import Mode, TileSpec

CASES = {"dpu_b4096 on zcu102": ("zcu102", "dpu_b4096", "naive"),
         "own array, optimized": ("ultra96v1", None, "optimized")}


@pytest.fixture(scope="module", params=list(CASES))
def se_case(request):
    board, accel, policy = CASES[request.param]
    cfg = config.load(board, accel)
    plan = partition(zoo.build("efficientnet_b0"), cfg.accel, policy)
    return cfg, plan


def test_the_se_pool_reads_the_finished_map_back_and_the_scale_moves_it_again(se_case):
    cfg, plan = se_case
    g, dev = plan.graph, plan.device_of()
    tiler, mem = Tiler(cfg.pe, cfg.accel), MemoryModel.from_config(cfg)
    for b in find_se_blocks(g):
        assert dev[b.pool] == dev[b.mul] == "PL"
        fmap = g.tensors[b.input].nbytes                      # N x C x H x W int8
        producer = g.producers()[b.input]
        assert dev[producer.name] == "PL"
        # the producer stores the whole map before the pool starts (each layer is its own schedule)
        assert simulate_layer(g, producer, tiler, mem).store_bytes == fmap
        pool = simulate_layer(g, g.node(b.pool), tiler, mem)
        params = 16 * b.channels + 4096        # at most: the engine's per-channel parameter blocks + LUT/header
        assert pool.mode == "GAP" and fmap <= pool.load_bytes < fmap + params and pool.store_bytes == b.channels
        scale = simulate_layer(g, g.node(b.mul), tiler, mem)
        assert scale.mode == "SCALE" and scale.store_bytes == fmap
        assert fmap + b.channels <= scale.load_bytes < fmap + params    # the map + the gate vector
        # both passes over the map wait for DDR at least for their first load / last store
        assert pool.cycles > pool.compute_cycles and scale.cycles > scale.compute_cycles


def test_an_fc_on_a_1x1_map_leaves_the_pixel_lanes_idle(se_case):
    cfg, _ = se_case
    p = cfg.pe
    tiler = Tiler(p, cfg.accel)          # tile_cycles for the own array, the DPU's conv array for the DPU
    assert p.pp > 1
    for cin, cout in ((32, 8), (8, 32), (1152, 48)):
        one = (Mode.CONV, cin, cout, 1, 1, 1, 1, 0)
        full = (Mode.CONV, cin, cout, 1, p.pp, 1, 1, 0)        # PP pixels: every lane busy
        # the same cycles for 1 pixel as for PP: PP - 1 lanes idle, the MAC rate is 1/PP of the array's
        assert tiler.cycles(p, one) == tiler.cycles(p, full)
        assert tiler.cycles(p, (Mode.CONV, cin, cout, 1, p.pp + 1, 1, 1, 0)) > tiler.cycles(p, full)
    if not tiler.dpu_conv:
        assert tiler.cycles(p, one) == tile_cycles(p, TileSpec(*one))


def test_the_se_fcs_run_at_most_1_over_pp_of_the_arrays_peak(se_case):
    cfg, plan = se_case
    g, dev = plan.graph, plan.device_of()
    tiler, mem = Tiler(cfg.pe, cfg.accel), MemoryModel.from_config(cfg)
    fcs = [g.node(n) for b in find_se_blocks(g) for n in (b.reduce, b.expand) if dev[n] == "PL"]
    if not fcs:                                    # the own array's optimized policy runs them on the PS
        assert all(dev[b.reduce] == dev[b.expand] == "PS" for b in find_se_blocks(g))
        return
    for n in fcs:
        L = simulate_layer(g, n, tiler, mem)
        assert L.macs / (L.compute_cycles * cfg.pe.multipliers) <= 1 / cfg.pe.pp


def test_efficientnet_b0_pays_for_its_se_blocks_on_the_dpu_what_lite0_does_not():
    # the same backbone (lite0 = B0 without SE, ReLU6 for swish: both fused, so free); with every
    # activation replaced the whole of B0 runs on the DPU, and its extra PL time is its SE layers'
    # time, more than ten times what their MACs at the array's peak would take
    sets = ["accel.replace_sigmoid=all"]
    cfg = config.load("zcu102", "dpu_b4096", sets)
    from hwsim.estimate import estimate
    b0, lite = estimate("efficientnet_b0", board="zcu102", accel="dpu_b4096", overrides=sets), \
        estimate("efficientnet_lite0", board="zcu102", accel="dpu_b4096", overrides=sets)
    assert all(L.device == "PL" for L in b0.layers)
    se = [L for L in b0.layers if ".se." in L.name]
    se_ms = sum(L.compute_cycles + L.stall_cycles for L in se) / cfg.clock_hz * 1e3
    pl = lambda e: e.breakdown_ms["pl_compute"] + e.breakdown_ms["pl_memory_stall"]
    assert math.isclose(pl(b0) - pl(lite), se_ms, rel_tol=1e-9)
    se_macs = sum(L.macs for L in se)
    assert se_ms > 10 * se_macs / (cfg.pe.multipliers * cfg.clock_hz) * 1e3
