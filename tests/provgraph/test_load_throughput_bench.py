"""bench/load_throughput.py at a tiny size on the real Redis and Neo4j: every phase runs, the last line carries the
issue's keys with figures that add up, and the benchmark deletes what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from _known_graph import NEO4J_URI

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_load_throughput_bench_small(tmp_path, neo4j_backend):
    env = {
        **os.environ,
        "PROVGRAPH_GRAPH_URL": NEO4J_URI,
        "PROVGRAPH_REDIS_URL": REDIS_URL,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("PROVGRAPH_SETTINGS", None)
    args = ["--records", "2000", "--repeat", "2", "--warmup-records", "500", "--baseline-records", "20"]
    args += ["--latency-rate", "500", "--latency-seconds", "1"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_throughput.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("loader_records_per_s", "baseline_records_per_s", "speedup", "latency_p50_s", "latency_p95_s"):
        assert result[key] > 0, key
    assert len(result["loader_runs_records_per_s"]) == 2
    assert result["loader_records_per_s"] in result["loader_runs_records_per_s"]
    assert result["graph_only_records_per_s"] > 0
    assert abs(result["speedup"] - result["loader_records_per_s"] / result["baseline_records_per_s"]) < 0.1
    assert result["latency_p50_s"] <= result["latency_p95_s"] <= result["latency_max_s"]
    left, _, _ = neo4j_backend.driver.execute_query(
        "MATCH (n:Element) WHERE n.key STARTS WITH 'https://w3id.org/provgraph/id/bench_' RETURN count(n) AS c"
    )
    assert left[0]["c"] == 0
