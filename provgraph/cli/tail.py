"""``provgraph tail``: watch provenance arrive, one line per event (or ``--json`` lines).

Examples::

    provgraph tail                                  # everything from now on, until Ctrl-C
    provgraph tail --workflow train --status ERROR  # failed tasks of one workflow
    provgraph tail --run pgid:run_ab12_1 --kind task --kind llm
    provgraph tail --since 1h --no-follow           # what the graph got in the last hour, then stop
    provgraph tail --json | jq .event               # JSON lines for tools
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from provgraph.cli.query import _client


def register(subparsers: Any) -> None:
    tail = subparsers.add_parser(
        "tail",
        help="watch records arrive, one line per event (runs, tasks, LLM calls, telemetry)",
        description=(
            "Follow the record stream live (plain XREAD: the loader's consumer group is not touched), after what "
            "the graph already holds with --since. See docs/tail.md."
        ),
    )
    tail.add_argument("--run", metavar="ID", help="only this run")
    tail.add_argument("--workflow", metavar="NAME", help="only runs of this workflow name")
    tail.add_argument("--campaign", metavar="ID", help="only runs of this campaign")
    tail.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=("run", "task", "llm", "telemetry"),
        help="only these kinds of event (repeatable)",
    )
    tail.add_argument(
        "--status", metavar="STATUS", help="only events with this status (FINISHED, ERROR, RUNNING)"
    )
    tail.add_argument(
        "--since",
        metavar="WHEN",
        help="first show what the graph holds since WHEN (30s, 10m, 2h, 7d, or ISO time)",
    )
    tail.add_argument(
        "--no-follow", action="store_true", help="do not follow the stream (with --since: history only)"
    )
    tail.add_argument(
        "--from-id", metavar="ENTRY", help="follow from this stream entry id (0: the whole stream)"
    )
    tail.add_argument(
        "--idle-exit", type=float, metavar="SECONDS", help="stop after SECONDS with no new stream entry"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.set_defaults(func=_tail)


def _tail(args: argparse.Namespace) -> int:
    from provgraph.tail import as_json_lines

    with _client(args) as client:
        events = client.tail(
            run=args.run,
            workflow=args.workflow,
            campaign=args.campaign,
            kinds=args.kind,
            status=args.status,
            since=args.since,
            follow=not args.no_follow,
            start_id=args.from_id,
            idle_timeout_s=args.idle_exit,
        )
        if not args.json and not args.no_follow:
            print("following the record stream (Ctrl-C stops)", file=sys.stderr, flush=True)
        lines = as_json_lines(events) if args.json else (event.line() for event in events)
        try:
            for line in lines:
                print(line, flush=True)
        except KeyboardInterrupt:
            return 0
    return 0
