"""The package's layers, held by walking every module's ``ast`` imports (lazy ones inside
functions included):

    rtl      the RTL contract, the PE-array description, the engines, goldens, cycle model, runners
    mapper   the IR, ONNX import, graph passes, the partitioner
    hwsim    the physical models (memory, PL, PS, transfer, timeline, resources, estimate), the
             applications (study, sweep, pareto, rtl-check) and the CLI (cli, commands)

Nothing below imports from above: ``rtl`` imports neither ``mapper`` nor ``hwsim``, ``mapper`` does
not import ``hwsim``; the modules' import graph has no cycle (the CLI's commands, which import
``hwsim.cli`` for shared options and are loaded by name, not by an import statement, excepted);
and importing ``hwsim.cli`` loads neither Amaranth, cocotb nor Dask (``hwsim estimate`` starts fast).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rtl", "mapper", "hwsim")
HEAVY = ("amaranth", "cocotb", "cocotb_tools", "cocotbext", "dask", "distributed")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules ``name`` imports anywhere in its source (a ``from pkg import mod`` counts as mod)."""
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, mods) for m, p in mods.items()}


MODELS = ("hwsim.errors", "hwsim.config", "hwsim.memory", "hwsim.pl", "hwsim.ps", "hwsim.transfer",
          "hwsim.timeline", "hwsim.resources", "hwsim.fitcheck", "hwsim.estimate", "hwsim.runtime",
          "hwsim.schema", "hwsim.sections", "hwsim.records")
APPLICATIONS = ("hwsim.study", "hwsim.sweep", "hwsim.pareto", "hwsim.rtlcheck", "hwsim.trace", "hwsim.advise")
KNOWN: set[tuple[str, str]] = set()     # upward imports tolerated for now: none


def _tier(m: str) -> int:
    """0 rtl, 1 mapper, 2 hwsim's physical models, 3 its applications, 4 the CLI."""
    top = m.split(".")[0]
    if top != "hwsim":
        return PACKAGES.index(top)
    if m.startswith(MODELS) or m == "hwsim":
        return 2
    if m.startswith(APPLICATIONS):
        return 3
    return 4


def test_every_hwsim_module_has_a_tier():
    hw = [m for m in _graph() if m.startswith("hwsim.")]
    assert [m for m in hw if _tier(m) == 4 and not (m in ("hwsim.cli", "hwsim.__main__")
                                                   or m.startswith("hwsim.commands"))] == []


def test_lower_layers_never_import_higher_ones():
    bad = [(m, t) for m, ts in _graph().items() for t in ts if _tier(t) > _tier(m) and (m, t) not in KNOWN]
    assert bad == []


def test_the_module_import_graph_has_no_cycle():
    g = _graph()
    # the commands import hwsim.cli for the shared options; hwsim.cli loads them by name (importlib)
    for m in g:
        if m.startswith("hwsim.commands."):
            g[m].discard("hwsim.cli")
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                cycles.append(path[path.index(t):] + [t])
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_cli_and_an_estimate_import_no_amaranth_cocotb_or_dask():
    code = ("import contextlib, io, sys, hwsim.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert hwsim.cli.main(['estimate', 'mobilenet_v1', '--input-size', '64']) == 0\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_applications_do_not_import_the_cli():
    g = _graph()
    apps = [m for m in g if _tier(m) == 3]
    assert "hwsim.sweep" in apps and "hwsim.study" in apps
    assert [(m, t) for m in apps for t in g[m] if t == "hwsim.cli" or t.startswith("hwsim.commands")] == []


def test_rtl_contract_imports_neither_numpy_nor_amaranth():
    code = ("import sys, rtl.contract, rtl.cycles; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'amaranth'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_the_rtl_extra_hwsim_rtl_is_a_one_line_error(tmp_path):
    """``pip install .`` has no Amaranth (pyproject's [rtl] extra): the generator says what to install."""
    code = ("import sys\n"
            "for m in ('amaranth', 'amaranth.back', 'amaranth.hdl', 'amaranth.sim'): sys.modules[m] = None\n"
            "from hwsim.cli import main\n"
            f"sys.exit(main(['rtl', '--out', {str(tmp_path / 'v')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == ("hwsim: error: Amaranth (the Verilog generator) is not installed: "
                        "pip install 'zynq-codesign-sim[rtl]'\n")


def test_the_study_and_advise_run_on_the_base_install_alone(tmp_path):
    """``make sim`` installs only pyproject's base dependencies: with every extra's packages blocked,
    an Optuna-searched ``hwsim advise`` (the study's what-if rows) still runs, and every third-party
    package it loads from the extras' and base lists is a base dependency."""
    import tomllib
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {d.split(">")[0].split("<")[0].split("=")[0].strip().replace("-", "_") for d in project["dependencies"]}
    extras = {d.split(">")[0].split("<")[0].split("=")[0].strip().replace("-", "_")
              for deps in project["optional-dependencies"].values() for d in deps if not d.startswith("zynq")}
    blocked = sorted((extras - base) | set(HEAVY))
    code = ("import contextlib, io, sys\n"
            f"for m in {blocked!r}: sys.modules[m] = None\n"
            "from hwsim.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "    rc = main(['advise', 'mobilenet_v3_small', '--input-size', '64', '--budget', '4', '--json'])\n"
            f"print(rc, sorted({{m.split('.')[0] for m in sys.modules if sys.modules[m] is not None}} & "
            f"set({sorted(base | extras)!r})))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rc, loaded = r.stdout.strip().split(" ", 1)
    assert rc == "0" and "optuna" in loaded            # the search really ran Optuna
    assert set(ast.literal_eval(loaded)) <= base, (loaded, base)
