"""The embedded default (FalkorDB in the managed redis-server) against Neo4j, on the same workload, in one run.

Runs `bench/query_latency.py` (synthetic workflow runs written through the real loader, then lineage, impact and
cross-workflow queries through `provgraph.Client`) once with ``PROVGRAPH_GRAPH_URL=embedded`` (a fresh data
directory) and once against Neo4j (``$PROVGRAPH_TEST_NEO4J_URI``, default bolt://127.0.0.1:7687), with the same
arguments and seed; and times the embedded server's start and clean stop.

    python bench/embedded_vs_neo4j.py                        # 200 runs x 50 tasks, about 40,000 nodes
    python bench/embedded_vs_neo4j.py --runs 1000 --samples 100

The last line is one JSON object: embedded_start_s, embedded_stop_s, and for each of embedded and neo4j:
nodes, load_s, nodes_per_s, lineage_p50_ms, impact_p50_ms, cross_workflow_p50_ms; then the ratios
load_speed_ratio (embedded nodes/s over Neo4j's) and lineage_p50_ratio, impact_p50_ratio,
cross_workflow_p50_ratio (embedded latency over Neo4j's: below 1 means the embedded engine is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KEYS = ("nodes", "load_s", "nodes_per_s", "lineage_p50_ms", "impact_p50_ms", "cross_workflow_p50_ms")


def _query_latency(graph_url: str, home: str, extra: list[str]) -> dict:
    env = {**os.environ, "PROVGRAPH_GRAPH_URL": graph_url, "PROVGRAPH_HOME": home, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "query_latency.py"), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"query_latency on {graph_url} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )
    for line in done.stdout.splitlines()[:-1]:
        print(f"  [{graph_url}] {line}", flush=True)
    return json.loads(done.stdout.splitlines()[-1])


def _start_stop(home: str, repeat: int) -> tuple[float, float]:
    from provgraph.services.embedded import EmbeddedServer

    starts, stops = [], []
    for _ in range(repeat):
        server = EmbeddedServer(home)
        began = time.perf_counter()
        server.start()
        starts.append(time.perf_counter() - began)
        began = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - began)
    return statistics.median(starts), statistics.median(stops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="synthetic workflow runs (default 200)")
    parser.add_argument("--tasks", type=int, default=50, help="tasks per run (default 50)")
    parser.add_argument("--files", type=int, default=20, help="shared input files (default 20)")
    parser.add_argument("--samples", type=int, default=50, help="timed queries of each kind (default 50)")
    args = parser.parse_args(argv)
    extra = ["--runs", str(args.runs), "--tasks", str(args.tasks), "--files", str(args.files)]
    extra += ["--samples", str(args.samples)]
    neo4j_url = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")

    with tempfile.TemporaryDirectory(prefix="provgraph-bench-") as home:
        start_s, stop_s = _start_stop(home, 5)
        print(
            f"embedded server: start {start_s * 1000:.0f} ms, clean stop {stop_s * 1000:.0f} ms (median of 5)"
        )
        embedded = _query_latency("embedded", home, extra)
    neo4j = _query_latency(neo4j_url, tempfile.gettempdir(), extra)

    print(f"{'':24}{'embedded':>12}{'neo4j':>12}")
    for key in KEYS:
        print(f"{key:24}{embedded[key]:>12}{neo4j[key]:>12}")
    result = {
        "embedded_start_s": round(start_s, 3),
        "embedded_stop_s": round(stop_s, 3),
        **{f"embedded_{key}": embedded[key] for key in KEYS},
        **{f"neo4j_{key}": neo4j[key] for key in KEYS},
        "load_speed_ratio": round(embedded["nodes_per_s"] / neo4j["nodes_per_s"], 2),
        "lineage_p50_ratio": round(embedded["lineage_p50_ms"] / neo4j["lineage_p50_ms"], 2),
        "impact_p50_ratio": round(embedded["impact_p50_ms"] / neo4j["impact_p50_ms"], 2),
        "cross_workflow_p50_ratio": round(
            embedded["cross_workflow_p50_ms"] / neo4j["cross_workflow_p50_ms"], 2
        ),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
