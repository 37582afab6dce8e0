"""``hwsim zoo``: every model of the built-in zoo with its native input size, MACs and parameters."""

from __future__ import annotations

import argparse

from ..cli import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zoo", help="list the built-in models (name, input size, MACs, parameters)",
                       description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def rows() -> list[dict]:
    """One row per zoo model, built at its native input size."""
    from mapper import zoo

    out = []
    for name in zoo.names():
        g = zoo.build(name)
        out.append({"name": name, "input_size": g.shape(g.inputs[0])[-1], "macs": g.total_macs(),
                    "params": g.total_params(), "family": zoo.info(name).family})
    return out


def run(args: argparse.Namespace) -> int:
    table = rows()
    if args.json:
        print_json(table)
        return 0
    width = max(len(r["name"]) for r in table)
    print(f"{'model':<{width}}  {'input':>7}  {'MMACs':>8}  {'Mparams':>7}  family")
    for r in table:
        size = f"{r['input_size']}x{r['input_size']}"
        print(f"{r['name']:<{width}}  {size:>7}  {r['macs'] / 1e6:>8.1f}  {r['params'] / 1e6:>7.2f}  {r['family']}")
    print("any command that takes a MODEL also takes a path to an .onnx file; --input-size N rescales")
    return 0
