"""``provgraph import mlflow``: MLflow runs imported after the fact (docs/adapters.md, "MLflow")."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def import_mlflow_command(args: argparse.Namespace, settings: Any) -> int:
    from provgraph.adapters import import_mlflow
    from provgraph.errors import ConfigurationError
    from provgraph.graph import open_backend
    from provgraph.redaction import redact_url

    if args.via_stream or args.doc or args.format:
        raise ConfigurationError(
            "`provgraph import mlflow` writes to the graph directly: no --via-stream, --doc, --format"
        )
    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        raise ConfigurationError(
            "`provgraph import mlflow` needs --tracking-uri URI (or $MLFLOW_TRACKING_URI)"
        )

    def progress(doc: str, records: int) -> None:
        print(f"  {doc}: {records} records", file=sys.stderr, flush=True)

    with open_backend(settings) as backend:
        backend.ensure_schema()
        result = import_mlflow(
            backend, tracking_uri, experiments=args.experiment, run_ids=args.run_id, progress=progress
        )
    print(f"imported {result.runs} MLflow runs ({result.records} records) from {redact_url(tracking_uri)}")
    return 0
