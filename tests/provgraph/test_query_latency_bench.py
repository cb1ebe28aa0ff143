"""bench/query_latency.py at a tiny size on the real Neo4j: it runs, reports every key, and leaves nothing behind."""

from __future__ import annotations

import pytest
from _bench_run import run_bench


@pytest.mark.services  # the benchmark runs on Neo4j and the embedded server
def test_query_latency_bench_small(tmp_path):
    args = ["--runs", "8", "--tasks", "12", "--files", "2", "--samples", "3", "--runs-per-batch", "4"]
    result, stdout = run_bench("query_latency.py", args, tmp_path)
    for key in ("nodes", "lineage_p50_ms", "lineage_p95_ms", "impact_p50_ms", "cross_workflow_p50_ms"):
        assert key in result, key
    assert result["nodes"] == 8 * (1 + 12 * 4) + 2
    assert result["relationships"] == 8 * 12 * 7
    # depth 20 from the last output of a 12-task chain reaches the whole chain: 12 tasks, 12 parameters, 11 earlier
    # outputs and the file (telemetry left out)
    assert result["lineage_rows"] == 36
    assert result["cross_workflow_rows"] == 3  # the file is shared with the 3 other runs that read it
    assert f"deleted {result['nodes'] + 16:,} nodes" in stdout  # elements, then 8 documents + 8 namespaces
