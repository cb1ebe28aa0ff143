"""bench/query_latency.py at a tiny size on the real Neo4j: it runs, reports every key, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from _known_graph import NEO4J_URI

ROOT = Path(__file__).resolve().parents[2]


def test_query_latency_bench_small(tmp_path):
    env = {**os.environ, "PROVGRAPH_GRAPH_URL": NEO4J_URI, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("PROVGRAPH_SETTINGS", None)
    args = ["--runs", "8", "--tasks", "12", "--files", "2", "--samples", "3", "--runs-per-batch", "4"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "query_latency.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("nodes", "lineage_p50_ms", "lineage_p95_ms", "impact_p50_ms", "cross_workflow_p50_ms"):
        assert key in result, key
    assert result["nodes"] == 8 * (1 + 12 * 4) + 2
    assert result["relationships"] == 8 * 12 * 7
    # depth 20 from the last output of a 12-task chain reaches the whole chain: 12 tasks, 12 parameters, 11 earlier
    # outputs and the file (telemetry left out)
    assert result["lineage_rows"] == 36
    assert result["cross_workflow_rows"] == 3  # the file is shared with the 3 other runs that read it
    assert (
        f"deleted {result['nodes'] + 16:,} nodes" in done.stdout
    )  # elements, then 8 documents + 8 namespaces
