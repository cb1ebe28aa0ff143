"""Quiet by default: `provgraph.Client` on Neo4j writes nothing to stderr across the whole query library.

The library's queries use Neo4j's current forms (`CALL (x) { ... }`), and the driver asks the server for no
notifications unless PROVGRAPH_NEO4J_NOTIFICATIONS does. Run in a fresh interpreter, as a user's script is, so
that nothing of pytest's logging set-up hides what would reach the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from _known_graph import build, delete, load, open_test_backend

from provgraph.graph.cypher import catalogue, importing_with_subqueries

ROOT = Path(__file__).resolve().parents[2]
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")

SCRIPT = """
import sys
sys.path.insert(0, "tests/provgraph")
from _known_graph import build
from test_embedded_parity import _cases
from capture.settings import Settings
from provgraph.client import Client
from provgraph.graph.cypher import catalogue

graph = build(sys.argv[1])
cases = _cases(graph)
missing = {q.name for q in catalogue()} - set(cases)
assert not missing, f"queries without cases: {missing}"
with Client(Settings.load(graph_url=sys.argv[2])) as client:
    for name, params_list in cases.items() if sys.argv[3] == "all" else ():
        for params in params_list:
            client.run(name, **params)
    client.diff(graph.id("run.a"), graph.id("run.b"))
    # a property key no graph has (this graph's token in its name): Neo4j warns about it when asked to
    client.cypher(f"MATCH (n:Element) WHERE n.absent_{sys.argv[1]} = 1 RETURN n LIMIT 1")
print("ran", sum(len(v) for v in cases.values()), "queries")
"""


@pytest.fixture(scope="module")
def loaded_graph():
    backend = open_test_backend("neo4j")
    graph = build(uuid.uuid4().hex[:12])
    load(backend, graph)
    yield graph
    delete(backend, graph)
    backend.close()


def _run_library(graph, which: str = "all", **env_changes: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(PYTHONPATH=str(ROOT), PROVGRAPH_SETTINGS=str(ROOT / "no-such-settings.yaml"), **env_changes)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, graph.token, NEO4J_URI, which],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.services  # loaded_graph: Neo4j
def test_client_on_neo4j_writes_nothing_to_stderr_across_the_query_library(loaded_graph):
    ran = _run_library(loaded_graph)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("ran ") and ran.stderr == ""


@pytest.mark.services  # loaded_graph: Neo4j
def test_notifications_come_back_when_asked_for(loaded_graph):
    # the script's last query names a property key no graph has: the server says so when warnings are asked for
    # (the library's own absent keys, like `fingerprint`, may exist once other tests wrote them)
    ran = _run_library(loaded_graph, "diff", PROVGRAPH_NEO4J_NOTIFICATIONS="warning")
    assert ran.returncode == 0, ran.stderr
    assert "does not exist" in ran.stderr
    assert "deprecated" not in ran.stderr  # and no query of the library uses a deprecated form


def test_library_uses_scope_clauses_and_falkordb_gets_importing_with():
    for query in catalogue():
        assert "CALL {" not in query.text, f"{query.name}: use CALL (variables) {{ ... }}"
    converted = importing_with_subqueries(
        "MATCH (a) CALL (a) {\n  MATCH (a)-->(b) RETURN b\n  UNION\n  MATCH (a)<--(b) RETURN b\n}\n"
        "CALL () { RETURN {x: 1} AS m UNION ALL RETURN {x: 2} AS m } RETURN b, m"
    )
    assert converted == (
        "MATCH (a) CALL {\n  WITH a\n  MATCH (a)-->(b) RETURN b\n  UNION\n  WITH a\n  MATCH (a)<--(b) RETURN b\n}\n"
        "CALL { RETURN {x: 1} AS m UNION ALL RETURN {x: 2} AS m } RETURN b, m"
    )
