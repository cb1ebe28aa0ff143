"""Export and import on the embedded engine (FalkorDB): the same queries, the same exact round trip."""

from __future__ import annotations

import pytest
from prov_corpus import corpus

from provgraph.prov.compare import roundtrip
from provgraph.prov.export import export_document
from provgraph.prov.importer import document_to_messages

pytestmark = pytest.mark.embedded


def test_corpus_round_trips_on_the_embedded_engine(embedded_backend, unique):
    documents = corpus()
    results = roundtrip(
        embedded_backend, documents, ["json", "provn", "xml"], doc_prefix=f"pgid:rt_{unique}_"
    )
    for result in results:
        assert result.different == {}, result.fmt
        assert len(result.identical) == len(documents), result.fmt


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
