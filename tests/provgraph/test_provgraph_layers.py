"""provgraph's layers: a module imports only from layers below it, counting imports inside functions too.

The order is the one docs/architecture.md lists (bottom of the stack first). A new module goes into a layer here
and into that table; an import against the order (the graph reaching up into the CLI, say) fails this test.
"""

from __future__ import annotations

from pathlib import Path

from test_import_cycles import import_graph  # tests/ is on sys.path (its conftest.py), like _known_graph

import provgraph

# Bottom first. A module may import modules of earlier layers only (not of its own layer).
LAYERS: list[set[str]] = [
    {
        "errors",
        "redaction",
        "package_files",
        "graph.model",
        "graph.times",
        "prov.rdf",
        "prov.provjson",
        "tables",
        "tokens",
        "diff",
        "producers",
    },
    {"graph.cypher", "services.embedded"},
    {"graph.backend"},
    {"graph.falkordb", "graph.lookup", "graph.prefixes"},
    {"graph"},
    {"digests"},
    {"loader"},
    {"prov.importer", "tail", "autoload", "adapters", "audit", "cluster_loader"},
    {"prov.export"},
    {"purge"},
    {"prov.compare", "retention"},
    {"evidence"},
    {"client", "services.browser"},
    {"services.managed", "demo", ""},  # "": the package itself (provgraph/__init__.py)
    {"cli.main", "cli.query", "cli.adapters", "cli.browser", "cli.capture", "cli.demo", "cli.embedded"},
    {"cli.load", "cli.services", "cli.export", "cli.purge", "cli.tail", "cli.tokens", "cli.verify"},
    {"__main__", "_cli"},
]
PACKAGE = Path(provgraph.__file__).parent


def _short(module: str) -> str:
    return module.removeprefix("provgraph").removeprefix(".")


def _layer_of(module: str) -> int:
    for index, layer in enumerate(LAYERS):
        if _short(module) in layer:
            return index
    raise AssertionError(
        f"provgraph/{_short(module)} is in no layer: add it to LAYERS here and to docs/architecture.md"
    )


def test_every_module_imports_only_from_layers_below_it() -> None:
    graph = import_graph(PACKAGE)
    wrong = [
        f"{module} imports {imported} (layer {_layer_of(imported)} >= {_layer_of(module)})"
        for module, imports in sorted(graph.items())
        for imported in sorted(imports)
        if _layer_of(imported) >= _layer_of(module)
    ]
    assert not wrong, "\n".join(wrong)


def test_every_layer_names_existing_modules() -> None:
    modules = {_short(name) for name in import_graph(PACKAGE)}
    listed = set().union(*LAYERS)
    assert listed - modules == set(), "LAYERS names modules that no longer exist"
