"""``provgraph tokens``: LLM tokens and cost of a run, of a task tree, per step, or of a result end to end.

Examples::

    provgraph tokens pgid:run_1234                 # the run's totals
    provgraph tokens pgid:run_1234 --by-step       # each step with its subtree's usage, most tokens first
    provgraph tokens pgid:task_ab_7                # one task and everything it started
    provgraph tokens pgid:val_ab_9_o0 --lineage    # what this result cost end to end (everything upstream)
"""

from __future__ import annotations

import argparse
from typing import Any

from provgraph.cli.query import _client, _print


def register(subparsers: Any) -> None:
    tokens = subparsers.add_parser(
        "tokens",
        help="LLM tokens and cost of a run, a task tree, or a result end to end",
        description=(
            "LLM tokens and cost rolled up from the calls recorded by capture.agent_task and "
            "capture.record_llm_call (docs/tokens.md)."
        ),
    )
    tokens.add_argument("id", metavar="ID", help="a run or task (or, with --lineage, a result): id or URI")
    scope = tokens.add_mutually_exclusive_group()
    scope.add_argument("--by-step", action="store_true", help="one row per step of the run, with its subtree")
    scope.add_argument("--lineage", action="store_true", help="sum every activity upstream of the result ID")
    tokens.add_argument("--limit", type=int, default=1000, help="at most this many steps (default 1000)")
    tokens.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tokens.add_argument("--wide", action="store_true", help="show every column")
    tokens.set_defaults(func=_tokens)


def _tokens(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.by_step:
            steps = client.token_usage_by_step(args.id, limit=args.limit)
            columns = ["depth", "name", "calls", "tokens_in", "tokens_out", "tokens_total", "cost", "id"]
            _print(steps, args, columns)
            return 0
        totals = client.token_usage_lineage(args.id) if args.lineage else client.token_usage(args.id)
    columns = ["calls", "tokens_in", "tokens_out", "tokens_total", "cost", "models"]
    if args.lineage:
        columns.insert(0, "activities")
    _print([totals], args, columns)
    return 0
