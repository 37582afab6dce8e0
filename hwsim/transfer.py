"""PS<->PL hand-over costs at segment boundaries.

Data crosses through DDR; the PL's AXI HP ports are not coherent with the A53 caches, so:

- PS -> PL (the PL will read what the PS wrote): clean+invalidate ("flush") every cache line of
  the tensor first: ceil(bytes / transfer.cache_line_bytes) x transfer.flush_ns_per_line.
- PL -> PS (the PS will read what the PL wrote): invalidate every line before reading:
  lines x transfer.invalidate_ns_per_line.

That holds for cacheable shared buffers (``runtime.buffer_mode = "cacheable"``); uncached and
coherent buffers need no maintenance (0 here; the PS's slower access to them is in ``hwsim.ps``).

Per PL invocation (at the runtime's granularity: segment, layer or tile, ``hwsim.runtime``), two
synchronisation costs, both the runtime profile's: starting it (runtime.invoke_us: the software
programs the DMA and the accelerator, the cores busy) and its completion reaching software
(runtime.completion_us: interrupt, handler and wake-up of the waiting thread, or a poll).
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
    dma_setup_s: float              # per invocation: runtime.invoke_us
    irq_latency_s: float            # per invocation: runtime.completion_us
    maintain: bool = True           # cacheable shared buffers (runtime.buffer_mode)

    @classmethod
    def from_config(cls, cfg: Any) -> "TransferModel":
        from .runtime import Runtime
        t = cfg.transfer                # typed and validated by hwsim.config.build
        rt = Runtime.from_config(cfg)
        return cls(
            line_bytes=t.cache_line_bytes,
            flush_s_per_line=t.flush_ns_per_line * 1e-9,
            invalidate_s_per_line=t.invalidate_ns_per_line * 1e-9,
            dma_setup_s=rt.invoke_s,
            irq_latency_s=rt.completion_s,
            maintain=rt.maintains_caches,
        )

    def cache_s(self, tr: Transfer) -> float:
        """Cache maintenance the PS performs for one tensor crossing."""
        if tr.bytes < 0:
            raise HwsimError(f"transfer of {tr.tensor!r} has a negative size ({tr.bytes} bytes)")
        if tr.src_device == tr.dst_device:
            raise HwsimError(f"transfer of {tr.tensor!r} goes from {tr.src_device} to itself")
        if not self.maintain:
            return 0.0
        lines = ceil(tr.bytes / self.line_bytes)
        per = self.flush_s_per_line if tr.dst_device == "PL" else self.invalidate_s_per_line
        return lines * per

    def to_json(self) -> dict[str, float]:
        return {"line_bytes": self.line_bytes, "flush_s_per_line": self.flush_s_per_line,
                "invalidate_s_per_line": self.invalidate_s_per_line, "dma_setup_s": self.dma_setup_s,
                "irq_latency_s": self.irq_latency_s, "maintain": self.maintain}
