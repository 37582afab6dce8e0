"""An accelerator that does not fit the board's device is bad input: `hwsim estimate`, `compare` and
`study` stop with one line naming the resources over, unless --no-fit-check; the estimate carries
its resources either way.  DPU configurations are judged on their published (PG338) utilisation."""

from __future__ import annotations

import json

import pytest

from hwsim import config
from hwsim.cli import main
from hwsim.config import ConfigError
from hwsim.estimate import estimate
from hwsim.resources import BRAM36_PER_URAM, accel_resources, misfit, resource_source, uses_published

HUGE = ["--set", "accel.icp=64", "--set", "accel.ocp=64"]      # 4 x 64 x 64 = 16,384 multipliers


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("cmd", [["estimate", "mobilenet_v1"], ["compare", "mobilenet_v1", "mobilenet_v2"],
                                 ["study", "--out", "{out}"]])
def test_an_array_that_does_not_fit_is_a_one_line_error(capsys, cmd, tmp_path):
    cmd = [c.replace("{out}", str(tmp_path / "unused")) for c in cmd]
    rc, out, err = run(capsys, *cmd, *HUGE)
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "accelerator 'ultra96v1_default' with accel.icp=64, accel.ocp=64 does not fit the ZU3EG" in err
    assert "dsp 16,640 > 306 (85% of 360)" in err and "--no-fit-check" in err
    assert not (tmp_path / "unused").exists()


def test_no_fit_check_simulates_it_and_says_it_does_not_fit(capsys):
    rc, out, _ = run(capsys, "estimate", "mobilenet_v1", *HUGE, "--no-fit-check", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["fits"] is False and d["misfit"].startswith("dsp 16,640 > 306") and d["resources"]["dsp"] == 16640
    assert d["resources_source"].startswith("estimate:")
    rc, out, _ = run(capsys, "estimate", "mobilenet_v1", *HUGE, "--no-fit-check")
    assert rc == 0 and "does NOT fit the ZU3EG" in out


def test_the_default_deployment_fits_and_says_so(capsys):
    e = estimate("mobilenet_v1")
    assert e.misfit == "" and e.summary()["fits"] is True
    assert e.resources == accel_resources(config.load())
    assert e.resources["dsp"] == 306                            # 4x8x8 + 2 x 5x5 depthwise, one DSP each
    rc, out, _ = run(capsys, "estimate", "mobilenet_v1")
    assert rc == 0 and "306 DSP (85.0%)" in out and ": fits the ZU3EG" in out


# PG338 v1.2 Table 9 (high DSP usage) + PG338 v3.4 depthwise extras, as in the accelerator files
PUBLISHED = {"dpu_b512": (110, 21911, 31782, 73.5), "dpu_b1600": (312, 34269, 56267, 127.5),
             "dpu_b3136": (548, 42824, 79867, 210), "dpu_b4096": (690, 45795, 92630, 257)}


@pytest.mark.parametrize("accel", sorted(PUBLISHED))
def test_dpu_configurations_use_their_published_utilisation(accel):
    cfg = config.load("zcu102", accel)
    assert uses_published(cfg) and resource_source(cfg).startswith("published: PG338")
    assert resource_source(cfg).endswith(", high DSP usage")     # the setting Xilinx's reference platforms use
    assert accel_resources(cfg) == dict(zip(("dsp", "lut", "ff", "bram36"), map(float, PUBLISHED[accel])))
    assert misfit(cfg.board, accel_resources(cfg)) == ""        # every DPU size fits the ZCU102


def test_published_figures_hold_only_for_the_hardware_as_shipped():
    # clock and op coverage do not change the hardware: still the published figures
    cfg = config.load("zcu102", "dpu_b4096", ["accel.clock_mhz=281", 'accel.pl_fused=["relu","swish"]'])
    assert uses_published(cfg)
    # a different array is not the DPU PG338 measured: back to this project's estimate
    cfg = config.load("zcu102", "dpu_b4096", ["accel.pp=4"])
    assert not uses_published(cfg) and resource_source(cfg).startswith("estimate:")
    assert accel_resources(cfg)["dsp"] == cfg.pe.dsps


def test_a_dpu_too_big_for_the_ultra96_is_refused_on_its_published_dsps(capsys):
    rc, _, err = run(capsys, "estimate", "mobilenet_v1", "--accel", "dpu_b4096")
    assert rc == 2 and "'dpu_b4096' does not fit the ZU3EG" in err
    # a published build is judged against the whole device (360 DSPs), not the 85% rule
    assert "dsp 690 > 360 (100% of 360)" in err and "(published build's utilisation, high DSP usage" in err
    rc, _, _ = run(capsys, "estimate", "mobilenet_v1", "--accel", "dpu_b512")
    assert rc == 0


def test_on_a_device_with_ultraram_the_dpu_moves_block_ram_there():
    # KV260: 144 BRAM36, 64 URAM.  B4096's 257 BRAM36 (a build without URAM) exceed 85% of 144
    # (122.4); the excess goes to URAM at 3.25 BRAM36 each, as Xilinx's KV260 B3136 build did.
    res = accel_resources(config.load("kv260", "dpu_b4096"))
    assert BRAM36_PER_URAM == pytest.approx(3.25)
    assert res["uram"] == 42 and res["bram36"] == pytest.approx(257 - 42 * 3.25)
    assert res["bram36"] <= 0.85 * 144 < res["bram36"] + BRAM36_PER_URAM
    assert misfit(config.load("kv260").board, res) == ""
    # the ZU3EG has no URAM: the block RAM stays where it is, and is over
    res = accel_resources(config.load("ultra96v1", "dpu_b4096"))
    assert "uram" not in res and res["bram36"] == 257


# PG338 v1.2 Table 9, low DSP usage (LUTs accumulate) + the same PG338 v3.4 depthwise extras
PUBLISHED_LOW = {"dpu_b512": (66 + 12, 20759 + 1734, 33572, 69.5 + 4), "dpu_b1600": (202 + 30, 33130 + 3392, 60739, 127.5),
                 "dpu_b2304": (290 + 36, 37055 + 3943, 72850, 167), "dpu_b4096": (514 + 48, 44583 + 4930, 99791, 257)}


@pytest.mark.parametrize("accel", sorted(PUBLISHED_LOW))
def test_low_dsp_usage_picks_pg338s_other_table(accel):
    cfg = config.load("zcu102", accel, ["accel.dsp_usage=low"])
    assert uses_published(cfg) and resource_source(cfg).endswith(", low DSP usage")
    assert accel_resources(cfg) == dict(zip(("dsp", "lut", "ff", "bram36"), map(float, PUBLISHED_LOW[accel])))
    high = accel_resources(config.load("zcu102", accel))
    assert high["dsp"] > accel_resources(cfg)["dsp"] and high["lut"] < accel_resources(cfg)["lut"]


def test_dpu_b1600_on_the_ultra96_is_accepted_as_the_published_build_it_is(capsys):
    # Xilinx's DPU-PYNQ ships B1600, high DSP usage, for the Ultra96 (boards/Ultra96*/dpu_conf.vh;
    # measured.md): 312 of the ZU3EG's 360 DSPs, above this project's 85% rule but a build that runs.
    rc, out, err = run(capsys, "estimate", "mobilenet_v1", "--accel", "dpu_b1600")
    assert rc == 0 and err == ""
    assert "fits: published build, 312 DSP = 87%" in out
    rc, out, _ = run(capsys, "estimate", "mobilenet_v1", "--accel", "dpu_b1600", "--json")
    d = json.loads(out)
    assert d["fits"] is True and d["misfit"] == "" and d["resources"]["dsp"] == 312
    # DSP usage moves accumulation between DSPs and LUTs, not throughput (dpu_conf.vh: no model update)
    rc, out2, _ = run(capsys, "estimate", "mobilenet_v1", "--accel", "dpu_b1600", "--set", "accel.dsp_usage=low", "--json")
    assert rc == 0 and json.loads(out2)["fps"] == d["fps"] and json.loads(out2)["resources"]["dsp"] == 232
    # B2304 with high DSP usage needs 422 DSPs, more than the device has; its low build (326 = 91%)
    # is the one that can exist on the ZU3EG (DPU-PYNQ's Vitis AI 1.4-era Ultra96 build was B2304)
    rc, _, err = run(capsys, "estimate", "mobilenet_v1", "--accel", "dpu_b2304")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "dsp 422 > 360 (100% of 360)" in err and "its low DSP usage build fits (326 DSP): --set accel.dsp_usage=low" in err


def test_the_85_percent_rule_stays_for_this_projects_own_arrays(capsys):
    # the Ultra96 default array is 4x8x8 packed + 2 x 5x5 depthwise = 306 DSPs, exactly 85% of 360;
    # one more depthwise channel (+25 DSPs, 331 = 92%) is refused although a published build at 87% fits
    rc, _, err = run(capsys, "estimate", "mobilenet_v1", "--set", "accel.dw_channels=3")
    assert rc == 2 and "dsp 331 > 306 (85% of 360)" in err and "(resource estimate)" in err
    rc, out, _ = run(capsys, "estimate", "mobilenet_v1")
    assert rc == 0 and ": fits the ZU3EG (at most 85% of each)" in out


def test_a_bad_dsp_usage_is_a_one_line_error(capsys):
    rc, out, err = run(capsys, "estimate", "mobilenet_v1", "--board", "zcu102", "--accel", "dpu_b512",
                       "--set", "accel.dsp_usage=medium")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "dsp_usage must be one of 'high', 'low', not 'medium'" in err
    # this project's RTL has no such setting (every MAC multiplies and accumulates in a DSP)
    rc, _, err = run(capsys, "estimate", "mobilenet_v1", "--set", "accel.dsp_usage=low")
    assert rc == 2 and "has no field 'dsp_usage'" in err


def test_a_malformed_published_table_is_a_config_error(tmp_path):
    shipped = (config.DATA / "accels" / "dpu_b512.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(shipped.replace("dsp = 110", 'dsp = "many"'))
    with pytest.raises(ConfigError, match=r"published_resources\.high\.dsp must be a non-negative number"):
        config.load("zcu102", str(bad))
    bad.write_text(shipped.replace("[published_resources.low]", "[published_resources.lowest]"))
    with pytest.raises(ConfigError, match=r"dsp_usage must be one of 'high', 'lowest', not 'low'"):
        config.load("zcu102", str(bad), ["accel.dsp_usage=low"])
    flat = shipped.partition("[published_resources.low]")[0].replace("[published_resources.high]\n", "")
    bad.write_text(flat)                # the old single-table layout: counts beside `source`
    with pytest.raises(ConfigError, match=r"must hold one table per DSP usage setting"):
        config.load("zcu102", str(bad))
    bad.write_text(shipped.replace('source = "PG338', 'nosource = "PG338'))
    with pytest.raises(ConfigError, match=r"published_resources\.source must cite"):
        config.load("zcu102", str(bad))


@pytest.mark.parametrize("board", config.boards())
def test_every_boards_own_accelerator_fits_it(capsys, board):
    """`hwsim estimate MODEL --board B` works with B's default accelerator: it fits B's device by
    the same rule the CLI refuses others with (the ZCU102 and KV260 defaults once did not)."""
    cfg = config.load(board)
    assert misfit(cfg.board, accel_resources(cfg)) == ""
    rc, out, err = run(capsys, "estimate", "mobilenet_v2", "--board", board)
    assert rc == 0 and err == "" and f"on {board} / {cfg.accel_name}" in out


def test_a_frame_that_does_not_fit_the_ddr_is_a_one_line_error(capsys):
    """The frame's weights plus the activations live at once must fit the board's DDR
    (ddr.capacity_gib); above it the CLI says so on one line, and --set raises the capacity."""
    rc, out, err = run(capsys, "estimate", "mobilenet_v2", "--json")
    fp = json.loads(out)["ddr_footprint"]
    assert rc == 0 and fp["capacity"] == 2 * 2**30 and fp["total"] == fp["weights"] + fp["activations_peak"]
    small = fp["total"] / 2**30 * 0.9
    rc, out, err = run(capsys, "estimate", "mobilenet_v2", "--set", f"ddr.capacity_gib={small}")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert f"needs at least {fp['total'] / 2**20:.1f} MiB of DDR" in err and "(ddr.capacity_gib)" in err
    rc, out, err = run(capsys, "estimate", "mobilenet_v2", "--set", f"ddr.capacity_gib={fp['total'] / 2**30 * 1.1}")
    assert rc == 0
    rc, out, err = run(capsys, "estimate", "efficientnet_b4", "--input-size", "8000")
    assert rc == 2 and "more than the 2 GiB of ultra96v1 (ddr.capacity_gib)" in err


def test_the_library_refuses_what_the_cli_refuses():
    """estimate(fit_check=True) is the check `hwsim estimate` applies, with its message; off, the
    estimate runs and carries the misfit (what --no-fit-check does)."""
    from hwsim.errors import HwsimError
    over = ["accel.icp=64", "accel.ocp=64"]
    with pytest.raises(HwsimError, match=r"accelerator 'ultra96v1_default' with accel.icp=64, accel.ocp=64 does "
                                         r"not fit the ZU3EG of 'ultra96v1': dsp 16,640 > 306 \(85% of 360\)"):
        estimate("mobilenet_v1", overrides=over, fit_check=True)
    assert estimate("mobilenet_v1", overrides=over).misfit.startswith("dsp 16,640 > 306")
    assert estimate("mobilenet_v1", fit_check=True).misfit == ""
