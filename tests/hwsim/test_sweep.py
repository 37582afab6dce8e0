import csv
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from hwsim import resources, sweep
from hwsim.config import ConfigError, load
from hwsim.errors import HwsimError

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class FakeEvaluator:
    """A fast, deterministic stand-in for the real estimate (importable by Dask workers).

    ``log`` (a file, optional) gets one line per prepare/evaluate call, from whatever process runs it;
    ``fail_at`` makes the n-th evaluate call (in this process) raise, like a crash mid-sweep.
    """

    log: str | None = None
    fail_at: int | None = None
    calls: int = 0

    def _note(self, what: str) -> None:
        if self.log:
            with open(self.log, "a") as fh:
                fh.write(f"{what}\t{os.getpid()}\n")

    def check(self, models, input_size):
        for m in models:
            if m not in ("netA", "netB"):
                raise HwsimError(f"unknown model {m!r}")

    def resources(self, cfg):
        pe = cfg.pe
        return {"dsp": pe.dsps, "lut": 120 * pe.multipliers + 2000, "ff": 150 * pe.multipliers,
                "bram36": 20 + cfg.accel.raw()["ibuf_kib"] // 4}

    def prepare_key(self, model, policy, cfg, input_size):
        return model, policy, input_size, cfg.accel.pl_ops

    def prepare(self, model, policy, cfg, input_size):
        self._note(f"prepare {model} {policy}")
        return {"netA": 300e6, "netB": 600e6}[model] * (0.8 if policy == "optimized" else 1.0)

    def evaluate(self, macs, cfg):
        self.calls += 1
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("simulated crash")
        pe, a = cfg.pe, cfg.accel.raw()
        self._note(f"evaluate {pe.pp} {pe.icp} {pe.ocp} {a['clock_mhz']} {a['pl_ops']}")
        compute = macs / (pe.multipliers * a["clock_mhz"] * 1e6) * 1e3
        ps = 0.0 if "maxpool" in a["pl_ops"] else 2.0
        lat = compute + ps + 1.0
        return {"fps": 1e3 / lat, "latency_ms": lat, "op_count_fps": 1e3 / (lat + 1.0), "array_op_count_fps": 1e3 / compute,
                "breakdown_ms": {"pl_compute": compute, "pl_memory_stall": 0.0, "ps_compute": ps,
                                 "transfer": 1.0, "sync": 0.0, "host_pre_post": 0.0}}


GRID = ["accel.pp=2,4,8", "accel.icp=4,8", "accel.ocp=8,16", "accel.clock_mhz=100,200",
        'accel.pl_ops=["conv","dwconv"],["conv","dwconv","maxpool"]']   # 48 points per model+policy


def make(grid=GRID, models=("netA",), policies=("naive",), ev=None, **kw):
    return sweep.Sweep.create(list(models), list(policies), grid, ev or FakeEvaluator(), **kw)


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def keys_of(spec, rows):
    return [(r["model"], r["policy"], *(r[k] for k in spec.keys)) for r in rows]


# ------------------------------------------------------------------------------ grid parsing

def test_values_split_on_top_level_commas_only():
    assert sweep.split_values('1,2, 3') == ["1", "2", "3"]
    assert sweep.split_values('["a","b"],["c"]') == ['["a","b"]', '["c"]']
    assert sweep.split_values('"x,y",z') == ['"x,y"', "z"]
    with pytest.raises(ConfigError, match="unbalanced"):
        sweep.split_values('["a",')


def test_axis_values_are_typed_like_the_field():
    data = load().data
    assert sweep.parse_axis("accel.pp=2,4", data).values == (2, 4)
    clock = sweep.parse_axis("accel.clock_mhz=100,150.5", data).values
    assert clock == (100.0, 150.5) and all(isinstance(v, float) for v in clock)
    ops = sweep.parse_axis('accel.pl_ops=["conv"],["conv","add"]', data).values
    assert ops == (["conv"], ["conv", "add"])
    assert sweep.parse_axis("accel.dw_kernels=[3],[3,5]", data).values == ([3], [3, 5])
    assert sweep.parse_axis("ddr.efficiency=0.6,0.8", data).values == (0.6, 0.8)


@pytest.mark.parametrize("spec, msg", [
    ("accel.ppp=1,2", "section 'accel' has no field 'ppp'"),
    ("acc.pp=1,2", "no section 'acc'"),
    ("accel.pp=", "empty value list"),
    ("accel.pp=1,,2", "empty value"),
    ("accel.pp", "malformed --grid"),
    ("pp=1,2", "malformed --grid"),
    ("accel.pp=2,x", "accel.pp must be int"),
    ("accel.pp=2.5", "must be an integer"),
    ("accel.pp=2,2", "given twice"),
    ("accel.pl_ops=[conv,dwconv]", "not a TOML list"),
    ("accel.pl_ops=[\"conv\"", "unbalanced"),
])
def test_bad_axis_is_one_clear_error(spec, msg):
    with pytest.raises(ConfigError, match=msg.replace("[", r"\[")) as e:
        sweep.parse_axis(spec, load().data)
    assert "\n" not in str(e.value)


def test_grid_expansion_is_models_x_policies_x_product():
    spec = make(models=("netA", "netB"), policies=("naive", "optimized"))
    pts = spec.points()
    assert len(pts) == 2 * 2 * 3 * 2 * 2 * 2 * 2
    assert len({p.key() for p in pts}) == len(pts)
    assert spec.keys == ("accel.pp", "accel.icp", "accel.ocp", "accel.clock_mhz", "accel.pl_ops")
    assert pts[0] == sweep.Point("netA", "naive", (2, 4, 8, 100.0, ["conv", "dwconv"]))
    assert {p.values[0] for p in pts} == {2, 4, 8}


@pytest.mark.parametrize("kw, msg", [
    (dict(grid=[]), "empty grid"),
    (dict(grid=["accel.pp=1,2", "accel.pp=4"]), "accel.pp given twice"),
    (dict(policies=("naive", "greedy")), "--policy must be"),
    (dict(models=("netA", "netA")), "named twice"),
    (dict(models=("nope",)), "unknown model 'nope'"),
    (dict(overrides=["accel.pp=2"]), "both a --set override and a --grid axis"),
    (dict(input_size=0), "--input-size must be a positive"),
])
def test_bad_sweep_is_rejected_before_anything_runs(kw, msg):
    with pytest.raises(HwsimError, match=msg):
        make(**kw)


# --------------------------------------------------------------------------- serial engine

def test_infeasible_points_are_counted_with_reasons(tmp_path):
    # pp=8, icp=8, ocp=16 -> 1024 + 50 multipliers > 306 usable DSPs (85% of 360)
    spec = make(grid=["accel.pp=2,8", "accel.icp=8", "accel.ocp=8,16"])
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    rows = read_csv(tmp_path / "results.csv")
    assert (s.points, s.evaluated, s.infeasible, s.failed) == (4, 2, 2, 0)
    assert s.infeasible_reasons == {"dsp": 2, "lut": 2, "ff": 1}   # 1074 multipliers: ff too
    bad = [r for r in rows if r["feasible"] == "False"]
    assert {(r["accel.pp"], r["accel.ocp"]) for r in bad} == {("8", "8"), ("8", "16")}
    for r in bad:
        assert r["error"].startswith("infeasible: dsp ") and "(85% of 360)" in r["error"]
        assert r["fps"] == "" and int(r["dsp"]) > 306
    ok = [r for r in rows if r["feasible"] == "True"]
    assert all(float(r["fps"]) > 0 and r["error"] == "" for r in ok)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["infeasible"] == 2 and summary["infeasible_reasons"] == s.infeasible_reasons


def test_results_columns_and_pareto_outputs(tmp_path):
    spec = make(models=("netA", "netB"), policies=("naive", "optimized"))
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    rows = read_csv(tmp_path / "results.csv")
    assert list(rows[0]) == ["model", "policy", *spec.keys, "fps", "latency_ms", "op_count_fps",
                             "array_op_count_fps", "dsp", "lut", "ff",
                             "bram36", "feasible", "pl_compute_ms", "pl_memory_stall_ms", "ps_compute_ms",
                             "transfer_ms", "sync_ms", "host_pre_post_ms", "error"]
    assert len(rows) == s.points == 192
    assert rows[0]["accel.pl_ops"] == '["conv", "dwconv"]'
    # the summary's front is exactly the non-dominated feasible rows of each model
    ok = [r for r in rows if r["feasible"] == "True"]
    for model in ("netA", "netB"):
        mine = [(float(r["fps"]), float(r["dsp"]), float(r["lut"])) for r in ok if r["model"] == model]
        expect = {p for p in mine if not any(q != p and q[0] >= p[0] and q[1] <= p[1] and q[2] <= p[2]
                                             for q in mine)}
        got = {(r["fps"], r["dsp"], r["lut"]) for r in s.pareto if r["model"] == model}
        assert got == expect and got
    assert (tmp_path / "pareto.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "summary.json").read_text())["pareto"] == s.pareto
    assert "Pareto front" in s.front_lines(spec.keys)[0]


def test_each_model_is_prepared_once_per_partition_key_not_per_point(tmp_path):
    log = tmp_path / "calls.log"
    sweep._PREPARED.clear()
    spec = make(models=("netA", "netB"), policies=("naive", "optimized"))
    sweep.run(spec, tmp_path / "out", FakeEvaluator(log=str(log)), workers=0)
    lines = log.read_text().splitlines()
    prepares = [ln for ln in lines if ln.startswith("prepare")]
    # 2 models x 2 policies x 2 pl_ops values (the only accel field prepare_key reads)
    assert len(prepares) == 8
    assert sum(ln.startswith("evaluate") for ln in lines) > 100


def test_progress_goes_to_stderr(tmp_path, capsys):
    sweep.run(make(grid=["accel.pp=1,2,4,8"]), tmp_path, FakeEvaluator(), workers=0, chunk=2, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    assert "\rsweep: 2/4 points, " in err and "\rsweep: 4/4 points, " in err and " points/s, 0 s left" in err


def test_existing_results_need_resume(tmp_path):
    spec = make(grid=["accel.pp=2,4"])
    sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    before = (tmp_path / "results.csv").read_text()
    with pytest.raises(HwsimError, match="already exists: use --resume"):
        sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    assert (tmp_path / "results.csv").read_text() == before


def test_interrupted_sweep_resumes_without_evaluating_any_point_twice(tmp_path):
    log = tmp_path / "calls.log"
    spec = make(models=("netA", "netB"))   # 96 points, some infeasible (a row each, never evaluated)
    with pytest.raises(HwsimError, match=r"simulated crash.*rerun with --resume"):
        sweep.run(spec, tmp_path / "o", FakeEvaluator(log=str(log), fail_at=30), workers=0, chunk=7)
    first = read_csv(tmp_path / "o" / "results.csv")
    evaluated_first = [ln for ln in log.read_text().splitlines() if ln.startswith("evaluate")]
    assert len(evaluated_first) == 29                       # the 30th call crashed
    assert 29 <= len(first) < 96                            # + infeasible rows; the partial chunk is kept
    log.unlink()
    s = sweep.run(spec, tmp_path / "o", FakeEvaluator(log=str(log)), workers=0, resume=True, chunk=7)
    rows = read_csv(tmp_path / "o" / "results.csv")
    keys = keys_of(spec, rows)
    assert len(keys) == len(set(keys)) == 96                # every point exactly once
    assert set(keys) == {p.key() for p in spec.points()}
    evaluated_second = [ln for ln in log.read_text().splitlines() if ln.startswith("evaluate")]
    # nothing saved by the first run was evaluated again
    assert len(evaluated_first) + len(evaluated_second) == sum(r["feasible"] == "True" for r in rows)
    assert (s.resumed, s.new, s.points) == (len(first), 96 - len(first), 96)


def test_resume_with_a_wider_grid_only_runs_the_new_points(tmp_path):
    sweep.run(make(grid=["accel.pp=2,4", "accel.icp=8"]), tmp_path, FakeEvaluator(), workers=0)
    s = sweep.run(make(grid=["accel.pp=2,4,1", "accel.icp=8"]), tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert (s.resumed, s.new, s.points) == (2, 1, 3)


def test_resume_with_the_grid_flags_in_another_order_runs_nothing_new(tmp_path):
    sweep.run(make(grid=["accel.pp=2,4", "accel.icp=4,8"]), tmp_path, FakeEvaluator(), workers=0)
    s = sweep.run(make(grid=["accel.icp=4,8", "accel.pp=2,4"]), tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert (s.resumed, s.new, s.points, s.evaluated) == (4, 0, 4, 4)


def test_a_point_the_pe_array_cannot_be_built_for_is_a_failed_row_not_an_abort(tmp_path):
    s = sweep.run(make(grid=["accel.dw_kernels=[3],[]", "accel.pp=2,4"]), tmp_path, FakeEvaluator(), workers=0)
    assert (s.points, s.evaluated, s.infeasible, s.failed) == (4, 2, 0, 2)
    bad = [r for r in read_csv(tmp_path / "results.csv") if r["accel.dw_kernels"] == "[]"]
    assert len(bad) == 2 and all("dw_kernels must be a non-empty list" in r["error"] and r["feasible"] == ""
                                 for r in bad)
    assert list(s.errors.values()) == [2]
    assert len(s.error_lines()) == 1 and s.error_lines()[0].startswith("  failed (2 points): ")


def test_resume_drops_a_torn_last_line(tmp_path):
    spec = make(grid=["accel.pp=2,4,1"])
    sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    path = tmp_path / "results.csv"
    text = path.read_text()
    path.write_text(text[:-20])                             # killed in the middle of the last row
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert (s.resumed, s.new) == (2, 1)
    assert path.read_text() == text


def test_run_returns_every_points_row_and_the_csv_holds_the_same_rows(tmp_path):
    spec = make(grid=["accel.pp=2,4", "accel.icp=4,8"], models=("netA", "netB"))
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    assert [(r["model"], r["policy"], r["accel.pp"], r["accel.icp"]) for r in s.rows] == \
        [(p.model, p.policy, *p.values) for p in spec.points()]
    csv_rows = read_csv(tmp_path / "results.csv")
    assert len(csv_rows) == len(s.rows) == 8
    for r, c in zip(s.rows, csv_rows):
        assert r["fps"] == pytest.approx(float(c["fps"])) and r["dsp"] == int(c["dsp"])
        assert r["latency_ms"] == pytest.approx(math.fsum(r[f"{b}_ms"] for b in sweep.BREAKDOWN))
    # resumed with nothing new: the rows are the same, read back from the file
    again = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert again.new == 0 and again.rows == s.rows


def test_resume_continues_a_results_file_with_the_pre_rename_column_names(tmp_path):
    spec = make(grid=["accel.pp=2,4,1"])
    sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    path = tmp_path / "results.csv"
    text = path.read_text()
    head, *lines = text.splitlines(keepends=True)
    assert head.count("op_count_fps") == 2              # op_count_fps and array_op_count_fps
    old_head = head.replace("array_op_count_fps", "array_peak_fps").replace(",op_count_fps", ",naive_fps")
    path.write_text(old_head + "".join(lines[:2]))      # written by 0.1.0, stopped after two points
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert (s.resumed, s.new) == (2, 1)
    assert path.read_text() == text                     # the same file as an uninterrupted run, new names


@pytest.mark.parametrize("kw, msg", [
    (dict(grid=["accel.icp=4,8"]), "has other columns than this sweep"),
    (dict(grid=["accel.pp=2,4"], board="zcu104"), "was swept with board 'ultra96v1'"),
    (dict(grid=["accel.pp=2,4"], overrides=["accel.icp=4"]), "was swept with overrides"),
])
def test_resume_refuses_another_sweep(tmp_path, kw, msg):
    sweep.run(make(grid=["accel.pp=2,4"]), tmp_path, FakeEvaluator(), workers=0)
    other = make(**kw)
    with pytest.raises(HwsimError, match=msg):
        sweep.run(other, tmp_path, FakeEvaluator(), workers=0, resume=True)


def test_unreachable_scheduler_is_a_quick_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sweep, "CONNECT_TIMEOUT_S", 1.0)   # 5 s by default
    t = time.monotonic()
    with pytest.raises(HwsimError, match="cannot reach Dask scheduler tcp://127.0.0.1:9") as e:
        sweep.run(make(grid=["accel.pp=2,4"]), tmp_path / "out", FakeEvaluator(), scheduler="tcp://127.0.0.1:9")
    assert time.monotonic() - t < 8 and "\n" not in str(e.value) and "after 1 s" in str(e.value)
    assert not (tmp_path / "out").exists()                  # nothing half-written


# ------------------------------------------------------------------------------------ Dask

def test_embedded_local_cluster_matches_serial(tmp_path):
    spec = make(models=("netA", "netB"))
    log = tmp_path / "calls.log"
    serial = sweep.run(spec, tmp_path / "serial", FakeEvaluator(), workers=0)
    dist = sweep.run(spec, tmp_path / "dask", FakeEvaluator(log=str(log)), workers=2)
    a = sorted(map(tuple, (r.values() for r in read_csv(tmp_path / "serial" / "results.csv"))))
    b = sorted(map(tuple, (r.values() for r in read_csv(tmp_path / "dask" / "results.csv"))))
    assert a == b and len(a) == 96
    assert dist.pareto == serial.pareto
    lines = log.read_text().splitlines()
    pids = {ln.split("\t")[1] for ln in lines}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2   # evaluated in the worker processes
    assert sum(ln.startswith("prepare") for ln in lines) <= 2 * 4  # once per worker and cache key


@pytest.fixture(scope="module")
def loopback_cluster(tmp_path_factory):
    """A real ``dask scheduler`` and ``dask worker`` on 127.0.0.1, stopped after the module."""
    d = tmp_path_factory.mktemp("cluster")
    sched_file = d / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dask = str(Path(sys.executable).parent / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)],
                              env=env, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 30
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        procs.append(subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                       "--nworkers", "1", "--no-dashboard", "--no-nanny"], env=env, cwd=d,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client
        with Client(address, timeout=30) as c:      # a loaded machine may take a while to start it
            c.wait_for_workers(1, timeout=60)
        yield address, sched_file
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_sweep_through_a_real_scheduler_and_worker(tmp_path, loopback_cluster):
    address, sched_file = loopback_cluster
    assert address.startswith("tcp://127.0.0.1:")
    spec = make()
    log = tmp_path / "calls.log"
    s = sweep.run(spec, tmp_path / "a", FakeEvaluator(log=str(log)), scheduler=address)
    rows = read_csv(tmp_path / "a" / "results.csv")
    assert s.points == len(rows) == 48 and s.evaluated + s.infeasible == 48 and s.evaluated > 0
    assert set(keys_of(spec, rows)) == {p.key() for p in spec.points()}
    lines = log.read_text().splitlines()
    pids = {ln.split("\t")[1] for ln in lines}
    assert len(pids) == 1 and str(os.getpid()) not in pids  # ran in the one dask worker process
    assert sum(ln.startswith("prepare") for ln in lines) == 2  # once per pl_ops value
    # the scheduler file works as an address too; the worker process keeps its prepared models
    s2 = sweep.run(make(grid=["accel.pp=2,4", 'accel.pl_ops=["conv","dwconv"]']), tmp_path / "b",
                   FakeEvaluator(log=str(log)), scheduler=str(sched_file))
    assert s2.evaluated == 2
    assert sum(ln.startswith("prepare") for ln in log.read_text().splitlines()) == 2


def test_a_server_that_is_not_a_dask_scheduler_is_a_one_line_error(tmp_path):
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def answer_garbage():
        srv.settimeout(10)
        try:
            conn, _ = srv.accept()
            conn.sendall(b"\xff" * 64)
            time.sleep(0.5)
            conn.close()
        except OSError:
            pass

    t = threading.Thread(target=answer_garbage, daemon=True)
    t.start()
    try:
        with pytest.raises(HwsimError, match=f"cannot reach Dask scheduler tcp://127.0.0.1:{port}") as e:
            sweep.run(make(grid=["accel.pp=2,4"]), tmp_path / "out", FakeEvaluator(),
                      scheduler=f"tcp://127.0.0.1:{port}")
        assert "\n" not in str(e.value)
    finally:
        srv.close()
        t.join(timeout=15)
    assert not (tmp_path / "out").exists()


def test_missing_scheduler_file_is_an_error(tmp_path):
    with pytest.raises(HwsimError, match="no such scheduler file"):
        sweep.run(make(grid=["accel.pp=2,4"]), tmp_path / "out", FakeEvaluator(), scheduler=str(tmp_path / "s.json"))
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------- CLI

def hwsim(capsys, *argv):
    from hwsim.cli import main
    rc = main(["sweep", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("argv, msg", [
    (["mobilenet_v2", "--grid", "accel.ppp=1,2"], "--grid accel.ppp: section 'accel' has no field 'ppp'"),
    (["mobilenet_v2", "--grid", "board.dsp"], "malformed --grid 'board.dsp'"),
    (["mobilenet_v2", "--grid", "accel.pp=,"], "--grid accel.pp: empty value"),
    (["mobilenet_v2"], "empty grid"),
    (["mobilenet_v2", "--grid", "accel.pp=1,2", "--policy", "naive,best"], "--policy must be"),
    (["no_such_net", "--grid", "accel.pp=1,2"], "unknown model 'no_such_net'"),
    (["mobilenet_v2", "--grid", "accel.pp=1,2", "--board", "nope"], "unknown board 'nope'"),
    (["mobilenet_v2", "--grid", "accel.pp=1,2", "--workers", "-1"], "--workers must be >= 0"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, msg):
    out = tmp_path / "o"
    rc, stdout, err = hwsim(capsys, *argv, "--out", str(out))
    assert rc == 2 and stdout == ""
    assert err.startswith("hwsim: error: ") and msg in err and err.count("\n") == 1
    assert not out.exists()


def test_cli_never_overwrites_results(tmp_path, capsys):
    (tmp_path / "results.csv").write_text("model,policy\n")
    rc, _, err = hwsim(capsys, "mobilenet_v2", "--grid", "accel.pp=2,4", "--workers", "0", "--out", str(tmp_path))
    assert rc == 2 and "use --resume" in err
    assert (tmp_path / "results.csv").read_text() == "model,policy\n"


def test_cli_real_sweep_then_resume(tmp_path, capsys):
    argv = ["mobilenet_v2", "--grid", "accel.pp=2,4,8", "--grid", "accel.clock_mhz=100,200",
            "--grid", 'accel.pl_ops=["conv","dwconv","add"],'
                      '["conv","dwconv","maxpool","avgpool","global_avgpool","add"]',
            "--policy", "naive,optimized", "--workers", "0", "--out", str(tmp_path), "--json"]
    rc, out, err = hwsim(capsys, *argv)
    assert rc == 0, err
    s = json.loads(out)
    assert s["points"] == 24 and s["evaluated"] + s["infeasible"] + s["failed"] == 24
    assert s["evaluated"] > 0 and s["new"] == 24
    rows = read_csv(tmp_path / "results.csv")
    ok = [r for r in rows if r["feasible"] == "True"]
    assert ok and all(float(r["fps"]) > 0 for r in ok)
    # a faster clock never lowers the frame rate of the same configuration
    by = {(r["policy"], r["accel.pp"], r["accel.pl_ops"], r["accel.clock_mhz"]): float(r["fps"]) for r in ok}
    for (pol, pp, ops, clk), fps in by.items():
        if clk == "100.0" and (pol, pp, ops, "200.0") in by:
            assert by[(pol, pp, ops, "200.0")] >= fps
    assert {tuple(r["model"] for r in s["pareto"])} == {("mobilenet_v2",) * len(s["pareto"])}
    rc, out, err = hwsim(capsys, *argv, "--resume")
    s2 = json.loads(out)
    assert rc == 0 and (s2["new"], s2["resumed"]) == (0, 24) and s2["pareto"] == s["pareto"]
    assert len(read_csv(tmp_path / "results.csv")) == 24


def test_real_evaluator_with_its_plan_cache_equals_a_fresh_estimate(tmp_path):
    """The per-worker plan cache is keyed on what partition() reads: every cached point must give
    exactly what a from-scratch hwsim.estimate gives (icp, ocp, pl_ops may change the plan; the clock does not)."""
    from hwsim.estimate import estimate

    sweep._PREPARED.clear()
    grid = ["accel.icp=4,8", "accel.ocp=4,8", "accel.clock_mhz=100,200",
            'accel.pl_ops=["conv","dwconv","add"],["conv","dwconv","global_avgpool","add"]']
    ev = sweep.DefaultEvaluator()
    spec = sweep.Sweep.create(["mobilenet_v3_small"], ["naive", "optimized"], grid, ev, input_size=128)
    s = sweep.run(spec, tmp_path, ev, workers=0)
    assert s.evaluated == s.points == 32
    from rtl.synth import estimate as synth
    cfg = load()
    core = synth(cfg.pe)["bram36"]
    # the default's 128 KiB input + 64 KiB output buffers are 32 + 16 block RAMs on top of the core
    assert resources.activation_buffer_bram36(cfg.accel) == 48
    assert {float(r["bram36"]) for r in read_csv(tmp_path / "results.csv") if r["accel.icp"] == "8"
            and r["accel.ocp"] == "8"} == {core + 48}
    # policies x icp x ocp x pl_ops: the plan asks the tiler (pl_check), which reads the array's
    # shape; the clock changes no placement, so its two values share one plan
    assert len(sweep._PREPARED) == 2 * 2 * 2 * 2
    for r in read_csv(tmp_path / "results.csv"):
        sets = [f"{k}={r[k]}" for k in spec.keys]
        e = estimate("mobilenet_v3_small", overrides=sets, input_size=128, policy=r["policy"])
        assert (float(r["fps"]), float(r["latency_ms"])) == (e.fps, e.latency_ms), sets


def test_cli_default_embedded_cluster_gives_the_serial_results(tmp_path, capsys):
    argv = ["mobilenet_v3_small", "--input-size", "128", "--grid", "accel.pp=2,4", "--grid", "accel.icp=4,8",
            "--grid", "accel.clock_mhz=150,300", "--policy", "naive,optimized", "--json"]
    rc, out, err = hwsim(capsys, *argv, "--out", str(tmp_path / "dask"))       # default: 2 worker processes
    assert rc == 0, err
    rc, out0, err = hwsim(capsys, *argv, "--out", str(tmp_path / "serial"), "--workers", "0")
    assert rc == 0, err
    a, b = json.loads(out), json.loads(out0)
    assert a["points"] == 16 and a["evaluated"] == b["evaluated"] > 0 and a["pareto"] == b["pareto"]
    rows = {tuple(r.values()) for r in read_csv(tmp_path / "dask" / "results.csv")}
    assert rows == {tuple(r.values()) for r in read_csv(tmp_path / "serial" / "results.csv")}


# ------------------------------------------------------------- issue 15: nothing lost, nothing trusted

def test_a_second_writer_on_the_same_directory_is_refused(tmp_path):
    from hwsim.sweep.store import lock
    spec = make(grid=["accel.pp=2,4"])
    tmp_path.mkdir(exist_ok=True)
    with lock(tmp_path):       # another sweep holds the directory
        with pytest.raises(HwsimError, match=r"another hwsim sweep is writing to .* \(pid \d+\)") as e:
            sweep.run(spec, tmp_path, FakeEvaluator(), workers=0, resume=True)
        assert "\n" not in str(e.value)
    assert not (tmp_path / "results.csv").exists()
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0, resume=True)   # free again
    assert s.new == 2


def test_two_concurrent_cli_resumes_never_duplicate_rows(tmp_path):
    """Issue 15: two --resume runs at once ended with 350 rows for 180 points."""
    argv = [sys.executable, "-m", "hwsim.cli", "sweep", "mobilenet_v3_small", "--input-size", "96",
            "--grid", "accel.pp=1,2,4", "--grid", "accel.clock_mhz=100,150,200,250", "--policy", "naive,optimized",
            "--workers", "0", "--out", str(tmp_path), "--resume"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    res = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    rows = read_csv(tmp_path / "results.csv")
    keys = [(r["model"], r["policy"], r["accel.pp"], r["accel.clock_mhz"]) for r in rows]
    assert len(keys) == len(set(keys)) == 24
    codes = sorted(r[2] for r in res)
    assert codes in ([0, 0], [0, 2]), res
    for out, err, rc in res:
        assert "Traceback" not in err
        if rc == 2:
            assert err.count("\n") == 1 and "another hwsim sweep is writing to" in err


def test_resume_validates_every_row_keeps_the_valid_and_moves_the_rest_aside(tmp_path, capsys):
    spec = make(grid=["accel.pp=2,4,1"], models=("netA", "netB"))
    sweep.run(spec, tmp_path, FakeEvaluator(), workers=0)
    path = tmp_path / "results.csv"
    lines = path.read_text().splitlines()
    header, good = lines[0], lines[1:]
    first = good[0].split(",")
    cols = header.split(",")
    def variant(**cells):
        row = list(first)
        for k, v in cells.items():
            row[cols.index(k)] = v
        return ",".join(row)
    bad = [
        "garbage,row",                                      # wrong number of cells
        variant(model="netZ"),                              # another model
        variant(**{"accel.pp": "16"}),                      # off the grid
        variant(fps="fast"),                                # non-numeric cell
        variant(fps="nan"),                                 # not finite
        variant(feasible="maybe"),
        good[0],                                            # a duplicate of a valid row
    ]
    path.write_text("\n".join([header, *good[:3], *bad, *good[3:4]]) + "\n")   # 2 valid rows missing
    s = sweep.run(spec, tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert (s.resumed, s.new, s.points) == (4, 2, 6)
    assert sum(s.dropped.values()) == len(bad)
    assert s.dropped["a point already in the file"] == 1 and s.dropped["model 'netZ' is not swept"] == 1
    rows = read_csv(path)
    assert len(rows) == 6 and len(set(keys_of(spec, rows))) == 6
    assert set(keys_of(spec, rows)) == {p.key() for p in spec.points()}
    assert len((tmp_path / "results.rejected.csv").read_text().splitlines()) == 1 + len(bad)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["points"] == 6 and sum(summary["dropped_rows"].values()) == len(bad)


@pytest.mark.parametrize("damage, msg", [
    (lambda d: (d / "sweep.json").write_text("[]"), "is not a sweep manifest"),
    (lambda d: (d / "sweep.json").write_text("{"), "is not valid JSON"),
    (lambda d: ((d / "results.csv").unlink(), (d / "results.csv").mkdir()), "is not a file"),
    (lambda d: (d / "results.csv").write_bytes(b"\xff\xfe\x00garbage\n"), "results.csv"),
])
def test_a_damaged_sweep_directory_is_one_line_on_resume(tmp_path, capsys, damage, msg):
    argv = ["netA", "--grid", "accel.pp=2,4"]
    sweep.run(make(grid=["accel.pp=2,4"]), tmp_path, FakeEvaluator(), workers=0)
    damage(tmp_path)
    with pytest.raises(HwsimError, match=msg) as e:
        sweep.run(make(grid=["accel.pp=2,4"]), tmp_path, FakeEvaluator(), workers=0, resume=True)
    assert "\n" not in str(e.value)


def test_cli_sweep_with_failed_points_exits_non_zero_and_says_how_many(tmp_path, capsys):
    rc, out, err = hwsim(capsys, "mobilenet_v2", "--grid", "accel.dw_kernels=[3,5],[]", "--workers", "0",
                         "--out", str(tmp_path))
    assert rc == 1 and "1 failed" in out
    assert "hwsim: 1 of 2 points failed" in err and "Traceback" not in err


def test_a_bad_grid_value_is_refused_like_the_same_set(tmp_path, capsys):
    rc, out, err = hwsim(capsys, "mobilenet_v2", "--accel", "dpu_b1600", "--board", "zcu102",
                         "--grid", "accel.dsp_usage=high,foo", "--workers", "0", "--out", str(tmp_path / "o"))
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert "--grid accel.dsp_usage: accel.dsp_usage must be one of 'high', 'low'" in err and "'foo'" in err
    for grid, msg in (["board.dsp=360,-1", "board.dsp must be a positive integer, not -1"],
                      ["accel.clock_mhz=100,1e308", "accel.clock_mhz must be at most"],
                      ["ps.pipeline_frames=2,1000000", "runtime.frames_in_flight must be at most 32"]):
        rc, out, err = hwsim(capsys, "mobilenet_v2", "--grid", grid, "--workers", "0", "--out", str(tmp_path / "o"))
        assert rc == 2 and msg in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_the_sweep_package_does_not_import_the_cli():
    import ast
    for path in (ROOT / "hwsim" / "sweep").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [f"{'.' * node.level}{node.module or ''}"] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert "cli" not in n.split(".") and "commands" not in n.split("."), (path.name, n)


def test_a_sweep_run_loads_no_cli_module(tmp_path):
    code = ("import sys\nfrom hwsim import sweep\nfrom tests.hwsim.test_sweep import FakeEvaluator\n"
            f"s = sweep.Sweep.create(['netA'], ['naive'], ['accel.pp=2,4', 'accel.dw_kernels=[3],[]'], FakeEvaluator())\n"
            f"sweep.run(s, {str(tmp_path / 'o')!r}, FakeEvaluator(), workers=0)\n"
            "print(sorted(m for m in sys.modules if m.startswith('hwsim.c')))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "hwsim.cli" not in r.stdout and "hwsim.commands" not in r.stdout, r.stdout
