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
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

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
    """A ``ProvDocument`` from PROV-O text, read by ``prov``'s RDF reader (every triple counts).

    A blank node that is an attribute's value (``ex:author [ ex:name "X" ]``, an RDF list) is one ``prov`` keeps
    as the string of its label, which rdflib draws at random on every parse: such nodes are labelled by their
    content first (`_content_labels`), so the same text always reads as the same document (and gets the same
    document id on import, `provgraph.prov.importer.default_doc_id`).
    """
    from prov.model import ProvDocument
    from prov.serializers.provrdf import ProvRDFSerializer
    from rdflib import Dataset

    # rdflib logs a traceback for each literal it cannot turn into a Python value (e.g. a huge xsd:duration);
    # prov keeps the lexical form, so it is noise.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    data = source.encode("utf-8") if isinstance(source, str) else source
    container = Dataset(default_union=True)  # as prov's own reader parses it
    container.parse(io.BytesIO(data), format=rdf_format)
    _content_labels(container)
    document = ProvDocument()
    try:
        ProvRDFSerializer(document).decode_document(container, document)
    except Exception as exc:
        _explain_blank_element(container, exc)
        raise
    return document


class BlankNodeElement(ValueError):
    """PROV-O that uses a blank node where ``prov`` needs an element's identifier."""


def _explain_blank_element(dataset: Any, error: Exception) -> None:
    """Raise `BlankNodeElement` in place of ``prov``'s bare "Invalid Qualified Name: n3f2...b1" when the name is a
    blank node of ``dataset``: an activity, entity or agent written as ``[] a prov:Activity`` or referred to by a
    relation (``prov:used [ ... ]``), which ``prov`` reads only with an IRI."""
    from rdflib import BNode

    text = str(error)
    # where the blank node occurs: its type, else a PROV property pointing to it, else any; stable by predicate
    places = []
    for subject, predicate, obj in dataset.triples((None, None, None)):
        if isinstance(subject, BNode) and str(subject) in text:
            typed = str(predicate) == _RDF_TYPE
            places.append(
                (
                    0 if typed else 2,
                    str(predicate),
                    f"[] a <{obj}>" if typed else f"the subject of <{predicate}>",
                )
            )
        if isinstance(obj, BNode) and str(obj) in text:
            rank = 1 if str(predicate).startswith(_PROV) else 2
            places.append((rank, str(predicate), f"the object of <{predicate}>"))
    if places:
        where = min(places)[2]
        raise BlankNodeElement(
            f"a blank node is a PROV element here ({where}): prov reads an activity, entity or agent, and "
            "whatever a relation points to, only with an IRI; give it one"
        ) from error


def _value_blank_nodes(dataset: Any) -> set[Any]:
    """The blank nodes ``prov`` reads as attribute values: objects of triples, never the node of a qualified
    influence (``prov:qualifiedUsage [...]``, which ``prov`` reads as a relation) nor an influencer."""
    from rdflib import BNode, URIRef
    from rdflib.namespace import RDF

    attribute_like = {URIRef(_PROV + name) for name in ("value", "atLocation", "hadRole", "type")}
    values: set[Any] = set()
    structural: set[Any] = set()
    for _, predicate, obj, _graph in dataset.quads((None, None, None, None)):
        if not isinstance(obj, BNode):
            continue
        if str(predicate).startswith(_PROV) and predicate not in attribute_like or predicate == RDF.type:
            structural.add(obj)
        else:
            values.add(obj)
    return values - structural


def _content_labels(dataset: Any) -> None:
    """Relabel each attribute-value blank node of ``dataset`` (in place) by a hash of what it says, recursively
    (its triples, blank nodes inside by their own hash), so its label does not depend on the parse."""
    import hashlib

    from rdflib import BNode

    values = _value_blank_nodes(dataset)
    if not values:
        return
    hashes: dict[Any, str] = {}

    def digest(root: Any) -> str:
        # bottom up, without recursion: an RDF list is a chain of as many blank nodes as it has items
        stack: list[tuple[Any, bool]] = [(root, False)]
        on_path: set[Any] = set()
        while stack:
            node, expanded = stack.pop()
            if node in hashes:
                continue
            if not expanded:
                on_path.add(node)
                stack.append((node, True))
                for _, obj in dataset.predicate_objects(node):
                    if isinstance(obj, BNode) and obj not in hashes and obj not in on_path:
                        stack.append((obj, False))
                continue
            parts = sorted(  # a blank node on the current path is a cycle: cut it the same way every time
                f"{predicate.n3()} {hashes.get(obj, 'cycle') if isinstance(obj, BNode) else obj.n3()}"
                for predicate, obj in dataset.predicate_objects(node)
            )
            hashes[node] = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
            on_path.discard(node)
        return hashes[root]

    renamed = {node: BNode("pgv" + digest(node)) for node in values}
    for quad in list(dataset.quads((None, None, None, None))):
        subject, predicate, obj, graph = quad
        if subject in renamed or obj in renamed:
            dataset.remove(quad)
            dataset.add((renamed.get(subject, subject), predicate, renamed.get(obj, obj), graph))
