"""Statement keys over meaning (scheme 2) on the real Neo4j: the same Turtle file imported three times, each in a
new process (where the RDF reader yields attributes in another order), leaves the graph as the first import made
it."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys

import prov.model as pm

NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")


def _turtle(path, ns: str) -> None:
    document = pm.ProvDocument()
    document.add_namespace("ex", ns)
    data = document.entity(
        "ex:data", {"ex:size": 3, "ex:tag": "a", "prov:label": "input", "ex:w": 2.5, "ex:z": "last"}
    )
    clean = document.activity(
        "ex:clean",
        datetime.datetime(2026, 1, 1),
        datetime.datetime(2026, 1, 1, 0, 0, 2),
        {"ex:by": "me", "ex:n": 1, "ex:host": "node7", "prov:label": "clean"},
    )
    document.agent("ex:alice", {"prov:type": pm.PROV["Person"], "ex:team": "x", "ex:since": 2020})
    document.used(clean, data, datetime.datetime(2026, 1, 1, 0, 0, 1), other_attributes={"prov:role": "in"})
    document.wasGeneratedBy("ex:out", clean, None, {"ex:k": "v", "ex:j": "w"})
    document.wasAssociatedWith(clean, "ex:alice")
    document.wasDerivedFrom("ex:out", data)
    path.write_text(document.serialize(format="rdf", rdf_format="turtle"))


def _counts(backend, ns: str) -> tuple[int, int, int]:
    """Nodes, declarations and relationships under the test's namespace (index-backed: key STARTS WITH)."""
    nodes = backend.read(
        "MATCH (n:Element) WHERE n.key STARTS WITH $ns RETURN count(n) AS nodes, sum(size(coalesce(n._decl, []))) AS decls",
        {"ns": ns},
    )[0]
    rels = backend.read(
        "MATCH (n:Element)-[r]->() WHERE n.key STARTS WITH $ns RETURN count(r) AS rels", {"ns": ns}
    )[0]
    return nodes["nodes"], nodes["decls"], rels["rels"]


def test_same_turtle_file_imported_three_times_in_three_processes_changes_nothing_after_the_first(
    tmp_path, neo4j_backend, unique
):
    ns = f"https://example.org/ttl/{unique}/"
    doc = f"ex:ttl-{unique}"
    path = tmp_path / "run.ttl"
    _turtle(path, ns)
    env = {**os.environ, "PROVGRAPH_GRAPH_URL": NEO4J_URI, "PYTHONHASHSEED": "random"}
    command = [sys.executable, "-m", "provgraph", "import", str(path), "--doc", doc]
    seen = []
    try:
        for _ in range(3):
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stderr
            seen.append(_counts(neo4j_backend, ns))
        nodes, decls, rels = seen[0]
        assert nodes >= 3 and decls >= 3 and rels >= 4, seen
        assert seen == [seen[0]] * 3
    finally:
        neo4j_backend.write(
            [
                ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": ns}),
                ("MATCH (n:Element) WHERE n.key STARTS WITH $doc DETACH DELETE n", {"doc": doc}),
                ("MATCH (n:Namespace {doc: $doc}) DETACH DELETE n", {"doc": doc}),
                ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": doc}),
            ]
        )
