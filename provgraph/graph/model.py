"""The graph model's vocabulary: the labels and relationship types provgraph may write (the allow-list).

Labels and relationship types cannot be Cypher parameters, so every statement that names one takes it from here;
`provgraph.graph.cypher.render` refuses anything else. The model itself is documented in `docs/graph-model.md`.
"""

from __future__ import annotations

from capture import wire

__all__ = [
    "ELEMENT_LABEL",
    "KIND_LABELS",
    "LABELS",
    "RELATIONSHIP_TYPES",
    "TYPE_LABELS",
    "property_name",
]

PROV = wire.NAMESPACES["prov"]
PG = wire.NAMESPACES["pg"]

ELEMENT_LABEL = "Element"
"""Every element node has it; its ``key`` is unique."""

KIND_LABELS = {"entity": "Entity", "activity": "Activity", "agent": "Agent", "bundle": "Bundle"}

TYPE_LABELS: dict[str, str] = {
    # provgraph's capture types
    PG + "WorkflowRun": "WorkflowRun",
    PG + "Task": "Task",
    PG + "Loop": "Loop",
    PG + "Campaign": "Campaign",
    PG + "File": "File",
    PG + "Machine": "Machine",
    PG + "Telemetry": "Telemetry",
    PG + "Model": "Model",
    PG + "Metric": "Metric",
    # PROV's own types
    PROV + "Person": "Person",
    PROV + "SoftwareAgent": "SoftwareAgent",
    PROV + "Organization": "Organization",
    PROV + "Collection": "Collection",
    PROV + "EmptyCollection": "Collection",
    PROV + "Plan": "Plan",
    PROV + "Bundle": "Bundle",
}
"""A ``prov:type`` value (full URI) that adds a subtype label to its element node."""

LABELS = frozenset(
    {
        ELEMENT_LABEL,
        *KIND_LABELS.values(),
        *TYPE_LABELS.values(),
        "Document",
        "Namespace",
        "AuditBatch",
        "PropertyPrefix",
    }
)

RELATIONSHIP_TYPES = frozenset(wire.RELATIONS)
"""One relationship type per PROV relation, named as in PROV-N."""


def property_name(namespace_uri: str, prefix: str, local: str) -> str:
    """The convenience property name of an attribute: bare local name in provgraph's and PROV's namespaces,
    ``prefix:local`` elsewhere (query it with backticks: n.`ex:size`)."""
    if namespace_uri in (PG, PROV):
        return local
    return f"{prefix}:{local}"
