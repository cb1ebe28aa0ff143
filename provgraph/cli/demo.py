"""``provgraph demo``: the first command to run. A realistic workflow, captured, loaded, queried and exported.

With the default settings it runs on the embedded server (no Neo4j or Redis needed) under ``$PROVGRAPH_HOME``;
with ``PROVGRAPH_GRAPH_URL``/``PROVGRAPH_REDIS_URL`` set it runs on Neo4j and Redis the same way.

Examples::

    provgraph demo                       # runs, loads, prints lineage tables, writes exports to $PROVGRAPH_HOME/demo
    provgraph demo --out /tmp/demo       # exports elsewhere
    provgraph demo --fresh               # start from an empty embedded data directory
    provgraph demo --queries-graph       # load the example graph of docs/queries.md instead
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run an example workflow, load it, print lineage answers, export PROV (start here)",
        description=(
            "Run a small realistic workflow (data preparation, a training loop with telemetry, a file shared "
            "between two runs) with capture, load it into the graph, print lineage answers and write PROV-JSON "
            "and Turtle exports. Uses the embedded server by default; nothing is left running afterwards."
        ),
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        help="where its files go: the workflow's data and model, the exports (default $PROVGRAPH_HOME/demo)",
    )
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="delete the embedded data directory first (otherwise a second run adds to the same graph)",
    )
    demo.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    demo.add_argument(
        "--queries-graph",
        action="store_true",
        help="instead: load the example graph that docs/queries.md asks its questions of, and stop",
    )
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from capture.settings import Settings
    from provgraph.demo import run_demo

    settings = Settings.load(getattr(args, "settings", None))
    if args.queries_graph:
        from provgraph.demo import load_queries_graph

        return load_queries_graph(settings)
    return run_demo(settings, out_dir=args.out, fresh=args.fresh, epochs=args.epochs)
