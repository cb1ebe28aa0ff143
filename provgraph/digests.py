"""Tamper evidence, the loader's side: each record's leaf in canonical form, and the hook that records them.

**Leaves.** Each stored record of a document (an element declaration in a node's ``_decl``, a relation's ``_rec``)
is one leaf: the SHA-256 of ``{"doc": DOC, "r": RECORD}`` in the JSON Canonicalization Scheme (RFC 8785, `jcs`):
object keys sorted by UTF-16 code units, no insignificant white space, strings escaped minimally, numbers in the
ECMAScript form (integers are written exactly, as the wire format keeps them, rather than rounded to a double).

**As messages load** (setting ``audit_digests``), the loader's transaction also writes one ``(:AuditBatch)`` node
per document it touched, holding the leaves of that transaction's records with a short label each (``entity
pgid:val_1``, ``used pgid:task_1 -> pgid:val_1``) and, with ``audit_signing_key`` set, an Ed25519 signature over
``{"doc": DOC, "leaves": [sorted leaves]}``. A batch is keyed by its content, so a redelivered message adds
nothing and a late message adds a batch: the document's digest, SHA-256 over its sorted distinct leaves, extends.

**`verify`** recomputes the leaves from the records the graph holds and compares them with the batches (a record
edited or added after loading has a leaf no batch holds; a record deleted leaves a batch leaf with no record,
named by its label), checks every batch's signature with the public key alone, and re-derives every node's and
relationship's queryable properties from the records through the loader's own code (`provgraph.loader`), so a
property edited, added or removed, or a relationship or node with no record behind it, is reported with the
element at fault. docs/audit.md states the threat model.

Example::

    from provgraph.digests import document_digest, leaf

    digest = document_digest(leaf(doc, record) for record in records)

`provgraph.audit.verify` is the reading side.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from provgraph.errors import ConfigurationError
from provgraph.graph.backend import GraphBackend, Statement

__all__ = [
    "CANONICALIZATION",
    "audit_statements",
    "document_digest",
    "generate_key",
    "jcs",
    "leaf",
    "signed_bytes",
]

CANONICALIZATION = "RFC 8785 JSON Canonicalization Scheme (JCS), SHA-256"


# --- canonical form ---------------------------------------------------------------------------------------------


def _number(value: int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError("RFC 8785 has no form for NaN or infinity")
    if value == 0:
        return "0"
    text = repr(value)  # the shortest round-trip digits, as ECMAScript's Number.prototype.toString picks them
    mantissa, _, exponent = text.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0") or "0"
    point = len(whole) + (int(exponent) if exponent else 0)  # position of the decimal point in `digits`
    if whole == "0":
        point -= len(fraction) - len(fraction.lstrip("0"))
    digits = digits.rstrip("0") or "0"
    n, k = point, len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    body = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{body}e{'+' if e > 0 else '-'}{abs(e)}"


def jcs(value: Any) -> str:
    """``value`` as RFC 8785 canonical JSON text."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = sorted(((str(k), v) for k, v in value.items()), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{jcs(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    raise TypeError(f"no JSON form for {type(value).__name__}")


def leaf(doc: str, record: Mapping[str, Any]) -> str:
    """The leaf of one record of ``doc``: hex SHA-256 of its canonical form."""
    return hashlib.sha256(jcs({"doc": doc, "r": record}).encode("utf-8")).hexdigest()


def document_digest(leaves: Iterable[str]) -> str:
    """A document's digest: hex SHA-256 over its distinct leaves, sorted, one per line."""
    return hashlib.sha256("\n".join(sorted(set(leaves))).encode()).hexdigest()


def _label(record: Mapping[str, Any]) -> str:
    kind = record.get("k", "?")
    if "id" in record and kind in ("entity", "activity", "agent", "bundle"):
        return f"{kind} {record['id']}"
    formal = record.get("f") or {}
    ends = [
        str(v) for k, v in formal.items() if k not in ("time", "startTime", "endTime") and isinstance(v, str)
    ]
    return f"{kind} {' -> '.join(ends[:2])}".strip()


# --- signatures -------------------------------------------------------------------------------------------------


def signed_bytes(doc: str, leaves: Sequence[str]) -> bytes:
    return jcs({"doc": doc, "leaves": sorted(leaves)}).encode("utf-8")


def _load_private_key(path: str) -> Any:
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
    except ImportError as exc:  # pragma: no cover - the audit extra
        raise ConfigurationError(
            "signing needs the `cryptography` package: pip install 'provgraph[audit]'"
        ) from exc
    try:
        with open(path, "rb") as handle:
            return load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the audit signing key {path!r}: {exc}") from exc


def generate_key(path: str) -> str:
    """Write a new Ed25519 private key (PEM, PKCS#8) to ``path`` and its public key to ``path + '.pub'``;
    returns the public key's path."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private)
    with open(path + ".pub", "wb") as handle:
        handle.write(public)
    return path + ".pub"


_keys: dict[str, Any] = {}


# --- the loader hook --------------------------------------------------------------------------------------------


def audit_statements(backend: GraphBackend, batch: Any) -> list[Statement]:
    """The statement that records a loader batch's leaves (one ``AuditBatch`` per document), in the same
    transaction as the records; nothing when the backend's settings do not ask for digests."""
    settings = getattr(backend, "settings", None)
    if not getattr(settings, "audit_digests", False):
        return []
    per_doc: dict[str, dict[str, str]] = defaultdict(dict)
    for rows in batch.elements.values():
        for row in rows:
            entry = json.loads(row["decl"])
            per_doc[entry["doc"]][leaf(entry["doc"], entry["r"])] = _label(entry["r"])
    for rows in batch.relations.values():
        for row in rows:
            record = json.loads(row["props"]["_rec"])
            doc = row["props"]["doc"]
            per_doc[doc][leaf(doc, record)] = _label(record)
    if not per_doc:
        return []
    key_path = getattr(settings, "audit_signing_key", "") or ""
    signer = None
    if key_path:
        signer = _keys.get(key_path)
        if signer is None:
            signer = _keys[key_path] = _load_private_key(key_path)
    rows_out = []
    for doc, leaves in per_doc.items():
        ordered = sorted(leaves)
        signature = signer.sign(signed_bytes(doc, ordered)).hex() if signer is not None else None
        batch_key = hashlib.sha256(jcs([doc, ordered]).encode()).hexdigest()
        rows_out.append(
            {
                "key": batch_key,
                "doc": doc,
                "leaves": ordered,
                "labels": [leaves[h] for h in ordered],
                "signature": signature,
            }
        )
    return [(backend.render("audit/merge_batches"), {"rows": rows_out})]
