"""Where the RTL's build caches live and what they are keyed on (standard library only).

Location: ``$HWSIM_CACHE_DIR`` if set, else ``build/`` under the working directory (``make`` runs
from the checkout, so that is the checkout's ``build/``, which ``make clean`` removes).  Never the
installed package's directory: a non-editable install must not write into site-packages.

Key: ``generator_hash()`` hashes the source of every ``rtl`` module the Verilog generator imports
(the import closure of ``rtl.emit`` and ``rtl.top``, followed through the ``ast``, so
``rtl.contract`` and ``rtl.params`` are in it and the golden models and runners are not) and the
Amaranth version that turns them into Verilog.  Any edit that can change the emitted Verilog
therefore changes the key of the cocotb build directories and of the Yosys results.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
from importlib import metadata
from pathlib import Path

RTL = Path(__file__).resolve().parent
GENERATOR_ROOTS = ("emit", "top")      # rtl.emit writes the Verilog of rtl.top.LayerEngine


def cache_dir(kind: str) -> Path:
    """The directory of one cache (``cocotb``, ``synth``)."""
    root = os.environ.get("HWSIM_CACHE_DIR")
    return (Path(root) if root else Path.cwd() / "build") / kind


def _rtl_imports(name: str) -> set[str]:
    """Modules of the ``rtl`` package that ``rtl.<name>`` imports anywhere in its source."""
    tree = ast.parse((RTL / f"{name}.py").read_text(), filename=f"rtl/{name}.py")
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                mods = [node.module] if node.module else [a.name for a in node.names]
            elif node.level == 0 and node.module and node.module.startswith("rtl."):
                mods = [node.module[4:]]
            else:
                continue
        elif isinstance(node, ast.Import):
            mods = [a.name[4:] for a in node.names if a.name.startswith("rtl.")]
        else:
            continue
        out.update(m.split(".")[0] for m in mods if (RTL / f"{m.split('.')[0]}.py").is_file())
    return out


def generator_modules() -> list[str]:
    """The ``rtl`` modules (file stems) the Verilog generator's output depends on."""
    seen: set[str] = set()
    todo = list(GENERATOR_ROOTS)
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(_rtl_imports(m) - seen)
    return sorted(seen)


@functools.lru_cache(maxsize=1)
def generator_hash() -> str:
    """Short hash of the generator's sources and the Amaranth version (the caches' key)."""
    h = hashlib.sha256()
    try:
        h.update(f"amaranth {metadata.version('amaranth')}\n".encode())
    except metadata.PackageNotFoundError:
        h.update(b"amaranth ?\n")
    for m in generator_modules():
        h.update(f"{m}.py\n".encode() + (RTL / f"{m}.py").read_bytes())
    return h.hexdigest()[:8]
