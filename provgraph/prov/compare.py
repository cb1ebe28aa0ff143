"""Comparing PROV documents: strictly (what provgraph promises) and by ``prov``'s ``==`` (what ``prov`` promises).

The **strict** comparison (`strictly_equal`, `strict_differences`) sees a document as its namespace declarations
and the *multiset* of its records, per bundle, each record with its kind, identifier, formal arguments and
attributes in their exact form: qualified names with the prefix they were written with, literals with their
lexical form, datatype and language tag (case kept), date-times with their time-zone offset. It sees a repeated
record, a renamed prefix, ``"10"`` vs ``"10.0"`` for ``xsd:decimal``, ``+01:00`` vs ``Z`` and a dropped namespace
declaration, none of which ``prov``'s ``==`` sees. Only what ``prov``'s model itself does not hold (the order of
records and attributes, the spelling of a time that ``prov`` parsed into a date-time) is outside it.

``ProvDocument.__eq__`` compares sets of records and is asymmetric: extra bundles on the right are ignored, and a
record without an identifier can match one that has one. `same_document` is the symmetric form of it, reported
beside the strict comparison.

A round trip through the store is *identical* in a format when the exported text, read back by ``prov``'s reader
for that format (`provgraph.prov.importer.read_document`, which is ``prov``'s reader as it is), is strictly the
original document. Some documents ``prov`` itself changes through a format, with or without a store (PROV-XML
re-prefixes some names; PROV-O has no place for some PROV-DM statements; PROV-JSONLD has no ``mentionOf``):
`prov_ceiling` tells, by running ``prov`` alone, whether a document survives a format strictly, only by ``==``, or
not at all, and each document is held to what ``prov`` alone achieves for it.

Example::

    from provgraph.prov.compare import roundtrip_identical

    ok, diffs = roundtrip_identical(original, exported_text, "turtle")
"""

from __future__ import annotations

import datetime
import io
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prov.model import ProvBundle, ProvDocument, ProvRecord

    from capture import wire
    from provgraph.graph.backend import GraphBackend

__all__ = [
    "FormatResult",
    "parse_text",
    "prov_ceiling",
    "prov_roundtrips",
    "roundtrip",
    "roundtrip_identical",
    "same_document",
    "strict_differences",
    "strict_form",
    "strictly_equal",
]

logger = logging.getLogger(__name__)


def _bundle_uri(bundle: ProvBundle) -> str:
    """A named bundle's URI (a document's bundles always have an identifier)."""
    assert bundle.identifier is not None
    return str(bundle.identifier.uri)


def _bundle_ids(document: ProvDocument) -> set[str]:
    # by URI: the same bundle may be written with another prefix (e.g. PROV-XML re-prefixes names)
    return {_bundle_uri(bundle) for bundle in document.bundles}


def same_document(a: ProvDocument, b: ProvDocument) -> bool:
    """Symmetric equality: ``a == b and b == a`` and the same bundle identifiers."""
    return a == b and b == a and _bundle_ids(a) == _bundle_ids(b)


# --- the strict comparison -------------------------------------------------------------------------------------

Form = tuple[Any, ...]
"""A hashable, exact form of one record or value (`strict_form`)."""


def _name_form(name: Any) -> str:
    """A qualified name as written (its prefix included) and the URI it stands for."""
    from prov.identifier import QualifiedName

    if isinstance(name, QualifiedName):
        return f"{name} <{name.uri}>"
    return f"<{name.uri}>" if hasattr(name, "uri") else str(name)


def _value_form(value: Any) -> Form:
    """A value exactly as ``prov`` holds it: a literal's lexical form, datatype (as written) and language tag
    (case kept); a date-time with its offset (``isoformat``); a number or a string with its Python type."""
    from prov.identifier import Identifier, QualifiedName
    from prov.model import Literal

    if isinstance(value, QualifiedName):
        return ("qname", _name_form(value))
    if isinstance(value, Literal):
        datatype = _name_form(value.datatype) if value.datatype is not None else None
        return ("literal", value.value, datatype, value.langtag)
    if isinstance(value, Identifier):
        return ("uri", value.uri)
    if isinstance(value, datetime.datetime):
        return ("dateTime", value.isoformat())
    if value is None:
        return ("absent",)
    return (type(value).__name__, repr(value))


def _record_form(record: ProvRecord) -> Form:
    from prov.constants import PROV_N_MAP

    identifier = _name_form(record.identifier) if record.identifier is not None else None
    formal = tuple((str(name), _value_form(value)) for name, value in record.formal_attributes)
    extra = tuple(sorted((_name_form(name), _value_form(value)) for name, value in record.extra_attributes))
    return (PROV_N_MAP[record.get_type()], identifier, formal, extra)


def _namespace_form(bundle: ProvBundle) -> tuple[tuple[str, str], ...]:
    declared = {(ns.prefix, ns.uri) for ns in bundle.namespaces}
    default = bundle.get_default_namespace()
    if default is not None:
        declared.add(("(default)", default.uri))
    return tuple(sorted(declared))


@dataclass(frozen=True)
class _BundleForm:
    namespaces: tuple[tuple[str, str], ...]
    records: Counter[Form]


def strict_form(document: ProvDocument) -> dict[str | None, _BundleForm]:
    """The exact content of a document, per bundle (``None``: the document itself): its namespace declarations
    (prefix and URI) and the multiset of its records, each with its kind, identifier, formal arguments and
    attributes in their exact form (`_value_form`: lexical forms, datatypes and prefixes as written, time-zone
    offsets, language-tag case). The order of records and of attributes is no part of it; how often a record
    occurs is."""
    forms: dict[str | None, _BundleForm] = {
        None: _BundleForm(_namespace_form(document), Counter(map(_record_form, document.get_records())))
    }
    for bundle in document.bundles:
        forms[_name_form(bundle.identifier)] = _BundleForm(
            _namespace_form(bundle), Counter(map(_record_form, bundle.get_records()))
        )
    return forms


def _forms(
    a: ProvDocument, b: ProvDocument, reader_prefixes: frozenset[tuple[str, str]]
) -> tuple[dict[str | None, _BundleForm], dict[str | None, _BundleForm]]:
    """Both strict forms, without the bindings ``b``'s reader added on its own (declared in ``b`` only)."""
    left, right = strict_form(a), strict_form(b)
    if reader_prefixes:
        for name, form in right.items():
            own = set(left[name].namespaces) if name in left else set()
            kept = tuple(ns for ns in form.namespaces if ns in own or ns not in reader_prefixes)
            right[name] = _BundleForm(kept, form.records)
    return left, right


def strictly_equal(
    a: ProvDocument, b: ProvDocument, *, reader_prefixes: frozenset[tuple[str, str]] = frozenset()
) -> bool:
    """Whether two documents are the same document strictly (`strict_form`); stricter than ``prov``'s ``==``,
    which sees neither a changed offset, a renamed prefix, ``"10"`` vs ``"10.0"`` for ``xsd:decimal``, the case
    of a language tag, namespace declarations, nor a repeated record.

    ``reader_prefixes``: (prefix, URI) bindings the reader of ``b`` declares on its own (rdflib's, for RDF);
    they do not count as declarations of ``b`` unless ``a`` has them too."""
    left, right = _forms(a, b, reader_prefixes)
    return left == right


def _form_text(form: Form) -> str:
    kind, identifier, formal, extra = form
    args = ", ".join("-" if value == ("absent",) else _value_text(value) for _, value in formal)
    attrs = ", ".join(f"{name}={_value_text(value)}" for name, value in extra)
    return f"{kind}({identifier + '; ' if identifier else ''}{args}{', [' + attrs + ']' if attrs else ''})"


def _value_text(value: Form) -> str:
    if value[0] == "literal":
        _, lexical, datatype, lang = value
        suffix = f"@{lang}" if lang else (f" %% {datatype}" if datatype else "")
        return f'"{lexical}"{suffix}'
    if value[0] == "qname":
        return f"'{value[1]}'"
    if value[0] in ("uri", "dateTime"):
        return f"{value[1]} ({value[0]})"
    return f"{value[1]} ({value[0]})"


def strict_differences(
    a: ProvDocument,
    b: ProvDocument,
    *,
    limit: int = 20,
    reader_prefixes: frozenset[tuple[str, str]] = frozenset(),
) -> list[str]:
    """What `strictly_equal` sees differ: namespace declarations and records (with how many times each occurs
    on each side when both have it) only on one side, per bundle; ``-`` lines are ``a``'s, ``+`` lines ``b``'s."""
    left, right = _forms(a, b, reader_prefixes)
    lines: list[str] = []
    for bundle in sorted(set(left) | set(right), key=lambda name: name or ""):
        where = f"[bundle {bundle}] " if bundle else ""
        if bundle not in right:
            lines.append(f"- bundle {bundle}")
            continue
        if bundle not in left:
            lines.append(f"+ bundle {bundle}")
            continue
        one, other = left[bundle], right[bundle]
        lines.extend(
            f"{where}- prefix {p}: {u}" for p, u in sorted(set(one.namespaces) - set(other.namespaces))
        )
        lines.extend(
            f"{where}+ prefix {p}: {u}" for p, u in sorted(set(other.namespaces) - set(one.namespaces))
        )
        for form in sorted(set(one.records) | set(other.records), key=repr):
            count_a, count_b = one.records.get(form, 0), other.records.get(form, 0)
            if count_a == count_b:
                continue
            times = f" (x{count_a} -> x{count_b})" if count_a and count_b else ""
            sign = "-" if count_a > count_b else "+"
            lines.append(f"{where}{sign} {_form_text(form)}{times}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def parse_text(text: str, fmt: str) -> ProvDocument:
    """Parse exported text with ``prov``'s reader for ``fmt`` (`provgraph.prov.importer.read_document`; format
    names as there)."""
    from provgraph.prov.importer import read_document

    return read_document(text.encode("utf-8"), fmt)


def _reader_prefixes(fmt: str) -> frozenset[tuple[str, str]]:
    from provgraph.prov.importer import FORMATS

    if FORMATS[fmt][0] == "rdf":
        from provgraph.prov.rdf import reader_prefixes

        return reader_prefixes()
    return frozenset()


STRICT = "strict"
EQUAL = "equal"


def prov_ceiling(document: ProvDocument, fmt: str) -> str | None:
    """What ``prov`` alone, without the store and without provgraph, keeps of ``document`` through ``fmt``:
    `STRICT` (it writes and reads back strictly the same document), `EQUAL` (the same by ``prov``'s ``==`` only:
    ``prov`` itself changes something the strict comparison sees) or ``None`` (not even that)."""
    from prov.model import ProvDocument

    from provgraph.prov.importer import FORMATS

    prov_format, options = FORMATS[fmt]
    logging.getLogger("rdflib.term").setLevel(
        logging.CRITICAL
    )  # tracebacks for literals rdflib cannot convert
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text = document.serialize(format=prov_format, **options)
            back = ProvDocument.deserialize(source=io.StringIO(text), format=prov_format, **options)
    except Exception:  # any failure to write or read back means prov cannot round-trip it
        logger.debug("prov cannot round-trip this document through %s", fmt, exc_info=True)
        return None
    if strictly_equal(document, back, reader_prefixes=_reader_prefixes(fmt)):
        return STRICT
    return EQUAL if same_document(document, back) else None


def prov_roundtrips(document: ProvDocument, fmt: str) -> bool:
    """Whether ``prov`` alone writes ``document`` as ``fmt`` and reads back the same document by its ``==``."""
    return prov_ceiling(document, fmt) is not None


def roundtrip_identical(
    original: ProvDocument, exported_text: str, fmt: str, *, strict: bool = True
) -> tuple[bool, list[str]]:
    """Whether exported text, read back by ``prov`` as ``fmt``, is the original document (strictly, or by
    `same_document` with ``strict=False``); with the differences if not."""
    try:
        back = parse_text(exported_text, fmt)
    except Exception as exc:  # the exported text does not parse: a difference, reported as such
        return False, [f"exported {fmt} does not parse: {type(exc).__name__}: {exc}"]
    prefixes = _reader_prefixes(fmt)
    if strict:
        if strictly_equal(original, back, reader_prefixes=prefixes):
            return True, []
        return False, strict_differences(original, back, reader_prefixes=prefixes)
    if same_document(original, back):
        return True, []
    return False, strict_differences(original, back, reader_prefixes=prefixes)


@dataclass
class FormatResult:
    """The round trip of a set of documents through the store in one format."""

    fmt: str
    identical: list[str] = field(default_factory=list)
    """Documents that came back identical: strictly, or by ``==`` for those in ``loose``."""
    different: dict[str, list[str]] = field(default_factory=dict)
    loose: list[str] = field(default_factory=list)
    """Documents ``prov`` alone changes strictly through this format (but not by ``==``): compared by ``==``."""
    inexpressible: list[str] = field(default_factory=list)
    """Documents ``prov`` itself cannot round-trip through this format: not counted."""
    prov_equal: int = 0
    """Counted documents that came back equal by ``prov``'s ``==`` (`same_document`), reported beside."""
    merged: list[str] = field(default_factory=list)
    """PROV-JSON: documents declaring an element more than once, which the export gives as one declaration
    (`provgraph.prov.provjson.merge_declarations`): compared with the original's declarations merged the same way."""

    @property
    def counted(self) -> int:
        return len(self.identical) + len(self.different)

    def summary(self) -> str:
        return f"{len(self.identical)}/{self.counted} identical"


def roundtrip(
    backend: GraphBackend,
    documents: Sequence[tuple[str, ProvDocument]],
    formats: Sequence[str],
    *,
    doc_prefix: str,
    progress: Callable[[str], None] | None = None,
    keep: bool = False,
) -> list[FormatResult]:
    """Import each document into the graph (under ``doc_prefix`` + its index), export them all, compare.

    All documents go to the loader in one call and come back in one pass over the graph; each export is then
    written in every format, read back by ``prov`` and compared with the original, strictly where ``prov`` alone
    keeps the document strictly through the format (`prov_ceiling`), else by ``==``. Unless ``keep``, the
    documents are deleted from the graph afterwards (also when something fails on the way).
    """
    from provgraph.errors import ProvgraphError
    from provgraph.loader import load_messages, written_keys
    from provgraph.prov.export import export_documents, serialize
    from provgraph.prov.importer import document_to_messages
    from provgraph.prov.provjson import merge_declarations
    from provgraph.purge import purge_loaded

    ids = [f"{doc_prefix}{index}" for index in range(len(documents))]
    names = {doc: name for doc, (name, _) in zip(ids, documents, strict=True)}
    refused: dict[str, str] = {}  # document name -> why the store did not take it
    by_doc: dict[str, list[wire.Message]] = {}
    for doc, (name, document) in zip(ids, documents, strict=True):
        try:
            by_doc[doc] = document_to_messages(document, doc)
        except ProvgraphError as exc:  # this document only: named as different, the others go round
            refused[name] = f"not imported: {exc}"
    messages = [message for batch in by_doc.values() for message in batch]
    if progress:
        progress(f"importing {len(documents)} documents ({sum(len(m.records) for m in messages)} records)")
    try:
        try:
            load_messages(backend, messages)
        except ProvgraphError:  # one document the loader refuses: load them one by one to name it
            for doc, batch in by_doc.items():
                try:
                    load_messages(backend, batch)
                except ProvgraphError as exc:
                    refused[names[doc]] = f"not stored: {exc}"
        if progress:
            progress("exporting them")
        exported = export_documents(
            backend, ids, node_keys=written_keys(_stored(by_doc, names, refused)).nodes
        )
    finally:
        if not keep:
            if progress:
                progress(f"removing the {len(documents)} documents from the graph")
            purge_loaded(backend, _stored(by_doc, names, refused))
    results = []
    for fmt in formats:
        result = FormatResult(fmt)
        for doc, (name, given) in zip(ids, documents, strict=True):
            original = merge_declarations(given) if fmt == "json" else given
            if original is not given:
                result.merged.append(name)
            ceiling = prov_ceiling(original, fmt)
            if ceiling is None:
                result.inexpressible.append(name)
                continue
            if ceiling == EQUAL:
                result.loose.append(name)
            if name in refused:
                result.different[name] = [refused[name]]
                continue
            try:
                text = serialize(exported[doc], fmt)
                assert text is not None
                same, diffs = roundtrip_identical(original, text, fmt, strict=ceiling == STRICT)
                if same or ceiling == STRICT:
                    result.prov_equal += same_document(original, parse_text(text, fmt))
            except Exception as exc:  # an export that fails is a difference, reported with its reason
                same, diffs = False, [f"export failed: {type(exc).__name__}: {exc}"]
            if same:
                result.identical.append(name)
            else:
                result.different[name] = diffs
        results.append(result)
    return results


def _stored(
    by_doc: Mapping[str, list[wire.Message]], names: Mapping[str, str], refused: Mapping[str, str]
) -> list[wire.Message]:
    """The messages of the documents the store took."""
    return [message for doc, batch in by_doc.items() if names[doc] not in refused for message in batch]
