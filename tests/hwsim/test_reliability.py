"""Issue 15 regressions outside the config/timeline/sweep files: output paths, standard output,
rtl-check input, unbounded work refused up front.  Each runs the real CLI in a subprocess where
the behaviour depends on the process (file descriptors, exit status), else in-process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
ONE_LINE = re.compile(r"hwsim: error: [^\n]+\n")


def cli(*argv: str, stdout=subprocess.PIPE, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hwsim.cli", *argv], env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("cmd", [["study"], ["sweep", "mobilenet_v2", "--grid", "accel.pp=2,4", "--workers", "0"],
                                 ["rtl"]])
@pytest.mark.parametrize("where", ["file", "devnull", "under_a_file", "virtual"])
def test_a_bad_output_path_is_one_line_before_any_work(tmp_path, capsys, cmd, where):
    f = tmp_path / "f"
    f.write_text("x")
    out = {"file": str(f), "devnull": os.devnull, "under_a_file": str(f / "sub"), "virtual": "/proc/hwsim-x"}[where]
    code, stdout, err = run(capsys, *cmd, "--out", out)
    assert code == 2 and stdout == "" and ONE_LINE.fullmatch(err), err
    assert f.read_text() == "x"


def test_closed_stdout_and_a_full_disk_are_one_line():
    r = subprocess.run(f"{sys.executable} -m hwsim.cli estimate mobilenet_v2 >&-", shell=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 2 and r.stderr == "hwsim: error: cannot write to standard output: it is closed\n"
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            r = cli("estimate", "mobilenet_v2", "--json", stdout=full)
        assert r.returncode == 2 and r.stderr == "hwsim: error: cannot write to standard output: No space left on device\n"


def test_rtl_check_refuses_a_negative_seed_a_repeated_key_and_a_huge_layer(capsys):
    code, _, err = run(capsys, "rtl-check", "--layer", "dw:c=4,h=4,w=4,k=3", "--seed", "-1")
    assert code == 2 and ONE_LINE.fullmatch(err) and "--seed must be a non-negative integer" in err
    code, _, err = run(capsys, "rtl-check", "--layer", "pw:cin=32,cout=8,h=4,w=4,cin=16")
    assert code == 2 and ONE_LINE.fullmatch(err) and "cin given twice" in err
    import time
    t = time.monotonic()
    code, _, err = run(capsys, "rtl-check", "--layer", "dw:c=4096,h=512,w=512,k=3")
    assert code == 2 and ONE_LINE.fullmatch(err) and "1,073,741,824 input values" in err and "--force" in err
    assert time.monotonic() - t < 5


def test_rtl_size_limit_counts_values_by_hand():
    from hwsim.rtlcheck import layer_size, parse_spec
    # 3x3 stride-2 conv on 3x32x32: 3,072 inputs, 16 x 16 x 16 = 4,096 outputs, 3 x 16 x 9 = 432 weights
    assert layer_size(parse_spec("conv:cin=3,cout=16,h=32,w=32,k=3,s=2")) == {"input": 3072, "output": 4096,
                                                                             "weights": 432}
    assert layer_size(parse_spec("add:c=8,h=4,w=4")) == {"input": 256, "output": 128, "weights": 0}


def test_rtl_refuses_an_array_that_does_not_fit_before_elaborating(tmp_path, capsys):
    import time
    t = time.monotonic()
    code, out, err = run(capsys, "rtl", "--out", str(tmp_path / "v"), "--set", "accel.pp=64", "--set", "accel.icp=64",
                         "--set", "accel.ocp=64")
    assert code == 2 and ONE_LINE.fullmatch(err) and "does not fit the ZU3EG" in err and "--no-fit-check" in err
    assert time.monotonic() - t < 10 and not list((tmp_path / "v").glob("*.v"))


def test_json_output_never_holds_nan_or_infinity():
    from hwsim.schema import assert_finite_json
    with pytest.raises(AssertionError, match=r"\$\.a\[1\]"):
        assert_finite_json({"a": [1.0, float("nan")]})
    assert_finite_json({"a": [1.0, None, "inf"]})


def test_sigint_during_a_dask_sweep_is_interrupted_and_130(tmp_path):
    import signal
    import time
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "hwsim.cli", "sweep", "mobilenet_v2", "--grid",
                          "accel.pp=1,2,4,8", "--grid", "accel.clock_mhz=100,110,120,130,140,150,160,170,180,190",
                          "--grid", "accel.icp=4,8", "--out", str(tmp_path / "o"), "--workers", "2", "--chunk-size", "1"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (tmp_path / "o" / "results.csv").exists() and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("the sweep finished before the interrupt")
    assert p.returncode == 130, err
    assert "Traceback" not in err and err.rstrip().endswith("hwsim: interrupted"), err


def test_a_model_that_does_no_work_is_one_line_not_infinite_fps(tmp_path, capsys):
    """Found by the battery: a graph of views only (Flatten) gave fps inf and Infinity in the JSON.
    Since the runtime profiles, the CPU's pre/post-processing of the frame is work of its own."""
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 192])
    g = helper.make_graph([helper.make_node("Flatten", ["x"], ["y"])], "flat", [x], [y])
    path = tmp_path / "flat.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    # the runtime's CPU pre/post-processing is still a frame's work: finite, and all of the latency
    code, out, err = run(capsys, "estimate", str(path), "--json")
    assert code == 0, err
    e = json.loads(out)
    assert e["latency_ms"] == pytest.approx(e["breakdown_ms"]["host_pre_post"]) and e["fps"] > 0


# ------------------------------------------------------------------ SIGINT in every window

_FAKE = """
import os, signal, sys, time
import hwsim.commands.zoo as zoo
import hwsim.cli as cli

WHERE = sys.argv[2]

def kill():
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)                      # the handler runs at the next bytecode boundary

def run(args):
    where = WHERE
    if where == "during":
        kill()
        time.sleep(5)
    elif where == "teardown":             # Ctrl-C, then two more while the first unwinds
        try:
            kill()
            time.sleep(5)
        finally:
            kill()
            kill()
            print("teardown done", file=sys.stderr)
    elif where == "exec":                 # through exec'd code, as a dataclass or namedtuple being built
        exec("kill()\\ntime.sleep(5)", {"kill": kill, "time": time})
    elif where == "after":                # the work is done; a Ctrl-C on the way out
        print("result")
        kill()
    elif where == "atexit":               # in the interpreter's shutdown
        import atexit
        atexit.register(kill)
        print("result")
    return 0

zoo.run = run
sys.argv = ["hwsim", "zoo"]
sys.exit(cli.main())
"""


@pytest.mark.parametrize("where,code,last", [("during", 130, "hwsim: interrupted"),
                                             ("teardown", 130, "hwsim: interrupted"),
                                             ("exec", 130, "hwsim: interrupted"),
                                             ("after", 130, "hwsim: interrupted"),
                                             ("atexit", 0, "")])
def test_sigint_in_any_window_is_one_line_and_130_never_a_signal_death(where, code, last):
    """Before: "exec" died by SIGINT (status -2: CPython's unhandled-KeyboardInterrupt flag, set by
    an interrupt through exec'd code even when caught); "atexit" too (the interpreter's shutdown
    resets the handler to the default one); a second Ctrl-C while the first unwound was a traceback.
    A Ctrl-C in the shutdown, once the command's status is decided, leaves it (here 0)."""
    r = subprocess.run([sys.executable, "-c", _FAKE, "zoo", where], env={**os.environ, "PYTHONPATH": str(ROOT)},
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == code, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr, r.stderr
    assert r.stderr.count("hwsim: interrupted") == (1 if code == 130 else 0), r.stderr
    assert r.stderr.rstrip().endswith(last), r.stderr
    assert ("result" in r.stdout) == (where in ("after", "atexit"))


def test_a_sigint_held_during_a_cluster_step_is_delivered_after_it():
    import signal

    from hwsim.sweep.executors import _sigint_held
    reached = False
    with pytest.raises(KeyboardInterrupt):
        with _sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
            sum(range(100_000))               # bytecode boundaries: a Ctrl-C is not raised in here
            reached = True
    assert reached and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):           # one that another thread receives, too
        with _sigint_held():
            import threading
            t = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
            t.start()
            t.join()
            sum(range(100_000))


def test_sigint_while_the_dask_cluster_starts_interrupts_the_sweep(tmp_path):
    """A Ctrl-C while the cluster starts (or just before): never a traceback or a signal death.  It
    interrupts the sweep once the cluster is up where the kernel keeps a blocked, ignored signal
    pending (Linux); where it does not, the sweep runs on as it did before (exit 0)."""
    import signal
    import time
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "hwsim.cli", "sweep", "mobilenet_v2", "--grid", "accel.pp=1,2,4,8",
                          "--out", str(tmp_path / "o"), "--workers", "2"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "o" / ".lock").exists() and time.monotonic() < deadline and p.poll() is None:
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode in (0, 130) and "Traceback" not in err, (p.returncode, err)
    if p.returncode == 130:
        assert err.rstrip().endswith("hwsim: interrupted") and not (tmp_path / "o" / "summary.json").exists(), err
