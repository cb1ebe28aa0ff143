"""Every named query in cypher/ on the real graph server, against the known graph: exact results.

The known graph (`_known_graph.py`) has two runs of one workflow, a run of another workflow reading the same file,
a failed task, nested tasks and telemetry; every id embeds a fresh token, so the shared database does not matter.
"""

from __future__ import annotations

from typing import Any

import pytest
from _known_graph import build, delete, load

from provgraph.client import Client, InputValue
from provgraph.errors import QueryError, UnknownId
from provgraph.graph.cypher import catalogue


@pytest.fixture(scope="module")
def client(graph_backend: Any) -> Client:
    return Client(backend=graph_backend)


def _steps(rows: list[dict[str, Any]], *fields: str) -> list[tuple[Any, ...]]:
    return [tuple(row[f] for f in fields) for row in rows]


def test_every_query_has_a_documented_header():
    names = {query.name for query in catalogue()}
    assert {
        "lineage_upstream",
        "impact_downstream",
        "derivation_chain",
        "provenance_since",
        "task_tree",
        "shared_entities",
        "entity_runs",
        "campaign_products",
        "run_diff",
        "failed_tasks",
        "slowest_tasks",
        "peak_resources",
        "associations",
        "runs",
    } <= names
    for query in catalogue():
        assert query.header.startswith(f"{query.name}: "), query.name
        assert "Parameters:" in query.header and "Returns" in query.header, query.name
        for parameter in {p for p in query.text.split() if p.startswith("$")}:
            name = parameter[1:].rstrip(")],")
            assert f"${name}" in query.header, f"{query.name}: ${name} is not documented"


def test_lineage_upstream_exact(client, known_graph):
    g = known_graph
    rows = client.run("lineage_upstream", ref=g.id("a.model"), depth=20, limit=100)
    assert _steps(rows, "depth", "id", "relation", "via") == [
        (1, g.id("a.cleaned"), "wasDerivedFrom", g.id("a.model")),
        (1, g.id("a.train"), "wasGeneratedBy", g.id("a.model")),
        (2, g.id("a.clean"), "wasGeneratedBy", g.id("a.cleaned")),
        (2, g.id("a.rows"), "wasDerivedFrom", g.id("a.cleaned")),
        (2, g.id("a.threshold"), "wasDerivedFrom", g.id("a.cleaned")),
        (3, g.id("a.load"), "wasGeneratedBy", g.id("a.rows")),
        (3, g.id("file"), "wasDerivedFrom", g.id("a.rows")),
    ]
    by_id = {row["id"]: row for row in rows}
    assert by_id[g.id("file")]["name"] == "/data/dataset.csv"
    assert sorted(by_id[g.id("file")]["labels"]) == ["Entity", "File"]
    assert by_id[g.id("a.threshold")]["value"] == 0.5
    assert by_id[g.id("a.train")]["name"] == "train"
    assert by_id[g.id("a.train")]["key"] == g.key("a.train")


def test_lineage_upstream_depth_limit_and_key(client, known_graph):
    g = known_graph
    shallow = client.run("lineage_upstream", ref=g.id("a.model"), depth=2, limit=100)
    assert [row["id"] for row in shallow] == [
        g.id("a.cleaned"),
        g.id("a.train"),
        g.id("a.clean"),
        g.id("a.rows"),
        g.id("a.threshold"),
    ]
    limited = client.run("lineage_upstream", ref=g.id("a.model"), depth=20, limit=3)
    assert [row["id"] for row in limited] == [g.id("a.cleaned"), g.id("a.train"), g.id("a.clean")]
    by_key = client.run("lineage_upstream", ref=g.key("a.model"), depth=20, limit=100)
    by_id = client.run("lineage_upstream", ref=g.id("a.model"), depth=20, limit=100)
    assert by_key == by_id
    assert client.run("lineage_upstream", ref=g.id("file"), depth=20, limit=100) == []
    with pytest.raises(UnknownId, match="no_such_"):
        client.run("lineage_upstream", ref="pgid:no_such_" + g.token, depth=5, limit=10)


def test_impact_downstream_exact_and_leaves_out_telemetry(client, known_graph):
    g = known_graph
    rows = client.run("impact_downstream", ref=g.id("file"), depth=2, limit=100)
    assert _steps(rows, "depth", "id", "relation") == sorted(
        [
            (1, g.id("a.load"), "used"),
            (1, g.id("b.load"), "used"),
            (1, g.id("p.plot"), "used"),
            (1, g.id("a.rows"), "wasDerivedFrom"),
            (1, g.id("b.rows"), "wasDerivedFrom"),
            (1, g.id("p.figure"), "wasDerivedFrom"),
            (2, g.id("a.clean"), "used"),
            (2, g.id("a.cleaned"), "wasDerivedFrom"),
            (2, g.id("b.clean"), "used"),
            (2, g.id("b.cleaned"), "wasDerivedFrom"),
        ]
    )
    assert all(row["via"] in {g.id("file"), g.id("a.rows"), g.id("b.rows")} for row in rows)
    everything = client.run("impact_downstream", ref=g.id("a.threshold"), depth=30, limit=100)
    assert [row["id"] for row in everything] == [
        g.id("a.clean"),
        g.id("a.cleaned"),
        g.id("a.model"),
        g.id("a.train"),
        g.id("a.evaluate"),
    ]


def test_derivation_chain_exact_either_order(client, known_graph):
    g = known_graph
    expected = [
        (0, g.id("a.model"), "wasGeneratedBy"),
        (1, g.id("a.train"), "used"),
        (2, g.id("a.cleaned"), "wasGeneratedBy"),
        (3, g.id("a.clean"), "used"),
        (4, g.id("a.rows"), "wasGeneratedBy"),
        (5, g.id("a.load"), "used"),
        (6, g.id("file"), None),
    ]
    rows = client.run("derivation_chain", source=g.id("a.model"), target=g.id("file"), depth=30)
    assert _steps(rows, "step", "id", "relation") == expected
    reverse = client.run("derivation_chain", source=g.id("file"), target=g.id("a.model"), depth=30)
    assert _steps(reverse, "step", "id", "relation") == expected
    assert client.run("derivation_chain", source=g.id("a.model"), target=g.id("file"), depth=5) == []
    assert client.run("derivation_chain", source=g.id("a.model"), target=g.id("b.model"), depth=30) == []


def test_provenance_since_a_step(client, known_graph):
    g = known_graph
    rows = client.run("provenance_since", ref=g.id("a.model"), activity="clean", depth=30, limit=100)
    assert _steps(rows, "depth", "id", "cut") == [
        (1, g.id("a.cleaned"), False),
        (1, g.id("a.train"), False),
        (2, g.id("a.clean"), True),
    ]
    by_type = client.run("provenance_since", ref=g.id("a.model"), activity="pg:Task", depth=30, limit=100)
    assert _steps(by_type, "depth", "id", "cut") == [(1, g.id("a.train"), True)]
    no_cut = client.run("provenance_since", ref=g.id("a.model"), activity="nothing", depth=30, limit=100)
    full = client.run("lineage_upstream", ref=g.id("a.model"), depth=30, limit=100)
    assert [row["id"] for row in no_cut] == [row["id"] for row in full]
    assert not any(row["cut"] for row in no_cut)


def test_task_tree_exact(client, known_graph):
    g = known_graph
    rows = client.run("task_tree", run=g.id("run.a"), limit=100)
    assert _steps(rows, "depth", "id", "name", "status", "parent") == [
        (1, g.id("a.load"), "load", "FINISHED", g.id("run.a")),
        (1, g.id("a.clean"), "clean", "FINISHED", g.id("run.a")),
        (1, g.id("a.train"), "train", "FINISHED", g.id("run.a")),
        (2, g.id("a.epoch0"), "epoch", "FINISHED", g.id("a.train")),
        (2, g.id("a.epoch1"), "epoch", "FINISHED", g.id("a.train")),
        (1, g.id("a.evaluate"), "evaluate", "ERROR", g.id("run.a")),
    ]
    assert rows[-1]["error"] == "ValueError: no labels"
    assert rows[0]["duration_s"] == 3.0
    assert rows[0]["startTime"] == "2026-03-01T10:02:00+00:00"
    assert len(client.run("task_tree", run=g.id("run.b"), limit=100)) == 7
    assert len(client.run("task_tree", run=g.id("run.b"), limit=2)) == 2


def test_runs_with_status_counts(client, known_graph):
    g = known_graph
    rows = client.run("runs", workflow=g.names["train"], limit=10)
    assert _steps(rows, "id", "workflow", "tasks", "finished", "failed", "other") == [
        (g.id("run.b"), g.names["train"], 7, 7, 0, 0),
        (g.id("run.a"), g.names["train"], 6, 5, 1, 0),
    ]
    assert rows[1]["startTime"] == "2026-03-01T10:01:00+00:00"
    plot = client.run("runs", workflow=g.names["plot"], limit=10)
    assert _steps(plot, "id", "tasks", "failed") == [(g.id("run.p"), 1, 0)]
    # one run by id (every run of the shared test database would take long to count)
    for short in ("run.a", "run.b", "run.p"):
        (row,) = client.run("runs", workflow=None, run=g.id(short), limit=10)
        assert (row["id"], row["key"], row["kind"]) == (g.id(short), g.key(short), "activity")
    assert client.run("runs", workflow=None, run=g.id("a.model"), limit=10) == []
    newest = client.run("runs", workflow=None, run=None, limit=3)
    assert len(newest) == 3


def test_shared_entities_cross_workflow_join(client, known_graph):
    g = known_graph
    rows = client.run("shared_entities", run=g.id("run.a"), limit=100)
    assert _steps(rows, "entity", "relation", "other_run", "other_workflow", "other_relation") == [
        (g.id("file"), "used", g.id("run.b"), g.names["train"], "used"),
        (g.id("file"), "used", g.id("run.p"), g.names["plot"], "used"),
    ]
    assert rows[0]["name"] == "/data/dataset.csv"
    from_plot = client.run("shared_entities", run=g.id("run.p"), limit=100)
    assert _steps(from_plot, "entity", "other_run") == [
        (g.id("file"), g.id("run.a")),
        (g.id("file"), g.id("run.b")),
    ]


def test_entity_runs_exact(client, known_graph):
    g = known_graph
    rows = client.run("entity_runs", ref=g.id("file"), limit=100)
    assert _steps(rows, "run", "workflow", "activity", "relation", "role") == [
        (g.id("run.a"), g.names["train"], g.id("a.load"), "used", "path"),
        (g.id("run.b"), g.names["train"], g.id("b.load"), "used", "path"),
        (g.id("run.p"), g.names["plot"], g.id("p.plot"), "used", "data"),
    ]
    model = client.run("entity_runs", ref=g.id("a.model"), limit=100)
    assert _steps(model, "activity", "relation") == [
        (g.id("a.evaluate"), "used"),
        (g.id("a.train"), "wasGeneratedBy"),
    ]


def test_campaign_products_exact(client, known_graph):
    g = known_graph
    rows = client.run("campaign_products", campaign=g.id("campaign"), limit=100)
    assert _steps(rows, "run", "activity_name", "entity", "value", "role") == [
        (g.id("run.a"), "load", g.id("a.rows"), 100, "rows"),
        (g.id("run.a"), "clean", g.id("a.cleaned"), 90, "clean"),
        (g.id("run.a"), "train", g.id("a.model"), "model-a", "model"),
        (g.id("run.b"), "load", g.id("b.rows"), 100, "rows"),
        (g.id("run.b"), "clean", g.id("b.cleaned"), 80, "clean"),
        (g.id("run.b"), "train", g.id("b.model"), "model-b", "model"),
        (g.id("run.b"), "report", g.id("b.summary"), "report-b", "report"),
    ]


def test_run_diff_exact(client, known_graph):
    g = known_graph
    rows = client.run("run_diff", run_a=g.id("run.a"), run_b=g.id("run.b"), limit=100)
    by_id = {row["id"]: row for row in rows}
    assert {row["side"] for row in rows} == {0, 1}
    assert sorted(i for i, row in by_id.items() if row["side"] == 0) == sorted(
        g.id(s) for s in ("a.load", "a.clean", "a.train", "a.epoch0", "a.epoch1", "a.evaluate")
    )
    clean = by_id[g.id("a.clean")]
    assert (clean["name"], clean["depth"], clean["parent"]) == ("clean", 1, g.id("run.a"))
    assert sorted((i["role"], i["content"]) for i in clean["inputs"]) == [("rows", 100), ("threshold", 0.5)]
    assert [(o["role"], o["content"]) for o in clean["outputs"]] == [("clean", 90)]
    assert by_id[g.id("a.epoch0")]["parent"] == g.id("a.train")

    diff = client.diff(g.id("run.a"), g.id("run.b"))
    assert [(c.change, c.place, c.ordinal, c.cause, c.activity_a, c.activity_b) for c in diff.changes] == [
        ("changed", "clean", 0, True, g.id("a.clean"), g.id("b.clean")),
        ("removed", "evaluate", 0, False, g.id("a.evaluate"), None),
        ("added", "report", 0, False, None, g.id("b.report")),
        ("changed", "train", 0, False, g.id("a.train"), g.id("b.train")),
        ("added", "train/epoch", 2, False, None, g.id("b.epoch2")),
    ]
    clean_change, evaluate, report, train, epoch = diff.changes
    assert (clean_change.removed_inputs, clean_change.added_inputs) == (
        (InputValue("threshold", 0.5),),
        (InputValue("threshold", 0.7),),
    )
    assert (train.removed_inputs, train.added_inputs, train.because) == (
        (InputValue("clean", 90),),
        (InputValue("clean", 80),),
        (g.id("b.clean"),),
    )
    assert evaluate.because == (g.id("a.train"),) and report.because == (g.id("b.train"),)
    assert epoch.because == (g.id("b.train"),)
    assert [c.name for c in diff.causes] == ["clean"]
    backwards = client.diff(g.id("run.b"), g.id("run.a"))
    assert [(c.change, c.place, c.ordinal) for c in backwards.changes] == [
        ("changed", "clean", 0),
        ("added", "evaluate", 0),
        ("removed", "report", 0),
        ("changed", "train", 0),
        ("removed", "train/epoch", 2),
    ]
    assert client.diff(g.id("run.a"), g.id("run.a")).changes == ()
    with pytest.raises(QueryError, match="is not a run"):
        client.diff(g.id("run.a"), g.id("a.model"))


def test_failed_tasks_with_inputs(client, known_graph):
    g = known_graph
    rows = client.run("failed_tasks", run=g.id("run.a"), limit=100)
    assert _steps(rows, "id", "name", "error", "run") == [
        (g.id("a.evaluate"), "evaluate", "ValueError: no labels", g.id("run.a"))
    ]
    assert rows[0]["inputs"] == [{"id": g.id("a.model"), "role": "model", "value": "model-a", "path": None}]
    assert client.run("failed_tasks", run=g.id("run.b"), limit=100) == []
    everywhere = client.run("failed_tasks", run=None, limit=100_000)
    assert g.id("a.evaluate") in {row["id"] for row in everywhere}


def test_slowest_tasks(client, known_graph):
    g = known_graph
    rows = client.run("slowest_tasks", run=g.id("run.b"), limit=3)
    assert _steps(rows, "id", "duration_s", "run") == [
        (g.id("b.train"), 40.0, g.id("run.b")),
        (g.id("b.epoch2"), 14.0, g.id("run.b")),
        (g.id("b.epoch1"), 13.0, g.id("run.b")),
    ]
    everywhere = client.run("slowest_tasks", run=None, limit=100_000)
    assert g.id("b.train") in {row["id"] for row in everywhere}


def test_peak_resources_from_telemetry(client, known_graph):
    g = known_graph
    rows = client.run("peak_resources", run=g.id("run.a"), limit=100)
    columns = ("id", "samples", "peak_rss_bytes", "peak_cpu_percent", "peak_gpu_memory_bytes")
    assert _steps(rows, *columns) == [
        (g.id("a.train"), 2, 900_000_000, 97.5, 5_000_000_000),
        (g.id("a.epoch1"), 2, 850_000_000, 50.0, 3_500_000_000),
        (g.id("a.epoch0"), 2, 800_000_000, 50.0, 3_000_000_000),
        (g.id("a.clean"), 2, 150_000_000, 50.0, None),
        (g.id("a.evaluate"), 2, 120_000_000, 50.0, None),
        (g.id("a.load"), 2, 100_000_000, 50.0, None),
    ]
    assert [row["peak_gpu_utilization_percent"] for row in rows] == [80.0, 80.0, 80.0, None, None, None]
    assert {row["run"] for row in rows} == {g.id("run.a")}


def test_associations(client, known_graph):
    g = known_graph
    rows = client.run("associations", ref=g.id("a.model"), limit=100)
    assert _steps(rows, "agent", "how", "activity", "on_behalf_of") == [
        (g.id("alice"), "wasAssociatedWith", g.id("run.a"), None),
        (g.id("lab"), "actedOnBehalfOf", g.id("run.a"), g.id("alice")),
        (g.id("machine"), "wasAssociatedWith", g.id("run.a"), None),
    ]
    assert {row["name"] for row in rows} == {f"alice-{g.token}", f"lab-{g.token}", f"node-{g.token}"}
    assert sorted(rows[2]["labels"]) == ["Agent", "Machine"]
    from_b = client.run("associations", ref=g.id("b.model"), limit=100)
    assert _steps(from_b, "agent", "how", "activity") == [
        (g.id("machine"), "wasAssociatedWith", g.id("run.b"))
    ]


def test_ids_and_names_full_of_cypher_are_just_data(graph_backend, known_graph):
    """Quotes, braces, backticks and Cypher keywords in ids and names reach the server only as parameters."""
    client = Client(backend=graph_backend)
    token = "x'\"`{}})-[:used]->()DETACH_DELETE_n;MATCH(m)RETURN//$limit\\" + known_graph.token[:6]
    tricky = build(token, tricky=True)
    load(graph_backend, tricky)
    try:
        assert "'" in tricky.id("run.a") and "`" in tricky.id("run.a") and "{" in tricky.id("run.a")
        assert " DETACH DELETE " in tricky.names["train"]
        runs = client.run("runs", workflow=tricky.names["train"], limit=10)
        assert [row["id"] for row in runs] == [tricky.id("run.b"), tricky.id("run.a")]
        assert [row["workflow"] for row in runs] == [tricky.names["train"]] * 2
        lineage = client.run("lineage_upstream", ref=tricky.id("a.model"), depth=20, limit=100)
        assert len(lineage) == 7 and lineage[-1]["id"] == tricky.id("file")
        diff = client.diff(tricky.id("run.a"), tricky.id("run.b"))
        assert [change.change for change in diff.changes] == [
            "changed",
            "removed",
            "added",
            "changed",
            "added",
        ]
        assert [change.cause for change in diff.changes] == [True, False, False, False, False]
        shared = client.run("shared_entities", run=tricky.id("run.a"), limit=100)
        assert [row["other_workflow"] for row in shared] == [tricky.names["train"], tricky.names["plot"]]
        since = client.run(
            "provenance_since", ref=tricky.id("a.model"), activity="clean' OR 1=1 //", depth=30, limit=100
        )
        assert len(since) == 7 and not any(row["cut"] for row in since)
        # nothing else was touched: the known graph is still all there
        assert len(client.run("task_tree", run=known_graph.id("run.a"), limit=100)) == 6
    finally:
        delete(graph_backend, tricky)
    assert client.run("runs", workflow=tricky.names["train"], limit=10) == []


CAPTURED_WORKFLOW = """
import sys

import capture

token, data = sys.argv[1], sys.argv[2]


@capture.task(output_names="rows")
def load(path):
    with open(path) as handle:
        return len(handle.readlines())


@capture.task(output_names="clean")
def clean(rows, threshold):
    return rows - threshold


@capture.task(output_names="score")
def evaluate(clean):
    if clean < 2:
        raise ValueError("too few rows")
    return clean * 2


for threshold in (1, 2):
    with capture.Workflow(f"captured_{token}") as run:
        cleaned = clean(load(capture.file(data)), threshold)
        try:
            evaluate(cleaned)
        except ValueError:
            pass
    print("run:", run.id)
"""


def test_queries_on_what_capture_really_writes(graph_backend, tmp_path):
    """Two runs of a real captured workflow (file sink -> loader): runs, tree, diff, join, failures, lineage."""
    import os
    import subprocess
    import sys
    import uuid
    from pathlib import Path

    from capture import read_buffer
    from provgraph.loader import load_messages

    token = uuid.uuid4().hex[:12]
    data = tmp_path / "data.csv"
    data.write_text(f"a,{token}\nb\nc\n")  # unique content: a file entity of this test only
    script = tmp_path / "captured.py"
    script.write_text(CAPTURED_WORKFLOW)
    env = {
        **os.environ,
        "PROVGRAPH_SINK": "file",
        "PROVGRAPH_BUFFER_PATH": str(tmp_path / "buffer"),
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, str(script), token, str(data)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_1, run_2 = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: ")]
    messages = read_buffer(tmp_path / "buffer")
    graph_backend.ensure_schema()
    load_messages(graph_backend, messages)
    client = Client(backend=graph_backend)
    workflow = f"captured_{token}"
    try:
        runs = client.run("runs", workflow=workflow, limit=10)
        assert _steps(runs, "id", "tasks", "finished", "failed") == [(run_2, 3, 2, 1), (run_1, 3, 3, 0)]
        tree = client.run("task_tree", run=run_1, limit=10)
        assert _steps(tree, "depth", "name", "status", "parent") == [
            (1, "load", "FINISHED", run_1),
            (1, "clean", "FINISHED", run_1),
            (1, "evaluate", "FINISHED", run_1),
        ]
        diff = client.diff(run_1, run_2)
        assert [(c.change, c.name, c.cause, c.removed_inputs, c.added_inputs) for c in diff.changes] == [
            ("changed", "clean", True, (InputValue("threshold", 1),), (InputValue("threshold", 2),)),
            ("changed", "evaluate", False, (InputValue("clean", 2),), (InputValue("clean", 1),)),
        ]
        shared = client.run("shared_entities", run=run_1, limit=10)
        assert _steps(shared, "name", "relation", "other_run", "other_workflow") == [
            (data.name, "used", run_2, workflow)  # a file is named by its file name (capture.file)
        ]
        assert sorted(shared[0]["labels"]) == ["Entity", "File"]
        failed = client.run("failed_tasks", run=run_2, limit=10)
        assert _steps(failed, "name", "error", "run") == [("evaluate", "ValueError: too few rows", run_2)]
        assert [(i["role"], i["value"]) for i in failed[0]["inputs"]] == [("clean", 1)]
        evaluate_1 = tree[2]["id"]
        lineage = client.run("lineage_upstream", ref=evaluate_1, depth=3, limit=100)
        assert sorted((row["depth"], row["name"]) for row in lineage) == sorted(
            [(1, "clean"), (2, "clean"), (2, "rows"), (2, "threshold"), (3, "load"), (3, data.name)]
        )
    finally:
        docs = sorted({message.doc for message in messages})
        graph_backend.write(
            [
                (
                    "MATCH (n:Element) WHERE any(doc IN n.docs WHERE doc IN $docs) "
                    "AND all(doc IN n.docs WHERE doc IN $docs) DETACH DELETE n",
                    {"docs": docs},
                ),
                ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
                ("UNWIND $docs AS doc MATCH (n:Document {id: doc}) DETACH DELETE n", {"docs": docs}),
            ]
        )
