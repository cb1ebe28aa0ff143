"""bench/load_throughput.py at a tiny size on the real Redis and Neo4j: every phase runs, the last line carries the
issue's keys with figures that add up (ceiling ratio and tasks/s included), and the benchmark deletes what it
wrote. Both wire versions run by default: version 1's figures are the top-level keys, version 2's (compact task
events the loader expands) the same keys with ``v2_``."""

from __future__ import annotations

from _bench_run import run_bench


def test_load_throughput_bench_small(tmp_path, neo4j_backend):
    args = ["--records", "2000", "--repeat", "2", "--warmup-records", "500", "--baseline-records", "20"]
    args += ["--latency-rate", "500", "--latency-seconds", "1"]
    result, _ = run_bench("load_throughput.py", args, tmp_path)
    for key in (
        "loader_records_per_s",
        "baseline_records_per_s",
        "speedup",
        "latency_p50_s",
        "latency_p95_s",
    ):
        assert result[key] > 0, key
    assert len(result["loader_runs_records_per_s"]) == 2
    assert result["loader_records_per_s"] in result["loader_runs_records_per_s"]
    assert result["graph_only_records_per_s"] > 0
    assert len(result["graph_only_runs_records_per_s"]) == 2
    assert result["graph_only_records_per_s"] in result["graph_only_runs_records_per_s"]
    ratio = result["loader_records_per_s"] / result["graph_only_records_per_s"]
    assert abs(result["ceiling_ratio_of_medians"] - ratio) < 0.01
    rounds = sorted(result["ceiling_ratio_rounds"])
    assert len(rounds) == 2 and abs(result["ceiling_ratio"] - (rounds[0] + rounds[1]) / 2) < 0.01
    assert abs(result["loader_tasks_per_s"] * result["records_per_task"] - result["loader_records_per_s"]) < 1
    # CPU per record of the benchmark's own process, in both phases (servers only with --cpu-pid)
    assert result["loader_cpu_us_per_record"]["self"] > 0
    assert result["graph_only_cpu_us_per_record"]["self"] > 0
    # wire version 2 (compact events): its own rounds against its own graph-only runs, same shape of figures
    assert result["wire_version"] == 1
    assert len(result["v2_loader_runs_records_per_s"]) == 2
    assert result["v2_loader_records_per_s"] in result["v2_loader_runs_records_per_s"]
    assert len(result["v2_graph_only_runs_records_per_s"]) == 2
    v2_ratio = result["v2_loader_records_per_s"] / result["v2_graph_only_records_per_s"]
    assert abs(result["v2_ceiling_ratio_of_medians"] - v2_ratio) < 0.01
    assert len(result["v2_ceiling_ratio_rounds"]) == 2
    assert abs(result["v2_loader_tasks_per_s"] * 10 - result["v2_loader_records_per_s"]) < 1
    assert abs(result["speedup"] - result["loader_records_per_s"] / result["baseline_records_per_s"]) < 0.1
    assert result["latency_p50_s"] <= result["latency_p95_s"] <= result["latency_max_s"]
    # nothing left: version 1's ids, and version 2's task and value ids (pgid:task_<prefix>_<n>, pgid:val_...)
    for kind in ("", "task_", "val_"):
        left, _, _ = neo4j_backend.driver.execute_query(
            "MATCH (n:Element) WHERE n.key STARTS WITH $prefix RETURN count(n) AS c",
            prefix=f"https://w3id.org/provgraph/id/{kind}bench_{result['run_id']}_",
        )
        assert left[0]["c"] == 0, kind
