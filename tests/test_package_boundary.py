"""The boundary between the two packages is the documented one (docs/architecture.md, "Two import packages").

provgraph imports capture's contract (`capture.wire`, `capture.settings`, `capture.errors`, the public `capture`
API) and, by name, the few capture implementations both sides share. A new import of another capture module
fails here: make what you need part of the contract, or add it to the list and to the table in the docs.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CONTRACT = {"capture", "capture.wire", "capture.settings", "capture.errors"}
# capture modules the store side shares, each for one reason (the same list as docs/architecture.md)
SHARED = {
    "capture._redaction",  # one redaction for both sides: errors, CLI lines and logs are scrubbed like records
    "capture._embedded_url",  # where the embedded server listens: provgraph writes it, capture reads it
    "capture._streams",  # one Redis connection and stream placement (Redis Cluster partitions) for both sides
    "capture._sinks",  # `provgraph capture replay` sends spilled messages through capture's own Redis sink
    "capture._spill",  # ... read from capture's spill files
    "capture._values",  # the demo names its file entity as capture does
    "capture.adapters.mlflow",  # `provgraph import mlflow` builds records with the MLflow adapter
}


def _capture_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "capture"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "capture":
            if node.module == "capture":  # `from capture import wire` imports the module capture.wire
                found |= {
                    f"capture.{a.name}" if a.name in {"wire", "settings", "errors"} else "capture"
                    for a in node.names
                }
            else:
                found.add(node.module)
    return found


def test_provgraph_imports_only_capture_contract_and_the_listed_shared_modules() -> None:
    used = {module: path for path in (REPO / "provgraph").rglob("*.py") for module in _capture_imports(path)}
    assert "capture.wire" in used, "the walk found no import of the wire format"
    outside = {
        module: str(path.relative_to(REPO))
        for module, path in used.items()
        if module not in CONTRACT | SHARED
    }
    assert outside == {}


def test_capture_imports_nothing_of_the_store_side() -> None:
    store = {"provgraph", "neo4j", "prov", "rdflib"}
    wrong = [
        f"{path.relative_to(REPO)}: {node.lineno}"
        for path in (REPO / "capture").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.Import) and any(a.name.split(".")[0] in store for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in store)
    ]
    assert wrong == []
