"""Export PROV from the graph: a workflow run, a campaign, the lineage of an entity, or everything.

Export reads only what the loader stored verbatim (`docs/graph-model.md`): the ``_decl`` declarations of element
and bundle nodes, the ``_rec`` record of each relationship, and the ``Namespace`` nodes. It rebuilds a
``prov.model.ProvDocument`` from those wire records and lets the ``prov`` library write PROV-JSON, PROV-N, PROV-XML,
RDF (PROV-O Turtle and TriG, through rdflib) or PROV-JSONLD. Reads are streamed and paged by key, and records go into
the document in chunks, so a large run is never held twice.

Example::

    from provgraph.prov.export import export, export_document

    document = export_document(backend, doc="pgid:run_1234")          # a prov.model.ProvDocument
    export(backend, run="pgid:run_1234", fmt="turtle", out="run.ttl")  # write a file
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from capture import wire
from provgraph.errors import AmbiguousId, ExportError, UnknownId
from provgraph.graph.lookup import require_ids
from provgraph.prov.importer import QNAME_LITERAL_TYPE
from provgraph.prov.provjson import merge_declarations, portable_json

if TYPE_CHECKING:
    from prov.model import ProvBundle, ProvDocument

    from provgraph.graph.backend import GraphBackend

__all__ = [
    "EXPORT_FORMATS",
    "DocumentBuilder",
    "export",
    "export_document",
    "export_documents",
    "records_to_document",
    "serialize",
]

logger = logging.getLogger(__name__)

EXPORT_FORMATS = ("json", "provn", "xml", "turtle", "trig", "jsonld")

CHUNK_RECORDS = 2000
"""Records decoded into the document at a time."""

PAGE_SIZE = 5000
"""Rows per paged read from the graph."""

_IMPLICIT = {
    p: u for p, u in wire.NAMESPACES.items() if p not in ("prov", "xsd")
}  # prov knows prov: and xsd:
_QNAME_TYPES = {"xsd:QName", "prov:QUALIFIED_NAME"}

Progress = Callable[[int], None]


class DocumentBuilder:
    """Builds a ``ProvDocument`` from wire records, a chunk at a time, through ``prov``'s PROV-JSON decoder.

    Bundles must be declared (``add`` of their ``bundle`` record, or `declare_bundle`) before their records are
    decoded, so that names resolve against the bundle's own namespaces; records of undeclared bundles wait in a
    buffer until `finish`.
    """

    def __init__(self, namespaces: Mapping[str, str] | None = None, *, chunk: int = CHUNK_RECORDS) -> None:
        from prov.model import ProvDocument

        self.document: ProvDocument = ProvDocument()
        self._chunk = chunk
        self._namespaces = dict(namespaces or {})
        self._decode({"prefix": dict(self._namespaces)}, self.document)
        self._bundles: dict[str, ProvBundle] = {}
        self._bundle_namespaces: dict[str, dict[str, str]] = {}
        self._pending: dict[str | None, dict[str, dict[str, list[dict[str, Any]]]]] = {}
        self._pending_count = 0
        self._anonymous = 0
        self.records = 0

    # -- input -----------------------------------------------------------------------------------------------

    def declare_bundle(self, identifier: str, namespaces: Mapping[str, str] | None = None) -> None:
        """Create the named bundle ``identifier`` (qualified name) with its own namespaces, once."""
        from prov.model import ProvBundle

        if identifier in self._bundles:
            return
        self._flush()
        bundle_ns = dict(namespaces or {})
        self._bundle_namespaces[identifier] = bundle_ns
        # the name as prov reads it: by the bundle's own prefix where it declares one (``bundle uuid:b1 prefix
        # uuid <...>``), else by the document's, without declaring the document's prefix in the bundle
        prefix = identifier.split(":", 1)[0] if ":" in identifier else "default"
        with _quiet():
            name = None if prefix in bundle_ns else self.document.valid_qualified_name(identifier)
            if name is not None:
                bundle = self.document.bundle(name)
                self._decode({"prefix": dict(bundle_ns)}, bundle)
                self._register_implicit(bundle, identifier, bundle_ns)
            else:
                bundle = ProvBundle(document=self.document)
                self._decode({"prefix": dict(bundle_ns)}, bundle)
                self._register_implicit(bundle, identifier, bundle_ns)
                self.document.add_bundle(bundle, bundle.valid_qualified_name(identifier))
        self._bundles[identifier] = bundle

    def add(self, record: Mapping[str, Any]) -> None:
        """Add one wire record (as stored in ``_decl``/``_rec``)."""
        kind = record["k"]
        if kind == "bundle":
            self.declare_bundle(record["id"], record.get("ns"))
            return
        identifier = record.get("id")
        if identifier is None:
            self._anonymous += 1
            identifier = f"_:pg{self._anonymous}"
        instance: dict[str, Any] = {f"prov:{name}": value for name, value in record.get("f", {}).items()}
        for name, value in record.get("a", ()):
            if name in instance:
                existing = instance[name]
                if isinstance(existing, _Multi):
                    existing.append(value)
                else:
                    instance[name] = _Multi([existing, value])
            else:
                instance[name] = value
        group = self._pending.setdefault(record.get("b"), {})
        if any(_is_qname_literal(value) for _, value in record.get("a", ())):
            special = {"id": record.get("id"), "instance": instance}  # filed by kind, not identifier
            group.setdefault(_QNAME_LITERALS, {}).setdefault(kind, []).append(special)
        else:
            group.setdefault(kind, {}).setdefault(identifier, []).append(instance)
        self._pending_count += 1
        self.records += 1
        if self._pending_count >= self._chunk:
            self._flush()

    def add_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.add(record)

    def finish(self) -> ProvDocument:
        """Decode what is buffered and return the document."""
        for bundle_id in [b for b in self._pending if b is not None and b not in self._bundles]:
            self.declare_bundle(bundle_id)  # records of a bundle whose declaration is not in scope
        self._flush()
        return self.document

    # -- decoding --------------------------------------------------------------------------------------------

    def _flush(self) -> None:
        pending, self._pending, self._pending_count = self._pending, {}, 0
        for bundle_id, container in pending.items():
            if bundle_id is not None and bundle_id not in self._bundles:
                self._pending[bundle_id] = container  # wait (uncounted) for the bundle's declaration
                continue
            target = self.document if bundle_id is None else self._bundles[bundle_id]
            namespaces = self._namespaces if bundle_id is None else self._bundle_namespaces[bundle_id]
            special = container.pop(_QNAME_LITERALS, {})
            self._register_implicit(target, bundle_id, namespaces, container)
            json_container = {
                kind: {ident: (items[0] if len(items) == 1 else items) for ident, items in by_id.items()}
                for kind, by_id in container.items()
            }
            self._decode(json_container, target)
            for kind, items in special.items():
                for item in items:
                    self._add_with_qname_literals(target, kind, item["id"], item["instance"])

    def _register_implicit(
        self,
        target: ProvBundle,
        bundle_id: str | None,
        namespaces: Mapping[str, str],
        container: Mapping[str, Any] | None = None,
    ) -> None:
        """Declare provgraph's implicit namespaces (``pg:``, ``pgid:``) where used and not declared."""
        missing = {p: u for p, u in _IMPLICIT.items() if p not in namespaces and p not in self._namespaces}
        if not missing:
            return
        used = set()
        texts: list[str] = [bundle_id] if bundle_id else []
        if container is not None:
            for by_id in container.values():
                for ident, instances in by_id.items():
                    texts.append(ident)
                    for instance in instances:
                        for name, value in instance.items():
                            texts.append(name)
                            for item in value if isinstance(value, list) else [value]:
                                if isinstance(item, str):
                                    texts.append(item)
                                elif isinstance(item, dict):
                                    texts.append(item.get("type", ""))
                                    if item.get("type") in _QNAME_TYPES:
                                        texts.append(item["$"])
        for text in texts:
            prefix = text.split(":", 1)[0] if ":" in text else None
            if prefix in missing:
                used.add(prefix)
        if used:
            self._decode({"prefix": {p: missing[p] for p in sorted(used)}}, self.document)
            for prefix in used:
                self._namespaces[prefix] = missing[prefix]

    @staticmethod
    def _add_with_qname_literals(
        target: ProvBundle, kind: str, identifier: str | None, instance: Mapping[str, Any]
    ) -> None:
        """Add a record with ``xsd:QName`` typed literals: PROV-JSON's decoder would turn each into a qualified
        name, so the record is built here, with prov's own decoding for every other value."""
        from prov.constants import PROV_RECORD_IDS_MAP, XSD_QNAME
        from prov.model import Literal
        from prov.serializers.provjson import decode_json_representation

        formal: list[tuple[str, Any]] = []
        extra: list[tuple[str, Any]] = []
        for name, value in instance.items():
            for item in value if isinstance(value, _Multi) else [value]:
                if name.startswith("prov:") and name[5:] in _FORMAL_NAMES:
                    formal.append((name, item))
                elif _is_qname_literal(item):
                    extra.append((name, Literal(item["$"], XSD_QNAME)))
                else:
                    extra.append((name, decode_json_representation(item, target)))
        try:
            with _quiet():
                target.new_record(PROV_RECORD_IDS_MAP[kind], identifier, formal, extra)
        except Exception as exc:  # prov raises several types for a record it cannot rebuild
            raise ExportError(
                f"cannot rebuild a PROV record from the graph: {type(exc).__name__}: {exc}"
            ) from exc

    @staticmethod
    def _decode(container: dict[str, Any], target: ProvBundle) -> None:
        from prov.serializers.provjson import decode_json_container

        container = {k: v for k, v in container.items() if v or k != "prefix"}
        if not container:
            return
        try:
            with _quiet():
                decode_json_container(container, target)
        except Exception as exc:  # prov's decoder raises several types for a record it cannot rebuild
            raise ExportError(
                f"cannot rebuild a PROV record from the graph: {type(exc).__name__}: {exc}"
            ) from exc


_QNAME_LITERALS = "(xsd:QName literals)"  # pending records built by hand (never a record kind)
_FORMAL_NAMES = frozenset(name for names in wire.FORMALS.values() for name in names)


def _is_qname_literal(value: Any) -> bool:
    """An ``xsd:QName`` typed literal (``"prov:Person" %% xsd:QName``), not a qualified-name value."""
    return isinstance(value, dict) and value.get("type") == QNAME_LITERAL_TYPE and "lang" not in value


class _Multi(list[Any]):
    """The values of a multi-valued attribute (a JSON array in PROV-JSON)."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """prov warns about scruffy-but-valid input (unresolved names, repeated ids); export keeps it as stored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def records_to_document(namespaces: Mapping[str, str], records: Iterable[Mapping[str, Any]]) -> ProvDocument:
    """A ``ProvDocument`` from a document's top-level namespaces and its wire records (the pure half of export)."""
    builder = DocumentBuilder(namespaces)
    records = list(records)
    for record in records:  # bundle declarations first, so bundle records resolve against their namespaces
        if record["k"] == "bundle":
            builder.add(record)
    for record in records:
        if record["k"] != "bundle":
            builder.add(record)
    return builder.finish()


# --- serialisation ---------------------------------------------------------------------------------------------


_PROVN_CHANGES_IRI = "PROV-N cannot write"
"""What ``prov``'s warning says when its PROV-N writer percent-encodes a local part it cannot write (a space, a
character outside PN_LOCAL): the IRI a reader recovers is then another one."""


def serialize(
    document: ProvDocument,
    fmt: str,
    out: str | os.PathLike[str] | IO[Any] | None = None,
    *,
    rdf_direct: bool = False,
) -> str | None:
    """Write ``document`` as ``fmt`` (one of `EXPORT_FORMATS`) to ``out`` (a path or a stream), or return it.

    ``rdf_direct``: in Turtle and TriG, also write PROV-O's direct property beside each qualified influence
    (`provgraph.prov.rdf.write_rdf`); a PROV reader reads those as more records, so it is off by default.

    Raises:
        ExportError: an unknown format, or a document the format cannot express (e.g. ``mentionOf`` in PROV-JSONLD,
            or in PROV-N an identifier whose local part PROV-N cannot write without naming another IRI).
    """
    from provgraph.prov.importer import FORMATS
    from provgraph.prov.rdf import write_rdf

    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    prov_format, options = FORMATS[fmt]
    try:
        with warnings.catch_warnings(record=True) as caught:  # prov warns about scruffy input, kept as stored
            warnings.simplefilter("always")
            if (
                fmt == "json"
            ):  # one object per element, typed values that every reader reads (provgraph.prov.provjson)
                document = merge_declarations(document)
            if prov_format == "rdf":
                text = write_rdf(document, options["rdf_format"], direct=rdf_direct)
            else:
                buffer = io.StringIO()
                document.serialize(destination=buffer, format=prov_format, **options)
                text = buffer.getvalue()
                if fmt == "json":
                    text = portable_json(text)
    except Exception as exc:  # the serializers raise their own exception types
        raise ExportError(f"cannot write this document as {fmt}: {type(exc).__name__}: {exc}") from exc
    changed = [str(w.message) for w in caught if _PROVN_CHANGES_IRI in str(w.message)]
    if changed:  # prov's PROV-N writer percent-encodes such a name: a reader would read another IRI
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        raise ExportError(
            f"cannot write this document as {fmt} exactly: {changed[0]}{more}; use json or xml, which keep it"
        )
    if out is None:
        return text
    if hasattr(out, "write"):
        out.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")
    return None


# --- reading from the graph ------------------------------------------------------------------------------------


_loads: Callable[[str | bytes], Any]
try:  # orjson parses the stored JSON 2-3x faster than json
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads


def _decoded(raw: str | Mapping[str, Any]) -> dict[str, Any]:
    return _loads(raw) if isinstance(raw, str) else dict(raw)


def _pages(
    backend: GraphBackend,
    name: str,
    params: Mapping[str, Any],
    *,
    page: int = PAGE_SIZE,
    **identifiers: str,
) -> Iterator[dict[str, list[Any]]]:
    """Pages of the paged query ``cypher/export/<name>``: each one row of parallel lists ordered by ``cursors``,
    ``page`` items at most; the next page starts after the last cursor (keyset paging, each page a short read)."""
    query = backend.render(f"export/{name}", **identifiers)
    tag = f"export/{name}"
    after = ""
    while True:
        rows = backend.read(query, {**params, "after": after, "page": page}, tag=tag)
        if not rows or not rows[0]["cursors"]:
            return
        yield rows[0]
        if len(rows[0]["cursors"]) < page:
            return
        after = rows[0]["cursors"][-1]


class _Counter:
    """Counts records read and reports every ``PAGE_SIZE`` of them."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.count = 0

    def __call__(self, added: int = 1) -> None:
        before = self.count
        self.count += added
        if self.progress and self.count // PAGE_SIZE != before // PAGE_SIZE:
            self.progress(self.count)


def export_documents(
    backend: GraphBackend,
    docs: Iterable[str],
    *,
    progress: Progress | None = None,
    node_keys: Iterable[str] | None = None,
) -> dict[str, ProvDocument]:
    """Rebuild several stored documents at once, each as its own ``ProvDocument`` (one pass over the graph).

    Reads, in order: the documents' namespaces, their bundle declarations, their element declarations (paged by
    node key) and their relation records (paged by statement key, one relationship type at a time).

    ``node_keys``: when the caller knows every element node the documents wrote or referenced (`provgraph
    roundtrip` does: it loaded them), declarations and relation records are read through the key index from those
    nodes instead of paging through the whole graph; the records are decoded the same way.
    """
    docs = list(dict.fromkeys(docs))
    if not docs:
        return {}
    namespaces: dict[str, dict[str, str]] = {doc: {} for doc in docs}
    for row in backend.read(backend.render("export/namespaces"), {"docs": docs}, tag="export/namespaces"):
        if not row["bundle"]:
            namespaces[row["doc"]][row["prefix"]] = row["uri"]
    builders = {doc: DocumentBuilder(namespaces[doc]) for doc in docs}
    counter = _Counter(progress)
    if node_keys is not None:
        _read_known_nodes(backend, builders, sorted(set(node_keys)), counter)
    else:
        _read_by_scan(backend, builders, counter)
    return {doc: builder.finish() for doc, builder in builders.items()}


def _add_declarations(
    builders: Mapping[str, DocumentBuilder], decls: Iterable[Any], *, bundles: bool, counter: _Counter
) -> None:
    """Add the declarations (``_decl`` entries) of the builders' documents: bundle ones or the others."""
    for raw in decls or ():
        entry = _decoded(raw)
        if entry["doc"] in builders and (entry["r"]["k"] == "bundle") == bundles:
            builders[entry["doc"]].add(entry["r"])
            if not bundles:
                counter()


def _read_by_scan(backend: GraphBackend, builders: Mapping[str, DocumentBuilder], counter: _Counter) -> None:
    from provgraph.graph.model import RELATIONSHIP_TYPES

    params = {"docs": list(builders)}
    for page in _pages(backend, "bundle_declarations", params):
        for decls in page["decls"]:
            _add_declarations(builders, decls, bundles=True, counter=counter)
    for page in _pages(backend, "element_declarations", params):
        for decls in page["decls"]:
            _add_declarations(builders, decls, bundles=False, counter=counter)
    for rel_type in sorted(RELATIONSHIP_TYPES):
        for page in _pages(backend, "relation_records", params, type=rel_type):
            for doc, raw in zip(page["docs"], page["recs"], strict=True):
                builders[doc].add(_decoded(raw))
            counter(len(page["recs"]))


def _read_known_nodes(
    backend: GraphBackend, builders: Mapping[str, DocumentBuilder], keys: list[str], counter: _Counter
) -> None:
    query = backend.render("export/known_nodes")
    rows: list[dict[str, Any]] = []
    for start in range(0, len(keys), PAGE_SIZE):
        page = keys[start : start + PAGE_SIZE]
        rows.extend(backend.read(query, {"keys": page, "docs": list(builders)}, tag="export/known_nodes"))
    for row in rows:  # bundles first: their records resolve against the bundle's namespaces
        _add_declarations(builders, row["decls"], bundles=True, counter=counter)
    for row in rows:
        _add_declarations(builders, row["decls"], bundles=False, counter=counter)
        for rel in row["rels"]:
            builders[rel["doc"]].add(_decoded(rel["rec"]))
            counter()


def _stored_documents(backend: GraphBackend, ids: list[str] | None) -> list[str]:
    rows = backend.read(backend.render("export/documents"), {"ids": ids}, tag="export/documents")
    return [row["doc"] for row in rows]


def _lineage_document(backend: GraphBackend, entity: str, progress: Progress | None) -> ProvDocument:
    """The statements on ``entity``'s upstream lineage: the declarations of every element reached by following
    relations forward from it (to what it was generated by, derived from, used...) and those relations, each
    rebuilt in the namespaces of the document that stated it, merged into one document."""
    rows = backend.read(
        backend.render("export/lineage_start"), {"entity": entity}, tag="export/lineage_start"
    )
    if not rows:
        raise ExportError(
            f"no element {entity!r} in the graph (give its identifier, e.g. pgid:..., or its URI)"
        )
    frontier = [row["key"] for row in rows]
    visited = set(frontier)
    by_doc: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # doc -> statement key -> record
    counter = _Counter(progress)
    query = backend.render("export/lineage_step")
    while frontier:
        next_frontier: list[str] = []
        for start in range(0, len(frontier), PAGE_SIZE):
            keys = frontier[start : start + PAGE_SIZE]
            for row in backend.read(query, {"keys": keys}, tag="export/lineage_step"):
                for raw in row["decls"] or ():
                    entry = _decoded(raw)
                    by_doc[entry["doc"]].setdefault(entry["sk"], entry["r"])
                    counter()
                for rel in row["recs"]:
                    by_doc[rel["doc"]].setdefault(rel["sk"], _decoded(rel["rec"]))
                    counter()
                    if rel["to"] not in visited:
                        visited.add(rel["to"])
                        next_frontier.append(rel["to"])
        frontier = next_frontier
    namespaces: dict[str, dict[str, str]] = defaultdict(dict)
    for row in backend.read(
        backend.render("export/namespaces"), {"docs": sorted(by_doc)}, tag="export/namespaces"
    ):
        if not row["bundle"]:
            namespaces[row["doc"]][row["prefix"]] = row["uri"]
    merged = None
    for doc in sorted(by_doc):
        merged = _merge(merged, records_to_document(namespaces[doc], by_doc[doc].values()))
    return merged if merged is not None else DocumentBuilder().finish()


def _merge(merged: ProvDocument | None, part: ProvDocument) -> ProvDocument:
    if merged is None:
        return part
    with _quiet():
        merged.update(part)
    return merged


def export_document(
    backend: GraphBackend,
    *,
    doc: str | None = None,
    run: str | None = None,
    campaign: str | None = None,
    lineage_of: str | None = None,
    everything: bool = False,
    progress: Progress | None = None,
) -> ProvDocument:
    """Rebuild the PROV document of one scope from the graph.

    Exactly one scope: ``doc`` (a stored document: an imported file or a workflow run's document), ``run`` (a
    workflow run id: its document), ``campaign`` (the documents of its runs and its own), ``lineage_of`` (the
    statements on an element's upstream lineage) or ``everything``. ``progress`` is called with the number of
    records read so far.

    Raises:
        ExportError: no scope or several, or nothing stored under it.
    """
    chosen = [
        name
        for name, value in (
            ("doc", doc),
            ("run", run),
            ("campaign", campaign),
            ("lineage_of", lineage_of),
            ("everything", everything),
        )
        if value
    ]
    if len(chosen) != 1:
        raise ExportError("export needs exactly one scope: doc, run, campaign, lineage_of or everything")
    try:  # a mistyped id: named, with close matches
        require_ids(
            backend, {"run": run, "campaign": campaign, "lineage_of": lineage_of, "doc": doc}, "export"
        )
    except (UnknownId, AmbiguousId) as exc:
        raise ExportError(str(exc)) from exc
    if lineage_of:
        return _lineage_document(backend, lineage_of, progress)
    if doc:
        if not _stored_documents(backend, [doc]):
            raise ExportError(f"no document {doc!r} in the graph; `provgraph import` prints the id it stores")
        return export_documents(backend, [doc], progress=progress)[doc]
    if run:
        # capture names a run's document after the run; otherwise, the documents that declared the run
        docs = _stored_documents(backend, [run]) or [
            row["doc"]
            for row in backend.read(
                backend.render("export/run_documents"), {"run": run}, tag="export/run_documents"
            )
        ]
        if not docs:
            raise ExportError(f"no workflow run {run!r} in the graph; `provgraph query runs` lists them")
        parts = export_documents(backend, docs, progress=progress)
        merged = None
        for part in parts.values():
            merged = _merge(merged, part)
        assert merged is not None
        return merged
    if campaign:
        rows = backend.read(
            backend.render("export/campaign_documents"),
            {"campaign": campaign},
            tag="export/campaign_documents",
        )
        docs = [row["doc"] for row in rows]
        if not docs:
            raise ExportError(f"no campaign {campaign!r} in the graph")
    else:
        docs = _stored_documents(backend, None)
    merged = None
    for part in export_documents(backend, docs, progress=progress).values():
        merged = _merge(merged, part)
    return merged if merged is not None else DocumentBuilder().finish()


def export(
    backend: GraphBackend,
    *,
    fmt: str = "json",
    out: str | os.PathLike[str] | IO[Any] | None = None,
    doc: str | None = None,
    run: str | None = None,
    campaign: str | None = None,
    lineage_of: str | None = None,
    everything: bool = False,
    progress: Progress | None = None,
    rdf_direct: bool = False,
) -> str | None:
    """Export one scope (see `export_document`) as ``fmt`` to ``out`` (a path or stream), or return the text
    (``rdf_direct``: see `serialize`)."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    document = export_document(
        backend,
        doc=doc,
        run=run,
        campaign=campaign,
        lineage_of=lineage_of,
        everything=everything,
        progress=progress,
    )
    return serialize(document, fmt, out, rdf_direct=rdf_direct)
