import pytest

from hwsim.timeline import Event, busy, pipeline_period, place, stages


def test_events_run_back_to_back():
    ev = [Event("pl", "a", "PL", 3.0), Event("sync", "irq", None, 1.0), Event("ps", "b", "PS", 2.0)]
    assert place(ev) == 6.0
    assert [e.start_s for e in ev] == [0.0, 3.0, 4.0]
    assert busy(ev) == {"PL": 3.0, "PS": 2.0}


def test_stages_merge_neighbours_on_one_resource_and_drop_empty_events():
    ev = [Event("ps", "a", "PS", 1.0), Event("sync", "s", "PS", 0.5), Event("pl", "z", "PL", 0.0),
          Event("pl", "b", "PL", 2.0)]
    assert stages(ev) == [("PS", 1.5), ("PL", 2.0)]


def test_one_frame_in_flight_is_the_latency():
    chain = [("PL", 10.0), ("PS", 4.0), ("PL", 3.0)]
    assert pipeline_period(chain, 1) == 17.0


def test_two_frames_overlap_to_the_bottleneck_resource():
    # frame n+1's PL work runs while frame n is on the PS: the PL (13 per frame) is the bottleneck
    chain = [("PL", 10.0), ("PS", 4.0), ("PL", 3.0)]
    assert pipeline_period(chain, 2) == pytest.approx(13.0)


def test_waiting_is_not_busy_but_frames_in_flight_bound_the_overlap():
    # 5 + 20 (interrupt latency, no resource) + 5: two frames in flight -> one frame per 30 / 2
    chain = [("PL", 5.0), (None, 20.0), ("PS", 5.0)]
    assert pipeline_period(chain, 2) == pytest.approx(15.0)
    assert pipeline_period(chain, 6) == pytest.approx(5.0)       # enough frames: the resources bind


def test_period_never_beats_the_busiest_resource():
    chain = [("PS", 2.0), ("PL", 7.0), ("PS", 3.0), (None, 1.0), ("PL", 1.0), ("PS", 4.0)]
    for n in (1, 2, 3, 4):
        p = pipeline_period(chain, n)
        assert p >= max(8.0, 9.0) - 1e-9
        assert p <= sum(d for _, d in chain) + 1e-9
    with pytest.raises(ValueError):
        pipeline_period(chain, 0)
