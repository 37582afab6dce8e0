"""Block diagram of the whole accelerator (``rtl.system``) drawn with matplotlib:
``python -m rtl.diagram docs/accelerator.png``."""

from __future__ import annotations

import sys


def draw(path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(11, 5.6))
    ax.set_xlim(0, 110)
    ax.set_ylim(0, 56)
    ax.axis("off")

    def box(x, y, w, h, title, lines=(), color="#dbe9f6"):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.4", fc=color, ec="#2b4c6f", lw=1.2))
        ax.text(x + w / 2, y + h - 2.2, title, ha="center", va="top", fontsize=10, weight="bold")
        for i, t in enumerate(lines):
            ax.text(x + w / 2, y + h - 5.6 - 2.8 * i, t, ha="center", va="top", fontsize=7.5)

    def arrow(x0, y0, x1, y1, label="", off=(0, 1.2), both=False):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="<->" if both else "->", lw=1.3, color="#333"))
        if label:
            ax.text((x0 + x1) / 2 + off[0], (y0 + y1) / 2 + off[1], label, ha="center", fontsize=7.5)

    # outside the PL
    box(1, 40, 18, 13, "Zynq PS", ["Cortex-A53 driver", "rtl/driver.py", "descriptor writer"], color="#f3e3c3")
    box(1, 3, 18, 17, "PS DDR", ["descriptor list", "weights / params", "activations in/out"], color="#f3e3c3")
    # the accelerator
    ax.add_patch(FancyBboxPatch((24, 1.5), 84, 53, boxstyle="round,pad=0.3", fc="none", ec="#7a7a7a", lw=1, ls="--"))
    ax.text(106, 53, "zynq_accel (rtl/system.py)", ha="right", va="top", fontsize=9, style="italic")
    box(27, 40, 22, 11, "ControlRegs", ["AXI4-Lite slave (rtl/regs.py)", "start / status / IRQ / counters"])
    box(58, 27, 22, 24, "Sequencer", ["rtl/sequencer.py", "fetch tile descriptors", "segment table (64)",
                                      "route FIFO: whose words", "start engine per tile", "fence between layers"])
    box(27, 19, 22, 13, "AxiReader", ["rtl/axi.py: AR / R", "INCR <= burst_beats", "<= outstanding, 4 KiB"])
    box(27, 3, 22, 13, "AxiWriter", ["rtl/axi.py: AW / W / B", "W only after its AW", "idle = all B back"])
    box(84, 19, 22, 22, "LayerEngine", ["rtl/top.py", "CONV array PP x ICP x OCP", "depthwise engine",
                                        "post-processing", "(cycle-exact: rtl/cycles.py)"], color="#d9f0d3")
    box(58, 8, 22, 12, "width converters", ["WordsToBeats (bus -> s)", "BeatsToWords (m -> bus)"])
    # connections
    arrow(19, 46, 27, 46, "s_axi_control", off=(0, 1.2))
    arrow(27, 42, 19, 42, "interrupt", off=(0, -2.6))
    arrow(19, 14, 27, 25, "m_axi AR/R", off=(-2, 2))
    arrow(27, 9, 19, 9, "m_axi AW/W/B", off=(0, 1.2))
    arrow(49, 46, 58, 46, "go, desc_base", off=(0, 1.2))
    arrow(58, 42, 49, 42, "running, done, counters", off=(0, -2.6))
    arrow(58, 30, 49, 27, "rd_cmd", off=(0, 1.5))
    arrow(49, 24, 58, 17, "R words", off=(-1, 1))
    arrow(80, 16, 84, 25, "s (in_bytes)", off=(-3, 1.5))
    arrow(84, 22, 80, 12, "m (out_bytes)", off=(4, -2))
    arrow(58, 11, 49, 9, "wr_cmd / W words", off=(0, 1.6))
    arrow(80, 38, 84, 36, "cfg, start / busy", off=(0, 1.6))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    draw(sys.argv[1] if len(sys.argv) > 1 else "docs/accelerator.png")
