"""One property prefix per namespace URI in the whole graph, whatever prefixes documents used.

Convenience properties (`docs/graph-model.md`) are named ``prefix:local`` and ``id`` and ``types`` hold qualified
names. With each document's own prefixes, the same namespace loaded under ``ex:`` by one document and ``foo:`` by
another would give two property names for one attribute, and a filter on one would silently miss the other. So
the graph keeps a registry, ``(:PropertyPrefix {uri, prefix})``: the first prefix the graph sees for a namespace
URI becomes its prefix (``ex_2``, ``ex_3``, ... when another URI already holds it), fixed from then on; provgraph's
and PROV's own namespaces (and ``xsd``, ``rdf``, ``rdfs``) have theirs from the start. What documents wrote stays
in the records, so export gives back each document's own prefixes.

Example::

    registry = property_prefixes(backend)
    mapping = registry.claim({"http://example.org/": "ex"})   # URI -> its prefix in this graph
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from capture import wire
from provgraph.errors import ProvgraphError

if TYPE_CHECKING:
    from provgraph.graph.backend import GraphBackend

__all__ = ["FIXED", "PropertyPrefixes", "property_prefixes"]

FIXED: dict[str, str] = {
    **{uri: prefix for prefix, uri in wire.NAMESPACES.items()},
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://www.w3.org/2000/01/rdf-schema#": "rdfs",
}
"""Namespaces whose property prefix is fixed: provgraph's, PROV's and XSD's (the built-in prefixes), RDF's."""

_ATTEMPTS = 8
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class PropertyPrefixes:
    """The property prefixes of one graph: a cache of the registry, and claims for URIs it has not seen."""

    def __init__(self, backend: GraphBackend) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self.mapping: dict[str, str] = dict(FIXED)
        """Namespace URI -> its property prefix, as far as known here (read it; `claim` adds to it)."""

    def load(self) -> Mapping[str, str]:
        """Read every registered prefix (what `provgraph verify` needs to re-derive property names)."""
        rows = self._backend.read(self._backend.render("prefixes/read"), {"uris": None}, tag="prefixes")
        with self._lock:
            self.mapping.update({row["uri"]: row["prefix"] for row in rows if row["uri"] not in FIXED})
        return self.mapping

    def claim(self, wanted: Mapping[str, str]) -> Mapping[str, str]:
        """Make sure every URI of ``wanted`` (URI -> the prefix a document gave it) has its prefix in the graph;
        return the whole mapping. Only URIs not seen before cost a read (and a write for new ones)."""
        missing = {uri: prefix for uri, prefix in wanted.items() if uri not in self.mapping}
        if not missing:
            return self.mapping
        last_error: ProvgraphError | None = None
        refused: set[str] = set()  # candidates another URI turned out to hold
        with self._lock:
            for _ in range(_ATTEMPTS):
                missing = {uri: prefix for uri, prefix in missing.items() if uri not in self.mapping}
                if not missing:
                    return self.mapping
                self._read(list(missing))
                missing = {uri: prefix for uri, prefix in missing.items() if uri not in self.mapping}
                if not missing:
                    return self.mapping
                bases = sorted({_base(prefix) for prefix in missing.values()})
                held = self._backend.read(
                    self._backend.render("prefixes/taken"), {"bases": bases}, tag="prefixes"
                )
                refused.update(row["prefix"] for row in held)
                taken = set(self.mapping.values()) | set(FIXED.values()) | refused
                rows = []
                for uri, prefix in sorted(missing.items()):
                    candidate = _candidate(prefix, taken)
                    taken.add(candidate)
                    rows.append({"uri": uri, "prefix": candidate})
                try:
                    self._backend.write(
                        [(self._backend.render("prefixes/claim"), {"rows": rows})], tag="prefixes"
                    )
                except ProvgraphError as exc:  # another writer took a prefix first: read and try again
                    last_error = exc
                    continue
                self._read([row["uri"] for row in rows])
                for row in rows:  # a prefix another URI holds (unknown here): the next candidate
                    if row["uri"] not in self.mapping:
                        refused.add(row["prefix"])
            missing = {uri: prefix for uri, prefix in missing.items() if uri not in self.mapping}
            if missing:
                raise ProvgraphError(
                    f"could not register a property prefix for {', '.join(sorted(missing))} "
                    f"after {_ATTEMPTS} attempts" + (f": {last_error}" if last_error else "")
                ) from last_error
        return self.mapping

    def claim_for(self, messages: Iterable[wire.Message]) -> Mapping[str, str]:
        """`claim` the namespaces the messages declare (their own and their bundles')."""
        wanted: dict[str, str] = {}
        for message in messages:
            for prefix, uri in message.namespaces.items():
                wanted.setdefault(uri, prefix)
            for record in message.records:
                if record.get("k") == "bundle":
                    for prefix, uri in (record.get("ns") or {}).items():
                        wanted.setdefault(uri, prefix)
        return self.claim(wanted)

    def _read(self, uris: list[str]) -> None:
        rows = self._backend.read(self._backend.render("prefixes/read"), {"uris": uris}, tag="prefixes")
        self.mapping.update({row["uri"]: row["prefix"] for row in rows if row["uri"] not in FIXED})


def _base(prefix: str) -> str:
    """The document's prefix made safe for a property name (``ns`` for a default namespace)."""
    return "ns" if prefix == "default" else (_SAFE.sub("_", prefix) or "ns")


def _candidate(prefix: str, taken: set[str]) -> str:
    """The document's prefix (`_base`), numbered past those taken."""
    base = _base(prefix)
    if base not in taken:
        return base
    number = 2
    while f"{base}_{number}" in taken:
        number += 1
    return f"{base}_{number}"


_REGISTRIES_LOCK = threading.Lock()


def property_prefixes(backend: GraphBackend) -> PropertyPrefixes:
    """The registry of ``backend``'s graph (one per backend object, shared by everything writing through it)."""
    registry = getattr(backend, "_property_prefixes", None)
    if registry is None:
        with _REGISTRIES_LOCK:
            registry = getattr(backend, "_property_prefixes", None)
            if registry is None:
                registry = PropertyPrefixes(backend)
                backend._property_prefixes = registry  # type: ignore[attr-defined]
    return registry
