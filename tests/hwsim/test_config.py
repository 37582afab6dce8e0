"""Board and accelerator descriptions: every file loads, is consistent, and --set overrides work."""

from __future__ import annotations

import re

import pytest

from hwsim import config
from hwsim.cli import main
from hwsim.config import ConfigError

BOARDS = ["kv260", "ultra96v1", "ultra96v2", "zcu102", "zcu104"]
DPUS = {"dpu_b512": (4, 8, 8), "dpu_b800": (4, 10, 10), "dpu_b1024": (8, 8, 8), "dpu_b1152": (4, 12, 12),
        "dpu_b1600": (8, 10, 10), "dpu_b2304": (8, 12, 12), "dpu_b3136": (8, 14, 14), "dpu_b4096": (8, 16, 16)}


def test_every_board_and_accelerator_is_listed():
    assert set(BOARDS) <= set(config.boards())
    assert {f"{b}_default" for b in BOARDS} | set(DPUS) <= set(config.accels())


@pytest.mark.parametrize("board", BOARDS)
def test_board_loads_with_its_own_accelerator_which_fits(board):
    cfg = config.load(board)
    assert cfg.accel_name == f"{board}_default" and cfg.accel["name"] == cfg.accel_name
    b = cfg.board
    assert b["name"] == board
    # the project rule: the default accelerator uses at most max_util of the DSPs (one DSP48E2 per multiplier)
    assert cfg.pe.dsps <= b["max_util"] * b["dsp"]
    # the peak DDR figure is the bus width times the transfer rate
    assert cfg["ddr"]["peak_gbps"] == pytest.approx(cfg["ddr"]["bus_bits"] * cfg["ddr"]["mt_s"] / 8e3, rel=1e-3)
    for section in ("ddr", "axi", "ps", "transfer"):
        assert cfg[section], section


def test_device_resources_from_the_data_sheets():
    got = {b: {k: config.load(b).board[k] for k in ("device", "dsp", "lut", "ff", "bram36", "uram")} for b in BOARDS}
    assert got["zcu104"] == {"device": "ZU7EV", "dsp": 1728, "lut": 230400, "ff": 460800, "bram36": 312, "uram": 96}
    assert got["zcu102"] == {"device": "ZU9EG", "dsp": 2520, "lut": 274080, "ff": 548160, "bram36": 912, "uram": 0}
    assert got["kv260"] == {"device": "XCK26", "dsp": 1248, "lut": 117120, "ff": 234240, "bram36": 144, "uram": 64}
    assert got["ultra96v2"] == got["ultra96v1"] | {"device": "ZU3EG"}


@pytest.mark.parametrize("accel", sorted(DPUS))
def test_dpu_sizes(accel):
    cfg = config.load("zcu102", accel)
    p = cfg.pe
    assert (p.pp, p.icp, p.ocp) == DPUS[accel]
    assert 2 * p.pp * p.icp * p.ocp == int(accel.removeprefix("dpu_b"))    # peak ops/clock is the name
    # depthwise: (PP/2) x ICP x 3 MACs per cycle, i.e. that many 3x3 windows / 9, rounded
    assert p.dw_channels == round(p.pp // 2 * p.icp * 3 / 9)
    assert cfg.clock_hz == 300e6


@pytest.mark.parametrize("accel", sorted(DPUS) + [f"{b}_default" for b in BOARDS])
def test_every_accelerator_loads_on_every_board(accel):
    for board in BOARDS:
        assert config.load(board, accel).accel_name == accel


def test_set_overrides_fields():
    cfg = config.load("zcu102", "dpu_b4096", ["accel.clock_mhz=281", "ps.threads=2",
                                              'accel.pl_ops=["conv", "dwconv"]', "accel.pp=4.0"])
    assert cfg.clock_hz == 281e6
    assert cfg["ps"]["threads"] == 2
    assert cfg.accel["pl_ops"] == ["conv", "dwconv"]
    assert cfg.accel["pp"] == 4 and isinstance(cfg.accel["pp"], int)
    assert config.load("zcu102", "dpu_b4096").clock_hz == 300e6      # overrides never leak into the files


@pytest.mark.parametrize("spec, message", [
    ("accel.clock_mhz", "malformed --set 'accel.clock_mhz': expected section.key=value"),
    ("clock_mhz=100", "malformed --set 'clock_mhz=100': expected section.key=value"),
    ("accel.clock_mhz=", "malformed --set"),
    ("acel.clock_mhz=100", "no section 'acel'"),
    ("accel.clock=100", "section 'accel' has no field 'clock'"),
    ("accel.clock_mhz=fast", "accel.clock_mhz must be float, not 'fast'"),
    ("accel.pp=2.5", "accel.pp must be an integer, not 2.5"),
    ("accel.pp=0", "pp must be a positive integer, not 0"),
    # TOML reads these as floats; an infinite clock once gave 1,652 fps for MobileNetV1
    ("accel.clock_mhz=inf", "accel.clock_mhz must be a finite number, not inf"),
    ("ps.mem_gbps=nan", "ps.mem_gbps must be a finite number, not nan"),
    ("ddr.efficiency=-inf", "ddr.efficiency must be a finite number, not -inf"),
    ("board.max_util=2", "max_util is the largest fraction of each device resource an accelerator may use, in (0, 1], not 2"),
    ("board.max_util=0", "in (0, 1], not 0"),
])
def test_bad_overrides_give_one_line_errors(spec, message):
    with pytest.raises(ConfigError) as e:
        config.load("ultra96v1", None, [spec])
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unknown_board_and_accelerator_name_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown board 'zcu106'; known: .*zcu104"):
        config.load("zcu106")
    with pytest.raises(ConfigError, match=r"unknown accel 'dpu_b9999'; known: .*dpu_b4096"):
        config.load("zcu102", "dpu_b9999")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_set_through_the_cli(capsys):
    import json
    code, out, _ = run_cli(capsys, "map", "mobilenet_v2", "--json")
    assert code == 0 and [s["device"] for s in json.loads(out)["segments"]] == ["PL", "PS"]
    with_fc = '["conv", "dwconv", "maxpool", "avgpool", "global_avgpool", "add", "fc"]'
    code, out, _ = run_cli(capsys, "map", "mobilenet_v2", "--json", "--set", f"accel.pl_ops={with_fc}")
    assert code == 0 and [s["device"] for s in json.loads(out)["segments"]] == ["PL"]


@pytest.mark.parametrize("spec", ["accel.clock_mhz", "accel.nope=1", "accel.clock_mhz=abc", "accel.pp=-4"])
def test_bad_set_through_the_cli_is_one_line(capsys, spec):
    code, out, err = run_cli(capsys, "map", "mobilenet_v2", "--set", spec)
    assert code == 2 and out == ""
    assert re.fullmatch(r"hwsim: error: .+\n", err) and "Traceback" not in err
