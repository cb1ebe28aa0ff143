"""PROV-O with its unqualified shortcuts: what export adds to ``prov``'s RDF, and what reading RDF takes away.

``prov`` writes a relation that has attributes (a role, a time, an identifier) only in PROV-O's qualified form
(``:task prov:qualifiedUsage [ a prov:Usage; prov:entity :input; prov:hadRole "x" ]``), without the direct
``:task prov:used :input``. RDF tools and SPARQL queries mostly look for the direct property, so export adds it for
every qualified influence that names its influencer. Read back by ``prov``, such a triple would become a second,
attribute-less record; reading RDF therefore drops a direct triple that only repeats a qualified influence of the
same subject and object in the same graph (RDF from other tools that write both forms imports cleanly too).

Example::

    text = write_rdf(document, "turtle")
    document = read_rdf(text, "turtle")
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prov.model import ProvDocument

__all__ = ["read_rdf", "write_rdf"]

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


def write_rdf(document: ProvDocument, rdf_format: str) -> str:
    """``document`` as PROV-O in ``rdf_format`` (``turtle``, ``trig``), with the direct shortcut properties."""
    from prov.serializers.provrdf import ProvRDFSerializer

    dataset = ProvRDFSerializer(document).encode_document(document)
    dataset.addN(_shortcut_quads(dataset))
    buffer = io.BytesIO()
    dataset.serialize(buffer, format=rdf_format)
    return buffer.getvalue().decode("utf-8")


def read_rdf(source: str | bytes, rdf_format: str) -> ProvDocument:
    """A ``ProvDocument`` from PROV-O text, without the direct triples that only repeat a qualified influence."""
    from prov.model import ProvDocument
    from prov.serializers.provrdf import ProvRDFSerializer
    from rdflib import Dataset

    # rdflib logs a traceback for each literal it cannot turn into a Python value (e.g. a huge xsd:duration);
    # prov keeps the lexical form, so it is noise.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    dataset = Dataset(default_union=True)
    dataset.parse(data=source, format=rdf_format)
    for subject, direct, target, graph in _shortcut_quads(dataset):
        graph.remove((subject, direct, target))
    document = ProvDocument()
    ProvRDFSerializer(document).decode_document(dataset, document)
    return document
