"""The PL's path to DDR: AXI HP ports, bursts with latency, outstanding transactions, shared DDR.

One *memory phase* is what the accelerator's data mover does while the engine computes one tile:
read ``r`` bytes (the next tile's loads) and write ``w`` bytes (the previous tile's stores) at the
same time.  Its length in PL cycles is

    L + max(r / bw_dir, w / bw_dir, (r + w) / bw_ddr)        (0 if r == w == 0)

- ``L``: one burst's round trip (``axi.burst_latency_ns``), exposed once per phase: the first
  burst's data arrives L after it is issued; later bursts are issued while earlier ones are in
  flight.
- ``bw_dir``: bytes/cycle one direction can move.  AXI has independent read and write channels, so
  each direction is limited separately by (a) the ports: ``accel.hp_ports_used`` x ``axi.port_bits``
  / 8 per PL cycle, and (b) Little's law on outstanding transactions: with at most
  ``axi.outstanding`` bursts of ``axi.burst_beats`` x ``port_bits`` / 8 bytes in flight per port,
  each taking L, a port moves at most outstanding x burst_bytes / L bytes per cycle.
- ``bw_ddr``: the board's sustained DDR bandwidth (``ddr.peak_gbps`` x ``ddr.efficiency``), shared
  by readers and writers, expressed per PL cycle.

All results are whole PL cycles (rounded up), so per-tile sums are exact integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def coherent_port(cfg: Any) -> tuple[int, float] | None:
    """For ``hwsim.memory``: (ports, fraction of a plain HP port's bytes per cycle) when the runtime's
    shared buffers are coherent (the data mover on the HPC ports), else None."""
    data = getattr(cfg, "data", None)
    if not isinstance(data, dict) or "runtime" not in data:
        return None
    rt = data["runtime"]
    if rt.get("buffer_mode") != "coherent":
        return None
    return int(rt["coherent_ports"]), float(rt["coherent_port_efficiency"])   # validated by hwsim.schema


def ddr_sustained_bytes_per_s(cfg: Any) -> float:
    """What the board's DDR sustains, bytes/s: ``ddr.peak_gbps`` x ``ddr.efficiency``.  The PL's
    tiles and the PS's ops each stream at most at this rate, and together too."""
    ddr = cfg["ddr"]                    # fields validated by hwsim.schema at load
    return float(ddr["peak_gbps"]) * 1e9 * float(ddr["efficiency"])


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
        axi, acc = cfg["axi"], cfg.accel    # validated by hwsim.schema at load (ports <= axi.hp_ports too)
        clock = float(acc["clock_mhz"]) * 1e6
        port_bits = int(axi["port_bits"])
        ports = int(acc["hp_ports_used"])
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
            burst_bytes=int(axi["burst_beats"]) * port_bits // 8,
            burst_latency_cycles=float(axi["burst_latency_ns"]) * 1e-9 * clock,
            outstanding=int(axi["outstanding"]),
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
