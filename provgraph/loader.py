"""The loader: wire-format messages into the graph, the one write path of provgraph.

Two halves. The pure half turns decoded messages into parameter rows (`message_rows`, `Batch`), resolving
qualified names to URIs and building node keys and statement keys exactly as `docs/graph-model.md` says. The I/O
half writes a batch as one transaction of parameterised ``UNWIND`` statements, one per label or relationship type
(`load_messages`), and, in `Loader`, reads a Redis Stream through a consumer group, dead-letters what cannot be
loaded and acknowledges entries only after their transaction commits. Every statement MERGEs on a node ``key`` or
a relationship ``sk`` and appends a declaration only when its statement key is new, so loading is idempotent.

Example::

    from capture import wire
    from provgraph.graph import open_backend
    from provgraph.loader import load_messages

    message = wire.decode_message(payload)
    with open_backend(settings) as graph:
        graph.ensure_schema()
        stats = load_messages(graph, [message])
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from capture import wire
from capture._streams import cluster_outages
from provgraph.digests import audit_statements
from provgraph.graph.cypher import as_one_query
from provgraph.graph.model import ELEMENT_LABEL, KIND_LABELS, TYPE_LABELS, property_name
from provgraph.graph.prefixes import PropertyPrefixes, property_prefixes
from provgraph.graph.times import companions, text_companions
from provgraph.redaction import redact_url

if TYPE_CHECKING:
    from provgraph.graph.backend import GraphBackend, Statement

__all__ = [
    "BATCH_RECORDS",
    "REFERENCE_KINDS",
    "Batch",
    "LoadStats",
    "Loader",
    "LoaderProgress",
    "batch_statements",
    "load_messages",
    "message_rows",
    "write_batch",
]

logger = logging.getLogger(__name__)

WRITERS = {"neo4j": 2}
"""Batches a loader writes at once, per backend dialect (1 where missing). With two Neo4j transactions in flight,
one runs its statements while the other commits (about 18% more records/s on 2 cores, docs/loader.md); the
embedded engine writes one query at a time anyway."""

QUEUED_BATCHES = 1
"""Decoded batches waiting for a writer beyond the ones being written. A writer that finishes takes the next
batch at once instead of waiting for the reading thread to acknowledge the last one and hand it over (which,
with that thread busy decoding, costs a GIL hand-off or more while the graph has only one transaction to work
on). Each costs one batch of memory; acknowledgements stay in read order, after commit."""

TRIM_INTERVAL_S = 5.0
"""How often a running loader trims acknowledged entries from its stream (`Loader.trim`)."""

GONE_CONSUMER_MS = 5000
"""While --until-idle/--once settle, entries pending this long are claimed from whichever consumer holds them
(a consumer that is gone; a live one acknowledges sooner, and loading an entry twice is harmless)."""

STALE_CONSUMER_MS = 600_000
"""A consumer that holds no pending entry and has not read for this long belongs to a loader that is gone; a
loader that stops cleanly removes such consumers with its own."""

BATCH_RECORDS = 5000
"""Records per transaction in `load_messages` (2k-10k rows per UNWIND is the sweet spot)."""

GC_GENERATION0_THRESHOLD = 100_000
"""Allocations between young-generation garbage collections while loading (Python's default is 700). A batch
is hundreds of thousands of small dicts and lists that live until its transaction commits; at the default, the
collector walks them over and over and decoding takes twice as long; at 20,000 collections still cost about
2 us of the loader's 12 us per record, at 100,000 a few tenths (docs/loader.md)."""

BOUNDED_RUN_GIVE_UP_S = 10.0
"""How long a bounded run (``run(until_idle_s=...)``: ``load --once``, ``--until-idle``) keeps retrying a Redis or
graph it has never reached (a wrong URL, a server not started) before it raises `StoreUnavailable`. An unbounded
loader waits forever, and any loader that reached both once rides out later outages."""


_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Raise the young-generation threshold (never lower it) while any load runs in this process; the last one
    to finish restores the old thresholds (loaders may run in several threads, their spans overlapping)."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(_gc_saved[0], GC_GENERATION0_THRESHOLD), *_gc_saved[1:])
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


PROV_TYPE = wire.NAMESPACES["prov"] + "type"
_QNAME_TYPES = frozenset({"prov:QUALIFIED_NAME", "xsd:QName"})
_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://|urn:)")  # a full URI written where a qualified name goes
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

    _loads: Callable[[bytes], Any] = _orjson.loads

except ImportError:  # pragma: no cover - depends on the environment
    import json as _stdjson

    def _json(value: Any) -> str:
        return _stdjson.dumps(value, separators=(",", ":"), ensure_ascii=False)

    _loads = _stdjson.loads


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


class _Uris(dict[str, str]):
    """qualified name -> URI, resolved on first lookup (`_Names.resolve` is its ``__getitem__``: a hit costs no
    Python call). Holds the prefix map, not the `_Names`: no reference cycle for the collector to find."""

    __slots__ = ("split",)

    def __init__(self, split: Callable[[str], tuple[str, str, str]]) -> None:
        super().__init__()
        self.split = split

    def __missing__(self, qname: str) -> str:
        namespace, _, local = self.split(qname)
        uri = self[qname] = namespace + local
        return uri


class _QNames(dict[str, str]):
    """qualified name -> the same name spelled with the graph's prefix of its namespace (`_Names.qname`)."""

    __slots__ = ("split", "stable")

    def __init__(self, split: Callable[[str], tuple[str, str, str]], stable: Mapping[str, str]) -> None:
        super().__init__()
        self.split = split
        self.stable = stable

    def __missing__(self, qname: str) -> str:
        namespace, written, local = self.split(qname)
        if not local and not written:
            spelled = qname  # a full URI
        else:
            prefix = self.stable.get(namespace)
            spelled = f"{prefix}:{local}" if prefix is not None else qname
        self[qname] = spelled
        return spelled


def _splitter(prefixes: dict[str, str]) -> Callable[[str], tuple[str, str, str]]:
    """`_Names.split` over one prefix map, cached (a closure over the map and its cache: no cycle)."""
    cache: dict[str, tuple[str, str, str]] = {}

    def split(qname: str) -> tuple[str, str, str]:
        cached = cache.get(qname)
        if cached is not None:
            return cached
        prefix, sep, local = qname.partition(":")
        if not sep:
            namespace = prefixes.get("default")
            if namespace is None:
                raise wire.WireFormatError(
                    f"{qname!r} has no prefix and the message declares no 'default' namespace"
                )
            result = (namespace, "", qname)
        elif prefix in prefixes and prefix != "default":
            result = (prefixes[prefix], prefix, local)
        elif _URI.match(qname):
            result = (qname, "", "")
        else:
            raise wire.WireFormatError(
                f"unknown prefix {prefix!r} in {qname!r} (declare it in the message's 'ns')"
            )
        cache[qname] = result
        return result

    return split


class _Names:
    """Resolves qualified names of one message (and one bundle in it) to URIs.

    ``resolve`` and ``qname`` are the ``__getitem__`` of caches that fill themselves (`_Uris`, `_QNames`): the
    loader resolves several names per record, most of them seen before in the message."""

    __slots__ = ("_prefixes", "split", "_props", "stable", "resolve", "qname")

    def __init__(self, *namespace_maps: Mapping[str, str], stable: Mapping[str, str] | None = None) -> None:
        prefixes = dict(wire.NAMESPACES)
        for mapping in namespace_maps:  # later maps win: message over built-ins, bundle over message
            prefixes.update(mapping)
        self._prefixes = prefixes
        self.split: Callable[[str], tuple[str, str, str]] = _splitter(prefixes)
        """(namespace URI, prefix, local part) of a qualified name; a full URI gives (URI, "", "")."""
        # reserved names -> attribute name -> (property, always a list), or None for prov:type (`_convenience`)
        self._props: dict[frozenset[str], _Facts] = {}
        # namespace URI -> the graph's one property prefix for it (provgraph.graph.prefixes); None: as written
        self.stable = stable
        self.resolve: Callable[[str], str] = _Uris(self.split).__getitem__
        """The URI of a qualified name (raises `capture.wire.WireFormatError` when it does not resolve)."""
        self.qname: Callable[[str], str] = (
            _QNames(self.split, stable).__getitem__ if stable is not None else _as_written
        )
        """A qualified name spelled with the graph's prefix of its namespace (as written when it has none, when
        no graph prefixes are known, or when it is a full URI)."""

    def uri(self, qname: str) -> str:
        return self.resolve(qname)

    def facts(self, reserved: frozenset[str]) -> _Facts:
        """Attribute name -> (convenience property, always a list), or None for ``prov:type``, for properties
        that must avoid ``reserved`` (`_property_of`)."""
        facts = self._props.get(reserved)
        if facts is None:
            facts = self._props[reserved] = _Facts(self.split, self.stable, reserved)
        return facts

    def prefix(self, namespace: str, written: str) -> str:
        """The graph's property prefix of ``namespace`` (``written``, the document's, when none is known)."""
        if self.stable is None:
            return written
        return self.stable.get(namespace, written)


def _as_written(qname: str) -> str:
    return qname


# --- values --------------------------------------------------------------------------------------------------------


_XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_INTEGERS = frozenset(
    "integer int long short byte nonNegativeInteger positiveInteger nonPositiveInteger negativeInteger "
    "unsignedLong unsignedInt unsignedShort unsignedByte".split()
)
_XSD_REALS = frozenset({"decimal", "double", "float"})
_XSD_DATETIMES = frozenset({_XSD + "dateTime", _XSD + "dateTimeStamp"})
_XSD_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def _plain(value: Any, names: _Names | None = None) -> Any:
    """A property value for one attribute value: numbers and booleans as themselves; typed literals of XSD's
    numeric and boolean types as numbers and booleans too (so ``WHERE n.`ex:max` = 4095`` matches
    ``"4095" %% xsd:int``; the exact lexical form stays in ``_decl``/``_rec``); other structured values by their
    lexical form; integers beyond 64 bits, non-finite reals and malformed lexical forms as strings."""
    if isinstance(value, dict):
        lexical = value["$"]
        if names is None or "lang" in value or not isinstance(value.get("type"), str):
            return lexical
        return _typed(lexical, value["type"], names)
    if type(value) is int and not _INT64[0] <= value <= _INT64[1]:
        return str(value)
    return value


def _typed(lexical: Any, datatype: str, names: _Names) -> Any:
    """The number or boolean a numeric or boolean XSD typed literal stands for, else its lexical form."""
    if not isinstance(lexical, str):
        return lexical
    try:
        uri = names.resolve(datatype)
    except wire.WireFormatError:
        return lexical
    if not uri.startswith(_XSD):
        return lexical
    local, text = uri[len(_XSD) :], lexical.strip()
    try:
        if local in _XSD_INTEGERS:
            number = int(text)
            return number if _INT64[0] <= number <= _INT64[1] else lexical
        if local in _XSD_REALS:
            real = float(text)
            return real if math.isfinite(real) else lexical
    except ValueError:
        return lexical
    if local == "boolean":
        return _XSD_BOOLEANS.get(text, lexical)
    return lexical


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


ALWAYS_LISTS = frozenset({wire.NAMESPACES["pg"] + "tags"})
"""Attributes stored as a list even with one value (``tags=["only"]`` reads back as ``["only"]``)."""


def _property_of(name: str, names: _Names, reserved: frozenset[str]) -> tuple[str, bool] | None:
    """(convenience property, always a list) of attribute ``name``; None for ``prov:type``. Cached per message:
    a message's records repeat the same few attribute names."""
    return names.facts(reserved)[name]


class _Facts(dict[str, "tuple[str, bool] | None"]):
    """`_property_of` for one set of reserved names, filled on first lookup (a hit is a dict lookup, no Python
    call: `_convenience` looks up every attribute of every record)."""

    __slots__ = ("split", "stable", "reserved")

    def __init__(
        self,
        split: Callable[[str], tuple[str, str, str]],
        stable: Mapping[str, str] | None,
        reserved: frozenset[str],
    ) -> None:
        super().__init__()
        self.split = split
        self.stable = stable
        self.reserved = reserved

    def __missing__(self, name: str) -> tuple[str, bool] | None:
        namespace, prefix, local = self.split(name)
        fact: tuple[str, bool] | None
        if namespace + local == PROV_TYPE:
            fact = None
        else:
            if (prefix or local) and self.stable is not None:
                stable = self.stable.get(
                    namespace, prefix
                )  # the graph's prefix of the namespace (`_Names.prefix`)
            else:
                stable = prefix
            prop = property_name(namespace, stable, local) if stable else (local or name)
            if prop in self.reserved or prop.startswith("_"):
                prop = f"{stable or 'default'}:{local}" if local else name
            fact = (prop, namespace + local in ALWAYS_LISTS)
        self[name] = fact
        return fact


_SCALARS = (str, float, bool)


def _convenience(
    attrs: Sequence[Sequence[Any]],
    names: _Names,
    reserved: frozenset[str],
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """Convenience properties of a record's attributes (docs/graph-model.md): one per attribute name, a list for
    a multi-valued one (lexical strings when its values' types differ), ``prov:type`` values under ``types``.
    With ``labels``, the subtype labels of its ``prov:type`` values are added there too (`_type_labels`, in the
    same pass).

    The common case (no attribute name twice) takes one pass with no intermediate lists; a repeated name goes
    through `_convenience_general`, which gives the same result for everything."""
    props: dict[str, Any] = {}
    types: list[str] | None = None
    facts = names.facts(reserved)
    for name, value in attrs:
        fact = facts[name]
        kind = type(value)
        if fact is None:  # prov:type
            if types is None:
                types = []
            types.append(str(_type_value(value, names)))
            if labels is not None:
                _add_type_label(value, names, labels)
            continue
        if fact[0] in props:
            if labels is not None:
                labels[:] = _type_labels(attrs, names)
            return _convenience_general(attrs, names, reserved)
        if kind in _SCALARS or (kind is int and _INT64[0] <= value <= _INT64[1]):
            props[fact[0]] = [value] if fact[1] else value
        else:
            props[fact[0]] = [_plain(value, names)] if fact[1] else _plain(value, names)
            if _is_datetime(value, names):
                props.update(companions(fact[0], props[fact[0]]))
    if types is not None:
        props["types"] = types
    return props


def _is_datetime(value: Any, names: _Names) -> bool:
    """Whether an attribute value is a typed literal of XSD's dateTime or dateTimeStamp."""
    if not isinstance(value, dict) or "lang" in value:
        return False
    datatype = value.get("type")
    if not isinstance(datatype, str) or not datatype.endswith(("dateTime", "dateTimeStamp")):
        return False
    try:
        return names.resolve(datatype) in _XSD_DATETIMES
    except wire.WireFormatError:
        return False


def _convenience_general(
    attrs: Sequence[Sequence[Any]], names: _Names, reserved: frozenset[str]
) -> dict[str, Any]:
    """`_convenience` for any attributes: repeated names, ``prov:type`` values, mixed types."""
    collected: dict[str, list[Any]] = {}
    types: list[str] = []
    lists: set[str] = set()
    datetimes: dict[str, bool] = {}  # property -> every value is an xsd:dateTime
    for name, value in attrs:
        fact = _property_of(name, names, reserved)
        if fact is None:
            types.append(_type_value(value, names))
            continue
        prop, always_list = fact
        if always_list:
            lists.add(prop)
        collected.setdefault(prop, []).append(_plain(value, names))
        datetimes[prop] = datetimes.get(prop, True) and _is_datetime(value, names)
    props: dict[str, Any] = {}
    for prop, values in collected.items():
        if len(values) == 1 and prop not in lists:
            props[prop] = values[0]
        elif len({type(v) for v in values}) == 1:
            props[prop] = values
        else:
            props[prop] = [_lexical(v) for v in values]
        if datetimes[prop]:
            props.update(companions(prop, props[prop]))
    if types:
        props["types"] = [str(t) for t in types]
    return props


def _type_value(value: Any, names: _Names) -> Any:
    """A ``prov:type`` value for ``types``: a qualified name with the graph's prefix, else its lexical form."""
    if isinstance(value, dict):
        if value.get("type") in _QNAME_TYPES and "lang" not in value and isinstance(value["$"], str):
            try:
                return names.qname(value["$"])
            except wire.WireFormatError:  # a prefix nobody declared: as written
                return value["$"]
        return _plain(value)
    return _lexical(value)


def _type_labels(attrs: Sequence[Sequence[Any]], names: _Names) -> list[str]:
    """Subtype labels from ``prov:type`` qualified-name values (TYPE_LABELS), in order, without repeats."""
    labels: list[str] = []
    for name, value in attrs:
        if isinstance(value, dict) and value.get("type") in _QNAME_TYPES and names.resolve(name) == PROV_TYPE:
            _add_type_label(value, names, labels)
    return labels


def _add_type_label(value: Any, names: _Names, labels: list[str]) -> None:
    """Add the subtype label of one ``prov:type`` value to ``labels`` (a qualified name in TYPE_LABELS, not there
    yet)."""
    if isinstance(value, dict) and value.get("type") in _QNAME_TYPES:
        try:
            label = TYPE_LABELS.get(names.resolve(value["$"]))
        except wire.WireFormatError:  # a value prov keeps with a prefix nobody declared: no subtype
            return
        if label and label not in labels:
            labels.append(label)


# --- rows ---------------------------------------------------------------------------------------------------------


@dataclass
class Batch:
    """Parameter rows of some messages, grouped the way the statements take them."""

    documents: set[str] = field(default_factory=set)
    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (kind label, subtype label) -> element rows
    elements: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    # label -> node keys: second and further subtype labels of declared elements
    labels: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # implied label (Element when none) -> node key -> properties if created by the reference
    references: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
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
        for label, references in other.references.items():
            self.references[label].update(references)
        for rel_type, rows in other.relations.items():
            self.relations[rel_type].extend(rows)
        self.messages += other.messages
        self.records += other.records


_NO_FORMALS: Mapping[str, Any] = MappingProxyType({})


def _node_key(uri: str, bundle_uri: str) -> str:
    return f"{bundle_uri} {uri}" if bundle_uri else uri


def message_rows(
    message: wire.Message,
    batch: Batch | None = None,
    *,
    faults: list[tuple[int, str]] | None = None,
    prefixes: Mapping[str, str] | None = None,
) -> Batch:
    """The parameter rows of one decoded message (pure; no I/O), added to ``batch`` if given.

    With ``faults``, a record whose rows cannot be built (a name that does not resolve, say) is left out and
    appended there as (its index in ``message.records``, the reason), and the other records' rows are built;
    without, the first such record raises.

    ``prefixes`` (namespace URI -> the graph's property prefix, `provgraph.graph.prefixes`) names convenience
    properties, ``id`` and ``types`` the same whatever prefix the message used; without, as the message wrote them.

    Raises:
        capture.wire.WireFormatError: without ``faults``, a record names a prefix the message does not declare
            (the reason says which record); nothing of the message is added then.
    """
    rows = Batch()
    doc = message.doc
    rows.documents.add(doc)
    rows.messages = 1
    for prefix, uri in message.namespaces.items():
        rows.namespaces[f"{doc}  {prefix}"] = {"doc": doc, "bundle": "", "prefix": prefix, "uri": uri}
    doc_names = _Names(message.namespaces, stable=prefixes)
    # a bundle's records resolve against the bundle's own namespaces, declared by its bundle record in the message
    bundle_names: dict[str, _Names] = {}
    bundle_uris: dict[str, str] = {}
    failed: set[int] = set()

    def fault(index: int, reason: str) -> None:
        if faults is None:
            raise wire.WireFormatError(f"record {index} ({message.records[index]['k']}): {reason}")
        faults.append((index, reason))
        failed.add(index)

    for index, record in enumerate(message.records):
        if record["k"] == "bundle":
            # as prov reads a bundle's name: by the bundle's own prefixes (``bundle uuid:b1 prefix uuid <...>``),
            # then the document's
            names = bundle_names[record["id"]] = _Names(
                message.namespaces, record.get("ns") or {}, stable=prefixes
            )
            try:
                bundle_uris[record["id"]] = names.resolve(record["id"])
            except wire.WireFormatError as exc:
                fault(index, exc.reason)
                continue
    for index, record in enumerate(message.records):
        if index in failed:
            continue
        try:
            _record_rows(doc, record, doc_names, bundle_names, bundle_uris, rows)
        except wire.WireFormatError as exc:
            fault(index, exc.reason)
        except Exception as exc:  # a record the format allows but the model cannot hold: that record only
            if faults is None:
                raise
            fault(index, f"cannot build its rows: {type(exc).__name__}: {str(exc)[:200]}")
    rows.records = len(message.records) - len(failed)
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
    """Add one record's rows to ``rows``. Everything that can raise runs before the first row is added, so a
    record that fails adds nothing."""
    kind = record["k"]
    bundle = record.get("b")
    if bundle is None:
        names, bundle_uri = doc_names, ""
    else:
        found = bundle_names.get(bundle)
        if found is None:  # a bundle with no bundle record in this message: the message's namespaces
            bundle_uris[bundle] = doc_names.resolve(bundle)
            found = bundle_names[bundle] = _Names(doc_names._prefixes, stable=doc_names.stable)
        names = found
        bundle_uri = bundle_uris[bundle]
    sk = wire.statement_key(doc, record, resolve=names.resolve)
    attrs = record.get("a", ())
    formal = record.get("f", _NO_FORMALS)
    if kind in KIND_LABELS:
        if kind == "bundle":
            uri = key = bundle_uris.get(record["id"]) or doc_names.resolve(record["id"])
            names, bundle_uri = doc_names, ""
        else:
            uri = names.resolve(record["id"])
            key = f"{bundle_uri} {uri}" if bundle_uri else uri
        subtypes: list[str] = []
        props = _convenience(attrs, names, _NODE_RESERVED, subtypes)
        # a bundle's name may use a prefix only the bundle declares: spelled with the bundle's names
        props["id"] = (
            bundle_names.get(record["id"], names).qname(record["id"])
            if kind == "bundle"
            else names.qname(record["id"])
        )
        props["uri"] = uri
        props["bundle"] = bundle_uri
        if formal:
            for name in ("startTime", "endTime"):
                if name in formal:
                    value = props[name] = formal[name]
                    props.update(
                        text_companions(name, value) if type(value) is str else companions(name, value)
                    )
        kind_label = KIND_LABELS[kind]
        group = (kind_label, subtypes[0] if subtypes else kind_label)
        decl = _json({"doc": doc, "sk": sk, "r": record})
        if kind == "bundle":
            for prefix, ns_uri in (record.get("ns") or {}).items():
                rows.namespaces[f"{doc} {uri} {prefix}"] = {
                    "doc": doc,
                    "bundle": uri,
                    "prefix": prefix,
                    "uri": ns_uri,
                }
        rows.elements[group].append(
            {
                "key": key,
                "sk": sk,
                "doc": doc,
                "decl": decl,
                # prov:types are united with the node's earlier ones (a declaration with fewer loses none)
                "types": props.pop("types", []),
                "props": props,
            }
        )
        for label in subtypes[1:]:
            rows.labels[label].add(key)
        return
    # a relation: the edge goes from the subject to the first other element argument present
    references = REFERENCE_KINDS[kind]
    subject_formal = wire.SUBJECT[kind]
    ends: list[tuple[str | None, str, str | None]] = []  # (formal name, key, implied label)
    for name, implied_label in references.items():
        qname = formal.get(name)
        if qname is None:
            if name == subject_formal:
                ends.append((None, _node_key("_:", bundle_uri or doc), None))
            continue
        if name == "bundle":  # mentionOf's bundle is a top-level bundle
            ref_key = doc_names.resolve(qname)
        elif bundle_uri:
            ref_key = f"{bundle_uri} {names.resolve(qname)}"
        else:
            ref_key = names.resolve(qname)
        ends.append((name, ref_key, implied_label))
    source_formal, source_key, source_label = ends[0]
    target_formal, target_key, target_label = ends[1] if len(ends) > 1 else (None, source_key, None)
    props = _convenience(attrs, names, _RELATION_RESERVED)
    if names.stable is None:
        props.update(formal)
    else:  # element references with the graph's prefixes; times as written
        qname_of = names.qname
        for name, value in formal.items():
            if name in wire.TIME_FORMALS:
                props[name] = value
            elif name == "bundle":
                props[name] = _stable_reference(name, value, names, doc_names)
            else:  # `_stable_reference`, written out: three per relation
                try:
                    props[name] = qname_of(value)
                except wire.WireFormatError:  # not every formal is resolved when rows are built: as written
                    props[name] = value
    if "time" in formal:  # a time is queryable as an instant and a local wall clock (provgraph.graph.times)
        value = formal["time"]
        props.update(text_companions("time", value) if type(value) is str else companions("time", value))
    props["doc"] = doc
    props["_rec"] = _json(record)
    if "id" in record:
        props["id"] = names.qname(record["id"])
    if target_formal is not None:
        props["to_formal"] = target_formal
    rows.relations[kind].append({"source": source_key, "target": target_key, "sk": sk, "props": props})
    for formal_name, ref_key, implied_label in ends:
        referenced = rows.references[implied_label or ELEMENT_LABEL]
        if ref_key not in referenced:  # the run a thousand tasks reference: its properties built once
            qname = formal.get(formal_name) if formal_name else None
            if qname is not None:
                qname = (doc_names if formal_name == "bundle" else names).qname(qname)
            referenced[ref_key] = _reference_props(ref_key, qname, bundle_uri)


def _stable_reference(formal: str, qname: str, names: _Names, doc_names: _Names) -> str:
    """A formal argument naming an element (or, in a derivation, a relation), with the graph's prefix."""
    try:
        return (doc_names if formal == "bundle" else names).qname(qname)
    except wire.WireFormatError:  # not every formal is resolved when rows are built: as written
        return qname


@dataclass(frozen=True)
class WrittenKeys:
    """What some messages write, by key: their documents, every element node they declare or reference (the
    placeholders of subject-less relations included) and their namespace nodes."""

    docs: list[str]
    nodes: list[str]
    namespaces: list[str]


def written_keys(messages: Iterable[wire.Message]) -> WrittenKeys:
    """The keys of what loading ``messages`` writes (pure: no I/O), for reading or removing exactly that."""
    batch = Batch()
    for message in messages:
        message_rows(message, batch)
    nodes = {row["key"] for rows in batch.elements.values() for row in rows}
    nodes.update(key for references in batch.references.values() for key in references)
    return WrittenKeys(sorted(batch.documents), sorted(nodes), sorted(batch.namespaces))


def _reference_props(key: str, qname: str | None, bundle_uri: str) -> dict[str, Any]:
    """Properties of an element node created because a relation references it (or a placeholder subject)."""
    uri = key.rsplit(" ", 1)[-1] if qname else ""
    return {"id": qname or "_:", "uri": uri, "bundle": bundle_uri, "declared": False, "docs": []}


# --- statements ---------------------------------------------------------------------------------------------------


def batch_statements(backend: GraphBackend, batch: Batch) -> list[Statement]:
    """The statements that write ``batch``, in order: documents, namespaces, element declarations (one statement
    per kind and subtype label), referenced elements (one per implied label: created if missing, labelled),
    relations (one per type), extra subtype labels (one per label)."""
    statements: list[Statement] = []
    if batch.documents:
        statements.append((backend.render("loader/merge_documents"), {"ids": sorted(batch.documents)}))
    if batch.namespaces:
        rows: list[dict[str, Any]] = [{"key": key, "props": props} for key, props in batch.namespaces.items()]
        statements.append((backend.render("loader/merge_namespaces"), {"rows": rows}))
    declared: dict[str, set[str]] = defaultdict(set)
    for (label, subtype), group_rows in sorted(batch.elements.items()):
        # one row per declaration: an UNWIND does not see its own earlier rows' SETs, so a record repeated within
        # one batch (a message delivered twice, or repeated in a document) would be appended twice
        rows = list({(row["key"], row["sk"]): row for row in group_rows}.values())
        statements.append(
            (backend.render("loader/merge_elements", label=label, subtype=subtype), {"rows": rows})
        )
        keys = {row["key"] for row in rows}
        declared[label] |= keys
        declared[subtype] |= keys
        declared[ELEMENT_LABEL] |= keys
    for label, references in sorted(batch.references.items()):
        known = declared.get(label, set())
        rows = [{"key": key, "props": props} for key, props in references.items() if key not in known]
        if rows:
            statements.append((backend.render("loader/merge_references", label=label), {"rows": rows}))
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
    statements = batch_statements(backend, batch)
    statements += audit_statements(backend, batch)  # tamper evidence, when the settings ask for it
    if backend.combines_writes and len(statements) > 1:  # one round trip instead of one per statement
        statements = [as_one_query(statements)]
    backend.write(statements, tag=tag)
    return LoadStats(
        messages=batch.messages,
        records=batch.records,
        elements=batch.element_count,
        relations=batch.relation_count,
        transactions=1,
        seconds=time.perf_counter() - started,
    )


def _batches(
    messages: Iterable[wire.Message], batch_records: int, prefixes: PropertyPrefixes | None = None
) -> Iterator[Batch]:
    batch = Batch()
    for message in messages:
        mapping = prefixes.claim_for([message]) if prefixes is not None else None
        message_rows(message, batch, prefixes=mapping)
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
        with _fewer_collections():
            for batch in _batches(messages, batch_records, property_prefixes(backend)):
                stats.add(write_batch(backend, batch))
    except wire.WireFormatError as exc:
        raise WireFormatError(exc.reason) from exc
    stats.seconds = time.perf_counter() - started
    logger.info(
        "loaded %d records in %d messages (%d transactions)",
        stats.records,
        stats.messages,
        stats.transactions,
    )
    return stats


# --- the long-running loader --------------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One stream entry of a batch: its id, its raw payload, its decoded message and rows, the reason it cannot
    load at all (``reason``), and the records of it that cannot load alone (``faults``)."""

    entry_id: str
    payload: bytes
    rows: Batch | None = None
    reason: str | None = None
    sent_at: float = 0.0
    message: wire.Message | None = None
    # the message's valid records as (index in the payload's records, record), in order
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # records dead-lettered alone: (index in the payload's records, the record as sent, reason)
    faults: list[tuple[int, Any, str]] = field(default_factory=list)
    # the graph's property prefixes its rows were built with (the rows of a split are built the same way)
    prefixes: Mapping[str, str] | None = None
    # for each of ``records``, its index in ``message.records`` (None: the same), to find the records of each compact
    # event when a refusal has to be split (`_units`)
    kept: list[int] | None = None
    # the payload parsed again, when a refused compact event is dead-lettered (`_event_payload`)
    raw: Any = None


@dataclass
class LoaderProgress:
    """A snapshot of a running loader, for progress lines and `provgraph status`."""

    records: int
    messages: int
    dead_letters: int
    records_per_s: float
    lag: int | None
    pending: int | None
    waiting_for_graph: bool

    def line(self) -> str:
        lag = "?" if self.lag is None else str(self.lag)
        pending = "?" if self.pending is None else str(self.pending)
        state = " (graph unavailable: retrying)" if self.waiting_for_graph else ""
        return (
            f"loaded {self.records} records in {self.messages} messages, {self.records_per_s:,.0f} records/s; "
            f"lag {lag} entries, pending {pending}, dead letters {self.dead_letters}{state}"
        )


def _decode_entry(
    entry_id: str,
    fields: Mapping[bytes, bytes],
    prefixes: Callable[[wire.Message], Mapping[str, str]] | None = None,
) -> _Entry:
    """Decode one stream entry into rows. Never raises for what the entry holds: what cannot load gets a reason,
    the whole entry's (``reason``) when the message itself is unusable, a record's (``faults``) when only that
    record is. ``prefixes`` gives the graph's property prefixes for a message (`provgraph.graph.prefixes`: it may
    register new ones, and raises only while the loader stops with the graph unreachable)."""
    payload = fields.get(wire.FIELD.encode())
    if payload is None:
        names = ", ".join(sorted(k.decode(errors="replace")[:40] for k in list(fields)[:10]))
        return _Entry(entry_id, b"", reason=f"entry has no field {wire.FIELD!r} (fields: {names})")
    entry = _Entry(entry_id, payload)
    try:
        message, invalid = wire.decode_message_partial(payload)
    except wire.WireFormatError as exc:
        entry.reason = exc.reason
        return entry
    except Exception as exc:  # anything else a hostile payload provokes: this entry only
        entry.reason = f"cannot decode: {type(exc).__name__}: {str(exc)[:200]}"
        return entry
    entry.message = message
    entry.sent_at = message.sent_at
    entry.faults = [(fault.index, fault.record, fault.reason) for fault in invalid]
    if invalid:
        skipped = {fault.index for fault in invalid}
        positions = [i for i in range(len(message.records) + len(skipped)) if i not in skipped]
    else:
        positions = list(range(len(message.records)))
    entry.records = list(zip(positions, message.records, strict=True))
    row_faults: list[tuple[int, str]] = []
    mapping = entry.prefixes = prefixes(message) if prefixes is not None else None
    try:
        entry.rows = message_rows(message, faults=row_faults, prefixes=mapping)
    except Exception as exc:  # not a record's fault: the message's (its namespaces, say)
        entry.rows, entry.records = None, []
        entry.reason = f"cannot build rows: {type(exc).__name__}: {str(exc)[:200]}"
        return entry
    if row_faults:
        failed = {}
        for local, reason in row_faults:
            index, record = entry.records[local]
            failed[local] = (index, record, f"record {index} ({record['k']}): {reason}")
        widened = bool(message.events) and _whole_events(entry.records, failed, message.events)
        entry.faults = sorted([*entry.faults, *failed.values()], key=lambda fault: fault[0])
        entry.kept = [local for local in range(len(entry.records)) if local not in failed]
        entry.records = [entry.records[local] for local in entry.kept]
        if widened:  # the rows of the other records of a refused event were built: build the rest's again
            rest = wire.Message(message.doc, [record for _, record in entry.records], message.namespaces)
            try:
                entry.rows = message_rows(rest, prefixes=mapping)
            except Exception as exc:  # they were built once already; should it fail now, the entry only
                entry.rows, entry.records = None, []
                entry.reason = f"cannot build rows: {type(exc).__name__}: {str(exc)[:200]}"
                return entry
    return entry


def _event_of(events: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Index in a message's records -> the number of the compact event it came from (`wire.Message.events`)."""
    return {local: number for number, span in enumerate(events) for local in range(*span)}


def _units(entry: _Entry) -> list[list[tuple[int, dict[str, Any]]]]:
    """An entry's records in the units a refusal splits them into: a record alone, or all the records of one
    compact event (an event loads whole or not at all)."""
    events = entry.message.events if entry.message is not None else ()
    if not events:
        return [[item] for item in entry.records]
    event_of = _event_of(events)
    kept = entry.kept if entry.kept is not None else range(len(entry.records))
    units: list[list[tuple[int, dict[str, Any]]]] = []
    previous = None
    for local, item in zip(kept, entry.records, strict=True):
        number = event_of.get(local)
        if number is not None and number == previous:
            units[-1].append(item)
        else:
            units.append([item])
        previous = number
    return units


def _whole_events(
    records: list[tuple[int, dict[str, Any]]],
    failed: dict[int, tuple[int, Any, str]],
    events: Sequence[tuple[int, int]],
) -> bool:
    """Add to ``failed`` the other records of each compact event one of whose records failed (an event loads whole
    or not at all); whether any was added."""
    event_of = _event_of(events)
    widened = False
    done: set[int] = set()
    for local, (index, _, reason) in list(failed.items()):
        number = event_of.get(local)
        if number is None or number in done:
            continue
        done.add(number)
        for other in range(*events[number]):
            if other not in failed:
                other_index, record = records[other]
                failed[other] = (
                    other_index,
                    record,
                    f"record {other_index} ({record['k']}): its event's record {index} was refused: {reason}",
                )
                widened = True
    return widened


def _event_payload(entry: _Entry, event: list[Any]) -> bytes | None:
    """A version-2 message holding one compact event of ``entry`` with its template, the producer's prefix and the
    namespaces: what replays the event alone (not the whole message once per refused event: 10,000 of them in one
    16 MiB message would write 160 GB of dead letters). None when it cannot be built."""
    message = entry.message
    assert message is not None
    try:
        if entry.raw is None:  # parsed once per entry, however many of its events are refused
            entry.raw = _loads(entry.payload)
        raw = entry.raw
        key = event[0] if event else None
        templates = raw["tpl"] if type(raw.get("tpl")) is dict else {}
        name = key if type(key) is str else str(key) if type(key) is int else None
        out = {
            "v": wire.COMPACT_VERSION,
            "doc": message.doc,
            "ts": message.sent_at,
            "src": message.source,
            "ns": message.namespaces,
            "p": raw["p"],
            "tpl": {name: templates[name]} if name in templates else {},
            "records": [event],
        }
        return _json(out).encode()
    except Exception:  # a payload the reader took apart in a way no encoder can write again
        return None


def _dead_record_payload(entry: _Entry, index: int, record: Any) -> tuple[bytes, bool]:
    """A message holding one record of ``entry`` with what it needs to be replayed alone: the document, the
    namespaces and the bundle record it belongs to. (payload, True), or the entry's whole payload and False when
    the record cannot be written out again."""
    message = entry.message
    assert message is not None
    if wire.holds_cut_value(record):  # what was sent is not in the record any more: keep the whole message
        return entry.payload, False
    if (
        type(record) is list and message.version != 1
    ):  # a compact event: it reads only with its template and prefix
        event_payload = _event_payload(entry, record)
        return (event_payload, True) if event_payload is not None else (entry.payload, False)
    records: list[Any] = [record]
    bundle = record.get("b") if isinstance(record, dict) else None
    if bundle:
        records[:0] = [r for _, r in entry.records if r["k"] == "bundle" and r["id"] == bundle][:1]
    try:
        payload = wire.encode_message(
            message.doc, records, message.namespaces, source=message.source, sent_at=message.sent_at
        )
    except Exception:  # a record orjson cannot write (beyond 64-bit integers, nested too deep, ...)
        try:
            import json

            payload = json.dumps(
                {
                    "v": wire.WIRE_VERSION,
                    "doc": message.doc,
                    "ts": message.sent_at,
                    "src": message.source,
                    "ns": message.namespaces,
                    "records": records,
                },
                separators=(",", ":"),
            ).encode()
        except Exception:
            return entry.payload, False
    return payload, True


class Loader:
    """Reads PROV messages from a Redis Stream through a consumer group and writes them into the graph.

    Entries are grouped into batches (flushed at ``settings.loader_batch_records`` records or after
    ``settings.loader_flush_interval_ms``), decoded, written in one transaction, and acknowledged only after it
    commits. An entry that cannot load (bad JSON, unknown version, unknown record kind or prefix, a record the graph
    refuses, too many deliveries) goes to ``settings.dead_letter_stream`` with the reason and is acknowledged, and
    the rest of the batch loads. Several loaders may share the group; pending entries of a consumer that died are
    taken over with XAUTOCLAIM after ``settings.loader_claim_idle_ms``. While the graph is unavailable the loader
    retries with jittered back-off and acknowledges nothing.

    Example::

        loader = Loader(settings)
        loader.run(until_idle_s=5)     # or loader.run() until stop() (e.g. from a SIGTERM handler)
        loader.close()
    """

    def __init__(
        self,
        settings: Any,
        *,
        backend: GraphBackend | None = None,
        redis_client: Any = None,
        consumer: str | None = None,
        progress: Any = None,
        stream: str | None = None,
        writers: int | None = None,
    ) -> None:
        import os
        import socket

        self.settings = settings
        self.stream: str = stream or settings.stream
        """The stream this loader reads (``settings.stream`` unless given: one partition on a Redis Cluster)."""
        self.writers = writers
        """Batches written at once (default: `WRITERS` of the backend's dialect)."""
        self.queued = QUEUED_BATCHES
        """Decoded batches waiting for a free writer (`QUEUED_BATCHES`)."""
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._owns_backend = backend is None
        if backend is None:
            from provgraph.graph import open_backend

            backend = open_backend(settings)
        self.backend = backend
        self._owns_redis = redis_client is None
        self.redis = redis_client if redis_client is not None else _redis_client(settings)
        self._progress = progress
        self._stopping = False
        self.stats = LoadStats()
        self.dead_letters = 0
        self.latencies: list[float] = []
        """Seconds from each loaded message's send time to its commit (kept for benchmarks and tests)."""
        self.last_commit_at = 0.0
        """Wall-clock time (``time.time()``) of the last commit, 0 before the first."""
        self._waiting_for_graph = False
        self._give_up_s: float | None = None
        self._reached = False  # Redis and the graph answered once: a bounded run then rides out outages too
        self._started = time.monotonic()
        self._last_progress = time.monotonic()
        self._last_claim = 0.0
        self._last_trim = time.monotonic()
        self._settling = False
        self._recovered_own = False
        self._records_per_entry = float(
            getattr(settings, "flush_max_records", 1000)
        )  # until entries are seen
        self._own_cursor: bytes | str = "0"
        self._claim_cursor: bytes | str = "0-0"
        self._in_flight_ids: set[str] = set()
        self._stats_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loader to stop after the batch in flight (safe to call from a signal handler)."""
        self._stopping = True

    def close(self) -> None:
        if self._owns_backend:
            self.backend.close()
        if self._owns_redis:
            self.redis.close()

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the loop ----------------------------------------------------------------------------------------------

    def _prefixes_for(self, message: wire.Message) -> Mapping[str, str]:
        """The graph's property prefixes for a message's namespaces, registering new ones (an outage is retried
        like a write: until it passes, or the loader stops and the entry stays pending)."""
        registry = property_prefixes(self.backend)
        return self._retrying(lambda: registry.claim_for([message]))  # type: ignore[no-any-return]

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) if missing; reading starts at the stream's first entry."""
        import redis

        try:
            self.redis.xgroup_create(self.stream, self.settings.consumer_group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def run(self, *, until_idle_s: float | None = None) -> LoadStats:
        """Load until `stop` is called, or until nothing arrived for ``until_idle_s`` seconds (0: until the first
        empty read). Returns what was loaded.

        Reading and decoding the next batch overlaps with the graph writing the current ones (`WRITERS` writer
        threads, as many batches in flight); a batch is acknowledged only after its transaction committed, batches
        in the order they were read.
        """
        import concurrent.futures
        from collections import deque

        import redis

        from provgraph.errors import StoreUnavailable

        # a bounded run (`load --once`, `--until-idle`) is a script's step: it gives up on an unreachable server
        self._give_up_s = None if until_idle_s is None else BOUNDED_RUN_GIVE_UP_S
        self.backend.ensure_schema()
        self._retrying(self.ensure_group)
        idle_since = time.monotonic()
        writers = self.writers or WRITERS.get(self.backend.dialect, 1)
        in_flight: deque[tuple[concurrent.futures.Future[None], list[_Entry]]] = deque()
        with (
            _fewer_collections(),
            concurrent.futures.ThreadPoolExecutor(
                writers, thread_name_prefix="provgraph-loader-write"
            ) as writer,
        ):
            try:
                while not self._stopping:
                    if self._recovery_due():
                        # a redelivered entry (this consumer's own pending after a restart, or a stale one taken
                        # over) is loaded alone, with nothing else in flight: a loader that dies meanwhile adds a
                        # delivery to that one entry only, so `loader_max_deliveries` singles out an entry that
                        # keeps killing loaders, not the innocent ones that shared its batches
                        while in_flight:
                            self._finish(*in_flight.popleft())
                        recovered = self._retrying(self._recover)
                        if recovered:
                            idle_since = time.monotonic()
                            self._in_flight_ids |= {entry.entry_id for entry in recovered}
                            self._finish(writer.submit(self._write_entries, recovered), recovered)
                            self._maybe_report()
                            continue
                    entries = self._retrying(self._read_batch)
                    # acknowledge in order what committed; wait for the oldest batch only when every writer is busy
                    # and a batch is queued for the next free one
                    while in_flight and (in_flight[0][0].done() or len(in_flight) >= writers + self.queued):
                        self._finish(*in_flight.popleft())
                    if entries:
                        idle_since = time.monotonic()
                        in_flight.append((writer.submit(self._write_entries, entries), entries))
                        self._in_flight_ids |= {entry.entry_id for entry in entries}
                    elif until_idle_s is not None and time.monotonic() - idle_since >= until_idle_s:
                        while in_flight:
                            self._finish(*in_flight.popleft())
                        # idle is not done: entries pending for the group (a gone consumer's, or ours whose
                        # delivery a Redis failure swallowed) are claimed and loaded first
                        if self._retrying(self._settled):
                            break
                        self._settling = True
                    self._maybe_report()
                    self._maybe_trim()
                while in_flight:
                    self._finish(*in_flight.popleft())  # graceful stop: the batches in flight complete
            except (StoreUnavailable, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                if not self._stopping:
                    raise
                # stopped while a store was unavailable: that batch stays pending, nothing was acknowledged
                self._report()
                return self.stats
        with contextlib.suppress(redis.exceptions.RedisError):
            self.trim()
            self._leave_group()
        self._report()  # the last line is always the final state, after every batch in flight was acknowledged
        return self.stats

    # -- group housekeeping ------------------------------------------------------------------------------------

    def _settled(self) -> bool:
        """Whether the group has nothing pending and nothing undelivered (what --until-idle waits for)."""
        stream, group = self.stream, self.settings.consumer_group
        summary = self.redis.xpending(stream, group)
        if summary["pending"]:
            mine = [
                c
                for c in summary.get("consumers") or []
                if _text(c["name"]) == self.consumer and c["pending"]
            ]
            if mine:  # ours, yet not in flight: a delivery whose reply was lost; read them again
                self._recovered_own = False
                self._own_cursor = "0"
            return False
        for info in self.redis.xinfo_groups(stream):
            if _text(info["name"]) == group:
                return not info.get("lag")  # None: Redis cannot tell, and our last read came back empty
        return True

    def _leave_group(self) -> None:
        """Remove this consumer from the group when it holds no pending entry (a clean stop), and consumers of
        loaders that died long ago and hold nothing either (a live one that is removed is simply recreated by
        its next read)."""
        stream, group = self.stream, self.settings.consumer_group
        for info in self.redis.xinfo_consumers(stream, group):
            name = _text(info["name"])
            if info["pending"]:
                continue
            if name == self.consumer or info.get("idle", 0) >= STALE_CONSUMER_MS:
                self.redis.xgroup_delconsumer(stream, group, name)

    def _maybe_trim(self) -> None:
        now = time.monotonic()
        if now - self._last_trim >= TRIM_INTERVAL_S:
            self._last_trim = now
            try:
                self.trim()
            except Exception:  # trimming is housekeeping: the next round tries again
                logger.debug("cannot trim %s", self.stream, exc_info=True)

    def trim(self) -> int:
        """Remove acknowledged entries older than ``loader_keep_acknowledged_s`` from the stream; never one that
        any consumer group of the stream has not acknowledged or not yet read. Returns the entries removed."""
        stream = self.stream
        groups = self.redis.xinfo_groups(stream)
        if not groups:
            return 0
        keep_from = (int((time.time() - self.settings.loader_keep_acknowledged_s) * 1000), 0)
        bound = keep_from
        for info in groups:
            if info["pending"]:
                oldest = self.redis.xpending(stream, info["name"])["min"]
                needed = _stream_id(oldest)
            else:  # everything up to the last delivered entry is acknowledged
                ms, seq = _stream_id(info["last-delivered-id"])
                needed = (ms, seq + 1)
            bound = min(bound, needed)
        if bound <= (0, 0):
            return 0
        return int(self.redis.xtrim(stream, minid=f"{bound[0]}-{bound[1]}", approximate=False))

    def _finish(self, future: Any, entries: list[_Entry]) -> None:
        """Wait for a batch's transaction, then dead-letter what could not load and acknowledge the whole batch."""
        future.result()
        committed = self.last_commit_at = time.time()
        for entry in entries:
            if entry.reason is None and entry.sent_at:
                self.latencies.append(committed - entry.sent_at)
        self._retrying(lambda: self._dead_letter_and_ack(entries))
        self._in_flight_ids -= {entry.entry_id for entry in entries}

    # -- reading -----------------------------------------------------------------------------------------------

    def _claim_idle_ms(self) -> int:
        claim_idle_ms = int(self.settings.loader_claim_idle_ms)
        if self._settling:  # --until-idle/--once: take over what gone consumers left without the usual wait
            claim_idle_ms = min(claim_idle_ms, GONE_CONSUMER_MS)
        return claim_idle_ms

    def _recovery_due(self) -> bool:
        """Whether `_recover` would ask Redis for entries to redeliver now."""
        return not self._recovered_own or time.monotonic() - self._last_claim >= self._claim_idle_ms() / 2000

    def _recover(self) -> list[_Entry]:
        """The next entry to redeliver, alone: this consumer's own pending ones at start, then stale ones of any
        consumer. One at a time, because reading an entry again counts a delivery against it (Redis's delivery
        counter, which `loader_max_deliveries` checks): only the entry about to be loaded may be counted."""
        stream, group = self.stream, self.settings.consumer_group
        count = 1
        raw: list[tuple[bytes, dict[bytes, bytes]]] = []
        if not self._recovered_own:
            # this consumer's own pending entries (a restart under the same name), after the ones already taken
            response = self.redis.xreadgroup(group, self.consumer, {stream: self._own_cursor}, count=count)
            raw = response[0][1] if response else []
            if raw:
                self._own_cursor = raw[-1][0]
            deleted = [item[0] for item in raw if not item[1]]  # deleted from the stream: nothing to load
            if deleted:
                self.redis.xack(stream, group, *deleted)
            raw = [item for item in raw if item[1]]
            if not raw and not deleted:
                self._recovered_own = True
        now = time.monotonic()
        claim_idle_ms = self._claim_idle_ms()
        if not raw and now - self._last_claim >= claim_idle_ms / 2000:
            self._last_claim = now
            # one entry claimed per call, so the scan (which Redis bounds at ten times the count) goes on from where
            # the last one stopped: stale entries behind a live loader's young ones are still reached
            response = self.redis.xautoclaim(
                stream,
                group,
                self.consumer,
                min_idle_time=claim_idle_ms,
                start_id=self._claim_cursor,
                count=count,
            )
            self._claim_cursor = response[0]  # 0-0 once the whole pending list was scanned
            raw = [item for item in response[1] if item[1]]
            if raw or _stream_id(self._claim_cursor) != (0, 0):
                self._last_claim = 0.0  # there may be more: claim again next cycle
                logger.info("took over %d stale entries of %s", len(raw), stream)
        # entries of the batch being written are pending too: never take them over from ourselves
        raw = [item for item in raw if item[0].decode() not in self._in_flight_ids]
        if not raw:
            return []
        ids = sorted((item[0] for item in raw), key=lambda i: tuple(int(part) for part in i.split(b"-")))
        deliveries = {
            row["message_id"]: row["times_delivered"]
            for row in self.redis.xpending_range(
                stream, group, min=ids[0], max=ids[-1], count=len(ids) + 10, consumername=self.consumer
            )
        }
        entries = []
        for entry_id, fields in raw:
            times = deliveries.get(entry_id, 1)
            if (
                times > self.settings.loader_max_deliveries
            ):  # checked before decoding: it may be what killed us
                payload = fields.get(wire.FIELD.encode(), b"")
                reason = f"delivered {times} times (more than loader_max_deliveries)"
                entries.append(_Entry(entry_id.decode(), payload, reason=reason))
            else:
                entries.append(_decode_entry(entry_id.decode(), fields, self._prefixes_for))
        return entries

    def _read_batch(self) -> list[_Entry]:
        """New entries, until the batch holds ``loader_batch_records`` records or the flush interval passed."""
        stream, group = self.stream, self.settings.consumer_group
        entries: list[_Entry] = []
        records = 0
        deadline = None
        while not self._stopping:
            if deadline is None:
                block_ms = self.settings.loader_block_ms
            else:
                block_ms = int((deadline - time.monotonic()) * 1000)
                if block_ms <= 0:
                    break
            # entries to ask for: what still fits in the batch at the records-per-entry seen so far
            wanted = (self.settings.loader_batch_records - records) // max(1, int(self._records_per_entry))
            response = self.redis.xreadgroup(
                group, self.consumer, {stream: ">"}, count=min(max(1, wanted), 1000), block=block_ms
            )
            if not response or not response[0][1]:
                if deadline is None:
                    break  # nothing arrived in one block period
                continue
            for entry_id, fields in response[0][1]:
                entry = _decode_entry(entry_id.decode(), fields, self._prefixes_for)
                entries.append(entry)
                size = entry.rows.records if entry.rows is not None else 0
                records += size
                self._records_per_entry = 0.5 * self._records_per_entry + 0.5 * max(size, 1)
            if deadline is None:
                deadline = time.monotonic() + self.settings.loader_flush_interval_ms / 1000
            if records >= self.settings.loader_batch_records:
                break
        return entries

    # -- writing -----------------------------------------------------------------------------------------------

    def _write_entries(self, entries: list[_Entry]) -> None:
        """Write the loadable entries of a batch (in the writer thread); entries the graph refuses get a reason."""
        self._write_or_split([e for e in entries if e.reason is None])

    def _write_or_split(self, entries: list[_Entry]) -> None:
        """Write the entries' rows in one transaction; when the graph refuses them (anything but an outage), halve
        until the entry at fault is alone, then halve its records until the record at fault is alone, and
        dead-letter that record with the graph's reason. The rest loads."""
        if not entries:
            return
        batch = Batch()
        for entry in entries:
            batch.extend(entry.rows)  # type: ignore[arg-type]
        refusal = self._write(batch)
        if refusal is None:
            return
        if len(entries) > 1:
            middle = len(entries) // 2
            self._write_or_split(entries[:middle])
            self._write_or_split(entries[middle:])
            return
        entry = entries[0]
        logger.info("the graph refused entry %s (%s); isolating the record at fault", entry.entry_id, refusal)
        self._split_records(entry, _units(entry), refusal, known_bad=True)

    def _split_records(
        self,
        entry: _Entry,
        units: list[list[tuple[int, dict[str, Any]]]],
        refusal: str,
        *,
        known_bad: bool = False,
    ) -> None:
        """Write the records of ``units`` of ``entry`` (with its document and namespaces) or, refused, halve the
        units (a unit is a record, or all the records of one compact event: refused together)."""
        message = entry.message
        assert message is not None
        if not known_bad:
            rows = self._record_rows(entry, [item for unit in units for item in unit])
            refusal_or_none = self._write(rows) if rows is not None else "cannot build its rows"
            if refusal_or_none is None:
                return
            refusal = refusal_or_none
        if len(units) <= 1:
            records = units[0] if units else []
            whole = (
                f" (with the other records of its event, {records[0][0]}-{records[-1][0]})"
                if len(records) > 1
                else ""
            )
            for index, record in records:
                entry.faults.append(
                    (index, record, f"record {index} ({record['k']}): the graph refused it{whole}: {refusal}")
                )
            if not records and entry.reason is None:  # the document or namespaces themselves
                entry.reason = f"the graph refused the message: {refusal}"
            return
        middle = len(units) // 2
        self._split_records(entry, units[:middle], refusal)
        self._split_records(entry, units[middle:], refusal)

    @staticmethod
    def _record_rows(entry: _Entry, records: list[tuple[int, dict[str, Any]]]) -> Batch | None:
        message = entry.message
        assert message is not None
        chosen = [record for _, record in records]
        bundles = {record.get("b") for record in chosen} - {None}
        context = [r for _, r in entry.records if r["k"] == "bundle" and r["id"] in bundles]
        subset = wire.Message(message.doc, [*context, *chosen], message.namespaces, message.sent_at)
        try:
            rows = message_rows(subset, prefixes=entry.prefixes)
        except Exception:
            return None
        rows.records -= len(context)
        return rows

    def _write(self, batch: Batch) -> str | None:
        """Write one batch, retrying outages; None when it committed, else the graph's reason for refusing it."""
        import redis

        from provgraph.errors import StoreUnavailable

        try:
            stats = self._retrying(lambda: write_batch(self.backend, batch))
        except (StoreUnavailable, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            raise  # only while stopping: the batch stays pending
        except Exception as exc:  # a refusal that is about the data (constraint, token, index size, packing)
            text = str(exc).replace("\n", " ")
            return f"{type(exc).__name__}: {text[:300]}"
        with self._stats_lock:  # writer threads finish concurrently
            self.stats.add(stats)
        return None

    def _dead_letter_and_ack(self, entries: list[_Entry]) -> None:
        """Dead-letter what could not load (whole entries, and single records of entries that loaded otherwise),
        then acknowledge every entry of the batch, in one round trip."""
        stream, group = self.stream, self.settings.consumer_group
        pipe = self.redis.pipeline(transaction=False)
        dead = 0
        at = f"{time.time():.3f}"
        for entry in entries:
            if entry.reason is not None:
                dead += 1
                pipe.xadd(
                    self.settings.dead_letter_stream,
                    {
                        "reason": entry.reason,
                        "payload": entry.payload,
                        "stream": stream,
                        "entry_id": entry.entry_id,
                        "consumer": self.consumer,
                        "at": at,
                    },
                )
                logger.warning("dead letter: %s entry %s: %s", stream, entry.entry_id, entry.reason)
                continue
            whole_in: int | None = (
                None  # the record whose dead letter holds the whole message, once per entry
            )
            for index, record, reason in entry.faults:
                dead += 1
                payload, alone = _dead_record_payload(entry, index, record)
                if alone:
                    where = ""
                elif whole_in is None:
                    whole_in, where = index, " (payload: the whole message)"
                else:  # not the whole message again for each such record (10,000 of them would be GBs)
                    payload, where = (
                        b"",
                        f" (payload: the whole message, in the dead letter of record {whole_in})",
                    )
                pipe.xadd(
                    self.settings.dead_letter_stream,
                    {
                        "reason": reason + where,
                        "payload": payload,
                        "stream": stream,
                        "entry_id": entry.entry_id,
                        "record": str(index),
                        "consumer": self.consumer,
                        "at": at,
                    },
                )
                logger.warning("dead letter: %s entry %s %s", stream, entry.entry_id, reason)
        pipe.xack(stream, group, *[e.entry_id for e in entries])
        pipe.execute()
        self.dead_letters += dead

    # -- retries and reporting -------------------------------------------------------------------------------

    def _retrying(self, call: Any) -> Any:
        """Run ``call``; on a transient failure of Redis or the graph, back off (jittered, capped) and retry until
        it works or `stop` is called (then the failure propagates and nothing is acknowledged)."""
        import random

        import redis

        from provgraph.errors import StoreUnavailable

        delay = 0.1
        last_log = 0.0
        waited = False
        first_failure: float | None = None
        while True:
            try:
                try:
                    result = call()
                except cluster_outages() as exc:  # a Redis Cluster shard down or failing over: wait it out
                    raise redis.exceptions.ConnectionError(f"Redis Cluster: {exc}") from exc
                self._reached = True
                # only the call that waited says the store is back: a Redis read succeeding in the reading thread
                # says nothing about a graph write still retrying in a writer thread
                if waited:
                    logger.warning("Redis and the graph available again; loading resumes")
                    self._note("Redis and the graph available again; loading resumes")
                    self._waiting_for_graph = False
                return result
            except redis.exceptions.ResponseError as exc:
                if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):  # UNBLOCKED: deleted while we waited
                    raise
                if self._stopping:  # the stream went away while stopping: nothing to finish there
                    raise
                # Redis restarted without its data, or the stream was deleted: the group is gone. Entries in
                # flight are acknowledged into the new group harmlessly; what Redis kept is read again from the
                # start and loads idempotently.
                logger.warning("consumer group missing (%s); recreating it", exc)
                self._note(
                    f"consumer group {self.settings.consumer_group} of {self.stream} was missing "
                    "(Redis restarted without its data, or the stream was deleted): recreated it, going on"
                )
                with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    self.ensure_group()  # Redis gone again: the next attempt backs off
                self._recovered_own = False
                self._own_cursor = "0"
                # a group that keeps vanishing (the stream deleted again and again) must not spin this thread
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, self.settings.loader_retry_max_s)
            except (StoreUnavailable, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                if self._stopping:
                    raise
                if not isinstance(exc, StoreUnavailable):
                    # a read whose reply was lost left entries pending for us that we never saw: read ours again
                    self._recovered_own = False
                    self._own_cursor = "0"
                waited = self._waiting_for_graph = True
                now = time.monotonic()
                first_failure = now if first_failure is None else first_failure
                what = "the graph" if isinstance(exc, StoreUnavailable) else "Redis"
                if (
                    not self._reached
                    and self._give_up_s is not None
                    and now - first_failure >= self._give_up_s
                ):
                    where = (
                        f"Redis at {redact_url(str(self.settings.redis_url))}"
                        if what == "Redis"
                        else "the graph"
                    )
                    raise StoreUnavailable(
                        f"gave up after {self._give_up_s:g} s: cannot reach {where} ({exc}); nothing was "
                        "acknowledged, a later `provgraph load` takes it up",
                        None,
                    ) from exc
                if now - last_log >= self.settings.loader_progress_interval_s:
                    last_log = now
                    logger.warning("%s unavailable, retrying (nothing acknowledged): %s", what, exc)
                    self._note(f"{what} unavailable, retrying with back-off (nothing acknowledged): {exc}")
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, self.settings.loader_retry_max_s)

    def progress(self) -> LoaderProgress:
        """Counts so far plus the group's lag and pending entries (None when Redis cannot say)."""
        lag = pending = None
        try:
            for group in self.redis.xinfo_groups(self.stream):
                name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
                if name == self.settings.consumer_group:
                    lag, pending = group.get("lag"), group.get("pending")
        except Exception:  # progress is best effort; the loop reports store problems itself
            logger.debug("cannot read stream info", exc_info=True)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return LoaderProgress(
            records=self.stats.records,
            messages=self.stats.messages,
            dead_letters=self.dead_letters,
            records_per_s=self.stats.records / elapsed,
            lag=lag,
            pending=pending,
            waiting_for_graph=self._waiting_for_graph,
        )

    def _note(self, text: str) -> None:
        if self._progress is not None:
            self._progress(text)

    def _maybe_report(self) -> None:
        if time.monotonic() - self._last_progress >= self.settings.loader_progress_interval_s:
            self._report()

    def _report(self) -> None:
        self._last_progress = time.monotonic()
        if self._progress is not None:
            self._progress(self.progress().line())


def persistence_warning(redis_client: Any) -> str | None:
    """One line when the Redis behind ``redis_client`` keeps no append-only file (a restart then loses what the
    loader has not loaded yet); None when it does, or when it will not say."""
    try:
        info = redis_client.info("persistence")
    except Exception:  # INFO may be renamed or refused: no claim either way
        return None
    if str(info.get("aof_enabled", "1")) != "0":
        return None
    return (
        "warning: this Redis keeps no append-only file (appendonly no): a Redis restart loses every stream entry "
        "not yet loaded. `provgraph services` and the embedded server turn it on by default "
        "(PROVGRAPH_REDIS_AOF); elsewhere set `appendonly yes` (docs/transport.md)"
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stream_id(value: bytes | str) -> tuple[int, int]:
    ms, _, seq = _text(value).partition("-")
    return int(ms), int(seq or 0)


def _redis_client(settings: Any) -> Any:
    """A redis-py client for ``settings.redis_url`` (the embedded server's when it is ``embedded``, a
    ``RedisCluster`` for a ``redis-cluster://`` URL)."""
    from capture._streams import connect

    url = settings.redis_url
    if url == "embedded":
        from capture._embedded_url import embedded_redis_url  # written by the embedded server when it starts

        url = embedded_redis_url(settings)
    try:
        return connect(url)
    except ValueError as exc:  # a malformed redis-cluster:// URL
        from provgraph.errors import ConfigurationError

        raise ConfigurationError(f"PROVGRAPH_REDIS_URL: {exc}") from exc
