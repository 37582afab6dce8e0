"""Calibration: the model against published, measured DPU frame rates.

Published: Vitis AI 3.0 model zoo (ModelZoo_VAI3.0_Github.xlsx, via ../shared/reference/platforms.md),
ZCU102 with 3 x DPUCZDX8G B4096 at 281 MHz, single thread, end to end (pre- and post-processing
included).  Single-thread runs use one DPU core at a time, so the model runs one `dpu_b4096`.

Two configurations are printed, so that the effect of the one assumption that matters is visible:
- `as documented`: dpu_b4096.toml as shipped (PG338 v3.4's feature list: no swish/sigmoid on the DPU);
- `swish on DPU`: the same with swish/hard-swish fused on the DPU (what later DPU releases and the
  Vitis AI quantiser's activation replacement allow).
Run: .venv/bin/python bench/dpu_calibration.py
"""

from __future__ import annotations

from hwsim.estimate import estimate

BOARD, ACCEL, CLOCK = "zcu102", "dpu_b4096", "accel.clock_mhz=281"
# model -> (published fps, GOPs as published); Vitis AI 3.0 model zoo, see module docstring
PUBLISHED = {
    "mobilenet_v1": (330.8, 1.14),
    "mobilenet_v2": (270.0, 0.602),
    "mobilenet_v3_small": (343.8, 0.132),
    "efficientnet_b0": (77.9, 0.78),
    "efficientnet_lite0": (202.3, 0.77),
}
VARIANTS = {
    "as documented": (CLOCK,),
    "swish on DPU": (CLOCK, 'accel.pl_fused=["batchnorm","relu","relu6","swish","hswish"]'),
}


def rows() -> list[dict]:
    out = []
    for model, (fps_pub, _gops) in PUBLISHED.items():
        row = {"model": model, "published_fps": fps_pub}
        for name, sets in VARIANTS.items():
            e = estimate(model, board=BOARD, accel=ACCEL, overrides=sets)
            row[name] = e.fps
            row[name + " err%"] = 100.0 * (e.fps - fps_pub) / fps_pub
        out.append(row)
    return out


def main() -> None:
    print(f"{ACCEL} on {BOARD} at 281 MHz vs Vitis AI 3.0 model zoo (single thread, end to end)")
    head = f"{'model':<20} {'published':>9}"
    for name in VARIANTS:
        head += f" | {name:>14} {'error':>7}"
    print(head)
    for r in rows():
        line = f"{r['model']:<20} {r['published_fps']:>9.1f}"
        for name in VARIANTS:
            line += f" | {r[name]:>14.1f} {r[name + ' err%']:>+6.0f}%"
        print(line)


if __name__ == "__main__":
    main()
