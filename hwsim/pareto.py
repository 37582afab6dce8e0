"""Pareto fronts of sweep results and the fps-vs-resources plot.

A row is *dominated* when another row is at least as good in every objective and strictly better
in one (higher for ``maximize`` keys, lower for ``minimize`` keys).  The front is every row that
no other row dominates; rows with identical objective values do not dominate each other, so all
of them are on the front.  Rows whose objectives are missing or not finite are never on it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def front(rows: Sequence[Mapping[str, Any]], maximize: Sequence[str] = ("fps",),
          minimize: Sequence[str] = ("dsp",)) -> list[int]:
    """Indices (ascending) of the rows on the Pareto front of the given objectives."""
    if not maximize and not minimize:
        raise ValueError("a Pareto front needs at least one objective")
    keyed: list[tuple[tuple[float, ...], int]] = []
    for i, r in enumerate(rows):
        vals = [_number(r.get(k)) for k in maximize] + [_number(r.get(k)) for k in minimize]
        if any(v is None for v in vals):
            continue
        n = len(maximize)
        # Every objective as "smaller is better": a dominating row sorts strictly before the rows
        # it dominates, so checking each row against the front found so far is enough.
        keyed.append((tuple(-v if j < n else v for j, v in enumerate(vals)), i))   # type: ignore[operator]
    keyed.sort()
    on: list[tuple[tuple[float, ...], int]] = []
    for obj, i in keyed:
        if not any(f != obj and all(a <= b for a, b in zip(f, obj)) for f, _ in on):
            on.append((obj, i))
    return sorted(i for _, i in on)


def front_by(rows: Sequence[Mapping[str, Any]], group: str, maximize: Sequence[str] = ("fps",),
             minimize: Sequence[str] = ("dsp",)) -> list[int]:
    """Indices of the rows on the front of their own group (e.g. one front per model)."""
    groups: dict[Any, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r.get(group), []).append(i)
    out: list[int] = []
    for idx in groups.values():
        out += [idx[j] for j in front([rows[i] for i in idx], maximize, minimize)]
    return sorted(out)


def plot(rows: Sequence[Mapping[str, Any]], path: str | Path, *, limits: Mapping[str, float] | None = None,
         title: str = "") -> None:
    """Write ``path``: fps vs DSP and fps vs LUT, one colour per model, each model's front marked.

    ``limits`` optionally maps ``dsp``/``lut`` to the usable device amount (drawn as a dashed line).
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, cost, label in ((axes[0][0], "dsp", "DSP48 slices"), (axes[0][1], "lut", "LUTs")):
        for m, model in enumerate(models):
            sub = [r for r in rows if r["model"] == model]
            pts = [(_number(r.get(cost)), _number(r.get("fps"))) for r in sub]
            pts = [(x, y) for x, y in pts if x is not None and y is not None]
            c = colours[m % len(colours)]
            if pts:
                ax.scatter(*zip(*pts), s=10, alpha=0.35, color=c, label=model)
            on = sorted((_number(sub[i][cost]), _number(sub[i]["fps"])) for i in front(sub, ("fps",), (cost,)))
            if on:
                ax.step(*zip(*on), where="post", color=c, linewidth=1.2)
                ax.scatter(*zip(*on), s=36, marker="D", edgecolor="black", color=c,
                           label=f"{model} Pareto front")
        if limits and cost in limits:
            ax.axvline(limits[cost], linestyle="--", color="grey", linewidth=1)
            ax.annotate("device limit", (limits[cost], ax.get_ylim()[1]), rotation=90, va="top",
                        ha="right", fontsize=8, color="grey")
        ax.set_xlabel(label)
        ax.set_ylabel("frames per second")
        ax.grid(True, alpha=0.3)
    if rows:
        axes[0][0].legend(fontsize=8)
    else:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no feasible points", ha="center", va="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
