"""The third-party fixture: ``data/provenance_challenge.provn``, imported under a namespace of its own per test.

The document is written as another PROV tool would write it (no ``pg:`` vocabulary): two runs of the First
Provenance Challenge's brain-atlas pipeline over shared input images, steps linked to their run only by
``wasInformedBy``, annotations as typed ``fpc:`` attributes. `load` rewrites its ``ex`` namespace URI to embed a
token, so tests sharing a database never see each other's nodes; elements are named by their full URI (`key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).parent / "data" / "provenance_challenge.provn"
NAMESPACE = "http://example.org/fpc/"


@dataclass(frozen=True)
class Challenge:
    """One imported copy of the fixture: its document id and the URI of each of its elements."""

    token: str
    doc: str
    namespace: str
    prefix: str = "ex"
    """The graph's property prefix of this copy's namespace (docs/graph-model.md, "One prefix per namespace"):
    ``ex`` in a graph that saw the namespace first here, the next free ``ex_N`` in a shared test database."""

    def key(self, local: str) -> str:
        """The full URI (``key``) of ``ex:<local>`` in this copy."""
        return self.namespace + local

    def id(self, local: str) -> str:
        """The ``id`` of ``ex:<local>`` in the graph (with the graph's prefix)."""
        return f"{self.prefix}:{local}"


def load(backend: Any, token: str, directory: Path) -> Challenge:
    """Import a copy of the fixture whose ``ex`` namespace embeds ``token``, through the real import path."""
    from provgraph.graph.prefixes import PropertyPrefixes
    from provgraph.prov.importer import import_document

    namespace = f"{NAMESPACE}{token}/"
    path = directory / f"challenge-{token}.provn"
    path.write_text(DOCUMENT.read_text().replace(f"<{NAMESPACE}>", f"<{namespace}>"))
    backend.ensure_schema()
    result = import_document(backend, path)
    prefix = PropertyPrefixes(backend).load()[namespace]
    return Challenge(token=token, doc=result.doc, namespace=namespace, prefix=prefix)


def delete(backend: Any, challenge: Challenge) -> None:
    """Remove the copy: its element nodes (keys in its namespace), its document and the document's namespaces."""
    backend.write(
        [
            (
                "MATCH (n:Element) WHERE n.key STARTS WITH $namespace DETACH DELETE n",
                {"namespace": challenge.namespace},
            ),
            ("MATCH (n:Namespace) WHERE n.doc = $doc DETACH DELETE n", {"doc": challenge.doc}),
            ("MATCH (n:Document) WHERE n.id = $doc DETACH DELETE n", {"doc": challenge.doc}),
        ]
    )
