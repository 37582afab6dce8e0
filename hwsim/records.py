"""One frame's typed records, as ``hwsim.estimate.Estimate`` keeps them.

``PLLayerRecord`` (a layer on the PL: its tile schedule's cycles, split into compute and DDR
stall), ``PSOpRecord`` (an op on the ARM cores: compute, memory and overhead time), ``TransferRecord``
(a tensor crossing between PS and PL: its cache maintenance) and ``SyncRecord`` (software starting
the PL, or waiting for it).  Times in ms per frame, derived once from cycles at construction, so the
breakdown sums of ``Estimate`` and the records' own fields are the same floats.  JSON (``to_json``)
is produced only at the file/CLI boundary (``Estimate.to_json``), with the keys and key order the
JSON has always had.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class PLLayerRecord:
    name: str
    op: str
    device: str                  # "PL"
    macs: int
    cycles: int                  # compute_cycles + stall_cycles
    time_ms: float
    mode: str                    # the engine mode (CONV, DW, ...; "fused" for an op folded into another)
    tiles: int
    compute_cycles: int
    stall_cycles: int
    compute_ms: float
    stall_ms: float
    load_bytes: int
    store_bytes: int

    @classmethod
    def of(cls, l: Any, clock_hz: float) -> PLLayerRecord:
        """From a ``hwsim.pl.PLLayer`` at the PL clock ``clock_hz``."""
        return cls(name=l.name, op=l.op, device="PL", macs=l.macs, cycles=l.cycles,
                   time_ms=l.cycles / clock_hz * 1e3, mode=l.mode, tiles=l.tiles,
                   compute_cycles=l.compute_cycles, stall_cycles=l.stall_cycles,
                   compute_ms=l.compute_cycles / clock_hz * 1e3, stall_ms=l.stall_cycles / clock_hz * 1e3,
                   load_bytes=l.load_bytes, store_bytes=l.store_bytes)

    @property
    def kind(self) -> str:
        return self.mode

    @property
    def ddr_bytes(self) -> int:
        return self.load_bytes + self.store_bytes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PSOpRecord:
    name: str
    op: str
    device: str                  # "PS"
    macs: int
    cycles: int                  # time_ms at the PS clock, rounded
    time_ms: float               # compute_ms + memory_ms + overhead_ms as hwsim.ps combines them
    compute_ms: float
    memory_ms: float
    overhead_ms: float
    bytes: int
    buffer_mode: str
    shared_read_bytes: int
    shared_write_bytes: int
    shared_read_bytes_per_s: float
    shared_write_bytes_per_s: float

    @classmethod
    def of(cls, o: Any, freq_hz: float) -> PSOpRecord:
        """From a ``hwsim.ps.PSOp`` at the PS clock ``freq_hz``."""
        return cls(name=o.name, op=o.op, device="PS", macs=o.macs, cycles=round(o.time_s * freq_hz),
                   time_ms=o.time_s * 1e3, compute_ms=o.compute_s * 1e3, memory_ms=o.memory_s * 1e3,
                   overhead_ms=o.overhead_s * 1e3, bytes=o.bytes, buffer_mode=o.buffer_mode,
                   shared_read_bytes=o.shared_read_bytes, shared_write_bytes=o.shared_write_bytes,
                   shared_read_bytes_per_s=o.shared_read_bytes_per_s,
                   shared_write_bytes_per_s=o.shared_write_bytes_per_s)

    @property
    def kind(self) -> str:
        return self.op

    @property
    def ddr_bytes(self) -> int:
        return self.bytes

    @property
    def touches_shared(self) -> bool:
        """Reads or writes a buffer the PS shares with the PL."""
        return bool(self.shared_read_bytes or self.shared_write_bytes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


LayerRecord = PLLayerRecord | PSOpRecord


def layer_from_json(d: dict[str, Any]) -> LayerRecord:
    """The record of one ``Estimate.to_json()["layers"]`` entry (a results.json read back)."""
    cls = PLLayerRecord if d["device"] == "PL" else PSOpRecord
    return cls(**d)


@dataclass(frozen=True)
class TransferRecord:
    src_device: str              # JSON "from"
    dst_device: str              # JSON "to"
    tensor: str
    bytes: int
    src_segment: int
    dst_segment: int
    buffer_mode: str
    time_ms: float               # cache maintenance on the PS

    @property
    def label(self) -> str:
        return f"{self.src_device}->{self.dst_device} {self.tensor}"

    def to_json(self) -> dict[str, Any]:
        return {"from": self.src_device, "to": self.dst_device, "tensor": self.tensor, "bytes": self.bytes,
                "src_segment": self.src_segment, "dst_segment": self.dst_segment,
                "buffer_mode": self.buffer_mode, "time_ms": self.time_ms}


@dataclass(frozen=True)
class SyncRecord:
    segment: int
    layer: str | None            # None: one start/completion for the whole segment
    event: str                   # "start" or "done"
    invocations: int
    time_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
