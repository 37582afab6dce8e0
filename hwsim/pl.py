"""PL segments: tile every layer for the accelerator's buffers, then schedule the tiles.

Tiling (one layer -> an ordered list of ``TileSpec`` with the bytes each tile loads and stores):

- Activation buffers are double-buffered: a tile's input activations must fit half of
  ``accel.ibuf_kib`` and its outputs half of ``accel.obuf_kib``; the engine limits are
  ``rtl.contract.check_tile`` (weight-buffer reduction depth, depthwise kernels, line-buffer width).
- CONV (and FC as a 1x1 conv): output row bands (full width when a band of input rows fits, else
  column strips), and output-channel chunks (multiples of ``ocp``) when the band's outputs do not
  fit.  Loop order: strip, band, chunk; a band's input stays resident while its chunks run, so
  the input is loaded with the first chunk only and every chunk loads its own weights (the
  engine's re-streaming of activations per OCP group replays the on-chip input buffer, not DDR).
  Grouped convs run group by group.
- DW / MAXPOOL / AVGPOOL: channel groups (multiples of ``dw_channels``) x row bands that carry
  their k - stride halo rows, column strips when the width exceeds ``max_width``.
- GAP: channel groups over the whole map (at least one engine group of ``ew_lanes`` channels per
  tile: the pool streams through per-channel accumulators, so its input need not be resident).
  ADD / SCALE: row bands of all channels (chunks of whole engine groups -- ``add_lanes`` /
  ``ew_lanes`` channels -- if a row does not fit); ADD loads two operands, SCALE one plus its
  per-channel factors.
- Loads are the exact input rows/columns the tile reads (halo included, padding excluded) plus
  the parameter bytes the RTL streams: CONV the activation LUT, weights and requantisation
  parameters (see the constants below); depthwise-engine modes ``rtl.contract.param_bytes`` (the
  LUT where the mode post-processes, SCALE/ADD's per-tensor header, one block per channel group).

A tile's compute cycles are ``rtl.cycles.tile_cycles`` (this project's RTL), except a CONV tile of an
accelerator that describes the Xilinx DPU (``accel.conv_cycles = "dpu"``: ``dpu_conv_cycles``).

Schedule (``schedule``): tile ``i`` computes for its compute cycles while the data mover reads tile
``i+1``'s loads and writes tile ``i-1``'s stores (double buffering); step ``i`` lasts
``max(compute_i, memory phase_i)``.  The first tile's loads and the last tile's stores are
exposed.  Each layer is its own schedule (the engine is reconfigured per layer and a layer's
input is the previous layer's complete output in DDR).  Memory stall = total - compute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from math import ceil
from typing import Any

import numpy as np

from mapper.ir import DATA_MOVEMENT, Graph, Node, Op, kernel_size, pads, strides
from mapper.passes import is_depthwise
from rtl.contract import CONV_QREC_BYTES, LUT_ENTRIES, group_lanes, param_bytes
from rtl.cycles import tile_cycles
from rtl.params import Mode, ParamError, PEArrayParams, TileSpec

from .errors import HwsimError
from .memory import MemoryModel

# Parameter bytes a CONV tile streams ahead of its activations (the RTL contract, rtl.contract):
LUT_BYTES = LUT_ENTRIES                  # the 256-entry activation LUT, once per tile
CONV_QPARAM_BYTES = CONV_QREC_BYTES      # per output channel: int32 bias, uint16 mult, uint8 shift, pad


# A tile as (mode, cin, cout, h, w, k, stride, pad): the TileSpec fields, hashable and cheap to build.
TileKey = tuple[Mode, int, int, int, int, int, int, int]


@lru_cache(maxsize=65536)
def _cycles(p: PEArrayParams, key: TileKey) -> int:
    return tile_cycles(p, TileSpec(*key))


CONV_CYCLES = ("rtl", "dpu")     # accel.conv_cycles


def dpu_conv_cycles(p: PEArrayParams, key: TileKey) -> int:
    """A CONV tile's cycles on the Xilinx DPU's convolution array (``accel.conv_cycles = "dpu"``):
    PP x ICP x OCP MACs per cycle (PG338 "Architecture of the DPUCZDX8G": "the number of convolution
    MACs per cycle is ICP * OCP * PP"), the output pixels in groups of PP, the output channels in
    groups of OCP, and the reduction in k x k x ceil(cin / ICP) steps, the layout of the DPU's weight
    banks (UG1414 3.0 "Currently Supported Operators", conv2d In Size: "kernel_w * kernel_h *
    ceil(input_channel / channel_parallel) <= bank_depth").  Weights and activations reach the array
    through the DPU's own load engine, so unlike this project's RTL nothing streams in band; no
    pipeline fill or drain is counted, so this is a lower bound on the DPU's cycles."""
    _, cin, cout, h, w, k, _, _ = key
    return ceil(h * w / p.pp) * k * k * ceil(cin / p.icp) * ceil(cout / p.ocp)


@dataclass
class LayerTiles:
    mode: Mode
    specs: list[TileKey]
    load: list[int]       # bytes per tile
    store: list[int]
    pe: PEArrayParams | None = None   # the engine the tiles run on, if not the Tiler's (see dw_engine)


@dataclass
class PLLayer:
    """One PL layer's schedule; ``cycles == compute_cycles + stall_cycles``."""

    name: str
    op: str
    mode: str
    macs: int
    tiles: int
    compute_cycles: int
    stall_cycles: int
    load_bytes: int
    store_bytes: int

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.stall_cycles


def _bands(n_out: int, per: int, s: int, k: int, pad_lo: int, n_in: int) -> list[tuple[int, int]]:
    """(output rows, input rows read) of consecutive bands of ``per`` output rows."""
    out = []
    for o0 in range(0, n_out, per):
        o1 = min(n_out, o0 + per)
        i0 = max(0, o0 * s - pad_lo)
        i1 = min(n_in, (o1 - 1) * s - pad_lo + k)
        out.append((o1 - o0, max(1, i1 - i0)))
    return out


def _chunks(n: int, per: int) -> list[int]:
    return [min(per, n - i) for i in range(0, n, per)]


def _rows_fitting(budget: int, row_bytes: int, k: int, s: int) -> int:
    """Most output rows whose input rows ((rows-1)*s + k) of ``row_bytes`` fit ``budget``."""
    if row_bytes <= 0:
        return 0
    return (budget // row_bytes - k) // s + 1 if budget // row_bytes >= k else 0


class Tiler:
    """Turns one PL node into tiles for a given accelerator."""

    def __init__(self, pe: PEArrayParams, accel: Any):
        """``accel``: the typed ``[accel]`` section (``hwsim.sections.Accel``), every field validated
        by ``hwsim.schema`` at load (buffer sizes, ``dw_macs_per_cycle``, ``conv_cycles``' choices)."""
        self.pe = pe
        self.half_in = int(accel.ibuf_kib * 1024) // 2
        self.half_out = int(accel.obuf_kib * 1024) // 2
        self.pl_ops = set(accel.pl_ops)
        self.fused = set(accel.pl_fused or ())
        # accel.dw_macs_per_cycle (the DPU files): the depthwise engine has that many multipliers in
        # all, so a k x k window costs k^2 of them and it runs dw_macs_per_cycle // k^2 channels at once
        # (PG338: B4096's 48 extra DSPs x 2 packed x 2 double-pumped = 192).  Absent (this project's
        # RTL): dw_channels windows of any supported k per cycle, as rtl.depthwise does.
        self.dw_macs = accel.dw_macs_per_cycle
        self.dpu_conv = accel.conv_cycles == "dpu"      # CONV_CYCLES; absent: "rtl"

    def cycles(self, pe: PEArrayParams, key: TileKey) -> int:
        """A tile's compute cycles: ``rtl.cycles.tile_cycles`` (this project's RTL, the only formula for
        its arrays), or ``dpu_conv_cycles`` for a CONV tile of an accelerator with conv_cycles = "dpu"."""
        if self.dpu_conv and key[0] == Mode.CONV:
            return dpu_conv_cycles(pe, key)
        return _cycles(pe, key)

    def dw_engine(self, k: int) -> PEArrayParams:
        """The depthwise engine a k x k depthwise conv runs on: ``dw_macs_per_cycle // k^2`` channels
        when the accelerator gives its depthwise multipliers, else the accelerator's own engine."""
        if self.dw_macs is None:
            return self.pe
        return replace(self.pe, dw_channels=max(1, self.dw_macs // (k * k)))

    # ---- which engine mode a node needs ------------------------------------------------------
    def mode(self, g: Graph, n: Node) -> Mode | None:
        """The engine mode, or None for nodes that cost nothing on the PL (fused or data movement)."""
        if n.op in DATA_MOVEMENT or n.op.value in self.fused:
            return None
        if n.op == Op.MUL and n.attrs.get("pl_mode") == "scale":
            return Mode.SCALE
        if n.op.value not in self.pl_ops:
            raise HwsimError(f"node {n.name!r} ({n.op}) is placed on the PL, but the accelerator does not "
                             f"run {n.op} (pl_ops: {', '.join(sorted(self.pl_ops))})")
        if n.op in (Op.CONV, Op.DWCONV):
            if is_depthwise(g, n):
                return Mode.DW
            if n.op == Op.DWCONV:       # the partitioner keeps these on the PS
                raise HwsimError(f"node {n.name!r}: depthwise with channel multiplier "
                                 f"({g.in_shape(n)[1]}->{n.attrs['cout']}) is not supported by the depthwise engine")
            return Mode.CONV
        table = {Op.FC: Mode.CONV, Op.MAXPOOL: Mode.MAXPOOL, Op.AVGPOOL: Mode.AVGPOOL,
                 Op.GLOBAL_AVGPOOL: Mode.GAP, Op.ADD: Mode.ADD}
        if n.op in table:
            return table[n.op]
        if n.op == Op.MUL:
            shapes = [g.shape(t) for t in n.inputs]
            if len(shapes) == 2 and any(len(s) == 4 and s[2] == s[3] == 1 for s in shapes):
                return Mode.SCALE
        raise HwsimError(f"node {n.name!r} ({n.op}) has no engine mode on the PL")

    # ---- tiling ----------------------------------------------------------------------------------
    def tile(self, g: Graph, n: Node) -> LayerTiles | None:
        mode = self.mode(g, n)
        if mode is None:
            return None
        try:
            if mode == Mode.CONV:
                return self._conv(g, n)
            if mode in (Mode.DW, Mode.MAXPOOL, Mode.AVGPOOL):
                return self._window(g, n, mode)
            if mode == Mode.GAP:
                return self._gap(g, n)
            return self._elementwise(g, n, mode)
        except ParamError as e:
            raise HwsimError(f"node {n.name!r} ({n.op}) cannot run on the PL: {e}") from None

    def _square(self, n: Node) -> tuple[int, int]:
        (kh, kw), (sh, sw) = kernel_size(n), strides(n)
        if kh != kw or sh != sw:
            raise HwsimError(f"node {n.name!r}: the engine runs square kernels and strides, "
                             f"not {kh}x{kw} stride {sh}x{sw}")
        return kh, sh

    def _conv(self, g: Graph, n: Node) -> LayerTiles:
        pe = self.pe
        if n.op == Op.FC:
            cin, cout, k, s, pt, pl = int(n.attrs["cin"]), int(n.attrs["cout"]), 1, 1, 0, 0
            H = W = Ho = Wo = 1
            groups = 1
        else:
            _, cin, H, W = g.in_shape(n)
            _, cout, Ho, Wo = g.out_shape(n)
            k, s = self._square(n)
            pt, pl, _, _ = pads(n)
            groups = int(n.attrs.get("groups", 1))
        cin_g, cout_g = cin // groups, cout // groups
        # width strips: full width if one band of k input rows fits, else the widest strip that does
        tw = Wo
        in_cols = min(W, (tw - 1) * s + k)
        th = _rows_fitting(self.half_in, in_cols * cin_g, k, s)
        if th < 1:
            tw = _rows_fitting(self.half_in, k * cin_g, k, s)
            if tw < 1:
                raise HwsimError(f"node {n.name!r}: a {k}x{k}x{cin_g} input window does not fit half of "
                                 f"the input buffer ({self.half_in} bytes)")
            in_cols = min(W, (tw - 1) * s + k)
            th = _rows_fitting(self.half_in, in_cols * cin_g, k, s)
        th = min(Ho, th)
        # output-channel chunks so that a band's outputs fit half of the output buffer
        fit = self.half_out // (th * tw) // pe.ocp * pe.ocp
        if fit >= cout_g:
            ct = cout_g
        elif fit >= pe.ocp:
            ct = fit
        else:
            ct = min(cout_g, pe.ocp)
            th = max(1, min(th, self.half_out // (tw * ct)))
            if th * tw * ct > self.half_out:
                raise HwsimError(f"node {n.name!r}: one output row of {tw} pixels x {ct} channels does "
                                 f"not fit half of the output buffer ({self.half_out} bytes)")
        rows = _bands(Ho, th, s, k, pt, H)
        cols = _bands(Wo, tw, s, k, pl, W)
        chunks = _chunks(cout_g, ct)
        specs, load, store = [], [], []
        wbytes = cin_g * k * k + CONV_QPARAM_BYTES
        for _ in range(groups):
            for ow, icols in cols:
                for oh, irows in rows:
                    for j, c in enumerate(chunks):
                        specs.append((Mode.CONV, cin_g, c, oh, ow, k, 1, 0))
                        load.append((irows * icols * cin_g if j == 0 else 0) + c * wbytes + LUT_BYTES)
                        store.append(oh * ow * c)
        return LayerTiles(Mode.CONV, specs, load, store)

    def _window(self, g: Graph, n: Node, mode: Mode) -> LayerTiles:
        _, C, H, W = g.in_shape(n)
        _, cout, Ho, Wo = g.out_shape(n)
        k, s = self._square(n)
        pe = self.dw_engine(k) if mode == Mode.DW else self.pe
        if mode != Mode.DW and k > pe.kmax:
            raise HwsimError(f"node {n.name!r}: {k}x{k} pooling exceeds the depthwise engine's "
                             f"{pe.kmax}x{pe.kmax} window")
        pt, pl, pb, pr = pads(n)
        # the engine pads symmetrically; the tile's input extent is chosen so it yields the band's rows
        p = min((pt + pb) // 2, (pl + pr) // 2, (k - 1) // 2)
        ow_max = (pe.max_width + 2 * p - k) // s + 1
        tw = min(Wo, ow_max)
        if tw < 1:
            raise HwsimError(f"node {n.name!r}: a {k}-wide window does not fit the {pe.max_width}-pixel line buffer")
        cols = _bands(Wo, tw, s, k, pl, W)
        in_cols = max(c for _, c in cols)
        dwc = pe.dw_channels
        cg = min(self.half_in // (H * in_cols), self.half_out // (Ho * tw)) // dwc * dwc
        if cg >= dwc:                      # whole height in one band
            cg, th = min(cg, C), Ho
        else:
            cg = min(C, dwc)
            th = min(Ho, _rows_fitting(self.half_in, in_cols * cg, k, s), self.half_out // (tw * cg))
            if th < 1:
                raise HwsimError(f"node {n.name!r}: {k} rows of {in_cols} pixels x {cg} channels do not "
                                 f"fit half of the activation buffers")
        rows = _bands(Ho, th, s, k, pt, H)
        specs, load, store = [], [], []
        for c in _chunks(C, cg):
            for ow, icols in cols:
                for oh, irows in rows:
                    h_t = max(1, (oh - 1) * s + k - 2 * p)
                    w_t = max(1, (ow - 1) * s + k - 2 * p)
                    specs.append((mode, c, c, h_t, w_t, k, s, p))
                    load.append(irows * icols * c + param_bytes(pe, mode, c))
                    store.append(oh * ow * c)
        return LayerTiles(mode, specs, load, store, pe if pe is not self.pe else None)

    def _gap(self, g: Graph, n: Node) -> LayerTiles:
        _, C, H, W = g.in_shape(n)
        dwc = group_lanes(self.pe, Mode.GAP)
        # GAP streams its input through per-channel accumulators; at least one engine group per tile
        cg = min(C, max(dwc, self.half_in // (H * W) // dwc * dwc))
        chunks = _chunks(C, cg)
        return LayerTiles(Mode.GAP, [(Mode.GAP, c, c, H, W, 1, 1, 0) for c in chunks],
                          [H * W * c + param_bytes(self.pe, Mode.GAP, c) for c in chunks],
                          list(chunks))

    def _elementwise(self, g: Graph, n: Node, mode: Mode) -> LayerTiles:
        x = g.out_shape(n)
        if len(x) != 4:
            raise HwsimError(f"node {n.name!r} ({n.op}): expects NCHW tensors on the PL, got {x}")
        _, C, H, W = x
        operands = 2 if mode == Mode.ADD else 1
        dwc = group_lanes(self.pe, mode)       # channels per engine group
        cc = C
        if min(self.half_in // (operands * W * cc), self.half_out // (W * cc)) < 1:
            cc = min(C, max(dwc, min(self.half_in // (operands * W), self.half_out // W) // dwc * dwc))
        th = min(H, self.half_in // (operands * W * cc), self.half_out // (W * cc))
        if th < 1:
            raise HwsimError(f"node {n.name!r}: one row of {W} pixels x {cc} channels does not fit "
                             f"half of the activation buffers")
        specs, load, store = [], [], []
        for c in _chunks(C, cc):
            for oh in _chunks(H, th):
                specs.append((mode, c, c, oh, W, 1, 1, 0))
                load.append(operands * oh * W * c + param_bytes(self.pe, mode, c))
                store.append(oh * W * c)
        return LayerTiles(mode, specs, load, store)


def pl_check(pe: PEArrayParams, accel: dict[str, Any]):
    """``mapper.partition.partition``'s ``pl_check``: why the PL cannot run a node, or None -- the
    tiler's and ``rtl.contract.check_tile``'s refusal of it (the same checks ``simulate_layer``
    would abort on), so the partitioner and the cycle model give one answer."""
    tiler: list[Tiler] = []

    def check(g: Graph, n: Node) -> str | None:
        try:
            if not tiler:
                tiler.append(Tiler(pe, accel))
            t = tiler[0].tile(g, n)
            for spec in (dict.fromkeys(t.specs) if t is not None else ()):
                _cycles(pe, spec)            # check_tile (the result is cached for the estimate)
        except (HwsimError, ParamError) as e:
            msg = str(e)
            for prefix in (f"node {n.name!r}: ", f"node {n.name!r} ({n.op}) "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
            return msg
        return None
    return check


def schedule(compute: np.ndarray, load: np.ndarray, store: np.ndarray, mem: MemoryModel) -> int:
    """Total PL cycles of one layer's tiles under double buffering (see the module docstring)."""
    compute = np.asarray(compute, dtype=np.int64)
    load = np.asarray(load, dtype=np.int64)
    store = np.asarray(store, dtype=np.int64)
    if compute.size == 0:
        return 0
    zero = np.zeros(1, dtype=np.int64)
    # phase 0: tile 0's loads (exposed); phase 1+i, during tile i's compute: tile i+1's loads and
    # tile i-1's stores; phase n+1: tile n-1's stores (exposed)
    reads = np.concatenate((load[:1], load[1:], zero, zero))
    writes = np.concatenate((zero, zero, store[:-1], store[-1:]))
    ph = mem.phase_cycles(reads, writes)
    return int(ph[0]) + int(np.maximum(compute, ph[1:-1]).sum()) + int(ph[-1])


def simulate_layer(g: Graph, n: Node, tiler: Tiler, mem: MemoryModel) -> PLLayer:
    t = tiler.tile(g, n)
    if t is None:
        return PLLayer(n.name, n.op.value, "fused", g.macs(n), 0, 0, 0, 0, 0)
    pe = t.pe or tiler.pe
    compute = np.fromiter((tiler.cycles(pe, s) for s in t.specs), dtype=np.int64, count=len(t.specs))
    total = schedule(compute, np.asarray(t.load), np.asarray(t.store), mem)
    c = int(compute.sum())
    return PLLayer(n.name, n.op.value, t.mode.name, g.macs(n), len(t.specs), c, total - c,
                   int(sum(t.load)), int(sum(t.store)))


def simulate_segment(g: Graph, nodes: list[str], tiler: Tiler, mem: MemoryModel,
                     by_name: dict[str, Node] | None = None) -> list[PLLayer]:
    """Every node of a PL segment, in execution order."""
    by_name = by_name if by_name is not None else {n.name: n for n in g.nodes}
    out = []
    for name in nodes:
        if name not in by_name:
            raise HwsimError(f"the plan names node {name!r}, which the graph does not have")
        out.append(simulate_layer(g, by_name[name], tiler, mem))
    return out

