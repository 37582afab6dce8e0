"""``hwsim advise``: what to change, on this board, for this network.

The design levers are a table (``LEVERS``): each is one field a user can change (the accelerator's
shape, packing, buffers, clock, which ops the PL runs, the placement policy, the runtime's knobs),
with the values the search may give it and the *group* it belongs to ("array shape", "clock", ...).
``advise`` searches the product of the levers it is given, starting from the deployed design:

- every candidate's device resources (``hwsim.resources.accel_resources``: ``rtl.synth.estimate``
  plus the activation buffers, or the published figures) are checked against the board's
  ``max_util`` first, and a candidate that does not fit is dropped *before* any simulation;
- where the designs that fit are no more than the budget, all of them are simulated (an exact,
  pruned enumeration); otherwise Optuna's TPE sampler (seeded, so a run is repeatable) proposes
  ``budget`` designs, with "does it fit" as its constraint;
- each design is simulated with the sweep's evaluator (``hwsim.sweep.evaluate_point``: the same
  numbers as ``hwsim estimate``), in this process or on a Dask cluster (``scheduler``);
- the best designs have every change that does not help put back as deployed, so "what changed"
  lists only what the gain needs.

With ``out`` the evaluated designs stream to ``OUT/designs.jsonl`` (and Optuna's trials to its
journal, ``OUT/optuna.journal``); ``resume=True`` continues there.  Several models are judged by
the geometric mean of their frame rates (and latencies).

The clock goes up to ``max_clock_mhz``: by default the clock Xilinx's DPU is published to run at on
the board's device (``CLOCK_LIMITS``), or the accelerator's own clock where no such figure is known,
and no higher than the deployed instance's Fmax estimate where one is recorded (``rtl.synth.recorded_timing``:
Yosys' logic depth with assumed delays, an estimate, not timing closure; read without running Yosys).
``Limits.timing`` says in words whether the estimate supports the clocks searched.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config, load
from .errors import HwsimError, UserError
from .resources import fmt_count, misfit
from .sections import Board

OBJECTIVES = ("fps", "fps_per_dsp", "latency")
DEFAULT_BUDGET = 200
DESIGNS = "designs.jsonl"
MANIFEST = "advise_manifest.json"
JOURNAL = "optuna.journal"
RESULT = "advise.json"
# The ops that may leave the PL for the ARM cores; conv stays (the PL would have nothing to run).
MOVABLE_OPS = ("dwconv", "maxpool", "avgpool", "global_avgpool", "add")

# Clock ceilings with a source: the clock Xilinx's DPU (DPUCZDX8G) is published to run at on each
# board's device and speed grade (shared/reference/measured.md).  The DPU is not this RTL: these are
# what the fabric closes for a comparable INT8 array, not a timing result of ours.
CLOCK_LIMITS: dict[str, tuple[float, str]] = {
    "ultra96v1": (200.0, "the DPU B1600 of Xilinx/DPU-PYNQ's Ultra96 build runs at 200 MHz on the same ZU3EG -1"),
    "ultra96v2": (200.0, "the DPU B1600 of Xilinx/DPU-PYNQ's Ultra96 build runs at 200 MHz on the ZU3EG -1"),
    "zcu104": (300.0, "Vitis AI 3.0's ZCU104 build runs 2 x DPU B4096 at 300 MHz on the ZU7EV -2"),
    "zcu102": (281.0, "Vitis AI 3.0's ZCU102 build runs 3 x DPU B4096 at 281 MHz on the ZU9EG -2"),
    "kv260": (300.0, "Xilinx/DPU-PYNQ's KV260 build runs a DPU B4096 at 300 MHz on the XCK26 -2LV"),
}
CLOCK_STEP_MHZ = 25.0       # the clock candidates between the deployed clock and the ceiling


class AdviseError(HwsimError):
    """Bad input to ``advise`` (the message names it)."""


# ------------------------------------------------------------------------------- the levers

@dataclass(frozen=True)
class Lever:
    group: str                                   # what the study calls it: "array shape", "clock", ...
    key: str                                     # "policy" or "section.field"
    values: Callable[[Config, "Limits"], Sequence[Any]]
    hardware: bool = False                       # changes the device resources
    active: Callable[[Config], bool] = lambda cfg: True


@dataclass(frozen=True)
class Limits:
    max_clock_mhz: float
    clock_source: str
    timing: str = ""                             # whether the timing estimate supports the clocks searched
    fmax_mhz_estimate: float | None = None       # the deployed instance's, where recorded


def _with(base: Any, values: Sequence[Any]) -> tuple[Any, ...]:
    """The candidate values, the deployed one included, in order."""
    out = sorted(set(values) | {base})
    return tuple(out)


def _accel(name: str, values: Sequence[int]) -> Callable[[Config, Limits], Sequence[Any]]:
    # the deployed value as the file spells it (a buffer of 96 KiB, not 96.0): the candidates
    # become --set overrides and designs' JSON
    return lambda cfg, lim: _with(cfg.accel.raw()[name], values)


def _clocks(cfg: Config, lim: Limits) -> tuple[float, ...]:
    base, top = cfg.accel.clock_mhz, lim.max_clock_mhz
    steps = {float(k * CLOCK_STEP_MHZ) for k in range(1, int(top // CLOCK_STEP_MHZ) + 1)
             if base < k * CLOCK_STEP_MHZ < top}
    return tuple(sorted(steps | {top} | ({base} if base <= top else set())))


def _pl_ops(cfg: Config, lim: Limits) -> tuple[str, ...]:
    """``accel.pl_ops`` with every subset of the movable ops taken off (encoded as JSON lists)."""
    ops = list(cfg.accel.pl_ops)
    movable = [o for o in MOVABLE_OPS if o in ops]
    out = []
    for n in range(len(movable) + 1):
        for drop in itertools.combinations(movable, n):
            out.append(json.dumps([o for o in ops if o not in drop]))
    return tuple(out)


def _packs(cfg: Config, lim: Limits) -> tuple[int, ...]:
    from .resources import int8_macs_per_dsp
    return _with(cfg.accel.macs_per_dsp or 1, range(1, int8_macs_per_dsp(cfg.board) + 1))


def _runtime_choices(field: str, choices: str) -> Callable[[Config, "Limits"], Sequence[Any]]:
    """The values ``hwsim.runtime`` accepts for a runtime field (its ``BUFFER_MODES``, ``COMPLETIONS``)."""
    def values(cfg: Config, lim: "Limits") -> tuple[Any, ...]:
        from . import runtime
        return _with(getattr(cfg.runtime, field), getattr(runtime, choices))
    return values


def _runtime_levers(cfg: Config) -> list[Lever]:
    """The runtime section's switches beyond the table's: every boolean field, both ways."""
    rt = cfg.data.get("runtime") or {}
    return [Lever("runtime", f"runtime.{k}", lambda c, lim: (False, True)) for k, v in sorted(rt.items())
            if isinstance(v, bool)]


def _has_runtime(field: str) -> Callable[[Config], bool]:
    return lambda cfg: field in (cfg.data.get("runtime") or {})


LEVERS: tuple[Lever, ...] = (
    Lever("placement", "policy", lambda cfg, lim: ("naive", "optimized")),
    Lever("array shape", "accel.pp", _accel("pp", (1, 2, 4, 8, 16)), hardware=True),
    Lever("array shape", "accel.icp", _accel("icp", (4, 8, 12, 16, 24, 32)), hardware=True),
    Lever("array shape", "accel.ocp", _accel("ocp", (4, 6, 8, 12, 16, 24, 32)), hardware=True),
    Lever("array shape", "accel.dw_channels", _accel("dw_channels", (1, 2, 3, 4, 6, 8, 12, 16)), hardware=True),
    Lever("packing", "accel.macs_per_dsp", _packs, hardware=True),
    Lever("buffers", "accel.ibuf_kib", _accel("ibuf_kib", (64, 128, 256, 512)), hardware=True),
    Lever("buffers", "accel.obuf_kib", _accel("obuf_kib", (32, 64, 128, 256)), hardware=True),
    Lever("buffers", "accel.wbuf_depth", _accel("wbuf_depth", (1152, 2304, 4608)), hardware=True),
    Lever("clock", "accel.clock_mhz", _clocks),
    Lever("ops on PS vs PL", "accel.pl_ops", _pl_ops),
    Lever("runtime", "ps.threads", lambda cfg, lim: _with(cfg.ps.threads, range(1, cfg.ps.cores + 1))),
    # The runtime profile's knobs (hwsim.runtime): frames in flight (the software's threads, one per
    # frame: 1 to the cores), how the shared buffers are mapped, and how a completion is noticed.
    Lever("runtime", "runtime.frames_in_flight",
          lambda cfg, lim: _with(cfg.runtime.frames_in_flight, range(1, cfg.ps.cores + 1)),
          active=_has_runtime("frames_in_flight")),
    Lever("runtime", "runtime.buffer_mode", _runtime_choices("buffer_mode", "BUFFER_MODES"), active=_has_runtime("buffer_mode")),
    Lever("runtime", "runtime.completion", _runtime_choices("completion", "COMPLETIONS"), active=_has_runtime("completion")),
)
GROUPS = tuple(dict.fromkeys(l.group for l in LEVERS))


def levers_for(cfg: Config, groups: Sequence[str] | None = None) -> list[Lever]:
    """The levers of ``groups`` (all by default) that apply to this configuration."""
    every = [l for l in LEVERS if l.active(cfg)] + _runtime_levers(cfg)
    if groups is None:
        return every
    known = set(GROUPS) | {l.group for l in every} | {l.key for l in every}
    bad = [g for g in groups if g not in known]
    if bad:
        raise AdviseError(f"unknown lever {bad[0]!r}; known: {', '.join(sorted(set(GROUPS)))} or a field such as "
                          f"accel.pp")
    return [l for l in every if l.group in groups or l.key in groups]


def instance_timing(cfg: Config) -> dict | None:
    """The deployed instance's recorded Fmax estimate (``rtl.synth.recorded_timing``), or None: never
    recorded, or the accelerator is not this project's RTL (its resources are published, e.g. a DPU)."""
    from rtl.synth import recorded_timing

    from .resources import uses_published
    return None if uses_published(cfg) else recorded_timing(cfg.pe)


# The fields that make another RTL instance (rtl.params.PEArrayParams): a design that changes one
# has no recorded timing estimate of its own (the activation buffers and the clock do not change it).
INSTANCE_FIELDS = ("accel.pp", "accel.icp", "accel.ocp", "accel.dw_channels", "accel.macs_per_dsp", "accel.wbuf_depth")


def design_timing(cfg: Config, design: dict[str, Any], lim: Limits) -> dict[str, Any]:
    """Whether the timing estimate supports a design's clock: ``supports_clock`` True/False against
    the deployed instance's estimate, None where there is none (not recorded, or another instance)."""
    clock = float(design.get("accel.clock_mhz", cfg.accel.clock_mhz))
    other = any(k in design and design[k] != getattr(cfg.accel, k.partition(".")[2]) for k in INSTANCE_FIELDS)
    fmax = None if other else lim.fmax_mhz_estimate
    if fmax is None:
        words = ("this array's timing is not estimated" if other and lim.fmax_mhz_estimate is not None
                 else "no timing estimate for this instance")
        return {"clock_mhz": clock, "fmax_mhz_estimate": None, "supports_clock": None, "words": words}
    ok = clock <= fmax
    return {"clock_mhz": clock, "fmax_mhz_estimate": fmax, "supports_clock": ok,
            "words": f"{clock:g} MHz is {'within' if ok else 'beyond'} the ~{fmax:g} MHz Fmax estimate"}


def clock_limit(cfg: Config, max_clock_mhz: float | None) -> Limits:
    """The clock ceiling, where it comes from, and what the timing estimate says about it."""
    base = cfg.accel.clock_mhz
    t = instance_timing(cfg)
    fmax = None if t is None else float(math.floor(t["fmax_mhz_estimate"]))
    if max_clock_mhz is not None:
        if isinstance(max_clock_mhz, bool) or not isinstance(max_clock_mhz, (int, float)) \
                or not math.isfinite(max_clock_mhz) or max_clock_mhz <= 0:
            raise AdviseError(f"--max-clock-mhz must be a positive number of MHz, not {max_clock_mhz!r}")
        top, source = float(max_clock_mhz), "given with --max-clock-mhz"
    else:
        cited = CLOCK_LIMITS.get(cfg.board_name)
        if cited and cited[0] >= base:
            top, source = cited
        elif cited:
            top, source = base, f"the accelerator's own clock, above the cited {cited[0]:g} MHz ({cited[1]})"
        else:
            top, source = base, "the accelerator's own clock (no published clock for this device in the project's references)"
        if fmax is not None and base <= fmax < top:
            source = f"the deployed instance's Fmax estimate, below the {top:g} MHz cited ({source})"
            top = fmax
    return Limits(top, source, _timing_words(cfg, t, fmax, base, top), fmax)


def _timing_words(cfg: Config, t: dict | None, fmax: float | None, base: float, top: float) -> str:
    if t is None:
        from .resources import uses_published
        if uses_published(cfg):
            return ("this accelerator is not the project's RTL, so its timing estimate does not apply; a faster "
                    "clock assumes the design closes timing there")
        return ("no timing estimate is recorded for this instance (`hwsim synth` makes one with Yosys), so a faster "
                "clock assumes the design closes timing there")
    est = (f"the timing estimate of the deployed instance is ~{fmax:g} MHz ({t['path_lut_levels']} LUT levels + "
           f"{t['path_carry_cells']} carry cells on Yosys' longest register-to-register path at assumed -1 delays; "
           f"an estimate, not timing closure; other array shapes are not estimated)")
    if base > fmax:
        return f"{est}: the deployed {base:g} MHz is already above it, as is every faster clock"
    if top > fmax:
        return f"{est}: clocks above {fmax:g} MHz are beyond it and assume the design closes timing there"
    return f"{est}: it supports every clock searched"


# ------------------------------------------------------------------------------- the designs

def _enc(v: Any) -> str:
    from .sweep import encode
    return encode(v)


def design_key(design: dict[str, Any]) -> str:
    return json.dumps({k: design[k] for k in sorted(design)}, sort_keys=True)


def overrides_of(design: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """The ``--set`` overrides that turn the deployed design into ``design`` (policy aside)."""
    return [f"{k}={_value_text(k, v)}" for k, v in design.items() if k != "policy" and v != base[k]]


def _value_text(key: str, v: Any) -> str:
    if key == "accel.pl_ops":
        return json.dumps(json.loads(v), separators=(",", ":"))
    return _enc(v)


def _field_value(key: str, v: Any) -> Any:
    return json.loads(v) if key == "accel.pl_ops" else v


def describe(key: str, old: Any, new: Any) -> str:
    """One change in words."""
    if key == "policy":
        return ("SE pooling and scale on the PL (optimized placement)" if new == "optimized"
                else "every SE block on the PS (naive placement)")
    if key == "accel.pl_ops":
        a, b = json.loads(old), json.loads(new)
        off, on = [o for o in a if o not in b], [o for o in b if o not in a]
        parts = ([f"{'/'.join(off)} on the PS instead of the PL"] if off else []) + \
                ([f"{'/'.join(on)} on the PL"] if on else [])
        return "; ".join(parts)
    words = {"accel.macs_per_dsp": lambda: f"{new} INT8 MACs per DSP" + (" (WP486 packing)" if new == 2 else ""),
             "accel.clock_mhz": lambda: f"PL clock {new:g} MHz",
             "accel.dw_channels": lambda: f"{new} depthwise channels",
             "accel.pp": lambda: f"pixel parallelism {new}",
             "accel.icp": lambda: f"input-channel parallelism {new}",
             "accel.ocp": lambda: f"output-channel parallelism {new}",
             "accel.ibuf_kib": lambda: f"input buffer {new:g} KiB",
             "accel.obuf_kib": lambda: f"output buffer {new:g} KiB",
             "accel.wbuf_depth": lambda: f"weight buffer depth {new}",
             "ps.threads": lambda: f"{new} PS thread{'s' if new != 1 else ''}",
             "runtime.frames_in_flight": lambda: f"{new} frame{'s' if new != 1 else ''} in flight",
             "runtime.buffer_mode": lambda: f"{new} shared buffers",
             "runtime.completion": lambda: f"completion by {new}"}
    if key in words:
        return words[key]()
    return f"{key} {_enc(new)}"


def change_list(design: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "from": _field_value(k, base[k]), "to": _field_value(k, v), "what": describe(k, base[k], v)}
            for k, v in design.items() if v != base[k]]


def change_text(design: dict[str, Any], base: dict[str, Any]) -> str:
    """All changes in words; the array's pp/icp/ocp as one shape."""
    shape = ("accel.pp", "accel.icp", "accel.ocp")
    if not all(k in design for k in shape):       # only some of them searched: each on its own
        shape = ()
    parts = []
    if any(design[k] != base[k] for k in shape):
        parts.append("PE array {}x{}x{}".format(*(design[k] for k in shape)))
    parts += [describe(k, base[k], v) for k, v in design.items() if v != base[k] and k not in shape]
    return ", ".join(parts)


# ------------------------------------------------------------------------------- evaluation

@dataclass
class Problem:
    models: tuple[str, ...]
    cfg: Config
    levers: list[Lever]
    space: dict[str, tuple[Any, ...]]            # lever key -> candidate values
    base: dict[str, Any]                         # the deployed design (every lever key)
    limits: Limits
    objective: str
    input_size: int | None
    target: Any                                  # hwsim.sweep.Target
    evaluator: Any

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in self.space if k != "policy")

    def full(self, design: dict[str, Any]) -> dict[str, Any]:
        return {**self.base, **design}

    def config(self, design: dict[str, Any]) -> Config:
        from .sweep import point_config
        d = self.full(design)
        return point_config(self.target, self.keys, [_field_value(k, d[k]) for k in self.keys])

    def fit(self, design: dict[str, Any]) -> tuple[dict[str, float] | None, str]:
        """Resources and why the design does not fit ("" if it does), from the analytic estimate."""
        try:
            cfg = self.config(design)
            res = self.evaluator.resources(cfg)
        except UserError as e:
            return None, f"cannot be built: {' '.join(str(e).split())}"
        return res, misfit(cfg.board, res)

    def points(self, design: dict[str, Any]) -> list[Any]:
        from .sweep import Point
        d = self.full(design)
        return [Point(m, d["policy"], tuple(_field_value(k, d[k]) for k in self.keys)) for m in self.models]

    def score(self, rec: dict[str, Any]) -> float:
        """Larger is better."""
        if self.objective == "fps":
            return rec["fps"]
        if self.objective == "fps_per_dsp":
            return rec["fps"] / max(float(rec["resources"]["dsp"]), 1.0)
        return -rec["latency_ms"]


def _geomean(xs: Sequence[float]) -> float:
    if len(xs) == 1:
        return xs[0]                              # exactly hwsim estimate's number
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def _record(problem: Problem, design: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A design's result from its per-model rows (``hwsim.sweep.evaluate_point``)."""
    full = problem.full(design)
    errors = [r.get("error") for r in rows if r.get("error")]
    rec: dict[str, Any] = {"key": design_key(full), "design": full,
                           "resources": {k: rows[0].get(k) for k in ("dsp", "lut", "ff", "bram36")}}
    if errors:
        rec.update({"fits": bool(rows[0].get("feasible")), "error": errors[0]})
        return rec
    rec.update({"fits": True, "fps": _geomean([r["fps"] for r in rows]),
                "latency_ms": _geomean([r["latency_ms"] for r in rows]),
                "per_model": {m: {"fps": r["fps"], "latency_ms": r["latency_ms"],
                                  "breakdown_ms": {b: r[f"{b}_ms"] for b in
                                                   ("pl_compute", "pl_memory_stall", "ps_compute", "transfer", "sync")}}
                              for m, r in zip(problem.models, rows)}})
    return rec


class Runner:
    """Simulates batches of designs, in this process or on a Dask cluster; caches by design."""

    def __init__(self, problem: Problem, scheduler: str | None, sink: Path | None, done: dict[str, dict[str, Any]]):
        self.problem, self.sink = problem, sink
        self.cache: dict[str, dict[str, Any]] = dict(done)
        self.client = None
        self.simulated = 0
        if scheduler is not None:
            self.client = _client(scheduler)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def run(self, designs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        from .sweep import evaluate_chunk
        p = self.problem
        todo = [d for d in designs if design_key(p.full(d)) not in self.cache]
        todo = list({design_key(p.full(d)): d for d in todo}.values())
        if todo:
            if self.client is None:
                chunks = [evaluate_chunk(p.evaluator, p.target, p.keys, p.points(d)) for d in todo]
            else:
                futs = [self.client.submit(evaluate_chunk, p.evaluator, p.target, p.keys, p.points(d), pure=False)
                        for d in todo]
                chunks = self.client.gather(futs)
            for d, (rows, failure) in zip(todo, chunks):
                if failure:
                    raise HwsimError(f"advise stopped: {failure}")
                rec = _record(p, d, rows)
                self.cache[rec["key"]] = rec
                self.simulated += 1
                if self.sink is not None:
                    with open(self.sink, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")
        return [self.cache[design_key(p.full(d))] for d in designs]


def _client(scheduler: str):
    try:
        from distributed import Client
        if scheduler.endswith(".json"):
            if not Path(scheduler).is_file():
                raise AdviseError(f"no such scheduler file {scheduler!r}")
            client = Client(scheduler_file=scheduler, timeout=5.0)
        else:
            client = Client(scheduler, timeout=5.0)
        client.wait_for_workers(1, timeout=10.0)
        return client
    except AdviseError:
        raise
    except Exception as e:     # noqa: BLE001 - refused, timed out, malformed, no workers
        raise AdviseError(f"cannot use Dask scheduler {scheduler}: {type(e).__name__}: {' '.join(str(e).split())}") \
            from None


# ------------------------------------------------------------------------------- the search

@dataclass
class Advice:
    models: list[str]
    board: str
    accel: str
    objective: str
    input_size: int | None
    baseline: dict[str, Any]
    designs: list[dict[str, Any]]                # ranked, each fits and beats the baseline
    pareto: list[dict[str, Any]]
    search: dict[str, Any]
    levers: dict[str, list[str]]
    clock: dict[str, Any]
    best_found: dict[str, Any] | None = None     # the best design that fits, even if not better
    out: str | None = None

    @property
    def verdict(self) -> str:
        if self.designs:
            b = self.designs[0]
            return (f"{len(self.designs)} design(s) that fit beat the deployed one; the best: "
                    f"{b['fps']:.2f} fps against {self.baseline['fps']:.2f}")
        return "no design found that fits beats the deployed one"

    def to_json(self) -> dict[str, Any]:
        return {"models": self.models, "board": self.board, "accel": self.accel, "objective": self.objective,
                "input_size": self.input_size, "verdict": self.verdict, "baseline": self.baseline,
                "designs": self.designs, "pareto": self.pareto, "search": self.search, "levers": self.levers,
                "clock": self.clock, "out": self.out}

    def lines(self) -> list[str]:
        b = self.baseline
        size = f" at {self.input_size}x{self.input_size}" if self.input_size else ""
        out = [f"advise {' '.join(self.models)}{size} on {self.board} / {self.accel}, objective {self.objective}",
               f"  levers: " + "; ".join(f"{g} ({', '.join(k)})" for g, k in self.levers.items()),
               f"  clock up to {self.clock['max_mhz']:g} MHz: {self.clock['source']}; {self.clock['timing']}",
               f"  search: {self.search['method']}, {self.search['simulated']} designs simulated, "
               f"{self.search['pruned']:,} pruned by the resource estimate before simulation "
               f"(space {self.search['space']:,} designs)",
               f"  as deployed: {_headline(b)}"]
        if not self.designs:
            out.append(f"  {self.verdict}" + (f" (best found: {_headline(self.best_found)}; "
                                              f"{self.best_found['what'] or 'as deployed'})" if self.best_found else ""))
        else:
            out.append(f"  {'rank':>4}  {'fps':>7}  {'x':>5}  {'latency':>8}  {'DSP':>5}  {'LUT':>7}  {'BRAM36':>6}  "
                       f"fits  pareto  changes")
            for i, d in enumerate(self.designs, 1):
                r = d["resources"]
                out.append(f"  {i:>4}  {d['fps']:7.2f}  {d['fps'] / b['fps']:4.2f}x  {d['latency_ms']:6.1f}ms  "
                           f"{fmt_count(r['dsp']):>5}  {fmt_count(r['lut']):>7}  {fmt_count(r['bram36']):>6}  "
                           f"{'yes' if d['fits'] else 'NO':>4}  {'*' if d['pareto'] else '':>6}  {d['what']}")
            out.append("  * on the Pareto front of the designs simulated (max fps, min DSP and LUT)")
        if self.out:
            out.append(f"wrote {self.out}/{RESULT}, {DESIGNS}")
        return out


def _headline(d: dict[str, Any]) -> str:
    r = d["resources"]
    fit = "fits" if d["fits"] else "does NOT fit"
    return (f"{d['fps']:.2f} fps, latency {d['latency_ms']:.1f} ms, {fmt_count(r['dsp'])} DSP, "
            f"{fmt_count(r['lut'])} LUT, {fmt_count(r['bram36'])} BRAM36 ({fit})")


class Progress:
    def __init__(self, enabled: bool, budget: int):
        self.enabled, self.budget, self.t0 = enabled, budget, time.monotonic()
        self.tty = sys.stderr.isatty()
        self.last: tuple[int, int] | None = None

    def show(self, simulated: int, pruned: int, best: float | None, final: bool = False) -> None:
        if not self.enabled:
            return
        line = (f"advise: {simulated}/{self.budget} designs simulated, {pruned:,} pruned by fit, "
                + (f"best {best:.2f} fps, " if best is not None else "") + f"{time.monotonic() - self.t0:.1f} s")
        if self.tty:
            sys.stderr.write("\r\033[K" + line + ("\n" if final else ""))
        elif (final or simulated % 50 == 0) and (simulated, pruned) != self.last:
            sys.stderr.write(line + "\n")
            self.last = (simulated, pruned)
        sys.stderr.flush()


def _space_size(space: dict[str, tuple[Any, ...]]) -> int:
    return math.prod(len(v) for v in space.values())


def _exact(problem: Problem, runner: Runner, budget: int, prog: Progress) -> tuple[list[dict[str, Any]], int] | None:
    """Every design that fits, simulated, if there are at most ``budget`` (else None)."""
    hw = [l.key for l in problem.levers if l.hardware]
    soft = [k for k in problem.space if k not in hw]
    n_hw = math.prod(len(problem.space[k]) for k in hw)
    n_soft = math.prod(len(problem.space[k]) for k in soft)
    if n_hw > 50_000:
        return None
    fitting, pruned = [], 0
    for vals in itertools.product(*(problem.space[k] for k in hw)):
        d = dict(zip(hw, vals))
        res, why = problem.fit(d)
        if why:
            pruned += n_soft
        else:
            fitting.append(d)
        if len(fitting) * n_soft > budget:
            return None
    designs = [{**h, **dict(zip(soft, s))} for h in fitting for s in itertools.product(*(problem.space[k] for k in soft))]
    recs = []
    for i in range(0, len(designs), 16):
        recs += runner.run(designs[i:i + 16])
        prog.show(runner.simulated, pruned, max((r["fps"] for r in recs if "fps" in r), default=None))
    return recs, pruned


def _optuna(problem: Problem, runner: Runner, budget: int, prog: Progress, out: Path | None, seed: int,
            batch: int, start: Sequence[dict[str, Any]] = ()) -> tuple[list[dict[str, Any]], int]:
    import optuna
    from optuna.distributions import CategoricalDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = None
    if out is not None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        storage = JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    # "fits the device" is the sampler's constraint (Trial.set_constraint: feasible at <= 0), so TPE
    # learns where the designs that fit are; a design that does not fit is never simulated.
    sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(20, max(1, budget // 5)))
    study = optuna.create_study(study_name="advise", storage=storage, sampler=sampler, direction="maximize",
                                load_if_exists=True)
    dists = {k: CategoricalDistribution(list(v)) for k, v in problem.space.items()}
    for d in start:                               # designs to try first (e.g. what single levers found)
        params = {k: v for k, v in problem.full(d).items() if k in dists and v in problem.space[k]}
        study.enqueue_trial(params, skip_if_exists=True)
    recs: dict[str, dict[str, Any]] = {}
    old = study.get_trials(deepcopy=False)
    pruned = sum(1 for t in old if t.user_attrs.get("over", 0.0) > 0)
    for t in old:                                # resumed: the designs already simulated
        key = design_key(problem.full(dict(t.params)))
        if t.state == optuna.trial.TrialState.COMPLETE and key in runner.cache and "fps" in runner.cache[key]:
            recs[key] = runner.cache[key]
    asked = len(old)
    worst = None
    cap = budget * 25                             # proposals, fitting or not: a space that almost never fits ends
    while len(recs) < budget and asked < cap:
        pending = []
        while len(pending) < batch and asked < cap and len(recs) + len(pending) < budget:
            trial = study.ask(dists)
            asked += 1
            d = dict(trial.params)
            res, why = problem.fit(d)
            if why:
                trial.set_constraint("fit", _overshoot(problem.cfg.board, res))
                trial.set_user_attr("over", 1.0)
                study.tell(trial, worst if worst is not None else 0.0)
                pruned += 1
                continue
            trial.set_constraint("fit", 0.0)
            pending.append((trial, d))
        if not pending:
            continue
        got = runner.run([d for _, d in pending])
        for (trial, _), rec in zip(pending, got):
            if "fps" in rec:
                score = problem.score(rec)
                worst = score if worst is None else min(worst, score)
                recs[rec["key"]] = rec
                study.tell(trial, score)
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        prog.show(len(recs), pruned, max((r["fps"] for r in recs.values()), default=None))
    return list(recs.values()), pruned


def combinations(found: Sequence[dict[str, Any]], base: dict[str, Any]) -> list[dict[str, Any]]:
    """Designs to start a joint search from, given the best designs of single levers: all their changes
    together, all but one of them, and each alone (each as the changed fields only)."""
    changed = [{k: v for k, v in d.items() if k in base and v != base[k]} for d in found]
    changed = [c for c in changed if c]
    merge = lambda ds: {k: v for d in ds for k, v in d.items()}
    out = [merge(changed)] + [merge(changed[:i] + changed[i + 1:]) for i in range(len(changed))] + changed
    seen, unique = set(), []
    for d in out:
        key = json.dumps(d, sort_keys=True)
        if d and key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def _overshoot(board: Board, res: dict[str, float] | None) -> float:
    """How far a design is over the device (> 0; the sampler's constraint value): the sum of each
    resource's excess over ``max_util`` as a fraction of it, or 1 for a design that cannot be built."""
    if not res:
        return 1.0
    util = board.max_util if board.max_util is not None else 1.0
    return sum(max(0.0, float(res[r]) / (float(getattr(board, r)) * util) - 1.0)
               for r in ("dsp", "lut", "ff", "bram36")) or 1e-6


def _no_worse(problem: Problem, a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``a`` scores at least ``b``'s, and where they tie it takes no more DSPs or LUTs (so a change that
    saves resources at the same rate, such as packing, stays)."""
    sa, sb = problem.score(a), problem.score(b)
    if sa != sb:
        return sa > sb
    return all(float(a["resources"][r]) <= float(b["resources"][r]) for r in ("dsp", "lut"))


def _simplify(problem: Problem, runner: Runner, rec: dict[str, Any]) -> dict[str, Any]:
    """Put back as deployed every change the design's score does not need and that saves no DSPs or
    LUTs (greedy, one at a time; an op moved off the PL is put back on its own)."""
    cur = rec
    for k in [k for k in problem.space if cur["design"][k] != problem.base[k]]:
        tries = [problem.base[k]]
        if k == "accel.pl_ops":
            now, was = json.loads(cur["design"][k]), json.loads(problem.base[k])
            tries += [json.dumps([o for o in was if o in now or o == back]) for back in was if back not in now]
        for v in tries:
            if v not in problem.space[k] or v == cur["design"][k]:
                continue
            trial = {**cur["design"], k: v}
            _, why = problem.fit(trial)
            if why:
                continue
            got = runner.run([trial])[0]
            if "fps" in got and _no_worse(problem, got, cur):
                cur = got
                if v == problem.base[k]:
                    break
    return cur


def _check_out(out: Path, manifest: dict[str, Any], resume: bool) -> dict[str, dict[str, Any]]:
    """Create/check OUT; the designs already simulated there (resume)."""
    if out.exists() and not out.is_dir():
        raise AdviseError(f"--out {out} exists and is not a directory")
    designs, man = out / DESIGNS, out / MANIFEST
    if designs.exists() and not resume:
        raise AdviseError(f"{designs} already exists: use --resume to continue that search or another --out")
    done: dict[str, dict[str, Any]] = {}
    if resume and man.exists():
        try:
            old = json.loads(man.read_text())
        except json.JSONDecodeError:
            raise AdviseError(f"{man} is not valid JSON; cannot --resume from {out}") from None
        diff = [k for k in manifest if old.get(k) != manifest[k]]
        if diff:
            raise AdviseError(f"cannot --resume: {out} was searched with {diff[0]} {old.get(diff[0])!r}, "
                              f"not {manifest[diff[0]]!r}")
    if resume and designs.exists():
        text = designs.read_text()
        if text and not text.endswith("\n"):          # killed mid-line: drop the torn record
            text = text[:text.rfind("\n") + 1]
            designs.write_text(text)
        for line in text.splitlines():
            rec = json.loads(line)
            done[rec["key"]] = rec
    out.mkdir(parents=True, exist_ok=True)
    man.write_text(json.dumps(manifest, indent=2) + "\n")
    return done


def advise(models: str | Sequence[str], *, board: str | None = None, accel: str | None = None,
           overrides: Sequence[str] = (), input_size: int | None = None, objective: str = "fps",
           max_clock_mhz: float | None = None, budget: int = DEFAULT_BUDGET, levers: Sequence[str] | None = None,
           restrict: dict[str, Sequence[Any]] | None = None, policy: str = "naive", scheduler: str | None = None,
           out: str | Path | None = None, resume: bool = False, progress: bool = False, top: int = 10,
           seed: int = 0, runtime: str | None = None, start: Sequence[dict[str, Any]] = ()) -> Advice:
    """Search the design levers for the best designs that fit the board's device (see the module doc).

    ``levers``: lever groups (``GROUPS``) or fields to search (default: all); ``restrict``: a field's
    candidate values narrowed (e.g. ``{"accel.macs_per_dsp": [2]}``); ``policy``: the deployed
    placement; ``start``: designs (lever field -> value, as in a design's ``design``) Optuna tries first
    (``hwsim study`` starts every lever at once from what the single levers found).
    Returns an ``Advice``; ``designs`` holds only designs better than the deployed one.
    """
    from .sweep import DefaultEvaluator, Target

    t0 = time.monotonic()
    models = (models,) if isinstance(models, str) else tuple(models)
    if not models:
        raise AdviseError("no model to advise on")
    if len(set(models)) != len(models):
        raise AdviseError(f"a model is named twice in {list(models)}")
    if objective not in OBJECTIVES:
        raise AdviseError(f"unknown objective {objective!r}; known: {', '.join(OBJECTIVES)}")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise AdviseError(f"--budget must be a positive integer, not {budget!r}")
    if policy not in ("naive", "optimized"):
        raise AdviseError(f"unknown policy {policy!r}; known: naive, optimized")
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1):
        raise AdviseError(f"--input-size must be a positive integer, not {input_size!r}")
    overrides = tuple(overrides)
    cfg = _load(board, accel, overrides, runtime)
    limits = clock_limit(cfg, max_clock_mhz)
    chosen = levers_for(cfg, levers)
    if not chosen:
        raise AdviseError("no lever to search")
    fixed = {o.partition("=")[0].strip() for o in overrides} & {l.key for l in chosen}
    if fixed:
        raise AdviseError(f"{sorted(fixed)[0]} is both a --set override and a lever; drop one")
    space: dict[str, tuple[Any, ...]] = {}
    for l in chosen:
        space[l.key] = tuple(l.values(cfg, limits))
    for k, vals in (restrict or {}).items():
        if k not in space:
            raise AdviseError(f"cannot restrict {k!r}: not a lever being searched")
        space[k] = tuple(json.dumps(v) if k == "accel.pl_ops" and isinstance(v, list) else v for v in vals)
    base = {"policy": policy, **_deployed(cfg)}
    base = {k: base[k] for k in dict.fromkeys(["policy", *space])}
    evaluator = DefaultEvaluator()
    evaluator.check(models, input_size)
    sources = tuple((m, str(Path(m).resolve()) if Path(m).is_file() else m) for m in models)
    target = Target(cfg.board_name, cfg.accel_name, overrides + _runtime_overrides(cfg, runtime), input_size, sources)
    if "policy" not in space:
        space = {"policy": (policy,), **space}
    problem = Problem(models, cfg, chosen, space, base, limits, objective, input_size, target, evaluator)

    out_dir = Path(out) if out is not None else None
    manifest = {"models": list(models), "board": cfg.board_name, "accel": cfg.accel_name, "overrides": list(overrides),
                "input_size": input_size, "objective": objective, "policy": policy, "max_clock_mhz": limits.max_clock_mhz,
                "space": {k: [_enc(v) for v in vals] for k, vals in space.items()}, "seed": seed}
    done = _check_out(out_dir, manifest, resume) if out_dir is not None else {}
    runner = Runner(problem, scheduler, out_dir / DESIGNS if out_dir else None, done)
    prog = Progress(progress, budget)
    try:
        baseline = runner.run([{}])[0]
        if "fps" not in baseline:
            raise AdviseError(f"the deployed design cannot be simulated: {baseline.get('error')}")
        res, why = problem.fit({})
        baseline = {**baseline, "fits": not why, "misfit": why}
        found = _exact(problem, runner, budget, prog)
        method = "exact: every design that fits, simulated"
        if found is None:
            batch = 8 if scheduler else 1
            found = _optuna(problem, runner, budget, prog, out_dir, seed, batch, start)
            method = f"optuna TPE (seed {seed}), resource fit as its constraint"
        recs, pruned = found
        ok = [r for r in recs if "fps" in r]
        prog.show(len(ok), pruned, max((r["fps"] for r in ok), default=None), final=True)
        ranked = sorted(ok, key=lambda r: -problem.score(r))
        best, seen = [], set()
        for r in ranked:
            b = problem.score(baseline)
            if len(best) >= top or problem.score(r) <= b + 1e-9 * abs(b):     # not better than the deployment
                break
            s = _simplify(problem, runner, r)
            if s["key"] not in seen:
                seen.add(s["key"])
                best.append(s)
        best.sort(key=lambda r: -problem.score(r))
        best_found = ranked[0] if ranked else None
    finally:
        runner.close()
    from . import pareto
    pool = list({r["key"]: r for r in ok + best}.values())
    flat = [{"fps": r["fps"], "dsp": r["resources"]["dsp"], "lut": r["resources"]["lut"]} for r in pool]
    front_keys = {pool[i]["key"] for i in pareto.front(flat, ("fps",), ("dsp", "lut"))}

    def public(r: dict[str, Any]) -> dict[str, Any]:
        return {"fps": r["fps"], "latency_ms": r["latency_ms"], "fits": r.get("fits", True),
                "timing": design_timing(cfg, r["design"], limits),
                "resources": r["resources"], "changes": change_list(r["design"], base),
                "what": change_text(r["design"], base), "overrides": overrides_of(r["design"], base),
                "policy": r["design"]["policy"], "design": r["design"], "per_model": r["per_model"],
                "pareto": r["key"] in front_keys,
                "score": problem.score(r)}

    front = sorted((public(r) for r in pool if r["key"] in front_keys), key=lambda d: -d["fps"])
    advice = Advice(
        models=list(models), board=cfg.board_name, accel=cfg.accel_name, objective=objective, input_size=input_size,
        baseline={**public(baseline), "misfit": baseline["misfit"]}, designs=[public(r) for r in best], pareto=front,
        search={"method": method, "simulated": len(ok), "pruned": pruned, "space": _space_size(space),
                "budget": budget, "elapsed_s": time.monotonic() - t0, "resumed": len(done)},
        levers={g: [l.key for l in chosen if l.group == g] for g in dict.fromkeys(l.group for l in chosen)},
        clock={"max_mhz": limits.max_clock_mhz, "source": limits.clock_source, "timing": limits.timing,
               "fmax_mhz_estimate": limits.fmax_mhz_estimate},
        best_found=public(best_found) if best_found else None,
        out=str(out_dir) if out_dir else None)
    if out_dir is not None:
        (out_dir / RESULT).write_text(json.dumps(advice.to_json(), indent=1) + "\n")
    return advice


def _load(board: str | None, accel: str | None, overrides: tuple[str, ...], runtime: str | None) -> Config:
    """``config.load``, with the runtime profile where the configuration supports one."""
    if runtime is None:
        return load(board, accel, overrides)
    import inspect
    if "runtime" not in inspect.signature(load).parameters:
        raise AdviseError("--runtime needs runtime profiles, which this version of hwsim does not have")
    return load(board, accel, overrides, runtime=runtime)   # type: ignore[call-arg]


def _runtime_overrides(cfg: Config, runtime: str | None) -> tuple[str, ...]:
    """A runtime profile's fields as overrides, so the sweep's evaluator (which loads board, accel and
    overrides) sees the profile."""
    if runtime is None or "runtime" not in cfg.data:
        return ()
    return tuple(f"runtime.{k}={_enc(v)}" for k, v in cfg.runtime.raw().items())


# ------------------------------------------------------------------------------- one lever at a time

@dataclass(frozen=True)
class LeverSearch:
    """One row of ``by_lever``: the lever groups (or fields) free, values narrowed, and its budget."""
    name: str
    levers: tuple[str, ...] | None           # None: every lever
    restrict: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    budget: int = 100


BY_LEVER: tuple[LeverSearch, ...] = (
    LeverSearch("placement", ("placement",)),
    LeverSearch("array shape", ("array shape",), budget=300),      # every shape that fits a ZU3EG: 256
    LeverSearch("packing", ("packing", "array shape"), (("accel.macs_per_dsp", (2,)),), budget=300),
    LeverSearch("buffers", ("buffers",)),
    LeverSearch("clock", ("clock",)),
    LeverSearch("ops on PS vs PL", ("ops on PS vs PL", "ps.threads"), budget=150),   # 32 op sets x 4 threads
    LeverSearch("runtime", ("runtime",)),
    LeverSearch("all levers together", None, budget=150),
)


def _applicable(lever: LeverSearch, cfg: Config, overrides: Sequence[str]) -> list[str]:
    """The fields a lever row searches: its levers' minus those fixed by overrides (empty: nothing to
    search; packing only where the deployment is unpacked and the board's DSPs pack)."""
    from .resources import int8_macs_per_dsp
    fixed = {o.partition("=")[0].strip() for o in overrides}
    keys = [l.key for l in levers_for(cfg, lever.levers) if l.key not in fixed]
    for k, vals in lever.restrict:
        if k not in keys:
            return []
        if k == "accel.macs_per_dsp" and ((cfg.accel.macs_per_dsp or 1) in vals or int8_macs_per_dsp(cfg.board) < 2):
            return []
    return keys


def by_lever(models: str | Sequence[str], *, board: str | None = None, accel: str | None = None,
             overrides: Sequence[str] = (), input_size: int | None = None, objective: str = "fps",
             max_clock_mhz: float | None = None, policy: str = "naive", scheduler: str | None = None,
             runtime: str | None = None, rows: Sequence[LeverSearch] = BY_LEVER,
             on_lever: Callable[[str], None] | None = None) -> list[tuple[LeverSearch, "Advice | None"]]:
    """``advise`` once per lever row, only that lever free (``None`` where nothing can be searched);
    the row with every lever starts from the single levers' best changes combined (``combinations``)."""
    cfg = _load(board, accel, tuple(overrides), runtime)
    out: list[tuple[LeverSearch, Advice | None]] = []
    for lever in rows:
        keys = _applicable(lever, cfg, overrides)
        a = None
        if keys:
            found = [x.designs[0]["design"] for _, x in out if x is not None and x.designs]
            start = combinations(found, {**{"policy": policy}, **_deployed(cfg)}) if lever.levers is None else []
            a = advise(models, board=board, accel=accel, overrides=overrides, input_size=input_size,
                       objective=objective, max_clock_mhz=max_clock_mhz, budget=lever.budget, levers=keys,
                       restrict={k: list(v) for k, v in lever.restrict}, policy=policy, scheduler=scheduler,
                       top=1, runtime=runtime, start=start)
        out.append((lever, a))
        if on_lever:
            on_lever(f"advise, {lever.name}" + ("" if a is not None else ": nothing to search here"))
    return out


def _deployed(cfg: Config) -> dict[str, Any]:
    """Every lever field's deployed value, encoded as the search encodes it (policy aside)."""
    out = {}
    for l in levers_for(cfg):
        if l.key != "policy":
            s, _, f = l.key.partition(".")
            out[l.key] = json.dumps(cfg[s][f]) if l.key == "accel.pl_ops" else cfg[s][f]
    return out


def search_words(search: dict[str, Any]) -> str:
    """How a design was found, for a label: "256 designs that fit, all of them simulated"."""
    how = "all of them simulated" if search["method"].startswith("exact") else "proposed by Optuna"
    return f"{search['simulated']} designs that fit, {how}"


def lever_label(lever: LeverSearch, a: "Advice") -> str:
    """A lever row's label, written from what the search found (with what the timing estimate says
    of its clock where the row changes the clock)."""
    if a.designs:
        d = a.designs[0]
        clocked = any(c["key"] == "accel.clock_mhz" for c in d["changes"])
        timing = f"; {d['timing']['words']}" if clocked else ""
        return f"{lever.name}: {d['what']} (best of {search_words(a.search)}{timing})"
    return f"{lever.name}: no change beats the deployment ({search_words(a.search)})"


# ------------------------------------------------------------------------------- hwsim.sweep(...)

def sweep_rows(models: str | list[str], grid: list[str], *, policy: str | list[str] = "naive",
               board: str | None = None, accel: str | None = None, overrides: list[str] | tuple[str, ...] = (),
               input_size: int | None = None, out: str | None = None, workers: int = 0,
               scheduler: str | None = None, resume: bool = False) -> list[dict[str, Any]]:
    """``hwsim sweep``: every point of ``grid`` (``"section.key=v1,v2"`` strings) for every model and
    policy, as rows (the columns of ``results.csv``, numbers typed; grid values as given).
    ``workers=0`` evaluates in this process; ``out`` defaults to a temporary directory."""
    import tempfile

    from . import sweep as sw

    models = [models] if isinstance(models, str) else list(models)
    policies = [policy] if isinstance(policy, str) else list(policy)
    evaluator = sw.DefaultEvaluator()
    spec = sw.Sweep.create(models, policies, list(grid), evaluator, board=board, accel=accel,
                           overrides=list(overrides), input_size=input_size)
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(out) if out is not None else Path(tmp) / "sweep"
        return sw.run(spec, where, evaluator, workers=workers, scheduler=scheduler, resume=resume).rows
