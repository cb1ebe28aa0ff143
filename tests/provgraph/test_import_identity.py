"""One document, one identity: the same document imported as PROV-N, PROV-JSON and Turtle is stored once.

The default document id comes from the document's content (the set of its statement keys), not from the file's
bytes, so a second and third serialisation change nothing; a changed statement is another document.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from _challenge import DOCUMENT, NAMESPACE

from provgraph.prov.export import serialize
from provgraph.prov.importer import default_doc_id, document_to_records, import_document, read_document


def _relations(backend: Any, doc: str) -> int:
    return backend.read("MATCH ()-[r]->() WHERE r.doc = $doc RETURN count(r) AS n", {"doc": doc})[0]["n"]


def test_the_same_document_in_three_serialisations_is_stored_once(graph_backend: Any, tmp_path: Path) -> None:
    namespace = f"{NAMESPACE}{uuid.uuid4().hex[:12]}/"
    provn = tmp_path / "challenge.provn"
    provn.write_text(DOCUMENT.read_text().replace(f"<{NAMESPACE}>", f"<{namespace}>"))
    document = read_document(provn)
    serialize(document, "json", str(tmp_path / "challenge.json"))
    serialize(document, "turtle", str(tmp_path / "challenge.ttl"))
    _namespaces, records = document_to_records(document)
    relation_records = sum(1 for r in records if r["k"] not in ("entity", "activity", "agent", "bundle"))
    graph_backend.ensure_schema()
    docs = []
    try:
        first = import_document(graph_backend, provn)
        docs.append(first.doc)
        stored = _relations(graph_backend, first.doc)
        assert stored == relation_records
        for name in ("challenge.json", "challenge.ttl"):
            again = import_document(graph_backend, tmp_path / name)
            docs.append(again.doc)
            assert again.doc == first.doc, name
            assert _relations(graph_backend, first.doc) == stored, name  # nothing doubled
        counted = graph_backend.read(
            "MATCH (d:Document) WHERE d.id = $doc RETURN count(d) AS n", {"doc": first.doc}
        )
        assert counted == [{"n": 1}]
        # one statement changed: another document
        changed = tmp_path / "changed.provn"
        changed.write_text(provn.read_text().replace('fpc:model="9"', 'fpc:model="8"', 1))
        other = read_document(changed)
        assert default_doc_id(*document_to_records(other)) != first.doc
    finally:
        graph_backend.write(
            [
                (
                    "MATCH (n:Element) WHERE n.key STARTS WITH $namespace DETACH DELETE n",
                    {"namespace": namespace},
                ),
                ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
                ("MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n", {"docs": docs}),
            ]
        )


def test_batch_import_names_each_refused_file_and_goes_on(embedded_server, monkeypatch, tmp_path, capsys):
    from provgraph.cli.main import main

    namespace = f"http://example.org/batch/{uuid.uuid4().hex[:12]}/"
    good = tmp_path / "a-good.json"
    good.write_text(
        '{"prefix": {"ex": "%s"}, "entity": {"ex:one": {"prov:label": "one"}}}' % namespace  # noqa: UP031
    )
    broken = tmp_path / "b-broken.json"
    broken.write_text("{ this is not json")
    provn = tmp_path / "c-second.pn"  # .pn is PROV-N
    provn.write_text(f"document\n  prefix ex <{namespace}>\n  entity(ex:two)\nendDocument\n")
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", "embedded")
    monkeypatch.setenv("PROVGRAPH_HOME", str(embedded_server.home))
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(tmp_path / "no-settings.yaml"))
    out = ""
    try:
        code = main(["import", str(good), str(broken), str(provn)])
        out, err = capsys.readouterr()
        assert code == 1
        assert f"{broken}: refused: " in err and "not a valid json PROV document" in err
        assert "1 of 3 files refused" in err
        assert f"{good}: 1 records stored as document pgid:doc_" in out
        assert f"{provn}: 1 records stored as document pgid:doc_" in out  # the file after the broken one too
    finally:
        from capture.settings import Settings
        from provgraph.graph import open_backend

        with open_backend(Settings(graph_url="embedded", home=str(embedded_server.home))) as backend:
            docs = [line.split()[-1] for line in out.splitlines() if "stored as document" in line]
            backend.write(
                [
                    ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": namespace}),
                    ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
                    ("MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n", {"docs": docs}),
                ]
            )
