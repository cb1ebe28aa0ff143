"""Export pages through thousands of elements whose ids mix upper and lower case, on both backends.

FalkorDB's string index answers `key > $after` wrongly once keys mix cases (a page boundary at ``ex:U04999``
found none of ``ex:U05000`` or ``ex:c0``), so an export of 5,020 entities gave 5,000 with exit 0. The embedded
form pages by node id (cypher/export/element_declarations.falkordb.cypher); Neo4j's by key.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from provgraph.prov.export import PAGE_SIZE, export
from provgraph.prov.importer import import_document


def test_export_keeps_every_element_of_a_large_mixed_case_document(graph_backend: Any) -> None:
    from prov.model import ProvDocument

    token = uuid.uuid4().hex[:12]
    namespace = f"http://example.org/paging/{token}/"
    document = ProvDocument()
    document.add_namespace("ex", namespace)
    locals_ = [f"U{i:05d}" for i in range(5010)] + [f"c{i}" for i in range(10)]
    assert len(locals_) > PAGE_SIZE  # more than one page, with the page boundary inside the upper-case ids
    for local in locals_:
        document.entity(f"ex:{local}")
    graph_backend.ensure_schema()
    result = import_document(graph_backend, document, doc=f"pgid:doc_paging_{token}")
    try:
        text = export(graph_backend, fmt="json", doc=result.doc)
        assert text is not None
        exported = json.loads(text)["entity"]
        assert sorted(exported) == sorted(f"ex:{local}" for local in locals_)
    finally:
        graph_backend.write(
            [
                (
                    "MATCH (n:Element) WHERE n.key STARTS WITH $namespace DETACH DELETE n",
                    {"namespace": namespace},
                ),
                ("MATCH (n:Namespace) WHERE n.doc = $doc DETACH DELETE n", {"doc": result.doc}),
                ("MATCH (n:Document) WHERE n.id = $doc DETACH DELETE n", {"doc": result.doc}),
            ]
        )
