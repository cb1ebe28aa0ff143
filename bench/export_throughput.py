"""Export throughput: a 100,000-record workflow run exported from Neo4j as PROV-JSON and as Turtle.

Builds a run in capture's vocabulary (per task: the task activity, its output entity, ``used`` of the previous
output with a role, ``wasGeneratedBy``, ``wasStartedBy`` the run: five records), loads it through the loader into
the Neo4j at ``$PROVGRAPH_GRAPH_URL`` (default bolt://127.0.0.1:7687) under a unique document and namespace,
exports it (graph reads, document rebuild, serialisation: the whole `provgraph export`) to PROV-JSON and Turtle,
and deletes what it created. For scale it also times ``prov`` alone writing the same document from memory, so the
ratio shows what reading the graph adds.

    python bench/export_throughput.py [--records 100000]

The last line is one JSON object: records, json_records_per_s, turtle_records_per_s, peak_rss_mb, and more.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from capture import wire  # noqa: E402
from capture.settings import Settings  # noqa: E402


def build_messages(doc: str, namespace: str, records: int, per_message: int = 5000) -> list[wire.Message]:
    """A run of ``records`` records (five per task), in messages of ``per_message`` records."""
    rows: list[dict] = [
        wire.element(
            "activity",
            "b:run",
            attrs=[["prov:type", wire.qualified_name("pg:WorkflowRun")], ["pg:name", "export-bench"]],
            formal={"startTime": "2026-01-01T00:00:00+00:00"},
        )
    ]
    task = 0
    while len(rows) + 5 <= records:
        started = f"2026-01-01T00:{task // 3600 % 60:02d}:{task % 60:02d}+00:00"
        rows.append(
            wire.element(
                "activity",
                f"b:task{task}",
                attrs=[
                    ["prov:type", wire.qualified_name("pg:Task")],
                    ["pg:name", "step"],
                    ["pg:status", "FINISHED"],
                    ["pg:duration_s", 0.25],
                ],
                formal={"startTime": started, "endTime": started},
            )
        )
        rows.append(
            wire.element("entity", f"b:out{task}", attrs=[["pg:value", task], ["prov:label", f"out {task}"]])
        )
        if task:
            rows.append(
                wire.relation(
                    "used",
                    attrs=[["prov:role", "input"]],
                    activity=f"b:task{task}",
                    entity=f"b:out{task - 1}",
                )
            )
        else:
            rows.append(wire.relation("used", activity="b:task0", entity="b:run_input"))
        rows.append(
            wire.relation("wasGeneratedBy", entity=f"b:out{task}", activity=f"b:task{task}", time=started)
        )
        rows.append(wire.relation("wasStartedBy", activity=f"b:task{task}", starter="b:run"))
        task += 1
    rows.extend(
        wire.element("entity", f"b:extra{i}") for i in range(records - len(rows))
    )  # exactly `records`
    namespaces = {"b": namespace}
    return [
        wire.Message(doc=doc, records=rows[i : i + per_message], namespaces=namespaces)
        for i in range(0, len(rows), per_message)
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()

    from provgraph.graph import open_backend
    from provgraph.loader import load_messages
    from provgraph.prov.export import export, export_document, serialize

    token = uuid.uuid4().hex[:12]
    doc = f"pgid:bench_export_{token}"
    namespace = f"https://example.org/bench/export/{token}/"
    settings = Settings.load(graph_url=os.environ.get("PROVGRAPH_GRAPH_URL", "bolt://127.0.0.1:7687"))
    messages = build_messages(doc, namespace, args.records)
    records = sum(len(m.records) for m in messages)
    result: dict = {"records": records}
    with open_backend(settings) as backend:
        backend.ensure_schema()
        try:
            start = time.perf_counter()
            load_messages(backend, messages)
            result["load_s"] = round(time.perf_counter() - start, 2)
            print(f"loaded {records} records in {result['load_s']} s", file=sys.stderr, flush=True)
            del messages
            for fmt, key in (("json", "json"), ("turtle", "turtle")):
                with open(os.devnull, "w") as sink:
                    start = time.perf_counter()
                    export(backend, doc=doc, fmt=fmt, out=sink)
                    elapsed = time.perf_counter() - start
                result[f"{key}_s"] = round(elapsed, 2)
                result[f"{key}_records_per_s"] = round(records / elapsed)
                print(f"{fmt}: {records} records in {elapsed:.2f} s", file=sys.stderr, flush=True)
            result["peak_rss_mb"] = round(peak_rss_mb(), 1)
            # prov alone, from the document already in memory: what the store's reads add on top
            document = export_document(backend, doc=doc)
            start = time.perf_counter()
            serialize(document, "json")
            alone = time.perf_counter() - start
            result["json_prov_alone_records_per_s"] = round(records / alone)
            result["json_export_vs_prov_alone"] = round(result["json_s"] / alone, 2)
        finally:
            _delete(backend, doc, namespace)
    print(json.dumps(result))
    return 0


def _delete(backend, doc: str, namespace: str) -> None:
    """Remove exactly what this benchmark created: its namespace's nodes, its document and namespace nodes."""
    delete = backend.render("export/bench_delete_elements")
    remaining = backend.render("export/bench_remaining")
    while backend.read(remaining, {"prefix": namespace}, tag="bench/remaining")[0]["remaining"]:
        backend.write([(delete, {"prefix": namespace, "batch": 10_000})], tag="bench/delete")
    backend.write([(backend.render("export/bench_delete_document"), {"doc": doc})], tag="bench/delete")


if __name__ == "__main__":
    sys.exit(main())
