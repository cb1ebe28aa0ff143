"""provgraph: the store side. Loads PROV records from Redis Streams into a graph, answers lineage questions in
Cypher, and exports PROV-JSON, PROV-N, PROV-XML and RDF.

The producer side is the separate, light package `capture`. Everything a user needs is importable from here:
`Client`, every type its methods return, and the exception tree (`provgraph.errors`, docs/errors.md).
"""

from __future__ import annotations

import typing

from provgraph.client import (
    DEFAULT_DEPTH,
    DEFAULT_LIMIT,
    MAX_DEPTH,
    MAX_LIMIT,
    ActivityChange,
    Association,
    ChainStep,
    Client,
    EntityUse,
    FailedTask,
    Found,
    InputValue,
    LineageStep,
    ParameterChange,
    Product,
    QueryParameter,
    ResourcePeak,
    RunDiff,
    RunSummary,
    SharedEntity,
    TaskDuration,
    TaskInput,
    TaskNode,
)
from provgraph.errors import (
    AmbiguousId,
    ConfigurationError,
    ExportError,
    ProvgraphError,
    QueryError,
    ServiceError,
    StoreUnavailable,
    UnknownId,
    WireFormatError,
)
from provgraph.graph.cypher import QueryFile
from provgraph.prov.importer import ImportResult
from provgraph.tail import TailEvent
from provgraph.tokens import StepUsage, TokenTotals

__version__ = "0.1.0"

__all__ = [
    "AmbiguousId",
    "DEFAULT_DEPTH",
    "DEFAULT_LIMIT",
    "MAX_DEPTH",
    "MAX_LIMIT",
    "ActivityChange",
    "Association",
    "ChainStep",
    "Client",
    "ConfigurationError",
    "EntityUse",
    "ExportError",
    "FailedTask",
    "Found",
    "ImportResult",
    "InputValue",
    "LineageStep",
    "ParameterChange",
    "Product",
    "ProvgraphError",
    "QueryError",
    "QueryFile",
    "QueryParameter",
    "ResourcePeak",
    "RunDiff",
    "RunSummary",
    "ServiceError",
    "SharedEntity",
    "StepUsage",
    "StoreUnavailable",
    "TailEvent",
    "TaskDuration",
    "TaskInput",
    "TaskNode",
    "TokenTotals",
    "UnknownId",
    "WireFormatError",
    "__version__",
]

# Public names report their public home (reprs, docs, pickling), not the module that defines them. A class's
# string annotations are resolved first, in its defining module: typing.get_type_hints looks names up in
# ``__module__``, which from now on is this one.
for _name in __all__:
    _value = globals()[_name]
    if getattr(_value, "__module__", "").startswith("provgraph."):
        if isinstance(_value, type) and "__annotations__" in vars(_value):
            _own = vars(_value)["__annotations__"]
            _value.__annotations__ = {k: v for k, v in typing.get_type_hints(_value).items() if k in _own}
        _value.__module__ = __name__
del _name, _value
