"""zynq-codesign-sim's Python API: the same numbers as the ``hwsim`` command line.

    import hwsim
    e = hwsim.estimate("mobilenet_v2", board="kv260")     # -> hwsim.estimate.Estimate
    a = hwsim.advise("efficientnet_b4", input_size=256)    # -> hwsim.advise.Advice
    rows = hwsim.sweep("mobilenet_v2", grid=["accel.pp=2,4"])   # -> list of dicts, one per point

``import hwsim`` imports nothing else: the three are loaded on first use (no Amaranth, Dask or
Optuna at import).  ``hwsim.estimate``, ``hwsim.advise`` and ``hwsim.sweep`` are also the modules of
those names (``from hwsim.estimate import Estimate`` works): calling the module calls its function.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

__all__ = ["estimate", "advise", "sweep"]


# module name -> the function a call of that module runs
# (hwsim.sweep's call is hwsim.advise.sweep_rows: the package names the applications' modules, it
# imports none of them, so ``import hwsim`` stays light and below them)
_CALLS = {"hwsim.estimate": lambda m: m.estimate, "hwsim.advise": lambda m: m.advise,
          "hwsim.sweep": lambda m: importlib.import_module("hwsim.advise").sweep_rows}


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _CALLS[self.__name__](self)(*args, **kwargs)


class _Loader(importlib.abc.Loader):
    """The real loader, then the module made callable (whoever imports it first)."""

    def __init__(self, inner: importlib.abc.Loader):
        self.inner = inner

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__class__ = _CallableModule
        self.inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:        # get_source, get_filename, ... for tracebacks and tools
        return getattr(self.inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in _CALLS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


if not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.insert(0, _Finder())
for _name in _CALLS:                     # imported before this package finished initialising (not normally)
    if _name in sys.modules:
        sys.modules[_name].__class__ = _CallableModule


def __getattr__(name: str) -> Any:
    if name in ("estimate", "advise", "sweep"):
        return importlib.import_module(f"hwsim.{name}")
    raise AttributeError(f"module 'hwsim' has no attribute {name!r}")
