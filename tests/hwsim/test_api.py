"""The Python API: ``import hwsim`` is light, and the README's example runs."""

import contextlib
import io
import json
import subprocess
import sys

from hwsim.config import load
from hwsim.estimate import Estimate, estimate
from tests.hwsim import README


def test_import_hwsim_loads_no_heavy_package():
    code = ("import sys, hwsim; heavy = ('amaranth', 'dask', 'distributed', 'optuna', 'matplotlib', 'numpy', "
            "'onnx'); print([m for m in sys.modules if m.split('.')[0] in heavy])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_estimate_is_the_typed_estimate():
    import hwsim
    e = hwsim.estimate("mobilenet_v2", board="kv260")
    assert isinstance(e, Estimate) and e.board == "kv260"
    d = estimate("mobilenet_v2", cfg=load("kv260"))
    assert (e.fps, e.latency_ms, e.breakdown_ms) == (d.fps, d.latency_ms, d.breakdown_ms)
    from hwsim.estimate import estimate as same                # the module is still the module
    assert same is hwsim.estimate.estimate


def test_sweep_returns_the_rows_of_the_cli(tmp_path):
    import hwsim
    from hwsim.cli import main
    rows = hwsim.sweep("mobilenet_v2", grid=["accel.dw_channels=2,4"], policy=["naive", "optimized"])
    assert [(r["policy"], r["accel.dw_channels"]) for r in rows] == [("naive", 2), ("naive", 4), ("optimized", 2),
                                                                     ("optimized", 4)]
    ok = [r for r in rows if r["feasible"]]
    for r in ok:
        assert r["fps"] == estimate("mobilenet_v2", policy=r["policy"],
                                    overrides=[f"accel.dw_channels={r['accel.dw_channels']}"]).fps
    assert [r["error"].startswith("infeasible") for r in rows if not r["feasible"]] == [True, True]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["sweep", "mobilenet_v2", "--grid", "accel.dw_channels=2,4", "--policy", "naive,optimized",
                     "--workers", "0", "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(out.getvalue())["evaluated"] == len(ok)


def test_advise_is_the_cli_search():
    import hwsim
    a = hwsim.advise("mobilenet_v2", levers=["clock"])
    assert a.designs and all(d["fps"] > a.baseline["fps"] for d in a.designs)
    assert a.designs[0]["fps"] == estimate("mobilenet_v2", overrides=a.designs[0]["overrides"]).fps


def test_readme_example_runs():
    """The README's Python API block, executed as it stands; it prints what the API returns."""
    text = README.read_text().split("## Python API", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 10
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    import hwsim
    e = hwsim.estimate("mobilenet_v2", board="kv260")
    lines = out.getvalue().splitlines()
    assert lines[0] == f"mobilenet_v2 on kv260: {e.fps:.1f} fps, {e.latency_ms:.2f} ms, bottleneck {e.bottleneck}"
    assert "beat the deployed one" in lines[1] or "no design" in lines[1]
    assert lines[-1].startswith("[(2, ")
