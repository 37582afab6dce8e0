"""``hwsim``: the one front door.  Every subcommand takes ``--json`` for machine-readable output.

Each subcommand lives in ``hwsim/commands/<name>.py`` with ``register(subparsers)`` (which sets
``func`` on its parser) and returns an exit code.  Any error the user can cause comes out as one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from .errors import UserError

COMMANDS = ["zoo", "map", "estimate", "compare", "rtl", "synth", "rtl_check", "study", "sweep", "advise"]


def user_errors() -> tuple[type[BaseException], ...]:
    """What the CLI reports as one line: ``UserError``, the root every user-facing error subclasses
    (``rtl.errors``)."""
    return (UserError,)


def add_target_args(p: argparse.ArgumentParser, *, policy: bool = True, input_size: bool = True) -> None:
    """The options every board-aware command shares."""
    p.add_argument("--board", default=None, help="board description (default: ultra96v1)")
    p.add_argument("--accel", default=None, help="accelerator description (default: the board's own)")
    p.add_argument("--runtime", default=None, metavar="NAME",
                   help="runtime profile: the software driving the PL, baremetal, linux_uio, pynq, vart or a "
                        ".toml path (default: the board's default_runtime)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any board/accelerator/runtime field, e.g. accel.clock_mhz=100 (repeatable)")
    if input_size:
        p.add_argument("--input-size", type=int, default=None, metavar="N",
                       help="square input resolution (default: the model's native size)")
    if policy:
        p.add_argument("--policy", choices=["naive", "optimized"], default="naive",
                       help="op placement policy (default: naive)")


def add_fit_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-fit-check", action="store_true",
                   help="simulate the accelerator even if it does not fit the board's device")


def check_fit(cfg, overrides: list[str], allow: bool = False) -> None:
    """The library's fit check (``hwsim.fitcheck.check_fit``), for the commands that take ``--no-fit-check``."""
    from .fitcheck import check_fit as check
    check(cfg, overrides, allow)


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2)
    sys.stdout.write("\n")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"hwsim.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except user_errors() as e:
        print(f"hwsim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:   # `hwsim ... | head`: the reader left (recipe from the Python signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
