import pytest

from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.ps import PSModel
from mapper.ir import Graph


def ps(**kw) -> PSModel:
    base = dict(freq_hz=1e9, threads=1, macs_per_cycle=2.0, elem_ops_per_cycle=4.0, transcendental_cycles=20.0,
                mem_bytes_per_s=1e9, call_overhead_s=5e-6)
    base.update(kw)
    return PSModel(**base)


def fc_graph() -> Graph:
    g = Graph("t", (1, 1000))
    g.add("fc", "input", "fc", cout=1000)      # 1M MACs, ~1 MB of weights
    return g


def test_compute_by_hand_and_threads_scale_compute_only():
    g = fc_graph()
    one = ps(mem_bytes_per_s=1e12).op(g, g.node("fc"))
    assert one.macs == 1_000_000
    assert one.compute_s == pytest.approx(1_000_000 / 2.0 / 1e9)
    four = ps(threads=4, mem_bytes_per_s=1e12).op(g, g.node("fc"))
    assert four.compute_s == pytest.approx(one.compute_s / 4)
    assert four.memory_s == one.memory_s                 # bandwidth is shared, not multiplied
    assert four.overhead_s == one.overhead_s == 5e-6     # dispatch is not parallelised
    assert one.time_s == pytest.approx(max(one.compute_s, one.memory_s) + 5e-6)


def test_memory_bound_op_does_not_speed_up_with_threads():
    g = Graph("t", (1, 64, 56, 56))
    g.add("relu", "input", "r")
    a, b = ps().op(g, g.node("r")), ps(threads=4).op(g, g.node("r"))
    moved = 2 * 64 * 56 * 56                               # read + write, INT8
    assert a.memory_s == pytest.approx(moved / 1e9)
    assert a.time_s == b.time_s == pytest.approx(moved / 1e9 + 5e-6)


def test_sigmoid_pays_the_transcendental_cost():
    g = Graph("t", (1, 1000, 1, 1))
    g.add("sigmoid", "input", "s")
    g.add("relu", "input", "r")
    m = ps(mem_bytes_per_s=1e15)
    s, r = m.op(g, g.node("s")), m.op(g, g.node("r"))
    assert r.compute_s == pytest.approx(1000 / 4.0 / 1e9)
    assert s.compute_s == pytest.approx(1000 * (1 / 4.0 + 20.0) / 1e9)


def test_fused_swish_on_a_conv_counts_as_transcendental():
    g = Graph("t", (1, 16, 1, 1))
    g.add("conv", "input", "plain", cout=8, k=1)
    g.add("conv", "input", "sw", cout=8, k=1, act="swish")
    m = ps(mem_bytes_per_s=1e15)
    assert m.op(g, g.node("sw")).compute_s - m.op(g, g.node("plain")).compute_s == pytest.approx(8 * 20.0 / 1e9)


def test_views_are_free_and_copies_cost_bandwidth():
    g = Graph("t", (1, 8, 4, 4))
    g.add("flatten", "input", "f")
    g.add("concat", ["input", "input"], "c")
    m = ps()
    assert m.op(g, g.node("f")).time_s == 0
    c = m.op(g, g.node("c"))
    assert c.compute_s == 0 and c.memory_s == pytest.approx((2 * 128 + 256) / 1e9)


def test_board_parameters_and_thread_validation():
    m = PSModel.from_config(load("ultra96v1"))
    assert m.freq_hz == 1.2e9 and m.threads == 1 and m.mem_bytes_per_s == 2.0e9
    assert PSModel.from_config(load("ultra96v1", overrides=["ps.threads=4"])).threads == 4
    for bad in ("0", "5"):
        with pytest.raises(HwsimError, match="ps.threads must be an integer from 1 to the board's 4 cores"):
            PSModel.from_config(load("ultra96v1", overrides=[f"ps.threads={bad}"]))
    with pytest.raises(HwsimError, match="ps.mem_gbps must be a positive number"):
        PSModel.from_config(load("ultra96v1", overrides=["ps.mem_gbps=0"]))


def test_the_cores_cannot_stream_faster_than_the_ddr_sustains():
    # Ultra96: the cores' measured 2.0 GB/s is below the DDR's 4.264 x 0.70 = 2.98 GB/s: it stands
    assert PSModel.from_config(load("ultra96v1")).mem_bytes_per_s == 2.0e9
    # a what-if on a slower DDR (2 GB/s peak, 1.4 sustained) slows the PS as well as the PL
    slow = PSModel.from_config(load("ultra96v1", overrides=["ddr.peak_gbps=2.0"]))
    assert slow.mem_bytes_per_s == pytest.approx(2.0 * 0.70 * 1e9)
    from hwsim.estimate import estimate
    fast_ps = estimate("efficientnet_b0").breakdown_ms["ps_compute"]
    slow_ps = estimate("efficientnet_b0", overrides=["ddr.peak_gbps=2.0"]).breakdown_ms["ps_compute"]
    assert slow_ps > fast_ps
