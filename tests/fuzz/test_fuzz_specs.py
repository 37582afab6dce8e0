"""Random rtl-check layer specs and random pipeline chains (issue 15 battery)."""

from __future__ import annotations

import math

from hypothesis import given, note
from hypothesis import strategies as st

from hwsim.config import load
from hwsim.errors import HwsimError
from hwsim.rtlcheck import check_size, layer_tiles, parse_spec
from hwsim.timeline import pipeline_period

KINDS = ["pw", "conv", "dw", "pool", "maxpool", "avgpool", "gap", "scale", "add", "foo", ""]
KEYS = ["cin", "cout", "c", "h", "w", "k", "s", "q", ""]
values = st.one_of(st.integers(-3, 40).map(str), st.integers(0, 10**12).map(str),
                   st.sampled_from(["x", "", "1.5", "1e3", " 4", "0x10", "-0", "٣"]))
items = st.tuples(st.sampled_from(KEYS), st.sampled_from(["=", "", "=="]), values).map(lambda t: "".join(t))
specs = st.one_of(
    st.tuples(st.sampled_from(KINDS), st.sampled_from([":", "", "::"]), st.lists(items, max_size=7))
    .map(lambda t: t[0] + t[1] + ",".join(t[2])),
    st.text(max_size=30))
CFG = load()


@given(text=specs)
def test_any_layer_spec_is_parsed_tiled_or_refused_in_one_line(text):
    note(text)
    try:
        spec = parse_spec(text)
        check_size(spec)
        tiles = layer_tiles(spec, CFG)
    except HwsimError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert tiles and all(t.h > 0 and t.w > 0 for t in tiles)
    assert len(set(spec.args)) == len(spec.args)


chains = st.lists(st.tuples(st.sampled_from(["PL", "PS", None]),
                            st.one_of(st.sampled_from([0.0, 1.0, 2.0, 0.5]), st.floats(1e-6, 1e3))),
                  min_size=0, max_size=25)


@given(chain=chains, n=st.integers(1, 8))
def test_pipeline_period_is_bounded_and_monotonic_in_frames_in_flight(chain, n):
    p = pipeline_period(chain, n)
    latency = math.fsum(d for _, d in chain)
    busiest = max([math.fsum(d for r, d in chain if r == x) for x in ("PL", "PS")])
    assert math.isfinite(p)
    assert p >= max(busiest, latency / n) * (1 - 1e-9) - 1e-300
    assert p <= latency * (1 + 1e-9)
    if n > 1:
        assert p <= pipeline_period(chain, n - 1) * (1 + 1e-12)
