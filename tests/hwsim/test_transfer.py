import pytest

from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.transfer import TransferModel
from mapper.plan import Transfer

TM = TransferModel(line_bytes=64, flush_s_per_line=32e-9, invalidate_s_per_line=10e-9,
                   dma_setup_s=10e-6, irq_latency_s=20e-6)


def test_flush_before_the_pl_reads_per_cache_line():
    t = Transfer(src=0, dst=1, tensor="x", bytes=1000, src_device="PS", dst_device="PL")
    assert TM.cache_s(t) == pytest.approx(16 * 32e-9)        # ceil(1000 / 64) = 16 lines


def test_invalidate_before_the_ps_reads_per_cache_line():
    t = Transfer(src=0, dst=1, tensor="x", bytes=6400, src_device="PL", dst_device="PS")
    assert TM.cache_s(t) == pytest.approx(100 * 10e-9)
    assert TM.cache_s(Transfer(0, 1, "x", 0, "PL", "PS")) == 0


def test_cost_is_linear_in_lines():
    one = TM.cache_s(Transfer(0, 1, "x", 64 * 1000, "PS", "PL"))
    two = TM.cache_s(Transfer(0, 1, "x", 64 * 2000, "PS", "PL"))
    assert two == pytest.approx(2 * one)


def test_board_defaults_and_bad_transfers():
    tm = TransferModel.from_config(load("ultra96v1"))
    assert (tm.line_bytes, tm.dma_setup_s, tm.irq_latency_s) == (64, pytest.approx(10e-6), pytest.approx(20e-6))
    with pytest.raises(HwsimError, match="from PL to itself"):
        TM.cache_s(Transfer(0, 1, "x", 10, "PL", "PL"))
    with pytest.raises(HwsimError, match="negative size"):
        TM.cache_s(Transfer(0, 1, "x", -1, "PS", "PL"))
    with pytest.raises(HwsimError, match="transfer.cache_line_bytes must be a positive integer, not 0"):
        TransferModel.from_config(load("ultra96v1", overrides=["transfer.cache_line_bytes=0"]))
