"""Place every op of a graph on the PL (the accelerator) or the PS (the ARM cores) and cut the
result into segments, with the PS<->PL transfers at their boundaries.

``partition(graph, accel, policy)`` takes ``accel``, the accelerator's typed, validated ``[accel]``
section (``hwsim.config.Config.accel``, an ``hwsim.sections.Accel``: any object with the fields of
``AccelSpec``; ``hwsim.schema`` has checked every value, so nothing here re-checks them), and
returns a ``mapper.plan.Plan``:

- The graph is first prepared (``mapper.passes.prepare``: batch-norm folding, fusion of the
  accelerator's ``pl_fused`` activations, canonical global pools) and its squeeze-and-excitation
  blocks are recognised (``find_se_blocks``).
- An op runs on the PL iff its kind is in ``accel.pl_ops`` and it fits the engine's limits
  (kernel, stride, channels, line-buffer width, weight buffer) and, when the caller passes one,
  ``pl_check(graph, node)`` accepts it (``hwsim`` passes its tiler and ``rtl.contract.check_tile``,
  so the op the cycle model cannot tile, e.g. a 1x7 conv, goes to the PS with the tiler's refusal
  as its reason instead of aborting the estimate); every other op runs on the PS with a one-line
  reason.  A 1x1 conv on a 1x1 map is an FC for this purpose.  Data-movement ops
  (concat, split, shuffle, reshape, flatten, dropout, transpose) ride with their producer.
- ``accel.replace_sigmoid`` (the Vitis AI quantiser's activation replacement; absent, ``"none"``):
  ``"all"``, every sigmoid becomes a hard-sigmoid and every swish a hard-swish before placement
  (``replace_sigmoid``), so they fuse and place as the hard versions, and a PS reason names the
  replacement; ``"except_se"``, the same except inside SE blocks, whose activations stay float.
- ``accel.placement = "compiler"`` (the DPU: its compiler assigns every op the DPU supports to it
  and the rest to the CPU, UG1414 "Currently Supported Operators"): SE blocks are placed op by op
  like everything else, whatever the policy.  Otherwise (this project's own array, whose software
  the user writes) the policy places them:
- Policy ``naive`` (the founding deployment): every SE block runs whole on the PS, so the block's
  feature map crosses PL->PS and the scaled map crosses PS->PL.  Policy ``optimized``: the SE's
  global pool stays on the PL, only the C-vector crosses to the PS for the FCs and the gate, the
  gate vector crosses back and the channel-wise multiply runs on the PL's depthwise engine as a
  per-channel scale (``attrs["pl_mode"] = "scale"``, rtl ``Mode.SCALE``).
- Segments are maximal runs of consecutive ops (in the graph's topological order) on one device.
- Transfers: a tensor produced on one device crosses to the other device once, at its first
  consumer there; after that it sits in DDR where any later segment of that device reads it.  The
  frame input comes from the PS (it crosses PS->PL if a PL op reads it); a graph output produced on
  the PL crosses PL->PS (``dst`` = number of segments); one produced on the PS does not move.
"""

from __future__ import annotations

from math import ceil
from typing import Callable, Protocol

from rtl.params import PEArrayParams

from .ir import DATA_MOVEMENT, Graph, IRError, Node, Op, kernel_size, strides
from .passes import SEBlock, find_se_blocks, is_conv_as_fc, is_depthwise, op_kinds, prepare
from .plan import Device, Plan, Segment, Transfer

POLICIES = ("naive", "optimized")
PL_STRIDES = (1, 2)            # the data mover's address generator steps by 1 or 2 pixels
_WINDOWED = (Op.DWCONV, Op.MAXPOOL, Op.AVGPOOL)   # ops on the depthwise engine's line buffer


# What the quantiser's replacement turns each activation into (vai_q_tensorflow2, UG1414 3.0
# "vai_q_tensorflow2 Supported Operations and APIs": "If 'activation' is 'sigmoid' or 'swish', will be
# converted to hard-sigmoid or hard-swish and then be quantized by default").
REPLACED = {Op.SIGMOID: Op.HSIGMOID, Op.SWISH: Op.HSWISH}


# Why the PL cannot run a node that passed pl_reason, or None: the caller's own answer (hwsim's
# tiler and rtl.contract.check_tile), so the mapper needs no import of the cycle model.
PLCheck = Callable[[Graph, Node], "str | None"]


class PartitionError(IRError):
    """A graph or accelerator description the partitioner cannot place (the message says why)."""


class AccelSpec(Protocol):
    """What the partitioner reads of the accelerator (``hwsim.sections.Accel`` has it, validated)."""
    pe: PEArrayParams
    pl_ops: tuple[str, ...]
    pl_fused: tuple[str, ...] | None
    max_kernel: int
    replace_sigmoid: str | None          # "none" (None), "all" or "except_se"
    placement: str | None                # "policy" (None) or "compiler"


def replace_sigmoid(g: Graph, mode: str = "all") -> Graph:
    """``g`` recognised (``prepare`` without folding or fusion: ``x * sigmoid(x)`` is a swish) with
    every sigmoid a hard-sigmoid and every swish a hard-swish (``REPLACED``), each replaced node marked
    ``attrs["replaced"]``; with ``mode == "except_se"`` the activations inside squeeze-and-excitation
    blocks stay as they are, marked ``attrs["kept"]``.

    A hard-sigmoid followed by a multiply is one DPU op (a Xilinx engineer in Xilinx/Vitis-AI issue
    #1113, measured.md), as is a conv with a fused hard-swish (UG1414 3.0 conv2d activations)."""
    g = prepare(g, [])
    keep = {name for b in find_se_blocks(g) for name in b.nodes} if mode == "except_se" else set()
    for n in g.nodes:
        if n.op in REPLACED:
            if n.name in keep:
                n.attrs["kept"] = n.op.value
                continue
            n.attrs["replaced"] = n.op.value
            n.op = REPLACED[n.op]
    return g


def _replaced(n: Node) -> str:
    """`` (sigmoid replaced by hsigmoid: accel.replace_sigmoid)`` for a replaced node, the reason an SE
    activation was kept, else ``""``."""
    was = n.attrs.get("replaced")
    if was:
        return f" ({was} replaced by {n.op}: accel.replace_sigmoid)"
    if n.attrs.get("kept"):
        return " (inside an SE block, not replaced: accel.replace_sigmoid = except_se)"
    return ""


def pl_reason(g: Graph, n: Node, pe: PEArrayParams, pl_ops: frozenset[Op], max_kernel: int) -> str | None:
    """Why ``n`` cannot run on the PL, or None if it can."""
    if is_conv_as_fc(g, n):
        return None if Op.FC in pl_ops else "1x1 conv on a 1x1 map is an fc; fc not in accel.pl_ops"
    dw = is_depthwise(g, n)
    if n.op == Op.DWCONV and not dw:
        return (f"depthwise with channel multiplier ({g.in_shape(n)[1]}->{n.attrs['cout']}) "
                f"is not supported by the depthwise engine")
    kind = Op.DWCONV if dw else n.op
    if kind not in pl_ops:
        return f"{kind}{_replaced(n)} not in accel.pl_ops"
    if kind == Op.MUL:
        shapes = [g.shape(t) for t in n.inputs]
        if not (len(shapes) == 2 and any(len(s) == 4 and s[2] == s[3] == 1 for s in shapes)):
            return "multiply of two full maps: the PL's multiply is the channel-wise scale (one operand N x C x 1 x 1)"
    x = g.in_shape(n)
    y = g.out_shape(n)
    chans = max(x[1] if len(x) > 1 else 1, y[1] if len(y) > 1 else 1)
    if n.op == Op.FC:
        chans = max(int(n.attrs["cin"]), int(n.attrs["cout"]))
    if chans > pe.max_channels:
        return f"{chans} channels > accel.max_channels {pe.max_channels}"
    if kind in (Op.CONV, *_WINDOWED):
        kh, kw = kernel_size(n)
        sh, sw = strides(n)
        if sh not in PL_STRIDES or sw not in PL_STRIDES:
            return f"stride {sh}x{sw} not supported (PL strides: 1, 2)"
        if kind == Op.CONV and max(kh, kw) > max_kernel:
            return f"kernel {kh}x{kw} > accel.max_kernel {max_kernel}"
        if kind == Op.DWCONV and (kh != kw or kh not in pe.dw_kernels):
            return f"kernel {kh if kh == kw else f'{kh}x{kw}'} not in dw_kernels {list(pe.dw_kernels)}"
        if kind in (Op.MAXPOOL, Op.AVGPOOL) and max(kh, kw) > pe.kmax:
            return f"pool window {kh}x{kw} > the depthwise window {pe.kmax}x{pe.kmax}"
        if kind in _WINDOWED and x[3] > pe.max_width:
            return f"row width {x[3]} > accel.max_width {pe.max_width} (the line buffer holds one row)"
    if kind in (Op.CONV, Op.FC):
        if kind == Op.CONV:
            kh, kw = kernel_size(n)
            reduction = x[1] // int(n.attrs.get("groups", 1)) * kh * kw
        else:
            reduction = int(n.attrs["cin"])
        if ceil(reduction / pe.icp) > pe.wbuf_depth:
            return (f"reduction of {reduction} weights per output > the weight buffer "
                    f"({pe.wbuf_depth} x icp {pe.icp})")
    return None


def _place(g: Graph, se_blocks: list[SEBlock], policy: str, pe: PEArrayParams, pl_ops: frozenset[Op],
           max_kernel: int, pl_check: PLCheck | None = None,
           compiler: bool = False) -> tuple[dict[str, Device], dict[str, str]]:
    """Node -> device, and node -> reason for every PS node (``compiler``: SE blocks op by op)."""
    forced: dict[str, tuple[Device, str]] = {}
    for b in [] if compiler else se_blocks:
        if policy == "naive":
            for name in b.nodes:
                forced[name] = ("PS", f"SE block {b.index} (naive policy)")
        else:
            for name in b.nodes:
                if name not in (b.pool, b.mul):
                    forced[name] = ("PS", f"SE block {b.index} excitation (FCs + gate run on the PS)")
            mul = g.node(b.mul)
            if b.channels > pe.max_channels:
                forced[b.mul] = ("PS", f"{b.channels} channels > accel.max_channels {pe.max_channels}")
            else:
                mul.attrs["pl_mode"] = "scale"
                forced[b.mul] = ("PL", "")
    producers = g.producers()
    device: dict[str, Device] = {}
    reasons: dict[str, str] = {}
    for n in g.nodes:
        if n.name in forced:
            dev, why = forced[n.name]
        elif n.op in DATA_MOVEMENT:
            src = producers.get(n.inputs[0]) if n.inputs else None
            dev = device[src.name] if src is not None else "PS"   # the frame itself sits on the PS
            why = "data movement with its producer" if dev == "PS" else ""
        else:
            r = pl_reason(g, n, pe, pl_ops, max_kernel) or (pl_check(g, n) if pl_check else None)
            dev, why = ("PS", r) if r else ("PL", "")
        device[n.name] = dev
        if dev == "PS":
            reasons[n.name] = why
    return device, reasons


def _segments(g: Graph, device: dict[str, Device], reasons: dict[str, str]) -> list[Segment]:
    segs: list[Segment] = []
    for n in g.nodes:
        dev = device[n.name]
        if not segs or segs[-1].device != dev:
            segs.append(Segment(len(segs), dev, []))
        s = segs[-1]
        s.nodes.append(n.name)
        s.macs += g.macs(n)
        if dev == "PS":
            s.reasons[n.name] = reasons[n.name]
    return segs


def _transfers(g: Graph, segs: list[Segment]) -> list[Transfer]:
    seg_of = {name: s for s in segs for name in s.nodes}
    where: dict[str, Segment | None] = {}           # tensor -> producing segment (None: frame input)
    for s in segs:
        for name in s.nodes:
            for t in g.node(name).outputs:
                where[t] = s
    out: list[Transfer] = []
    crossed: set[tuple[str, Device]] = set()        # (tensor, device it was copied to)
    for n in g.nodes:
        dst = seg_of[n.name]
        for t in dict.fromkeys(n.inputs):           # a node reading one tensor twice moves it once
            src = where.get(t)
            src_dev: Device = src.device if src is not None else "PS"
            if src_dev == dst.device or (t, dst.device) in crossed:
                continue
            crossed.add((t, dst.device))
            out.append(Transfer(src.index if src is not None else -1, dst.index, t,
                                g.tensors[t].nbytes, src_device=src_dev, dst_device=dst.device))
    for t in dict.fromkeys(g.outputs):
        src = where.get(t)
        if src is not None and src.device == "PL" and (t, "PS") not in crossed:
            out.append(Transfer(src.index, len(segs), t, g.tensors[t].nbytes, src_device="PL", dst_device="PS"))
    return out


def _check(g: Graph, segs: list[Segment], transfers: list[Transfer]) -> None:
    """Every node in exactly one segment, and data only ever flows forward between segments."""
    names = [name for s in segs for name in s.nodes]
    if sorted(names) != sorted(n.name for n in g.nodes) or len(set(names)) != len(names):
        raise PartitionError(f"internal: the segments of {g.name!r} do not cover each node exactly once")
    seg_of = {name: s.index for s in segs for name in s.nodes}
    producers = g.producers()
    for n in g.nodes:
        for t in n.inputs:
            p = producers.get(t)
            if p is not None and seg_of[p.name] > seg_of[n.name]:
                raise PartitionError(f"internal: segment cycle: {n.name!r} reads {t!r} from a later segment")
    for tr in transfers:
        if tr.src >= tr.dst:
            raise PartitionError(f"internal: transfer of {tr.tensor!r} runs backwards ({tr.src} -> {tr.dst})")


def partition(graph: Graph, accel: AccelSpec, policy: str = "naive", pl_check: PLCheck | None = None) -> Plan:
    """Place ``graph`` on the PL/PS of an accelerator described by ``accel`` (see the module doc);
    ``pl_check(graph, node)`` is the caller's last word on a node the PL limits accept."""
    if policy not in POLICIES:
        raise PartitionError(f"unknown policy {policy!r}; known: {', '.join(POLICIES)}")
    pe, pl_ops, max_kernel = accel.pe, op_kinds(accel.pl_ops), accel.max_kernel
    rs = accel.replace_sigmoid or "none"
    g = prepare(replace_sigmoid(graph, rs) if rs != "none" else graph, accel.pl_fused or ())
    se_blocks = find_se_blocks(g)
    device, reasons = _place(g, se_blocks, policy, pe, pl_ops, max_kernel, pl_check,
                             compiler=accel.placement == "compiler")
    segs = _segments(g, device, reasons)
    transfers = _transfers(g, segs)
    _check(g, segs, transfers)
    return Plan(model=graph.name, policy=policy, segments=segs, transfers=transfers, graph=g)
