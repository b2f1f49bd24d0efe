"""The package's import graph: every module imports on its own, and nothing imports in a circle."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import liveops_htmx

ROOT = Path(liveops_htmx.__file__).parent
PACKAGE = "liveops_htmx"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for path in sorted(ROOT.rglob("*.py"))
    if "migrations" not in path.parts and not {"templates", "static"} & set(path.parts)
}


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imported(tree: ast.AST) -> set[str]:
    """Every module of the package this tree imports, at run time (TYPE_CHECKING left out)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking(node):
            stack.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        stack.extend(ast.iter_child_nodes(node))
    return {name for name in found if name in MODULES}


def import_graph() -> dict[str, set[str]]:
    return {name: _imported(ast.parse(path.read_text())) - {name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "liveops_htmx.serverside.hub" in graph["liveops_htmx.consumers"]
    assert "liveops_htmx.states" in graph["liveops_htmx.models"]
    # Imports inside functions count; TYPE_CHECKING ones do not.
    assert "liveops_htmx.runners" in graph["liveops_htmx.models"]
    assert "liveops_htmx.progress" not in graph["liveops_htmx.models"]


def test_the_cycle_finder_finds_a_circle_through_others():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_itself_through_others():
    assert cycles(import_graph()) == []


def test_the_sides_import_only_the_way_the_flow_goes():
    """Rendering uses neither side; the worker side never uses the server side, nor back."""
    graph = import_graph()

    def reached(name: str) -> set[str]:
        seen, todo = set(), [name]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    for name in graph:
        if name.startswith(f"{PACKAGE}.rendering"):
            assert not {m for m in reached(name) if ".workerside" in m or ".serverside" in m}
        if name.startswith(f"{PACKAGE}.workerside"):
            assert not {m for m in reached(name) if ".serverside" in m}, name


_ALONE = """
import importlib, sys
name = sys.argv[1]
try:
    importlib.import_module(name)
except Exception as exc:
    if type(exc).__name__ not in ("AppRegistryNotReady", "ImproperlyConfigured"):
        raise
    import django
    django.setup()
    importlib.import_module(name)
"""


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_alone_in_a_fresh_interpreter(name):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", _ALONE, name],
        cwd=ROOT.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
