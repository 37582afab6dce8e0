"""The deployment study behind `make sim`: files, consistency of the report with the estimates."""

import contextlib
import io
import json
import re

import pytest

from hwsim.cli import main
from hwsim.config import load
from hwsim.estimate import estimate
from tests.hwsim import readme_block
from hwsim.study import ASSUMED_PEAK, FOCUS, POLICIES, STUDY_MODELS


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["study", "--out", str(out)]) == 0
    (out / "stdout.txt").write_text(printed.getvalue())
    return out, json.loads((out / "results.json").read_text())


def test_readme_shows_what_make_sim_prints(study):
    """The README's `make sim` block is the study's console output, line for line (the output
    directory in the last line aside: the README's is build/sim)."""
    out, res = study
    printed = (out / "stdout.txt").read_text().replace(str(out), "build/sim").splitlines()
    shown = readme_block("make sim")
    assert sum(l.startswith("what-if ") for l in printed) == len(res["what_ifs"])
    assert shown == printed


def test_writes_report_results_and_plots(study):
    out, _ = study
    for name in ("report.md", "results.json", "breakdown.png", "timeline.png", "roofline.png"):
        data = (out / name).read_bytes()
        assert len(data) > 1000, name
        if name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n", name


def test_runs_every_model_under_both_policies(study):
    _, res = study
    got = [(r["model"], r["policy"]) for r in res["runs"]]
    assert got == [(m, p) for m, _ in STUDY_MODELS for p in POLICIES]
    b4 = [r for r in res["runs"] if r["model"] == "efficientnet_b4"]
    assert all(r["input_shape"] == [1, 3, 256, 256] for r in b4)


def test_runs_equal_direct_estimates(study):
    _, res = study
    nv = next(r for r in res["runs"] if r["model"] == FOCUS[0] and r["policy"] == "naive")
    direct = estimate(FOCUS[0], input_size=FOCUS[1], policy="naive")
    assert nv["fps"] == direct.fps and nv["latency_ms"] == direct.latency_ms
    for w in res["what_ifs"]:
        e = estimate(FOCUS[0], input_size=FOCUS[1], policy=w["policy"], overrides=w["overrides"])
        assert w["result"]["fps"] == e.fps and w["result"]["latency_ms"] == e.latency_ms, w["label"]
    # every what-if fits the ZU3EG's 306 usable DSPs (85% of 360) but the DPU-sized array, whose
    # 8x14x14 = 1,568 CONV multipliers alone are five times that
    assert [w["label"].startswith("pointwise array at the DPU B3136") for w in res["what_ifs"]] == \
        [not w["fit"]["fits"] for w in res["what_ifs"]]


def test_report_explains_focus_with_its_numbers(study):
    out, res = study
    text = (out / "report.md").read_text()
    nv = next(r for r in res["runs"] if r["model"] == FOCUS[0] and r["policy"] == "naive")
    assert f"**{nv['fps']:.2f} fps**" in text
    assert f"**{nv['op_count_fps']:.1f} fps**" in text
    for k, v in nv["breakdown_ms"].items():
        assert f"`{k}`: {v:.1f} ms" in text
    assert text.count("\n| efficientnet_b4 |") == 2          # both policies in the model table
    assert "## What fixes it" in text and len(res["what_ifs"]) == text.split("## What fixes it")[1].split("\n## ")[0].count("\n| ") - 1
    # the op count at the PL's peak: 360 DSP48E2 x 2 packed INT8 MACs x 2 (double-pumped) x 100 MHz
    assert nv["op_count_fps"] == pytest.approx(1440 * 100e6 / nv["total_macs"])
    assert "1,440 MACs/cycle (all 360 DSP slices of the ZU3EG, each packing 2 INT8 MACs" in text
    # the team's 80 fps needs more than even that
    assert 80 > nv["op_count_fps"] and "their 80 fps needs 1,570 MACs/cycle, more than even this peak" in text
    # the step table starts at the op count, passes the array's own peak and ends at the simulated rate
    gap = nv["op_count_gap_ms"]
    op, array = gap["op_count"], 1e3 / nv["array_op_count_fps"]
    assert f"| MACs at the PL's peak (`op_count_fps`) | {op:+.1f} | {op:.1f} |" in text
    assert f"306 of the 1,440 MACs/cycle (`array_op_count_fps` {nv['array_op_count_fps']:.1f}) | {array - op:+.1f} | {array:.1f} |" in text
    assert f"\n{nv['period_ms']:.1f} ms per frame = {nv['fps']:.2f} fps." in text
    assert (f"at their own peak the op count is {nv['array_op_count_fps']:.1f} fps, still "
            f"{nv['array_op_count_fps'] / nv['fps']:.1f}x the simulated rate") in text


# The fields each lever may change (the list of levers), written out here rather than read
# from hwsim.advise, so a row that changes something outside its lever fails.
LEVER_FIELDS = {
    "placement": set(),
    "array shape": {"accel.pp", "accel.icp", "accel.ocp", "accel.dw_channels"},
    "packing": {"accel.pp", "accel.icp", "accel.ocp", "accel.dw_channels", "accel.macs_per_dsp"},
    "buffers": {"accel.ibuf_kib", "accel.obuf_kib", "accel.wbuf_depth"},
    "clock": {"accel.clock_mhz"},
    "ops on PS vs PL": {"accel.pl_ops", "ps.threads"},
    "runtime": {"ps.threads", "runtime.frames_in_flight", "runtime.buffer_mode", "runtime.completion"},
}


def check_what_if_labels(res):
    """Every claim a what-if label makes holds for the configuration the row simulated, on the
    study's board: the shape, clock, packing, buffers, threads and ops it names are the ones run, a
    row that changes something beats the deployment and fits the device, one that says nothing beats
    the deployment changes nothing, and the counts it gives are the search's."""
    deployed = res["what_ifs"][0]
    assert deployed["label"].startswith("as deployed") and not deployed["overrides"]
    base_fps, base_accel, base_ps = deployed["result"]["fps"], res["config"]["accel"], res["config"]["ps"]
    levers = [w for w in res["what_ifs"] if w["lever"]]
    assert {w["lever"] for w in levers} >= {"placement", "array shape", "clock", "ops on PS vs PL", "runtime",
                                            "all levers together"}
    for w in levers:
        label, r = w["label"], w["result"]
        accel, ps = r["params"]["config"]["accel"], r["params"]["config"]["ps"]
        keys = {o.partition("=")[0] for o in w["overrides"]}
        assert label.startswith(w["lever"] + ": ")
        if w["lever"] in LEVER_FIELDS:
            assert keys <= LEVER_FIELDS[w["lever"]], label
        n = int(re.search(r"(\d+) designs that fit", label).group(1))
        assert n == w["search"]["simulated"] and n > 0
        if "no change beats the deployment" in label:
            assert not w["overrides"] and w["policy"] == "naive" and r["fps"] == base_fps
            continue
        assert w["fit"]["fits"] and r["fps"] > base_fps, label
        assert w["overrides"] or w["policy"] != "naive"
        m = re.search(r"PL clock (\d+(?:\.\d+)?) MHz", label)
        assert (accel["clock_mhz"] == float(m.group(1))) if m else (accel["clock_mhz"] == base_accel["clock_mhz"]), label
        if m:
            assert accel["clock_mhz"] > base_accel["clock_mhz"]
        m = re.search(r"PE array (\d+)x(\d+)x(\d+)", label)
        shape = tuple(accel[k] for k in ("pp", "icp", "ocp"))
        assert shape == (tuple(map(int, m.groups())) if m else tuple(base_accel[k] for k in ("pp", "icp", "ocp"))), label
        m = re.search(r"(\d+) depthwise channels", label)
        assert accel["dw_channels"] == (int(m.group(1)) if m else base_accel["dw_channels"]), label
        assert accel["macs_per_dsp"] == (2 if "2 INT8 MACs per DSP" in label else base_accel["macs_per_dsp"]), label
        m = re.search(r"(\d+) PS threads?", label)
        assert ps["threads"] == (int(m.group(1)) if m else base_ps["threads"]), label
        for buf, word in (("ibuf_kib", "input"), ("obuf_kib", "output")):
            m = re.search(word + r" buffer (\d+) KiB", label)
            assert accel[buf] == (int(m.group(1)) if m else base_accel[buf]), label
        rt, base_rt = r["params"]["config"]["runtime"], res["config"]["runtime"]
        m = re.search(r"(\d+) frames? in flight", label)
        assert r["frames_in_flight"] == rt["frames_in_flight"] == (int(m.group(1)) if m else base_rt["frames_in_flight"])
        m = re.search(r"(\w+) shared buffers", label)
        assert rt["buffer_mode"] == (m.group(1) if m else base_rt["buffer_mode"]), label
        m = re.search(r"completion by (\w+)", label)
        assert rt["completion"] == (m.group(1) if m else base_rt["completion"]), label
        m = re.search(r"([a-z_/]+) on the PS instead of the PL", label)
        moved = m.group(1).split("/") if m else []
        assert w["moved_to_ps"] == moved and [o for o in base_accel["pl_ops"] if o not in accel["pl_ops"]] == moved
        for l in r["layers"]:
            if l["op"] in moved:
                assert l["device"] == "PS", (label, l["name"])
        assert ("optimized placement" in label) == (w["policy"] == "optimized"), label
        # a row that changes the clock says what the timing estimate makes of it, and it is true
        m = re.search(r"(\d+(?:\.\d+)?) MHz is (within|beyond) the ~(\d+(?:\.\d+)?) MHz Fmax estimate", label)
        if m:
            from rtl.synth import recorded_timing
            fmax = float(int(recorded_timing(load(res["board"]).pe)["fmax_mhz_estimate"]))
            assert float(m.group(1)) == accel["clock_mhz"] and float(m.group(3)) == fmax, label
            assert (accel["clock_mhz"] <= fmax) == (m.group(2) == "within"), label
            assert shape == tuple(base_accel[k] for k in ("pp", "icp", "ocp")), "an estimate of the deployed instance"
        elif "PL clock" in label:
            assert "timing is not estimated" in label or "no timing estimate" in label, label
        rest = label.replace(m.group(0), "") if m else label
        assert " MHz" not in rest.replace(f"PL clock {accel['clock_mhz']:g} MHz", ""), label
    # the clock row is the fastest of the clocks it had: every clock step up to its own is slower
    clock = next(w for w in levers if w["lever"] == "clock")
    if clock["overrides"]:
        top = clock["result"]["params"]["config"]["accel"]["clock_mhz"]
        for mhz in sorted({base_accel["clock_mhz"], (base_accel["clock_mhz"] + top) / 2}):
            slower = estimate(FOCUS[0], input_size=FOCUS[1], policy="naive", board=res["board"],
                              overrides=[f"accel.clock_mhz={mhz}"])
            assert slower.fps < clock["result"]["fps"]


def test_what_if_labels_are_true_on_the_ultra96(study):
    _, res = study
    check_what_if_labels(res)


def test_packing_what_if_fits_and_beats_the_unpacked_shapes(study):
    """On the ZU3EG WP486 packing frees DSPs for the depthwise engine, the B4 bottleneck: the best
    packed design found fits and beats the best unpacked shape at the same clock."""
    _, res = study
    w = {x["lever"]: x for x in res["what_ifs"] if x["lever"]}
    packed, unpacked = w["packing"], w["array shape"]
    assert packed["fit"]["fits"] and "accel.macs_per_dsp=2" in packed["overrides"]
    assert packed["resources"]["dsp"] <= 0.85 * 360
    assert packed["result"]["fps"] > unpacked["result"]["fps"] > res["what_ifs"][0]["result"]["fps"]
    # every unpacked shape that fits was simulated: the study's count is the number that fit
    from hwsim.config import load
    from hwsim.resources import accel_resources, misfit
    fits = 0
    for pp in (1, 2, 4, 8, 16):
        for icp in (4, 8, 12, 16, 24, 32):
            for ocp in (4, 6, 8, 12, 16, 24, 32):
                for dw in (1, 2, 3, 4, 6, 8, 12, 16):
                    cfg = load(overrides=[f"accel.pp={pp}", f"accel.icp={icp}", f"accel.ocp={ocp}",
                                          f"accel.dw_channels={dw}"])
                    fits += not misfit(cfg.board, accel_resources(cfg))
    assert unpacked["search"]["simulated"] == fits and unpacked["search"]["method"].startswith("exact")


@pytest.fixture(scope="module", params=["zcu104", "kv260"])
def other_board_study(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"sim_{request.param}")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["study", "--board", request.param, "--out", str(out)]) == 0
    return json.loads((out / "results.json").read_text()), (out / "report.md").read_text()


def test_what_if_labels_are_true_on_other_boards(other_board_study):
    """The labels are computed for the board: on the ZCU104 and the KV260 (accelerators at 200 MHz)
    no row offers a clock the deployment already has or claims a shape 'best' that is slower."""
    res, report = other_board_study
    check_what_if_labels(res)
    assert "PL clock 200 MHz" not in " ".join(w["label"] for w in res["what_ifs"])
    assert "## What fixes it" in report and "100 MHz" not in report.split("## What fixes it")[1]


def test_array_at_the_assumed_peak(study):
    """The team's 80 fps needs ~1,570 MACs/cycle; our pointwise array at the DPU B3136's 8x14x14
    (1,568) does not fit the ZU3EG, and even simulated anyway it stays far below its op count, because
    the depthwise engine and the PS work do not grow with it."""
    out, res = study
    nv = next(r for r in res["runs"] if r["model"] == FOCUS[0] and r["policy"] == "naive")
    w = next(x for x in res["what_ifs"] if tuple(x["overrides"]) == ASSUMED_PEAK)
    r = w["result"]
    assert r["params"]["engine_peak_macs_per_cycle"]["CONV"] == 1568
    assert 80 == pytest.approx(1568 * 100e6 / nv["total_macs"], rel=0.01)
    assert not w["fit"]["fits"] and "dsp" in w["fit"]["over"] and w["resources"]["dsp"] > 360
    assert r["array_op_count_fps"] > 5 * r["fps"] and nv["fps"] < r["fps"] < 2 * nv["fps"]
    assert r["op_count_fps"] == nv["op_count_fps"]             # the device's peak does not grow with the array
    dw = sum(g["time_ms"] for g in r["by_kind"] if g["device"] == "PL" and g["kind"] == "DW")
    assert dw == pytest.approx(sum(g["time_ms"] for g in nv["by_kind"] if g["device"] == "PL" and g["kind"] == "DW"),
                               rel=0.01)
    text = (out / "report.md").read_text()
    assert (f"makes the op count at its peak **{r['array_op_count_fps']:.1f} fps** and the simulation **{r['fps']:.2f} fps**, "
            f"{r['array_op_count_fps'] / r['fps']:.1f}x apart: the depthwise engine ({dw:.1f} ms)") in text
    assert f"{w['resources']['dsp']:,.0f} DSPs where the ZU3EG has 360: too much DSP" in text


def test_ops_on_the_arm_cores_what_if(study):
    """The ops lever takes op kinds off the PL's list (the rest of the deployed list kept): on the
    Ultra96 it moves the depthwise convs to the four A53s, and the PL sheds its
    slowest engine's work and the frame rate rises with no hardware change.  The report says how
    close the PS is to taking over as the bottleneck and how much DDR bandwidth the two use."""
    out, res = study
    w = next(x for x in res["what_ifs"] if x["lever"] == "ops on PS vs PL")
    deployed = res["what_ifs"][0]
    assert "dwconv" in w["moved_to_ps"] and "ps.threads=4" in w["overrides"]
    kept = [op for op in res["config"]["accel"]["pl_ops"] if op not in w["moved_to_ps"]]
    assert "accel.pl_ops=" + json.dumps(kept, separators=(",", ":")) in w["overrides"]
    r = w["result"]
    dw = [l for l in r["layers"] if l["op"] == "dwconv"]
    assert len(dw) == 32 and all(l["device"] == "PS" for l in dw)
    assert r["busy_ms"]["PL"] < deployed["result"]["busy_ms"]["PL"]
    assert r["fps"] > deployed["result"]["fps"] and w["fit"]["fits"]
    pl, ps = r["busy_ms"]["PL"], r["busy_ms"]["PS"]
    text = (out / "report.md").read_text()
    assert f"the PS is busy {ps:.1f} ms per frame against the PL's {pl:.1f} ms" in text
    if r["frames_in_flight"] > 1:
        assert f"about {100 * (1 - ps / pl):.0f}% slower" in text
    else:       # one frame at a time: the PS and the PL take turns, neither is "the bottleneck"
        assert "with one frame in flight the two run one after the other" in text
    # the DDR share: the board's sustained bandwidth (ddr.peak_gbps x ddr.efficiency) over one period
    ddr = res["config"]["ddr"]
    sustained = ddr["peak_gbps"] * ddr["efficiency"] * 1e9
    assert f"of its sustained {sustained / 1e9:.2f} GB/s at {r['fps']:.2f} fps" in text
    moved = sum(l["load_bytes"] + l["store_bytes"] for l in r["layers"] if l["device"] == "PL") \
        + sum(l["memory_ms"] for l in r["layers"] if l["device"] == "PS") * 1e-3 * res["config"]["ps"]["mem_gbps"] * 1e9
    assert f"move {moved / 1e6:.0f} MB per frame through DDR, {100 * moved * r['fps'] / sustained:.0f}%" in text
    assert moved < sustained / r["fps"] and r["bottleneck"] != "DDR"    # below the DDR's cap: it does not bind


def test_bad_board_is_one_line(capsys):
    assert main(["study", "--board", "nope", "--out", "/nonexistent/never"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown board 'nope'" in err[0]


def test_runtime_section_per_profile(study):
    """Per runtime profile, the B4 frame's PS<->PL interaction (PS ops on shared buffers, maintenance,
    PL starts, completion waits) adds up from the estimate's own records, and the profile the study
    runs matches its deployed row."""
    out, res = study
    rows = res["runtimes"]
    assert {r["runtime"] for r in rows} == {"baremetal", "linux_uio", "pynq", "vart"}
    for r in rows:
        i, s = r["interaction_ms"], r["result"]
        assert i["total"] == pytest.approx(i["ps_shared"] + i["maintenance"] + i["invocation"] + i["waits"])
        assert i["maintenance"] == s["breakdown_ms"]["transfer"]
        assert i["invocation"] + i["waits"] == pytest.approx(s["breakdown_ms"]["sync"])
        assert i["share"] == pytest.approx(i["total"] / s["latency_ms"])
    own = next(r for r in rows if r["runtime"] == res["runtime"] and not r["overrides"])
    deployed = next(x for x in res["what_ifs"] if x["label"].startswith("as deployed"))
    assert own["result"]["fps"] == pytest.approx(deployed["result"]["fps"])
    # uncached buffers need no maintenance; a second thread keeps the latency and raises the rate
    for name in ("linux_uio", "vart", "baremetal"):
        unc = next(r for r in rows if r["runtime"] == name and r["overrides"] == ["runtime.buffer_mode=uncached"])
        base = next(r for r in rows if r["runtime"] == name and not r["overrides"])
        two = next(r for r in rows if r["runtime"] == name and r["overrides"] == ["runtime.frames_in_flight=2"])
        assert unc["interaction_ms"]["maintenance"] == 0 < base["interaction_ms"]["maintenance"]
        assert two["result"]["latency_ms"] == pytest.approx(base["result"]["latency_ms"])
        assert two["result"]["fps"] > base["result"]["fps"]
    pynq = [r for r in rows if r["runtime"] == "pynq"]
    assert not any(r["overrides"] == ["runtime.buffer_mode=uncached"] for r in pynq)   # already its own mode
    text = (out / "report.md").read_text()
    assert "## The software side: runtime profiles" in text
    for r in rows:
        assert f"| {r['runtime']} | {r['variant']} | {r['result']['fps']:.2f} |" in text
