"""The one description of a PE-array instance, shared by the generator (``rtl``) and the cycle
model (``hwsim``), plus the tile description both sides speak.

``PEArrayParams`` is frozen: what the generator builds and what the cycle model assumes can never
drift apart.  ``TileSpec`` is one unit of work handed to the engine: the engine is configured for
it, consumes its parameter block and input activations from ``s_axis`` and produces its outputs on
``m_axis`` (``tlast`` on the final beat).  ``rtl.cycles.tile_cycles(params, tile)`` gives the exact
number of clock cycles that takes when the streams never stall.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import IntEnum

from .errors import UserError


class ParamError(UserError, ValueError):
    """An accelerator or tile description that the hardware cannot be built for or run."""


class Mode(IntEnum):
    """Engine modes (the value is what the ``cfg.mode`` field carries in hardware)."""

    CONV = 0      # pointwise / standard conv on the PP x ICP x OCP array (k x k via tap iteration)
    DW = 1        # depthwise conv on the depthwise engine
    MAXPOOL = 2   # k x k max pooling on the depthwise engine
    AVGPOOL = 3   # k x k average pooling on the depthwise engine
    SCALE = 4     # 1x1 per-channel scale (the SE multiply of the optimized placement)
    GAP = 5       # global average pooling (per-channel accumulate, then requantise)
    ADD = 6       # element-wise add of two tensors (residual connections), on the depthwise engine


def _positive(name: str, v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ParamError(f"{name} must be a positive integer, not {v!r}")
    return v


@dataclass(frozen=True)
class PEArrayParams:
    pp: int = 4                 # pixel parallelism of the pointwise/conv array
    icp: int = 8                # input-channel parallelism
    ocp: int = 8                # output-channel parallelism
    dw_channels: int = 4        # depthwise engine channel parallelism
    dw_kernels: tuple[int, ...] = (3, 5)   # square kernel sizes the depthwise window supports
    data_width: int = 8         # INT8 activations and weights
    acc_width: int = 32         # accumulator width
    max_width: int = 512        # line-buffer depth: widest feature-map row (pixels) a dw tile may have
    wbuf_depth: int = 2304      # pointwise weight buffer entries (each ICP x OCP weights)
    max_channels: int = 4096    # widest channel count the configuration registers can describe
    macs_per_dsp: int = 1       # 2: the CONV array packs two INT8 products (one activation, the weights of
                                # two output channels) into one DSP48E2 27x18 multiply (Xilinx WP486)

    def __post_init__(self) -> None:
        for f in ("pp", "icp", "ocp", "dw_channels", "data_width", "acc_width", "max_width",
                  "wbuf_depth", "max_channels"):
            _positive(f, getattr(self, f))
        if not self.dw_kernels or any(not isinstance(k, int) or k < 1 for k in self.dw_kernels):
            raise ParamError(f"dw_kernels must be a non-empty list of positive kernel sizes, not {self.dw_kernels!r}")
        object.__setattr__(self, "dw_kernels", tuple(sorted(set(self.dw_kernels))))
        if self.data_width != 8:
            raise ParamError(f"data_width must be 8 (the engine is INT8), not {self.data_width!r}")
        if self.acc_width < 16:
            raise ParamError(f"acc_width must be at least 16, not {self.acc_width!r}")
        if type(self.macs_per_dsp) is not int or self.macs_per_dsp not in (1, 2):
            raise ParamError(f"macs_per_dsp must be 1 or 2 (INT8 products per DSP48E2), not {self.macs_per_dsp!r}")
        if self.macs_per_dsp == 2 and self.ocp % 2:
            raise ParamError(f"macs_per_dsp = 2 pairs output channels: ocp must be even, not {self.ocp}")

    # Stream widths (bytes per beat) of the engine's AXI4-Stream ports.
    @property
    def in_bytes(self) -> int:
        return max(self.pp * self.icp, self.dw_channels)

    @property
    def out_bytes(self) -> int:
        return max(self.pp * self.ocp, self.dw_channels)

    @property
    def kmax(self) -> int:
        return max(self.dw_kernels)

    @property
    def pw_macs_per_cycle(self) -> int:
        return self.pp * self.icp * self.ocp

    @property
    def dw_macs_per_cycle(self) -> int:
        return self.dw_channels * self.kmax * self.kmax

    # Pixel-wise modes of the depthwise engine (rtl.depthwise): they use the full beat width, not
    # the dw_channels window lanes.  SCALE and GAP carry ``ew_lanes`` channels per input and output
    # beat; ADD's input beat carries both operands (a in lanes 0..n-1, b in lanes n..2n-1), so it
    # processes ``add_lanes`` channels per beat.  Tiles with more channels run channel groups of
    # that many lanes one after another (ragged last group: the unused lanes are zero).
    @property
    def ew_lanes(self) -> int:
        """Channels per beat in SCALE and GAP: min(in_bytes, out_bytes)."""
        return min(self.in_bytes, self.out_bytes)

    @property
    def add_lanes(self) -> int:
        """Channels per beat in ADD: min(in_bytes // 2, out_bytes) (0: the instance cannot run ADD)."""
        return min(self.in_bytes // 2, self.out_bytes)

    @property
    def dw_multipliers(self) -> int:
        """INT8 x 16-bit multipliers of the depthwise engine: the dw_channels x kmax^2 window
        multipliers, which SCALE (one per lane) and ADD (two per lane) reuse; extra ones only when
        the pixel-wise modes need more than the window has."""
        return max(self.dw_macs_per_cycle, self.ew_lanes, 2 * self.add_lanes)

    @property
    def multipliers(self) -> int:
        """INT8 products the design computes per cycle at most (its peak MAC rate)."""
        return self.pw_macs_per_cycle + self.dw_multipliers

    @property
    def pw_dsps(self) -> int:
        """DSP48E2s of the CONV array: one per INT8 product, or one per output-channel pair of
        products when ``macs_per_dsp == 2``."""
        return self.pw_macs_per_cycle // self.macs_per_dsp

    @property
    def dsps(self) -> int:
        """DSP48E2s of the whole design on UltraScale+: the CONV array's plus one per depthwise
        multiplier (the depthwise engine does not pack)."""
        return self.pw_dsps + self.dw_multipliers

    @classmethod
    def from_dict(cls, d: dict) -> "PEArrayParams":
        """Build from an accelerator description's ``[accel]`` table (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        kw = {k: (tuple(v) if k == "dw_kernels" else v) for k, v in d.items() if k in names}
        return cls(**kw)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dw_kernels"] = list(self.dw_kernels)
        return d


@dataclass(frozen=True)
class TileSpec:
    """One unit of work for the engine.

    CONV: ``cin`` x ``k`` x ``k`` reduction, ``cout`` output channels, ``h`` x ``w`` *output*
      pixels; the data mover streams each output pixel's receptive field (tap-major, then input
      channels), so stride and padding are the mover's business, not the array's.
    DW / MAXPOOL / AVGPOOL: ``cin`` channels (== cout) of an ``h`` x ``w`` *input* tile, window
      ``k``, ``stride``, symmetric zero padding ``pad``.
    SCALE: ``cin`` channels of ``h`` x ``w`` pixels, each channel multiplied by its own factor.
    GAP: ``cin`` channels of ``h`` x ``w`` pixels reduced to one value per channel.
    ADD: ``cin`` channels of ``h`` x ``w`` pixels of two operands, added element-wise.
    """

    mode: Mode
    cin: int
    cout: int
    h: int
    w: int
    k: int = 1
    stride: int = 1
    pad: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", Mode(self.mode))
        for f in ("cin", "cout", "h", "w", "k", "stride"):
            _positive(f"tile {f}", getattr(self, f))
        if not isinstance(self.pad, int) or self.pad < 0:
            raise ParamError(f"tile pad must be a non-negative integer, not {self.pad!r}")

    @property
    def out_h(self) -> int:
        if self.mode in (Mode.CONV, Mode.SCALE, Mode.ADD):
            return self.h
        if self.mode == Mode.GAP:
            return 1
        return (self.h + 2 * self.pad - self.k) // self.stride + 1

    @property
    def out_w(self) -> int:
        if self.mode in (Mode.CONV, Mode.SCALE, Mode.ADD):
            return self.w
        if self.mode == Mode.GAP:
            return 1
        return (self.w + 2 * self.pad - self.k) // self.stride + 1
