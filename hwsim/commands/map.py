"""``hwsim map``: place a model's ops on the PL (accelerator) or the PS (ARM cores) and show the
segments, their ops and MACs, and every PS<->PL transfer."""

from __future__ import annotations

import argparse
import textwrap

from ..cli import add_target_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("map", help="PL/PS partition of a model: segments, ops, MACs, transfers",
                       description=__doc__.replace("``", "").strip())
    p.add_argument("model", metavar="MODEL", help="zoo model name (see hwsim zoo) or path to an .onnx file")
    add_target_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def _mb(n: int) -> str:
    return f"{n / 1e6:.3f} MB" if n >= 100_000 else f"{n} B"


def run(args: argparse.Namespace) -> int:
    from mapper.models import import_note, load_model

    from ..config import load
    from ..estimate import plan_model

    cfg = load(args.board, args.accel, args.overrides, runtime=args.runtime)
    graph = load_model(args.model, args.input_size)
    plan = plan_model(graph, cfg, args.policy)
    size = graph.shape(graph.inputs[0])[-1]
    if args.json:
        print_json({**plan.to_json(), "board": cfg.board_name, "accel": cfg.accel_name, "input_size": size,
                    "macs": graph.total_macs(), "transfer_bytes": plan.transfer_bytes(),
                    "dropped_nodes": list(graph.meta.get("dropped_nodes", [])),
                    "quantisation": graph.meta.get("quantisation")})
        return 0
    ps = [s for s in plan.segments if s.device == "PS"]
    print(f"{plan.model} {size}x{size} on {cfg.board_name} / {cfg.accel_name}, policy {plan.policy}: "
          f"{len(plan.segments)} segments ({len(ps)} on the PS), {len(plan.transfers)} transfers, "
          f"{_mb(plan.transfer_bytes())} crossing per frame")
    note = import_note(graph)
    if note:
        print(note)
    for s in plan.segments:
        print(f"\n[{s.index}] {s.device}  {len(s.nodes)} ops  {s.macs:,} MACs")
        groups: dict[str, list[str]] = {}           # PS ops grouped by why they are not on the PL
        for n in s.nodes:
            groups.setdefault(s.reasons.get(n, ""), []).append(n)
        for why, ops in groups.items():
            text = ", ".join(ops) + (f"  <- {why}" if why else "")
            print(textwrap.fill(text, width=100, initial_indent="    ", subsequent_indent="      "))
    print("\ntransfers (segment -1: the frame from the PS; segment "
          f"{len(plan.segments)}: the result to the PS):")
    for t in plan.transfers:
        print(f"  {t.src:>3} -> {t.dst:<3} {t.direction}  {t.bytes:>10} B  {t.tensor}")
    return 0
