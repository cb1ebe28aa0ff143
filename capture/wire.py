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
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from capture.errors import CaptureError

__all__ = [
    "ELEMENT_KINDS",
    "FIELD",
    "FORMALS",
    "NAMESPACES",
    "OCCURRENCE",
    "RECORD_KINDS",
    "RELATIONS",
    "SUBJECT",
    "TIME_FORMALS",
    "LIMITS",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_NAME_BYTES",
    "MAX_DOCUMENT_ID_BYTES",
    "MAX_ID_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_NAMESPACE_URI_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_PREFIX_BYTES",
    "MAX_RECORDS",
    "WIRE_VERSION",
    "READABLE_VERSIONS",
    "COMPACT_VERSION",
    "MAX_EXPANDED_RECORDS",
    "MAX_TEMPLATE_COPIES",
    "encode_compact_message",
    "expand_events",
    "iso_from_ns",
    "task_template",
    "activity_head",
    "derivation",
    "generation",
    "usage",
    "Message",
    "RecordFault",
    "WireFormatError",
    "decode_message",
    "element",
    "encode_message",
    "lang_string",
    "qualified_name",
    "relation",
    "STATEMENT_KEY_SCHEME",
    "resolve_name",
    "resolver",
    "statement_key",
    "statement_key_v1",
    "typed_literal",
    "decode_message_partial",
    "holds_cut_value",
    "validate_document_id",
    "validate_namespaces",
    "validate_payload",
    "validate_record",
]

WIRE_VERSION = 1
"""Version of the message layout of plain records (what `encode_message` writes). Bump on any change a version-1
reader would misread."""

READABLE_VERSIONS = (1, 2)
"""Versions every reader accepts: 1 (records) and 2 (records and compact task events, `expand_events`)."""

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

# --- limits -------------------------------------------------------------------------------------------------------
# Every value that becomes an indexed property must fit the smallest index key of every backend. Neo4j's range
# indexes (the uniqueness constraints on Element.key, Document.id, Namespace.key and the Element.id index) refuse
# values over 8,166 UTF-8 bytes (measured on 5.26: "Property value is too large to index"; FalkorDB took 10 MB).
# The longest indexed value the loader builds is a bundled element's key, "<bundle URI> <element URI>", each URI a
# namespace URI plus a local part: 2 x (1,024 + 1,024) + 1 = 4,097 bytes, half the limit. Lengths are UTF-8 bytes.

MAX_ID_BYTES = 1024
"""An identifier or reference: ``id``, ``b``, element references in ``f``, a qualified-name attribute value."""

MAX_DOCUMENT_ID_BYTES = 1024
"""``doc``: the document id (indexed as Document.id, part of every statement and namespace key)."""

MAX_PREFIX_BYTES = 128
"""A namespace prefix (part of Namespace.key)."""

MAX_NAMESPACE_URI_BYTES = 1024
"""A namespace URI (every element key starts with one)."""

MAX_ATTRIBUTE_NAME_BYTES = 256
"""An attribute name: it becomes a property-key token, and Neo4j keeps every token for ever (a 10 MB one made a
restart take six minutes)."""

MAX_ATTRIBUTES = 1000
"""Attribute pairs per record."""

MAX_RECORDS = 10_000
"""Records per message (capture sends at most ``flush_max_records``, 2,000 by default)."""

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""Encoded size of one message (the stream entry's ``m`` field)."""

MAX_NESTING_DEPTH = 6
"""JSON nesting of a valid message: message > records > record > a > pair > value object. Nothing deeper is a
message; the structural checks refuse it without recursing into it."""

LIMITS: dict[str, int] = {
    "id_bytes": MAX_ID_BYTES,
    "document_id_bytes": MAX_DOCUMENT_ID_BYTES,
    "prefix_bytes": MAX_PREFIX_BYTES,
    "namespace_uri_bytes": MAX_NAMESPACE_URI_BYTES,
    "attribute_name_bytes": MAX_ATTRIBUTE_NAME_BYTES,
    "attributes_per_record": MAX_ATTRIBUTES,
    "records_per_message": MAX_RECORDS,
    "message_bytes": MAX_MESSAGE_BYTES,
    "nesting_depth": MAX_NESTING_DEPTH,
}
"""Every limit by name (docs/wire-format.md, "Limits")."""

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


class WireFormatError(CaptureError, ValueError):
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
    events: tuple[tuple[int, int], ...] = ()
    """Where each compact event's records are in ``records``: ``(start, end)`` slices, one per event expanded (a
    reader that has to refuse one of them refuses them all: an event stands or falls whole)."""


# --- attribute values -------------------------------------------------------------------------------------------


def second_text(seconds: int, utc_offset_s: int) -> str:
    """The lexical form of a whole second (epoch seconds) at a UTC offset, with ``%06d`` where its microseconds
    go: ``2026-01-01T09:00:00.%06d+09:00``."""
    offset = utc_offset_s // 60
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    wall = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds + utc_offset_s))
    return f"{wall}.%06d{sign}{hours:02d}:{minutes:02d}"


_second_cache: tuple[int, int, str] = (-1, 0, "")


def iso_from_ns(epoch_ns: int, utc_offset_s: int) -> str:
    """ISO 8601 lexical form, with microseconds, of a ``time.time_ns()`` at a UTC offset in seconds
    (``2026-01-01T09:00:00.000001+09:00``): how capture writes every time (at the producer's local offset,
    `capture._ids.iso_from_ns`), and how a reader writes an event's times (`expand_events`)."""
    global _second_cache
    seconds, rest = divmod(epoch_ns, 1_000_000_000)
    cached = _second_cache
    if cached[0] != seconds or cached[1] != utc_offset_s:
        cached = _second_cache = (seconds, utc_offset_s, second_text(seconds, utc_offset_s))
    return cached[2] % (rest // 1000)


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


def _describe(value: Any) -> str:
    """A short, safe description of a value for a reason line: never a full repr (a value may be 100,000 levels
    deep or megabytes long, or hold a lone surrogate)."""
    if isinstance(value, str):
        text = value[:40].encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        return repr(text + ("..." if len(value) > 40 else ""))
    if isinstance(value, int) and value.bit_length() > 128:  # repr of 10**5000 raises
        return f"an integer of {value.bit_length()} bits"
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)[:40]
    return f"a {type(value).__name__}"


def _text(value: Any, limit: int, what: str) -> str:
    """``value`` as a non-empty string of valid Unicode of at most ``limit`` UTF-8 bytes, or WireFormatError."""
    if type(value) is not str or not value:
        raise WireFormatError(f"{what} must be a non-empty string, not {_describe(value)}")
    if value.isascii():  # O(1) in CPython: one byte per character
        size = len(value)
    else:
        try:
            size = len(value.encode())
        except UnicodeEncodeError:
            raise WireFormatError(
                f"{what} is not valid Unicode (a lone surrogate): {_describe(value)}"
            ) from None
    if size > limit:
        raise WireFormatError(f"{what} is {size} bytes, over the limit of {limit}: {_describe(value)}")
    return value


def _unicode(value: str, what: str) -> None:
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise WireFormatError(
                f"{what} is not valid Unicode (a lone surrogate): {_describe(value)}"
            ) from None


def _check_value(value: Any, where: str) -> None:
    kind = type(value)
    if kind is str:
        _unicode(value, where)
        return
    if kind is bool or kind is int:
        return
    if kind is float:
        if not math.isfinite(value):
            raise WireFormatError(f"{where}: non-finite float; send it as a typed literal xsd:double")
        return
    if kind is dict:
        lexical = value.get("$")
        if type(lexical) is not str:
            raise WireFormatError(f"{where}: a structured value needs a string '$'")
        if set(value) - {"$", "type", "lang"} or ("type" in value and "lang" in value):
            raise WireFormatError(f"{where}: a structured value has '$' and one of 'type' or 'lang'")
        datatype = value.get("type", value.get("lang", ""))
        if type(datatype) is not str:
            raise WireFormatError(f"{where}: 'type' or 'lang' must be a string")
        if datatype in ("prov:QUALIFIED_NAME", "xsd:QName"):
            _text(lexical, MAX_ID_BYTES, f"{where}: qualified name")
        else:
            _unicode(lexical, where)
        if datatype:
            _text(datatype, MAX_ID_BYTES, f"{where}: 'type' or 'lang'")
        return
    raise WireFormatError(f"{where}: unsupported value type {kind.__name__}")


_NEEDS_ID = frozenset((*ELEMENT_KINDS, "bundle"))
_QNAME_DATATYPES = ("prov:QUALIFIED_NAME", "xsd:QName")


def _plainly_valid(record: Any) -> bool:
    """True only for a record that is certainly valid and all ASCII: the fast path of `validate_record` (a loader
    checks every record it reads). Anything else, valid or not, goes through the full check.

    Its test of a short text (a non-empty ASCII string of at most ``limit`` bytes, checked without encoding:
    ``type(x) is str and 0 < len(x) <= limit and x.isascii()``) is written out in place, not called: this runs for
    every record a loader reads, several times per record."""
    if type(record) is not dict:
        return False
    kind = record.get("k")
    if type(kind) is not str or kind not in RECORD_KINDS or "ns" in record or OCCURRENCE in record:
        return False
    ident = record.get("id")
    if ident is None:
        if kind in _NEEDS_ID:
            return False
    elif not (type(ident) is str and 0 < len(ident) <= MAX_ID_BYTES and ident.isascii()):
        return False
    bundle = record.get("b")
    if bundle is not None and not (
        type(bundle) is str and 0 < len(bundle) <= MAX_ID_BYTES and bundle.isascii()
    ):
        return False
    formal = record.get("f")
    if formal is not None:
        if type(formal) is not dict:
            return False
        allowed = FORMALS[kind]
        for name, value in formal.items():
            if (
                name not in allowed
                or type(value) is not str
                or not 0 < len(value) <= MAX_ID_BYTES
                or not value.isascii()
            ):
                return False
    attrs = record.get("a")
    if attrs is None:
        return True
    if type(attrs) is not list or len(attrs) > MAX_ATTRIBUTES:
        return False
    for pair in attrs:
        if type(pair) is not list or len(pair) != 2:
            return False
        name, value = pair
        if type(name) is not str or not 0 < len(name) <= MAX_ATTRIBUTE_NAME_BYTES or not name.isascii():
            return False
        kind_of = type(value)
        if kind_of is str:
            if not value.isascii():
                return False
        elif kind_of is int or kind_of is bool:
            continue
        elif kind_of is float:
            if not math.isfinite(value):
                return False
        elif kind_of is dict:
            lexical = value.get("$")
            if len(value) != 2 or type(lexical) is not str or not lexical.isascii():
                return False
            datatype = value.get("type")
            if datatype is None:
                datatype = value.get("lang")
            if not (type(datatype) is str and 0 < len(datatype) <= MAX_ID_BYTES and datatype.isascii()):
                return False
            if datatype in _QNAME_DATATYPES and not 0 < len(lexical) <= MAX_ID_BYTES:
                return False
        else:
            return False
    return True


def validate_record(record: Any, index: int = 0) -> None:
    """Check one record's shape and limits; raise `WireFormatError` naming the record and the fault.

    Never recurses into a value of the wrong shape and never writes one out in full, so a record nested 100,000
    levels deep or holding megabytes is refused as cheaply as any other.
    """
    if _plainly_valid(record):
        return
    where = f"record {index}"
    if type(record) is not dict:
        raise WireFormatError(f"{where}: not an object but {_describe(record)}")
    kind = record.get("k")
    if type(kind) is not str or kind not in RECORD_KINDS:
        raise WireFormatError(f"{where}: unknown record kind {_describe(kind)}")
    ident = record.get("id")
    if ident is not None:
        _text(ident, MAX_ID_BYTES, f"{where}: 'id'")
    elif kind in ELEMENT_KINDS or kind == "bundle":
        raise WireFormatError(f"{where}: a {kind} needs an 'id'")
    bundle = record.get("b")
    if bundle is not None:
        _text(bundle, MAX_ID_BYTES, f"{where}: 'b'")
    formal = record.get("f", {})
    if type(formal) is not dict:
        raise WireFormatError(f"{where}: 'f' must be an object")
    allowed = FORMALS.get(kind, ())
    for name, value in formal.items():
        if name not in allowed:
            raise WireFormatError(f"{where}: {kind} has no formal argument {_describe(name)}")
        _text(value, MAX_ID_BYTES, f"{where}: formal argument {name!r}")
    attrs = record.get("a", [])
    if type(attrs) is not list:
        raise WireFormatError(f"{where}: 'a' must be a list of [name, value] pairs")
    if len(attrs) > MAX_ATTRIBUTES:
        raise WireFormatError(f"{where}: {len(attrs)} attributes, over the limit of {MAX_ATTRIBUTES}")
    for pair in attrs:
        if type(pair) is not list or len(pair) != 2:
            raise WireFormatError(f"{where}: attribute {_describe(pair)} is not a [name, value] pair")
        name = _text(pair[0], MAX_ATTRIBUTE_NAME_BYTES, f"{where}: attribute name")
        _check_value(pair[1], f"{where} attribute {_describe(name)}")
    occurrence = record.get(OCCURRENCE)
    if occurrence is not None and (type(occurrence) is not int or not 2 <= occurrence <= 2**31):
        raise WireFormatError(f"{where}: {OCCURRENCE!r} (occurrence) must be an integer from 2 on")
    ns = record.get("ns")
    if ns is not None:
        if kind != "bundle":
            raise WireFormatError(f"{where}: 'ns' is only allowed on bundle records")
        validate_namespaces(ns, f"{where}: 'ns'")


def validate_namespaces(namespaces: Any, where: str = "'ns'") -> dict[str, str]:
    """Check a prefix -> namespace URI map (a message's or a bundle's); return it or raise `WireFormatError`."""
    if type(namespaces) is not dict:
        raise WireFormatError(f"{where} must map prefixes to namespace URIs")
    for prefix, uri in namespaces.items():
        _text(prefix, MAX_PREFIX_BYTES, f"{where}: prefix")
        _text(uri, MAX_NAMESPACE_URI_BYTES, f"{where}: namespace URI of {_describe(prefix)}")
    return namespaces


def validate_document_id(doc: Any) -> str:
    """Check a document id; return it or raise `WireFormatError`."""
    return _text(doc, MAX_DOCUMENT_ID_BYTES, "'doc'")


def validate_payload(payload: Any) -> None:
    """Check an encoded message before decoding it: bytes or str, at most `MAX_MESSAGE_BYTES`."""
    if not isinstance(payload, bytes | bytearray | memoryview | str):
        raise WireFormatError(f"a message is bytes, not {_describe(payload)}")
    size = len(payload)
    if size > MAX_MESSAGE_BYTES:
        raise WireFormatError(f"message is {size} bytes, over the limit of {MAX_MESSAGE_BYTES}")


# --- messages ---------------------------------------------------------------------------------------------------

_orjson: Any
_loads: Callable[[bytes | str], Any]
try:  # orjson is optional: about 4x faster to encode than json (bench/wire_encoding.py).
    import orjson as _orjson

    def _dumps(obj: Any) -> bytes:
        encoded: bytes = _orjson.dumps(obj)
        return encoded

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


# --- version 2: compact task events -------------------------------------------------------------------------------
#
# Most of what capture sends is tasks, and most of a task's records are the same every time its function runs: the
# activity's type, name, tags, metadata and campaign; the shape of its start, usage, generation and derivation
# relations. In the spirit of PROV-TEMPLATE, a version-2 message sends those fixed parts once per message as a
# template, and each task as an event: a short JSON array binding the template's variables (the task's number,
# parent, times, status, and its inputs and outputs, each already described and redacted by the producer). Every
# reader expands each event into exactly the records the producer would otherwise have sent (`expand_events`,
# called by `decode_message`); docs/wire-format.md, "Version 2: compact task events", is the specification.

COMPACT_VERSION = 2
"""The message version that may hold events (``"v": 2``); version 1 holds records only."""

MAX_EXPANDED_RECORDS = 200_000
"""Most records one message may expand to (a hostile message of nested bindings cannot blow up a reader)."""

MAX_TEMPLATE_COPIES = 1_000_000
"""Most activity attributes one message's events may copy from their templates. A template is sent once and
copied into every event bound to it: without this bound a message of 1 MB (a template of 990 fixed attributes, 10,000
events) would make a reader build 10 million attribute values, far more than any 16 MiB version-1 message holds."""

SCALAR = 0
"""Binding kind: a new entity whose value is the JSON scalar itself (``bool``, ``int``, ``float``, ``str``)."""
DESCRIBED = 1
"""Binding kind: a new entity with the attributes given (capture's description of any other value)."""
KNOWN = 2
"""Binding kind (inputs only): the value already is these entities; the task uses each of them."""

_PYTHON_TYPES = {bool: "bool", int: "int", float: "float", str: "str"}
_MAX_INT = 2**63 - 1


def task_template(
    name: str,
    *,
    type_qn: str = "pg:Task",
    tags: Sequence[str] = (),
    custom_metadata: str | None = None,
    campaign: str | None = None,
    extra: Sequence[Sequence[Any]] = (),
) -> dict[str, Any]:
    """A template's JSON object: what every task bound to it shares.

    Args:
        name: ``pg:name`` of the activity.
        type_qn: its ``prov:type`` (a qualified name).
        tags: ``pg:tags`` values, in order.
        custom_metadata: ``pg:custom_metadata`` (JSON text), if any.
        campaign: ``pg:campaign``, if any.
        extra: further attributes, in order: ``[name, value]`` fixed, or ``[name]`` bound per event (its value is
            the event's next slot value).
    """
    out: dict[str, Any] = {"n": name, "ty": type_qn}
    if tags:
        out["tags"] = list(tags)
    if custom_metadata is not None:
        out["cm"] = custom_metadata
    if campaign:
        out["c"] = campaign
    if extra:
        out["x"] = [list(pair) for pair in extra]
    return out


def record_count(inputs: Sequence[Sequence[Any]], outputs: Sequence[Sequence[Any]]) -> int:
    """How many records an event with these bindings expands to (for the emitter's counts and message sizes)."""
    used = 0
    new = 0
    for binding in inputs:
        if binding[0] == KNOWN:
            used += len(binding[2])
        else:
            used += 1
            new += 1
    return 2 + new + used + len(outputs) * (2 + used)


def encode_compact_message(
    doc: str,
    entries: Sequence[Any],
    templates: Mapping[int, dict[str, Any]],
    prefix: str,
    source: str | None = None,
    sent_at: float | None = None,
) -> bytes:
    """A version-2 message: ``entries`` are records (JSON objects, as in version 1) and events (JSON arrays), in
    order; ``templates`` maps each template number the events use to its object (`template`); ``prefix`` is the
    producer's task-id prefix (`capture._ids.process_prefix`)."""
    message = {
        "v": COMPACT_VERSION,
        "doc": doc,
        "ts": time.time() if sent_at is None else sent_at,
        "src": source or _SOURCE,
        "ns": {},
        "p": prefix,
        "tpl": {str(number): body for number, body in templates.items()},
        "records": list(entries),
    }
    try:
        return _dumps(message)
    except (TypeError, ValueError) as exc:
        raise WireFormatError(f"cannot encode message: {exc}") from exc


# --- expansion ----------------------------------------------------------------------------------------------------


def activity_head(
    activity_id: str,
    parent_id: str,
    type_qn: dict[str, str],
    name: str,
    status: str,
    start: str,
    end: str | None,
    duration_s: float | None,
    error: str | None,
    tags: Iterable[Any],
    custom_metadata: str | None,
    campaign: str | None,
    extra: Iterable[Sequence[Any]],
) -> list[dict[str, Any]]:
    """The records that open a task-shaped activity (a task, loop iteration, custom task, agent or LLM call), with
    its attribute values as given (redacted already): the activity and its ``wasStartedBy``. Capture's records and
    `expand_events` both build them here, so an event expands to exactly what capture would have sent."""
    attrs: list[list[Any]] = [["prov:type", type_qn], ["pg:name", name], ["pg:status", status]]
    if duration_s is not None:
        attrs.append(["pg:duration_s", duration_s])
    if error is not None:
        attrs.append(["pg:error", error])
    attrs.append(["pg:started_by", parent_id])
    for tag in tags:
        attrs.append(["pg:tags", tag])
    if custom_metadata is not None:
        attrs.append(["pg:custom_metadata", custom_metadata])
    if campaign:
        attrs.append(["pg:campaign", campaign])
    for pair in extra:
        attrs.append([pair[0], pair[1]])
    formal = {"startTime": start, "endTime": end} if end else {"startTime": start}
    return [
        {"k": "activity", "id": activity_id, "f": formal, "a": attrs},
        {"k": "wasStartedBy", "f": {"activity": activity_id, "starter": parent_id, "time": start}},
    ]


def usage(activity_id: str, entity_id: str, time: str, role: str) -> dict[str, Any]:
    """``used(activity, entity, time)`` with its ``prov:role``."""
    return {
        "k": "used",
        "f": {"activity": activity_id, "entity": entity_id, "time": time},
        "a": [["prov:role", role]],
    }


def generation(entity_id: str, activity_id: str, time: str, role: str) -> dict[str, Any]:
    """``wasGeneratedBy(entity, activity, time)`` with its ``prov:role``."""
    return {
        "k": "wasGeneratedBy",
        "f": {"entity": entity_id, "activity": activity_id, "time": time},
        "a": [["prov:role", role]],
    }


def derivation(generated_id: str, used_id: str, activity_id: str) -> dict[str, Any]:
    """``wasDerivedFrom(generated, used, activity)``."""
    return {
        "k": "wasDerivedFrom",
        "f": {"generatedEntity": generated_id, "usedEntity": used_id, "activity": activity_id},
    }


class _Template:
    """A template decoded once per message: its activity attributes before and after the per-event ones."""

    __slots__ = ("campaign", "custom_metadata", "extra", "name", "slots", "tags", "type_qn")

    def __init__(self, key: str, body: Any) -> None:
        where = f"template {_describe(key)}"
        if type(body) is not dict:
            raise WireFormatError(f"{where}: not an object but {_describe(body)}")
        name = body.get("n")
        type_qn = body.get("ty", "pg:Task")
        if type(name) is not str or type(type_qn) is not str:
            raise WireFormatError(f"{where}: 'n' and 'ty' must be strings")
        tags = body.get("tags", [])
        if type(tags) is not list or any(type(tag) is not str for tag in tags):
            raise WireFormatError(f"{where}: 'tags' must be a list of strings")
        custom_metadata = body.get("cm")
        campaign = body.get("c")
        if custom_metadata is not None and type(custom_metadata) is not str:
            raise WireFormatError(f"{where}: 'cm' must be a string")
        if campaign is not None and type(campaign) is not str:
            raise WireFormatError(f"{where}: 'c' must be a string")
        extra = body.get("x", [])
        if type(extra) is not list or any(
            type(pair) is not list or len(pair) not in (1, 2) or type(pair[0]) is not str for pair in extra
        ):
            raise WireFormatError(f"{where}: 'x' must be a list of [name, value] or [name] pairs")
        fixed = 4 + len(tags) + len(extra)  # type, name, status, started_by: an activity has at least these
        if (
            fixed > MAX_ATTRIBUTES
        ):  # refused once here, not copied into every event first (a reader would stall)
            raise WireFormatError(f"{where}: {fixed} attributes, over the limit of {MAX_ATTRIBUTES}")
        self.name = name
        self.type_qn = qualified_name(type_qn)
        self.tags = tags
        self.custom_metadata = custom_metadata
        self.campaign = campaign
        self.extra = extra
        self.slots = sum(1 for pair in extra if len(pair) == 1)


def _task_id(number: Any, prefix: str, where: str) -> str:
    if type(number) is int and 0 <= number <= _MAX_INT:  # (a Python caller's 10**5000 cannot even be written)
        return f"pgid:task_{prefix}_{number}"
    if type(number) is str:
        return number
    raise WireFormatError(f"{where}: a task is a number or an id, not {_describe(number)}")


def _bindings(value: Any, where: str, inputs: bool) -> list[Any]:
    if type(value) is not list:
        raise WireFormatError(f"{where}: bindings must be a list, not {_describe(value)}")
    for binding in value:
        if type(binding) is not list or len(binding) != 3 or type(binding[1]) is not str:
            raise WireFormatError(f"{where}: a binding is [kind, role, value], not {_describe(binding)}")
        kind = binding[0]
        payload = binding[2]
        if kind == SCALAR and type(kind) is int:
            if type(payload) not in _PYTHON_TYPES:
                raise WireFormatError(f"{where}: a scalar binding holds {_describe(payload)}")
        elif kind == DESCRIBED and type(kind) is int:
            if type(payload) is not list:
                raise WireFormatError(f"{where}: a described binding holds a list of [name, value] pairs")
        elif kind == KNOWN and type(kind) is int and inputs:
            if type(payload) is not list or any(type(ident) is not str for ident in payload):
                raise WireFormatError(f"{where}: a known binding holds a list of entity ids")
        else:
            raise WireFormatError(f"{where}: unknown binding kind {_describe(kind)}")
    return value


class _TooLarge(CaptureError):
    """An event that would take the message over `MAX_EXPANDED_RECORDS` or `MAX_TEMPLATE_COPIES`; says which."""


def _expand_event(
    doc: str,
    prefix: str,
    templates: dict[str, _Template | str],
    event: list[Any],
    where: str,
    budget: int,
    copies: int = MAX_TEMPLATE_COPIES,
) -> list[dict[str, Any]]:
    if len(event) not in (10, 11):
        raise WireFormatError(f"{where}: an event has 10 or 11 fields, not {len(event)}")
    key, number, parent, start_ns, end_ns, offset, status, error, inputs, outputs = event[:10]
    # a number or its text names a template; nothing else is turned into text (a caller's list may be 100,000 deep)
    spec = (
        templates.get(key if type(key) is str else str(key))
        if type(key) is int and abs(key) <= _MAX_INT or type(key) is str
        else None
    )
    if isinstance(spec, str):  # the template's own fault: every event bound to it is refused with it
        raise WireFormatError(f"{where}: {spec}")
    if spec is None:
        raise WireFormatError(f"{where}: no template {_describe(key)} in this message")
    activity_id = _task_id(number, prefix, where)
    parent_id = doc if parent is None else _task_id(parent, prefix, where)
    if type(start_ns) is not int or (end_ns is not None and type(end_ns) is not int):
        raise WireFormatError(f"{where}: times are integers (nanoseconds since the epoch)")
    if type(status) is not str or (error is not None and type(error) is not str):
        raise WireFormatError(f"{where}: status and error are strings")
    if type(offset) is int:
        start_offset = end_offset = offset
    elif type(offset) is list and len(offset) == 2 and all(type(part) is int for part in offset):
        start_offset, end_offset = offset
    else:
        raise WireFormatError(f"{where}: the UTC offset is seconds, or [start, end] seconds")
    if not (-86_400 < start_offset < 86_400 and -86_400 < end_offset < 86_400):
        raise WireFormatError(f"{where}: a UTC offset of a day or more")
    slots = event[10] if len(event) == 11 else []
    if type(slots) is not list or len(slots) != spec.slots:
        raise WireFormatError(f"{where}: template {_describe(key)} binds {spec.slots} slot values")
    inputs = _bindings(inputs, where, inputs=True)
    outputs = _bindings(outputs, where, inputs=False)
    if record_count(inputs, outputs) > budget:
        raise _TooLarge(f"the message would expand to over {MAX_EXPANDED_RECORDS} records")
    if len(spec.tags) + len(spec.extra) > copies:
        raise _TooLarge(f"the message's events would copy over {MAX_TEMPLATE_COPIES} template attributes")
    try:
        start = iso_from_ns(start_ns, start_offset)
        end = iso_from_ns(end_ns, end_offset) if end_ns is not None else None
    except (OverflowError, ValueError, OSError) as exc:
        raise WireFormatError(f"{where}: a time out of range ({exc})") from None

    extra: list[list[Any]] = []
    slot = 0
    for pair in spec.extra:
        if len(pair) == 2:
            extra.append([pair[0], pair[1]])
        else:
            extra.append([pair[0], slots[slot]])
            slot += 1
    records = activity_head(
        activity_id,
        parent_id,
        spec.type_qn,
        spec.name,
        status,
        start,
        end,
        (end_ns - start_ns) / 1e9 if end_ns is not None else None,
        error,
        spec.tags,
        spec.custom_metadata,
        spec.campaign,
        extra,
    )
    append = records.append
    base = "pgid:val_" + activity_id.split("_", 1)[1] if "_" in activity_id else f"{activity_id}_val"
    used_ids: list[str] = []
    for index, (kind, role, payload) in enumerate(inputs):
        if kind == KNOWN:
            known = payload
        else:
            entity_id = f"{base}_i{index}"
            append(_entity(entity_id, role, kind, payload))
            known = (entity_id,)
        for entity_id in known:
            append(usage(activity_id, entity_id, start, role))
            used_ids.append(entity_id)
    when = end or start
    for index, (kind, role, payload) in enumerate(outputs):
        entity_id = f"{base}_o{index}"
        append(_entity(entity_id, role, kind, payload))
        append(generation(entity_id, activity_id, when, role))
        for used_id in used_ids:
            if used_id != entity_id:
                append(derivation(entity_id, used_id, activity_id))
    return records


def _entity(entity_id: str, role: str, kind: int, payload: Any) -> dict[str, Any]:
    if kind == SCALAR:
        attrs = [["pg:role", role], ["pg:python_type", _PYTHON_TYPES[type(payload)]], ["prov:value", payload]]
    else:
        attrs = [["pg:role", role], *payload]
    return {"k": "entity", "id": entity_id, "a": attrs}


def expand_events(raw: dict[str, Any], entries: list[Any]) -> tuple[list[Any], list[tuple[int, Any, str]]]:
    """The records of a version-2 message's entries, events expanded in place (records pass through as they are,
    to be validated like any record), and the events that could not be expanded: ``(index, event, reason)``.

    Raises `WireFormatError` when the message's prefix or its object of templates is unusable. A template that is
    not usable, or an event that would take the message over `MAX_EXPANDED_RECORDS` records or
    `MAX_TEMPLATE_COPIES` copied attributes, costs only the events
    concerned: they are among the faults.
    """
    out, faults, _, _ = _expand(raw, entries, check=False)
    return out, [(index, event, reason) for index, _, event, reason in faults]


def _expand(
    raw: dict[str, Any], entries: list[Any], *, check: bool, cut: bool = False
) -> tuple[list[Any], list[tuple[int, int, Any, str]], list[tuple[int, int]], list[tuple[int, int]]]:
    """`expand_events`, and what a reader needs besides: the faults as ``(index of the entry, its position in
    the sequence of records and faults, entry, reason)``; for each entry that is a record (still to be
    validated), its index in the output and its position in that sequence; and each expanded event's slice of
    the output, ``(start, end)``. With ``check``, an event is expanded whole or not at all: when one of its
    records is not valid (`validate_record`), or it held a value cut out for nesting too deep (``cut``), the
    event is left out with that reason, so no reader ever writes part of a refused event."""
    prefix = raw.get("p")
    if type(prefix) is not str or not 0 < len(prefix) <= 64 or not prefix.isascii():
        raise WireFormatError(
            "a version-2 message needs 'p', its producer's task-id prefix (1-64 ASCII chars)"
        )
    bodies = raw.get("tpl")
    if type(bodies) is not dict:
        raise WireFormatError("a version-2 message needs 'tpl', an object of templates")
    templates: dict[str, _Template | str] = {}
    for key, body in bodies.items():  # a template that is not usable costs only the events bound to it
        try:
            templates[key] = _Template(key, body)
        except WireFormatError as exc:
            templates[key] = exc.reason
    doc = raw["doc"]
    out: list[Any] = []
    faults: list[tuple[int, int, Any, str]] = []
    plain: list[tuple[int, int]] = []
    spans: list[tuple[int, int]] = []
    copies = MAX_TEMPLATE_COPIES
    for index, entry in enumerate(entries):
        if type(entry) is not list:
            plain.append((len(out), len(out) + len(faults)))
            out.append(entry)
            continue
        where = f"event {index}"
        try:
            records = _expand_event(
                doc, prefix, templates, entry, where, MAX_EXPANDED_RECORDS - len(out), copies
            )
            if check:
                if cut and holds_cut_value(entry):
                    raise WireFormatError(f"{where}: {_CUT_REASON}")
                for number, record in enumerate(records):
                    try:
                        validate_record(record, number)
                    except WireFormatError as exc:
                        raise WireFormatError(f"{where}: {exc.reason}") from None
        except WireFormatError as exc:
            faults.append((index, len(out) + len(faults), entry, exc.reason))
            continue
        except _TooLarge as exc:  # this event alone: the events before it, and smaller ones after, still fit
            faults.append((index, len(out) + len(faults), entry, f"{where}: {exc}"))
            continue
        copies -= len(records[0]["a"])  # the activity: the template's attributes and the event's own few
        spans.append((len(out), len(out) + len(records)))
        out.extend(records)
    return out, faults, plain, spans


@dataclass(frozen=True, slots=True)
class RecordFault:
    """A record `decode_message_partial` left out: its index in the message, the record as sent, and why."""

    index: int
    record: Any
    reason: str


_PARSE_DEPTH = 64
"""Arrays and objects nested deeper than this (no valid message comes near: values nest at most
`MAX_NESTING_DEPTH`) are cut out before parsing when the parser refuses the depth, so that only the record holding
them is refused, not the whole message."""

_TOO_DEEP = "\x00provgraph: cut, nested too deep"
_TOO_DEEP_JSON = json.dumps(_TOO_DEEP).encode()
_CUT_REASON = (
    f"a value nested deeper than {_PARSE_DEPTH} levels (values in a message nest at most {MAX_NESTING_DEPTH})"
)
_STRUCTURE = re.compile(rb'[\\"\[\]{}]')


def _cut_deep_values(payload: bytes) -> bytes:
    """``payload`` with every array or object that starts deeper than `_PARSE_DEPTH` replaced by `_TOO_DEEP`:
    one pass over the structural characters, without recursion (a hostile message may nest 100,000 deep)."""
    out = bytearray()
    depth = 0
    copied = 0  # payload[:copied] is in out (or cut)
    cut_from = -1
    in_string = False
    escaped_until = -1
    for match in _STRUCTURE.finditer(payload):
        at = match.start()
        char = payload[at]
        if at <= escaped_until:
            continue
        if in_string:
            if char == 0x5C:  # backslash: the next character is escaped
                escaped_until = at + 1
            elif char == 0x22:
                in_string = False
            continue
        if char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):
            depth += 1
            if depth == _PARSE_DEPTH + 1 and cut_from < 0:
                cut_from = at
        elif char in (0x5D, 0x7D):
            if depth == _PARSE_DEPTH + 1 and cut_from >= 0:
                out += payload[copied:cut_from] + _TOO_DEEP_JSON
                copied = at + 1
                cut_from = -1
            depth -= 1
    out += payload[copied:] if cut_from < 0 else payload[copied:cut_from] + _TOO_DEEP_JSON
    return bytes(out)


def holds_cut_value(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` (a decoded record) held an array or object nested too deep to parse, cut out on decoding:
    such a record cannot be written out as it was sent."""
    if value == _TOO_DEEP:
        return True
    if depth > _PARSE_DEPTH:
        return False
    if isinstance(value, dict):
        return any(holds_cut_value(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return any(holds_cut_value(item, depth + 1) for item in value)
    return False


def _decode_envelope(payload: bytes | str) -> tuple[dict[str, Any], list[Any], bool]:
    """The message object and its records list, the envelope checked (size, JSON, version, doc, ns), and whether
    values nested too deep for the parser were cut out (the records holding `_TOO_DEEP` are then refused)."""
    validate_payload(payload)
    cut = False
    try:
        raw = _loads(payload)
    except (RecursionError, ValueError, TypeError) as exc:
        too_deep = isinstance(exc, RecursionError) or "depth" in str(exc)
        if not too_deep:
            raise WireFormatError(f"not valid JSON: {str(exc)[:200]}") from exc
        data = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else bytes(payload)
        try:
            raw = _loads(_cut_deep_values(data))
        except (RecursionError, ValueError, TypeError) as again:
            raise WireFormatError(f"not valid JSON: {str(again)[:200]}") from again
        cut = True
    if type(raw) is not dict:
        raise WireFormatError(f"a message must be a JSON object, not {_describe(raw)}")
    version = raw.get("v")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise WireFormatError(
            f"unknown wire version {_describe(version)} (this reader knows {', '.join(map(str, READABLE_VERSIONS))})"
        )
    validate_document_id(raw.get("doc"))
    validate_namespaces(raw.get("ns", {}))
    records = raw.get("records")
    if type(records) is not list:
        raise WireFormatError("'records' must be a list")
    if len(records) > MAX_RECORDS:
        raise WireFormatError(f"{len(records)} records, over the limit of {MAX_RECORDS} per message")
    if _orjson is None:  # orjson refuses invalid UTF-8 and lone surrogates while parsing; json does not
        for key in ("src",):
            if isinstance(raw.get(key), str):
                _unicode(raw[key], f"'{key}'")
    return raw, records, cut


def _entries(
    raw: dict[str, Any], records: list[Any], cut: bool
) -> tuple[list[Any], list[RecordFault], list[tuple[int, int]], list[tuple[int, int]]]:
    """A message's records, a version-2 message's compact task events expanded in place and checked (`_expand`),
    the events left out, the records still to be validated: (index in the records, position), and each event's
    slice of the records. A fault's index is its position in the sequence of the message's records and faults, in
    order (in a version-1 message, the index of the record)."""
    if raw["v"] == 1:
        return records, [], [(index, index) for index in range(len(records))], []
    expanded, faults, plain, spans = _expand(raw, records, check=True, cut=cut)
    return (
        expanded,
        [RecordFault(position, event, reason) for _, position, event, reason in faults],
        plain,
        spans,
    )


def _message(
    raw: dict[str, Any], records: list[dict[str, Any]], events: list[tuple[int, int]] | None = None
) -> Message:
    sent_at = raw.get("ts", 0.0)
    source = raw.get("src", "")
    return Message(
        doc=raw["doc"],
        records=records,
        namespaces=raw.get("ns", {}),
        sent_at=float(sent_at) if type(sent_at) in (int, float) and math.isfinite(sent_at) else 0.0,
        source=source[:200] if type(source) is str else "",
        version=raw["v"],
        events=tuple(events or ()),
    )


def decode_message(payload: bytes | str) -> Message:
    """Decode and validate a message; raise `WireFormatError` with a one-line reason if it or any record is not
    valid (`decode_message_partial` keeps the valid records instead)."""
    raw, records, cut = _decode_envelope(payload)
    records, faults, plain, spans = _entries(raw, records, cut)
    if faults:
        raise WireFormatError(faults[0].reason)
    for index, _ in plain:
        record = records[index]
        if cut and holds_cut_value(record):
            raise WireFormatError(f"record {index}: {_CUT_REASON}")
        validate_record(record, index)
    return _message(raw, records, spans)


def decode_message_partial(payload: bytes | str) -> tuple[Message, list[RecordFault]]:
    """Decode a message, keeping its valid records: the message (valid records only, in order) and the records
    left out with their reasons. Raises `WireFormatError` only when the message itself is unusable (size, JSON,
    version, document id, namespaces, not a list of records)."""
    raw, records, cut = _decode_envelope(payload)
    records, faults, plain, spans = _entries(raw, records, cut)
    refused: set[int] = set()
    for index, position in plain:
        record = records[index]
        if not cut and _plainly_valid(record):  # the common case, without a call to validate_record
            continue
        try:
            if cut and holds_cut_value(record):
                raise WireFormatError(f"record {position}: {_CUT_REASON}")
            validate_record(record, position)
        except WireFormatError as exc:
            refused.add(index)
            faults.append(RecordFault(position, record, exc.reason))
    if refused:
        # the events' slices move up past the records refused before them
        before = [0] * (len(records) + 1)
        for index in range(len(records)):
            before[index + 1] = before[index] + (index in refused)
        spans = [(start - before[start], end - before[end]) for start, end in spans]
        records = [record for index, record in enumerate(records) if index not in refused]
        faults.sort(key=lambda fault: fault.index)
    return _message(raw, records, spans), faults


STATEMENT_KEY_SCHEME = 2
"""Version of `statement_key`'s definition. Scheme 1 (`statement_key_v1`) hashed the record as spelled; scheme 2
hashes what it means (resolved URIs, attributes in canonical order), and its keys start with ``2-`` so the two
can never be confused in one graph (docs/wire-format.md, "Statement keys")."""


def resolver(namespaces: Mapping[str, str] | None = None) -> Callable[[str], str]:
    """A function resolving qualified names to URIs against the built-in namespaces and ``namespaces`` (later
    wins), by the rules of docs/wire-format.md; raises `WireFormatError` for a name that does not resolve."""
    prefixes = {**NAMESPACES, **(namespaces or {})}
    cache: dict[str, str] = {}

    def resolve(qname: str) -> str:
        uri = cache.get(qname)
        if uri is None:
            uri = cache[qname] = resolve_name(qname, prefixes)
        return uri

    return resolve


def resolve_name(qname: str, prefixes: Mapping[str, str]) -> str:
    """The URI of ``qname`` given a prefix map: ``prefix:local`` -> namespace + local; a name without a colon uses
    the ``default`` namespace; a full URI (``scheme://...``, ``urn:...``) stays as it is."""
    prefix, sep, local = qname.partition(":")
    if not sep:
        namespace = prefixes.get("default")
        if namespace is None:
            raise WireFormatError(f"{qname!r} has no prefix and the message declares no 'default' namespace")
        return namespace + qname
    if prefix != "default" and prefix in prefixes:
        return prefixes[prefix] + local
    if _FULL_URI.match(qname):
        return qname
    raise WireFormatError(f"unknown prefix {prefix!r} in {qname!r} (declare it in the message's 'ns')")


_FULL_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|urn:)")
_QNAME_VALUE_TYPES = frozenset({"prov:QUALIFIED_NAME", "xsd:QName"})


OCCURRENCE = "n"
"""Record key of a statement a document states more than once: 2 on its second occurrence, 3 on its third, ...
(`provgraph.prov.importer` sets it; absent on the first). Part of the statement key, so each occurrence is stored
and exported; the record's meaning is otherwise the same."""


def statement_key(
    doc: str,
    record: Mapping[str, Any],
    namespaces: Mapping[str, str] | None = None,
    *,
    resolve: Callable[[str], str] | None = None,
) -> str:
    """A stable key for one statement of one document (scheme 2): equal statements get equal keys, however they
    were spelled.

    The key hashes the record's meaning: its kind; its id, bundle and element references as URIs (resolved with
    ``resolve``, or against the built-in namespaces and ``namespaces``); its attributes as (name URI, value)
    pairs in a canonical order, with qualified-name values and datatypes resolved too. So the same statement
    written with other prefixes, or with its attributes in another order, gets the same key. A name that does not
    resolve is kept as written. The loader MERGEs on the key: a redelivered message adds nothing, and two equal
    statements of a document are stored once.
    """
    if resolve is None:
        resolve = resolver(namespaces)
    try:
        canonical = _meaning(doc, record, resolve)
    except (WireFormatError, TypeError, ValueError, AttributeError, KeyError):
        canonical = _meaning_as_far_as_known(doc, record, resolve)
    occurrence = record.get(OCCURRENCE)
    if occurrence is not None:  # the n-th time a document states this statement: a statement of its own
        canonical.append(
            [OCCURRENCE, str(occurrence) if type(occurrence) is int else _plain_text(occurrence)]
        )
    try:
        data = _orjson.dumps(canonical) if _orjson is not None else None
    except (TypeError, ValueError):  # beyond 64-bit integers in a shape the format does not allow, say
        data = None
    if data is None:
        data = json.dumps(canonical, separators=(",", ":"), ensure_ascii=False, default=repr).encode(
            "utf-8", "surrogatepass"
        )
    # a copy of a ready hash object: cheaper than building one with its options
    digest = _STATEMENT_HASH.copy()
    digest.update(data)
    return "2-" + digest.hexdigest()


_STATEMENT_HASH = hashlib.blake2b(digest_size=16)


def _meaning(doc: str, record: Mapping[str, Any], resolve: Callable[[str], str]) -> list[Any]:
    """The canonical form of a valid record whose every name resolves (the loader's case, kept fast); raises for
    anything else, which `_meaning_as_far_as_known` then handles."""
    formal = record.get("f")
    formals = (
        [[name, formal[name] if name in TIME_FORMALS else resolve(formal[name])] for name in sorted(formal)]
        if formal
        else []
    )
    attrs = []
    for name, value in record.get("a") or ():
        kind = type(value)
        if kind is str:
            canonical: list[str] = ["s", value]
        elif kind is dict:
            lexical = value["$"]
            if type(lexical) is not str:
                raise TypeError("lexical form")
            if "lang" in value:
                canonical = ["l", lexical, value["lang"]]
            else:
                datatype = value["type"]
                if datatype in _QNAME_VALUE_TYPES:
                    canonical = ["q", resolve(lexical)]
                else:
                    canonical = ["t", lexical, resolve(datatype)]
        elif kind is bool:
            canonical = ["b", "true" if value else "false"]
        elif kind is int:
            canonical = ["i", str(value)]
        elif kind is float:
            canonical = ["f", repr(value)]
        else:
            raise TypeError("value")
        attrs.append([resolve(name), canonical])
    attrs.sort()  # every part a string: a total order
    ident = record.get("id")
    bundle = record.get("b")
    kind_name = record["k"]
    if type(kind_name) is not str or type(doc) is not str:
        raise TypeError("kind")
    return [
        STATEMENT_KEY_SCHEME,
        doc,
        kind_name,
        None if ident is None else resolve(ident),
        None if bundle is None else resolve(bundle),
        formals,
        attrs,
    ]


def _meaning_as_far_as_known(doc: Any, record: Mapping[str, Any], resolve: Callable[[str], str]) -> list[Any]:
    """The canonical form of any record: names that do not resolve are kept as written, marked so they never
    equal a URI; values of shapes the format does not allow are tagged by their ``repr``."""

    def uri(qname: Any) -> Any:
        if type(qname) is not str:
            return _plain_text(qname)
        try:
            return resolve(qname)
        except WireFormatError:
            return "?" + qname

    formal = record.get("f") or {}
    try:
        names = sorted(formal) if isinstance(formal, dict) else []
    except TypeError:  # names of mixed types
        names = sorted(formal, key=str)
    formals = [
        [_plain_text(name), _plain_text(formal[name]) if name in TIME_FORMALS else uri(formal[name])]
        for name in names
    ]
    attrs = []
    raw_attrs = record.get("a") or ()
    for pair in raw_attrs if isinstance(raw_attrs, list) else ():
        if type(pair) is not list or len(pair) != 2:
            attrs.append(["?", _canonical_value(pair, uri)])
            continue
        attrs.append([uri(pair[0]), _canonical_value(pair[1], uri)])
    try:
        attrs.sort()
    except TypeError:  # parts that are not strings
        attrs.sort(key=repr)
    return [
        STATEMENT_KEY_SCHEME,
        _plain_text(doc),
        _plain_text(record.get("k")),
        uri(record.get("id")),
        uri(record.get("b")),
        formals,
        attrs,
    ]


def _canonical_value(value: Any, uri: Callable[[Any], Any]) -> Any:
    """An attribute value as canonical JSON can hold it identically from orjson and json: a list of strings tagged
    with its type (floats by ``repr``, so both serializers agree; a string is ``["s", text]``)."""
    kind = type(value)
    if kind is str:
        return ["s", value]
    if kind is bool:
        return ["b", "true" if value else "false"]
    if kind is int:
        return ["i", str(value)]
    if kind is float:
        return ["f", repr(value)]
    if kind is dict:
        lexical = _plain_text(value.get("$"))
        if "lang" in value:
            return ["l", lexical, _plain_text(value.get("lang"))]
        datatype = value.get("type")
        if datatype in _QNAME_VALUE_TYPES:
            return ["q", uri(lexical)]
        return ["t", lexical, uri(datatype)]
    return ["?", repr(value)[:10_000]]


def _plain_text(value: Any) -> Any:
    """A string or None as itself; anything else (in a shape the format does not allow) tagged by its repr, so
    the canonical JSON never holds a number the two serializers would write differently."""
    if value is None or type(value) is str:
        return value
    return ["?", repr(value)[:10_000]]


def statement_key_v1(doc: str, record: Mapping[str, Any]) -> str:
    """Scheme 1 of the statement key, kept to recognise keys of graphs loaded before scheme 2: a 128-bit BLAKE2b
    of the canonical JSON of ``[doc, record]`` as spelled (so the same statement under other prefixes or another
    attribute order got another key)."""
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
        canonical: bytes = _orjson.dumps([doc, record], option=_orjson.OPT_SORT_KEYS)
        return canonical
    except (TypeError, ValueError, AttributeError):  # not a record's shape, or a value orjson refuses
        return None
