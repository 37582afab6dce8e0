"""What a path names when it is not a regular file: a leaf both the model loader and the ONNX
importer use to say so in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _kind_of(p: Path) -> str | None:
    """What ``p`` is when it is not a regular file (a directory, a character device, ...)."""
    try:
        mode = p.stat().st_mode
    except OSError:
        return None
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return None if stat.S_ISREG(mode) else "not a regular file"


def describe_non_file(p: Path) -> str | None:
    """``None`` for a regular file; else a phrase saying what ``p`` is ("does not exist", ...)."""
    if not p.exists():
        return "does not exist"
    what = _kind_of(p)
    if what is None:
        return None
    extra = " (/dev/null reads as empty)" if str(p) == os.devnull else ""
    return f"is {what}, not an ONNX file{extra}"
