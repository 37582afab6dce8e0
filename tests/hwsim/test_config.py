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
    assert cfg.accel_name == f"{board}_default" and cfg.accel.name == cfg.accel_name
    b = cfg.board.raw()
    assert b["name"] == board
    # the project rule: the default accelerator uses at most max_util of the DSPs (one DSP48E2 per multiplier)
    assert cfg.pe.dsps <= b["max_util"] * b["dsp"]
    # the peak DDR figure is the bus width times the transfer rate
    assert cfg["ddr"]["peak_gbps"] == pytest.approx(cfg["ddr"]["bus_bits"] * cfg["ddr"]["mt_s"] / 8e3, rel=1e-3)
    for section in ("ddr", "axi", "ps", "transfer"):
        assert cfg[section], section


def test_device_resources_from_the_data_sheets():
    got = {b: {k: getattr(config.load(b).board, k) for k in ("device", "dsp", "lut", "ff", "bram36", "uram")} for b in BOARDS}
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
    assert cfg.accel.pl_ops == ("conv", "dwconv")
    assert cfg.accel.pp == 4 and type(cfg.accel.pp) is int
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


# ---- issue 15: one validation of every field, at load, after --set ------------------------------

@pytest.mark.parametrize("spec, message", [
    ("board.dsp=-1", "board.dsp must be a positive integer, not -1"),
    ("board.dsp=0", "board.dsp must be a positive integer, not 0"),
    ("board.lut=-100", "board.lut must be a positive integer, not -100"),
    ("board.dsp=1e308", "board.dsp must be at most"),
    ("accel.clock_mhz=1e308", "accel.clock_mhz must be at most"),
    ("accel.clock_mhz=1e30", "accel.clock_mhz must be at most"),
    ("accel.clock_mhz=0", "accel.clock_mhz must be a positive number (at least 1 MHz), not 0"),
    ("accel.clock_mhz=1e-129", "accel.clock_mhz must be at least 1 MHz, not 1e-129"),
    ("ps.pipeline_frames=1000000", "runtime.frames_in_flight must be at most 32, not 1000000"),
    ("accel.burst_beats=257", "accel.burst_beats must be at most 256, not 257"),
    ('accel.dw_kernels=[3, -5]', "accel.dw_kernels[1] must be a positive integer, not -5"),
    ("ddr.efficiency=0", "ddr.efficiency must be a positive number (at least 0.01), not 0"),
    ("ddr.efficiency=4.8e-129", "ddr.efficiency must be at least 0.01, not 4.8e-129"),
])
def test_every_field_has_a_physical_range(spec, message, capsys):
    with pytest.raises(ConfigError) as e:
        config.load("ultra96v1", None, [spec])
    assert message in str(e.value) and "\n" not in str(e.value)
    for cmd in (["estimate", "mobilenet_v2"], ["synth", "--estimate-only"], ["map", "mobilenet_v2"]):
        code, out, err = run_cli(capsys, *cmd, "--set", spec)       # every command: the same refusal
        assert code == 2 and out == "" and err == f"hwsim: error: {e.value}\n", cmd


def _board_file(tmp_path, edit):
    text = (config.DATA / "boards" / "ultra96v1.toml").read_text()
    path = tmp_path / "custom.toml"
    path.write_text(edit(text))
    return str(path)


def _accel_file(tmp_path, edit):
    text = (config.DATA / "accels" / "ultra96v1_default.toml").read_text()
    path = tmp_path / "acc.toml"
    path.write_text(edit(text))
    return str(path)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("dsp = 360 ", "#"), "[board] has no field 'dsp'"),
    (lambda t: t.replace("dsp = 360 ", 'dsp = "lots" '), "board.dsp must be an integer, not 'lots'"),
    (lambda t: t.replace("lut = 70560 ", "lut = 0 "), "board.lut must be a positive integer, not 0"),
    (lambda t: t.replace("freq_mhz = 1200", "freq_mhz = nan"), "ps.freq_mhz must be a finite number, not nan"),
    (lambda t: t.replace("[axi]", "[axi]\nport_width = 3"), "[axi] has unknown field 'port_width'"),
    (lambda t: t.replace("[ps]", "ps = 3\n[pss]"), "board description"),
])
def test_a_custom_board_file_with_a_bad_field_is_one_line(tmp_path, capsys, edit, message):
    path = _board_file(tmp_path, edit)
    code, out, err = run_cli(capsys, "estimate", "mobilenet_v2", "--board", path)
    assert code == 2 and out == "" and re.fullmatch(r"hwsim: error: [^\n]+\n", err), err
    assert message in err


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("clock_mhz = 100.0", "#"), "[accel] has no field 'clock_mhz'"),
    (lambda t: t.replace("clock_mhz = 100.0", 'clock_mhz = "fast"'), "accel.clock_mhz must be a number, not 'fast'"),
    (lambda t: t.replace("pp = 4 ", "pp = 4.5 "), "accel.pp must be an integer, not 4.5"),
    (lambda t: t.replace("[accel]", "accel = 1\n[acc]"), "has no [accel] section"),
])
def test_a_custom_accelerator_file_with_a_bad_field_is_one_line(tmp_path, capsys, edit, message):
    path = _accel_file(tmp_path, edit)
    code, out, err = run_cli(capsys, "estimate", "mobilenet_v2", "--accel", path)
    assert code == 2 and out == "" and re.fullmatch(r"hwsim: error: [^\n]+\n", err), err
    assert message in err


def test_every_shipped_field_is_declared_and_a_new_section_is_one_table():
    from hwsim import schema
    for b in config.boards():
        config.load(b)                        # no unknown field in any shipped file
    for a in config.accels():
        config.load("zcu102", a)
    schema.register("runtime_test", {"threads": schema.Field(int, 1, 64)}, required=False)
    try:
        data = config.load("ultra96v1").data
        data["runtime_test"] = {"threads": 0}
        with pytest.raises(ConfigError, match="runtime_test.threads must be a positive integer, not 0"):
            config.build("ultra96v1", "ultra96v1_default", data)
    finally:
        del schema.SECTIONS["runtime_test"]


def test_sections_are_typed_frozen_views_of_the_validated_tables():
    import dataclasses

    cfg = config.load("ultra96v1", overrides=["accel.clock_mhz=150", "ps.threads=2"])
    # typed as the schema says: a TOML integer for a float field reads as a float, lists as tuples
    assert cfg.accel.clock_mhz == 150.0 and type(cfg.accel.clock_mhz) is float
    assert cfg.ps.threads == 2 and cfg.ps.cores == 4 and type(cfg.ps.freq_mhz) is float
    assert cfg.accel.pl_ops == tuple(cfg["accel"]["pl_ops"]) and cfg.accel.pe == cfg.pe
    assert cfg.clock_hz == 150e6
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.ps.threads = 3
    # raw() gives the table as loaded (for printing values as the file spells them), a copy
    assert cfg.accel.raw()["pl_ops"] == cfg["accel"]["pl_ops"] and cfg.accel.cores is None
    assert cfg.board.raw() == cfg["board"] and cfg.board.raw() is not cfg["board"]
    assert cfg.ddr.capacity_gib == 2.0 and cfg.runtime.buffer_mode == "cacheable"


def test_the_plan_view_leaves_out_exactly_the_timing_and_resource_fields():
    base = config.load("ultra96v1")
    same = [config.load("ultra96v1", overrides=[o]) for o in ("accel.clock_mhz=250", "accel.hp_ports_used=1")]
    assert all(c.accel.plan_key() == base.accel.plan_key() for c in same)
    other = [config.load("ultra96v1", overrides=[o]) for o in ("accel.ocp=16", "accel.max_kernel=3",
                                                         'accel.pl_ops=["conv"]', "accel.ibuf_kib=64")]
    assert all(c.accel.plan_key() != base.accel.plan_key() for c in other)


def test_the_section_classes_declare_exactly_the_schema_fields():
    """hwsim.sections is written out for readers and type checkers; this holds it to hwsim.schema:
    the same fields in the same order, each typed as its schema kind (lists as tuples of their
    item), optional fields ``X | None`` defaulting to None and required ones without a default."""
    import dataclasses
    import typing

    from hwsim import schema, sections
    assert set(sections.CLASSES) == set(schema.SECTIONS)
    for name, cls in sections.CLASSES.items():
        spec = schema.SECTIONS[name].fields
        assert sections.schema_fields(cls) == list(spec), name
        hints = typing.get_type_hints(cls)
        declared = {f.name: f for f in dataclasses.fields(cls)}
        for key, f in spec.items():
            want: typing.Any = tuple[f.item or str, ...] if f.kind is list else f.kind
            if not f.required:
                want = want | None
            assert hints[key] == want, f"{name}.{key}: {hints[key]} is not {want}"
            default = declared[key].default
            assert (default is dataclasses.MISSING) == f.required, f"{name}.{key}"
            assert f.required or default is None, f"{name}.{key}"
