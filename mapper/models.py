"""One way to get a graph: a zoo name or a path to an .onnx file, anywhere a model is named."""

from __future__ import annotations

from pathlib import Path

from .ir import Graph, IRError
from .paths import describe_non_file


class ModelError(IRError):
    """An unknown model name, a missing or unreadable model file, or a bad input size."""


def is_onnx_path(name_or_path: str) -> bool:
    """Whether the user means a file (an .onnx suffix or a path separator) rather than a zoo name."""
    return name_or_path.lower().endswith(".onnx") or "/" in name_or_path or "\\" in name_or_path


def load_model(name_or_path: str, input_size: int | None = None) -> Graph:
    """Build zoo model ``name_or_path`` or import the ONNX file it names, at ``input_size`` (square;
    default: the model's native size).  Bad names, files and sizes raise a one-line error."""
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int)
                                   or input_size < 1):
        raise ModelError(f"input size must be a positive number of pixels, not {input_size!r}")
    if is_onnx_path(name_or_path):
        path = Path(name_or_path)
        if not path.exists():
            raise ModelError(f"no such ONNX file {name_or_path!r}")
        if not path.is_file():
            raise ModelError(f"{name_or_path!r} {describe_non_file(path) or 'is not a regular file'}")
        if path.suffix.lower() != ".onnx":
            raise ModelError(f"{name_or_path!r} is not an .onnx file")
        try:
            from .onnx_import import load
        except ImportError as e:
            raise ModelError(f"cannot import {name_or_path!r}: ONNX import is unavailable ({e})") from None
        return load(str(path), input_size)
    from .zoo import ZooError, build
    try:
        return build(name_or_path, input_size)
    except ZooError as e:
        hint = " (or give a path to an .onnx file)" if str(e).startswith("unknown model") else ""
        raise ModelError(f"{e}{hint}") from None


def import_note(graph: Graph) -> str | None:
    """One line saying which imported nodes were dropped because no graph output depends on them."""
    dropped = graph.meta.get("dropped_nodes") or []
    if not dropped:
        return None
    shown = ", ".join(dropped[:5]) + (f", ... ({len(dropped) - 5} more)" if len(dropped) > 5 else "")
    return (f"note: dropped {len(dropped)} ONNX node(s) that no graph output depends on "
            f"(not counted as work): {shown}")
