"""The loader: wire-format messages into the graph, the one write path of provgraph.

Two halves. The pure half turns decoded messages into parameter rows (`message_rows`, `Batch`), resolving
qualified names to URIs and building node keys and statement keys exactly as `docs/graph-model.md` says. The I/O
half writes a batch as one transaction of parameterised ``UNWIND`` statements, one per label or relationship type
(`load_messages`), and, in `Loader`, reads a Redis Stream through a consumer group, dead-letters what cannot be
loaded and acknowledges entries only after their transaction commits. Every statement MERGEs on a node ``key`` or
a relationship ``sk`` and appends a declaration only when its statement key is new, so loading is idempotent.

Example::

    from capture import wire
    from provgraph._backend import open_backend
    from provgraph._loader import load_messages

    message = wire.decode_message(payload)
    with open_backend(settings) as graph:
        graph.ensure_schema()
        stats = load_messages(graph, [message])
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from capture import wire
from provgraph._model import KIND_LABELS, TYPE_LABELS, property_name

if TYPE_CHECKING:
    from provgraph._backend import GraphBackend, Statement

__all__ = [
    "BATCH_RECORDS",
    "Batch",
    "LoadStats",
    "batch_statements",
    "load_messages",
    "message_rows",
]

logger = logging.getLogger(__name__)

BATCH_RECORDS = 5000
"""Records per transaction in `load_messages` (2k-10k rows per UNWIND is the sweet spot)."""

PROV_TYPE = wire.NAMESPACES["prov"] + "type"
_QNAME_TYPES = frozenset({"prov:QUALIFIED_NAME", "xsd:QName"})
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|[^:]*$)")
_INT64 = (-(2**63), 2**63 - 1)

# Element formal arguments of each relation and the kind label their position implies (None: no kind implied).
# Formals not listed here are not element references: times, and a derivation's generation/usage (relation ids).
REFERENCE_KINDS: dict[str, dict[str, str | None]] = {
    "wasGeneratedBy": {"entity": "Entity", "activity": "Activity"},
    "used": {"activity": "Activity", "entity": "Entity"},
    "wasInformedBy": {"informed": "Activity", "informant": "Activity"},
    "wasStartedBy": {"activity": "Activity", "trigger": "Entity", "starter": "Activity"},
    "wasEndedBy": {"activity": "Activity", "trigger": "Entity", "ender": "Activity"},
    "wasInvalidatedBy": {"entity": "Entity", "activity": "Activity"},
    "wasDerivedFrom": {"generatedEntity": "Entity", "usedEntity": "Entity", "activity": "Activity"},
    "wasAttributedTo": {"entity": "Entity", "agent": "Agent"},
    "wasAssociatedWith": {"activity": "Activity", "agent": "Agent", "plan": "Entity"},
    "actedOnBehalfOf": {"delegate": "Agent", "responsible": "Agent", "activity": "Activity"},
    "wasInfluencedBy": {"influencee": None, "influencer": None},
    "specializationOf": {"specificEntity": "Entity", "generalEntity": "Entity"},
    "alternateOf": {"alternate1": "Entity", "alternate2": "Entity"},
    "hadMember": {"collection": "Entity", "entity": "Entity"},
    "mentionOf": {"specificEntity": "Entity", "generalEntity": "Entity", "bundle": "Bundle"},
}

# Node and relationship properties the model itself uses; an attribute whose convenience name is one of these
# (or starts with "_") is stored under its ``prefix:local`` name instead, so it can never overwrite them.
_NODE_RESERVED = frozenset(
    {"key", "id", "uri", "bundle", "declared", "docs", "types", "startTime", "endTime"}
)
_RELATION_RESERVED = frozenset(
    {"sk", "doc", "id", "to_formal", "types"} | {f for names in wire.FORMALS.values() for f in names}
)

try:  # orjson is 3-5x faster for the JSON kept verbatim on every node and relationship
    import orjson as _orjson

    def _json(value: Any) -> str:
        return _orjson.dumps(value).decode()

except ImportError:  # pragma: no cover - depends on the environment
    import json as _stdjson

    def _json(value: Any) -> str:
        return _stdjson.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class LoadStats:
    """What one `load_messages` call (or a loader, so far) wrote."""

    messages: int = 0
    records: int = 0
    elements: int = 0
    relations: int = 0
    transactions: int = 0
    seconds: float = 0.0

    def add(self, other: LoadStats) -> None:
        self.messages += other.messages
        self.records += other.records
        self.elements += other.elements
        self.relations += other.relations
        self.transactions += other.transactions
        self.seconds += other.seconds

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


# --- qualified names ---------------------------------------------------------------------------------------------


class _Names:
    """Resolves qualified names of one message (and one bundle in it) to URIs."""

    __slots__ = ("_prefixes", "_cache")

    def __init__(self, *namespace_maps: Mapping[str, str]) -> None:
        prefixes = dict(wire.NAMESPACES)
        for mapping in namespace_maps:  # later maps win: message over built-ins, bundle over message
            prefixes.update(mapping)
        self._prefixes = prefixes
        self._cache: dict[str, tuple[str, str, str]] = {}

    def split(self, qname: str) -> tuple[str, str, str]:
        """(namespace URI, prefix, local part) of ``qname``; a full URI gives (URI, "", "")."""
        cached = self._cache.get(qname)
        if cached is not None:
            return cached
        prefix, sep, local = qname.partition(":")
        if not sep:
            namespace = self._prefixes.get("default")
            if namespace is None:
                raise wire.WireFormatError(f"{qname!r} has no prefix and the message declares no 'default' namespace")
            result = (namespace, "", qname)
        elif prefix in self._prefixes and prefix != "default":
            result = (self._prefixes[prefix], prefix, local)
        elif _URI.match(qname):
            result = (qname, "", "")
        else:
            raise wire.WireFormatError(f"unknown prefix {prefix!r} in {qname!r} (declare it in the message's 'ns')")
        self._cache[qname] = result
        return result

    def uri(self, qname: str) -> str:
        namespace, _, local = self.split(qname)
        return namespace + local


# --- values --------------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A property value for one attribute value: numbers and booleans as themselves, structured values by their
    lexical form, integers beyond 64 bits as strings."""
    if isinstance(value, dict):
        return value["$"]
    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
        return str(value)
    return value


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def _convenience(attrs: Sequence[Sequence[Any]], names: _Names, reserved: frozenset[str]) -> dict[str, Any]:
    """Convenience properties of a record's attributes (docs/graph-model.md): one per attribute name, a list for
    a multi-valued one (lexical strings when its values' types differ), ``prov:type`` values under ``types``."""
    collected: dict[str, list[Any]] = {}
    types: list[str] = []
    for name, value in attrs:
        namespace, prefix, local = names.split(name)
        if namespace + local == PROV_TYPE:
            types.append(_plain(value) if isinstance(value, dict) else _lexical(value))
            continue
        prop = property_name(namespace, prefix, local) if prefix else (local or name)
        if prop in reserved or prop.startswith("_"):
            prop = f"{prefix or 'default'}:{local}" if local else name
        collected.setdefault(prop, []).append(_plain(value))
    props: dict[str, Any] = {}
    for prop, values in collected.items():
        if len(values) == 1:
            props[prop] = values[0]
        elif len({type(v) for v in values}) == 1:
            props[prop] = values
        else:
            props[prop] = [_lexical(v) for v in values]
    if types:
        props["types"] = [str(t) for t in types]
    return props


def _type_labels(attrs: Sequence[Sequence[Any]], names: _Names) -> list[str]:
    """Subtype labels from ``prov:type`` qualified-name values (TYPE_LABELS), in order, without repeats."""
    labels: list[str] = []
    for name, value in attrs:
        if isinstance(value, dict) and value.get("type") in _QNAME_TYPES and names.uri(name) == PROV_TYPE:
            label = TYPE_LABELS.get(names.uri(value["$"]))
            if label and label not in labels:
                labels.append(label)
    return labels


# --- rows ---------------------------------------------------------------------------------------------------------


@dataclass
class Batch:
    """Parameter rows of some messages, grouped the way the statements take them."""

    documents: set[str] = field(default_factory=set)
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (kind label, subtype label) -> element rows
    elements: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # label -> node keys: second and further subtype labels of declared elements, kinds of referenced ones
    labels: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # relationship type -> relation rows
    relations: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    messages: int = 0
    records: int = 0

    @property
    def element_count(self) -> int:
        return sum(len(rows) for rows in self.elements.values())

    @property
    def relation_count(self) -> int:
        return sum(len(rows) for rows in self.relations.values())

    def extend(self, other: Batch) -> None:
        self.documents |= other.documents
        self.namespaces.update(other.namespaces)
        for group, rows in other.elements.items():
            self.elements[group].extend(rows)
        for label, keys in other.labels.items():
            self.labels[label] |= keys
        for rel_type, rows in other.relations.items():
            self.relations[rel_type].extend(rows)
        self.messages += other.messages
        self.records += other.records


def _node_key(uri: str, bundle_uri: str) -> str:
    return f"{bundle_uri} {uri}" if bundle_uri else uri


def message_rows(message: wire.Message, batch: Batch | None = None) -> Batch:
    """The parameter rows of one decoded message (pure; no I/O), added to ``batch`` if given.

    Raises:
        capture.wire.WireFormatError: a record names a prefix the message does not declare (the reason says which
            record); nothing of the message is added then.
    """
    rows = Batch()
    doc = message.doc
    rows.documents.add(doc)
    rows.messages = 1
    rows.records = len(message.records)
    for prefix, uri in message.namespaces.items():
        rows.namespaces[f"{doc}  {prefix}"] = {"doc": doc, "bundle": "", "prefix": prefix, "uri": uri}
    doc_names = _Names(message.namespaces)
    # a bundle's records resolve against the bundle's own namespaces, declared by its bundle record in the message
    bundle_names: dict[str, _Names] = {}
    bundle_uris: dict[str, str] = {}
    for index, record in enumerate(message.records):
        if record["k"] == "bundle":
            try:
                bundle_uris[record["id"]] = doc_names.uri(record["id"])
            except wire.WireFormatError as exc:
                raise wire.WireFormatError(f"record {index}: {exc.reason}") from None
            bundle_names[record["id"]] = _Names(message.namespaces, record.get("ns") or {})
    for index, record in enumerate(message.records):
        try:
            _record_rows(doc, record, doc_names, bundle_names, bundle_uris, rows)
        except wire.WireFormatError as exc:
            raise wire.WireFormatError(f"record {index} ({record['k']}): {exc.reason}") from None
    if batch is not None:
        batch.extend(rows)
        return batch
    return rows


def _record_rows(
    doc: str,
    record: dict[str, Any],
    doc_names: _Names,
    bundle_names: dict[str, _Names],
    bundle_uris: dict[str, str],
    rows: Batch,
) -> None:
    kind = record["k"]
    bundle = record.get("b")
    if bundle is None:
        names, bundle_uri = doc_names, ""
    else:
        names = bundle_names.get(bundle)
        if names is None:
            names = bundle_names[bundle] = _Names(doc_names._prefixes)
            bundle_uris[bundle] = doc_names.uri(bundle)
        bundle_uri = bundle_uris[bundle]
    sk = wire.statement_key(doc, record)
    attrs = record.get("a", ())
    formal = record.get("f", {})
    if kind in KIND_LABELS:
        if kind == "bundle":
            uri, key, names, bundle_uri = doc_names.uri(record["id"]), doc_names.uri(record["id"]), doc_names, ""
            for prefix, ns_uri in (record.get("ns") or {}).items():
                rows.namespaces[f"{doc} {uri} {prefix}"] = {"doc": doc, "bundle": uri, "prefix": prefix, "uri": ns_uri}
        else:
            uri = names.uri(record["id"])
            key = _node_key(uri, bundle_uri)
        props = _convenience(attrs, names, _NODE_RESERVED)
        props["id"] = record["id"]
        props["uri"] = uri
        props["bundle"] = bundle_uri
        for name in ("startTime", "endTime"):
            if name in formal:
                props[name] = formal[name]
        subtypes = _type_labels(attrs, names)
        kind_label = KIND_LABELS[kind]
        group = (kind_label, subtypes[0] if subtypes else kind_label)
        rows.elements[group].append(
            {"key": key, "sk": sk, "doc": doc, "decl": _json({"doc": doc, "sk": sk, "r": record}), "props": props}
        )
        for label in subtypes[1:]:
            rows.labels[label].add(key)
        return
    # a relation: the edge goes from the subject to the first other element argument present
    references = REFERENCE_KINDS[kind]
    subject_formal = wire.SUBJECT[kind]
    ends: list[tuple[str | None, str, str | None]] = []  # (formal name, key, implied label)
    for name, label in references.items():
        qname = formal.get(name)
        if qname is None:
            if name == subject_formal:
                ends.append((None, _node_key("_:", bundle_uri or doc), None))
            continue
        if name == "bundle":  # mentionOf's bundle is a top-level bundle
            ref_key = doc_names.uri(qname)
        else:
            ref_key = _node_key(names.uri(qname), bundle_uri)
        ends.append((name, ref_key, label))
    source_formal, source_key, source_label = ends[0]
    target_formal, target_key, target_label = ends[1] if len(ends) > 1 else (None, source_key, None)
    props = _convenience(attrs, names, _RELATION_RESERVED)
    props.update(formal)
    props["doc"] = doc
    props["_rec"] = _json(record)
    if "id" in record:
        props["id"] = record["id"]
    if target_formal is not None:
        props["to_formal"] = target_formal
    rows.relations[kind].append(
        {
            "source": source_key,
            "target": target_key,
            "source_props": _reference_props(source_key, formal.get(source_formal) if source_formal else None, bundle_uri),
            "target_props": _reference_props(target_key, formal.get(target_formal) if target_formal else None, bundle_uri),
            "sk": sk,
            "props": props,
        }
    )
    for _, ref_key, label in ends:
        if label is not None:
            rows.labels[label].add(ref_key)


def _reference_props(key: str, qname: str | None, bundle_uri: str) -> dict[str, Any]:
    """Properties of an element node created because a relation references it (or a placeholder subject)."""
    uri = key.rsplit(" ", 1)[-1] if qname else ""
    return {"id": qname or "_:", "uri": uri, "bundle": bundle_uri, "declared": False, "docs": []}


# --- statements ---------------------------------------------------------------------------------------------------


def batch_statements(backend: GraphBackend, batch: Batch) -> list[Statement]:
    """The statements that write ``batch``: documents, namespaces, element declarations (one statement per kind
    and subtype label), relations (one per type), then extra labels (one per label)."""
    statements: list[Statement] = []
    if batch.documents:
        statements.append((backend.render("loader/merge_documents"), {"ids": sorted(batch.documents)}))
    if batch.namespaces:
        rows = [{"key": key, "props": props} for key, props in batch.namespaces.items()]
        statements.append((backend.render("loader/merge_namespaces"), {"rows": rows}))
    declared: dict[str, set[str]] = defaultdict(set)
    # bundles first, so that their declarations exist before records that mention them
    for (label, subtype), rows in sorted(batch.elements.items(), key=lambda item: item[0][0] != "Bundle"):
        statements.append((backend.render("loader/merge_elements", label=label, subtype=subtype), {"rows": rows}))
        keys = {row["key"] for row in rows}
        declared[label] |= keys
        declared[subtype] |= keys
    for rel_type, rows in sorted(batch.relations.items()):
        statements.append((backend.render("loader/merge_relations", type=rel_type), {"rows": rows}))
    for label, keys in sorted(batch.labels.items()):
        missing = keys - declared.get(label, set())
        if missing:
            statements.append((backend.render("loader/add_label", label=label), {"keys": sorted(missing)}))
    return statements


def write_batch(backend: GraphBackend, batch: Batch, *, tag: str = "loader") -> LoadStats:
    """Write one batch in one transaction; the counts of what it held."""
    started = time.perf_counter()
    backend.write(batch_statements(backend, batch), tag=tag)
    return LoadStats(
        messages=batch.messages,
        records=batch.records,
        elements=batch.element_count,
        relations=batch.relation_count,
        transactions=1,
        seconds=time.perf_counter() - started,
    )


def _batches(messages: Iterable[wire.Message], batch_records: int) -> Iterator[Batch]:
    batch = Batch()
    for message in messages:
        message_rows(message, batch)
        if batch.records >= batch_records:
            yield batch
            batch = Batch()
    if batch.messages:
        yield batch


def load_messages(
    backend: GraphBackend, messages: Iterable[wire.Message], *, batch_records: int = BATCH_RECORDS
) -> LoadStats:
    """Write decoded messages into the graph: the one write path of provgraph (idempotent).

    Messages are grouped into transactions of about ``batch_records`` records; each transaction holds one
    ``UNWIND`` statement per label or relationship type. Writing the same messages again changes nothing.

    Args:
        backend: the graph (its schema should exist: `GraphBackend.ensure_schema`).
        messages: decoded messages (`capture.wire.decode_message`, or built directly).
        batch_records: records per transaction.

    Returns:
        What was written.

    Raises:
        provgraph.errors.WireFormatError: a message names a prefix it does not declare; earlier transactions
            stay committed (loading them again is harmless).
    """
    from provgraph.errors import WireFormatError

    stats = LoadStats()
    started = time.perf_counter()
    try:
        for batch in _batches(messages, batch_records):
            stats.add(write_batch(backend, batch))
    except wire.WireFormatError as exc:
        raise WireFormatError(exc.reason) from exc
    stats.seconds = time.perf_counter() - started
    logger.info("loaded %d records in %d messages (%d transactions)", stats.records, stats.messages, stats.transactions)
    return stats
