"""capture's layers: every module imports only from layers below it, at module level, never inside a function.

A function-level import of a sibling hides a cycle until a formatter or a newcomer moves it to the top; this test
makes the order explicit (docs/architecture.md lists the same layers).
"""

from __future__ import annotations

import ast
from pathlib import Path

import capture

# Bottom first. A module may import modules of earlier layers only (not its own layer).
LAYERS: list[set[str]] = [
    {"errors"},
    {"settings", "_retry", "wire", "_redaction", "_lazy"},
    {"_ids", "_gpu"},
    {"_lineage"},
    {"_embedded_url", "_streams"},
    {"_sinks"},
    {"_spill"},
    {"_values"},
    {"_compact"},
    {"_emitter"},
    {"_context"},
    {"_telemetry"},
    {"_agents"},
    {"_records"},
    {"_handoff"},
    {"_tasks", "_custom", "_loops", "_workflow", "_llm"},
    {"_ai"},
    {"adapters._emit"},
    {"adapters.files", "adapters.dask", "adapters.mlflow", "adapters.tensorboard", "adapters.torch"},
]
PACKAGE = Path(capture.__file__).parent


def _layer_of(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if module in layer:
            return index
    raise AssertionError(
        f"capture/{module}.py is in no layer: add it to LAYERS here and to docs/architecture.md"
    )


def _capture_imports(node: ast.AST) -> list[tuple[str, int]]:
    """(imported capture module, line) for each import statement directly in ``node``'s body."""
    found: list[tuple[str, int]] = []
    for statement in getattr(node, "body", []):
        if isinstance(statement, ast.ImportFrom) and statement.module:
            if statement.module == "capture":
                found += [(alias.name, statement.lineno) for alias in statement.names]
            elif statement.module == "capture.adapters":
                found += [(f"adapters.{alias.name}", statement.lineno) for alias in statement.names]
            elif statement.module.startswith("capture."):
                found.append((statement.module.split(".", 1)[1], statement.lineno))
        elif isinstance(statement, ast.Import):
            found += [
                (alias.name.split(".", 1)[1], statement.lineno)
                for alias in statement.names
                if alias.name.startswith("capture.")
            ]
    return found


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def test_every_module_imports_only_from_layers_below_it():
    wrong = []
    for path in _modules():
        own = _layer_of(_name(path))
        for imported, line in _capture_imports(ast.parse(path.read_text())):
            if _layer_of(imported) >= own:
                wrong.append(
                    f"capture/{_name(path)}.py:{line} imports {imported} (layer {_layer_of(imported)} >= {own})"
                )
    assert not wrong, "\n".join(wrong)


def _imports_in_functions(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    holder = ast.Module(body=[node], type_ignores=[])
                    found += _capture_imports(holder)
    return found


def test_no_capture_import_inside_a_function():
    inside = [
        f"capture/{_name(path)}.py:{line} imports {module} inside a function"
        for path in _modules()
        for module, line in _imports_in_functions(ast.parse(path.read_text()))
    ]
    assert not inside, "\n".join(inside)


def test_the_function_level_check_sees_an_import():
    tree = ast.parse("def f():\n    if True:\n        from capture import _context\n")
    assert _imports_in_functions(tree) == [("_context", 3)]


def test_public_names_report_the_public_module():
    for name in capture.__all__:
        value = getattr(capture, name)
        assert getattr(value, "__module__", "capture") == "capture", name
