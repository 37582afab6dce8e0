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

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

__all__ = ["estimate", "advise", "sweep"]


def _sweep_rows(models: str | list[str], grid: list[str], *, policy: str | list[str] = "naive",
                board: str | None = None, accel: str | None = None, overrides: list[str] | tuple[str, ...] = (),
                input_size: int | None = None, out: str | None = None, workers: int = 0,
                scheduler: str | None = None, resume: bool = False) -> list[dict[str, Any]]:
    """``hwsim sweep``: every point of ``grid`` (``"section.key=v1,v2"`` strings) for every model and
    policy, as rows (the columns of ``results.csv``, numbers typed; grid values as given).
    ``workers=0`` evaluates in this process; ``out`` defaults to a temporary directory."""
    import tempfile
    from pathlib import Path

    from hwsim import sweep as sw

    models = [models] if isinstance(models, str) else list(models)
    policies = [policy] if isinstance(policy, str) else list(policy)
    evaluator = sw.DefaultEvaluator()
    spec = sw.Sweep.create(models, policies, list(grid), evaluator, board=board, accel=accel,
                           overrides=list(overrides), input_size=input_size)
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(out) if out is not None else Path(tmp) / "sweep"
        sw.run(spec, where, evaluator, workers=workers, scheduler=scheduler, resume=resume)
        _, raw = sw._read_results(where / sw.RESULTS)
    by_key = {(r["model"], r["policy"], *(r[k] for k in spec.keys)): r for r in raw}
    rows = []
    for p in spec.points():
        r = sw._typed(by_key[p.key()])
        r.update(zip(spec.keys, p.values))
        rows.append(r)
    return rows


# module name -> the function a call of that module runs
_CALLS = {"hwsim.estimate": lambda m: m.estimate, "hwsim.advise": lambda m: m.advise,
          "hwsim.sweep": lambda m: _sweep_rows}


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
