"""Simulation runners.

* ``run_amaranth(engine, case, ...)``: one tile through an engine (or ``LayerEngine``) in the
  Amaranth simulator, with optional valid/ready pause patterns: fast, for unit tests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable

from amaranth.sim import Simulator

from .golden_pw import Case


@dataclass
class Result:
    out_beats: list[int]
    out_lasts: list[int]
    cycles: int            # start (cycle 0) .. last output beat transferred, inclusive
    in_consumed: int


def run_amaranth(dut, case: Case, *, in_pause: Iterable[int] = (0,), out_pause: Iterable[int] = (0,),
                 max_cycles: int | None = None) -> Result:
    """Drive ``case.in_beats`` into ``dut.s`` and collect ``dut.m`` until the ``last`` beat.

    ``in_pause`` / ``out_pause`` are cycled: a 1 withholds ``s.valid`` / ``m.ready`` that cycle.
    """
    limit = max_cycles or 20 * (len(case.in_beats) + len(case.out_beats)) + 200
    res = Result([], [], 0, 0)
    ipause, opause = itertools.cycle(in_pause), itertools.cycle(out_pause)

    async def tb(ctx):
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

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    return res
