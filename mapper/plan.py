"""The partitioner's result: an ordered list of PL/PS segments and the transfers between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Device = Literal["PL", "PS"]


@dataclass
class Segment:
    index: int
    device: Device
    nodes: list[str]                  # node names, in execution order
    macs: int = 0
    reasons: dict[str, str] = field(default_factory=dict)   # PS ops: node -> why it is not on the PL

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "device": self.device, "ops": list(self.nodes), "macs": self.macs,
                "reasons": dict(self.reasons)}


@dataclass
class Transfer:
    """A tensor crossing PS<->PL through DDR at a segment boundary."""

    src: int                          # producing segment index (-1: the frame's input, from the PS)
    dst: int                          # consuming segment index (len(segments): the frame's output)
    tensor: str
    bytes: int
    src_device: Device                # where the tensor is (no default: a PL->PS transfer must say so)
    dst_device: Device

    @property
    def direction(self) -> str:
        return "PS->PL" if self.src_device == "PS" else "PL->PS"

    def to_json(self) -> dict[str, Any]:
        return {"from": self.src_device, "to": self.dst_device, "tensor": self.tensor,
                "bytes": self.bytes, "src_segment": self.src, "dst_segment": self.dst}


@dataclass
class Plan:
    model: str
    policy: str
    segments: list[Segment]
    transfers: list[Transfer]
    graph: Any = field(repr=False, default=None)   # the (possibly rewritten) mapper.ir.Graph

    def device_of(self) -> dict[str, Device]:
        """Node name -> the device it runs on."""
        return {n: s.device for s in self.segments for n in s.nodes}

    def transfer_bytes(self, src_device: Device | None = None) -> int:
        """Bytes crossing PS<->PL per frame (only those leaving ``src_device``, if given)."""
        return sum(t.bytes for t in self.transfers if src_device in (None, t.src_device))

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "policy": self.policy,
                "segments": [s.to_json() for s in self.segments],
                "transfers": [t.to_json() for t in self.transfers]}
