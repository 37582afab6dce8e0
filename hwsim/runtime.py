"""Runtime profiles: the software that drives the PL (``data/runtimes/NAME.toml``, section ``runtime``).

A profile fixes what the board and the accelerator do not:

- ``buffer_mode`` of the tensors the PS and the PL share (those a plan's transfers carry):
  ``cacheable`` (the PS flushes/invalidates every line, ``hwsim.transfer``; its own accesses run at
  the cached ``ps.mem_gbps``), ``uncached`` (no maintenance; every PS read and write of a shared
  tensor at ``uncached_read_gbps`` / ``uncached_write_gbps``) or ``coherent`` (HPC/ACP: no
  maintenance; the PS at ``coherent_ps_ratio`` x the cached rate, and the PL's data mover on
  ``coherent_ports`` coherent ports at ``coherent_port_efficiency`` of a plain HP port,
  ``hwsim.memory``).
- the software cost of one PL invocation (``invoke_us``, the cores busy) and of its completion
  reaching software (``completion_us``: an interrupt's wake-up, the cores free, or a poll, the cores
  busy), and the granularity of invocations: ``segment`` (one run per PL segment: the DPU runs a
  compiled subgraph per run), ``layer`` (one start per PL layer: this project's engine runs one layer
  per configuration), ``tile`` (one per tile: a software-driven DMA per tile) or ``auto`` (segment
  for an accelerator with published resources, i.e. vendor IP that runs subgraphs; layer for this
  project's RTL);
- ``frames_in_flight``: the software's threads (a single-thread loop overlaps nothing);
- the fallback ops' rates: ``fallback_mac_rate`` x ``ps.macs_per_cycle``, ``fallback_elem_rate`` x
  ``ps.elem_ops_per_cycle`` (and the transcendental cycles divided by it), ``op_dispatch_us`` on
  top of ``ps.call_overhead_us`` (NEON C: 1, 1, 0; NumPy: slower, plus Python's dispatch);
- a per-frame CPU pre/post-processing cost, ``host_pre_post``: resize/normalise of the input
  (``pre_ops_per_input_elem`` element ops per input element) and softmax + top-k of the output
  (``ps.transcendental_cycles`` + ``post_ops_per_output_elem`` element ops per output element; the
  softmax only if the network does not end in its own), on one core at the fallback element rate,
  each ``max(compute, memory)`` where memory is writing the input / reading the output at its
  buffer's bandwidth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import HwsimError
from .memory import coherent_port  # noqa: F401  (coherent_port: the memory model's reading of it)
from .schema import BUFFER_MODES, COMPLETIONS, INVOCATIONS  # the choices live with the fields


@dataclass(frozen=True)
class Runtime:
    name: str
    buffer_mode: str
    invocation: str                 # resolved: segment | layer | tile
    invoke_s: float
    completion: str
    completion_s: float
    frames_in_flight: int
    fallback: str
    fallback_mac_rate: float
    fallback_elem_rate: float
    op_dispatch_s: float
    pre_ops_per_input_elem: float
    post_ops_per_output_elem: float
    uncached_read_bytes_per_s: float
    uncached_write_bytes_per_s: float
    coherent_ports: int
    coherent_port_efficiency: float
    coherent_ps_ratio: float

    @classmethod
    def from_config(cls, cfg: Any) -> "Runtime":
        """The runtime section, whose fields ``hwsim.schema`` validated at load (types, ranges, choices)."""
        if "runtime" not in cfg.data:
            raise HwsimError("the configuration has no [runtime] section (load it with hwsim.config.load)")
        rt = cfg.runtime                # typed and validated (choices too) by hwsim.config.build
        inv = rt.invocation
        if inv == "auto":
            inv = "segment" if cfg.published is not None else "layer"
        return cls(
            name=rt.name if rt.name is not None else cfg.runtime_name,
            buffer_mode=rt.buffer_mode,
            invocation=inv,
            invoke_s=rt.invoke_us * 1e-6,
            completion=rt.completion,
            completion_s=rt.completion_us * 1e-6,
            frames_in_flight=rt.frames_in_flight,
            fallback=rt.fallback or "",
            fallback_mac_rate=rt.fallback_mac_rate,
            fallback_elem_rate=rt.fallback_elem_rate,
            op_dispatch_s=rt.op_dispatch_us * 1e-6,
            pre_ops_per_input_elem=rt.pre_ops_per_input_elem,
            post_ops_per_output_elem=rt.post_ops_per_output_elem,
            uncached_read_bytes_per_s=rt.uncached_read_gbps * 1e9,
            uncached_write_bytes_per_s=rt.uncached_write_gbps * 1e9,
            coherent_ports=rt.coherent_ports,
            coherent_port_efficiency=rt.coherent_port_efficiency,
            coherent_ps_ratio=rt.coherent_ps_ratio,
        )

    @property
    def maintains_caches(self) -> bool:
        """Only cacheable shared buffers need the PS's flush/invalidate per line."""
        return self.buffer_mode == "cacheable"

    def shared_bandwidths(self, cached_bytes_per_s: float) -> tuple[float, float]:
        """(read, write) bytes/s of the PS's accesses to a PL-shared buffer in this buffer mode."""
        if self.buffer_mode == "uncached":
            return self.uncached_read_bytes_per_s, self.uncached_write_bytes_per_s
        if self.buffer_mode == "coherent":
            return cached_bytes_per_s * self.coherent_ps_ratio, cached_bytes_per_s * self.coherent_ps_ratio
        return cached_bytes_per_s, cached_bytes_per_s

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "buffer_mode": self.buffer_mode, "invocation": self.invocation,
                "invoke_s": self.invoke_s, "completion": self.completion, "completion_s": self.completion_s,
                "frames_in_flight": self.frames_in_flight, "fallback": self.fallback,
                "fallback_mac_rate": self.fallback_mac_rate, "fallback_elem_rate": self.fallback_elem_rate,
                "op_dispatch_s": self.op_dispatch_s, "pre_ops_per_input_elem": self.pre_ops_per_input_elem,
                "post_ops_per_output_elem": self.post_ops_per_output_elem,
                "uncached_read_bytes_per_s": self.uncached_read_bytes_per_s,
                "uncached_write_bytes_per_s": self.uncached_write_bytes_per_s,
                "coherent_ports": self.coherent_ports, "coherent_port_efficiency": self.coherent_port_efficiency,
                "coherent_ps_ratio": self.coherent_ps_ratio}


def host_pre_post(rt: Runtime, ps: Any, g: Any, shared: frozenset[str] | set[str]) -> list[dict[str, Any]]:
    """The frame's CPU pre- and post-processing on one core (``ps``: the runtime-scaled
    ``hwsim.ps.PSModel``): per record ``time_s = max(compute_s, memory_s)``.

    - pre: resize/normalise into each input tensor, ``pre_ops_per_input_elem`` element ops per element;
      memory: writing the tensor (at the shared buffer's write bandwidth if the PL reads it).
    - post: per output tensor, softmax (``ps.transcendental_cycles`` per element, unless the network
      ends in its own softmax) and top-k (``post_ops_per_output_elem`` element ops per element);
      memory: reading it (at the shared buffer's read bandwidth if the PL wrote it).
    """
    from mapper.ir import Op
    rd = ps.shared_read_bytes_per_s or ps.mem_bytes_per_s
    wr = ps.shared_write_bytes_per_s or ps.mem_bytes_per_s
    producer = {t: n for n in g.nodes for t in n.outputs}
    out = []
    for t in g.inputs:
        ten = g.tensors[t]
        bw = wr if t in shared else ps.mem_bytes_per_s
        compute = ten.numel * rt.pre_ops_per_input_elem / (ps.elem_ops_per_cycle * ps.freq_hz)
        out.append({"stage": "pre", "tensor": t, "elems": ten.numel, "bytes": ten.nbytes, "shared": t in shared,
                    "buffer_mode": rt.buffer_mode, "bandwidth_bytes_per_s": bw, "softmax": False,
                    "compute_s": compute, "memory_s": ten.nbytes / bw})
    for t in dict.fromkeys(g.outputs):
        ten = g.tensors[t]
        softmax = not (t in producer and producer[t].op == Op.SOFTMAX)
        bw = rd if t in shared else ps.mem_bytes_per_s
        cycles = ten.numel * ((ps.transcendental_cycles if softmax else 0.0)
                              + rt.post_ops_per_output_elem / ps.elem_ops_per_cycle)
        out.append({"stage": "post", "tensor": t, "elems": ten.numel, "bytes": ten.nbytes, "shared": t in shared,
                    "buffer_mode": rt.buffer_mode, "bandwidth_bytes_per_s": bw, "softmax": softmax,
                    "compute_s": cycles / ps.freq_hz, "memory_s": ten.nbytes / bw})
    for r in out:
        r["time_s"] = max(r["compute_s"], r["memory_s"])
    return out
