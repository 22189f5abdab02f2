"""The package's import graph, read with ``ast`` for the architecture tests.

Every import counts, wherever it is written: module level, inside functions, under
``TYPE_CHECKING``, ``import_module("literal")`` calls, and the doors hub's ``DOORS``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "loom_django"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def module_files() -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    found: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def _targets(module: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # ``from pkg import sub`` runs the facade ``pkg/__init__`` too: both are edges.
            yield base, node.lineno
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    yield sub, node.lineno
        elif isinstance(node, ast.Call) and _calls_import(node):
            for arg in node.args[:1]:
                if isinstance(arg, ast.Constant) and arg.value in modules:
                    yield arg.value, node.lineno
        elif isinstance(node, ast.Assign | ast.AnnAssign) and _names(node, "DOORS"):
            # The hub's list of doors: imported by name, one edge per door module.
            for item in ast.walk(node.value or ast.Tuple(elts=[])):
                if isinstance(item, ast.Constant) and item.value in modules:
                    yield item.value, node.lineno


def _calls_import(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def _names(node: ast.Assign | ast.AnnAssign, name: str) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return any(isinstance(t, ast.Name) and t.id == name for t in targets)


def _owner(target: str, modules: dict[str, Path]) -> str | None:
    """The package module ``target`` names (its longest existing prefix)."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def import_graph() -> dict[str, dict[str, int]]:
    """``{module: {imported package module: first line}}``, self-imports left out."""
    modules = module_files()
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in _targets(module, path, modules):
            if not target.startswith(PACKAGE):
                continue
            owner = _owner(target, modules)
            if owner is not None and owner != module:
                edges.setdefault(owner, line)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
