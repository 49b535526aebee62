"""The layout of the package: one import name, every package installed, no import cycle.

The folders ``hw/``, ``golden/`` and ``sim/`` sit at the repository root and install
as ``cdma.hw``, ``cdma.golden`` and ``cdma.sim`` (``package-dir`` in
``pyproject.toml``).  These checks read the sources with :mod:`ast`, so they see
imports inside functions too (the lazy ones that keep ``cdma analyze`` from
loading Amaranth are imports all the same).
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIR = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _modules() -> dict[str, Path]:
    """Every module of the project: dotted name -> file, through the package-dir mapping."""
    out = {}
    for package, folder in PACKAGE_DIR.items():
        base = ROOT / folder
        for f in base.rglob("*.py"):
            rel = f.relative_to(base).with_suffix("").parts
            if any(p.startswith(".") or p == "__pycache__" for p in rel):
                continue
            # A mapped sub-package (cdma.hw) is walked from its own folder, not cdma/.
            name = ".".join((package,) + (rel[:-1] if rel[-1] == "__init__" else rel))
            out.setdefault(name, f)
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every import statement in module ``name``."""
    tree = ast.parse(MODULES[name].read_text(), str(MODULES[name]))
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            # `from pkg import mod` imports the module pkg.mod; `from mod import f` just mod.
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
            found += [(t, node.lineno) for t in subs or [target]]
    return found


def test_installed_packages_are_the_package_folders():
    """pyproject's package list names every folder with an ``__init__.py``, all under cdma."""
    declared = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {n for n in MODULES if _is_package(n)}
    assert declared == on_disk
    assert {n.split(".")[0] for n in declared} == {"cdma"}


def test_no_top_level_hw_golden_sim_imports():
    """Nothing imports the folders under their bare names (they are not installed so)."""
    bad = [f"{MODULES[m].relative_to(ROOT)}:{line}: {t}" for m in MODULES
           for t, line in _imports(m) if t.split(".")[0] in ("hw", "golden", "sim")]
    assert bad == []


def test_layering():
    """golden imports nothing else of the project; hw imports only itself and golden
    (the format's facts: magic, header sizes, codes), never sim or the tools."""
    bad = []
    for m in MODULES:
        for t, line in _imports(m):
            if not t.startswith("cdma"):
                continue
            if m.startswith("cdma.golden") and not (t == "cdma" or t.startswith("cdma.golden")):
                bad.append((m, line, t))
            if m.startswith("cdma.hw") and not t.startswith(("cdma.hw", "cdma.golden")):
                bad.append((m, line, t))
    assert bad == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a self-import)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_cycles():
    """The finder itself: a two-module cycle and a self-import are reported, a chain not."""
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"a"}}) == [["a"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycle():
    graph = {m: {t for t, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}
    assert len(graph) > 60          # the walk found the project (not an empty folder)
    assert _cycles(graph) == []


@pytest.mark.parametrize("name", ["cdma.study.analyze", "cdma.study.layers"])
def test_import_graph_sees_lazy_imports(name):
    """The analyze/layers pair, which once imported each other (one import lazily):
    the graph sees function-level imports, and only one direction is left."""
    targets = {t for t, _ in _imports(name)}
    assert "cdma.study.measure" in targets
    assert ("cdma.study.layers" in targets) == (name == "cdma.study.analyze")
