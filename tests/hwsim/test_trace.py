"""The Chrome trace-event export of the frame timeline (hwsim/trace.py, `estimate --trace`)."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
from collections import defaultdict

import pytest

from hwsim.cli import main
from hwsim.estimate import estimate
from hwsim.trace import chrome_trace


@pytest.fixture(scope="module")
def b0():
    # SE blocks on the PS: every kind of event; one start + interrupt per PL segment and two frames in
    # flight (a runtime driving whole segments from two threads), so the pipelined process is drawn
    est = estimate("efficientnet_b0", policy="naive",
                   overrides=["runtime.invocation=segment", "runtime.frames_in_flight=2"])
    return est, chrome_trace(est)


def complete(trace, pid):
    return [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] == pid]


def thread_names(trace, pid):
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name" and e["pid"] == pid}


def test_structure_is_the_trace_event_format(b0):
    """JSON object form: a traceEvents list of complete ("X": name, ts, dur in microseconds, pid,
    tid) and metadata ("M": process_name / thread_name with args.name) events, displayTimeUnit."""
    _, trace = b0
    text = json.dumps(trace, allow_nan=False)           # plain JSON: no NaN / Infinity
    trace = json.loads(text)
    assert isinstance(trace["traceEvents"], list) and trace["displayTimeUnit"] in ("ms", "ns")
    assert {e["ph"] for e in trace["traceEvents"]} == {"X", "M"}
    for e in trace["traceEvents"]:
        assert isinstance(e["pid"], int) and isinstance(e["name"], str) and e["name"]
        if e["ph"] == "X":
            assert isinstance(e["tid"], int) and e["ts"] >= 0 and e["dur"] > 0
        else:
            assert e["name"] in ("process_name", "thread_name", "thread_sort_index")
            assert ("name" if e["name"] != "thread_sort_index" else "sort_index") in e["args"]
    for pid in (1, 2):
        names = thread_names(trace, pid)
        assert {e["tid"] for e in complete(trace, pid)} <= set(names)      # every track is named
    assert set(thread_names(trace, 1).values()) == {"PL conv array", "PL depthwise engine", "PS (ARM cores)",
                                                    "PL->PS interrupt", "DDR"}


def test_one_frame_tracks_sum_to_the_breakdown(b0):
    est, trace = b0
    ev = complete(trace, 1)
    names = thread_names(trace, 1)
    per = defaultdict(float)
    for e in ev:
        per[(names[e["tid"]], e["cat"])] += e["dur"] / 1e3          # microseconds -> ms
    b = est.breakdown_ms
    pl = per[("PL conv array", "pl")] + per[("PL depthwise engine", "pl")]
    assert per[("PL conv array", "pl")] > 0 and per[("PL depthwise engine", "pl")] > 0
    assert pl == pytest.approx(b["pl_compute"] + b["pl_memory_stall"], rel=1e-9)
    pl_args = [e["args"] for e in ev if e["cat"] == "pl"]
    assert sum(a["compute_ms"] for a in pl_args) == pytest.approx(b["pl_compute"], rel=1e-9)
    assert sum(a["stall_ms"] for a in pl_args) == pytest.approx(b["pl_memory_stall"], rel=1e-9)
    assert per[("PS (ARM cores)", "ps_compute")] == pytest.approx(b["ps_compute"], rel=1e-9)
    assert per[("PS (ARM cores)", "transfer")] == pytest.approx(b["transfer"], rel=1e-9)
    assert per[("PS (ARM cores)", "sync")] + per[("PL->PS interrupt", "sync")] == pytest.approx(b["sync"], rel=1e-9)
    assert per[("DDR", "ddr")] == pytest.approx(est.busy_ms["DDR"], rel=1e-9)
    # the chain: frame latency is the end of the last event
    assert max(e["ts"] + e["dur"] for e in ev if e["cat"] != "ddr") / 1e3 == pytest.approx(est.latency_ms, rel=1e-9)
    # named as in the breakdown's records: every layer, transfer and sync appears by name
    named = {e["name"] for e in ev}
    assert {l.name for l in est.layers if l.time_ms > 0} <= named
    assert {f"{t.src_device}->{t.dst_device} {t.tensor}" for t in est.transfers} <= named
    assert {s.segment for s in est.syncs} == {int(n.split()[-1 if n.startswith("start") else 2])
                                                 for n in named if "PL segment" in n}


@pytest.mark.parametrize("pid", [1, 2])
def test_no_track_runs_two_events_at_once(b0, pid):
    """Each engine, the cores and the DDR serve one event at a time (events on a track nest in
    Perfetto only if they do not overlap)."""
    _, trace = b0
    by_tid = defaultdict(list)
    for e in complete(trace, pid):
        by_tid[e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for spans in by_tid.values():
        spans.sort()
        assert all(b[0] >= a[1] - 1e-3 for a, b in zip(spans, spans[1:]))


def test_pipelined_frames_complete_at_the_estimated_period(b0):
    est, trace = b0
    assert est.frames_in_flight == 2
    ends = defaultdict(float)
    for e in complete(trace, 2):
        if e["cat"] != "ddr":
            ends[e["args"]["frame"]] = max(ends[e["args"]["frame"]], (e["ts"] + e["dur"]) / 1e3)
    done = [ends[f] for f in sorted(ends)]
    gaps = [b - a for a, b in zip(done, done[1:])][2:-3]     # steady state: no fill, no drain
    assert statistics.median(gaps) == pytest.approx(est.pipelined_ms, rel=1e-6)
    assert est.pipelined_ms < est.latency_ms                  # the overlap is visible


def test_one_frame_in_flight_has_no_pipelined_process():
    est = estimate("mobilenet_v2", overrides=["runtime.frames_in_flight=1"])
    trace = chrome_trace(est)
    assert {e["pid"] for e in trace["traceEvents"]} == {1}


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_estimate_trace_flag_writes_the_file(tmp_path):
    path = tmp_path / "sub" / "b0.json"
    code, out, _ = run_cli(["estimate", "mobilenet_v3_small", "--trace", str(path)])
    assert code == 0 and str(path) in out
    trace = json.loads(path.read_text())
    est = estimate("mobilenet_v3_small")
    assert sum(e["dur"] for e in complete(trace, 1) if e["cat"] == "ps_compute") / 1e3 == pytest.approx(
        est.breakdown_ms["ps_compute"], rel=1e-9)
    code, _, err = run_cli(["estimate", "mobilenet_v3_small", "--trace", str(tmp_path)])
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1


def test_study_writes_the_b4_trace(tmp_path, monkeypatch):
    """`hwsim study` (make sim) writes trace.json for the as-deployed EfficientNet-B4 run (the study
    itself is tested in test_study; here it is replaced by its two B4 runs to stay fast)."""
    import hwsim.study as study_mod
    from hwsim.config import load
    est = {p: estimate("efficientnet_b4", input_size=256, policy=p) for p in ("naive", "optimized")}
    b4 = {p: e.to_json() for p, e in est.items()}

    def fake_run(out, **_):
        out.mkdir(parents=True, exist_ok=True)
        return study_mod.Study("ultra96v1", "ultra96v1_default", (), load(), [est["naive"], est["optimized"]],
                               [], "linux_uio", [])
    monkeypatch.setattr(study_mod, "run", fake_run)
    code, out, _ = run_cli(["study", "--out", str(tmp_path)])
    assert code == 0 and out.rstrip().endswith("trace.json")
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert trace["otherData"]["model"] == "efficientnet_b4" and trace["otherData"]["policy"] == "naive"
    assert sum(e["dur"] for e in complete(trace, 1) if e["cat"] == "ps_compute") / 1e3 == pytest.approx(
        b4["naive"]["breakdown_ms"]["ps_compute"], rel=1e-9)
    assert sum(e["dur"] for e in complete(trace, 1) if e["cat"] == "host_pre_post") / 1e3 == pytest.approx(
        b4["naive"]["breakdown_ms"]["host_pre_post"], rel=1e-9)
