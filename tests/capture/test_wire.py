"""capture/wire.py, the one contract between the two sides: what a reader accepts, refuses and keys."""

from __future__ import annotations

import json

import pytest

from capture import wire

NS = {"ex": "https://example.org/", "other": "https://example.org/"}


def _records() -> list[dict[str, object]]:
    return [
        wire.element(
            "entity", "ex:e1", attrs=[("prov:label", "input"), ("ex:n", wire.typed_literal("1", "xsd:int"))]
        ),
        wire.element("activity", "ex:a1", formal={"startTime": "2026-01-01T00:00:00Z"}),
        wire.relation("used", activity="ex:a1", entity="ex:e1"),
    ]


def test_a_message_decodes_to_what_was_encoded() -> None:
    payload = wire.encode_message("ex:run1", _records(), namespaces=NS, source="host:1", sent_at=12.5)
    message = wire.decode_message(payload)
    assert (message.doc, message.namespaces, message.sent_at) == ("ex:run1", NS, 12.5)
    assert message.records == _records()
    assert json.loads(payload)["v"] == wire.WIRE_VERSION


@pytest.mark.parametrize(
    "change",
    [
        {"v": wire.WIRE_VERSION + 1},  # a version this reader does not know
        {"doc": ""},  # no document
        {"records": "not a list"},
        {"ns": {"ex": 3}},  # a namespace that is no URI string
    ],
    ids=["version", "doc", "records", "namespaces"],
)
def test_a_reader_refuses_what_is_not_the_format(change: dict[str, object]) -> None:
    message = json.loads(wire.encode_message("ex:run1", _records(), namespaces=NS))
    message.update(change)
    with pytest.raises(wire.WireFormatError):
        wire.decode_message(json.dumps(message))


def test_a_bad_record_is_refused_alone_by_the_partial_decoder() -> None:
    records = [*_records(), {"k": "no-such-kind", "id": "ex:x"}]
    with pytest.raises(wire.WireFormatError):
        wire.decode_message(wire.encode_message("ex:run1", records, namespaces=NS))
    message, faults = wire.decode_message_partial(wire.encode_message("ex:run1", records, namespaces=NS))
    assert message.records == _records()
    assert [fault.index for fault in faults] == [3]


def test_not_json_is_a_wire_format_error_not_a_crash() -> None:
    for payload in (b"\xff\xfe", b"{", b"[]", b"null"):
        with pytest.raises(wire.WireFormatError):
            wire.decode_message(payload)


def test_statement_keys_follow_meaning_not_spelling() -> None:
    entity = wire.element("entity", "ex:e1", attrs=[("prov:label", "x"), ("ex:n", 1)])
    same_other_prefix = wire.element("entity", "other:e1", attrs=[("other:n", 1), ("prov:label", "x")])
    different_value = wire.element("entity", "ex:e1", attrs=[("prov:label", "y"), ("ex:n", 1)])
    key = wire.statement_key("ex:run1", entity, NS)
    assert wire.statement_key("ex:run1", same_other_prefix, NS) == key
    assert wire.statement_key("ex:run1", different_value, NS) != key
    assert wire.statement_key("ex:run2", entity, NS) != key  # a statement belongs to its document
    assert wire.statement_key("ex:run1", entity, NS) == key  # stable


def test_a_record_nested_deeper_than_the_parser_allows_costs_only_itself():
    """JSON parsers stop at some depth (orjson at 1,024): the loader cuts such values out before parsing, so the
    record holding one is refused and its neighbours (strings with brackets and escapes included) load as sent."""
    good = {"k": "entity", "id": "ex:a", "a": [["ex:s", 'a[b]"{\\']]}
    deep = "[" * 100_000 + "]" * 100_000
    good_text = json.dumps(good)
    payload = (
        '{"v":1,"doc":"ex:d","ns":{"ex":"https://example.org/"},"records":['
        + f'{good_text},{{"k":"entity","id":"ex:d","a":[["ex:x",{deep}]]}},{good_text}]}}'
    ).encode()
    message, faults = wire.decode_message_partial(payload)
    assert message.records == [good, good]
    assert [(fault.index, fault.reason.split(":")[0]) for fault in faults] == [(1, "record 1")]
    assert "nested deeper than" in faults[0].reason and wire.holds_cut_value(faults[0].record)
    with pytest.raises(wire.WireFormatError, match="record 1: a value nested deeper"):
        wire.decode_message(payload)
    too_deep_ns = b'{"v":1,"doc":"ex:d","ns":{"ex":' + deep.encode() + b'},"records":[]}'
    with pytest.raises(wire.WireFormatError, match="namespace URI of 'ex' must be a non-empty string"):
        wire.decode_message_partial(too_deep_ns)
