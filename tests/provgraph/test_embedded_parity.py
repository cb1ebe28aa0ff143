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


# --- Neo4j Browser's queries (cypher/browser/, the guide's questions) -------------------------------------------------


def _browser_cases(g: KnownGraph) -> dict[str, list[dict[str, Any]]]:
    elements = ("a.model", "file", "p.figure", "b.summary")
    runs = ("run.a", "run.b", "run.p")
    return {
        "browser/lineage_graph": [{"ref": g.id(e)} for e in elements],
        "browser/impact_graph": [{"ref": g.id(e)} for e in elements],
        "browser/task_tree_graph": [{"run": g.id(r)} for r in runs],
        "browser/shared_entities_graph": [{"run": g.id(r)} for r in runs],
    }


def _graph_value(value: Any) -> Any:
    """A node as its id; a relationship as a marker: the Neo4j driver gives a relationship as (start, type, end),
    FalkorDB as its properties, so the engines are compared on nodes and on how many relationships."""
    if isinstance(value, list):
        return sorted((_graph_value(item) for item in value), key=repr)
    if isinstance(value, tuple) or (isinstance(value, dict) and "sk" in value):
        return "relationship"
    if isinstance(value, dict) and ("id" in value or "key" in value):
        return value.get("id") or value.get("key")
    return value


def test_every_browser_query_has_parity_cases(graph):
    from provgraph.graph.cypher import cypher_dir

    names = {f"browser/{path.stem}" for path in (cypher_dir() / "browser").glob("*.cypher")}
    # examples picks the newest runs of the whole graph: tests/provgraph/test_browser_examples.py checks it
    assert names - {"browser/examples"} == set(_browser_cases(graph))


@pytest.mark.parametrize("name", sorted(_browser_cases(build("names"))))
def test_browser_query_gives_the_same_graph_on_both_backends(name, graph, clients):
    for params in _browser_cases(graph)[name]:
        answers = {}
        for engine, client in clients.items():
            rows = client.backend.read(client.backend.render(name), params)
            answers[engine] = sorted(
                ({key: _graph_value(value) for key, value in row.items()} for row in rows), key=repr
            )
        assert answers["embedded"] == answers["neo4j"], f"{name}{params}"
        assert any(row.get("nodes") or row.get("entity") for row in answers["neo4j"]), (
            f"{name}{params}: empty"
        )


# --- Cypher forms the engines answer differently (docs/embedded.md, "Cypher that differs") -----------------------
#
# Each: a form valid on Neo4j that FalkorDB answers otherwise, and its portable rewrite; the test shows both the
# difference and that the rewrite gives Neo4j's answer on both engines. Runs on the known graph's tasks only.

_TASKS = "MATCH (t:Task) WHERE t.id IN $ids "

DIALECT = {
    "two pattern comprehensions reusing a variable": (
        _TASKS + "RETURN t.id AS id, [(t)-[:used]->(x) | x.id] AS used, "
        "[(t)<-[:wasGeneratedBy]-(x) | x.id] AS generated ORDER BY id",
        _TASKS + "RETURN t.id AS id, [(t)-[:used]->(input) | input.id] AS used, "
        "[(t)<-[:wasGeneratedBy]-(output) | output.id] AS generated ORDER BY id",
    ),
    "EXISTS { } and COUNT { } subqueries": (
        _TASKS + "RETURN t.id AS id, EXISTS { (t)-[:used]->() } AS uses, COUNT { (t)-[:used]->() } AS inputs "
        "ORDER BY id",
        _TASKS
        + "RETURN t.id AS id, size([(t)-[:used]->() | 1]) > 0 AS uses, size([(t)-[:used]->() | 1]) AS inputs "
        "ORDER BY id",
    ),
    "exists() on a pattern": (
        _TASKS + "RETURN t.id AS id, exists((t)-[:used]->()) AS uses ORDER BY id",
        _TASKS + "RETURN t.id AS id, size([(t)-[:used]->() | 1]) > 0 AS uses ORDER BY id",
    ),
    "a scoped CALL (x) { } subquery": (
        _TASKS + "CALL (t) { MATCH (t)-[:used]->(input) RETURN count(input) AS inputs } "
        "RETURN t.id AS id, inputs ORDER BY id",
        _TASKS + "CALL { WITH t MATCH (t)-[:used]->(input) RETURN count(input) AS inputs } "
        "RETURN t.id AS id, inputs ORDER BY id",
    ),
    "STARTS WITH a sum, then AND": (
        _TASKS
        + "RETURN t.id AS id, t.id STARTS WITH 'pgid' + ':' AND t.name IS NOT NULL AS ours ORDER BY id",
        _TASKS
        + "RETURN t.id AS id, t.id STARTS WITH ('pgid' + ':') AND t.name IS NOT NULL AS ours ORDER BY id",
    ),
    "a pattern used as a value": (
        _TASKS + "RETURN t.id AS id, (t)-[:used]->() AS uses ORDER BY id",
        _TASKS + "RETURN t.id AS id, size([(t)-[:used]->() | 1]) > 0 AS uses ORDER BY id",
    ),
}


def _answer(client: Client, query: str, params: dict[str, Any]) -> Any:
    try:
        return _normalised_lists(client.backend.read(query, params))
    except Exception as exc:  # noqa: BLE001 - the refusal is the answer being compared
        return f"refused: {type(exc).__name__}"


def _normalised_lists(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: sorted(v, key=repr) if isinstance(v, list) else v for k, v in row.items()} for row in rows]


@pytest.mark.parametrize("form", sorted(DIALECT))
def test_cypher_that_differs_on_the_embedded_engine_and_its_portable_rewrite(form, graph, clients):
    differing, portable = DIALECT[form]
    # an epoch uses nothing: a question with a "no" among its answers
    params = {
        "ids": [graph.id(t) for t in ("a.load", "a.clean", "a.train", "a.epoch0", "b.report", "p.plot")]
    }
    neo4j, embedded = (_answer(clients[e], portable, params) for e in ("neo4j", "embedded"))
    assert neo4j == embedded and isinstance(neo4j, list) and len(neo4j) == 6
    assert any(any(v for k, v in row.items() if k != "id") for row in neo4j)  # the question has answers
    differs = {e: _answer(clients[e], differing, params) for e in ("neo4j", "embedded")}
    assert differs["neo4j"] != differs["embedded"], f"{form}: the engines agree now; update docs/embedded.md"
    # Neo4j answers it as the rewrite does, or refuses it (a pattern as a value is not Cypher 5): never wrongly
    assert differs["neo4j"] == neo4j or str(differs["neo4j"]).startswith("refused")
