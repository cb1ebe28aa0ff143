"""Audit evidence that travels with an export: check an exported run with the public key alone, offline.

`write_evidence` saves, next to a run's PROV export, what the graph holds for it: each document's namespaces, its
records exactly as stored, and the audit batches (leaves, labels, Ed25519 signatures) the loader wrote as they
loaded. `check_evidence` needs no graph: it checks every batch signature with the public key, that the records'
leaves (RFC 8785, `provgraph.digests`) are exactly the signed ones, and that the export file is the same PROV document
as those records (parsed back and compared record by record, `provgraph.prov.compare`). A reader holding only the public key and the two files
can so trust the exported run, or see what differs.

Example::

    provgraph export --run RUN --format json -o run.json
    provgraph verify --run RUN --evidence-out run.audit.json
    # elsewhere, with only the public key:
    provgraph verify --evidence run.audit.json --export run.json --public-key audit.pem.pub
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from provgraph.digests import CANONICALIZATION, document_digest, leaf, signed_bytes
from provgraph.errors import ConfigurationError, ProvgraphError
from provgraph.graph.backend import GraphBackend
from provgraph.prov.compare import roundtrip_identical
from provgraph.prov.export import records_to_document

__all__ = ["EVIDENCE_VERSION", "check_evidence", "write_evidence"]

EVIDENCE_VERSION = 1


def _run_documents(backend: GraphBackend, run: str) -> list[str]:
    rows = backend.read(backend.render("audit/run_documents"), {"run": run}, tag="evidence")
    if not rows:
        raise ProvgraphError(f"no workflow run {run!r} in the graph; `provgraph runs` lists them")
    return sorted({d for row in rows for d in row["docs"]})


def write_evidence(backend: GraphBackend, run: str, path: str | Path) -> dict[str, Any]:
    """Write the audit evidence of ``run`` (one document per run document) to ``path``; returns it."""
    documents: dict[str, Any] = {}
    for doc in _run_documents(backend, run):
        nodes = backend.read(backend.render("audit/document_nodes"), {"doc": doc}, tag="evidence")
        keys = [row["key"] for row in nodes]
        records: list[Any] = []
        for row in nodes:
            for raw in row["decl"] or ():
                entry = json.loads(raw)
                if entry.get("doc") == doc:
                    records.append(entry["r"])
        seen: set[str] = set()
        for start in range(0, len(keys), 1000):
            for rel in backend.read(
                backend.render("audit/node_relationships"),
                {"keys": keys[start : start + 1000]},
                tag="evidence",
            ):
                props = rel["props"]
                if props.get("doc") == doc and "_rec" in props and props["_rec"] not in seen:
                    seen.add(props["_rec"])
                    records.append(json.loads(props["_rec"]))
        namespaces = {
            row["prefix"]: row["uri"]
            for row in backend.read(backend.render("audit/namespaces"), {"doc": doc}, tag="evidence")
            if not row["bundle"]
        }
        batches = backend.read(backend.render("audit/batches"), {"doc": doc}, tag="evidence")
        documents[doc] = {
            "digest": document_digest(leaf(doc, r) for r in records),
            "namespaces": namespaces,
            "records": records,
            "batches": [
                {"leaves": b["leaves"], "labels": b["labels"], "signature": b["signature"]} for b in batches
            ],
        }
    evidence = {
        "version": EVIDENCE_VERSION,
        "run": run,
        "canonicalization": CANONICALIZATION,
        "documents": documents,
    }
    Path(path).write_text(json.dumps(evidence, ensure_ascii=False, sort_keys=True, indent=1))
    return evidence


def check_evidence(
    evidence_path: str | Path,
    public_key: bytes,
    export_path: str | Path | None = None,
    fmt: str = "json",
) -> list[str]:
    """Problems found checking an evidence file (and, if given, the export file it vouches for); empty: trusted.

    Raises:
        ConfigurationError: an unreadable evidence file or public key, or an evidence file of several documents
            checked against one export.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        evidence = json.loads(Path(evidence_path).read_text())
        key = load_pem_public_key(public_key)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the evidence or the public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError("the public key is not an Ed25519 key (provgraph verify --keygen makes one)")
    if evidence.get("version") != EVIDENCE_VERSION:
        raise ConfigurationError(f"unknown evidence version {evidence.get('version')!r}")
    problems: list[str] = []
    documents = evidence["documents"]
    for doc, part in documents.items():
        signed: set[str] = set()
        labels: dict[str, str] = {}
        if not part["batches"]:
            problems.append(f"{doc}: no audit batches (loaded without audit_digests): nothing is signed")
        for index, batch in enumerate(part["batches"]):
            try:
                if batch["signature"] is None:
                    raise InvalidSignature
                key.verify(bytes.fromhex(batch["signature"]), signed_bytes(doc, batch["leaves"]))
            except (InvalidSignature, ValueError, TypeError):
                problems.append(f"{doc}: audit batch {index} is unsigned or its signature does not verify")
                continue
            signed.update(batch["leaves"])
            labels.update(zip(batch["leaves"], batch["labels"], strict=False))
        have = {leaf(doc, record): record for record in part["records"]}
        for digest, record in have.items():
            if digest not in signed:
                problems.append(f"{doc}: record not signed (edited or added): {json.dumps(record)[:200]}")
        for digest in sorted(signed - set(have), key=lambda d: labels.get(d, "")):
            problems.append(f"{doc}: signed record missing: {labels.get(digest, digest)}")
        if part.get("digest") != document_digest(have):
            problems.append(f"{doc}: stated digest does not match its records")
    if export_path is not None:
        if len(documents) != 1:
            raise ConfigurationError(
                "an export can be checked against the evidence of a one-document run only"
            )
        ((doc, part),) = documents.items()
        signed_document = records_to_document(part["namespaces"], part["records"])
        same, differences = roundtrip_identical(signed_document, Path(export_path).read_text(), fmt)
        if not same:
            problems.append(f"{export_path}: not the {fmt} export of the signed records of {doc}")
            problems.extend(f"    {line}" for line in differences)
    return problems
