"""The PL's path to DDR: AXI HP ports, bursts with latency, outstanding transactions, shared DDR.

One *memory phase* is what the accelerator's data mover does while the engine computes one tile:
read ``r`` bytes (the next tile's loads) and write ``w`` bytes (the previous tile's stores) at the
same time.  Its length in PL cycles is

    L + max(r / bw_dir, w / bw_dir, (r + w) / bw_ddr)        (0 if r == w == 0)

- ``L``: one burst's round trip (``axi.burst_latency_ns``), exposed once per phase: the first
  burst's data arrives L after it is issued; later bursts are issued while earlier ones are in
  flight.
- ``bw_dir``: bytes/cycle one direction can move.  AXI has independent read and write channels, so
  each direction is limited separately by (a) the ports: ``accel.hp_ports_used`` x
  ``accel.axi_data_bits`` / 8 per PL cycle, and (b) Little's law on outstanding transactions: with
  at most ``accel.outstanding`` bursts of ``accel.burst_beats`` x ``axi_data_bits`` / 8 bytes in
  flight per port, each taking L, a port moves at most outstanding x burst_bytes / L bytes per cycle.
  The three data-mover parameters are ``rtl.params.PEArrayParams`` fields (the RTL's ``rtl.axi``
  is built from the same object); the board keeps what the board decides: ``axi.hp_ports``,
  ``axi.port_bits`` (the HP ports' widest setting, a ceiling for ``axi_data_bits``),
  ``axi.burst_latency_ns`` and the DDR.
- ``bw_ddr``: the board's sustained DDR bandwidth (``ddr.peak_gbps`` x ``ddr.efficiency``), shared
  by readers and writers, expressed per PL cycle.

All results are whole PL cycles (rounded up), so per-tile sums are exact integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


def coherent_port(cfg: Any) -> tuple[int, float] | None:
    """For ``hwsim.memory``: (ports, fraction of a plain HP port's bytes per cycle) when the runtime's
    shared buffers are coherent (the data mover on the HPC ports), else None."""
    if "runtime" not in cfg.data:
        return None
    rt = cfg.runtime                    # typed and validated by hwsim.config.build
    if rt.buffer_mode != "coherent":
        return None
    return rt.coherent_ports, rt.coherent_port_efficiency


def ddr_sustained_bytes_per_s(cfg: Any) -> float:
    """What the board's DDR sustains, bytes/s: ``ddr.peak_gbps`` x ``ddr.efficiency``.  The PL's
    tiles and the PS's ops each stream at most at this rate, and together too."""
    ddr = cfg.ddr                       # typed and validated by hwsim.config.build
    return ddr.peak_gbps * 1e9 * ddr.efficiency


@dataclass(frozen=True)
class MemoryModel:
    clock_hz: float                 # PL clock
    port_bytes_per_cycle: float     # per direction, all ports the accelerator uses
    burst_bytes: int
    burst_latency_cycles: float
    outstanding: int                # bursts in flight per port and direction
    ports: int
    ddr_bytes_per_cycle: float      # sustained, shared by reads and writes

    @classmethod
    def from_config(cls, cfg: Any) -> "MemoryModel":
        axi, acc = cfg.axi, cfg.accel       # typed and validated by hwsim.config.build (ports <= axi.hp_ports too)
        clock = acc.clock_mhz * 1e6
        hp_bits = axi.port_bits
        pe = cfg.pe                      # the data mover's own parameters: rtl.params.PEArrayParams
        port_bits = pe.axi_data_bits
        if port_bits > hp_bits:
            raise HwsimError(f"accel.axi_data_bits={port_bits} exceeds the board's {hp_bits}-bit HP ports (axi.port_bits)")
        ports = acc.hp_ports_used
        port_efficiency = 1.0
        # --- coherent shared buffers (runtime.buffer_mode = "coherent", hwsim.runtime): the data mover sits
        # on the coherent HPC ports, at most runtime.coherent_ports of them, each moving
        # runtime.coherent_port_efficiency of a plain HP port's bytes.
        coherent = coherent_port(cfg)
        if coherent is not None:
            ports, port_efficiency = min(ports, coherent[0]), coherent[1]
        # --- end coherent
        return cls(
            clock_hz=clock,
            port_bytes_per_cycle=ports * port_bits / 8 * port_efficiency,
            burst_bytes=pe.burst_beats * port_bits // 8,
            burst_latency_cycles=axi.burst_latency_ns * 1e-9 * clock,
            outstanding=pe.outstanding,
            ports=ports,
            ddr_bytes_per_cycle=ddr_sustained_bytes_per_s(cfg) / clock,
        )

    @property
    def direction_bytes_per_cycle(self) -> float:
        """One direction's ceiling: the ports, or Little's law on outstanding bursts."""
        if self.burst_latency_cycles == 0:
            return self.port_bytes_per_cycle
        little = self.ports * self.outstanding * self.burst_bytes / self.burst_latency_cycles
        return min(self.port_bytes_per_cycle, little)

    def phase_cycles(self, read_bytes: np.ndarray | int, write_bytes: np.ndarray | int) -> np.ndarray:
        """Whole PL cycles to read ``read_bytes`` while writing ``write_bytes`` (element-wise)."""
        r = np.asarray(read_bytes, dtype=np.float64)
        w = np.asarray(write_bytes, dtype=np.float64)
        bw = self.direction_bytes_per_cycle
        t = np.maximum(np.maximum(r / bw, w / bw), (r + w) / self.ddr_bytes_per_cycle)
        t = np.where((r > 0) | (w > 0), t + self.burst_latency_cycles, 0.0)
        # 1e-9 guards against 100.00000000001 -> 101 from float division of exact values
        return np.ceil(t - 1e-9).astype(np.int64)

    def to_json(self) -> dict[str, float]:
        return {"port_bytes_per_cycle": self.port_bytes_per_cycle,
                "direction_bytes_per_cycle": self.direction_bytes_per_cycle,
                "ddr_bytes_per_cycle": self.ddr_bytes_per_cycle,
                "burst_bytes": self.burst_bytes,
                "burst_latency_cycles": self.burst_latency_cycles,
                "outstanding": self.outstanding}


# Ops whose output is a view of their input in any runtime (no new DDR buffer).
_ALIASING = ("reshape", "flatten", "dropout", "input")


def ddr_footprint(g: Any) -> dict[str, Any]:
    """The least DDR one frame of ``g`` needs, bytes: every layer's weights (resident) plus the
    activations live at once at the worst step of the execution order.  A buffer lives from the step
    that writes it (the graph's inputs: step 0) to the last step that reads it (the graph's outputs:
    the last step); reshape, flatten and dropout are views of their input.  A lower bound: a runtime
    that gives every tensor its own buffer, or keeps several frames in flight, needs more."""
    order = list(g.nodes)
    buf = {t: t for t in g.inputs}                 # tensor -> the buffer holding it
    start = {t: 0 for t in g.inputs}               # buffer -> the step that writes it
    stop: dict[str, int] = {}                      # buffer -> the last step that reads it
    for i, n in enumerate(order):
        for t in n.inputs:
            stop[buf.get(t, t)] = i
        for t in n.outputs:
            if str(n.op) in _ALIASING and n.inputs:
                buf[t] = buf.get(n.inputs[0], n.inputs[0])
            else:
                buf[t], start[t] = t, i
    for t in g.outputs:
        stop[buf.get(t, t)] = len(order) - 1
    delta = [0] * (len(order) + 1)
    for b, s in start.items():
        delta[s] += g.tensors[b].nbytes
        delta[stop.get(b, s) + 1] -= g.tensors[b].nbytes
    peak, at, live = 0, None, 0
    for i, n in enumerate(order):
        live += delta[i]
        if live > peak:
            peak, at = live, n.name
    weights = sum(g.weight_bytes(n) for n in order)
    return {"weights": weights, "activations_peak": peak, "peak_at": at, "total": weights + peak}


# ---- the data mover as built (rtl.axi, rtl.sequencer): one AXI4 master, tiles streamed from DDR

@dataclass(frozen=True)
class StreamTile:
    """One tile as the sequencer runs it: compute cycles (``rtl.cycles.tile_cycles``), the engine
    input beats it streams, bus words read (its input segments), bus words written, its
    descriptor's segment count and ``drain``: the cycles the engine still runs after taking its
    last input beat (``drain_cycles``)."""

    compute: int
    in_beats: int
    read_words: int
    write_words: int
    nseg: int
    drain: int


def drain_cycles(pe: Any, t: Any) -> int:
    """Cycles from the engine's last input beat to its last output beat, unstalled (from the
    timelines ``rtl.cycles`` proves): CONV the last pixel group's accumulate, park and
    post-processing, PP + 10 (rtl/pointwise.py); window modes the steps over the bottom/right
    padding after the last pixel plus DW_LATENCY + 1; GAP its DW_LATENCY + serialised chunks + 1;
    SCALE/ADD EW_LATENCY + 1."""
    from rtl.cycles import DW_LATENCY, EW_LATENCY, gap_chunks
    from rtl.golden_dw import window
    from rtl.params import Mode
    if t.mode == Mode.CONV:
        return pe.pp + 10
    if t.mode in (Mode.SCALE, Mode.ADD):
        return EW_LATENCY + 1
    if t.mode == Mode.GAP:
        return DW_LATENCY + gap_chunks(pe) + 1
    k, stride, pad = window(t.mode, t.k, t.stride, t.pad)
    last_in = (t.h - 1) * (t.w + pad) + t.w - 1
    last_step = ((t.out_h - 1) * stride + k - 1 - pad) * (t.w + pad) + (t.out_w - 1) * stride + k - 1 - pad
    return last_step - last_in + DW_LATENCY + 1


# Sequencer state hops that are neither a round trip nor a descriptor word (rtl/sequencer.py): for
# the first tile go -> HDR, and a command -> AR cycle per dependent read; for a later tile the header
# read is already in flight.  Measured once on the RTL (a single-tile pw layer on the 2x4x4 test
# instance, 6 cycles) and held to every layer, both instances, by tests/rtl/test_system_cocotb.py.
SEQ_FIRST_CYCLES = 6
SEQ_NEXT_CYCLES = 4


def mover_round_trip(mem: MemoryModel, ram_cycles: int) -> int:
    """Cycles from an AR to its first R beat: the board's burst latency (whole cycles) plus the
    memory's own answer time (``ram_cycles``)."""
    return int(math.ceil(mem.burst_latency_cycles - 1e-9)) + ram_cycles


def stream_segment_cycles(tiles: list[StreamTile], pe: Any, mem: MemoryModel, ram_cycles: int) -> dict[str, Any]:
    """Cycles from start to completion of a PL segment on the RTL data mover (``rtl.sequencer``).

    Per tile:
    - sequencer overhead: the first tile's descriptor header and segment list are two dependent
      reads (2 round trips + 2 + nseg words) and its first data beat arrives one more round trip
      after its AR (the engine is started meanwhile and waits), plus ``SEQ_FIRST_CYCLES``.  A later
      tile's header read was issued right after the previous tile's data reads, so its words
      follow that tile's last input word (one in-order R channel); its segment list and first data
      cost 2 round trips + 2 + nseg words + ``SEQ_NEXT_CYCLES``, of which the previous tile's
      ``drain`` hides as much as it lasts;
    - compute: ``rtl.cycles.tile_cycles``;
    - memory stall: the R channel feeds the engine directly (no FIFO), so the bus idles whenever
      the engine takes no input and the engine waits whenever a beat is not there.  The stream
      needs ``read_words / rate`` cycles (rate: one bus word per cycle, or ``outstanding`` x
      ``burst_beats`` words per round trip, Little's law); the engine takes ``in_beats`` beats at
      one per cycle at most, so the tile stalls ``max(0, read_words / rate - in_beats)`` cycles;
      the outputs leave at one bus word per cycle on their own channels (the writer issues AWs
      ahead of the data, so their latency hides), which bounds the tile the same way by
      ``write_words``.
    At the end the last write's response: ``ram_cycles``."""
    rt = mover_round_trip(mem, ram_cycles)
    rate = min(1.0, pe.outstanding * pe.burst_beats / rt) if rt else 1.0
    rows, total = [], 0
    prev_drain = None
    for t in tiles:
        if prev_drain is None:
            overhead = 3 * rt + 2 + t.nseg + SEQ_FIRST_CYCLES
        else:
            overhead = max(0, 2 * rt + 2 + t.nseg + SEQ_NEXT_CYCLES - prev_drain)
        stall = max(0, int(math.ceil(max(t.read_words / rate, t.write_words) - 1e-9)) - t.in_beats)
        rows.append({"compute": t.compute, "stall": stall, "overhead": overhead})
        total += overhead + t.compute + stall
        prev_drain = t.drain
    total += ram_cycles
    return {"cycles": total, "round_trip": rt, "read_words_per_cycle": rate, "tiles": rows,
            "compute": sum(r["compute"] for r in rows), "stall": sum(r["stall"] for r in rows),
            "overhead": sum(r["overhead"] for r in rows) + ram_cycles}
