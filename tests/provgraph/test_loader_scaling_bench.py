"""bench/loader_scaling.py at a tiny size: its own Redis Cluster and the shared test Redis, 1 and 2 `provgraph load`
processes each; the last line carries a figure per loader count and transport, and what it wrote is deleted."""

from __future__ import annotations

import pytest
from _bench_run import run_bench

pytestmark = pytest.mark.services  # starts its own Redis Cluster and loader processes


def test_loader_scaling_bench_small(tmp_path, neo4j_backend):
    args = ["--records", "600", "--runs", "3", "--repeat", "1", "--warmup-records", "0", "--loaders", "1,2"]
    result, _ = run_bench("loader_scaling.py", args, tmp_path)
    for transport in ("cluster", "single"):
        curve = result[f"{transport}_records_per_s"]
        assert set(curve) == {"1", "2"} and all(value > 0 for value in curve.values()), result
        assert result[f"{transport}_speedup"]["1"] == 1.0
        assert all(value > 0 for value in result[f"{transport}_loader_cpu_us_per_record"].values())
    assert result["partitions"] == 6
    left, _, _ = neo4j_backend.driver.execute_query(
        "MATCH (n:Element) WHERE n.key STARTS WITH $prefix RETURN count(n) AS c",
        {"prefix": f"https://w3id.org/provgraph/id/bench_{result['token']}_"},
    )
    assert left[0]["c"] == 0
