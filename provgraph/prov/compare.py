"""Comparing PROV documents, and what "identical after a round trip" means for each format.

``ProvDocument.__eq__`` compares sets of records but is asymmetric: extra bundles on the right are ignored, and a
record without an identifier can match one that has one. `same_document` therefore checks ``a == b and b == a``
and equal sets of bundle identifiers.

A round trip through the store is *identical* in a format when the exported text, read back the way provgraph
reads that format (`provgraph.prov.importer.read_document`: ``prov``'s readers; for RDF, after dropping the PROV-O
shortcut triples export adds, see `provgraph.prov.rdf`), is the same document (`same_document`) as the original. That
holds for every format: PROV-JSON, PROV-N (``prov`` 3 parses PROV-N), PROV-XML, Turtle, TriG and PROV-JSONLD. Some
documents cannot survive a format at all, with or without a store (PROV-O has no place for some PROV-DM
statements; PROV-JSONLD has no ``mentionOf``): `prov_roundtrips` tells, by running ``prov`` alone, and only
documents it accepts are required to come back identical in that format.

Example::

    from provgraph.prov.compare import roundtrip_identical

    ok, diffs = roundtrip_identical(original, exported_text, "turtle")
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prov.model import ProvBundle, ProvDocument, ProvRecord

    from provgraph.graph.backend import GraphBackend

__all__ = [
    "FormatResult",
    "differences",
    "parse_text",
    "prov_roundtrips",
    "roundtrip",
    "roundtrip_identical",
    "same_document",
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


def _record_text(record: ProvRecord) -> str:
    """A PROV-N-like line for a record, attributes sorted (PROV-N keeps insertion order, which is no difference)."""
    from prov.constants import PROV_N_MAP

    formal = ", ".join("-" if value is None else str(value) for _, value in record.formal_attributes)
    extra = sorted(f"{name}={value!r}" for name, value in record.extra_attributes)
    identifier = f"{record.identifier}; " if record.identifier else ""
    return f"{PROV_N_MAP[record.get_type()]}({identifier}{formal}{', [' + ', '.join(extra) + ']' if extra else ''})"


def _record_texts(bundle: ProvBundle) -> set[str]:
    return {_record_text(record) for record in bundle.get_records()}


def differences(a: ProvDocument, b: ProvDocument, *, limit: int = 20) -> list[str]:
    """Human-readable differences (PROV-N of records only on one side, bundles only on one side)."""
    lines: list[str] = []

    def compare(where: str, left: set[str], right: set[str]) -> None:
        lines.extend(f"{where}- {text}" for text in sorted(left - right))
        lines.extend(f"{where}+ {text}" for text in sorted(right - left))

    compare("", _record_texts(a), _record_texts(b))
    a_bundles = {_bundle_uri(x): x for x in a.bundles}
    b_bundles = {_bundle_uri(x): x for x in b.bundles}
    for name in sorted(set(a_bundles) | set(b_bundles)):
        if name not in b_bundles:
            lines.append(f"- bundle {name}")
        elif name not in a_bundles:
            lines.append(f"+ bundle {name}")
        else:
            compare(f"[{name}] ", _record_texts(a_bundles[name]), _record_texts(b_bundles[name]))
    if not lines and not same_document(a, b):
        lines.append("the records print alike but differ in how they compare (value types, repeated records)")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def parse_text(text: str, fmt: str) -> ProvDocument:
    """Parse exported text as provgraph reads it (`provgraph.prov.importer.read_document`; format names as there)."""
    from provgraph.prov.importer import read_document

    return read_document(text.encode("utf-8"), fmt)


def prov_roundtrips(document: ProvDocument, fmt: str) -> bool:
    """Whether ``prov`` alone, without the store and without provgraph's readers and writers, writes ``document``
    as ``fmt`` and reads the same document back."""
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
        return same_document(document, back)
    except Exception:  # any failure to write or read back means prov cannot round-trip it
        logger.debug("prov cannot round-trip this document through %s", fmt, exc_info=True)
        return False


def roundtrip_identical(original: ProvDocument, exported_text: str, fmt: str) -> tuple[bool, list[str]]:
    """Whether exported text, parsed back as ``fmt``, is the original document; with differences if not."""
    try:
        back = parse_text(exported_text, fmt)
    except Exception as exc:  # the exported text does not parse: a difference, reported as such
        return False, [f"exported {fmt} does not parse: {type(exc).__name__}: {exc}"]
    if same_document(original, back):
        return True, []
    return False, differences(original, back)


@dataclass
class FormatResult:
    """The round trip of a set of documents through the store in one format."""

    fmt: str
    identical: list[str] = field(default_factory=list)
    different: dict[str, list[str]] = field(default_factory=dict)
    inexpressible: list[str] = field(default_factory=list)
    """Documents ``prov`` itself cannot round-trip through this format: not counted."""

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
) -> list[FormatResult]:
    """Import each document into the graph (under ``doc_prefix`` + its index), export them all, compare.

    All documents go to the loader in one call and come back in one pass over the graph; each export is then
    written in every format, parsed back by ``prov`` and compared with the original (`roundtrip_identical`).
    """
    from provgraph.loader import load_messages
    from provgraph.prov.export import export_documents, serialize
    from provgraph.prov.importer import document_to_messages

    ids = [f"{doc_prefix}{index}" for index in range(len(documents))]
    messages = []
    for doc, (_, document) in zip(ids, documents, strict=True):
        messages.extend(document_to_messages(document, doc))
    if progress:
        progress(f"importing {len(documents)} documents ({sum(len(m.records) for m in messages)} records)")
    load_messages(backend, messages)
    if progress:
        progress("exporting them")
    exported = export_documents(backend, ids)
    results = []
    for fmt in formats:
        result = FormatResult(fmt)
        for doc, (name, original) in zip(ids, documents, strict=True):
            if not prov_roundtrips(original, fmt):
                result.inexpressible.append(name)
                continue
            try:
                text = serialize(exported[doc], fmt)
                assert text is not None
                same, diffs = roundtrip_identical(original, text, fmt)
            except Exception as exc:  # an export that fails is a difference, reported with its reason
                same, diffs = False, [f"export failed: {type(exc).__name__}: {exc}"]
            if same:
                result.identical.append(name)
            else:
                result.different[name] = diffs
        results.append(result)
    return results
