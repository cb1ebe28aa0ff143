"""Every named query in cypher/ gives identical results on Neo4j and on the embedded FalkorDB server.

One known graph (`_known_graph.py`, ids embedding a fresh token) is loaded through the real loader into both
stores; each query then runs with several parameter sets on both, and the rows must be equal, in order. The only
normalisation is the order of lists that neither engine defines (a node's labels, run_diff's input sets).
Parameter sets are scoped to the graph's own ids, so other data in the shared Neo4j (or the session's embedded
server) cannot leak in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _known_graph import KnownGraph, build, delete, load, open_test_backend

from provgraph.client import Client, query_parameters
from provgraph.graph.cypher import catalogue

pytestmark = [pytest.mark.services, pytest.mark.embedded]


@pytest.fixture(scope="module")
def graph() -> KnownGraph:
    return build(uuid.uuid4().hex[:12])


@pytest.fixture(scope="module")
def clients(graph: KnownGraph, embedded_server: Any) -> Iterator[dict[str, Client]]:
    backends = {
        "neo4j": open_test_backend("neo4j"),
        "embedded": open_test_backend("embedded", home=str(embedded_server.home)),
    }
    for backend in backends.values():
        backend.ensure_schema()
        load(backend, graph)
    yield {name: Client(backend=backend) for name, backend in backends.items()}
    for backend in backends.values():
        delete(backend, graph)
        backend.close()


def _cases(g: KnownGraph) -> dict[str, list[dict[str, Any]]]:
    elements = ["a.model", "file", "a.threshold", "b.summary", "p.figure", "a.cleaned", "a.train", "run.a"]
    runs = ["run.a", "run.b", "run.p"]
    return {
        "lineage_upstream": [
            {"ref": g.id(e), "depth": d, "limit": lim}
            for e in elements
            for d in (1, 3, 30)
            for lim in (3, 100)
        ],
        "impact_downstream": [
            {"ref": g.id(e), "depth": d, "limit": lim}
            for e in elements
            for d in (1, 3, 30)
            for lim in (3, 100)
        ]
        + [{"ref": g.key("file"), "depth": 30, "limit": 100}],
        "derivation_chain": [
            {"source": g.id(s), "target": g.id(t), "depth": d}
            for s, t in [
                ("a.model", "file"),
                ("file", "a.model"),
                ("b.summary", "file"),
                ("p.figure", "file"),
                ("a.model", "b.rows"),
                ("a.cleaned", "a.threshold"),
            ]
            for d in (2, 30)
        ],  # fmt: skip
        "provenance_since": [
            {"ref": g.id(e), "activity": a, "depth": 30, "limit": 100}
            for e in ("a.model", "b.summary", "p.figure")
            for a in ("clean", "load", "pg:Task", "no-such-step")
        ],
        "task_tree": [{"run": g.id(r), "limit": lim} for r in runs for lim in (2, 100)],
        "shared_entities": [{"run": g.id(r), "limit": 100} for r in runs],
        "entity_runs": [{"ref": g.id(e), "limit": 100} for e in ("file", "a.model", "a.rows", "p.figure")],
        "campaign_products": [{"campaign": g.id("campaign"), "limit": lim} for lim in (3, 100)],
        "run_diff": [
            {"run_a": g.id(a), "run_b": g.id(b), "limit": 100}
            for a, b in [("run.a", "run.b"), ("run.b", "run.a"), ("run.a", "run.p")]
        ],
        "failed_tasks": [{"run": g.id(r), "limit": 100} for r in runs],
        "slowest_tasks": [
            {"run": g.id(r), "limit": lim, "kind": kind}
            for r in runs
            for lim in (3, 100)
            for kind in ("task", None)
        ],
        "peak_resources": [{"run": g.id(r), "limit": 100} for r in runs],
        "associations": [
            {"ref": g.id(e), "limit": 100} for e in ("a.model", "run.a", "p.figure", "a.epoch0")
        ],
        "runs": [{"workflow": g.names[w], "run": None, "limit": 10} for w in ("train", "plot")]
        + [{"workflow": None, "run": g.id(r), "limit": 10} for r in runs],
        "token_usage": [{"ref": g.id(e)} for e in ("run.a", "a.train", "a.model")],
        "token_usage_tasks": [{"run": g.id(r), "limit": lim} for r in runs for lim in (2, 100)],
        "token_usage_lineage": [{"ref": g.id(e)} for e in ("a.model", "file", "a.train", "b.summary")],
        "find": [
            {**dict.fromkeys(("text", "name", "path", "role", "value", "number", "label", "sha256")), **case}
            for case in [
                {"run": g.id("run.a"), "limit": 100},
                {"run": g.key("run.b"), "label": "Task", "limit": 100},
                {"run": g.id("run.p"), "path": "dataset.csv", "limit": 100},
                {"run": g.id("run.a"), "name": "threshold", "limit": 100},
                {"run": g.id("run.b"), "value": "0.7", "number": 0.7, "limit": 100},
                {"run": g.id("run.a"), "text": "MODEL", "limit": 100},
                {"run": g.id("run.a"), "role": "rows", "label": "Entity", "limit": 3},
                {"run": g.id("run.b"), "sha256": "ab" * 32, "limit": 100},
            ]
        ],
    }


# Lists whose order neither engine defines: a node's labels, and run_diff's inputs, outputs and parameters (pattern
# comprehensions and keys(), documented as sets).
_UNORDERED = {"labels", "inputs", "outputs", "parameters"}


def _order_key(item: Any) -> str:
    """A sort key that does not depend on a map's key order (the engines return map keys in different orders)."""
    return repr(sorted(item.items())) if isinstance(item, dict) else repr(item)


def _normalised(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            k: sorted(v, key=_order_key) if k in _UNORDERED and isinstance(v, list) else v
            for k, v in row.items()
        }
        for row in rows
    ]


def test_every_query_has_parity_cases(graph):
    assert {query.name for query in catalogue()} == set(_cases(graph))


@pytest.mark.parametrize("name", sorted(q.name for q in catalogue()))
def test_query_gives_identical_results_on_both_backends(name, graph, clients):
    cases = _cases(graph)[name]
    documented = {p.name for p in query_parameters(next(q for q in catalogue() if q.name == name))}
    non_empty = 0
    for params in cases:
        assert set(params) == documented, f"{name}: parity case misses parameters"
        neo4j = _normalised(clients["neo4j"].run(name, **params))
        embedded = _normalised(clients["embedded"].run(name, **params))
        assert embedded == neo4j, f"{name}{params}"
        non_empty += bool(neo4j)
    assert non_empty, f"{name}: every case returned nothing, so parity proves little"
