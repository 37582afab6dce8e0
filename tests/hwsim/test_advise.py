"""hwsim advise: designs that fit, better than the deployment, with the numbers hwsim estimate gives."""

import contextlib
import io
import json

import pytest

from hwsim.advise import advise
from hwsim.cli import main
from hwsim.config import load
from hwsim.estimate import estimate
from hwsim.resources import accel_resources, misfit
from tests.hwsim import readme_block


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def direct(d, model="efficientnet_b4", size=256, board=None):
    """The design simulated by hwsim estimate with the overrides advise says it needs."""
    return estimate(model, input_size=size, policy=d["policy"], board=board, overrides=d["overrides"])


@pytest.fixture(scope="module")
def b4():
    """The issue's command, at the default budget."""
    code, out, err = run_cli(["advise", "efficientnet_b4", "--input-size", "256", "--json"])
    assert code == 0, err
    return json.loads(out)


def test_b4_designs_fit_the_zu3eg_and_beat_the_deployment(b4):
    base = b4["baseline"]
    dep = estimate("efficientnet_b4", input_size=256)
    assert base["fps"] == dep.fps and base["fits"] and not base["changes"]
    assert b4["designs"], b4["verdict"]
    fps = [d["fps"] for d in b4["designs"]]
    assert fps == sorted(fps, reverse=True)                     # ranked
    zu3eg = load().board
    for d in b4["designs"]:
        assert d["fits"] and d["fps"] > base["fps"] and d["changes"]
        e = direct(d)
        assert e.fps == d["fps"] and e.latency_ms == d["latency_ms"]
        cfg = load(overrides=d["overrides"])
        assert not misfit(zu3eg, accel_resources(cfg)) and accel_resources(cfg) == d["resources"]
        for r in ("dsp", "lut", "ff", "bram36"):                # at most 85% of the ZU3EG's (DS891)
            assert d["resources"][r] <= 0.85 * {"dsp": 360, "lut": 70560, "ff": 141120, "bram36": 216}[r]
        # every change named is a --set override (or the placement) and nothing else changed
        keys = {c["key"] for c in d["changes"]}
        assert keys - {"policy"} == {o.partition("=")[0] for o in d["overrides"]}
        assert ("policy" in keys) == (d["policy"] != "naive")
    assert "that fit beat the deployed one" in b4["verdict"] and f"{b4['designs'][0]['fps']:.2f}" in b4["verdict"]
    assert b4["search"]["simulated"] == 200 and b4["search"]["pruned"] > 0


def test_b4_pareto_front_is_not_dominated(b4):
    front = b4["pareto"]
    assert front and max(d["fps"] for d in front) == b4["designs"][0]["fps"]
    for a in front:
        for b in front:
            better = (b["fps"] >= a["fps"] and b["resources"]["dsp"] <= a["resources"]["dsp"]
                      and b["resources"]["lut"] <= a["resources"]["lut"])
            strictly = (b["fps"], -b["resources"]["dsp"], -b["resources"]["lut"]) != \
                (a["fps"], -a["resources"]["dsp"], -a["resources"]["lut"])
            assert not (better and strictly)


def test_designs_keep_only_changes_that_help(b4):
    """Putting any one change of the best design back as deployed makes it slower, or no faster with
    more DSPs or LUTs (or it does not fit)."""
    best = b4["designs"][0]
    for o in best["overrides"]:
        rest = [x for x in best["overrides"] if x != o]
        cfg = load(overrides=rest)
        res = accel_resources(cfg)
        if misfit(cfg.board, res):
            continue
        fps = estimate("efficientnet_b4", input_size=256, policy=best["policy"], overrides=rest).fps
        assert fps < best["fps"] or (fps == best["fps"] and (res["dsp"] > best["resources"]["dsp"]
                                                            or res["lut"] > best["resources"]["lut"])), o


def test_exact_enumeration_of_a_small_space():
    """Only the clock, with the ceiling given: every candidate up to 200 MHz is simulated, the best
    is the highest, and the clocks in between rank in order."""
    a = advise("efficientnet_b4", input_size=256, levers=["clock"], max_clock_mhz=200)
    assert a.search["method"].startswith("exact") and a.search["simulated"] == 5      # 100..200 in 25s
    clocks = [d["changes"][0]["to"] for d in a.designs]
    assert clocks == [200.0, 175.0, 150.0, 125.0]
    for d in a.designs:
        assert direct(d).fps == d["fps"]


def test_the_timing_estimate_caps_the_default_clock_and_is_stated():
    """On the Ultra96 the deployed instance's recorded Fmax estimate (Yosys logic depth, 122 MHz)
    is below the DPU's cited 200 MHz, so the search stops there and says why; a ceiling given above
    it is obeyed and the clocks beyond the estimate are named as such."""
    from rtl.synth import recorded_timing
    est = recorded_timing(load("ultra96v1").pe)["fmax_mhz_estimate"]
    assert 100 < est < 200
    a = advise("efficientnet_b4", input_size=256, levers=["clock"])
    assert a.clock["max_mhz"] == a.clock["fmax_mhz_estimate"] == float(int(est))
    assert "Fmax estimate" in a.clock["source"] and "200 MHz" in a.clock["source"]
    assert "supports every clock searched" in a.clock["timing"] and "not timing closure" in a.clock["timing"]
    assert [d["changes"][0]["to"] for d in a.designs] == [float(int(est))]
    g = advise("efficientnet_b4", input_size=256, levers=["clock"], max_clock_mhz=200)
    assert f"clocks above {int(est)} MHz are beyond it" in g.clock["timing"]
    assert any(f"beyond it" in line for line in g.lines())
    assert [d["timing"]["supports_clock"] for d in g.designs] == [False] * 4      # 200, 175, 150, 125 > 122
    assert a.designs[0]["timing"]["supports_clock"] is True
    # the KV260's default runs at 200 MHz, above its own recorded estimate: said of the deployment and
    # of every faster clock, and the cited ceiling kept
    kest = recorded_timing(load("kv260").pe)["fmax_mhz_estimate"]
    assert kest < 200
    k = advise("mobilenet_v2", board="kv260", levers=["clock"])
    assert k.clock["max_mhz"] == 300 and "the deployed 200 MHz is already above it" in k.clock["timing"]
    assert k.designs and [d["timing"]["supports_clock"] for d in k.designs] == [False] * len(k.designs)
    # no recorded estimate for the ZCU102's instance: said, and the cited ceiling kept
    z = advise("mobilenet_v2", board="zcu102", levers=["clock"])
    assert z.clock["max_mhz"] == 281 and z.clock["fmax_mhz_estimate"] is None
    assert "no timing estimate is recorded" in z.clock["timing"]
    assert z.designs and all(d["timing"]["supports_clock"] is None for d in z.designs)


def test_max_clock_is_stated_and_obeyed():
    a = advise("mobilenet_v2", levers=["clock"], max_clock_mhz=130)
    assert a.clock["max_mhz"] == 130.0 and a.clock["source"] == "given with --max-clock-mhz"
    assert [d["changes"][0]["to"] for d in a.designs] == [130.0, 125.0]
    z = advise("mobilenet_v2", board="zcu104", levers=["clock"])      # deployed at 200, the DPU at 300
    assert z.clock["max_mhz"] == 300 and z.designs[0]["changes"][0]["to"] == 300.0
    assert all(d["changes"][0]["to"] > 200 for d in z.designs)


def test_says_when_nothing_beats_the_deployment():
    """With two frames in flight the PL is B4's bottleneck, so the optimized placement (SE pooling on
    the PL, more PL work) is slower."""
    two = ["--set", "runtime.frames_in_flight=2"]
    code, out, err = run_cli(["advise", "efficientnet_b4", "--input-size", "256", "--lever", "placement"] + two)
    assert code == 0, err
    assert "no design found that fits beats the deployed one" in out
    assert estimate("efficientnet_b4", input_size=256, policy="optimized", overrides=two[1:]).fps < \
        estimate("efficientnet_b4", input_size=256, overrides=two[1:]).fps
    code, out, _ = run_cli(["advise", "efficientnet_b4", "--input-size", "256", "--lever", "placement", "--json"] + two)
    res = json.loads(out)
    assert res["designs"] == [] and res["verdict"].startswith("no design")


def test_nothing_that_does_not_fit_is_simulated(tmp_path):
    """Pruned before simulation: every design streamed to designs.jsonl (all simulated) fits."""
    a = advise("efficientnet_b4", input_size=256, levers=["array shape"], budget=40, out=tmp_path)
    assert a.search["method"].startswith("optuna") and a.search["pruned"] > 0
    recs = [json.loads(l) for l in (tmp_path / "designs.jsonl").read_text().splitlines()]
    assert len(recs) >= 40
    board = load().board
    for r in recs:
        cfg = load(overrides=[f"{k}={v}" for k, v in r["design"].items() if k.startswith("accel.")])
        assert not misfit(board, accel_resources(cfg)) and r["fits"]


def test_resume_continues_without_resimulating(tmp_path):
    args = ["advise", "mobilenet_v2", "--lever", "array shape", "--budget", "15", "--out", str(tmp_path), "--json"]
    code, out, err = run_cli(args)
    assert code == 0, err
    first = json.loads(out)
    lines = (tmp_path / "designs.jsonl").read_text().splitlines()
    code, out, err = run_cli(args)                                      # again without --resume: refused
    assert code == 2 and "--resume" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(args + ["--resume"])
    assert code == 0, err
    again = json.loads(out)
    assert (tmp_path / "designs.jsonl").read_text().splitlines() == lines      # nothing new simulated
    assert again["designs"] == first["designs"] and again["search"]["resumed"] == len(lines)
    code, out, err = run_cli(args[:-1] + ["--resume", "--budget", "25", "--json"])   # a larger budget goes on
    assert code == 0, err
    assert len((tmp_path / "designs.jsonl").read_text().splitlines()) > len(lines)
    code, out, err = run_cli(args + ["--resume", "--objective", "latency"])
    assert code == 2 and "objective" in err


def test_objectives_and_several_models():
    a = advise(["mobilenet_v2", "efficientnet_b0"], levers=["clock"], objective="fps_per_dsp")
    for d in a.designs:
        per = d["per_model"]
        fps = [estimate(m, policy=d["policy"], overrides=d["overrides"]).fps for m in ("mobilenet_v2", "efficientnet_b0")]
        assert [per["mobilenet_v2"]["fps"], per["efficientnet_b0"]["fps"]] == fps
        assert d["fps"] == pytest.approx((fps[0] * fps[1]) ** 0.5)          # the geometric mean
        assert d["score"] == pytest.approx(d["fps"] / d["resources"]["dsp"])
        assert d["score"] > a.baseline["score"]
    lat = advise("efficientnet_b4", input_size=256, levers=["ops on PS vs PL"], objective="latency", budget=40)
    for d in lat.designs:
        assert d["latency_ms"] < lat.baseline["latency_ms"]


@pytest.mark.parametrize("argv, needle", [
    (["--budget", "0"], "--budget"),
    (["--max-clock-mhz", "-5"], "--max-clock-mhz"),
    (["--lever", "colour"], "unknown lever 'colour'"),
    (["--set", "accel.clock_mhz=150", "--lever", "clock"], "both a --set override and a lever"),
    (["--scheduler", "tcp://127.0.0.1:9"], "cannot use Dask scheduler"),
    (["--resume"], "--resume needs --out"),
])
def test_bad_input_is_one_line(argv, needle):
    code, out, err = run_cli(["advise", "mobilenet_v2", "--lever", "clock"] + argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err


def test_unknown_model_is_one_line():
    code, _, err = run_cli(["advise", "no_such_net"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no_such_net" in err


def test_dask_scheduler_gives_the_same_designs():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        a = advise("mobilenet_v2", levers=["clock"], scheduler=c.scheduler_address)
    b = advise("mobilenet_v2", levers=["clock"])
    assert [d["fps"] for d in a.designs] == [d["fps"] for d in b.designs] and a.designs


def test_readme_shows_what_advise_prints():
    code, out, err = run_cli(["advise", "efficientnet_b4", "--input-size", "256", "--top", "3"])
    assert code == 0, err
    assert readme_block("hwsim advise efficientnet_b4 --input-size 256 --top 3") == out.splitlines()


def test_by_lever_is_each_lever_then_all_together():
    """One search per lever, then all of them starting from the single levers' best changes: so
    every lever at once is at least as fast as any lever alone, and each row's best is what hwsim
    estimate gives for its overrides."""
    code, out, err = run_cli(["advise", "mobilenet_v2", "--by-lever", "--json"])
    assert code == 0, err
    res = json.loads(out)
    rows = {r["lever"]: r for r in res["by_lever"]}
    assert list(rows)[-1] == "all levers together" and {"placement", "clock", "runtime"} <= set(rows)
    base = res["baseline"]["fps"]
    singles = [r["best"]["fps"] for name, r in rows.items() if r["best"] and name != "all levers together"]
    assert singles and rows["all levers together"]["best"]["fps"] >= max(singles) > base
    for name, r in rows.items():
        if r["best"]:
            assert r["best"]["fps"] > base and r["label"].startswith(name + ": ")
            assert estimate("mobilenet_v2", policy=r["best"]["policy"], overrides=r["best"]["overrides"]).fps == \
                r["best"]["fps"]
        else:
            assert "no change beats the deployment" in r["label"]
    code, _, err = run_cli(["advise", "mobilenet_v2", "--by-lever", "--lever", "clock"])
    assert code == 2 and "drop --lever" in err
