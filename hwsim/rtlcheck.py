"""``hwsim rtl-check``: one whole layer through the emitted RTL, against the golden model and the
cycle model.

The layer (``--layer SPEC``) becomes a one-node graph; the cycle model's own tiler
(``hwsim.pl.Tiler``) cuts it into exactly the tiles ``hwsim estimate`` costs.  Every tile gets random
INT8 data, weights and quantisation (``rtl.golden_pw.conv_case`` / ``rtl.golden_dw.dw_case``, seeded)
and all tiles run back to back, unstalled, in one simulator session.  Reported:

- ``rtl_cycles``: the measured cycles summed over the tiles (``start`` to last output beat each);
- ``model_cycles``: the cycle model's compute cycles for the same tiles (``rtl.cycles.tile_cycles``);
- ``outputs_checked``: the output values (INT8) the golden model computed for the tiles;
- ``mismatches``: output lanes that differ from the golden model's beats (unused lanes included).

SPEC is ``KIND:key=value,...``:

    pw:cin=32,cout=64,h=8,w=8                 1x1 conv (h, w: input = output size)
    conv:cin=3,cout=16,h=32,w=32,k=3,s=2      k x k conv, "same" padding (h, w: input size)
    dw:c=32,h=16,w=16,k=3,s=1                 depthwise conv, "same" padding ((k-1)/2)
    pool:c=16,h=16,w=16,k=2,s=2               max pooling (maxpool:..., avgpool:... likewise)
    gap:c=64,h=7,w=7   scale:c=64,h=8,w=8   add:c=32,h=8,w=8
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mapper.ir import Graph, Op
from rtl.params import Mode, TileSpec

from .config import Config
from .errors import HwsimError
from .pl import Tiler

SIMULATORS = ("icarus", "verilator")

# kind -> (required keys, optional keys with defaults)
_KINDS: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {
    "pw": (("cin", "cout", "h", "w"), {}),
    "conv": (("cin", "cout", "h", "w", "k"), {"s": 1}),
    "dw": (("c", "h", "w", "k"), {"s": 1}),
    "pool": (("c", "h", "w", "k"), {"s": 0}),
    "maxpool": (("c", "h", "w", "k"), {"s": 0}),
    "avgpool": (("c", "h", "w", "k"), {"s": 0}),
    "gap": (("c", "h", "w"), {}),
    "scale": (("c", "h", "w"), {}),
    "add": (("c", "h", "w"), {}),
}


@dataclass(frozen=True)
class LayerSpec:
    kind: str
    args: dict[str, int]

    def __str__(self) -> str:
        return f"{self.kind}:" + ",".join(f"{k}={v}" for k, v in self.args.items())


def parse_spec(text: str) -> LayerSpec:
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in _KINDS:
        raise HwsimError(f"bad --layer {text!r}: expected KIND:key=value,... with KIND one of {', '.join(_KINDS)}")
    required, optional = _KINDS[kind]
    args: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, val = item.partition("=")
        key = key.strip()
        if key in args:
            raise HwsimError(f"bad --layer {text!r}: {key} given twice")
        if not eq or key not in required and key not in optional:
            raise HwsimError(f"bad --layer {text!r}: {item!r} is not one of "
                             f"{', '.join(f'{k}=N' for k in required + tuple(optional))}")
        try:
            args[key] = int(val)
        except ValueError:
            raise HwsimError(f"bad --layer {text!r}: {key} must be an integer, not {val.strip()!r}") from None
        if args[key] < 1:
            raise HwsimError(f"bad --layer {text!r}: {key} must be positive, not {args[key]}")
    missing = [k for k in required if k not in args]
    if missing:
        raise HwsimError(f"bad --layer {text!r}: missing {', '.join(missing)}")
    for k, v in optional.items():
        args.setdefault(k, v if v else args.get("k", 1))     # pools: stride defaults to the window
    return LayerSpec(kind, args)


# rtl-check generates, streams and compares every value of the layer in one simulator session:
# assumption: 2**20 values (1 MiB of INT8) in, out or in weights keep that to minutes and well
# under 1 GB of host memory; --force lifts the limit.
MAX_VALUES = 1 << 20


def layer_size(spec: LayerSpec) -> dict[str, int]:
    """Input, output and weight values of the layer (what rtl-check generates and compares)."""
    a = spec.args
    c = a.get("cin", a.get("c"))
    k, s = a.get("k", 1), max(1, a.get("s", 1))
    h_out, w_out = -(-a["h"] // s), -(-a["w"] // s)
    if spec.kind in ("pw", "conv"):
        return {"input": c * a["h"] * a["w"], "output": a["cout"] * h_out * w_out, "weights": c * a["cout"] * k * k}
    n_in = (2 if spec.kind == "add" else 1) * c * a["h"] * a["w"]
    out = c if spec.kind == "gap" else c * h_out * w_out
    return {"input": n_in, "output": out, "weights": c * k * k if spec.kind == "dw" else 0}


def check_size(spec: LayerSpec) -> None:
    """Refuse, up front, a layer too big to simulate in reasonable time (``MAX_VALUES``)."""
    over = {k: v for k, v in layer_size(spec).items() if v > MAX_VALUES}
    if over:
        what = ", ".join(f"{v:,} {k} values" for k, v in over.items())
        raise HwsimError(f"--layer {spec}: {what}, more than the {MAX_VALUES:,} rtl-check simulates in reasonable "
                         f"time; use a smaller layer (the cycle model tiles it the same way) or --force")


def layer_graph(spec: LayerSpec) -> tuple[Graph, str]:
    """A one-layer graph for ``spec`` and the name of the node to check."""
    a = spec.args
    c = a.get("cin", a.get("c"))
    g = Graph(f"rtl-check {spec}", (1, c, a["h"], a["w"]))
    k = a.get("k", 1)
    if spec.kind in ("pw", "conv"):
        g.add(Op.CONV, "input", "layer", cout=a["cout"], k=k, stride=a.get("s", 1), pad=(k - 1) // 2)
    elif spec.kind == "dw":
        g.add(Op.DWCONV, "input", "layer", k=k, stride=a["s"], pad=(k - 1) // 2)
    elif spec.kind in ("pool", "maxpool", "avgpool"):
        g.add(Op.AVGPOOL if spec.kind == "avgpool" else Op.MAXPOOL, "input", "layer", k=k, stride=a["s"])
    elif spec.kind == "gap":
        g.add(Op.GLOBAL_AVGPOOL, "input", "layer")
    elif spec.kind == "scale":
        gate = g.add(Op.GLOBAL_AVGPOOL, "input", "gate")
        g.add(Op.MUL, ["input", gate], "layer", pl_mode="scale")
    else:
        g.add(Op.ADD, ["input", "input"], "layer")
    return g, "layer"


def layer_tiles(spec: LayerSpec, cfg: Config) -> list[TileSpec]:
    g, name = layer_graph(spec)
    lt = Tiler(cfg.pe, cfg.accel).tile(g, g.node(name))
    if lt is None or not lt.specs:
        raise HwsimError(f"{spec} produces no PL work on {cfg.accel_name}")
    return [TileSpec(*key) for key in lt.specs]


def _case(cfg: Config, tile: TileSpec, rng: np.random.Generator):
    from rtl.golden_dw import dw_case
    from rtl.golden_pw import conv_case
    return conv_case(cfg.pe, tile, rng) if tile.mode == Mode.CONV else dw_case(cfg.pe, tile, rng)


def _lanes(word: int, nbytes: int) -> np.ndarray:
    return np.frombuffer(int(word).to_bytes(nbytes, "little"), dtype=np.int8)


def rtl_check(spec: LayerSpec, cfg: Config, sim: str = "verilator", seed: int = 0) -> dict[str, Any]:
    """Run ``spec`` through the RTL on ``sim``; see the module docstring for the result's fields."""
    from rtl.cycles import tile_cycles
    from rtl.sim import TileRun, run_cocotb

    if sim not in SIMULATORS:
        raise HwsimError(f"unknown simulator {sim!r}; choose {' or '.join(SIMULATORS)}")
    tiles = layer_tiles(spec, cfg)
    rng = np.random.default_rng(seed)
    cases = [_case(cfg, t, rng) for t in tiles]
    results = run_cocotb(cfg.pe, [TileRun(f"tile{i}", c) for i, c in enumerate(cases)], sim)
    nbytes = cfg.pe.out_bytes
    checked = mismatches = 0
    rtl_cycles = 0
    for case, r in zip(cases, results):
        if r["timeout"]:
            raise HwsimError(f"{sim}: the RTL produced no last output beat for tile {case.tile}")
        got = [int(b, 16) for b in r["out_beats"]]
        # every lane of every beat is compared (unused lanes must be zero); a missing or extra
        # beat counts all its lanes as mismatches
        if len(got) != len(case.out_beats):
            mismatches += abs(len(got) - len(case.out_beats)) * nbytes
        for g_word, e_word in zip(got, case.out_beats):
            mismatches += int(np.count_nonzero(_lanes(g_word, nbytes) != _lanes(e_word, nbytes)))
        checked += int(case.arrays["y"].size)           # the layer's real output values
        rtl_cycles += int(r["cycles"])
    model_cycles = sum(tile_cycles(cfg.pe, t) for t in tiles)
    return {"sim": sim, "layer": str(spec), "accel": cfg.accel_name, "tiles": len(tiles),
            "rtl_cycles": rtl_cycles, "model_cycles": model_cycles,
            "outputs_checked": checked, "mismatches": mismatches,
            "agree": rtl_cycles == model_cycles and mismatches == 0}
