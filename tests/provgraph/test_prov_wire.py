"""The pure halves of import and export: PROV document -> wire records -> PROV document, no store involved."""

from __future__ import annotations

import random

import pytest
from prov.model import ProvDocument
from prov_corpus import all_documents

from capture import wire
from provgraph.errors import ExportError
from provgraph.prov.compare import (
    STRICT,
    prov_ceiling,
    roundtrip_identical,
    same_document,
    strict_differences,
    strictly_equal,
)
from provgraph.prov.export import EXPORT_FORMATS, records_to_document, serialize
from provgraph.prov.importer import document_to_messages, document_to_records


def _through_wire(document: ProvDocument, max_records: int = 5000) -> ProvDocument:
    """Messages as the loader would receive them (encoded, decoded), records deduplicated by statement key as
    the graph stores them, and fed back in reverse order (the graph returns them in key order, not as sent)."""
    messages = document_to_messages(document, "pgid:doc_test", max_records=max_records)
    decoded = [wire.decode_message(wire.encode_message(m.doc, m.records, m.namespaces)) for m in messages]
    unique = {}
    for message in decoded:
        for record in message.records:
            unique.setdefault(wire.statement_key(message.doc, record, message.namespaces), record)
    return records_to_document(decoded[0].namespaces, list(unique.values())[::-1])


@pytest.fixture(scope="module")
def documents():
    return all_documents()


def test_corpus_is_the_external_one(documents):
    assert len(documents) >= 850  # 407 PROV-JSON and examples, the PROV-N that prov parses of 524 files
    assert any(document.bundles for _, document in documents)


def _survives(document: ProvDocument, **options: int) -> bool:
    """Strictly, except for the few documents prov itself changes through its own PROV-JSON decoder (it declares
    the document's prefixes that a bundle's records use in the bundle too): those by prov's ==."""
    back = _through_wire(document, **options)
    if prov_ceiling(document, "json") == STRICT:
        return strictly_equal(document, back)
    return same_document(document, back)


def test_every_corpus_document_survives_wire_records_strictly(documents):
    failed = [name for name, document in documents if not _survives(document)]
    assert failed == []
    assert sum(prov_ceiling(d, "json") != STRICT for _, d in documents) <= 6


def test_small_messages_keep_bundle_records_with_their_bundle(documents):
    failed = []
    for name, document in documents:
        if document.bundles and not _survives(document, max_records=2):
            failed.append(name)
    assert failed == []
    bundled = next(d for _, d in documents if d.bundles)
    for message in document_to_messages(bundled, "pgid:doc_b", max_records=2):
        in_bundle = {r["b"] for r in message.records if "b" in r}
        declared = {r["id"] for r in message.records if r["k"] == "bundle"}
        assert in_bundle <= declared


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_rebuilt_documents_serialize_identically(documents, fmt):
    """Each document, rebuilt from its wire records and written as ``fmt``, reads back (by prov) as what prov
    alone keeps of it: strictly where prov alone keeps it strictly, else by prov's ==. (PROV-JSON: of the
    original with each element's declarations merged, as the export writes it.)"""
    from provgraph.prov.provjson import merge_declarations

    # PROV-JSON declares each element once (its declarations merged): compared with the original merged alike
    expected = {name: merge_declarations(d) if fmt == "json" else d for name, d in documents}
    merged = sorted(name for name, d in documents if expected[name] is not d)
    assert len(merged) == (4 if fmt == "json" else 0), merged
    ceilings = {name: prov_ceiling(expected[name], fmt) for name, _ in documents}
    eligible = [(n, d) for n, d in documents if ceilings[n] is not None]
    different = [
        n
        for n, d in eligible
        if not roundtrip_identical(
            expected[n], serialize(_through_wire(d), fmt), fmt, strict=ceilings[n] == STRICT
        )[0]
    ]
    strict = sum(ceiling == STRICT for ceiling in ceilings.values())
    print(f"{fmt}: {len(eligible) - len(different)}/{len(eligible)} identical, {strict} held strictly")
    assert different == []
    if fmt in ("json", "provn", "xml"):
        assert len(eligible) >= len(documents) - 1  # one spec example prov itself cannot write as PROV-XML


def _document() -> ProvDocument:
    document = ProvDocument()
    document.set_default_namespace("http://example.org/default/")
    ex = document.add_namespace("ex", "http://example.org/")
    document.entity("ex:e1", {"ex:n": 1, "ex:s": "x", "prov:label": ex["label"]})
    entity = document.entity("ex:e2")
    entity.add_attributes([("ex:multi", 1), ("ex:multi", "one"), ("ex:lang", "bonjour@fr")])
    document.wasGeneratedBy("ex:e1", None, "2012-03-31T09:21:00", identifier="ex:gen1")
    document.wasDerivedFrom("ex:e1", "ex:e2", activity="ex:a", usage="ex:u1")
    document.entity("local")
    bundle = document.bundle("ex:b1")
    bundle.add_namespace("bx", "http://example.org/bundle/")
    bundle.entity("bx:inner", {"bx:v": 2})
    return document


def test_record_shapes_on_the_wire():
    namespaces, records = document_to_records(_document())
    assert (
        namespaces["default"] == "http://example.org/default/" and namespaces["ex"] == "http://example.org/"
    )
    by_id = {r.get("id"): r for r in records}
    generation = by_id["ex:gen1"]
    assert generation["f"] == {
        "entity": "ex:e1",
        "time": "2012-03-31T09:21:00",
    }  # missing activity stays missing
    derivation = next(r for r in records if r["k"] == "wasDerivedFrom")
    assert "id" not in derivation
    assert derivation["f"] == {
        "generatedEntity": "ex:e1",
        "usedEntity": "ex:e2",
        "activity": "ex:a",
        "usage": "ex:u1",
    }
    e1 = dict((name, value) for name, value in by_id["ex:e1"]["a"])
    assert e1["ex:n"] == {"$": "1", "type": "xsd:int"}
    assert e1["prov:label"] == {"$": "ex:label", "type": "xsd:QName"}
    multi = [value for name, value in by_id["ex:e2"]["a"] if name == "ex:multi"]
    assert len(multi) == 2
    assert by_id["local"]["k"] == "entity"
    assert by_id["ex:b1"] == {"k": "bundle", "id": "ex:b1", "ns": {"bx": "http://example.org/bundle/"}}
    assert by_id["bx:inner"]["b"] == "ex:b1"


def test_rebuilt_document_equals_and_comparison_sees_a_missing_bundle():
    original = _document()
    assert same_document(original, _through_wire(original))
    without_bundle = ProvDocument()
    for prefix_namespace in original.namespaces:
        without_bundle.add_namespace(prefix_namespace)
    for record in original.get_records():
        without_bundle.add_record(record)
    assert without_bundle == original  # prov's == alone ignores the bundle only the right side has
    assert not same_document(original, without_bundle)
    assert not same_document(without_bundle, original)
    assert "- bundle ex:b1 <http://example.org/b1>" in strict_differences(original, without_bundle)


def test_exported_text_that_does_not_parse_is_a_difference():
    ok, diffs = roundtrip_identical(_document(), "{not json", "json")
    assert not ok and "does not parse" in diffs[0]


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ExportError, match="unknown export format"):
        serialize(_document(), "yaml")


def test_builder_waits_for_a_bundle_declaration_and_decodes_in_small_chunks():
    from provgraph.prov.export import DocumentBuilder

    original = _document()
    namespaces, records = document_to_records(original)
    bundle_last = [r for r in records if r["k"] != "bundle"] + [r for r in records if r["k"] == "bundle"]
    builder = DocumentBuilder(namespaces, chunk=1)
    builder.add_all(bundle_last)
    assert same_document(original, builder.finish())


def test_capture_namespaces_are_declared_only_when_used():
    records = [
        wire.element("activity", "pgid:run_1", attrs=[["prov:type", wire.qualified_name("pg:WorkflowRun")]]),
        wire.relation("used", activity="pgid:run_1", entity="pgid:input"),
    ]
    document = records_to_document({}, records)
    prefixes = {ns.prefix for ns in document.namespaces}
    assert {"pg", "pgid"} <= prefixes
    assert same_document(document, records_to_document({}, records))
    plain = records_to_document({"ex": "http://example.org/"}, [wire.element("entity", "ex:e")])
    assert {ns.prefix for ns in plain.namespaces} == {"ex"}


def _legacy_statement_key(doc: str, record: dict) -> str:
    """The statement key as version 1 defined it (graphs already loaded hold these keys)."""
    import hashlib
    import json

    canonical = json.dumps([doc, record], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def test_statement_keys_never_change(documents):
    """The fast canonical form writes the same bytes as the json one, on the corpus and on values where the two
    serializers differ (exponent floats, integers beyond 64 bits, escapes, non-ASCII, unknown keys)."""
    records = [
        (message.doc, record)
        for _, document in documents
        for message in document_to_messages(document, "pgid:doc_keys")
        for record in message.records
    ]
    awkward = [
        1e-5,
        2.5e-7,
        1e16,
        -9.2e16,
        1.7976931348623157e308,
        5e-324,
        0.0,
        -0.0,
        1e-4,
        123.25,
        2**64,
        -(2**70),
    ]
    generator = random.Random(7)
    awkward += [generator.uniform(1, 10) * 10.0 ** generator.randint(-30, 30) for _ in range(3000)]
    for value in awkward:
        records.append(("d", wire.element("entity", "ex:e", attrs=[["ex:v", value]])))
    records += [
        ("dé", wire.element("entity", "ex:é𝄞", attrs=[["ex:s", 'tab\there \x00\x1f\x7f \u2028 "q" \\ 𝄞']])),
        (
            "d",
            wire.relation("used", activity="ex:a", entity="ex:e", attrs=[["ex:b", {"$": "x", "lang": "fr"}]]),
        ),
        ("d", {**wire.element("entity", "ex:e"), "extra": {"z": 1e-9, "a": [1.0, 2]}}),
        # shapes the format does not allow (keys are computed before validation may reject them)
        ("d", {"k": "entity", "id": 1e-5}),
        ("d", {"k": "entity", "id": "ex:e", "a": [["ex:t", {"$": 2.5e-9, "type": "xsd:double"}]]}),
        ("d", {"k": "entity", "id": "ex:e", "a": [["ex:l", [1e20, "x"]]]}),
        ("d", {"k": "bundle", "id": "ex:b", "ns": {"ex": 1e17}}),
        ("d", {"k": "used", "f": {"activity": 3e-7}}),
        ("d", wire.element("entity", "ex:e", attrs=[["ex:b", True], ["ex:n", None], ["ex:b", 2**63]])),
    ]
    assert len(records) > 3500
    mismatched = [
        (doc, r) for doc, r in records if wire.statement_key_v1(doc, r) != _legacy_statement_key(doc, r)
    ]
    assert mismatched == []
    # and one fixed value, so the definition cannot drift with both functions changing together
    record = wire.element("entity", "ex:e", attrs=[["ex:v", 1.5]])
    assert wire.statement_key_v1("d", record) == "e6cf441b563e8d8bced72779cb62a55e"
    # scheme 2: the same bytes from orjson and from the standard library, and one fixed value
    with_orjson = [wire.statement_key(doc, r, {"ex": "https://example.org/"}) for doc, r in records]
    saved = wire._orjson
    wire._orjson = None
    try:
        without = [wire.statement_key(doc, r, {"ex": "https://example.org/"}) for doc, r in records]
    finally:
        wire._orjson = saved
    assert with_orjson == without
    assert (
        wire.statement_key("d", record, {"ex": "https://example.org/"})
        == "2-1af0eda1a6a8c74595e2d4a6eabae157"
    )
