"""PROV-O in and out: ``prov``'s own RDF encoding, and PROV-O's direct properties when they are asked for.

``prov`` writes a relation that has attributes (a role, a time, an identifier) only in PROV-O's qualified form
(``:task prov:qualifiedUsage [ a prov:Usage; prov:entity :input; prov:hadRole "x" ]``), and a bare relation only as
the direct triple (``:task prov:used :input``). Read back by ``prov`` (or any PROV-O reader), each form is one
record, so what export writes by default reads back as exactly the exported records. With ``direct=True`` export
also writes the direct triple beside every qualified influence that names its influencer, for SPARQL queries that
look only for ``?task prov:used ?input``; a PROV reader then sees one more record per qualified influence (the bare
relation the direct triple states), which is why it is not the default.

Reading RDF is ``prov``'s reader as it is: a document that states a direct and a qualified form side by side keeps
both records, and gives both back.

Example::

    text = write_rdf(document, "turtle")
    document = read_rdf(text, "turtle")
"""

from __future__ import annotations

import functools
import io
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prov.model import ProvDocument

__all__ = ["read_rdf", "reader_prefixes", "write_rdf"]

_PROV = "http://www.w3.org/ns/prov#"

# qualified property -> (the direct property it qualifies, the property naming the influencer on the qualified node)
_SHORTCUTS: dict[str, tuple[str, str]] = {
    "qualifiedUsage": ("used", "entity"),
    "qualifiedGeneration": ("wasGeneratedBy", "activity"),
    "qualifiedInvalidation": ("wasInvalidatedBy", "activity"),
    "qualifiedStart": ("wasStartedBy", "entity"),
    "qualifiedEnd": ("wasEndedBy", "entity"),
    "qualifiedCommunication": ("wasInformedBy", "activity"),
    "qualifiedDerivation": ("wasDerivedFrom", "entity"),
    "qualifiedRevision": ("wasRevisionOf", "entity"),
    "qualifiedQuotation": ("wasQuotedFrom", "entity"),
    "qualifiedPrimarySource": ("hadPrimarySource", "entity"),
    "qualifiedAttribution": ("wasAttributedTo", "agent"),
    "qualifiedAssociation": ("wasAssociatedWith", "agent"),
    "qualifiedDelegation": ("actedOnBehalfOf", "agent"),
    "qualifiedInfluence": ("wasInfluencedBy", "influencer"),
}


@functools.cache
def reader_prefixes() -> frozenset[tuple[str, str]]:
    """The (prefix, URI) bindings rdflib gives every graph it parses (``brick:``, ``csvw:``, ``owl:``, ...): a
    document read from RDF by ``prov`` declares them although the text does not."""
    from rdflib import Dataset

    return frozenset((str(prefix), str(uri)) for prefix, uri in Dataset().namespaces())


def _shortcut_quads(dataset: Any) -> list[tuple[Any, Any, Any, Any]]:
    """(subject, direct property, influencer, graph) for every qualified influence in the dataset."""
    from rdflib import URIRef

    quads = []
    for qualified, (direct, influencer) in _SHORTCUTS.items():
        qualified_ref, direct_ref, influencer_ref = (
            URIRef(_PROV + n) for n in (qualified, direct, influencer)
        )
        for subject, _, node, context in dataset.quads((None, qualified_ref, None, None)):
            graph = context if hasattr(context, "objects") else dataset.graph(context)
            for target in graph.objects(node, influencer_ref):
                quads.append((subject, direct_ref, target, graph))
    return quads


def write_rdf(document: ProvDocument, rdf_format: str, *, direct: bool = False) -> str:
    """``document`` as PROV-O in ``rdf_format`` (``turtle``, ``trig``): ``prov``'s encoding, plus the direct
    property beside each qualified influence with ``direct`` (a PROV reader then reads those as more records)."""
    from prov.serializers.provrdf import ProvRDFSerializer

    dataset = ProvRDFSerializer(document).encode_document(document)
    if direct:
        dataset.addN(_shortcut_quads(dataset))
    buffer = io.BytesIO()
    dataset.serialize(buffer, format=rdf_format)
    return buffer.getvalue().decode("utf-8")


def read_rdf(source: str | bytes, rdf_format: str) -> ProvDocument:
    """A ``ProvDocument`` from PROV-O text, read by ``prov``'s RDF reader (every triple counts)."""
    from prov.model import ProvDocument

    # rdflib logs a traceback for each literal it cannot turn into a Python value (e.g. a huge xsd:duration);
    # prov keeps the lexical form, so it is noise.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    data = source.encode("utf-8") if isinstance(source, str) else source
    return ProvDocument.deserialize(source=io.BytesIO(data), format="rdf", rdf_format=rdf_format)
