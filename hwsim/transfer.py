"""PS<->PL hand-over costs at segment boundaries.

Data crosses through DDR; the PL's AXI HP ports are not coherent with the A53 caches, so:

- PS -> PL (the PL will read what the PS wrote): clean+invalidate ("flush") every cache line of
  the tensor first: ceil(bytes / transfer.cache_line_bytes) x transfer.flush_ns_per_line.
- PL -> PS (the PS will read what the PL wrote): invalidate every line before reading:
  lines x transfer.invalidate_ns_per_line.

Per PL segment, two synchronisation costs: starting it (transfer.dma_setup_us: the driver
programs the DMA and the accelerator) and its completion reaching software
(transfer.irq_latency_us: interrupt, handler and wake-up of the waiting thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from mapper.plan import Transfer

from .errors import HwsimError


@dataclass(frozen=True)
class TransferModel:
    line_bytes: int
    flush_s_per_line: float
    invalidate_s_per_line: float
    dma_setup_s: float
    irq_latency_s: float

    @classmethod
    def from_config(cls, cfg: Any) -> "TransferModel":
        t = cfg["transfer"]
        return cls(
            line_bytes=int(t["cache_line_bytes"]),       # fields validated by hwsim.schema at load
            flush_s_per_line=float(t["flush_ns_per_line"]) * 1e-9,
            invalidate_s_per_line=float(t["invalidate_ns_per_line"]) * 1e-9,
            dma_setup_s=float(t["dma_setup_us"]) * 1e-6,
            irq_latency_s=float(t["irq_latency_us"]) * 1e-6,
        )

    def cache_s(self, tr: Transfer) -> float:
        """Cache maintenance the PS performs for one tensor crossing."""
        if tr.bytes < 0:
            raise HwsimError(f"transfer of {tr.tensor!r} has a negative size ({tr.bytes} bytes)")
        if tr.src_device == tr.dst_device:
            raise HwsimError(f"transfer of {tr.tensor!r} goes from {tr.src_device} to itself")
        lines = ceil(tr.bytes / self.line_bytes)
        per = self.flush_s_per_line if tr.dst_device == "PL" else self.invalidate_s_per_line
        return lines * per

    def to_json(self) -> dict[str, float]:
        return {"line_bytes": self.line_bytes, "flush_s_per_line": self.flush_s_per_line,
                "invalidate_s_per_line": self.invalidate_s_per_line, "dma_setup_s": self.dma_setup_s,
                "irq_latency_s": self.irq_latency_s}
