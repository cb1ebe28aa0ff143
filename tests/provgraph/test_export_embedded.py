"""Export and import on the embedded engine (FalkorDB): the same queries, the same exact round trip."""

from __future__ import annotations

import pytest
from prov_corpus import all_documents

from provgraph.prov.compare import roundtrip
from provgraph.prov.export import export_document
from provgraph.prov.importer import document_to_messages

pytestmark = pytest.mark.embedded


def test_corpus_round_trips_on_the_embedded_engine(embedded_backend, unique):
    """Both corpora, read back by prov's own readers: strictly identical where prov alone keeps a document
    strictly through the format, else by prov's ==; nothing left behind."""
    documents = all_documents()
    prefix = f"pgid:rt_{unique}_"
    results = roundtrip(embedded_backend, documents, ["json", "provn", "xml", "turtle"], doc_prefix=prefix)
    for result in results:
        assert result.different == {}, (result.fmt, dict(list(result.different.items())[:3]))
        assert len(result.identical) + len(result.inexpressible) == len(documents), result.fmt
        if result.fmt != "turtle":
            assert len(result.inexpressible) <= 1, result.fmt
    left = embedded_backend.read(
        "MATCH (d:Document) WHERE d.id STARTS WITH $prefix RETURN count(d) AS n", {"prefix": prefix}
    )
    assert left[0]["n"] == 0


def test_lineage_export_on_the_embedded_engine(embedded_backend, unique):
    from prov.model import ProvDocument

    from provgraph.loader import load_messages

    document = ProvDocument()
    document.add_namespace("ex", f"http://example.org/{unique}/")
    document.wasGeneratedBy("ex:out", "ex:step")
    document.used("ex:step", "ex:in")
    document.entity("ex:other")
    load_messages(embedded_backend, document_to_messages(document, f"pgid:lin_{unique}"))
    lineage = export_document(embedded_backend, lineage_of=f"http://example.org/{unique}/out")
    assert len(lineage.get_records()) == 2
