"""One property prefix per namespace URI in the whole graph (docs/graph-model.md, "One prefix per namespace"), on
Neo4j and on the embedded engine: documents that give one namespace different prefixes are filtered with one
property name, and each still exports with its own prefixes."""

from __future__ import annotations

import uuid
from typing import Any

from prov.model import ProvDocument

from provgraph.graph.prefixes import PropertyPrefixes
from provgraph.loader import load_messages, written_keys
from provgraph.prov.compare import strictly_equal
from provgraph.prov.export import export_documents
from provgraph.prov.importer import document_to_messages
from provgraph.purge import purge_loaded


def _document(prefix: str, uri: str, name: str, size: int) -> ProvDocument:
    document = ProvDocument()
    document.add_namespace(prefix, uri)
    document.entity(
        f"{prefix}:{name}",
        {f"{prefix}:size": size, "prov:type": document.valid_qualified_name(f"{prefix}:Image")},
    )
    document.activity(f"{prefix}:align_{name}")
    document.used(f"{prefix}:align_{name}", f"{prefix}:{name}", other_attributes={f"{prefix}:weight": 0.5})
    return document


def test_one_namespace_under_two_prefixes_is_filtered_with_the_first_prefix(graph_backend: Any) -> None:
    token = uuid.uuid4().hex[:10]
    shared = f"http://example.org/{token}/images/"
    first, second = f"pa{token}", f"pb{token}"
    # another namespace whose document uses the prefix the shared one already holds in this graph
    other = f"http://example.org/{token}/other/"
    documents = {
        f"pgid:pfx_{token}_a": _document(first, shared, "a", 3),
        f"pgid:pfx_{token}_b": _document(second, shared, "b", 4),
        f"pgid:pfx_{token}_c": _document(first, other, "c", 5),
    }
    messages = [m for doc, d in documents.items() for m in document_to_messages(d, doc)]
    graph_backend.ensure_schema()
    try:
        load_messages(graph_backend, messages)
        rows = graph_backend.read(
            f"MATCH (n:Entity) WHERE n.`{first}:size` IS NOT NULL "
            f"RETURN n.id AS id, n.`{first}:size` AS size, n.types AS types ORDER BY id",
            {},
        )
        assert [(r["id"], r["size"], r["types"]) for r in rows] == [
            (f"{first}:a", 3, [f"{first}:Image"]),
            (f"{first}:b", 4, [f"{first}:Image"]),  # written as pb...:b, filtered as pa...:b
        ]
        assert graph_backend.read(f"MATCH (n) WHERE n.`{second}:size` IS NOT NULL RETURN n", {}) == []
        used = graph_backend.read(
            f"MATCH (a)-[u:used]->(e) WHERE e.uri STARTS WITH $shared "
            f"RETURN u.activity AS activity, u.`{first}:weight` AS weight ORDER BY activity",
            {"shared": shared},
        )
        assert [(r["activity"], r["weight"]) for r in used] == [
            (f"{first}:align_a", 0.5),
            (f"{first}:align_b", 0.5),
        ]
        # the other namespace gets the next free prefix
        other_rows = graph_backend.read(
            "MATCH (n:Entity) WHERE n.uri = $uri RETURN n.id AS id, keys(n) AS props", {"uri": other + "c"}
        )
        assert other_rows[0]["id"] == f"{first}_2:c" and f"{first}_2:size" in other_rows[0]["props"]
        registry = graph_backend.read(
            "MATCH (p:PropertyPrefix) WHERE p.uri IN $uris RETURN p.uri AS uri, p.prefix AS prefix",
            {"uris": [shared, other]},
        )
        assert {r["uri"]: r["prefix"] for r in registry} == {shared: first, other: f"{first}_2"}
        # another process (its own registry, nothing cached) reads the same prefixes back
        assert PropertyPrefixes(graph_backend).load()[shared] == first
        # export gives back each document's own prefixes
        # (read by key: paging through the whole shared test graph is not what this test is about)
        exported = export_documents(graph_backend, list(documents), node_keys=written_keys(messages).nodes)
        for doc, document in documents.items():
            assert strictly_equal(document, exported[doc]), doc
    finally:
        purge_loaded(graph_backend, messages)
        graph_backend.write(
            [("MATCH (p:PropertyPrefix) WHERE p.uri IN $uris DELETE p", {"uris": [shared, other]})]
        )
