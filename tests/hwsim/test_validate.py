"""bench/validate.py: the model against the published DPU frame rates, and the README's copy of its table."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

from tests.hwsim import readme_block

SCRIPT = Path(__file__).parents[2] / "bench" / "validate.py"


def load():
    spec = importlib.util.spec_from_file_location("validate", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # its dataclass looks its module up there
    spec.loader.exec_module(mod)
    return mod


def test_every_row_is_the_estimate_it_names_and_the_summary_follows_from_the_rows(capsys):
    v = load()
    t = v.table()
    assert len(t["rows"]) == len(v.ROWS) == 12
    from hwsim.estimate import estimate
    r = next(x for x in t["rows"] if x["row"].board == "zcu104" and x["row"].model == "efficientnet_b0")
    e = estimate("efficientnet_b0", board="zcu104", accel="dpu_b4096", overrides=["accel.clock_mhz=300"],
                 runtime="vart")
    assert e.runtime == "vart" and e.frames_in_flight == 1 and r["model_1t"] == e.fps
    assert r["err_1t"] == 100 * (e.fps - 83.21) / 83.21
    assert t["median"] == statistics.median(abs(x["err_1t"]) for x in t["rows"])
    assert t["worst"] == max(abs(x["err_1t"]) for x in t["rows"])
    # the ZCU102 rows have no published multi-thread figure, the ZCU104 rows do
    assert all((x["model_multi"] is None) == (x["row"].board == "zcu102") for x in t["rows"])


def test_the_readme_shows_the_scripts_table(capsys):
    v = load()
    assert v.main() == 0
    out = capsys.readouterr().out.splitlines()
    assert readme_block("python bench/validate.py") == out
