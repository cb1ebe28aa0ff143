"""Wire-format limits and validation (docs/wire-format.md, "Limits"): every hostile shape is refused with a
one-line reason, by the same `wire.validate_*` functions the producer and the loader call."""

from __future__ import annotations

import json

import pytest

from capture import wire

NS = {"ex": "https://example.org/"}


def payload(records: list, doc: str = "ex:doc", ns: dict | None = None) -> bytes:
    return json.dumps(
        {"v": 1, "doc": doc, "ns": NS if ns is None else ns, "records": records}, ensure_ascii=False
    ).encode("utf-8", "surrogatepass")


def refused(data: bytes | str) -> str:
    with pytest.raises(wire.WireFormatError) as info:
        wire.decode_message(data)
    reason = info.value.reason
    assert "\n" not in reason and len(reason) < 400, reason
    return reason


def test_limits_fit_every_backend_index() -> None:
    # the longest indexed value the loader builds: "<bundle URI> <element URI>" under Neo4j's 8,166-byte key limit
    longest_key = 2 * (wire.MAX_NAMESPACE_URI_BYTES + wire.MAX_ID_BYTES) + 1
    assert longest_key < 8166
    namespace_key = wire.MAX_DOCUMENT_ID_BYTES + longest_key + wire.MAX_PREFIX_BYTES
    assert namespace_key < 8166
    assert set(wire.LIMITS.values()) >= {wire.MAX_ID_BYTES, wire.MAX_MESSAGE_BYTES}


def test_over_long_identifiers_are_refused() -> None:
    assert "over the limit of 1024" in refused(payload([{"k": "entity", "id": "ex:" + "x" * 40_000}]))
    assert "'doc'" in refused(payload([], doc="ex:" + "d" * 40_000))
    assert "prefix" in refused(payload([], ns={"p" * 200: "https://x/"}))
    assert "namespace URI" in refused(payload([], ns={"p": "https://x/" + "u" * 2000}))
    reason = refused(payload([{"k": "used", "f": {"activity": "ex:a", "entity": "ex:" + "e" * 2000}}]))
    assert "formal argument 'entity'" in reason
    # exactly at the limit is fine
    wire.decode_message(payload([{"k": "entity", "id": "ex:" + "x" * (wire.MAX_ID_BYTES - 3)}]))


def test_huge_attribute_name_is_refused_at_validation() -> None:
    name = "ex:" + "n" * 10_000_000
    with pytest.raises(wire.WireFormatError, match="attribute name is 10000003 bytes"):
        wire.validate_record({"k": "entity", "id": "ex:e", "a": [[name, 1]]})


@pytest.mark.parametrize(
    "data",
    [
        b'{"v":1,"doc":"ex:d","ns":{},"records":[{"k":"entity","id":"ex:e\\ud800x"}]}',
        b'{"v":1,"doc":"ex:d","ns":{},"records":[{"k":"entity","id":"ex:e\xed\xa0\x80x"}]}',
        b'{"v":1,"doc":"ex:d","ns":{"ex":"https://x/\\udfff"},"records":[]}',
    ],
    ids=["escaped-surrogate", "raw-surrogate-bytes", "surrogate-in-namespace-uri"],
)
def test_lone_surrogates_are_refused(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    refused(data)
    # the standard library's parser accepts an escaped lone surrogate; validation must still refuse it
    monkeypatch.setattr(wire, "_loads", json.loads)
    monkeypatch.setattr(wire, "_orjson", None)
    refused(data.decode("utf-8", "surrogateescape"))


def test_surrogate_in_attribute_value_is_refused() -> None:
    with pytest.raises(wire.WireFormatError, match="lone surrogate"):
        wire.validate_record({"k": "entity", "id": "ex:e", "a": [["ex:v", "a\udc80b"]]})
    with pytest.raises(wire.WireFormatError, match="lone surrogate"):
        wire.validate_record({"k": "entity", "id": "ex:e", "a": [["ex:v", {"$": "\ud800", "lang": "en"}]]})


@pytest.mark.parametrize("kind", [["entity"], {"entity": 1}, None, 5])
def test_record_kind_of_the_wrong_type(kind: object) -> None:
    assert "unknown record kind" in refused(payload([{"k": kind, "id": "ex:e"}]))


def test_deep_nesting_is_refused_without_recursing(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    cases = [
        deep,
        '{"v":1,"doc":"ex:d","ns":{},"records":[{"k":"entity","id":"ex:e","a":[["ex:x",' + deep + "]]}]}",
        '{"v":1,"doc":"ex:d","ns":{},"records":[{"k":"entity","id":"ex:e","a":[[' + deep + ",1]]}]}",
        '{"v":1,"doc":"ex:d","ns":{},"records":[' + deep + "]}",
    ]
    for case in cases:
        refused(case)
    monkeypatch.setattr(wire, "_loads", json.loads)
    monkeypatch.setattr(wire, "_orjson", None)
    for case in cases:
        refused(case)


def test_message_size_and_record_count() -> None:
    assert "over the limit" in refused(b" " * (wire.MAX_MESSAGE_BYTES + 1))
    records = [{"k": "entity", "id": f"ex:e{i}"} for i in range(wire.MAX_RECORDS + 1)]
    assert "records, over the limit" in refused(payload(records))


def test_partial_decode_keeps_the_valid_records() -> None:
    good = [{"k": "entity", "id": f"ex:e{i}"} for i in range(1000)]
    bad = {"k": "entity", "id": "ex:" + "x" * 5000}
    message, faults = wire.decode_message_partial(payload([*good[:500], bad, *good[500:]]))
    assert message.records == good
    assert [(f.index, f.record) for f in faults] == [(500, bad)]
    assert faults[0].reason.startswith("record 500: 'id' is 5003 bytes")
    # the envelope still fails as a whole
    with pytest.raises(wire.WireFormatError, match="unknown wire version"):
        wire.decode_message_partial(b'{"v":3}')
