"""The strict comparison sees what prov's == does not, and a document with every such detail comes back through the
store (the embedded engine) strictly identical in PROV-N, read back by prov's own reader."""

from __future__ import annotations

import io
import uuid
import warnings

import pytest
from prov.model import ProvDocument

from provgraph.prov.compare import roundtrip, same_document, strict_differences, strictly_equal

TRICKY = """document
  prefix ex <http://example.org/{token}/>
  agent(ex:alice, [prov:type="prov:Person" %% xsd:QName, prov:type='prov:Agent', ex:n="10.0" %% xsd:decimal,
                   ex:t="2012-04-03T09:00:00+01:00" %% xsd:dateTime, ex:l="colour"@en-GB])
  activity(ex:a, 2012-04-03T09:00:00+01:00, 2012-04-03T10:00:00Z)
  used(ex:a, ex:e, -)
  used(ex:a, ex:e, -)
  entity(ex:e)
  bundle uuid:b1
    prefix uuid <urn:uuid:{token}->
    entity(ex:e1)
  endBundle
endDocument
"""


def _read(text: str) -> ProvDocument:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ProvDocument.deserialize(source=io.StringIO(text), format="provn")


@pytest.mark.parametrize(
    ("old", "new", "seen"),
    [
        ("09:00:00+01:00, 2012", "08:00:00Z, 2012", "dateTime"),  # the same instant, another offset
        ('"10.0" %% xsd:decimal', '"10" %% xsd:decimal', '"10.0" %% xsd:decimal'),
        ('"colour"@en-GB', '"colour"@en-gb', "@en-GB"),
        ("  used(ex:a, ex:e, -)\n  used(ex:a, ex:e, -)\n", "  used(ex:a, ex:e, -)\n", "(x2 -> x1)"),
        ("prefix ex <", "prefix ex2 <", "prefix ex:"),
    ],
)
def test_strict_comparison_sees_what_prov_equality_does_not(old: str, new: str, seen: str) -> None:
    token = uuid.uuid4().hex[:8]
    original = _read(TRICKY.format(token=token))
    text = TRICKY.format(token=token).replace(old, new)
    if old.startswith("prefix ex"):
        text = text.replace("ex:", "ex2:")
    changed = _read(text)
    assert same_document(original, changed)  # prov's == calls them the same document
    assert not strictly_equal(original, changed)
    assert any(seen in line for line in strict_differences(original, changed))


def test_a_qname_literal_a_bundle_local_prefix_and_repeats_come_back_strictly(embedded_backend) -> None:
    token = uuid.uuid4().hex[:8]
    document = _read(TRICKY.format(token=token))
    (result,) = roundtrip(
        embedded_backend, [("tricky", document)], ["provn"], doc_prefix=f"pgid:tricky_{token}_"
    )
    assert result.identical == ["tricky"] and result.loose == [] and result.different == {}


def test_a_document_the_store_refuses_is_named_and_the_others_still_go_round(embedded_backend) -> None:
    token = uuid.uuid4().hex[:8]
    good = _read(TRICKY.format(token=token))
    bad = ProvDocument()
    bad.add_namespace("ex", f"http://example.org/{token}/")
    bad.entity("ex:" + "x" * 100_000)  # an identifier beyond the wire format's limit
    (result,) = roundtrip(
        embedded_backend, [("good", good), ("bad", bad)], ["provn"], doc_prefix=f"pgid:refused_{token}_"
    )
    assert result.identical == ["good"]
    assert list(result.different) == ["bad"] and "not imported" in result.different["bad"][0]
