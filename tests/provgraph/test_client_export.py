"""`Client.export` and `Client.import_document`: the Python API's door to PROV documents, on the real Neo4j."""

from __future__ import annotations

import io

import prov.model
import pytest

from provgraph import Client
from provgraph.errors import ExportError


def _document(token: str) -> prov.model.ProvDocument:
    document = prov.model.ProvDocument()
    document.add_namespace("ex", f"https://example.org/{token}/")
    document.entity("ex:data", {"prov:label": "input data"})
    document.activity("ex:clean")
    document.used("ex:clean", "ex:data", identifier="ex:u1")
    document.wasGeneratedBy("ex:clean_data", "ex:clean")
    return document


def test_import_then_export_through_the_client_is_exact(neo4j_backend, tmp_path, unique):
    original = _document(unique)
    source = tmp_path / "doc.json"
    source.write_text(original.serialize(format="json"))
    client = Client(neo4j_backend.settings, backend=neo4j_backend)

    result = client.import_document(source)
    text = client.export("json", doc=result.doc)

    back = prov.model.ProvDocument.deserialize(content=text, format="json")
    assert back == original and original == back

    stream = io.StringIO()
    assert client.export("provn", stream, doc=result.doc) is None
    assert "used(ex:u1; ex:clean, ex:data, -)" in stream.getvalue()


def test_export_refuses_an_unknown_format(neo4j_backend):
    with pytest.raises(ExportError, match="unknown export format"):
        Client(neo4j_backend.settings, backend=neo4j_backend).export("yaml", everything=True)
