"""``provgraph purge``: remove old runs (or only their heavy payloads) from the graph, listing first what goes.

Examples::

    provgraph purge --older-than 90d --dry-run                  # what would go: runs, nodes, relationships
    provgraph purge --workflow train --older-than 30d --yes     # remove them
    provgraph purge --run pgid:run_ab12_1 --archive old/ --yes  # PROV-JSON of each run to old/ first
    provgraph purge --campaign exp42 --keep-lineage --yes       # keep the lineage, drop telemetry and big values
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from provgraph.cli.query import _client


def register(subparsers: Any) -> None:
    purge = subparsers.add_parser(
        "purge",
        help="remove runs (or their telemetry and large values) by run, workflow, campaign or age",
        description=(
            "Remove the chosen runs' records from the graph without leaving a dangling relationship or changing "
            "any other run's export; --keep-lineage keeps every activity, entity and PROV relation and drops "
            "telemetry entities and long values instead. See docs/retention.md."
        ),
    )
    purge.add_argument("--run", action="append", default=[], metavar="ID", help="a run (repeatable)")
    purge.add_argument(
        "--doc", action="append", default=[], metavar="ID", help="a stored document (repeatable)"
    )
    purge.add_argument("--workflow", metavar="NAME", help="runs of this workflow name")
    purge.add_argument("--campaign", metavar="ID", help="runs of this campaign")
    purge.add_argument(
        "--older-than", metavar="AGE", help="runs that ended before AGE ago (90d, 12h, 2w) or a time"
    )
    purge.add_argument("--dry-run", action="store_true", help="list exactly what would go, change nothing")
    purge.add_argument(
        "--keep-lineage", action="store_true", help="keep activities, entities and relations; drop payloads"
    )
    purge.add_argument(
        "--max-chars",
        type=int,
        default=256,
        help="--keep-lineage drops values longer than this (default 256)",
    )
    purge.add_argument("--archive", metavar="DIR", help="first write each document as PROV-JSON into DIR")
    purge.add_argument("--yes", action="store_true", help="do it without asking")
    purge.add_argument("--json", action="store_true", help="print the plan or the result as JSON")
    purge.set_defaults(func=_purge)


def _purge(args: argparse.Namespace) -> int:
    from provgraph.errors import ConfigurationError
    from provgraph.graph.lookup import require_ids
    from provgraph.purge import plan, purge, select

    with _client(args) as client:
        backend = client.backend
        for option, refs in (("--run", args.run), ("--doc", args.doc)):
            for ref in refs or ():
                require_ids(
                    backend, {option: ref}, "purge"
                )  # a mistyped id is an error, not "nothing matches"
        chosen = select(
            backend,
            runs=args.run,
            docs=args.doc,
            workflow=args.workflow,
            campaign=args.campaign,
            older_than=args.older_than,
        )
        plans = plan(backend, chosen)
        if args.dry_run or not args.json:
            _show_plan(plans, args)
        if args.dry_run or not chosen:
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                raise ConfigurationError("purge changes the graph: add --yes (or --dry-run to only list)")
            answer = input(f"purge {len(chosen)} document(s)? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("nothing purged", file=sys.stderr)
                return 1
        result = purge(
            backend,
            chosen,
            keep_lineage=args.keep_lineage,
            max_chars=args.max_chars,
            archive_dir=args.archive,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    if args.json:
        print(json.dumps(dataclasses.asdict(result), indent=2))
    else:
        print(
            f"purged {len(result.documents)} document(s): {result.nodes_deleted} nodes and "
            f"{result.relationships_deleted} relationships deleted, {result.nodes_kept_for_others} shared nodes "
            f"kept for other documents, {result.nodes_now_references} kept as references, "
            f"{result.telemetry_deleted} telemetry entities and {result.payloads_stripped} payloads dropped"
        )
    return 0


def _show_plan(plans: list[Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps([dataclasses.asdict(p) for p in plans], indent=2))
        return
    if not plans:
        print("nothing matches: no run or document would go")
        return
    verb = "would lose payloads" if args.keep_lineage else "would go"
    for item in plans:
        what = item.run or item.doc
        when = item.end_time or item.start_time or "?"
        print(
            f"{what}  {item.workflow or '-'}  ended {when}: {item.nodes_alone} nodes, {item.relationships} "
            f"relationships, {item.namespaces} namespaces {verb}"
            + (f" ({item.telemetry} telemetry)" if item.telemetry else "")
            + (f"; {item.nodes_shared} nodes other documents declared stay" if item.nodes_shared else "")
        )
        if args.dry_run and not args.keep_lineage:
            for element in item.elements:
                print(f"    {element}")
