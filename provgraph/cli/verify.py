"""``provgraph verify``: check a run against the digests recorded as it loaded, and against its own records.

Examples::

    provgraph verify --run pgid:run_ab12_1                       # digests and queryable properties
    provgraph verify --run pgid:run_ab12_1 --public-key audit.pem.pub   # and every batch signature
    provgraph verify --doc pgid:import_x --json
    provgraph verify --keygen audit.pem          # a new Ed25519 key pair (audit.pem, audit.pem.pub)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from provgraph.cli.query import _client


def register(subparsers: Any) -> None:
    verify = subparsers.add_parser(
        "verify",
        help="check a run is exactly what was loaded (digests, signatures, properties)",
        description=(
            "Recompute a run's record digests (RFC 8785 canonical JSON, SHA-256) and compare them with those the "
            "loader recorded (setting audit_digests), check their Ed25519 signatures with --public-key, and "
            "check every node's and relationship's properties against its records. See docs/audit.md."
        ),
    )
    scope = verify.add_mutually_exclusive_group()
    scope.add_argument("--run", metavar="ID", help="a workflow run")
    scope.add_argument("--doc", metavar="ID", help="a stored document")
    scope.add_argument("--keygen", metavar="PATH", help="write a new Ed25519 key pair: PATH and PATH.pub")
    verify.add_argument(
        "--public-key", metavar="FILE", help="PEM public key the batch signatures must verify with"
    )
    scope.add_argument(
        "--evidence", metavar="FILE", help="check an evidence file offline (with --public-key)"
    )
    verify.add_argument("--export", metavar="FILE", help="with --evidence: the export file it must vouch for")
    verify.add_argument("--format", default="json", help="with --export: its format (default json)")
    verify.add_argument(
        "--evidence-out", metavar="FILE", help="with --run: also write the run's audit evidence"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from provgraph.audit import verify
    from provgraph.digests import CANONICALIZATION, generate_key
    from provgraph.errors import ConfigurationError

    if args.keygen:
        public = generate_key(args.keygen)
        print(f"private key {args.keygen} (set PROVGRAPH_AUDIT_SIGNING_KEY to it), public key {public}")
        return 0
    if args.evidence:
        from provgraph.evidence import check_evidence

        if not args.public_key:
            raise ConfigurationError("--evidence needs --public-key FILE")
        with open(args.public_key, "rb") as handle:
            problems = check_evidence(args.evidence, handle.read(), args.export, args.format)
        for fault in problems:
            print(f"  FAULT {fault}")
        print(
            "trusted: signed by the key, export matches"
            if not problems
            else f"{len(problems)} problem(s) found"
        )
        return 0 if not problems else 1
    if not (args.run or args.doc):
        raise ConfigurationError("provgraph verify needs --run ID or --doc ID (or --keygen PATH)")
    public_key = None
    if args.public_key:
        try:
            with open(args.public_key, "rb") as handle:
                public_key = handle.read()
        except OSError as exc:
            raise ConfigurationError(f"cannot read the public key {args.public_key!r}: {exc}") from exc
    with _client(args) as client:
        report = verify(
            client.backend,
            run=args.run,
            doc=args.doc,
            public_key=public_key,
            progress=None if args.json else lambda line: print(line, file=sys.stderr, flush=True),
        )
        if args.evidence_out:
            if not args.run:
                raise ConfigurationError("--evidence-out goes with --run")
            from provgraph.evidence import write_evidence

            write_evidence(client.backend, args.run, args.evidence_out)
    if args.json:
        body = dataclasses.asdict(report)
        print(json.dumps({"ok": report.ok, "canonicalization": CANONICALIZATION, **body}, indent=2))
        return 0 if report.ok else 1
    for doc in report.docs:
        signed = "signed" if report.signed.get(doc) else "not signed"
        if report.signed.get(doc) and public_key is None:
            signed = "signed (no --public-key: signatures not checked)"
        print(
            f"{doc}: {report.records[doc]} records, {report.batches[doc]} audit batches, {signed}, "
            f"digest sha256:{report.digests[doc]}"
        )
    for doc in report.unrecorded:
        print(
            f"  note: {doc} was loaded without PROVGRAPH_AUDIT_DIGESTS: no digests to compare, "
            "its properties were checked against its records only"
        )
    for problem in report.problems:
        print(f"  FAULT {problem.line()}")
    print(
        "verified: the graph is what was loaded" if report.ok else f"{len(report.problems)} problem(s) found"
    )
    return 0 if report.ok else 1
