"""Validation: the model against every published, measured DPU frame rate in the reference table.

Rows: ``../shared/reference/measured.md`` ("Frame rates, Xilinx DPU (DPUCZDX8G), batch 1"), copied
here with their sources so a clean clone runs without it:

- ZCU102, 3 x B4096 @ 281 MHz, Vitis AI 3.0 model zoo (``ModelZoo_VAI3.0_Github.xlsx``), 1 thread;
- ZCU104, 2 x B4096 @ 300 MHz, Vitis AI 3.0 model zoo (``Xilinx/Vitis-AI`` branch 3.0,
  ``docs/docs/reference/ModelZoo_VAI3.0_Github_web.htm``), 1 thread and the best multi-thread figure.

"1 thread" is Vitis AI's single-thread end-to-end figure: one DPU core at a time, CPU pre- and
post-processing included, frames not overlapped (``Xilinx/Vitis-AI`` issue #398).  The model runs
one ``dpu_b4096`` at the published clock with the runtime profile ``vart`` (the Vitis AI runtime as
its single-thread figures run it) and the accelerator file as shipped: no parameter is set per row.

Every row runs the board's published build: ``accel.cores`` = its DPU cores (ZCU102 3, ZCU104 2; a
property of the board's build, the same for every model).  With one thread only one core works, so
the "1 thread" column is the one-core estimate.

The "multi" column is a second check of the threads model: the same estimate with T threads
(``runtime.frames_in_flight``) on those cores (``hwsim.estimate.multi_core_period``: min(T, cores)
frames run their DPU parts at once, the CPU parts on the 4 A53 cores, the DDR shared).  The zoo does
not say how many threads its multi-thread figures used (``Xilinx/Vitis-AI`` issue #1110 asks and gets
no answer), so the column takes the best over T = 1..8 (assumption: "best multi-thread figure" is the
best the benchmark's thread count gave; the model's fps stops growing before 8 on every row).

Run: python bench/validate.py   (make bench runs it)
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwsim.estimate import estimate  # noqa: E402

ACCEL = "dpu_b4096"
ZCU102 = "Vitis AI 3.0 ModelZoo_VAI3.0_Github.xlsx (ZCU102, 3 x B4096 @ 281 MHz)"
ZCU104 = "Vitis AI 3.0 ModelZoo_VAI3.0_Github_web.htm (ZCU104, 2 x B4096 @ 300 MHz)"


@dataclass(frozen=True)
class Row:
    board: str
    clock_mhz: float
    cores: int               # DPU cores on the board's published build
    model: str               # zoo name
    label: str               # as the table names it
    one_thread: float        # published fps, 1 thread
    multi: float | None      # published fps, best multi-thread figure
    source: str


ROWS = [
    Row("zcu102", 281, 3, "mobilenet_v1", "MobileNetV1 1.0", 330.8, None, ZCU102),
    Row("zcu102", 281, 3, "mobilenet_v2", "MobileNetV2 1.0", 270.0, None, ZCU102),
    Row("zcu102", 281, 3, "mobilenet_v3_small", "MobileNetV3-small", 343.8, None, ZCU102),
    Row("zcu102", 281, 3, "efficientnet_b0", "EfficientNet-B0", 77.9, None, ZCU102),
    Row("zcu102", 281, 3, "efficientnet_lite0", "EfficientNet-lite0", 202.3, None, ZCU102),
    Row("zcu104", 300, 2, "mobilenet_v1", "MobileNetV1 1.0", 346.87, 806.06, ZCU104),
    Row("zcu104", 300, 2, "mobilenet_v2", "MobileNetV2 1.0", 284.71, 621.04, ZCU104),
    Row("zcu104", 300, 2, "mobilenet_v3_small", "MobileNetV3-small", 365.02, 847.76, ZCU104),
    Row("zcu104", 300, 2, "efficientnet_b0", "EfficientNet-B0", 83.21, 146.49, ZCU104),
    Row("zcu104", 300, 2, "efficientnet_lite0", "EfficientNet-lite", 213.93, 458.15, ZCU104),
    # SqueezeNet, PyTorch, 0.70 GOPs = torchvision squeezenet1_1's 0.35 GMAC
    Row("zcu104", 300, 2, "squeezenet1_1", "SqueezeNet (PyTorch)", 593.28, 1326.09, ZCU104),
    # ResNet-50, PyTorch, 8.2 GOPs = torchvision resnet50's 4.09 GMAC
    Row("zcu104", 300, 2, "resnet50", "ResNet-50 (PyTorch)", 84.74, 161.92, ZCU104),
]
# Not compared: ResNet-50 TF v1 (6.97 GOPs, 95.98 / 183.32 fps on the ZCU104) is a different
# network from torchvision's (stride on the first 1x1 conv of a stage); the zoo has only the latter.

TARGET_MEDIAN, TARGET_ROW, TARGET_RATIO = 12.0, 25.0, 25.0
RUNTIME = "vart"


THREADS = range(1, 9)        # the thread counts the multi column takes the best of (see the docstring)


def model_fps(r: Row, threads: int | None = None) -> float:
    """The model's fps for a row: ``vart`` (one frame at a time), or with ``threads`` frames in flight,
    on the board's published build (``accel.cores`` = its DPU cores)."""
    sets = [f"accel.clock_mhz={r.clock_mhz:g}", f"accel.cores={r.cores}"]
    if threads is not None:
        sets.append(f"runtime.frames_in_flight={threads}")
    return estimate(r.model, board=r.board, accel=ACCEL, overrides=sets, runtime=RUNTIME).fps


def model_multi(r: Row) -> tuple[float, int]:
    """The best fps over ``THREADS`` threads and the thread count that gives it (the smallest on a tie)."""
    best = max(((model_fps(r, t), -t) for t in THREADS))
    return best[0], -best[1]


def err(model: float, measured: float) -> float:
    return 100.0 * (model - measured) / measured


def table() -> dict:
    out = []
    for r in ROWS:
        m1 = model_fps(r)
        mm, mt = model_multi(r) if r.multi is not None else (None, None)
        out.append({"row": r, "model_1t": m1, "err_1t": err(m1, r.one_thread),
                    "model_multi": mm, "threads_multi": mt,
                    "err_multi": err(mm, r.multi) if mm is not None else None})
    errs = [abs(x["err_1t"]) for x in out]
    merrs = [abs(x["err_multi"]) for x in out if x["err_multi"] is not None]
    ratios = []
    for board in dict.fromkeys(r.board for r in ROWS):
        by = {x["row"].model: x for x in out if x["row"].board == board}
        if "efficientnet_b0" in by and "efficientnet_lite0" in by:
            b0, lite = by["efficientnet_b0"], by["efficientnet_lite0"]
            meas = lite["row"].one_thread / b0["row"].one_thread
            mod = lite["model_1t"] / b0["model_1t"]
            ratios.append((board, meas, mod, err(mod, meas)))
    return {"rows": out, "median": statistics.median(errs), "worst": max(errs), "ratios": ratios,
            "multi_median": statistics.median(merrs), "multi_worst": max(merrs)}


def main() -> int:
    t = table()
    print(f"{ACCEL} x the board's DPU cores (accel.cores) at the published clock, runtime {RUNTIME}, vs the "
          f"Vitis AI 3.0 model zoo (multi: best of {THREADS.start}..{THREADS.stop - 1} threads)")
    print(f"{'board':<7} {'MHz':>4} {'cores':>5} {'model':<21} {'1 thread':>9} {'model':>7} {'error':>7} | "
          f"{'multi':>8} {'model':>7} {'error':>7} {'T':>2}")
    for x in t["rows"]:
        r = x["row"]
        multi = (f"{r.multi:>8.1f} {x['model_multi']:>7.1f} {x['err_multi']:>+6.0f}% {x['threads_multi']:>2}"
                 if x["model_multi"] is not None else f"{'-':>8} {'-':>7} {'-':>7} {'-':>2}")
        print(f"{r.board:<7} {r.clock_mhz:>4g} {r.cores:>5} {r.label:<21} {r.one_thread:>9.1f} {x['model_1t']:>7.1f} "
              f"{x['err_1t']:>+6.0f}% | {multi}")
    ok_med, ok_row = t["median"] <= TARGET_MEDIAN, t["worst"] <= TARGET_ROW
    print(f"1 thread: median |error| {t['median']:.1f}% (target <= {TARGET_MEDIAN:.0f}%: "
          f"{'met' if ok_med else 'NOT met'}), worst {t['worst']:.0f}% (target <= {TARGET_ROW:.0f}%: "
          f"{'met' if ok_row else 'NOT met'})")
    mok_med, mok_row = t["multi_median"] <= TARGET_MEDIAN, t["multi_worst"] <= TARGET_ROW
    print(f"multi (a check of the threads and cores model, same targets): median |error| {t['multi_median']:.1f}% "
          f"({'met' if mok_med else 'NOT met'}), worst {t['multi_worst']:.0f}% ({'met' if mok_row else 'NOT met'})")
    for board, meas, mod, e in t["ratios"]:
        print(f"{board}: EfficientNet-lite0 / B0 fps ratio measured {meas:.2f}, model {mod:.2f} ({e:+.0f}%; "
              f"target within {TARGET_RATIO:.0f}%: {'met' if abs(e) <= TARGET_RATIO else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
