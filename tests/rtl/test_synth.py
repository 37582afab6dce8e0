"""Synthesis: Yosys maps an INT8 MAC to one DSP48E2, the analytic estimate agrees with Yosys on a
small instance, and the commands report fit / refuse arrays that cannot fit."""

from __future__ import annotations

import json
import subprocess

import pytest

from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwsim.cli import main
from hwsim.config import load
from hwsim.resources import device_table
from rtl.synth import count, estimate, fit, parse_stat, synthesize, yosys_command

from .conftest import CONFIGS


class _Mac(wiring.Component):
    def __init__(self):
        super().__init__({"a": In(signed(8)), "b": In(signed(8)), "acc": Out(signed(32))})

    def elaborate(self, platform):
        m = Module()
        prod = Signal(signed(16))
        m.d.sync += [prod.eq(self.a * self.b), self.acc.eq(self.acc + prod)]
        return m


def test_int8_mac_is_one_dsp48e2(tmp_path):
    (tmp_path / "mac.v").write_text(verilog.convert(_Mac(), name="mac"))
    run = subprocess.run(yosys_command() + ["-q", "-p", "read_verilog mac.v; synth_xilinx -family xcup -top mac; "
                                            "tee -o stat.txt stat"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    res = count(parse_stat((tmp_path / "stat.txt").read_text()))
    assert res["dsp"] == 1


def test_parse_stat_counts_luts_lutram_ffs_and_brams():
    text = """
   Number of cells:                 9
     DSP48E2                         3
     FDRE                           10
     FDSE                            2
     LUT2                            4
     LUT6                            5
     RAM32M16                        2
     RAMB18E2                        3
     RAMB36E2                        1
"""
    assert count(parse_stat(text)) == {"dsp": 3, "lut": 4 + 5 + 16, "ff": 12, "bram36": 2.5}


@pytest.mark.slow          # Yosys synth_xilinx of a whole core: minutes without the cache
def test_estimate_matches_yosys_on_a_small_instance():
    p = CONFIGS["pp2-icp4-ocp4-dw2"]
    syn = synthesize(p)           # cached in build/synth (rtl.cache) after the first run (about two minutes)
    est = estimate(p)
    assert est["dsp"] == syn["dsp"] == p.dsps == p.multipliers
    assert est["bram36"] == syn["bram36"]
    for k in ("lut", "ff"):
        assert abs(est[k] - syn[k]) <= 0.2 * syn[k], f"{k}: estimate {est[k]}, Yosys {syn[k]}"


@pytest.mark.slow          # Yosys synth_xilinx of a whole core: minutes without the cache
def test_packed_array_halves_the_conv_dsps_in_yosys():
    """macs_per_dsp = 2: Yosys maps each packed 27 x 8 multiply (two INT8 products) to one DSP48E2,
    and the estimate (DSP, BRAM exact; LUT/FF close) still holds."""
    p = CONFIGS["pp1-icp8-ocp4-dw4-pack2"]
    syn = synthesize(p)
    est = estimate(p)
    assert est["dsp"] == syn["dsp"] == p.dsps == p.pw_macs_per_cycle // 2 + p.dw_multipliers
    assert est["bram36"] == syn["bram36"]
    for k in ("lut", "ff"):
        assert abs(est[k] - syn[k]) <= 0.2 * syn[k], f"{k}: estimate {est[k]}, Yosys {syn[k]}"


@pytest.mark.slow          # Yosys synth_xilinx of a whole core: minutes without the cache
def test_estimate_follows_yosys_past_eight_input_channels():
    """Beyond ICP = 8 Yosys builds each accumulator's adder tree as a LUT compressor tree; the
    estimate's tree term follows it (1x16x4: Yosys 25,188 LUTs, estimate 22,956; a purely linear
    tree term would say 19,756)."""
    from rtl.params import PEArrayParams
    p = PEArrayParams(pp=1, icp=16, ocp=4, dw_channels=2, wbuf_depth=64)
    # the engine alone: inside the whole accelerator Yosys optimises the engine across its
    # configuration inputs (21,944 LUTs for the whole accelerator here), which hides the tree term
    syn, est = synthesize(p, system=False), estimate(p, system=False)
    assert est["dsp"] == syn["dsp"] and est["bram36"] == syn["bram36"]
    assert abs(est["lut"] - syn["lut"]) <= 0.10 * syn["lut"], f"lut: estimate {est['lut']}, Yosys {syn['lut']}"


def test_synth_command_counts_packed_dsps(capsys):
    over = ["--set", "accel.macs_per_dsp=2", "--set", "accel.dw_channels=4"]
    assert main(["synth", "--estimate-only", "--json", *over]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dsp"] == 4 * 8 * 8 // 2 + 4 * 25 == 228 and out["fits"] is True


def test_fit_against_the_device():
    board = device_table(load().board)       # the device's counts and max_util, as rtl.synth.fit takes them
    ok = fit(estimate(load().pe), board)
    assert ok["fits"] and ok["util"]["dsp"] <= board["max_util"]
    big = fit({"dsp": 340, "lut": 1000, "ff": 1000, "bram36": 10}, board)
    assert not big["fits"] and big["over"] == ["dsp"]


def test_synth_command_estimate_json(capsys):
    assert main(["synth", "--estimate-only", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "ZU3EG" and out["fits"] is True
    assert out["dsp"] == load().pe.dsps
    assert {"device", "dsp", "lut", "ff", "bram36", "fits"} <= set(out)


def test_synth_command_marginal_array_does_not_fit(capsys):
    assert main(["synth", "--estimate-only", "--json", "--set", "accel.dw_channels=3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dsp"] == load(overrides=["accel.dw_channels=3"]).pe.dsps > 306
    assert out["fits"] is False


def test_synth_command_refuses_an_array_larger_than_the_device(capsys):
    assert main(["synth", "--set", "accel.pp=8"]) == 2
    err = capsys.readouterr().err.strip()
    need = load(overrides=["accel.pp=8"]).pe.dsps
    assert need > 360
    assert err.startswith("hwsim: error:") and f"needs {need} DSP48E2" in err and "ZU3EG has 360" in err
    assert "\n" not in err


def test_rtl_command_writes_verilog(tmp_path, capsys):
    assert main(["rtl", "--engine-only", "--out", str(tmp_path), "--json", "--set", "accel.pp=1", "--set", "accel.icp=4",
                 "--set", "accel.ocp=4", "--set", "accel.dw_channels=2", "--set", "accel.wbuf_depth=64"]) == 0
    info = json.loads(capsys.readouterr().out)
    top = (tmp_path / "layer_engine.v").read_text()
    for port in ("s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast", "m_axis_tdata",
                 "m_axis_tlast", "cfg_mode", "start", "busy"):
        assert port in top
    assert "module layer_engine_core" in (tmp_path / "layer_engine_core.v").read_text()
    assert info["in_bytes"] == 4 and info["multipliers"] == info["dsps"] == 16 + 50


def test_rtl_command_bad_out(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["rtl", "--out", str(f)]) == 2
    assert "is a file; give a directory" in capsys.readouterr().err


def test_parse_ltp_counts_the_path_and_its_carry_cells():
    from rtl.synth import fmax_estimate, parse_ltp
    text = """Longest topological path in top (length=4):
  0: \\a [0]
  1: \\b [0] (via $abc$1$lut)
  2: \\c [0] (via $auto$alumacc.cc:485:replace_alu$9.genblk1.slice[0].genblk1.carry4)
  3: \\d [0] (via $abc$2$lut)
"""
    r = parse_ltp(text)
    assert r == {"path_cells": 4, "path_carry_cells": 1}
    t = fmax_estimate(r)
    assert t["path_lut_levels"] == 3 and t["fmax_mhz_estimate"] <= 456.0


def test_whole_accelerator_estimate_and_timing_against_yosys():
    """The estimate covers the data mover, sequencer and registers too (rtl.synth.mover_estimate),
    held to Yosys on the whole accelerator; Yosys' longest path gives a finite Fmax estimate."""
    from rtl.synth import fmax_estimate, mover_estimate
    p = CONFIGS["pp2-icp4-ocp4-dw2"]
    syn, est = synthesize(p), estimate(p)
    assert est["ff"] - estimate(p, system=False)["ff"] == mover_estimate(p)["ff"] > 0
    assert abs(est["ff"] - syn["ff"]) <= 0.05 * syn["ff"], (est["ff"], syn["ff"])
    assert abs(est["lut"] - syn["lut"]) <= 0.2 * syn["lut"], (est["lut"], syn["lut"])
    t = fmax_estimate(syn)
    assert syn["path_cells"] > 5 and 50 < t["fmax_mhz_estimate"] <= 456.0
    # the path recorded for hwsim's Yosys-free timing (rtl.synth.RECORDED_PATHS) is this RTL's
    from rtl.emit import params_hash
    from rtl.synth import RECORDED_PATHS, instance_hash
    assert instance_hash(p) == params_hash(p)
    rec = RECORDED_PATHS[params_hash(p)]
    assert (rec["path_cells"], rec["path_carry_cells"]) == (syn["path_cells"], syn["path_carry_cells"])


def test_synth_command_reports_the_fmax_estimate_of_the_whole_accelerator(capsys):
    small = ["--set", "accel.pp=2", "--set", "accel.icp=4", "--set", "accel.ocp=4", "--set", "accel.dw_channels=2",
             "--set", "accel.wbuf_depth=64"]
    assert main(["synth", "--json", *small]) == 0
    out = json.loads(capsys.readouterr().out)
    syn = synthesize(CONFIGS["pp2-icp4-ocp4-dw2"])
    assert out["lut"] == syn["lut"] and out["source"] == "yosys"
    t = out["timing"]
    assert out["fmax_mhz_estimate"] == t["fmax_mhz_estimate"] and "estimate" in t["method"]
    assert t["path_lut_levels"] + t["path_carry_cells"] == syn["path_cells"]
    assert t["supports_clock"] == (t["fmax_mhz_estimate"] >= t["clock_mhz"] == 100.0)
    assert main(["synth", "--json", "--estimate-only", *small]) == 0
    rec = json.loads(capsys.readouterr().out)       # no netlist: the recorded run's estimate, saying so
    assert rec["fmax_mhz_estimate"] == t["fmax_mhz_estimate"] and "recorded Yosys" in rec["timing"]["source"]
    assert main(["synth", "--json", "--estimate-only", *small, "--set", "accel.ocp=8"]) == 0
    assert "fmax_mhz_estimate" not in json.loads(capsys.readouterr().out), "never synthesised, no timing estimate"
