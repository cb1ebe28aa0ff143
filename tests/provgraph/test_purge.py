"""Retention on both backends: `purge` removes exactly the chosen runs (no dangling relationship, no orphan
reference, every other document's export byte for byte unchanged), `--dry-run` lists exactly what goes, the
archive is the purged run's PROV, and `--keep-lineage` keeps every PROV relation while dropping telemetry and
long values."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from _known_graph import build, delete, load

from provgraph.errors import ConfigurationError, ExportError
from provgraph.prov.export import export, export_documents, serialize
from provgraph.purge import plan, purge, select


@pytest.fixture
def graph(any_backend: Any):
    g = build(uuid.uuid4().hex[:12])
    load(any_backend, g)
    yield g
    delete(any_backend, g)
    docs = [m.doc for m in g.messages]
    any_backend.write(
        [("MATCH (n:Element) WHERE any(d IN n.docs WHERE d IN $docs) DETACH DELETE n", {"docs": docs})]
    )


def _docs(g: Any) -> dict[str, str]:
    return {
        "shared": f"pgid:shared_{g.token}",
        **{name: f"pgid:doc_{name}_{g.token}" for name in ("a", "b", "p")},
    }


def _exports(backend: Any, docs: list[str]) -> dict[str, str]:
    """PROV-N of each document (one pass over the graph for all of them)."""
    return {doc: serialize(document, "provn") for doc, document in export_documents(backend, docs).items()}


def _one(backend: Any, query: str, **params: Any) -> Any:
    (row,) = backend.read(query, params)
    return row


def test_purge_removes_exactly_the_chosen_run(any_backend, graph, tmp_path):
    g, docs = graph, _docs(graph)
    keep = [docs["shared"], docs["b"], docs["p"]]
    before = _exports(any_backend, keep)
    relationships_a = _one(
        any_backend, "MATCH ()-[r]->() WHERE r.doc = $doc RETURN count(r) AS n", doc=docs["a"]
    )["n"]
    alone_a = sorted(
        row["id"]
        for row in any_backend.read(
            "MATCH (n:Element) WHERE n.docs = [$doc] RETURN n.id AS id", {"doc": docs["a"]}
        )
    )

    chosen = select(any_backend, runs=[g.id("run.a")])
    assert [(c.doc, c.run, c.workflow) for c in chosen] == [(docs["a"], g.id("run.a"), g.names["train"])]
    (dry,) = plan(any_backend, chosen)
    assert list(dry.elements) == alone_a and dry.nodes_alone == len(alone_a)
    assert (
        g.id("a.model") in dry.elements and g.id("run.a") in dry.elements and g.id("file") not in dry.elements
    )
    assert dry.nodes_shared == 1 and dry.relationships == relationships_a  # the file is shared with B and P
    lines: list[str] = []
    result = purge(any_backend, chosen, archive_dir=tmp_path / "archive", progress=lines.append)

    assert result.documents == [docs["a"]] and result.nodes_deleted == len(alone_a)
    assert result.relationships_deleted == relationships_a and result.nodes_kept_for_others == 1
    assert any("purged" in line for line in lines)
    # nothing of A is left, and nothing dangles
    assert (
        _one(any_backend, "MATCH ()-[r]->() WHERE r.doc = $doc RETURN count(r) AS n", doc=docs["a"])["n"] == 0
    )
    assert (
        _one(any_backend, "MATCH (n:Element) WHERE $doc IN n.docs RETURN count(n) AS n", doc=docs["a"])["n"]
        == 0
    )
    assert _one(any_backend, "MATCH (d:Document {id: $doc}) RETURN count(d) AS n", doc=docs["a"])["n"] == 0
    assert _one(any_backend, "MATCH (n:Namespace {doc: $doc}) RETURN count(n) AS n", doc=docs["a"])["n"] == 0
    keys = [g.key(short) for short in g.ids]
    orphans = any_backend.read(
        "MATCH (n:Element) WHERE n.key IN $keys AND n.declared = false OPTIONAL MATCH (n)-[r]-() "
        "WITH n, count(r) AS used WHERE used = 0 RETURN n.id AS id",
        {"keys": keys},
    )
    assert orphans == []
    file = _one(
        any_backend,
        "MATCH (f:File {key: $key}) RETURN f.docs AS docs, size(f._decl) AS decls",
        key=g.key("file"),
    )
    assert sorted(file["docs"]) == sorted([docs["b"], docs["p"]]) and file["decls"] == 2
    # every other document exports exactly as before; the run is gone from export and queries
    assert _exports(any_backend, keep) == before
    with pytest.raises(ExportError):
        export(any_backend, fmt="json", doc=docs["a"])
    # the archive is the purged document
    (archived,) = result.archived
    document = json.loads(open(archived).read())
    assert any(g.id("a.model").split(":")[1] in key for key in document["entity"])


def test_keep_lineage_drops_telemetry_and_long_values_only(any_backend, graph):
    g, docs = graph, _docs(graph)
    other_before = _exports(any_backend, [docs["shared"], docs["a"], docs["p"]])
    lineage_query = (
        "MATCH (x:Element)-[r]->(y:Element) WHERE r.doc = $doc AND NOT x:Telemetry AND NOT y:Telemetry "
        "RETURN type(r) AS type, x.key AS x, y.key AS y ORDER BY type, x, y"
    )
    relations_before = any_backend.read(lineage_query, {"doc": docs["b"]})
    telemetry_before = _one(
        any_backend, "MATCH (t:Telemetry) WHERE t.docs = [$doc] RETURN count(t) AS n", doc=docs["b"]
    )["n"]
    assert telemetry_before > 0

    result = purge(any_backend, select(any_backend, runs=[g.id("run.b")]), keep_lineage=True, max_chars=5)

    assert result.telemetry_deleted == telemetry_before
    assert (
        any_backend.read(lineage_query, {"doc": docs["b"]}) == relations_before
    )  # every PROV relation stays
    assert (
        _one(any_backend, "MATCH (t:Telemetry) WHERE $doc IN t.docs RETURN count(t) AS n", doc=docs["b"])["n"]
        == 0
    )
    summary = _one(
        any_backend,
        "MATCH (e:Element {key: $key}) RETURN e.value AS value, e.payload_purged AS purged, e._decl AS decl",
        key=g.key("b.summary"),
    )
    assert summary["value"] is None and summary["purged"] is True  # "report-b": 10 characters of JSON text
    assert '"pg:payload_purged"' in summary["decl"][0] and "report-b" not in summary["decl"][0]
    rows = _one(any_backend, "MATCH (e:Element {key: $key}) RETURN e.value AS value", key=g.key("b.rows"))
    assert rows["value"] == 100  # short values stay
    text = export(any_backend, fmt="json", doc=docs["b"])
    document = json.loads(text)
    assert "report-b" not in text and not any("telemetry" in key for key in document.get("entity", {}))
    assert _exports(any_backend, [docs["shared"], docs["a"], docs["p"]]) == other_before


def test_selection_by_workflow_campaign_and_age(any_backend, graph):
    g, docs = graph, _docs(graph)
    assert {c.doc for c in select(any_backend, workflow=g.names["train"])} == {docs["a"], docs["b"]}
    assert {c.doc for c in select(any_backend, workflow=g.names["plot"], older_than="1d")} == {docs["p"]}
    assert select(any_backend, workflow=g.names["plot"], older_than="2000-01-01T00:00:00Z") == []
    assert {c.doc for c in select(any_backend, campaign=g.names["campaign"])} == {docs["a"], docs["b"]}
    assert [c.doc for c in select(any_backend, docs=[docs["shared"], "pgid:no_such_doc"])] == [docs["shared"]]
    with pytest.raises(ConfigurationError, match="needs a run"):
        select(any_backend)


def test_purge_command(any_backend, graph, monkeypatch, capsys):
    from provgraph.cli.main import main

    g, docs = graph, _docs(graph)
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", any_backend.settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", any_backend.settings.home)
    monkeypatch.delenv("PROVGRAPH_SETTINGS", raising=False)
    assert main(["purge", "--run", g.id("run.p"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(g.id("run.p")) and f"    {g.id('p.figure')}" in out and g.id("file") not in out
    assert _one(any_backend, "MATCH (d:Document {id: $doc}) RETURN count(d) AS n", doc=docs["p"])["n"] == 1
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["purge", "--run", g.id("run.p")]) == 1
    assert "--yes" in capsys.readouterr().err
    assert main(["purge", "--run", g.id("run.p"), "--yes"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].startswith("purged 1 document(s)") and "[1/1]" in captured.err
    assert _one(any_backend, "MATCH (d:Document {id: $doc}) RETURN count(d) AS n", doc=docs["p"])["n"] == 0


def test_a_document_of_relations_only_leaves_nothing_behind(any_backend, graph):
    """A document that only relates elements others declared (and one nobody declared) purges cleanly."""
    from capture import wire
    from provgraph.loader import load_messages

    g = graph
    doc = f"pgid:doc_x_{g.token}"
    ghost = f"pgid:ghost_{g.token}"
    records = [
        wire.relation("wasDerivedFrom", generatedEntity=g.id("b.summary"), usedEntity=g.id("a.model")),
        wire.relation("used", activity=ghost, entity=g.id("b.summary")),
    ]
    load_messages(any_backend, [wire.Message(doc, records)])
    before = _exports(any_backend, [_docs(g)["a"], _docs(g)["b"]])
    assert _one(any_backend, "MATCH (n:Element {id: $id}) RETURN n.declared AS d", id=ghost)["d"] is False
    (dry,) = plan(any_backend, select(any_backend, docs=[doc]))
    assert (dry.nodes_alone, dry.relationships, dry.elements) == (0, 2, ())
    result = purge(any_backend, select(any_backend, docs=[doc]))
    assert result.relationships_deleted == 2 and result.nodes_deleted == 0
    assert _one(any_backend, "MATCH (n:Element {id: $id}) RETURN count(n) AS n", id=ghost)["n"] == 0
    assert _one(any_backend, "MATCH ()-[r]->() WHERE r.doc = $doc RETURN count(r) AS n", doc=doc)["n"] == 0
    assert _exports(any_backend, [_docs(g)["a"], _docs(g)["b"]]) == before


def _old_run(backend: Any, token: str, ended: bool = True) -> str:
    """A run of 1999 (no other test's data is that old), loaded through the loader; its document id."""
    from capture import wire
    from provgraph.loader import load_messages

    doc = f"pgid:run_1999_{token}"
    formal = {"startTime": "1999-01-01T00:00:00Z", **({"endTime": "1999-01-01T01:00:00Z"} if ended else {})}
    records = [
        wire.element(
            "activity",
            doc,
            [("prov:type", wire.qualified_name("pg:WorkflowRun")), ("pg:name", "old")],
            formal,
        ),
        wire.element("entity", f"pgid:val_1999_{token}", [("prov:value", 1)]),
        wire.relation("wasGeneratedBy", entity=f"pgid:val_1999_{token}", activity=doc),
    ]
    load_messages(backend, [wire.Message(doc, records)])
    return doc


def test_retention_policy_runs_on_a_schedule(any_backend, any_settings):
    import dataclasses
    import threading

    from provgraph.retention import RetentionPolicy, start_schedule

    token = uuid.uuid4().hex[:12]
    ended, running = _old_run(any_backend, token), _old_run(any_backend, token + "r", ended=False)
    cutoff = "2000-01-01T00:00:00Z"
    assert RetentionPolicy.from_settings(any_settings) is None  # off by default
    with pytest.raises(ConfigurationError, match="neither a duration"):
        RetentionPolicy.from_settings(dataclasses.replace(any_settings, retention_max_age="soon"))
    settings = dataclasses.replace(any_settings, retention_max_age=cutoff, retention_interval_s=0.2)
    stop = threading.Event()
    lines: list[str] = []
    thread = start_schedule(settings, stop, lines.append)
    assert thread is not None
    try:
        for _ in range(100):
            if any("retention: purged 1 run(s)" in line for line in lines):
                break
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert any("retention: purged 1 run(s) past 2000-01-01T00:00:00Z" in line for line in lines), lines
    count = "MATCH (d:Document) WHERE d.id = $doc RETURN count(d) AS n"
    assert _one(any_backend, count, doc=ended)["n"] == 0
    assert _one(any_backend, count, doc=running)["n"] == 1  # never ended: maybe still loading, kept
    purge(any_backend, select(any_backend, docs=[running]))
