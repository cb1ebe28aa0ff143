"""Query latency on a graph of at least a million nodes: upstream lineage, downstream impact, cross-workflow join.

Builds many synthetic workflow runs in capture's vocabulary and writes them through the real loader
(`provgraph.loader.load_messages`) into the Neo4j at ``$PROVGRAPH_GRAPH_URL`` (default bolt://127.0.0.1:7687),
under a namespace of its own. Each run: a WorkflowRun; a chain of tasks where each task uses the previous output
and a parameter, generates an output (with wasDerivedFrom from both inputs) and one end-of-task telemetry entity;
the first task reads one of a pool of shared input files, so every file is read by many runs of several
workflows. Then it times, through `provgraph.Client` (so the Bolt round trip is included):

- ``lineage_upstream`` of a run's last output, depth 20;
- ``impact_downstream`` of a run's first output, depth 20;
- ``shared_entities`` of a run (the runs and workflows that read the same file: the cross-workflow join).

At the end it deletes everything it created, in batches of 10,000 nodes.

    python bench/query_latency.py                      # about 1,000,000 nodes
    python bench/query_latency.py --runs 50 --samples 20   # a quick look

The last line is one JSON object: nodes, relationships, runs, load_s, nodes_per_s, lineage_p50_ms,
lineage_p95_ms, impact_p50_ms, impact_p95_ms, cross_workflow_p50_ms, cross_workflow_p95_ms and more.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture import wire  # noqa: E402
from capture.settings import Settings  # noqa: E402

QN = wire.qualified_name
TASK_TYPE = QN("pg:Task")
RUN_TYPE = QN("pg:WorkflowRun")
FILE_TYPE = QN("pg:File")
TELEMETRY_TYPE = QN("pg:Telemetry")
NODES_PER_TASK = 4  # task, parameter, output, telemetry


def _time(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(1_767_225_600 + seconds))


def run_records(run: int, tasks: int, files: int, workflows: int) -> list[dict]:
    """The records of one synthetic run (ids in the bench namespace ``qb:``)."""
    run_id = f"qb:run{run}"
    start = run * 1000
    records = [
        wire.element(
            "activity",
            run_id,
            attrs=[
                ["prov:type", RUN_TYPE],
                ["pg:name", f"workflow{run % workflows}"],
                ["pg:status", "FINISHED"],
            ],
            formal={"startTime": _time(start), "endTime": _time(start + tasks)},
        )
    ]
    shared = f"qb:file{run % files}"
    records.append(
        wire.element(
            "entity", shared, attrs=[["prov:type", FILE_TYPE], ["pg:path", f"/data/input{run % files}.csv"]]
        )
    )
    previous = shared
    for index in range(tasks):
        task = f"qb:r{run}t{index}"
        param = f"qb:r{run}p{index}"
        output = f"qb:r{run}o{index}"
        telemetry = f"qb:r{run}m{index}"
        when = _time(start + index)
        records += [
            wire.element(
                "activity",
                task,
                attrs=[
                    ["prov:type", TASK_TYPE],
                    ["pg:name", f"step{index % 7}"],
                    ["pg:status", "FINISHED"],
                    ["pg:duration_s", 0.5 + index % 5],
                ],
                formal={"startTime": when, "endTime": when},
            ),
            wire.relation("wasStartedBy", activity=task, starter=run_id, time=when),
            wire.element("entity", param, attrs=[["pg:role", "alpha"], ["prov:value", index % 11]]),
            wire.relation("used", attrs=[["prov:role", "data"]], activity=task, entity=previous, time=when),
            wire.relation("used", attrs=[["prov:role", "alpha"]], activity=task, entity=param, time=when),
            wire.element("entity", output, attrs=[["pg:role", "result"], ["prov:value", run * 7 + index]]),
            wire.relation(
                "wasGeneratedBy", attrs=[["prov:role", "result"]], entity=output, activity=task, time=when
            ),
            wire.relation("wasDerivedFrom", generatedEntity=output, usedEntity=previous, activity=task),
            wire.relation("wasDerivedFrom", generatedEntity=output, usedEntity=param, activity=task),
            wire.element(
                "entity",
                telemetry,
                attrs=[
                    ["prov:type", TELEMETRY_TYPE],
                    ["pg:phase", "end"],
                    ["pg:process_rss_bytes", 10**8 + index],
                ],
            ),
            wire.relation("wasGeneratedBy", entity=telemetry, activity=task, time=when),
        ]
        previous = output
    return records


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _time_query(client, name: str, params_list: list[dict]) -> list[float]:
    timings = []
    for params in params_list:
        started = time.perf_counter()
        rows = client.run(name, **params)
        timings.append((time.perf_counter() - started) * 1000)
        if not rows:
            raise RuntimeError(f"{name} returned nothing for {params}: the graph is not what the bench built")
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5000, help="synthetic workflow runs (default 5000)")
    parser.add_argument("--tasks", type=int, default=50, help="tasks per run (default 50: ~200 nodes a run)")
    parser.add_argument("--files", type=int, default=100, help="shared input files (default 100)")
    parser.add_argument("--workflows", type=int, default=7, help="workflow names (default 7)")
    parser.add_argument("--samples", type=int, default=200, help="timed queries of each kind (default 200)")
    parser.add_argument("--runs-per-batch", type=int, default=25, help="runs per load_messages call")
    parser.add_argument("--keep", action="store_true", help="do not delete the graph at the end")
    args = parser.parse_args(argv)
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)

    from provgraph.client import Client
    from provgraph.graph import open_backend
    from provgraph.loader import load_messages

    token = uuid.uuid4().hex[:10]
    namespace = f"https://example.org/provgraph-bench/{token}/"
    settings = Settings.load(graph_url=os.environ.get("PROVGRAPH_GRAPH_URL", "bolt://127.0.0.1:7687"))
    backend = open_backend(settings)
    client = Client(settings, backend=backend)
    expected_nodes = args.runs * (1 + args.tasks * NODES_PER_TASK) + min(args.files, args.runs)
    print(
        f"query_latency: {args.runs} runs x {args.tasks} tasks, about {expected_nodes:,} nodes, "
        f"namespace {namespace}",
        flush=True,
    )
    try:
        started = time.perf_counter()
        records_total = relationships = 0
        for first in range(0, args.runs, args.runs_per_batch):
            messages = []
            for run in range(first, min(args.runs, first + args.runs_per_batch)):
                records = run_records(run, args.tasks, args.files, args.workflows)
                records_total += len(records)
                relationships += sum(1 for record in records if record["k"] in wire.RELATIONS)
                payload = wire.encode_message(f"qb-{token}-run{run}", records, namespaces={"qb": namespace})
                messages.append(wire.decode_message(payload))
            load_messages(backend, messages)
            done = min(args.runs, first + args.runs_per_batch)
            if done % max(args.runs_per_batch, args.runs // 20) < args.runs_per_batch or done == args.runs:
                elapsed = time.perf_counter() - started
                print(
                    f"  loaded {done}/{args.runs} runs, {records_total:,} records, {elapsed:.0f} s",
                    flush=True,
                )
        load_s = time.perf_counter() - started
        nodes = client.cypher(backend.render("bench/count_elements"), prefix=namespace)[0]["n"]
        print(f"  graph: {nodes:,} nodes, {relationships:,} relationships in {load_s:.0f} s", flush=True)

        rng = random.Random(7)
        picks = [rng.randrange(args.runs) for _ in range(args.samples)]
        lineage = [{"ref": f"{namespace}r{r}o{args.tasks - 1}", "depth": 20, "limit": 1000} for r in picks]
        impact = [{"ref": f"{namespace}r{r}o0", "depth": 20, "limit": 1000} for r in picks]
        join = [{"run": f"{namespace}run{r}", "limit": 1000} for r in picks]
        for name, params in (
            ("lineage_upstream", lineage),
            ("impact_downstream", impact),
            ("shared_entities", join),
        ):
            _time_query(client, name, params[:10])  # warm the plan cache and the pages
        lineage_ms = _time_query(client, "lineage_upstream", lineage)
        impact_ms = _time_query(client, "impact_downstream", impact)
        join_ms = _time_query(client, "shared_entities", join)
        sizes = {
            "lineage_rows": len(client.run("lineage_upstream", **lineage[0])),
            "impact_rows": len(client.run("impact_downstream", **impact[0])),
            "cross_workflow_rows": len(client.run("shared_entities", **join[0])),
        }
        for label, values in (("lineage", lineage_ms), ("impact", impact_ms), ("cross_workflow", join_ms)):
            print(
                f"  {label:15} p50 {statistics.median(values):7.1f} ms   p95 {_percentile(values, 0.95):7.1f} ms",
                flush=True,
            )
    finally:
        if not args.keep:
            deleted = _delete(client, backend, namespace, f"qb-{token}-")
            print(f"  deleted {deleted:,} nodes", flush=True)
        backend.close()

    result = {
        "nodes": nodes,
        "relationships": relationships,
        "runs": args.runs,
        "tasks_per_run": args.tasks,
        "records": records_total,
        "load_s": round(load_s, 1),
        "nodes_per_s": round(nodes / load_s),
        "samples": args.samples,
        "lineage_depth": 20,
        "lineage_p50_ms": round(statistics.median(lineage_ms), 2),
        "lineage_p95_ms": round(_percentile(lineage_ms, 0.95), 2),
        "impact_p50_ms": round(statistics.median(impact_ms), 2),
        "impact_p95_ms": round(_percentile(impact_ms, 0.95), 2),
        "cross_workflow_p50_ms": round(statistics.median(join_ms), 2),
        "cross_workflow_p95_ms": round(_percentile(join_ms, 0.95), 2),
        "lineage_target_met": statistics.median(lineage_ms) < 50,
        **sizes,
    }
    print(json.dumps(result))
    return 0


def _delete(client, backend, namespace: str, doc_prefix: str) -> int:
    """Delete the bench's nodes (and their relationships), documents and namespaces, 10,000 nodes at a time."""
    deleted = 0
    for what, prefix in (("elements", namespace), ("documents", doc_prefix)):
        count = backend.render(f"bench/count_{what}")
        remaining = client.cypher(count, prefix=prefix)[0]["n"]
        while remaining:
            backend.write(
                [(backend.render(f"bench/delete_{what}"), {"prefix": prefix})], tag=f"bench/delete_{what}"
            )
            deleted += min(remaining, 10_000)
            remaining = client.cypher(count, prefix=prefix)[0]["n"]
    return deleted


if __name__ == "__main__":
    sys.exit(main())
