import pytest

from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.memory import MemoryModel


def model(**kw) -> MemoryModel:
    base = dict(clock_hz=100e6, port_bytes_per_cycle=32.0, burst_bytes=256, burst_latency_cycles=18.0,
                outstanding=4, ports=2, ddr_bytes_per_cycle=29.848)
    base.update(kw)
    return MemoryModel(**base)


def test_ultra96_parameters_from_the_board_file():
    m = MemoryModel.from_config(load("ultra96v1"))
    assert m.port_bytes_per_cycle == 2 * 128 / 8          # 2 HP ports x 128 bit per PL cycle
    assert m.burst_bytes == 16 * 16                        # 16 beats x 16 bytes
    assert m.burst_latency_cycles == pytest.approx(18.0)  # 180 ns at 100 MHz
    assert m.ddr_bytes_per_cycle == pytest.approx(4.264e9 * 0.70 / 100e6)


def test_read_phase_by_hand():
    # 3200 B: ports give 32 B/cycle (100 cycles) but DDR sustains 29.848 B/cycle -> 107.2, + 18 latency
    assert int(model().phase_cycles(3200, 0)) == 126


def test_reads_and_writes_share_ddr_but_not_ports():
    m = model(ddr_bytes_per_cycle=10.0, burst_latency_cycles=0.0, port_bytes_per_cycle=100.0)
    assert int(m.phase_cycles(1000, 0)) == 100
    assert int(m.phase_cycles(1000, 1000)) == 200        # shared DDR: 2000 B at 10 B/cycle
    fast = model(ddr_bytes_per_cycle=1000.0, burst_latency_cycles=0.0, port_bytes_per_cycle=10.0)
    assert int(fast.phase_cycles(1000, 1000)) == 100     # separate read/write channels: 100 each, in parallel


def test_outstanding_transactions_hide_latency_by_littles_law():
    # one port, one 256-byte burst in flight, 200-cycle round trip: 1.28 B/cycle
    slow = model(burst_latency_cycles=200.0, outstanding=1, ports=1, ddr_bytes_per_cycle=1e9, port_bytes_per_cycle=1e9)
    assert slow.direction_bytes_per_cycle == pytest.approx(1.28)
    assert int(slow.phase_cycles(2560, 0)) == 2000 + 200
    more = model(burst_latency_cycles=200.0, outstanding=8, ports=1, ddr_bytes_per_cycle=1e9, port_bytes_per_cycle=1e9)
    assert int(more.phase_cycles(2560, 0)) == 250 + 200


def test_nothing_to_move_costs_nothing_and_arrays_work():
    m = model()
    assert int(m.phase_cycles(0, 0)) == 0
    assert list(m.phase_cycles([0, 3200, 0], [0, 0, 0])) == [0, 126, 0]


def test_bad_parameters_are_one_line_errors():
    with pytest.raises(HwsimError, match="hp_ports_used=8 exceeds"):
        MemoryModel.from_config(load("ultra96v1", overrides=["accel.hp_ports_used=8"]))
    with pytest.raises(HwsimError, match="ddr.efficiency must be at most 1"):
        MemoryModel.from_config(load("ultra96v1", overrides=["ddr.efficiency=1.5"]))
    with pytest.raises(HwsimError, match="axi.port_bits must be at least 8, not 0"):
        MemoryModel.from_config(load("ultra96v1", overrides=["axi.port_bits=0"]))


def test_a_non_finite_value_in_a_description_file_is_refused_at_load(tmp_path):
    from hwsim.config import DATA
    text = (DATA / "boards" / "ultra96v1.toml").read_text().replace("peak_gbps = 4.264", "peak_gbps = inf")
    (tmp_path / "b.toml").write_text(text)
    with pytest.raises(HwsimError, match="ddr.peak_gbps must be a finite number, not inf"):
        load(str(tmp_path / "b.toml"), "ultra96v1_default")


def test_ddr_footprint_by_hand():
    """Weights stay resident; an activation buffer lives from the step that writes it to the last
    step that reads it; a skip connection keeps its tensor alive across the block; flatten is a view."""
    from mapper.ir import Graph
    from hwsim.memory import ddr_footprint
    g = Graph("skip", (1, 8, 16, 16))                       # input: 2048 B (INT8)
    a = g.add("conv", "input", "a", cout=16, k=1)           # 4096 B; input dies here
    b = g.add("conv", a, "b", cout=16, k=3, pad=1)          # 4096 B; a still live (read by the add)
    s = g.add("add", [a, b], "s")                           # 4096 B; a, b die here
    p = g.add("global_avgpool", s, "p")                     # 16 B
    f = g.add("flatten", p, "f")                            # a view of p
    o = g.add("fc", f, "o", cout=10)                        # 10 B, the output
    g.set_outputs(o)
    g.infer_shapes()
    fp = ddr_footprint(g)
    # steps: a (input + a = 6144), b (a + b), s (a + b + s = 12288, the worst), p (s + p), f, o (p + o)
    assert fp["activations_peak"] == 3 * 4096 and fp["peak_at"] == "s"
    weights = (8 * 16 + 4 * 16) + (16 * 16 * 9 + 4 * 16) + (16 * 10 + 4 * 10)
    assert fp["weights"] == weights and fp["total"] == weights + 3 * 4096


def test_ddr_footprint_of_the_founding_network_is_a_bound_on_its_tensors():
    """At most every tensor plus the weights, at least the largest layer's input + output."""
    from hwsim.memory import ddr_footprint
    from mapper.models import load_model
    g = load_model("efficientnet_b4", input_size=256)
    fp = ddr_footprint(g)
    assert max(g.in_bytes(n) + g.out_bytes(n) for n in g) <= fp["activations_peak"] \
        < sum(g.out_bytes(n) for n in g) + g.tensors["input"].nbytes
    assert fp["weights"] == sum(g.weight_bytes(n) for n in g)
