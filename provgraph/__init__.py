"""provgraph: the store side. Loads PROV records from Redis Streams into a graph, answers lineage questions in
Cypher, and exports PROV-JSON, PROV-N, PROV-XML and RDF.

The producer side is the separate, light package `capture`.
"""

from __future__ import annotations

from provgraph.client import Client
from provgraph.errors import (
    ConfigurationError,
    ExportError,
    ProvgraphError,
    QueryError,
    ServiceError,
    StoreUnavailable,
    WireFormatError,
)

__version__ = "0.1.0"

__all__ = [
    "Client",
    "ConfigurationError",
    "ExportError",
    "ProvgraphError",
    "QueryError",
    "ServiceError",
    "StoreUnavailable",
    "WireFormatError",
    "__version__",
]
