"""Runtime profiles and buffer modes, each pinned on a hand-computed case.

The plan: input (1x32x64x64 int8) -> PL segment 0 [conv c1 1x1, conv c 1x1] -> PS segment 1 [relu r]
-> PL segment 2 [conv c2 1x1 -> 8 channels] -> output.  Four tensors cross: the input (PS->PL), c
(PL->PS), r (PS->PL) and c2 (PL->PS).  The PS's A53 figures are set explicitly, so every expected
number below is arithmetic on literals (the profiles' own figures are the cited ones in
hwsim/data/runtimes/*.toml, written out here).
"""

import json
import math

import pytest

from hwsim.cli import main
from hwsim.config import load
from hwsim.estimate import estimate_plan
from hwsim.memory import MemoryModel
from mapper.ir import Graph
from mapper.plan import Plan, Segment, Transfer

N = 32 * 64 * 64          # elements (and int8 bytes) of the input, c and r
N2 = 8 * 64 * 64          # of the output c2
A53 = ["ps.freq_mhz=1200", "ps.elem_ops_per_cycle=2.0", "ps.transcendental_cycles=20.0", "ps.mem_gbps=1.6",
       "ps.call_overhead_us=5.0", "ps.threads=1", "transfer.flush_ns_per_line=30.0",
       "transfer.invalidate_ns_per_line=10.0", "transfer.cache_line_bytes=64"]


def plan() -> Plan:
    g = Graph("rt", (1, 32, 64, 64))
    c1 = g.add("conv", "input", "c1", cout=32, k=1)
    c = g.add("conv", c1, "c", cout=32, k=1)
    r = g.add("relu", c, "r")
    c2 = g.add("conv", r, "c2", cout=8, k=1)
    g.set_outputs(c2)
    segs = [Segment(0, "PL", ["c1", "c"], 0), Segment(1, "PS", ["r"], 0), Segment(2, "PL", ["c2"], 0)]
    trs = [Transfer(-1, 0, "input", N, "PS", "PL"), Transfer(0, 1, "c", N, "PL", "PS"),
           Transfer(1, 2, "r", N, "PS", "PL"), Transfer(2, 3, "c2", N2, "PL", "PS")]
    return Plan("rt", "naive", segs, trs, g)


def run(runtime=None, *sets, accel=None):
    return estimate_plan(plan(), load("ultra96v1", accel, A53 + list(sets), runtime=runtime))


def relu(e):
    return next(l for l in e.layers if l.name == "r").to_json()


# ---- buffer modes --------------------------------------------------------------------------------

MODE_SETS = ["runtime.fallback_elem_rate=1.0", "runtime.op_dispatch_us=0.0", "runtime.uncached_read_gbps=0.2",
             "runtime.uncached_write_gbps=0.4", "runtime.coherent_ps_ratio=0.9"]


def test_cacheable_buffers_pay_maintenance_per_line_and_the_cached_bandwidth():
    e = run("linux_uio", "runtime.buffer_mode=cacheable", *MODE_SETS)
    r = relu(e)
    # relu: 131072 elements at 2 per cycle x 1.2 GHz = 54.61 us of compute; it reads c and writes r,
    # 2 x 131072 bytes at the cached 1.6 GB/s = 163.84 us, so memory-bound, + 5 us call
    assert r["time_ms"] == pytest.approx(0.16384 + 0.005)
    assert (r["buffer_mode"], r["shared_read_bytes"], r["shared_write_bytes"]) == ("cacheable", N, N)
    assert r["shared_read_bytes_per_s"] == r["shared_write_bytes_per_s"] == pytest.approx(1.6e9)
    # flush input and r (2048 lines each at 30 ns), invalidate c (2048) and c2 (512 lines at 10 ns)
    assert e.breakdown_ms["transfer"] == pytest.approx((2048 * 30 + 2048 * 10 + 2048 * 30 + 512 * 10) * 1e-6)
    assert all(t.buffer_mode == "cacheable" for t in e.transfers)


def test_uncached_buffers_need_no_maintenance_but_every_ps_access_is_slow_read_and_write_separately():
    e = run("linux_uio", "runtime.buffer_mode=uncached", *MODE_SETS)
    r = relu(e)
    # reads c at 0.2 GB/s (655.36 us) and writes r at 0.4 GB/s (327.68 us), + 5 us call
    assert r["memory_ms"] == pytest.approx(0.65536 + 0.32768)
    assert r["time_ms"] == pytest.approx(0.65536 + 0.32768 + 0.005)
    assert (r["shared_read_bytes_per_s"], r["shared_write_bytes_per_s"]) == (pytest.approx(0.2e9), pytest.approx(0.4e9))
    assert e.breakdown_ms["transfer"] == 0 and all(t.time_ms == 0 for t in e.transfers)
    assert e.breakdown_ms["ps_compute"] == pytest.approx(r["time_ms"])


def test_coherent_buffers_need_no_maintenance_and_run_the_ps_near_the_cached_rate():
    e = run("linux_uio", "runtime.buffer_mode=coherent", *MODE_SETS)
    # 262144 bytes at 0.9 x 1.6 GB/s = 182.04 us, + 5 us
    assert relu(e)["time_ms"] == pytest.approx(262144 / 1.44e9 * 1e3 + 0.005)
    assert e.breakdown_ms["transfer"] == 0


def test_coherent_buffers_put_the_pl_on_the_hpc_ports():
    # Ultra96: 128-bit ports; the accelerator asks for 4, the coherent HPC ports are 2, each moving
    # 95% of a plain port's 16 bytes per cycle
    plain = MemoryModel.from_config(load("ultra96v1", overrides=["accel.hp_ports_used=4"]))
    coh = MemoryModel.from_config(load("ultra96v1", overrides=[
        "accel.hp_ports_used=4", "runtime.buffer_mode=coherent", "runtime.coherent_ports=2",
        "runtime.coherent_port_efficiency=0.95"]))
    assert plain.port_bytes_per_cycle == 64
    assert coh.port_bytes_per_cycle == pytest.approx(2 * 16 * 0.95)


# ---- profiles ------------------------------------------------------------------------------------

def host(e, stage):
    return next(h for h in e.host if h["stage"] == stage)["time_ms"]


@pytest.mark.parametrize("profile", ["linux_uio", "baremetal"])
def test_c_profiles_host_pre_post_by_hand(profile):
    e = run(profile)
    # pre: 131072 input elements x 10 ops at 2 per cycle x 1.2 GHz = 546.13 us (writing the input at
    # 1.6 GB/s, 81.92 us, is shorter); post: softmax + top-k over 32768 outputs, 20 + 2/2 = 21 cycles each
    assert host(e, "pre") == pytest.approx(N * 10 / 2.4e9 * 1e3)
    assert host(e, "post") == pytest.approx(N2 * 21 / 1.2e9 * 1e3)
    assert e.breakdown_ms["host_pre_post"] == pytest.approx(host(e, "pre") + host(e, "post"))


def test_linux_uio_starts_each_layer_of_this_projects_engine_and_waits_for_an_interrupt():
    e = run("linux_uio")
    # three PL layers with work, each 10 us start + 20 us interrupt
    assert [(s.layer, s.event) for s in e.syncs] == [("c1", "start"), ("c1", "done"), ("c", "start"),
                                                           ("c", "done"), ("c2", "start"), ("c2", "done")]
    assert e.breakdown_ms["sync"] == pytest.approx(3 * (0.010 + 0.020))
    assert e.frames_in_flight == 1 and e.fps == pytest.approx(1e3 / e.latency_ms)
    # the interrupt's wait leaves the cores free; the start keeps them busy
    done = [t for t in e.timeline if t["kind"] == "sync" and t["name"].endswith("done")]
    assert done and all(t["resource"] is None for t in done)
    assert e.breakdown_ms["transfer"] > 0               # cacheable udmabuf: maintenance
    assert relu(e)["time_ms"] == pytest.approx(2 * N / 1.6e9 * 1e3 + 0.005)   # NEON C, cached


def test_invocation_granularity_segment_layer_tile():
    seg = run("linux_uio", "runtime.invocation=segment")
    assert seg.breakdown_ms["sync"] == pytest.approx(2 * 0.030)           # two PL segments
    tile = run("linux_uio", "runtime.invocation=tile")
    tiles = sum(l.tiles for l in tile.layers if l.device == "PL" and l.cycles)
    assert tiles > 3 and tile.breakdown_ms["sync"] == pytest.approx(tiles * 0.030)


def test_baremetal_polls_with_the_core_busy():
    e = run("baremetal")
    # 3 layers x (2 us start + 0.5 us poll)
    assert e.breakdown_ms["sync"] == pytest.approx(3 * 0.0025)
    done = [t for t in e.timeline if t["kind"] == "sync" and t["name"].endswith("done")]
    assert done and all(t["resource"] == "PS" for t in done)


def test_pynq_numpy_uncached_python_invocations_by_hand():
    e = run("pynq")
    r = relu(e)
    # NumPy at a quarter of the element rate: 131072 / (0.5 x 1.2 GHz) = 218.45 us of compute; reading c
    # at 0.25 GB/s (524.29 us) and writing r at 0.5 GB/s (262.14 us) = 786.43 us; + 5 us + 20 us dispatch
    assert r["compute_ms"] == pytest.approx(N / 0.6e9 * 1e3)
    assert r["time_ms"] == pytest.approx(N / 0.25e9 * 1e3 + N / 0.5e9 * 1e3 + 0.025)
    assert e.breakdown_ms["transfer"] == 0
    # three layer invocations of 125 us each (polling inside the measured sequence)
    assert e.breakdown_ms["sync"] == pytest.approx(3 * 0.125)
    # pre at NumPy's rate: 131072 x 10 / (0.5 x 1.2 GHz) = 2184.5 us; post: 32768 x (20 / 0.25 + 2 / 0.5)
    # cycles = 2293.76 us
    assert host(e, "pre") == pytest.approx(N * 10 / 0.6e9 * 1e3)
    assert host(e, "post") == pytest.approx(N2 * 84 / 1.2e9 * 1e3)
    assert e.fps == pytest.approx(1e3 / e.latency_ms)


def test_vart_runs_a_dpu_subgraph_per_run_at_xrts_measured_cost():
    e = run("vart", accel="dpu_b1600")
    # the DPU publishes its resources: one run per PL segment, 213 us + 20 us interrupt = XRT's 233 us
    assert [(s.segment, s.layer, s.event) for s in e.syncs] == [
        (0, None, "start"), (0, None, "done"), (2, None, "start"), (2, None, "done")]
    assert e.breakdown_ms["sync"] == pytest.approx(2 * 0.233)
    assert e.frames_in_flight == 1 and e.fps == pytest.approx(1e3 / e.latency_ms)
    assert e.breakdown_ms["transfer"] > 0               # cacheable buffer objects, synced
    assert host(e, "pre") == pytest.approx(N * 10 / 2.4e9 * 1e3)


def test_threads_give_frames_in_flight():
    one = run("linux_uio")
    two = run("linux_uio", "runtime.frames_in_flight=2")
    assert two.latency_ms == pytest.approx(one.latency_ms) and two.fps > one.fps
    assert two.fps <= 1e3 / max(two.busy_ms.values()) + 1e-9


def test_breakdown_adds_up_in_every_profile():
    for name in ("baremetal", "linux_uio", "pynq", "vart"):
        j = run(name).to_json()
        assert j["runtime"] == name and j["params"]["runtime"]["name"] == name
        assert j["params"]["config"]["runtime"]["buffer_mode"] == j["params"]["runtime"]["buffer_mode"]
        assert j["latency_ms"] == math.fsum(j["breakdown_ms"].values())
        assert math.fsum(h["time_ms"] for h in j["host"]) == j["breakdown_ms"]["host_pre_post"]


# ---- the command line ----------------------------------------------------------------------------

def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_mobilenet_v2_on_the_kv260_dpu_vart_vs_pynq(capsys):
    res = {}
    for rt in ("vart", "pynq"):
        code, out, err = cli(capsys, "estimate", "mobilenet_v2", "--board", "kv260", "--accel", "dpu_b4096",
                             "--runtime", rt, "--json")
        assert code == 0, err
        res[rt] = json.loads(out)
    v, p = res["vart"], res["pynq"]
    assert (v["runtime"], p["runtime"]) == ("vart", "pynq")
    assert v["params"]["runtime"]["buffer_mode"] == "cacheable" and p["params"]["runtime"]["buffer_mode"] == "uncached"
    runs = sum(s["invocations"] for s in v["syncs"] if s["event"] == "start")
    assert runs >= 1 and runs == sum(s["invocations"] for s in p["syncs"] if s["event"] == "start")
    # the same DPU time; per run XRT's 233 us vs PYNQ's 125 us register sequence
    assert v["breakdown_ms"]["pl_compute"] == p["breakdown_ms"]["pl_compute"]
    assert v["breakdown_ms"]["sync"] == pytest.approx(runs * 0.233)
    assert p["breakdown_ms"]["sync"] == pytest.approx(runs * 0.125)
    # non-cacheable buffers: no maintenance; the pre-processing in NumPy at a quarter of the C rate
    assert v["breakdown_ms"]["transfer"] > 0 and p["breakdown_ms"]["transfer"] == 0
    pre_v = next(h for h in v["host"] if h["stage"] == "pre")
    pre_p = next(h for h in p["host"] if h["stage"] == "pre")
    assert pre_p["compute_s"] == pytest.approx(4 * pre_v["compute_s"])
    assert p["latency_ms"] > v["latency_ms"] and p["fps"] < v["fps"]


def test_runtime_named_in_text_reports(capsys):
    code, out, _ = cli(capsys, "estimate", "mobilenet_v2", "--input-size", "96", "--runtime", "pynq")
    assert code == 0 and "runtime pynq" in out.splitlines()[0] and "host_pre_post" in out
    code, out, _ = cli(capsys, "compare", "mobilenet_v2", "--input-size", "96", "--runtime", "vart")
    assert code == 0 and "runtime vart" in out.splitlines()[0]
    code, out, _ = cli(capsys, "compare", "mobilenet_v2", "--input-size", "96", "--json")
    assert code == 0 and json.loads(out)["runtime"] == "linux_uio"


def test_a_runtime_file_path_works_like_a_board_file(tmp_path, capsys):
    from hwsim import config
    text = (config.DATA / "runtimes" / "linux_uio.toml").read_text().replace("invoke_us = 10.0", "invoke_us = 70.0")
    path = tmp_path / "mine.toml"
    path.write_text(text)
    e = estimate_plan(plan(), load("ultra96v1", overrides=A53, runtime=str(path)))
    assert e.breakdown_ms["sync"] == pytest.approx(3 * (0.070 + 0.020))


@pytest.mark.parametrize("argv, message", [
    (["estimate", "mobilenet_v2", "--runtime", "nope"], "unknown runtime 'nope'"),
    (["estimate", "mobilenet_v2", "--set", "runtime.buffer_mode=sometimes"], "runtime.buffer_mode must be one of"),
    (["estimate", "mobilenet_v2", "--set", "runtime.invocation=frame"], "runtime.invocation must be one of"),
    (["estimate", "mobilenet_v2", "--set", "runtime.completion=maybe"], "runtime.completion must be one of"),
    (["estimate", "mobilenet_v2", "--set", "runtime.fallback_elem_rate=0"], "runtime.fallback_elem_rate must be a positive"),
    (["estimate", "mobilenet_v2", "--set", "runtime.coherent_port_efficiency=1.5"], "in (0, 1]"),
    (["estimate", "mobilenet_v2", "--set", "runtime.nope=1"], "has no field 'nope'"),
    (["compare", "mobilenet_v2", "--runtime", "nope"], "unknown runtime 'nope'"),
    (["map", "mobilenet_v2", "--runtime", "nope"], "unknown runtime 'nope'"),
])
def test_bad_runtime_input_is_one_line(capsys, argv, message):
    code, out, err = cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("hwsim: error: ") and message in err
