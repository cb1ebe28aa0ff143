"""Retention: removing old runs (or only their heavy payloads) from the graph without breaking what remains.

A purge works on **documents** (a workflow run's records are its document; an imported file is one too), chosen by
run, workflow name, campaign or age (`select`). For each document it removes:

- every relationship the document recorded (``r.doc``);
- every element node only this document declared; a node other documents declared too keeps their declarations
  and loses this one's (``docs``, ``_decl``); a node only this document declared that relations of other
  documents still use becomes an undeclared reference, as if it had never been declared;
- undeclared nodes left with no relationship, the document's namespaces and its ``Document`` node.

So no relationship ever dangles, and every other document exports exactly as before (export reads only ``_decl``
and ``_rec``, which the purge edits only for the purged document).

``keep_lineage`` keeps the lineage skeleton instead: every activity, entity and agent and every PROV relation
between them stay; telemetry entities (readings about a task, ``pg:Telemetry``) go with their ``wasGeneratedBy``,
and payload attributes (``prov:value``, ``pg:head``, ``pg:stdout``, ``pg:stderr``, ``pg:prompt``,
``pg:response``) longer than ``max_chars`` characters are removed from the node and its stored declaration, which
gains ``pg:payload_purged`` ``true``. The document then exports as valid PROV without them.

Example::

    from provgraph.purge import plan, purge, select

    chosen = select(backend, workflow="train", older_than="90d")
    for item in plan(backend, chosen):            # what would go (dry run)
        print(item.run, item.nodes_alone, item.relationships)
    purge(backend, chosen, archive_dir="archive/", progress=print)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture import wire
from provgraph.errors import ConfigurationError
from provgraph.graph.backend import GraphBackend
from provgraph.graph.times import utc_microseconds
from provgraph.tail import parse_since

__all__ = ["PAYLOAD_ATTRIBUTES", "DocumentPlan", "PurgeResult", "plan", "purge", "purge_loaded", "select"]

PAYLOAD_ATTRIBUTES = {
    "prov:value": "value",
    "pg:head": "head",
    "pg:stdout": "stdout",
    "pg:stderr": "stderr",
    "pg:prompt": "prompt",
    "pg:response": "response",
}
"""Attributes ``keep_lineage`` drops when long: wire name -> graph property."""

_BATCH = 1000
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Selected:
    """A document chosen for purging, with the run it holds (if any)."""

    doc: str
    run: str | None = None
    workflow: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentPlan:
    """What purging one document would do (the dry run): counts, and the ids of the nodes that would go."""

    doc: str
    run: str | None
    workflow: str | None
    start_time: str | None
    end_time: str | None
    nodes_alone: int
    nodes_shared: int
    relationships: int
    telemetry: int
    namespaces: int
    elements: tuple[str, ...]


@dataclass
class PurgeResult:
    """What a purge did, summed over its documents."""

    documents: list[str] = field(default_factory=list)
    nodes_deleted: int = 0
    nodes_kept_for_others: int = 0
    nodes_now_references: int = 0
    relationships_deleted: int = 0
    payloads_stripped: int = 0
    telemetry_deleted: int = 0
    archived: list[str] = field(default_factory=list)


def _campaign_ids(campaign: str) -> list[str]:
    if ":" in campaign:
        return [campaign]
    return [campaign, "pgid:campaign_" + re.sub(r"[^A-Za-z0-9_.-]", "_", campaign)]


def select(
    backend: GraphBackend,
    *,
    runs: Sequence[str] = (),
    docs: Sequence[str] = (),
    workflow: str | None = None,
    campaign: str | None = None,
    older_than: str | None = None,
) -> list[Selected]:
    """The documents to purge: those of the runs that match every criterion given, plus ``docs`` by id.

    ``older_than`` is a duration (``90d``, ``12h``, ``2w``) or an ISO time: runs that ended (or, never ended,
    started) before it. At least one criterion is required: a purge of everything is never implied.

    Raises:
        ConfigurationError: no criterion, or an unreadable ``older_than``.
    """
    if not (runs or docs or workflow or campaign or older_than):
        raise ConfigurationError("purge needs a run, document, workflow, campaign or age (--older-than)")
    chosen: dict[str, Selected] = {}
    if runs or workflow or campaign or older_than:
        before = parse_since(older_than) if older_than else None
        params = {
            "runs": list(runs) or None,
            "workflow": workflow,
            "campaigns": _campaign_ids(campaign) if campaign else None,
            "before": before,
            "before_us": utc_microseconds(before) if before else None,
        }
        for row in backend.read(backend.render("purge/select_runs"), params, tag="purge/select_runs"):
            for doc in row["docs"] or [row["id"]]:
                chosen.setdefault(
                    doc, Selected(doc, row["id"], row["workflow"], row["startTime"], row["endTime"])
                )
    if docs:
        for row in backend.read(backend.render("purge/select_documents"), {"docs": list(docs)}, tag="purge"):
            chosen.setdefault(row["id"], Selected(row["id"]))
    return list(chosen.values())


def _scan(backend: GraphBackend, docs: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each document's nodes (one scan of the Element label for all of them)."""
    nodes: dict[str, list[dict[str, Any]]] = {doc: [] for doc in docs}
    for row in backend.read(
        backend.render("purge/document_nodes"), {"docs": docs}, tag="purge/document_nodes"
    ):
        for doc in row["docs"]:
            if doc in nodes:
                nodes[doc].append(row)
    return nodes


def _relationships(
    backend: GraphBackend, keys: list[str], docs: list[str]
) -> dict[str, tuple[int, set[str]]]:
    """Per document: how many relationships it recorded from or to its nodes, and undeclared nodes at their ends."""
    found: dict[str, tuple[int, set[str]]] = {}
    for start in range(0, len(keys), _BATCH):
        page = keys[start : start + _BATCH]
        rows = backend.read(
            backend.render("purge/node_relationships"), {"keys": page, "docs": docs}, tag="purge"
        )
        for row in rows:
            count, undeclared = found.get(row["doc"], (0, set()))
            found[row["doc"]] = (
                count + row["relationships"],
                undeclared | {k for k in row["undeclared"] if k},
            )
    return found


def plan(backend: GraphBackend, selected: Iterable[Selected]) -> list[DocumentPlan]:
    """What purging each selected document would remove (nothing is changed)."""
    items = list(selected)
    docs = [item.doc for item in items]
    if not docs:
        return []
    nodes = _scan(backend, docs)
    keys = sorted({row["key"] for rows in nodes.values() for row in rows})
    relationships = _relationships(backend, keys, docs)
    stray = {
        row["doc"]: row["relationships"]
        for row in backend.read(backend.render("purge/stray_relationships"), {"docs": docs}, tag="purge")
    }
    namespaces = {
        row["doc"]: row["namespaces"]
        for row in backend.read(backend.render("purge/count_namespaces"), {"docs": docs}, tag="purge")
    }
    plans = []
    for item in items:
        rows = nodes[item.doc]
        alone = sorted((row for row in rows if len(row["docs"]) == 1), key=lambda row: row["id"] or "")
        plans.append(
            DocumentPlan(
                doc=item.doc,
                run=item.run,
                workflow=item.workflow,
                start_time=item.start_time,
                end_time=item.end_time,
                nodes_alone=len(alone),
                nodes_shared=len(rows) - len(alone),
                relationships=relationships.get(item.doc, (0, set()))[0] + stray.get(item.doc, 0),
                telemetry=sum(1 for row in alone if row["telemetry"]),
                namespaces=namespaces.get(item.doc, 0),
                elements=tuple(row["id"] for row in alone),
            )
        )
    return plans


def purge(
    backend: GraphBackend,
    selected: Iterable[Selected],
    *,
    keep_lineage: bool = False,
    max_chars: int = 256,
    archive_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> PurgeResult:
    """Purge the selected documents (or, with ``keep_lineage``, their payloads), one document at a time.

    Args:
        archive_dir: first write each document's PROV-JSON export there (``<doc>.json``), so what goes is kept.
        progress: called with one line per document (and per batch of a large one).
    """
    result = PurgeResult()
    items = list(selected)
    say = progress or (lambda _line: None)
    if not items:
        return result
    if archive_dir is not None:
        from provgraph.prov.export import export

        folder = Path(archive_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for index, item in enumerate(items, 1):
            path = folder / (re.sub(r"[^A-Za-z0-9_.-]", "_", item.doc) + ".json")
            export(backend, fmt="json", out=path, doc=item.doc)
            result.archived.append(str(path))
            say(f"[{index}/{len(items)}] archived {item.doc} to {path}")
    docs = [item.doc for item in items]
    nodes = _scan(backend, docs)
    stray: dict[str, tuple[int, set[str]]] = {}
    if not keep_lineage:
        for row in backend.read(backend.render("purge/stray_relationships"), {"docs": docs}, tag="purge"):
            stray[row["doc"]] = (row["relationships"], {k for k in row["undeclared"] if k})
    for index, item in enumerate(items, 1):
        prefix = f"[{index}/{len(items)}] {item.doc}"
        keys = sorted(row["key"] for row in nodes[item.doc])
        report = lambda line, p=prefix: say(f"{p}: {line}")  # noqa: E731 - one line per document
        if keep_lineage:
            _strip_document(backend, item.doc, keys, max_chars, result, report)
        else:
            _purge_document(backend, item.doc, keys, stray.get(item.doc), result, report)
        result.documents.append(item.doc)
    return result


def purge_loaded(backend: GraphBackend, messages: Iterable[wire.Message]) -> PurgeResult:
    """Remove the documents of ``messages`` that were loaded from exactly these messages (what `provgraph
    roundtrip` imported), with what `purge` would leave: other documents' declarations of shared nodes are kept.

    The messages name every node, relationship end and namespace their documents wrote
    (`provgraph.loader.written_keys`), so nothing is scanned: every read and write goes through the key indexes,
    a few statements per 1,000 nodes for all the documents at once.
    """
    from provgraph.loader import written_keys

    written = written_keys(messages)
    docs, keys = written.docs, written.nodes
    result = PurgeResult(documents=docs)
    for start in range(0, len(keys), _BATCH):
        page = keys[start : start + _BATCH]
        backend.write(
            [(backend.render("purge/delete_document_relationships"), {"keys": page, "docs": docs})],
            tag="purge",
        )
    gone = set(docs)
    for start in range(0, len(keys), _BATCH):
        rows = backend.read(
            backend.render("purge/node_details"), {"keys": keys[start : start + _BATCH]}, tag="purge"
        )
        _settle_nodes(backend, rows, gone, result)
    backend.write(
        [(backend.render("purge/delete_namespaces"), {"keys": written.namespaces, "docs": docs})],
        tag="purge",
    )
    return result


def _settle_nodes(
    backend: GraphBackend, rows: list[dict[str, Any]], gone: set[str], result: PurgeResult
) -> None:
    """After the ``gone`` documents' relationships are deleted: each node (a `purge/node_details` row) keeps the
    other documents' declarations, becomes an undeclared reference when only gone documents declared it and
    relationships still use it, or is deleted when nothing uses it any more."""
    delete, keep, references = [], [], []
    for row in rows:
        docs = row["docs"] or []
        others = [d for d in docs if d not in gone]
        if others:
            if len(others) == len(docs):
                continue  # declared by other documents only: nothing of the gone ones on it
            pairs = zip(row["decl"] or [], row["decl_sk"] or [], strict=False)
            kept = [(raw, sk) for raw, sk in pairs if json.loads(raw).get("doc") not in gone]
            decls, sks = [raw for raw, _ in kept], [sk for _, sk in kept]
            keep.append({"key": row["key"], "docs": others, "decl": decls, "decl_sk": sks})
        elif row["relationship_docs"]:
            if docs:  # declared by gone documents only: an undeclared reference of the others now
                props = {"key": row["key"], "id": row["id"], "uri": row["uri"], "bundle": row["bundle"]}
                references.append({"key": row["key"], "props": {**props, "declared": False, "docs": []}})
        else:
            delete.append(row["key"])
    statements = []
    if delete:
        statements.append((backend.render("purge/delete_nodes"), {"keys": delete}))
    if keep:
        statements.append((backend.render("purge/keep_declarations"), {"rows": keep}))
    if references:
        statements.append((backend.render("purge/to_reference"), {"rows": references}))
    if statements:
        backend.write(statements, tag="purge")
    result.nodes_deleted += len(delete)
    result.nodes_kept_for_others += len(keep)
    result.nodes_now_references += len(references)


def _purge_document(
    backend: GraphBackend,
    doc: str,
    keys: list[str],
    stray: tuple[int, set[str]] | None,
    result: PurgeResult,
    say: Progress,
) -> None:
    count, undeclared = _relationships(backend, keys, [doc]).get(doc, (0, set()))
    for start in range(0, len(keys), _BATCH):
        page = keys[start : start + _BATCH]
        backend.write(
            [(backend.render("purge/delete_relationships"), {"keys": page, "doc": doc})], tag="purge"
        )
        if len(keys) > _BATCH:
            say(f"relationships of {min(start + _BATCH, len(keys))}/{len(keys)} nodes deleted")
    if stray is not None:
        count += stray[0]
        undeclared |= stray[1]
        backend.write([(backend.render("purge/sweep_relationships"), {"doc": doc})], tag="purge")
    result.relationships_deleted += count
    for start in range(0, len(keys), _BATCH):
        rows = backend.read(
            backend.render("purge/node_details"), {"keys": keys[start : start + _BATCH]}, tag="purge"
        )
        _settle_nodes(backend, rows, {doc}, result)
        if len(keys) > _BATCH:
            say(f"{min(start + _BATCH, len(keys))}/{len(keys)} nodes done")
    if undeclared:
        backend.write(
            [(backend.render("purge/delete_unused_references"), {"keys": sorted(undeclared)})], tag="purge"
        )
    backend.write([(backend.render("purge/delete_document"), {"doc": doc})], tag="purge")
    say(f"purged: {count} relationships, {len(keys)} nodes")


def _strip_document(
    backend: GraphBackend, doc: str, keys: list[str], max_chars: int, result: PurgeResult, say: Progress
) -> None:
    telemetry_total = payload_total = 0
    for start in range(0, len(keys), _BATCH):
        rows = backend.read(
            backend.render("purge/node_details"), {"keys": keys[start : start + _BATCH]}, tag="purge"
        )
        telemetry, stripped = [], []
        for row in rows:
            if row["telemetry"]:
                if row["docs"] == [doc] and set(row["relationship_docs"]) <= {doc}:
                    telemetry.append(row["key"])
                continue
            long = {
                name
                for name, value in (row["payload"] or {}).items()
                if value is not None
                and len(value if isinstance(value, str) else json.dumps(value)) > max_chars
            }
            if not long:
                continue
            decls = [_without_payload(raw, doc, long) for raw in row["decl"] or []]
            stripped.append({"key": row["key"], "decl": decls, "gone": dict.fromkeys(long)})
        statements = []
        if telemetry:
            statements.append((backend.render("purge/delete_nodes"), {"keys": telemetry}))
        if stripped:
            statements.append((backend.render("purge/strip_payloads"), {"rows": stripped}))
        if statements:
            backend.write(statements, tag="purge")
        telemetry_total += len(telemetry)
        payload_total += len(stripped)
        if len(keys) > _BATCH:
            say(f"{min(start + _BATCH, len(keys))}/{len(keys)} nodes looked at")
    result.telemetry_deleted += telemetry_total
    result.payloads_stripped += payload_total
    say(f"lineage kept: {telemetry_total} telemetry entities and {payload_total} long values dropped")


def _without_payload(raw: str, doc: str, properties: set[str]) -> str:
    """A stored declaration of ``doc`` without the payload attributes whose graph property is in ``properties``."""
    entry = json.loads(raw)
    if entry.get("doc") != doc:
        return raw
    record = entry["r"]
    names = {wire_name for wire_name, prop in PAYLOAD_ATTRIBUTES.items() if prop in properties}
    attrs = [pair for pair in record.get("a") or [] if pair[0] not in names]
    if len(attrs) != len(record.get("a") or []):
        attrs.append(["pg:payload_purged", True])
        record["a"] = attrs
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
