"""Tamper evidence, the reading side: `verify` a run against the digests recorded as it loaded and its records.

`verify` recomputes each record's leaf (`provgraph.digests`: RFC 8785 canonical form, SHA-256) from the records
the graph holds and compares them with the ``AuditBatch`` nodes the loader wrote (a record edited or added after
loading has a leaf no batch holds; a record deleted leaves a batch leaf with no record, named by its label),
checks every batch's Ed25519 signature with the public key alone, and re-derives every node's and relationship's
queryable properties from the records through the loader's own code, so a property edited, added or removed, or
a relationship or node with no record behind it, is reported with the element at fault. docs/audit.md states the
threat model.

Example::

    from provgraph.audit import verify

    report = verify(backend, run="pgid:run_ab12_1", public_key=open("audit.pem.pub", "rb").read())
    print(report.ok, report.digests, [p.line() for p in report.problems])
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from capture import wire
from provgraph.digests import document_digest, leaf, signed_bytes
from provgraph.errors import ConfigurationError, ProvgraphError
from provgraph.graph.backend import GraphBackend
from provgraph.graph.lookup import require_ids
from provgraph.graph.prefixes import property_prefixes
from provgraph.loader import message_rows

__all__ = ["Problem", "VerifyReport", "verify"]

_MODEL_NODE_PROPS = frozenset({"key", "declared", "docs", "_decl", "_decl_sk"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that is not what the records say: the element (id or key) at fault and what is wrong."""

    doc: str
    element: str
    what: str

    def line(self) -> str:
        return f"{self.element}: {self.what}  [{self.doc}]"


@dataclass
class VerifyReport:
    """The outcome of `verify`: per document its digest, batches and signature state; every problem found."""

    docs: list[str] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    signed: dict[str, bool] = field(default_factory=dict)
    unrecorded: list[str] = field(default_factory=list)
    """Documents loaded without ``audit_digests``: no batches, so only their properties could be checked."""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _public_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return load_pem_public_key(pem)
    except ValueError as exc:
        raise ConfigurationError(f"not a PEM public key: {exc}") from exc


def _documents(backend: GraphBackend, run: str | None, doc: str | None) -> list[str]:
    if (run is None) == (doc is None):
        raise ConfigurationError("verify needs exactly one of a run or a document")
    require_ids(backend, {"run": run, "doc": doc}, "verify")  # a mistyped id: named, with close matches
    if doc is not None:
        rows = backend.read(backend.render("audit/document"), {"doc": doc}, tag="audit")
        if not rows:
            raise ProvgraphError(f"no document {doc!r} in the graph")
        return [doc]
    rows = backend.read(backend.render("audit/run_documents"), {"run": run}, tag="audit")
    if not rows:
        raise ProvgraphError(f"no workflow run {run!r} in the graph; `provgraph runs` lists them")
    return sorted({d for row in rows for d in row["docs"]})


def verify(
    backend: GraphBackend,
    *,
    run: str | None = None,
    doc: str | None = None,
    public_key: bytes | None = None,
    progress: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Check a run's documents (or one document) against their audit batches and their own records.

    Raises:
        ConfigurationError: neither or both of ``run`` and ``doc``; an unreadable public key.
        ProvgraphError: no such run or document.
    """
    say = progress or (lambda _line: None)
    report = VerifyReport()
    docs = _documents(backend, run, doc)
    key = _public_key(public_key) if public_key is not None else None
    prefixes = dict(property_prefixes(backend).load())  # property names as the loader gave them
    for index, current in enumerate(docs, 1):
        report.docs.append(current)
        problems = report.problems
        nodes = backend.read(backend.render("audit/document_nodes"), {"doc": current}, tag="audit")
        say(f"[{index}/{len(docs)}] {current}: {len(nodes)} nodes")
        keys = [row["key"] for row in nodes]
        relationships: list[dict[str, Any]] = []
        for start in range(0, len(keys), 1000):
            relationships += backend.read(
                backend.render("audit/node_relationships"), {"keys": keys[start : start + 1000]}, tag="audit"
            )
            if len(keys) > 1000:
                say(
                    f"[{index}/{len(docs)}] {current}: relationships of {min(start + 1000, len(keys))} nodes read"
                )
        namespaces = {
            row["prefix"]: row["uri"]
            for row in backend.read(backend.render("audit/namespaces"), {"doc": current}, tag="audit")
            if not row["bundle"]
        }
        # the records the graph holds, and their leaves
        records: list[dict[str, Any]] = []
        leaves: dict[str, str] = {}
        for row in nodes:
            for raw in row["decl"] or ():
                entry = json.loads(raw)
                if entry.get("doc") == current:
                    records.append(entry["r"])
                    leaves[leaf(current, entry["r"])] = row["id"] or row["key"]
        seen_rel: dict[str, dict[str, Any]] = {}
        for rel in relationships:
            props = rel["props"]
            ident = f"{rel['type']} {rel['source_id']} -> {rel['target_id']}"
            if "_rec" not in props or "doc" not in props:
                problems.append(
                    Problem(current, ident, "relationship with no record behind it (added to the graph)")
                )
                continue
            if props["doc"] != current or props.get("sk") in seen_rel:
                continue
            seen_rel[props.get("sk", ident)] = rel
            record = json.loads(props["_rec"])
            records.append(record)
            leaves[leaf(current, record)] = ident
        report.records[current] = len(records)
        report.digests[current] = document_digest(leaves)
        # the audit batches written as the records loaded
        batches = backend.read(backend.render("audit/batches"), {"doc": current}, tag="audit")
        report.batches[current] = len(batches)
        loaded: dict[str, str] = {}
        all_signed = bool(batches)
        for batch in batches:
            loaded.update(zip(batch["leaves"], batch["labels"], strict=False))
            if batch["signature"] is None:
                all_signed = False
            elif key is not None:
                from cryptography.exceptions import InvalidSignature

                try:
                    key.verify(bytes.fromhex(batch["signature"]), signed_bytes(current, batch["leaves"]))
                except (InvalidSignature, ValueError):
                    problems.append(
                        Problem(
                            current,
                            f"audit batch {batch['key'][:12]}",
                            "signature does not verify with this key",
                        )
                    )
                    all_signed = False
        report.signed[current] = all_signed
        if not batches:
            report.unrecorded.append(current)  # a notice, not a fault: properties are still checked below
        else:
            for digest, where in sorted(leaves.items(), key=lambda kv: kv[1]):
                if digest not in loaded:
                    problems.append(
                        Problem(current, where, "record is not what was loaded (edited or added)")
                    )
            for digest, label in sorted(loaded.items(), key=lambda kv: kv[1]):
                if digest not in leaves:
                    problems.append(Problem(current, label, "record loaded but missing (deleted)"))
        # queryable properties: what the records imply, through the loader's own derivation
        expected = message_rows(wire.Message(current, records, namespaces), prefixes=prefixes)
        _compare_nodes(current, nodes, expected, problems)
        _compare_relationships(current, seen_rel, expected, problems)
        extra = backend.read(backend.render("audit/undeclared_neighbours"), {"keys": keys}, tag="audit")
        for row in extra:
            problems.append(
                Problem(current, row["id"] or row["key"], "node with no record behind it (added)")
            )
        say(f"[{index}/{len(docs)}] {current}: {len(records)} records, digest {report.digests[current][:16]}")
    return report


def _compare_nodes(doc: str, nodes: list[dict[str, Any]], expected: Any, problems: list[Problem]) -> None:
    want: dict[str, dict[str, Any]] = {}
    for _, rows in sorted(expected.elements.items()):  # in the order the loader writes them
        for row in rows:
            united = want.setdefault(row["key"], {})
            united.update(row["props"])
            if row["types"]:  # prov:types are united over declarations (cypher/loader/merge_elements.cypher)
                known = united.get("types", [])
                united["types"] = known + [t for t in row["types"] if t not in known]
    for node in nodes:
        actual = {k: v for k, v in node["props"].items() if k not in _MODEL_NODE_PROPS}
        implied = want.get(node["key"])
        where = node["id"] or node["key"]
        if implied is None:
            continue
        if len(node["docs"] or ()) > 1:  # other documents' declarations may have set the shared properties
            continue
        for name in sorted(set(actual) | set(implied)):
            if name not in implied:
                problems.append(Problem(doc, where, f"property {name} = {actual[name]!r} is in no record"))
            elif name not in actual:
                problems.append(
                    Problem(doc, where, f"property {name} missing (its record says {implied[name]!r})")
                )
            elif not (
                _same(sorted(actual[name]), sorted(implied[name]))  # a set: united over declarations
                if name == "types" and isinstance(actual[name], list) and isinstance(implied[name], list)
                else _same(actual[name], implied[name])
            ):
                problems.append(
                    Problem(
                        doc, where, f"property {name} is {actual[name]!r}; its record says {implied[name]!r}"
                    )
                )


def _compare_relationships(
    doc: str, seen: Mapping[str, dict[str, Any]], expected: Any, problems: list[Problem]
) -> None:
    want: dict[str, dict[str, Any]] = {}
    for rows in expected.relations.values():
        for row in rows:
            want[row["props"]["_rec"]] = row["props"]
    for rel in seen.values():
        props = {k: v for k, v in rel["props"].items() if k != "sk"}
        implied = want.get(props["_rec"])
        where = f"{rel['type']} {rel['source_id']} -> {rel['target_id']}"
        if implied is None:
            continue
        for name in sorted(set(props) | set(implied)):
            if name not in implied:
                problems.append(Problem(doc, where, f"property {name} = {props[name]!r} is in no record"))
            elif name not in props:
                problems.append(
                    Problem(doc, where, f"property {name} missing (its record says {implied[name]!r})")
                )
            elif not _same(props[name], implied[name]):
                problems.append(
                    Problem(
                        doc, where, f"property {name} is {props[name]!r}; its record says {implied[name]!r}"
                    )
                )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return False
    return bool(a == b)
