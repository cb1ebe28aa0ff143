"""The graph: its model (labels, relationship types), the Cypher library, and one backend per engine.

`open_backend(settings)` picks the engine from ``settings.graph_url``: `FalkorBackend` for ``embedded`` (the
default) or a FalkorDB ``redis://``/``unix://`` URL, `Neo4jBackend` for a ``bolt://``/``neo4j://`` URI.

Example::

    from capture.settings import Settings
    from provgraph.graph import open_backend

    with open_backend(Settings.load(graph_url="bolt://127.0.0.1:7687")) as graph:
        rows = graph.read("RETURN $x AS x", {"x": 1})
"""

from __future__ import annotations

from capture.settings import Settings
from provgraph.errors import ConfigurationError
from provgraph.graph.backend import GraphBackend, Neo4jBackend, redact_url
from provgraph.graph.falkordb import FalkorBackend

__all__ = ["open_backend"]


def open_backend(settings: Settings) -> GraphBackend:
    """The backend ``settings.graph_url`` names: ``embedded`` or a Neo4j ``bolt://``/``neo4j://`` URI."""
    url = settings.graph_url
    if url == "embedded" or url.startswith(("falkordb://", "redis://", "unix://")):
        return FalkorBackend(settings)
    if url.split("://", 1)[0] in {"bolt", "neo4j", "bolt+s", "neo4j+s", "bolt+ssc", "neo4j+ssc"}:
        return Neo4jBackend(settings)
    raise ConfigurationError(
        f"PROVGRAPH_GRAPH_URL={redact_url(url)!r} is not 'embedded' or a bolt:// / neo4j:// URI"
    )
