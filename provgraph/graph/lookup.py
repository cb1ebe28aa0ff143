"""Unknown and ambiguous ids are errors: the check every id-taking query, verb and export makes, with "did you mean"
matches.

An id names an element (its qualified name ``id`` or full URI ``key``) or a stored document (its ``id``). A value
that names neither raises `UnknownId` with up to three ids of the graph that are closest to it, so a mistyped id
is never answered as if it were real (an empty table, "0 changes").

Example::

    from provgraph.graph.lookup import require_ids

    require_ids(backend, {"run": "pgid:run_1234_1"})      # UnknownId if it is not in the graph
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from capture import wire
from provgraph.errors import AmbiguousId, UnknownId
from provgraph.graph.backend import GraphBackend

__all__ = ["require_ids", "similar_ids"]

_CANDIDATES = 5000  # ids read per prefix for suggestions: enough for a close match, bounded on a large graph


def require_ids(backend: GraphBackend, refs: Mapping[str, str | None], query: str | None = None) -> None:
    """Raise `UnknownId` for the first of ``refs`` (argument name: id; ``None`` values are skipped) that names
    no element and no document in the graph, and `AmbiguousId` for one that is a qualified name of several
    elements (the same identifier at the top level and in a bundle, or in several bundles): the questions would
    answer for all of them at once."""
    given = {name: ref for name, ref in refs.items() if isinstance(ref, str)}
    if not given:
        return
    rows = backend.read(
        backend.render("lookup/element_ids"), {"refs": sorted(set(given.values()))}, tag="lookup"
    )
    found = {row["ref"]: row for row in rows if row["id"] is not None}
    for parameter, ref in given.items():
        row = found.get(ref)
        if row is None:
            raise UnknownId(ref, parameter, similar_ids(backend, ref), query)
        if (row.get("elements") or 0) > 1 and not row.get("by_key"):
            raise AmbiguousId(ref, parameter, row["elements"], tuple(sorted(row.get("keys") or ())), query)


def similar_ids(backend: GraphBackend, ref: str, n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` ids in the graph closest to ``ref`` (a mistyped id): ids sharing its start (``pgid:run_``),
    else its prefix (``pgid:``), ranked by similarity."""
    namespace = wire.NAMESPACES["pgid"]
    text = "pgid:" + ref[len(namespace) :] if ref.startswith(namespace) else ref
    prefix, _, local = text.partition(":")
    starts = [f"{prefix}:{local.split('_', 1)[0]}_"] if "_" in local else []
    starts.append(f"{prefix}:" if local else "")
    for start in starts:
        rows = backend.read(
            backend.render("lookup/similar_ids"), {"prefix": start, "limit": _CANDIDATES}, tag="lookup"
        )
        matches = difflib.get_close_matches(text, [row["id"] for row in rows], n=n, cutoff=0.6)
        if matches:
            return tuple(matches)
    return ()
