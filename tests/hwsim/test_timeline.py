import pytest

from hwsim.timeline import Event, busy, pipeline_period, place, schedule, stages


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


def _random_chain(rng, n):
    return [(rng.choice(["PL", "PS", None]), rng.choice([0.5, 1.0, 2.0, 3.0, 7.0, rng.uniform(0.1, 10)]))
            for _ in range(n)]


def _check_schedule(chain, n, frames=60):
    """The schedule the period comes from, checked from its start times alone: each frame's stages
    in order, one stage at a time per resource, at most k frames in flight; its frames complete
    one period apart once the fill is over."""
    starts, period, k = schedule(chain, n, frames)
    assert 1 <= k <= n
    ends = []
    busy = {}
    for f, row in enumerate(starts):
        assert len(row) == len(chain)
        t = row[0]
        if f >= k:
            assert t >= ends[f - k] - 1e-9, (f, t, ends[f - k])          # admitted when a frame left
        for (r, d), st in zip(chain, row):
            assert st >= t - 1e-9                                        # after its previous stage
            t = st + d
            if r is not None:
                busy.setdefault(r, []).append((st, t))
        ends.append(t)
    for spans in busy.values():
        spans.sort()
        assert all(b[0] >= a[1] - 1e-9 for a, b in zip(spans, spans[1:]))  # one at a time
    late = ends[frames // 2:]
    return period, (late[-1] - late[0]) / (len(late) - 1), k


def test_period_is_bounded_monotonic_and_is_the_spacing_of_a_valid_schedule_over_many_chains():
    """Issue 15: with 3+ frames in flight the old estimator reported more than 1 / busiest resource
    and was not monotonic in frames in flight; the period is what a schedule checked stage by stage
    reaches (its completions' spacing over the last half, with a window error of up to k frames
    completing in a clump at either end)."""
    import random
    rng = random.Random(15)
    for _ in range(40):
        chain = _random_chain(rng, rng.randint(1, 12))
        latency = sum(d for _, d in chain)
        busiest = max([sum(d for r, d in chain if r == x) for x in ("PL", "PS")])
        prev = None
        for n in range(1, 7):
            p = pipeline_period(chain, n)
            assert p >= busiest * (1 - 1e-12) and p >= latency / n * (1 - 1e-12), (chain, n, p)
            assert p <= latency * (1 + 1e-12)
            if prev is not None:
                assert p <= prev * (1 + 1e-12), (chain, n, p, prev)      # more in flight never slower
            prev = p
            period, spacing, k = _check_schedule(chain, n)
            assert period == pytest.approx(p, rel=1e-12)
            assert spacing == pytest.approx(p, abs=2 * k * latency / 30), (chain, n)


def test_a_shorter_stage_never_lengthens_the_period_over_many_chains():
    """The property first-come first-served broke (Graham's anomaly): 0 of these may fail."""
    import random
    rng = random.Random(16)
    for _ in range(150):
        chain = _random_chain(rng, rng.randint(1, 9))
        j = rng.randrange(len(chain))
        shorter = list(chain)
        shorter[j] = (chain[j][0], chain[j][1] * rng.choice([0.0, 0.3, 0.7, 0.95]))
        for n in (2, 3, 4, 5):
            assert pipeline_period(shorter, n) <= pipeline_period(chain, n) * (1 + 1e-9), (chain, shorter, n)


@pytest.mark.parametrize("chain,shorter,n,before,bound_after", [
    # the PL is busy 2 + 2 = 4 per frame: 4 is the bound and the period; first come first served
    # gave 13/3 once the first PL stage took 1 (PL busy 3 and latency 9: the bound is 3)
    ([("PL", 2.0), (None, 6.0), ("PL", 2.0)], [("PL", 1.0), (None, 6.0), ("PL", 2.0)], 3, 4.0, 3.0),
    # PL busy 1 + 5 = 6 per frame, bound and period; first come first served gave 22/3 once the PS
    # stage took 2 instead of 3, though the PL's work did not change
    ([("PL", 1.0), ("PS", 3.0), (None, 4.0), ("PL", 5.0)], [("PL", 1.0), ("PS", 2.0), (None, 4.0), ("PL", 5.0)],
     3, 6.0, 6.0),
])
def test_graham_anomalies_by_hand(chain, shorter, n, before, bound_after):
    assert pipeline_period(chain, n) == pytest.approx(before)
    after = pipeline_period(shorter, n)
    assert bound_after - 1e-9 <= after <= before + 1e-9


def test_efficientnet_b4_fps_stays_at_the_pl_bound_for_any_frames_in_flight():
    from hwsim.estimate import estimate
    # one start + interrupt per PL segment (as before runtime profiles; the PL's busy time is the same)
    fps = [estimate("efficientnet_b4", input_size=256,
                    overrides=[f"runtime.frames_in_flight={n}", "runtime.invocation=segment"]).fps
           for n in (1, 2, 3, 4, 5)]
    # 152.1 ms of PL busy time per frame: 6.58 fps at most, reached at 2 frames in flight
    assert fps[0] == pytest.approx(5.66, abs=0.01)          # one frame: 1 / latency (176.8 ms)
    assert all(f == pytest.approx(6.575, abs=0.01) for f in fps[1:]), fps


def test_many_frames_in_flight_on_a_long_chain_is_quick():
    import random
    import time
    rng = random.Random(1)
    chain = _random_chain(rng, 300)
    t = time.monotonic()
    pipeline_period(chain, 32)
    assert time.monotonic() - t < 5
    with pytest.raises(ValueError, match="at most 32"):
        pipeline_period(chain, 10**6)
