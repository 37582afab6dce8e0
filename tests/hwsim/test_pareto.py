import math

import pytest

from hwsim import pareto


def rows(*pts):
    return [{"model": m, "fps": f, "dsp": d} for m, f, d in pts]


def test_front_on_a_hand_made_set():
    data = rows(("a", 10, 100),   # 0 on: cheapest
                ("a", 20, 200),   # 1 on
                ("a", 15, 250),   # 2 dominated by 1 (slower and dearer)
                ("a", 30, 300),   # 3 on: fastest
                ("a", 20, 250),   # 4 dominated by 1 (same fps, dearer)
                ("a", 5, 100),    # 5 dominated by 0 (same cost, slower)
                ("a", 30, 400))   # 6 dominated by 3
    assert pareto.front(data) == [0, 1, 3]


def test_identical_points_are_both_on_the_front():
    data = rows(("a", 10, 100), ("a", 10, 100), ("a", 9, 120))
    assert pareto.front(data) == [0, 1]


def test_missing_or_non_finite_objectives_are_never_on_the_front():
    data = rows(("a", None, 10), ("a", math.nan, 10), ("a", 1, 500), ("a", math.inf, 10))
    assert pareto.front(data) == [2]


def test_three_objectives():
    data = [{"fps": 10, "dsp": 100, "lut": 900},   # on: fewest DSP
            {"fps": 10, "dsp": 200, "lut": 500},   # on: fewer LUTs than 0
            {"fps": 10, "dsp": 200, "lut": 950},   # dominated by 0 and 1
            {"fps": 12, "dsp": 300, "lut": 990}]   # on: fastest
    assert pareto.front(data, ("fps",), ("dsp", "lut")) == [0, 1, 3]
    assert pareto.front(data, ("fps",), ("dsp",)) == [0, 3]


def test_front_by_model_is_one_front_per_group():
    data = rows(("a", 10, 100), ("b", 5, 50), ("a", 8, 120), ("b", 50, 500))
    # b's points would dominate nothing of a's and vice versa; a's (8, 120) is dominated within a
    assert pareto.front_by(data, "model") == [0, 1, 3]


def test_front_needs_an_objective():
    with pytest.raises(ValueError):
        pareto.front(rows(("a", 1, 1)), (), ())


def test_plot_writes_a_png(tmp_path):
    data = rows(("a", 10, 100), ("a", 20, 200), ("b", 5, 50))
    for r in data:
        r["lut"] = r["dsp"] * 100
    pareto.plot(data, tmp_path / "p.png", limits={"dsp": 306, "lut": 59976}, title="t")
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_no_points_still_writes_a_png(tmp_path, recwarn):
    pareto.plot([], tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG" and not recwarn.list
