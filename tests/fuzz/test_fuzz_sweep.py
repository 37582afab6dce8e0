"""Random grids, killed and resumed, with damaged result files (issue 15 battery): every point
ends up in results.csv exactly once, the summary counts add up, garbage is moved aside, and every
bad input is one error line."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from hwsim import sweep
from hwsim.errors import HwsimError
from tests.hwsim.test_sweep import FakeEvaluator, keys_of, read_csv

AXES = {
    "accel.pp": st.lists(st.sampled_from(["1", "2", "4", "8", "0", "-1", "2.5", "x", "1e308"]), min_size=1, max_size=3),
    "accel.clock_mhz": st.lists(st.sampled_from(["100", "150.5", "200", "0", "1e30", "nan", "fast"]), min_size=1,
                                max_size=3),
    "accel.dw_kernels": st.lists(st.sampled_from(["[3]", "[3,5]", "[]", "[0]", "[5]"]), min_size=1, max_size=2),
    "accel.pl_ops": st.lists(st.sampled_from(['["conv","dwconv"]', '["conv","dwconv","maxpool"]', '["nope"]']),
                             min_size=1, max_size=2),
}


@st.composite
def grids(draw):
    keys = draw(st.lists(st.sampled_from(sorted(AXES)), min_size=1, max_size=3, unique=True))
    return [f"{k}={','.join(draw(AXES[k]))}" for k in keys]


damage = st.sampled_from(["none", "torn", "garbage", "duplicate", "offgrid"])


@given(grid=grids(), fail_at=st.one_of(st.none(), st.integers(1, 12)), chunk=st.integers(1, 5), how=damage,
       seed=st.integers(0, 2**16))
def test_random_grid_killed_damaged_and_resumed_has_every_point_once(grid, fail_at, chunk, how, seed):
    note(grid)
    try:
        spec = sweep.Sweep.create(["netA", "netB"], ["naive"], grid, FakeEvaluator())
    except HwsimError as e:
        assert "\n" not in str(e)
        return
    d = Path(tempfile.mkdtemp())
    try:
        out = d / "o"
        try:
            sweep.run(spec, out, FakeEvaluator(fail_at=fail_at), workers=0, chunk=chunk)
        except HwsimError as e:         # the simulated crash
            assert "rerun with --resume" in str(e) and "\n" not in str(e)
        path = out / "results.csv"
        if path.exists() and how != "none":
            text = path.read_text()
            lines = text.splitlines(keepends=True)
            rng = random.Random(seed)
            if how == "torn" and len(text) > len(lines[0]):
                path.write_text(text[:rng.randrange(len(lines[0]), len(text))])
            elif how == "garbage":
                path.write_text(text + "x,y,\"z\n" + ",".join(["1"] * 3) + "\n")
            elif how == "duplicate" and len(lines) > 1:
                path.write_text(text + lines[-1])
            elif how == "offgrid" and len(lines) > 1:
                path.write_text(text + lines[-1].replace("netA", "netQ").replace("netB", "netQ"))
        s = sweep.run(spec, out, FakeEvaluator(), workers=0, resume=True, chunk=chunk)
        rows = read_csv(out / "results.csv")
        keys = keys_of(spec, rows)
        assert len(keys) == len(set(keys)) == len(spec.points())
        assert set(keys) == {p.key() for p in spec.points()}
        assert s.points == s.evaluated + s.infeasible + s.failed == len(spec.points())
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("n", [1])
def test_the_fake_evaluator_is_importable(n):
    assert FakeEvaluator().check(["netA"], None) is None
