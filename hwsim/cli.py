"""``hwsim``: the one front door.  Every subcommand takes ``--json`` for machine-readable output.

Each subcommand lives in ``hwsim/commands/<name>.py`` with ``register(subparsers)`` (which sets
``func`` on its parser) and returns an exit code.  Any error the user can cause comes out as one
line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import signal
import sys


class _Sigint:
    """SIGINT while the CLI runs: the first one raises ``KeyboardInterrupt`` (reported as
    ``hwsim: interrupted``, exit 130); more while that unwinds are ignored, so a teardown finishes
    and the report stays one line (a third forces the exit, for a teardown that hangs); one after
    the command's work is done is remembered (exit 130 too), never raised.  As the process ends
    (``main()`` of the command line) SIGINT is ignored, because the interpreter's shutdown resets a
    Python handler to the default one and a Ctrl-C there would kill the process (status -2)."""

    def __init__(self) -> None:
        self.count = 0
        self.done = False
        self.late = False
        self.reported = False
        self.old: object = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.done:
            self.late = True
            return
        self.count += 1
        if self.count == 1:
            raise KeyboardInterrupt
        if self.count >= 3:
            if not self.reported:
                _write_stderr("hwsim: interrupted\n")
            os._exit(130)

    @classmethod
    def install(cls, main_thread: bool = False) -> "_Sigint | None":
        if not main_thread:
            import threading
            if threading.current_thread() is not threading.main_thread():
                return None
        h = cls()
        h.old = signal.signal(signal.SIGINT, h)
        return h


def _write_stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        try:
            os.write(2, text.encode())
        except OSError:
            pass


# The command line (``python -m hwsim.cli``, the ``hwsim`` script): from the first line of the CLI's
# own code (the imports below and the parser's take a moment), not only from ``main()`` on.
_EARLY = (_Sigint.install(main_thread=True) if __name__ == "__main__" or os.path.basename((sys.argv or [""])[0]) == "hwsim"
          else None)

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402

from .errors import HwsimError, UserError

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


def output_dir(path: str, flag: str = "--out"):
    """``path`` as a directory this process can write into (created if missing), or a one-line
    error naming what is wrong with it: checked before any work, so a long run is not lost at the end."""
    import tempfile
    from pathlib import Path
    out = Path(path)
    if out.exists() and not out.is_dir():
        what = "a file" if out.is_file() else "not a directory"
        raise HwsimError(f"{flag} {path!r} is {what}; give a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise HwsimError(f"{flag} {path!r}: cannot write there: {e.strerror or e}") from None
    return out


def print_json(obj) -> None:
    """The JSON boundary of the CLI: never NaN or Infinity (a model bug if there is one)."""
    from .schema import assert_finite_json
    assert_finite_json(obj)
    json.dump(obj, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


class OutputError(HwsimError):
    """Standard output cannot be written (closed, disk full)."""


class _Stdout:
    """Standard output whose write errors (other than a broken pipe) are one ``OutputError``."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _call(self, name: str, *a):
        if self._stream is None:
            raise OutputError("cannot write to standard output: it is closed")
        try:
            return getattr(self._stream, name)(*a)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"cannot write to standard output: {e.strerror or e}") from None

    def write(self, text: str) -> int:
        return self._call("write", text)

    def flush(self) -> None:
        self._call("flush")

    def isatty(self) -> bool:
        return bool(self._stream is not None and self._stream.isatty())

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError("standard output is closed")
        return self._stream.fileno()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _silence_stdout() -> None:
    """After an output error: point fd 1 at /dev/null so the interpreter's final flush is quiet."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
    except OSError:
        pass
    stream = sys.stdout._stream if isinstance(sys.stdout, _Stdout) else sys.stdout
    if stream is not None:
        try:
            stream.flush = lambda: None     # drop what is still buffered for the failed stream
        except (AttributeError, TypeError):
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"hwsim.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status.  ``argv=None`` is the process's own command line (the
    ``hwsim`` script, ``python -m hwsim[.cli]``): the process ends after it, so SIGINT stays
    ignored from its return on.  Otherwise (a caller's ``argv``) the caller's SIGINT handler comes back."""
    global _EARLY
    sigint, _EARLY = (_EARLY or _Sigint.install()), None
    code = 130
    try:
        try:
            code = _main(argv)
        finally:
            if sigint is not None:
                sigint.done = True      # from here a Ctrl-C is remembered, never raised
    except KeyboardInterrupt:
        code = 130
    finally:
        if sigint is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN if argv is None else sigint.old)
    if code == 130 or (sigint is not None and sigint.late):
        if sigint is not None:
            sigint.reported = True
        _write_stderr("hwsim: interrupted\n")
        code = 130
        if argv is None:
            _exit_interrupted()
    return code


def _exit_interrupted() -> None:
    """End an interrupted process with status 130 whatever the interpreter would make of it: a
    ``KeyboardInterrupt`` that passed through code run by ``exec`` of a string (a dataclass or
    namedtuple being built, say) leaves CPython's "unhandled KeyboardInterrupt" flag set even once
    caught, and the interpreter would then end by killing itself with SIGINT (status -2).  The
    exit handlers run first (SIGINT is ignored by now), then the standard streams are flushed."""
    import atexit
    try:
        atexit._run_exitfuncs()
    except BaseException:      # noqa: BLE001 - ending anyway
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:      # noqa: BLE001 - a closed or broken stream: nothing more to say
            pass
    os._exit(130)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    saved = sys.stdout
    sys.stdout = _Stdout(saved) if not isinstance(saved, _Stdout) else saved
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()      # a full disk shows here, not at interpreter exit
        return code
    except OutputError as e:
        print(f"hwsim: error: {e}", file=sys.stderr)
        _silence_stdout()
        return 2
    except user_errors() as e:
        print(f"hwsim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:   # `hwsim ... | head`: the reader left (recipe from the Python signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 1
    finally:
        sys.stdout = saved


if __name__ == "__main__":
    sys.exit(main())
