"""Several accelerator instances (accel.cores): the throughput with T threads, the resources, the fit."""

from __future__ import annotations

import pytest

from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.estimate import estimate, multi_core_period
from hwsim.resources import accel_resources, fit_verdict
from hwsim.timeline import pipeline_period

CHAIN = [("PS", 1.0), ("PL", 3.0)]      # one frame: 1 s on an ARM core, then 3 s on the accelerator


def test_one_frame_per_core_runs_the_cores_side_by_side():
    # 2 threads on 2 cores: each core runs one frame at a time, 4 s each, two at once -> 2 s per frame
    assert multi_core_period(CHAIN, 2, 2, 4) == pytest.approx(2.0)


def test_two_frames_per_core_hide_the_cpu_part_behind_each_core():
    # 4 threads on 2 cores: each core overlaps one frame's CPU second with the other's 3 s, so a core
    # finishes a frame every 3 s; two cores -> 1.5 s per frame
    assert multi_core_period(CHAIN, 4, 2, 4) == pytest.approx(1.5)


def test_uneven_threads_add_the_cores_rates():
    # 3 threads on 2 cores: one core has 2 threads (a frame per 3 s), the other 1 (per 4 s):
    # 1/3 + 1/4 = 7/12 frames per s -> 12/7 s per frame
    assert multi_core_period(CHAIN, 3, 2, 4) == pytest.approx(12 / 7)


def test_more_cores_than_threads_leave_cores_idle_and_one_core_is_the_timeline():
    assert multi_core_period(CHAIN, 1, 3, 4) == pytest.approx(4.0)
    assert multi_core_period(CHAIN, 2, 1, 4) == pipeline_period(CHAIN, 2) == pytest.approx(3.0)


def test_every_busy_core_needs_an_arm_core_to_drive_it():
    with pytest.raises(HwsimError, match="ps.cores"):
        multi_core_period(CHAIN, 6, 6, 4)


def test_estimate_two_dpu_cores_two_threads_double_one_thread():
    sets = ["accel.clock_mhz=300", "accel.cores=2"]
    one = estimate("mobilenet_v1", board="zcu104", accel="dpu_b4096", overrides=sets, runtime="vart")
    two = estimate("mobilenet_v1", board="zcu104", accel="dpu_b4096", runtime="vart",
                   overrides=sets + ["runtime.frames_in_flight=2"])
    # one thread uses one core: the period is the latency; two threads, two cores: half of it
    assert one.period_ms == one.latency_ms
    assert two.cores == 2 and two.latency_ms == one.latency_ms
    assert two.period_ms == pytest.approx(one.latency_ms / 2)
    assert two.busy_ms["DDR"] < two.period_ms      # the shared DDR is not what bounds it here


def test_the_shared_ddr_bounds_many_cores():
    # at 0.2 GB/s one frame's DDR bytes take longer than 4 cores need for their share
    sets = ["accel.clock_mhz=300", "accel.cores=4", "runtime.frames_in_flight=4", "ddr.peak_gbps=0.2"]
    e = estimate("mobilenet_v1", board="zcu104", accel="dpu_b4096", overrides=sets, runtime="vart")
    assert e.period_ms == pytest.approx(e.busy_ms["DDR"])
    assert e.period_ms > e.pipelined_ms


def test_every_core_counts_in_the_resources_and_the_fit():
    one = accel_resources(load("zcu104", "dpu_b4096"))
    two = accel_resources(load("zcu104", "dpu_b4096", ["accel.cores=2"]))
    # PG338: 642 DSPs (high DSP usage) + 48 for the depthwise engine = 690 per B4096 core
    assert one["dsp"] == 690 and two["dsp"] == 1380
    assert two["lut"] == 2 * one["lut"] and two["ff"] == 2 * one["ff"]
    # ZCU102's 3-core build: 2,070 of the ZU9EG's 2,520 DSPs, 771 of its 912 BRAM36 (no UltraRAM)
    cfg = load("zcu102", "dpu_b4096", ["accel.cores=3"])
    res = accel_resources(cfg)
    assert res["dsp"] == 2070 and res["bram36"] == 771
    assert fit_verdict(cfg, res).startswith("fits: published build")
    # four B4096 cores do not fit the ZU7EV's 1,728 DSPs
    assert "NOT fit" in fit_verdict(load("zcu104", "dpu_b4096", ["accel.cores=4"]))


@pytest.mark.parametrize("bad", ["0", "-1"])
def test_a_core_count_below_one_is_a_one_line_error(bad):
    with pytest.raises(HwsimError, match="accel.cores must be a positive integer"):
        estimate("mobilenet_v1", board="zcu104", accel="dpu_b4096", overrides=[f"accel.cores={bad}"])


def test_the_dpu_ip_has_at_most_four_cores():
    # PG338 3.4 "Features": a maximum of four homogeneous cores
    with pytest.raises(HwsimError, match="at most 4 cores"):
        accel_resources(load("zcu102", "dpu_b512", ["accel.cores=5"]))


def test_the_report_names_the_cores(capsys):
    from hwsim.cli import main
    rc = main(["estimate", "mobilenet_v1", "--board", "zcu102", "--accel", "dpu_b4096", "--runtime", "vart",
               "--set", "accel.cores=3", "--set", "runtime.frames_in_flight=6"])
    out = capsys.readouterr().out
    assert rc in (0, None) and "6 frames in flight on 3 accelerator cores" in out
