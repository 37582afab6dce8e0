"""The deployment study behind `make sim`: files, consistency of the report with the estimates."""

import contextlib
import io
import json

import pytest

from hwsim.cli import main
from hwsim.estimate import estimate
from tests.hwsim import readme_block
from hwsim.study import ASSUMED_PEAK, FOCUS, POLICIES, STUDY_MODELS, WHAT_IFS


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
    out, _ = study
    printed = (out / "stdout.txt").read_text().replace(str(out), "build/sim").splitlines()
    shown = readme_block("make sim")
    assert sum(l.startswith("what-if ") for l in printed) == len(WHAT_IFS)
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
    for w, spec in zip(res["what_ifs"], WHAT_IFS):
        assert tuple(w["overrides"][:len(spec.overrides)]) == spec.overrides
        e = estimate(FOCUS[0], input_size=FOCUS[1], policy=spec.policy, overrides=w["overrides"])
        assert w["result"]["fps"] == e.fps, spec.label
    # every what-if fits the ZU3EG's 306 usable DSPs (85% of 360) but the DPU-sized array, whose
    # 8x14x14 = 1,568 CONV multipliers alone are five times that
    assert [spec.label.startswith("pointwise array at the DPU B3136") for spec in WHAT_IFS] == \
        [not w["fit"]["fits"] for w in res["what_ifs"]]


def test_report_explains_focus_with_its_numbers(study):
    out, res = study
    text = (out / "report.md").read_text()
    nv = next(r for r in res["runs"] if r["model"] == FOCUS[0] and r["policy"] == "naive")
    assert f"**{nv['fps']:.2f} fps**" in text
    assert f"**{nv['naive_fps']:.1f} fps**" in text
    for k, v in nv["breakdown_ms"].items():
        assert f"`{k}`: {v:.1f} ms" in text
    assert text.count("\n| efficientnet_b4 |") == 2          # both policies in the model table
    assert "## What fixes it" in text and len(WHAT_IFS) == text.split("## What fixes it")[1].split("\n## ")[0].count("\n| ") - 1
    # the op count at the PL's peak: 360 DSP48E2 x 2 packed INT8 MACs x 2 (double-pumped) x 100 MHz
    assert nv["naive_fps"] == pytest.approx(1440 * 100e6 / nv["total_macs"])
    assert "1,440 MACs/cycle (all 360 DSP slices of the ZU3EG, each packing 2 INT8 MACs" in text
    # the team's 80 fps needs more than even that
    assert 80 > nv["naive_fps"] and "their 80 fps needs 1,570 MACs/cycle, more than even this peak" in text
    # the step table starts at the op count, passes the array's own peak and ends at the simulated rate
    gap = nv["op_count_gap_ms"]
    op, array = gap["op_count"], 1e3 / nv["array_peak_fps"]
    assert f"| MACs at the PL's peak (`naive_fps`) | {op:+.1f} | {op:.1f} |" in text
    assert f"306 of the 1,440 MACs/cycle (`array_peak_fps` {nv['array_peak_fps']:.1f}) | {array - op:+.1f} | {array:.1f} |" in text
    assert f"\n{nv['period_ms']:.1f} ms per frame = {nv['fps']:.2f} fps." in text
    assert (f"at their own peak the op count is {nv['array_peak_fps']:.1f} fps, still "
            f"{nv['array_peak_fps'] / nv['fps']:.1f}x the simulated rate") in text


def test_packing_what_if_fits_and_beats_the_deployment(study):
    """WP486 packing frees DSPs for the depthwise engine, the B4 bottleneck: it fits the ZU3EG and
    is faster than both the deployment and the best unpacked shape at the same 100 MHz."""
    _, res = study
    w = {x["label"]: x for x in res["what_ifs"]}
    packed = next(x for label, x in w.items() if label.startswith("2 INT8 MACs per DSP"))
    unpacked = next(x for label, x in w.items() if label.startswith("PE array reshaped"))
    deployed = next(x for label, x in w.items() if label.startswith("as deployed"))
    assert packed["fit"]["fits"] and "accel.macs_per_dsp=2" in packed["overrides"]
    assert packed["resources"]["dsp"] <= 0.85 * 360
    assert packed["result"]["fps"] > unpacked["result"]["fps"] > deployed["result"]["fps"]


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
    assert r["array_peak_fps"] > 5 * r["fps"] and nv["fps"] < r["fps"] < 2 * nv["fps"]
    assert r["naive_fps"] == nv["naive_fps"]             # the device's peak does not grow with the array
    dw = sum(g["time_ms"] for g in r["by_kind"] if g["device"] == "PL" and g["kind"] == "DW")
    assert dw == pytest.approx(sum(g["time_ms"] for g in nv["by_kind"] if g["device"] == "PL" and g["kind"] == "DW"),
                               rel=0.01)
    text = (out / "report.md").read_text()
    assert (f"makes the op count at its peak **{r['array_peak_fps']:.1f} fps** and the simulation **{r['fps']:.2f} fps**, "
            f"{r['array_peak_fps'] / r['fps']:.1f}x apart: the depthwise engine ({dw:.1f} ms)") in text
    assert f"{w['resources']['dsp']:,.0f} DSPs where the ZU3EG has 360: too much DSP" in text


def test_depthwise_on_the_arm_cores_what_if(study):
    """Taking dwconv off the PL's op list (the rest of the deployed list kept) puts every depthwise
    layer on the PS; with 4 threads and frames pipelined the PL sheds its slowest engine's work and
    the frame rate rises with no hardware change.  The report says how close the PS is to taking
    over as the bottleneck and how much DDR bandwidth the two use."""
    out, res = study
    w = next(x for x in res["what_ifs"] if x["moved_to_ps"] == ["dwconv"])
    deployed = next(x for x in res["what_ifs"] if x["label"].startswith("as deployed"))
    kept = [op for op in res["config"]["accel"]["pl_ops"] if op != "dwconv"]
    assert w["overrides"] == ["ps.threads=4", "runtime.frames_in_flight=2",
                              "accel.pl_ops=" + json.dumps(kept, separators=(",", ":"))]
    r = w["result"]
    dw = [l for l in r["layers"] if l["op"] == "dwconv"]
    assert len(dw) == 32 and all(l["device"] == "PS" for l in dw)
    assert r["busy_ms"]["PL"] < deployed["result"]["busy_ms"]["PL"]
    assert r["fps"] > deployed["result"]["fps"] and w["fit"]["fits"]
    pl, ps = r["busy_ms"]["PL"], r["busy_ms"]["PS"]
    text = (out / "report.md").read_text()
    assert f"the PS is busy {ps:.1f} ms per frame against the PL's {pl:.1f} ms" in text
    assert f"about {100 * (1 - ps / pl):.0f}% slower" in text
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
