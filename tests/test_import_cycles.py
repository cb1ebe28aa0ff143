"""No import cycle in capture/ or provgraph/, counting imports inside functions too.

A function-level import that closes a cycle works until someone moves it to the top of its module; this test
reads every module's source (no import runs) and fails on any cycle among a package's modules. Imports under
``if TYPE_CHECKING:`` never run and are not counted. ``from package import name`` counts as an import of the
submodule ``package.name`` when there is one, else of ``package`` itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_statements(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for statement in child.orelse:
                found += _import_statements(ast.Module(body=[statement], type_ignores=[]))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        found += _import_statements(child)
    return found


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module name -> the modules of the same package it imports (anywhere in its source)."""
    package = package_dir.name
    modules: dict[str, Path] = {}
    for path in package_dir.rglob("*.py"):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for statement in _import_statements(ast.parse(path.read_text(), str(path))):
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            elif statement.module and statement.level == 0:
                targets = [
                    f"{statement.module}.{alias.name}"
                    if f"{statement.module}.{alias.name}" in modules
                    else statement.module
                    for alias in statement.names
                ]
            else:  # relative imports: provgraph and capture use absolute ones only
                raise AssertionError(f"{path}:{statement.lineno}: relative import")
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of a name inside a.b
                    target = target.rpartition(".")[0]
                if target.split(".")[0] == package and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in sorted(graph[node]):
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", ["capture", "provgraph"])
def test_no_import_cycle(package: str) -> None:
    graph = import_graph(REPO / package)
    assert sum(len(targets) for targets in graph.values()) > 20, "the walk found almost no imports"
    assert cycles(graph) == []


def test_function_level_imports_count(tmp_path: Path) -> None:
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from knot import b\n")
    (package / "b.py").write_text("def later():\n    from knot.a import thing\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from knot import a\n"
    )
    graph = import_graph(package)
    assert graph["knot.c"] == set()
    assert cycles(graph) == [["knot.a", "knot.b"]]
