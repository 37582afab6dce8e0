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
    with pytest.raises(HwsimError, match="axi.port_bits must be a positive number"):
        MemoryModel.from_config(load("ultra96v1", overrides=["axi.port_bits=0"]))
    cfg = load("ultra96v1")                 # a non-finite value in a description file, not via --set
    cfg["ddr"]["peak_gbps"] = float("inf")
    with pytest.raises(HwsimError, match="ddr.peak_gbps must be a positive number, not inf"):
        MemoryModel.from_config(cfg)
