"""Import PROV documents into the graph, through the same loader path as captured records.

A document (PROV-JSON, PROV-N, PROV-XML, RDF Turtle/TriG or PROV-JSONLD, read with the ``prov`` library) becomes
wire-format messages (`capture.wire`), and those go to the loader's one write path
(`provgraph.loader.load_messages`), or onto the Redis stream for a running loader (``via_stream=True``). So an
imported document is stored exactly like captured provenance and answers the same Cypher.

The conversion goes through ``prov``'s own PROV-JSON encoding, whose value encoding the wire format shares: each
record keeps its identifier (or none), its formal arguments (missing ones stay missing), and every attribute value
with its datatype, language tag or qualified name as written. A bundle becomes a ``bundle`` record carrying its own
namespaces, and its records carry the bundle's identifier in ``b``.

Example::

    from provgraph.prov.importer import import_document

    result = import_document(backend, "trace.provn")      # format from the file name
    print(result.doc, result.records)
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from capture import wire
from provgraph.errors import ExportError

if TYPE_CHECKING:
    from prov.model import ProvDocument

    from capture.settings import Settings
    from provgraph.graph.backend import GraphBackend

__all__ = [
    "FORMATS",
    "ImportResult",
    "default_doc_id",
    "document_to_messages",
    "document_to_records",
    "format_from_path",
    "import_document",
    "read_document",
    "records_to_messages",
]

logger = logging.getLogger(__name__)

FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    "json": ("json", {}),
    "provn": ("provn", {}),
    "xml": ("xml", {}),
    "turtle": ("rdf", {"rdf_format": "turtle"}),
    "trig": ("rdf", {"rdf_format": "trig"}),
    "jsonld": ("jsonld", {}),
}
"""provgraph's format names -> (``prov`` serializer name, its keyword arguments)."""

_SUFFIXES = {
    ".json": "json",
    ".provn": "provn",
    ".pn": "provn",
    ".xml": "xml",
    ".provx": "xml",
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".trig": "trig",
    ".jsonld": "jsonld",
}

MESSAGE_RECORDS = 5000
"""Records per wire message: big enough for the loader's UNWIND batches, small enough for one stream entry."""

_ANONYMOUS = "_:"  # prov's PROV-JSON encoder names records without an identifier _:id1, _:id2, ...


@dataclass(frozen=True)
class ImportResult:
    """What one import stored: the document id, and how many records and messages went to the loader."""

    doc: str
    records: int
    messages: int
    format: str


def format_from_path(path: str | os.PathLike[str]) -> str:
    """The provgraph format name for a file name (``.json``, ``.provn``, ``.xml``, ``.ttl``, ``.trig``, ``.jsonld``)."""
    suffix = Path(path).suffix.lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise ExportError(
            f"cannot tell the PROV format of {str(path)!r} from its suffix {suffix!r}; "
            f"pass --format (one of {', '.join(FORMATS)})"
        ) from None


def _check_format(fmt: str) -> tuple[str, dict[str, str]]:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ExportError(f"unknown PROV format {fmt!r}; use one of {', '.join(FORMATS)}") from None


def read_document(source: str | os.PathLike[str] | bytes, fmt: str | None = None) -> ProvDocument:
    """Parse a PROV document from a file path (or its bytes, with ``fmt``) with the ``prov`` library.

    Raises:
        ExportError: unknown format, unreadable file, or a document ``prov`` cannot parse (with its reason).
    """
    from prov.model import ProvDocument

    from provgraph.prov.rdf import read_rdf

    if isinstance(source, bytes):
        if fmt is None:
            raise ExportError("reading PROV from bytes needs a format")
        content = source
        name = "<bytes>"
    else:
        name = str(source)
        fmt = fmt or format_from_path(source)
        try:
            content = Path(source).read_bytes()
        except OSError as exc:
            raise ExportError(f"cannot read {name}: {exc}") from exc
    prov_format, options = _check_format(fmt)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # prov warns about scruffy input it still accepts
            if prov_format == "rdf":
                return read_rdf(content, options["rdf_format"])
            return ProvDocument.deserialize(source=io.BytesIO(content), format=prov_format, **options)
    except Exception as exc:  # prov raises many exception types for bad input
        reason = f"{type(exc).__name__}: {exc}"
        if prov_format == "jsonld":
            return _read_prov_o_json_ld(content, name, reason)
        raise ExportError(f"{name} is not a valid {fmt} PROV document: {reason}") from exc


def _remote_context(data: Any) -> str | None:
    """The first ``@context`` in parsed JSON-LD that names a document to fetch (a string), if any."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "@context":
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        return item
            found = _remote_context(value)
            if found is not None:
                return found
    elif isinstance(data, list):
        for item in data:
            found = _remote_context(item)
            if found is not None:
                return found
    return None


def _read_prov_o_json_ld(content: bytes, name: str, prov_jsonld_reason: str) -> ProvDocument:
    """A ``.jsonld`` file that is not PROV-JSONLD, read as PROV-O in generic JSON-LD (what rdflib and other RDF
    tools write: an array of nodes, ``prov:used`` as an object, full URIs), by ``prov``'s RDF reader.

    A remote ``@context`` is never fetched (a document would make the import reach any address), and JSON-LD that
    states no PROV is no document: both are refused with the PROV-JSONLD reader's reason beside.
    """
    import json

    from provgraph.prov.rdf import read_rdf

    refusal = f"{name} is neither PROV-JSONLD ({prov_jsonld_reason}) nor PROV-O in JSON-LD"
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise ExportError(f"{name} is not a valid jsonld PROV document: {prov_jsonld_reason}") from exc
    remote = _remote_context(data)
    if remote is not None:
        raise ExportError(
            f"{refusal}: its @context {remote!r} is remote, and provgraph does not fetch contexts"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            document = read_rdf(content, "json-ld")
    except Exception as exc:
        raise ExportError(f"{refusal} ({type(exc).__name__}: {exc})") from exc
    if not document.has_bundles() and not document.get_records():
        raise ExportError(f"{refusal}: it states no PROV record")
    return document


def _container_records(container: Mapping[str, Any], bundle: str | None) -> Iterator[dict[str, Any]]:
    """Wire records from one PROV-JSON container (as ``prov``'s encoder writes it), prefix and bundles removed."""
    from prov.constants import PROV_ATTRIBUTES, PROV_ATTRIBUTES_ID_MAP

    formal_names = {
        name: attr.localpart for name, attr in PROV_ATTRIBUTES_ID_MAP.items() if attr in PROV_ATTRIBUTES
    }
    for kind, by_id in container.items():
        if kind in ("prefix", "bundle"):
            continue
        if kind not in wire.RECORD_KINDS:
            raise ExportError(f"record kind {kind!r} has no wire form")
        for identifier, content in by_id.items():
            for instance in content if isinstance(content, list) else [content]:
                record: dict[str, Any] = {"k": kind}
                if not identifier.startswith(_ANONYMOUS):
                    record["id"] = identifier
                formal: dict[str, str] = {}
                attrs: list[list[Any]] = []
                for name, value in instance.items():
                    local = formal_names.get(name)
                    if local is not None and local in wire.FORMALS[kind]:
                        formal[local] = value
                    else:
                        for item in value if isinstance(value, list) else [value]:
                            attrs.append([name, item])
                if formal:
                    record["f"] = formal
                if attrs:
                    record["a"] = attrs
                if bundle is not None:
                    record["b"] = bundle
                yield record


QNAME_LITERAL_TYPE = "http://www.w3.org/2001/XMLSchema#QName"
"""The wire datatype of an ``xsd:QName`` typed *literal* (``"prov:Person" %% xsd:QName``): PROV-JSON writes it
exactly like a qualified-name value (``xsd:QName``), which ``prov`` reads back as a qualified name; the full URI
keeps it a literal through the store (`provgraph.prov.export`)."""


def _keep_qname_literals(document: ProvDocument, container: dict[str, Any]) -> None:
    """Retype, in ``prov``'s PROV-JSON encoding of ``document``, each ``xsd:QName`` literal as `QNAME_LITERAL_TYPE`.

    The encoding cannot tell them from qualified-name values, so the document's records say where they are: the
    records are matched to their encoded instances by kind and identifier (records without one in order, as the
    encoder numbers them), and as many values of each attribute as were literals are retyped.
    """
    from prov.constants import PROV_N_MAP, XSD_QNAME
    from prov.model import Literal

    bundles: list[tuple[Any, dict[str, Any]]] = [(document, container)]
    for bundle in document.bundles:
        bundles.append((bundle, container.get("bundle", {}).get(str(bundle.identifier), {})))
    for bundle, encoded in bundles:
        anonymous: dict[str, Iterator[tuple[str, Any]]] = {}
        seen: Counter[tuple[str, str]] = Counter()
        for record in bundle.get_records():
            literals = Counter(
                (str(name), value.value)
                for name, value in record.extra_attributes
                if isinstance(value, Literal) and value.datatype == XSD_QNAME and value.langtag is None
            )
            kind = PROV_N_MAP[record.get_type()]
            by_id = encoded.get(kind, {})
            if record.identifier is None:
                if kind not in anonymous:
                    anonymous[kind] = iter([(i, c) for i, c in by_id.items() if i.startswith(_ANONYMOUS)])
                instance = next(anonymous[kind], (None, None))[1]
            else:
                ident = str(record.identifier)
                content = by_id.get(ident)
                seen[(kind, ident)] += 1
                index = seen[(kind, ident)] - 1
                instance = content[index] if isinstance(content, list) and index < len(content) else content
            if not literals or not isinstance(instance, dict):
                continue
            for (name, lexical), count in literals.items():
                value = instance.get(name)
                for item in value if isinstance(value, list) else [value]:
                    if count and isinstance(item, dict) and item == {"$": lexical, "type": "xsd:QName"}:
                        item["type"] = QNAME_LITERAL_TYPE
                        count -= 1


def _declared_namespaces(bundle: Any) -> dict[str, str]:
    """The prefixes a bundle itself declares (``default`` included)."""
    namespaces = {ns.prefix: ns.uri for ns in bundle.namespaces}
    default = bundle.get_default_namespace()
    if default is not None:
        namespaces["default"] = default.uri
    return _wire_namespaces(namespaces)


def _wire_namespaces(namespaces: Mapping[str, str]) -> dict[str, str]:
    """``namespaces`` with the empty prefix as the wire's ``default``.

    ``prov``'s RDF reader keeps Turtle's and TriG's empty prefix (``@prefix : <...>``, ``:e1``) as a namespace of
    prefix ``""``, whose names its PROV-JSON encoder writes without a colon (``e1``): the wire's (and PROV-JSON's)
    form of a name in the default namespace, so that is what the empty prefix is here. Export gives it back as the
    default namespace, which Turtle writes as ``@prefix : <...>`` again.

    Raises:
        ExportError: the document binds both the empty prefix and a default namespace, to different URIs (a name
            without a prefix would be ambiguous).
    """
    if "" not in namespaces:
        return dict(namespaces)
    result = {prefix: uri for prefix, uri in namespaces.items() if prefix != ""}
    empty = namespaces[""]
    if result.setdefault("default", empty) != empty:
        raise ExportError(
            f"the document binds the empty prefix to <{empty}> and the default namespace to "
            f"<{result['default']}>: a name without a prefix would name either"
        )
    return result


def document_to_records(document: ProvDocument) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The document's top-level namespaces (``default`` included) and its records in wire form.

    Each named bundle contributes a ``bundle`` record (its identifier and its own namespaces) followed by its
    records, each carrying the bundle's identifier in ``b``.
    """
    from prov.serializers.provjson import encode_json_document

    container = encode_json_document(document)
    _keep_qname_literals(document, container)
    namespaces = _wire_namespaces(container.get("prefix", {}))
    records = list(_container_records(container, None))
    # a bundle's own declarations, not the encoder's: it also lists the document's prefixes the bundle uses
    declared = {str(bundle.identifier): _declared_namespaces(bundle) for bundle in document.bundles}
    for bundle_id, bundle_container in container.get("bundle", {}).items():
        own = (
            declared[bundle_id]
            if bundle_id in declared
            else _wire_namespaces(bundle_container.get("prefix", {}))
        )
        records.append({"k": "bundle", "id": bundle_id, "ns": own})
        records.extend(_container_records(bundle_container, bundle_id))
    _number_repeats(namespaces, records)
    for index, record in enumerate(records):
        try:
            wire.validate_record(record, index)
        except wire.WireFormatError as exc:
            raise ExportError(
                f"the document has a record the wire format cannot carry: {exc.reason}"
            ) from exc
    return namespaces, records


def _statement_keys(namespaces: Mapping[str, str], records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each record's statement key within its document (scheme 2, `capture.wire.statement_key`, document ``""``):
    a bundle's records resolve with the bundle's own namespaces too."""
    bundle_namespaces = {r.get("id"): dict(r.get("ns") or {}) for r in records if r.get("k") == "bundle"}
    keys = []
    for record in records:
        bundle = record.get("b")
        resolved = {**namespaces, **bundle_namespaces.get(bundle, {})} if bundle else namespaces
        keys.append(
            wire.statement_key("", {k: v for k, v in record.items() if k != wire.OCCURRENCE}, resolved)
        )
    return keys


def _number_repeats(namespaces: Mapping[str, str], records: list[dict[str, Any]]) -> None:
    """Mark the second, third, ... occurrence of a statement in the document (`capture.wire.OCCURRENCE`), so each
    is stored and given back: a record repeated verbatim, or the same statement spelled with another prefix."""
    seen: Counter[str] = Counter()
    for record, key in zip(records, _statement_keys(namespaces, records), strict=True):
        if record["k"] == "bundle":
            continue
        seen[key] += 1
        if seen[key] > 1:
            record[wire.OCCURRENCE] = seen[key]


def document_to_messages(
    document: ProvDocument, doc: str, *, max_records: int = MESSAGE_RECORDS
) -> list[wire.Message]:
    """Wire messages for a whole document, ``max_records`` records at most each.

    A bundle's records travel with their ``bundle`` record: a chunk of a bundle repeats it first (the same
    record, so the same statement key: the loader stores it once), so every message resolves its names alone.
    """
    namespaces, records = document_to_records(document)
    return records_to_messages(namespaces, records, doc, max_records=max_records)


def records_to_messages(
    namespaces: Mapping[str, str],
    records: list[dict[str, Any]],
    doc: str,
    *,
    max_records: int = MESSAGE_RECORDS,
) -> list[wire.Message]:
    """Wire messages for a document's namespaces and records (`document_to_records`), as `document_to_messages`."""
    messages: list[wire.Message] = []
    chunk: list[dict[str, Any]] = []
    current_bundle: dict[str, Any] | None = None

    def flush() -> None:
        nonlocal chunk
        if chunk:
            messages.append(wire.Message(doc=doc, records=chunk, namespaces=dict(namespaces)))
            chunk = []

    for record in records:
        if record["k"] == "bundle":
            flush()
            current_bundle = record
        elif record.get("b") is None:
            if current_bundle is not None:
                flush()
                current_bundle = None
        if len(chunk) >= max_records:
            flush()
            if current_bundle is not None and record is not current_bundle:
                chunk.append(current_bundle)
        chunk.append(record)
    flush()
    if not messages:  # an empty document still declares its namespaces
        messages.append(wire.Message(doc=doc, records=[], namespaces=dict(namespaces)))
    return messages


def default_doc_id(namespaces: Mapping[str, str], records: Iterable[Mapping[str, Any]]) -> str:
    """A document id derived from the document's content, not its bytes: the set of its statements' keys (scheme 2
    of `capture.wire.statement_key`: kinds, identifiers and references as URIs, attributes in canonical order).

    So the same document as PROV-JSON, PROV-N, PROV-XML, Turtle, TriG or JSON-LD, under any prefixes, with its
    attributes in any order or its records repeated (occurrence numbers do not count), gets one id and is stored
    once; any change of a statement gives another id. Records in a bundle resolve with the bundle's own
    namespaces too.
    """
    keys = set(_statement_keys(namespaces, list(records)))
    return "pgid:doc_" + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:24]


def import_document(
    target: GraphBackend | Settings,
    source: str | os.PathLike[str] | ProvDocument,
    fmt: str | None = None,
    *,
    doc: str | None = None,
    via_stream: bool = False,
    settings: Settings | None = None,
) -> ImportResult:
    """Import one PROV document into the graph through the loader's write path.

    Args:
        target: an open `GraphBackend`, or `Settings` (a backend is opened and closed here).
        source: a file path, or a ``prov.model.ProvDocument`` already in memory.
        fmt: the format (``json``, ``provn``, ``xml``, ``turtle``, ``trig``, ``jsonld``); default: from the suffix.
        doc: the document id to store it under; default: from the document's content (`default_doc_id`), so the
            same document in another serialisation is the same document.
        via_stream: append the messages to the Redis stream (``settings.stream``) for a running loader instead
            of writing them directly; needs settings.
        settings: settings for ``via_stream`` when ``target`` is a backend.

    Returns:
        `ImportResult` with the document id, the number of records and of messages.
    """
    from prov.model import ProvDocument

    if isinstance(source, ProvDocument):
        document = source
        fmt = fmt or "json"
    else:
        fmt = fmt or format_from_path(source)
        try:
            content = Path(source).read_bytes()
        except OSError as exc:
            raise ExportError(f"cannot read {source}: {exc}") from exc
        document = read_document(content, fmt)
    namespaces, records = document_to_records(document)
    doc = doc or default_doc_id(namespaces, records)
    messages = records_to_messages(namespaces, records, doc)
    count = sum(len(m.records) for m in messages)
    if via_stream:
        _append_to_stream(target, settings, messages)
    else:
        _load(target, messages)
    logger.info("imported %s records of %s as %s in %s messages", count, fmt, doc, len(messages))
    return ImportResult(doc=doc, records=count, messages=len(messages), format=fmt)


def _load(target: GraphBackend | Settings, messages: Iterable[wire.Message]) -> None:
    from provgraph.graph import open_backend
    from provgraph.graph.backend import GraphBackend
    from provgraph.loader import load_messages

    if isinstance(target, GraphBackend):
        load_messages(target, messages)
        return
    with open_backend(target) as backend:
        backend.ensure_schema()
        load_messages(backend, messages)


def _append_to_stream(
    target: GraphBackend | Settings, settings: Settings | None, messages: Iterable[wire.Message]
) -> None:
    from capture.settings import Settings

    settings = settings or (target if isinstance(target, Settings) else getattr(target, "settings", None))
    if settings is None:
        raise ExportError("importing via the stream needs settings (redis_url, stream)")
    import redis

    from capture._embedded_url import embedded_redis_url, reach_embedded_server
    from capture._streams import StreamPlacement, connect

    url = settings.redis_url
    if url == "embedded":  # the embedded server's stream; its automatic loader loads what this appends
        url = reach_embedded_server(settings) if settings.embedded_autoload else embedded_redis_url(settings)
    placement = StreamPlacement(settings.stream, url)  # on a Redis Cluster: the document's partition
    client = None
    try:
        client = connect(url)
        pipe = client.pipeline(transaction=False)
        for message in messages:
            payload = wire.encode_message(message.doc, message.records, message.namespaces)
            pipe.xadd(placement.key(payload), {wire.FIELD: payload})
        pipe.execute()
    except redis.exceptions.RedisError as exc:
        from provgraph.errors import StoreUnavailable

        raise StoreUnavailable(f"cannot write the stream {settings.stream} to import: {exc}") from exc
    finally:
        if client is not None:
            client.close()
