"""The provgraph wire format: PROV records in versioned, batched messages (stdlib only).

This is the one module shared by the producer side (`capture`) and the store side (`provgraph`).
The full specification, with examples and the measured choice of encoding, is `docs/wire-format.md`.

Example::

    from capture import wire

    records = [
        wire.element("entity", "ex:e1", attrs=[("prov:label", "input")]),
        wire.element("activity", "ex:a1", formal={"startTime": "2026-01-01T00:00:00Z"}),
        wire.relation("used", activity="ex:a1", entity="ex:e1"),
    ]
    payload = wire.encode_message("ex:run1", records, namespaces={"ex": "https://example.org/"})
    message = wire.decode_message(payload)          # raises wire.WireFormatError if invalid

A message (one Redis Stream entry, field ``m``) is a JSON object::

    {"v": 1,                    # WIRE_VERSION; a reader refuses versions it does not know
     "doc": "pgid:run_...",     # the document the records belong to (a workflow run, an imported file)
     "ts": 1764000000.123,      # send time, seconds since the epoch (for end-to-end latency)
     "src": "host:pid",         # producer, for diagnostics
     "ns": {"ex": "https://example.org/"},   # prefix -> namespace URI, top level of the document
     "records": [RECORD, ...]}

A record is a JSON object with short keys::

    {"k": KIND,                 # "entity" | "activity" | "agent" | "bundle" | a relation name (RELATIONS)
     "id": "ex:x",              # qualified name; required for elements and bundles, optional for relations
     "b": "ex:bundle1",         # optional: the bundle the record belongs to (absent: the document itself)
     "f": {"activity": "ex:a"}, # formal arguments (FORMALS); element references are qualified names
     "a": [["prov:label", "x"], ["ex:v", {"$": "1", "type": "xsd:int"}]],   # attributes, repeats = multi-valued
     "ns": {...}}               # only on "bundle" records: the bundle's own namespace declarations

Attribute values use PROV-JSON's value encoding: a JSON string, number or boolean as itself; a typed literal as
``{"$": lexical, "type": "xsd:..."}``; a qualified name as ``{"$": "ex:q", "type": "prov:QUALIFIED_NAME"}``; a
language-tagged string as ``{"$": text, "lang": "en"}``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ELEMENT_KINDS",
    "FIELD",
    "FORMALS",
    "NAMESPACES",
    "RECORD_KINDS",
    "RELATIONS",
    "SUBJECT",
    "TIME_FORMALS",
    "WIRE_VERSION",
    "Message",
    "WireFormatError",
    "decode_message",
    "element",
    "encode_message",
    "lang_string",
    "qualified_name",
    "relation",
    "statement_key",
    "typed_literal",
    "validate_record",
]

WIRE_VERSION = 1
"""Version of the message layout. Bump on any change a version-1 reader would misread."""

FIELD = "m"
"""Name of the Redis Stream entry field that carries the encoded message."""

NAMESPACES: dict[str, str] = {
    "prov": "http://www.w3.org/ns/prov#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    # provgraph's vocabulary: types (pg:Task, pg:WorkflowRun, ...) and attribute names (pg:status, ...).
    "pg": "https://w3id.org/provgraph/ns#",
    # identifiers minted by capture: pgid:task_..., pgid:run_..., pgid:file_sha256_...
    "pgid": "https://w3id.org/provgraph/id/",
}
"""Namespaces every message may use without declaring them."""

ELEMENT_KINDS = ("entity", "activity", "agent")

# Formal arguments of each record kind, in PROV-DM order. Element references are qualified names; the names in
# TIME_FORMALS hold xsd:dateTime lexical forms, kept exactly as given.
FORMALS: dict[str, tuple[str, ...]] = {
    "entity": (),
    "activity": ("startTime", "endTime"),
    "agent": (),
    "wasGeneratedBy": ("entity", "activity", "time"),
    "used": ("activity", "entity", "time"),
    "wasInformedBy": ("informed", "informant"),
    "wasStartedBy": ("activity", "trigger", "starter", "time"),
    "wasEndedBy": ("activity", "trigger", "ender", "time"),
    "wasInvalidatedBy": ("entity", "activity", "time"),
    "wasDerivedFrom": ("generatedEntity", "usedEntity", "activity", "generation", "usage"),
    "wasAttributedTo": ("entity", "agent"),
    "wasAssociatedWith": ("activity", "agent", "plan"),
    "actedOnBehalfOf": ("delegate", "responsible", "activity"),
    "wasInfluencedBy": ("influencee", "influencer"),
    "specializationOf": ("specificEntity", "generalEntity"),
    "alternateOf": ("alternate1", "alternate2"),
    "hadMember": ("collection", "entity"),
    "mentionOf": ("specificEntity", "generalEntity", "bundle"),
}

TIME_FORMALS = frozenset({"startTime", "endTime", "time"})

RELATIONS: tuple[str, ...] = tuple(k for k in FORMALS if k not in ELEMENT_KINDS)
"""Every PROV-DM relation, named as in PROV-N and PROV-JSON. Derivation subtypes (revision, quotation, primary
source) are ``wasDerivedFrom`` records with ``prov:type`` ``prov:Revision``/``prov:Quotation``/``prov:PrimarySource``,
as in the ``prov`` library; ``element``/``relation`` accept the subtype names and add that type."""

RECORD_KINDS = frozenset((*ELEMENT_KINDS, "bundle", *RELATIONS))

SUBJECT: dict[str, str] = {k: FORMALS[k][0] for k in RELATIONS}
"""The first formal argument of each relation: the node its graph edge starts from."""

_DERIVATION_SUBTYPES = {
    "wasRevisionOf": "prov:Revision",
    "wasQuotedFrom": "prov:Quotation",
    "hadPrimarySource": "prov:PrimarySource",
}


class WireFormatError(ValueError):
    """A message or record does not follow the wire format; ``reason`` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Message:
    """A decoded message: the document it belongs to, its namespaces and its records."""

    doc: str
    records: list[dict[str, Any]]
    namespaces: dict[str, str] = field(default_factory=dict)
    sent_at: float = 0.0
    source: str = ""
    version: int = WIRE_VERSION


# --- attribute values -------------------------------------------------------------------------------------------


def typed_literal(lexical: str, datatype: str) -> dict[str, str]:
    """A typed literal such as ``typed_literal("1", "xsd:int")``."""
    return {"$": lexical, "type": datatype}


def lang_string(text: str, lang: str) -> dict[str, str]:
    """A language-tagged string such as ``lang_string("bonjour", "fr")``."""
    return {"$": text, "lang": lang}


def qualified_name(qname: str) -> dict[str, str]:
    """A qualified-name value such as ``qualified_name("pg:Task")`` (used for ``prov:type``)."""
    return {"$": qname, "type": "prov:QUALIFIED_NAME"}


# --- records ----------------------------------------------------------------------------------------------------


def element(
    kind: str,
    identifier: str,
    attrs: Iterable[Sequence[Any]] | None = None,
    formal: Mapping[str, Any] | None = None,
    bundle: str | None = None,
) -> dict[str, Any]:
    """Build an element record (``entity``, ``activity`` or ``agent``)."""
    record: dict[str, Any] = {"k": kind, "id": identifier}
    if formal:
        record["f"] = {k: v for k, v in formal.items() if v is not None}
    if attrs:
        record["a"] = [[name, value] for name, value in attrs]
    if bundle:
        record["b"] = bundle
    return record


def relation(
    kind: str,
    identifier: str | None = None,
    attrs: Iterable[Sequence[Any]] | None = None,
    bundle: str | None = None,
    **formal: Any,
) -> dict[str, Any]:
    """Build a relation record, e.g. ``relation("used", activity="ex:a", entity="ex:e", time=...)``."""
    extra_type = _DERIVATION_SUBTYPES.get(kind)
    if extra_type:
        kind = "wasDerivedFrom"
    record: dict[str, Any] = {"k": kind}
    if identifier:
        record["id"] = identifier
    args = {k: v for k, v in formal.items() if v is not None}
    if args:
        record["f"] = args
    attr_list = [[name, value] for name, value in attrs] if attrs else []
    if extra_type:
        attr_list.insert(0, ["prov:type", qualified_name(extra_type)])
    if attr_list:
        record["a"] = attr_list
    if bundle:
        record["b"] = bundle
    return record


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise WireFormatError(f"{where}: non-finite float; send it as a typed literal xsd:double")
        return
    if isinstance(value, dict):
        if not isinstance(value.get("$"), str):
            raise WireFormatError(f"{where}: a structured value needs a string '$'")
        if set(value) - {"$", "type", "lang"} or ("type" in value and "lang" in value):
            raise WireFormatError(f"{where}: a structured value has '$' and one of 'type' or 'lang'")
        return
    raise WireFormatError(f"{where}: unsupported value type {type(value).__name__}")


def validate_record(record: Any, index: int = 0) -> None:
    """Check one record's shape; raise `WireFormatError` naming the record and the fault."""
    where = f"record {index}"
    if not isinstance(record, dict):
        raise WireFormatError(f"{where}: not an object")
    kind = record.get("k")
    if kind not in RECORD_KINDS:
        raise WireFormatError(f"{where}: unknown record kind {kind!r}")
    ident = record.get("id")
    if ident is not None and (not isinstance(ident, str) or not ident):
        raise WireFormatError(f"{where}: 'id' must be a non-empty string")
    if (kind in ELEMENT_KINDS or kind == "bundle") and ident is None:
        raise WireFormatError(f"{where}: a {kind} needs an 'id'")
    bundle = record.get("b")
    if bundle is not None and (not isinstance(bundle, str) or not bundle):
        raise WireFormatError(f"{where}: 'b' must be a non-empty string")
    formal = record.get("f", {})
    if not isinstance(formal, dict):
        raise WireFormatError(f"{where}: 'f' must be an object")
    allowed = FORMALS.get(kind, ())
    for name, value in formal.items():
        if name not in allowed:
            raise WireFormatError(f"{where}: {kind} has no formal argument {name!r}")
        if not isinstance(value, str) or not value:
            raise WireFormatError(f"{where}: formal argument {name!r} must be a non-empty string")
    attrs = record.get("a", [])
    if not isinstance(attrs, list):
        raise WireFormatError(f"{where}: 'a' must be a list of [name, value] pairs")
    for pair in attrs:
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str) or not pair[0]:
            raise WireFormatError(f"{where}: attribute {pair!r} is not a [name, value] pair")
        _check_value(pair[1], f"{where} attribute {pair[0]!r}")
    ns = record.get("ns")
    if ns is not None and (kind != "bundle" or not _is_str_map(ns)):
        raise WireFormatError(f"{where}: 'ns' is only allowed on bundle records, as a prefix -> URI map")


def _is_str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


# --- messages ---------------------------------------------------------------------------------------------------

try:  # orjson is optional: about 4x faster to encode than json (bench/wire_encoding.py).
    import orjson as _orjson

    def _dumps(obj: Any) -> bytes:
        return _orjson.dumps(obj)

    _loads = _orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()

    _loads = json.loads

_SOURCE = f"{socket.gethostname()}:{os.getpid()}"


def encode_message(
    doc: str,
    records: Sequence[dict[str, Any]],
    namespaces: Mapping[str, str] | None = None,
    source: str | None = None,
    sent_at: float | None = None,
) -> bytes:
    """Encode records of one document as a message (UTF-8 JSON bytes). Records are not re-validated here."""
    message = {
        "v": WIRE_VERSION,
        "doc": doc,
        "ts": time.time() if sent_at is None else sent_at,
        "src": source or _SOURCE,
        "ns": dict(namespaces or {}),
        "records": list(records),
    }
    try:
        return _dumps(message)
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"cannot encode message: {exc}") from exc


def decode_message(payload: bytes | str) -> Message:
    """Decode and validate a message; raise `WireFormatError` with a one-line reason if it is not valid."""
    try:
        raw = _loads(payload)
    except (ValueError, TypeError) as exc:
        raise WireFormatError(f"not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise WireFormatError("a message must be a JSON object")
    version = raw.get("v")
    if version != WIRE_VERSION:
        raise WireFormatError(f"unknown wire version {version!r} (this reader knows {WIRE_VERSION})")
    doc = raw.get("doc")
    if not isinstance(doc, str) or not doc:
        raise WireFormatError("'doc' must be a non-empty string")
    namespaces = raw.get("ns", {})
    if not _is_str_map(namespaces):
        raise WireFormatError("'ns' must map prefixes to namespace URIs")
    records = raw.get("records")
    if not isinstance(records, list):
        raise WireFormatError("'records' must be a list")
    for index, record in enumerate(records):
        validate_record(record, index)
    sent_at = raw.get("ts", 0.0)
    return Message(
        doc=doc,
        records=records,
        namespaces=namespaces,
        sent_at=float(sent_at) if isinstance(sent_at, int | float) else 0.0,
        source=str(raw.get("src", "")),
        version=version,
    )


def statement_key(doc: str, record: Mapping[str, Any]) -> str:
    """A stable key for one record of one document: equal records of a document get equal keys.

    The loader MERGEs on it, so a redelivered message adds nothing; two identical records in one document
    collapse into one, as they do in ``prov``'s own document comparison.
    """
    canonical = _canonical_fast(doc, record) if _orjson is not None else None
    if canonical is None:
        canonical = json.dumps(
            [doc, record], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


# The canonical form is the sorted, compact, non-ASCII-escaping ``json.dumps`` (keys of loaded graphs depend on it).
# orjson with sorted keys writes the same bytes 4x faster for everything except floats Python writes in exponent
# form (below 1e-4 or from 1e16 on), integers beyond 64 bits and lone surrogates. The fast path takes only records
# whose every value has the shape the format allows (strings; scalar or typed-literal attribute values) with no such
# float; orjson refuses the rest, and anything else takes the json path.
_RECORD_KEYS = frozenset({"k", "id", "b", "f", "a", "ns"})
_PLAIN_TYPES = frozenset(
    {str, int, bool, type(None)}
)  # written alike by both (orjson refuses ints beyond 64 bits)


def _canonical_fast(doc: str, record: Mapping[str, Any]) -> bytes | None:
    if not _RECORD_KEYS.issuperset(record):
        return None
    try:
        if type(record.get("k", "")) is not str or type(record.get("id", "")) is not str:
            return None
        if "b" in record and type(record["b"]) is not str:
            return None
        for mapping in (record.get("f"), record.get("ns")):
            if mapping:
                for value in mapping.values():
                    if type(value) is not str:
                        return None
        for _, value in record.get("a", ()):
            kind = type(value)
            if kind in _PLAIN_TYPES:
                continue
            if kind is float:
                if value != 0.0 and not 1e-4 <= abs(value) < 1e16:
                    return None
            elif kind is dict:
                for part in value.values():
                    if type(part) is not str:
                        return None
            else:
                return None
        return _orjson.dumps([doc, record], option=_orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError, AttributeError):  # not a record's shape, or a value orjson refuses
        return None
