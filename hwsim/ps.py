"""Fallback ops on the ARM cores (the PS).

Per op:   time = max(compute, memory) + call overhead

- compute = (MACs / ps.macs_per_cycle + element-wise ops / ps.elem_ops_per_cycle
             + transcendental elements x ps.transcendental_cycles) / (ps.threads x ps.freq_mhz)
  Transcendental elements: the outputs of sigmoid / swish / softmax ops and of conv/FC nodes with
  a fused sigmoid or swish (each needs an exponential and a division).
- memory = (input + output + weight bytes) / ps.mem_gbps: the cores' sustained DDR bandwidth,
  which extra threads do not raise, and which cannot exceed what the DDR itself sustains
  (ddr.peak_gbps x ddr.efficiency), so a what-if on a slower DDR slows the PS too.
- call overhead (ps.call_overhead_us + runtime.op_dispatch_us): dispatch of one op by the runtime;
  not parallelised.

The runtime profile (``hwsim.runtime``) scales the board's A53 rates to the code that runs the
fallback ops (``runtime.fallback_mac_rate`` x ps.macs_per_cycle, ``runtime.fallback_elem_rate`` x
ps.elem_ops_per_cycle and 1 / that x ps.transcendental_cycles: NEON C is 1, NumPy less), and fixes
the buffer mode of the tensors the PS shares with the PL (those the plan's transfers carry): the
bytes an op reads from / writes to such a tensor move at the buffer's read / write bandwidth
(``Runtime.shared_bandwidths``: the cached rate if cacheable, the non-cacheable rates if uncached,
a coherent fraction of the cached rate if coherent), the rest at the cached rate:

    memory = private bytes / mem + shared read bytes / read bw + shared written bytes / write bw

Ops that only relabel data (reshape, flatten, dropout) cost nothing; concat / split /
channel_shuffle copy their bytes (memory term only, plus the call overhead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mapper.ir import Graph, Node, Op

from .errors import HwsimError
from .memory import ddr_sustained_bytes_per_s

TRANSCENDENTAL = frozenset({Op.SIGMOID, Op.SWISH, Op.SOFTMAX})
FREE = frozenset({Op.RESHAPE, Op.FLATTEN, Op.DROPOUT, Op.INPUT})
COPIES = frozenset({Op.CONCAT, Op.SPLIT, Op.CHANNEL_SHUFFLE})


@dataclass
class PSOp:
    """One op's time on the PS; ``time_s == max(compute_s, memory_s) + overhead_s``."""

    name: str
    op: str
    macs: int
    compute_s: float
    memory_s: float
    overhead_s: float
    bytes: int = 0          # DDR bytes the op reads and writes (inputs, outputs, weights)
    buffer_mode: str = "cacheable"      # of the PL-shared tensors it reads or writes
    shared_read_bytes: int = 0          # of ``bytes``: read from tensors the PL wrote
    shared_write_bytes: int = 0         # of ``bytes``: written to tensors the PL will read
    shared_read_bytes_per_s: float = 0.0    # the bandwidths those moved at
    shared_write_bytes_per_s: float = 0.0

    @property
    def time_s(self) -> float:
        return max(self.compute_s, self.memory_s) + self.overhead_s


@dataclass(frozen=True)
class PSModel:
    freq_hz: float
    threads: int
    macs_per_cycle: float
    elem_ops_per_cycle: float
    transcendental_cycles: float
    mem_bytes_per_s: float
    call_overhead_s: float
    buffer_mode: str = "cacheable"
    shared_read_bytes_per_s: float | None = None    # None: the cached mem_bytes_per_s
    shared_write_bytes_per_s: float | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> "PSModel":
        ps = cfg.ps                     # typed and validated by hwsim.config.build (threads <= cores too)
        from .runtime import Runtime
        rt = Runtime.from_config(cfg)
        mem = min(ps.mem_gbps * 1e9, ddr_sustained_bytes_per_s(cfg))
        rd, wr = rt.shared_bandwidths(mem)
        return cls(
            freq_hz=ps.freq_mhz * 1e6,
            threads=ps.threads,
            macs_per_cycle=ps.macs_per_cycle * rt.fallback_mac_rate,
            elem_ops_per_cycle=ps.elem_ops_per_cycle * rt.fallback_elem_rate,
            transcendental_cycles=ps.transcendental_cycles / rt.fallback_elem_rate,
            mem_bytes_per_s=mem,
            call_overhead_s=ps.call_overhead_us * 1e-6 + rt.op_dispatch_s,
            buffer_mode=rt.buffer_mode,
            shared_read_bytes_per_s=min(rd, mem),
            shared_write_bytes_per_s=min(wr, mem),
        )

    def _memory(self, moved: int, shared_r: int, shared_w: int) -> float:
        rd = self.shared_read_bytes_per_s or self.mem_bytes_per_s
        wr = self.shared_write_bytes_per_s or self.mem_bytes_per_s
        return (moved - shared_r - shared_w) / self.mem_bytes_per_s + shared_r / rd + shared_w / wr

    def op(self, g: Graph, n: Node, shared: frozenset[str] | set[str] = frozenset()) -> PSOp:
        """One op's time; ``shared``: the tensors in buffers shared with the PL (the plan's transfers)."""
        if n.op in FREE:
            return PSOp(n.name, n.op.value, 0, 0.0, 0.0, 0.0, buffer_mode=self.buffer_mode)
        moved = g.in_bytes(n) + g.out_bytes(n)
        sr = sum(g.tensors[t].nbytes for t in n.inputs if t in shared)
        sw = sum(g.tensors[t].nbytes for t in n.outputs if t in shared)
        rec = dict(buffer_mode=self.buffer_mode, shared_read_bytes=sr, shared_write_bytes=sw,
                   shared_read_bytes_per_s=self.shared_read_bytes_per_s or self.mem_bytes_per_s,
                   shared_write_bytes_per_s=self.shared_write_bytes_per_s or self.mem_bytes_per_s)
        memory = self._memory(moved, sr, sw)
        if n.op in COPIES:
            return PSOp(n.name, n.op.value, 0, 0.0, memory, self.call_overhead_s, moved, **rec)
        try:
            macs = g.macs(n)
            moved += g.weight_bytes(n)
            memory = self._memory(moved, sr, sw)
            elem = g.elem_ops(n)
            out_elems = sum(g.tensors[t].numel for t in n.outputs)
        except KeyError as e:
            raise HwsimError(f"node {n.name!r} ({n.op}) lacks attribute {e.args[0]!r}") from None
        act = n.attrs.get("act")
        trans = out_elems if (n.op in TRANSCENDENTAL or (act is not None and Op(act) in TRANSCENDENTAL)) else 0
        cycles = macs / self.macs_per_cycle + elem / self.elem_ops_per_cycle + trans * self.transcendental_cycles
        compute = cycles / (self.threads * self.freq_hz)
        return PSOp(n.name, n.op.value, macs, compute, memory, self.call_overhead_s, moved, **rec)

    def segment(self, g: Graph, nodes: list[str], by_name: dict[str, Node] | None = None,
                shared: frozenset[str] | set[str] = frozenset()) -> list[PSOp]:
        by_name = by_name if by_name is not None else {n.name: n for n in g.nodes}
        out = []
        for name in nodes:
            if name not in by_name:
                raise HwsimError(f"the plan names node {name!r}, which the graph does not have")
            out.append(self.op(g, by_name[name], shared))
        return out

    def to_json(self) -> dict[str, float]:
        return {"freq_hz": self.freq_hz, "threads": self.threads, "macs_per_cycle": self.macs_per_cycle,
                "elem_ops_per_cycle": self.elem_ops_per_cycle,
                "transcendental_cycles": self.transcendental_cycles,
                "mem_bytes_per_s": self.mem_bytes_per_s, "call_overhead_s": self.call_overhead_s,
                "buffer_mode": self.buffer_mode,
                "shared_read_bytes_per_s": self.shared_read_bytes_per_s or self.mem_bytes_per_s,
                "shared_write_bytes_per_s": self.shared_write_bytes_per_s or self.mem_bytes_per_s}
