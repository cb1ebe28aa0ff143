"""Every script in examples/ runs against the real Redis, is loaded into the real Neo4j, and the graph is checked;
then the same again on the embedded server (its Streams and its FalkorDB graph), with the same checks.

Each example runs as its own process with the settings in its environment (Redis sink, this test's own stream);
the stream's messages are then decoded and written by the loader library (`provgraph.loader.load_messages`), and
Cypher checks what each example must have produced. Nothing here wipes a database: ids are unique per run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from capture import wire

pytestmark = pytest.mark.services

# The same default as tests/conftest.py (the redis_client fixture connects there too).
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))
OUTPUT: dict[str, str] = {}
"""The standard output of each example's last run, by file name."""


def _run_example(
    name: str,
    stream: str,
    tmp_path: Path,
    args: tuple[str, ...] = (),
    redis_url: str = REDIS_URL,
    graph_url: str = NEO4J_URI,
) -> list[str]:
    unique = stream.split(":")[2]
    env = {
        **os.environ,
        "PROVGRAPH_REDIS_URL": redis_url,
        "PROVGRAPH_SINK": "redis",
        "PROVGRAPH_STREAM": stream,
        "PROVGRAPH_GRAPH_URL": graph_url,
        "PROVGRAPH_CONSUMER_GROUP": f"loader-{unique}",
        "PROVGRAPH_DEAD_LETTER_STREAM": f"{stream}:dead",
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # no per-user settings file
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"{name} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    OUTPUT[name] = done.stdout
    runs = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: ")]
    assert runs, f"{name} printed no run id:\n{done.stdout[-2000:]}"
    return runs


def _load_stream(redis_client, stream: str, backend) -> int:
    from provgraph.loader import load_messages

    entries = redis_client.xrange(stream)
    messages = [wire.decode_message(fields[wire.FIELD.encode()]) for _, fields in entries]
    assert messages, f"nothing reached stream {stream}"
    load_messages(backend, messages)
    return len(messages)


@pytest.fixture
def example_graph(backend_kind, any_redis, any_backend, any_settings, unique, tmp_path):
    """Run one example and load what it emitted, once on Neo4j + Redis and once on the embedded server."""
    stream = f"provgraph:test:{unique}:examples"
    # the embedded server is reached by its socket URL, as graph and as transport
    urls = (REDIS_URL, NEO4J_URI) if backend_kind == "neo4j" else (any_settings.redis_url,) * 2

    ran: list[tuple[str, list[str]]] = []

    def run(name: str, *args: str, load: bool = True) -> list[str]:
        runs = _run_example(name, stream, tmp_path, args, *urls)
        if load:
            _load_stream(any_redis, stream, any_backend)
        ran.append((name, runs))
        return runs

    yield run
    any_redis.delete(stream, f"{stream}:dead")
    if backend_kind == "embedded":  # (the shared test Neo4j holds millions of other tests' relationships)
        for name, runs in ran:
            CONSTRAINTS[name] = _export_runs(any_backend, runs, tmp_path / f"{name}.provn")


CONSTRAINTS: dict[str, Path] = {}
"""PROV-N of each example's runs as one document, exported from the embedded engine once its test has run, for
`test_every_example_passes_prov_constraints`."""


def _export_runs(backend, runs: list[str], path: Path) -> Path:
    from prov.model import ProvDocument

    from provgraph.prov.export import export_document, serialize

    union = ProvDocument()
    for run in runs:
        union.update(export_document(backend, run=run))
    serialize(union, "provn", path)
    return path


def _one(backend, query: str, **params):
    rows = backend.read(query, params)
    assert len(rows) == 1, f"expected one row, got {rows}"
    return rows[0]


def _tasks_of(backend, run_id: str) -> list[str]:
    rows = backend.read(
        "MATCH (t:Task)-[:wasStartedBy*1..3]->(r:WorkflowRun {id: $run}) RETURN DISTINCT t.name AS name",
        {"run": run_id},
    )
    return sorted(row["name"] for row in rows)


def test_every_example_is_covered():
    checked = {
        name.removeprefix("test_").replace("_example", "") for name in globals() if name.startswith("test_")
    }
    for example in EXAMPLES:
        assert example.removesuffix(".py") in checked, f"examples/{example} has no test"


def test_quickstart(example_graph, any_backend):
    (run,) = example_graph("quickstart.py")
    assert _tasks_of(any_backend, run) == ["mult_two", "sum_one"]
    row = _one(
        any_backend,
        """
        MATCH (r:WorkflowRun {id: $run})
        MATCH (s:Task {name: 'sum_one'})-[:wasStartedBy]->(r)
        MATCH (m:Task {name: 'mult_two'})-[:wasStartedBy]->(r)
        MATCH (o1:Entity)-[:wasGeneratedBy]->(s)
        MATCH (m)-[:used]->(o1)
        MATCH (o2:Entity)-[:wasGeneratedBy]->(m)
        MATCH (o2)-[:wasDerivedFrom]->(o1)
        RETURN o1.value AS o1, o2.value AS o2, r.status AS status
        """,
        run=run,
    )
    assert (row["o1"], row["o2"], row["status"]) == (4, 8, "FINISHED")


def test_context_manager(example_graph, any_backend):
    plain, training = example_graph("context_manager.py")
    assert _tasks_of(any_backend, plain) == ["add_one"]
    row = _one(
        any_backend,
        "MATCH (r:WorkflowRun {id: $run})-[:wasInfluencedBy]->(c:Campaign) RETURN r.subtype AS subtype, c.id AS c",
        run=training,
    )
    assert row == {"subtype": "ml_workflow", "c": "pgid:campaign_experiment_42"}


def test_manual_start_stop(example_graph, any_backend):
    (run,) = example_graph("manual_start_stop.py")
    assert _tasks_of(any_backend, run) == ["double"]


def test_distributed_producers(example_graph, any_backend):
    (run,) = example_graph("distributed_producers.py", "--load", load=False)  # its own loader process
    rows = any_backend.read(
        "MATCH (t:Task {name: 'double'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN count(DISTINCT t) AS n",
        {"run": run},
    )
    assert rows[0]["n"] == 9  # 3 producer processes x 3 tasks, one run


def test_decorators(example_graph, any_backend):
    (run,) = example_graph("decorators.py")
    names = _tasks_of(any_backend, run)
    for expected in (
        "mult_two",
        "compute",
        "stats",
        "heavy_function",
        "configure",
        "train_step",
        "fast_op",
        "fetch",
        "fails",
        "outer",
    ):
        assert expected in names
    compute = _one(
        any_backend,
        "MATCH (t:Task {name: 'compute'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN t.tags AS tags, t.custom_metadata AS meta",
        run=run,
    )
    assert compute == {"tags": ["math", "demo"], "meta": '{"owner":"devX"}'}
    failed = _one(
        any_backend,
        "MATCH (t:Task {name: 'fails'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN t.status AS status, t.error AS error",
        run=run,
    )
    assert failed == {"status": "ERROR", "error": "ValueError: bad input 1"}
    heavy_inputs = any_backend.read(
        "MATCH (t:Task {name: 'heavy_function'})-[u:used]->() WHERE (t)-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN u.role AS role",
        {"run": run},
    )
    assert [r["role"] for r in heavy_inputs] == ["x"]
    fast = any_backend.read(
        "MATCH (t:Task {name: 'fast_op'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN count(t) AS n",
        {"run": run},
    )
    assert fast[0]["n"] == 1000
    nested = any_backend.read(
        "MATCH (:Task {name: 'mult_two'})-[:wasStartedBy]->(o:Task {name: 'outer'})-[:wasStartedBy]->"
        "(:WorkflowRun {id: $run}) RETURN count(o) AS n",
        {"run": run},
    )
    assert nested[0]["n"] == 1
    elsewhere = any_backend.read(
        "MATCH (t:Task {name: 'recorded_elsewhere'})-[:wasStartedBy]->(:Element {id: 'pgid:run_side_run'}) "
        "RETURN count(t) AS n"
    )
    assert elsewhere[0]["n"] >= 1


def test_loops(example_graph, any_backend):
    per_iteration, batched, iterators, nested = example_graph("loops.py")
    counts = {}
    for run in (per_iteration, batched, iterators):
        for row in any_backend.read(
            "MATCH (i:Task)-[:wasStartedBy]->(l:Loop)-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
            "RETURN l.name AS loop, count(DISTINCT i) AS n, l.status AS status",
            {"run": run},
        ):
            counts[row["loop"]] = (row["n"], row["status"])
    assert counts["train_loop"] == (5, "FINISHED")
    assert counts["eval_loop"] == (5, "FINISHED")
    assert counts["loop_a"] == (100, "FINISHED") and counts["loop_b"] == (100, "FINISHED")
    assert counts["open_ended"][1] == "INTERRUPTED" and counts["open_ended"][0] >= 1
    under_driver = any_backend.read(
        "MATCH (:Task)-[:wasStartedBy]->(:Loop {name: 'steps'})-[:wasStartedBy]->(d:Task {name: 'epoch_driver'})"
        "-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN count(*) AS n",
        {"run": nested},
    )
    assert under_driver[0]["n"] == 3


def test_custom_tasks(example_graph, any_backend):
    first, second = example_graph("custom_tasks.py")
    assert _tasks_of(any_backend, first) == ["download", "parse"]
    data = _one(
        any_backend,
        "MATCH (e:Entity {role: 'data'})-[:wasGeneratedBy]->(t:Task {name: 'download'})"
        "-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN e.size AS size",
        run=first,
    )
    assert data["size"] == len(b"\x00\x01 some binary payload")
    statuses = {
        r["name"]: r["status"]
        for r in any_backend.read(
            "MATCH (t:Task)-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN t.name AS name, t.status AS status",
            {"run": second},
        )
    }
    assert statuses["super_func1"] == "RUNNING"
    assert statuses["super_func3"] == "FINISHED" and statuses["super_func4"] == "FINISHED"
    agents = any_backend.read(
        "MATCH (t:Task)-[:wasAssociatedWith]->(a:Agent:SoftwareAgent) WHERE (t)-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN count(DISTINCT a) AS agents, count(DISTINCT t) AS tasks",
        {"run": second},
    )
    assert agents[0] == {"agents": 1, "tasks": 3}  # super_func1..3 share agent1


def test_model_instrumentation(example_graph, any_backend):
    (run,) = example_graph("model_instrumentation.py")
    row = _one(
        any_backend,
        "MATCH (t:Task {name: 'MyNet.forward'})-[:used]->(m:Model) "
        "WHERE (t)-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN count(DISTINCT t) AS calls, "
        "count(DISTINCT m) AS models",
        run=run,
    )
    assert row == {"calls": 3, "models": 1}


def test_agent_tools(example_graph, any_backend):
    (run,) = example_graph("agent_tools.py")
    row = _one(
        any_backend,
        "MATCH (t:Task {name: 'summarise'})-[:wasAssociatedWith]->(a:SoftwareAgent) "
        "WHERE (t)-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN a.id AS agent, t.tokens_total AS tokens, "
        "t.prompt AS prompt",
        run=run,
    )
    assert (
        row["agent"] == "pgid:agent_planner" and row["tokens"] == 10 and row["prompt"].startswith("Summarise")
    )


def test_files_across_workflows(example_graph, any_backend):
    producer, consumer, rerun = example_graph("files_across_workflows.py")
    row = _one(
        any_backend,
        """
        MATCH (f:File)-[:wasGeneratedBy]->(w:Task {name: 'write_table'})-[:wasStartedBy]->(:WorkflowRun {id: $producer})
        MATCH (s:Task {name: 'sum_table'})-[:used]->(f)
        MATCH (s)-[:wasStartedBy]->(:WorkflowRun {id: $consumer})
        MATCH (f)-[:specializationOf]->(content:File)
        MATCH (again:File)-[:wasGeneratedBy]->(:Task {name: 'write_table'})-[:wasStartedBy]->(:WorkflowRun {id: $rerun})
        MATCH (again)-[:specializationOf]->(content)
        RETURN f.id AS id, again.id AS again, content.id AS content, f.rows AS rows, f.types AS types,
               w.format AS format, w.types AS task_types
        """,
        producer=producer,
        consumer=consumer,
        rerun=rerun,
    )
    assert row["id"] != row["again"]  # the rerun's equal bytes are a new entity: no entity has two generators
    generators = _one(
        any_backend, "MATCH (f:File {id: $id})-[g:wasGeneratedBy]->() RETURN count(g) AS n", id=row["id"]
    )
    assert generators["n"] == 1
    assert row["content"].startswith("pgid:file_sha256_")
    assert row["rows"] == 5 and "pg:Table" in row["types"]
    assert row["format"] == "csv" and "pg:Tabulation" in row["task_types"]


def test_gpu_telemetry(example_graph, any_backend):
    (run,) = example_graph("gpu_telemetry.py")
    rows = any_backend.read(
        "MATCH (t:Telemetry)-[:wasGeneratedBy]->(task:Task {name: 'crunch'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN t.phase AS phase, t.gpu_count AS gpus, t.cpu_percent AS cpu, t.process_rss_bytes AS rss",
        {"run": run},
    )
    assert sorted(row["phase"] for row in rows) == ["end", "end", "end", "start", "start", "start"]
    assert all(row["gpus"] is not None and row["cpu"] is not None and row["rss"] > 0 for row in rows)
    snapshot = _one(  # the GPUs this run saw are the run's own facts (its snapshot), not the machine's
        any_backend,
        "MATCH (:WorkflowRun {id: $run})-[:used]->(s:Entity) WHERE 'pg:RunSnapshot' IN s.types "
        "RETURN s.gpu_count AS gpus, s.gpu_unavailable AS why",
        run=run,
    )
    assert snapshot["gpus"] == rows[0]["gpus"]
    assert snapshot["gpus"] or snapshot["why"]  # no GPU read: the snapshot says why


def test_llm_tokens(example_graph, any_backend):
    from provgraph.client import Client

    (run,) = example_graph("llm_tokens.py")
    client = Client(backend=any_backend)
    totals = client.token_usage(run)  # Anthropic 5 in + 12 out (total derived), google-genai 40 + 250 = 290
    assert (totals.calls, totals.tokens_in, totals.tokens_out, totals.tokens_total) == (2, 45, 262, 307)
    assert totals.cost == 0.0004 and totals.models == ("claude-haiku", "gemini-flash")
    essay = _one(
        any_backend,
        "MATCH (e:Entity)-[:wasGeneratedBy]->(t:Task {name: 'write'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN e.id AS id",
        run=run,
    )
    assert client.token_usage_lineage(essay["id"]).tokens_total == 307
    outside = _one(
        any_backend,
        "MATCH (c:Activity {llm_model: 'local-llama'})-[:wasStartedBy]->(r:WorkflowRun {subtype: 'implicit'}) "
        "WHERE r.id STARTS WITH $process RETURN c.tokens_total AS tokens",
        process=run.rsplit("_", 1)[0] + "_",  # the process's default run shares the run's id prefix
    )
    assert outside["tokens"] == 84


@pytest.mark.adapters
def test_watch_folder(example_graph, any_backend):
    (run,) = example_graph("watch_folder.py")
    rows = any_backend.read(
        """
        MATCH (f:File)-[g:wasGeneratedBy]->(sim:Task {name: 'simulate'})-[:wasStartedBy]->(r:WorkflowRun {id: $run})
        OPTIONAL MATCH (s:Task {name: 'summarise'})-[:used]->(f) WHERE (s)-[:wasStartedBy]->(r)
        RETURN g.role AS role, g.event AS event, f.size AS size, s IS NOT NULL AS read_by_summarise
        ORDER BY role
        """,
        {"run": run},
    )
    table = "1,1\n2,4\n3,9\n4,16\n"
    assert rows == [
        {"role": "run.log", "event": "created", "size": 5, "read_by_summarise": False},
        {"role": "table.csv", "event": "created", "size": len(table), "read_by_summarise": True},
    ]


@pytest.mark.adapters
def test_dask_graph(example_graph, any_backend):
    (run,) = example_graph("dask_graph.py")
    rows = any_backend.read(
        "MATCH (t:Task {kind: 'dask_task'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN t.name AS name, t.status AS status, count(*) AS n ORDER BY name",
        {"run": run},
    )
    assert rows == [
        {"name": "square", "status": "FINISHED", "n": 10},
        {"name": "total", "status": "FINISHED", "n": 1},
    ]
    inputs = _one(
        any_backend,
        "MATCH (t:Task {name: 'total'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "MATCH (t)-[:used]->(e:Entity)-[:wasGeneratedBy]->(s:Task {name: 'square'}) "
        "RETURN count(DISTINCT s) AS n",
        run=run,
    )
    assert inputs["n"] == 10


def test_watch_a_run(example_graph, any_backend):
    (run,) = example_graph("watch_a_run.py")
    assert _tasks_of(any_backend, run) == ["add_up", "check", "square"]
    lines = OUTPUT["watch_a_run.py"].splitlines()
    assert "run started" in lines[0] and "run finished" in lines[-2] and lines[-1] == f"run: {run}"
    assert sum("task finished   square" in line for line in lines) == 3
    assert any("task FAILED     check" in line and "total 14 is over the limit" in line for line in lines)
    assert any("telemetry       add_up: peak RSS" in line for line in lines)


@pytest.mark.adapters
def test_mlflow_tracking(example_graph, any_backend):
    (run,) = example_graph("mlflow_tracking.py")
    task = _one(
        any_backend,
        "MATCH (t:Task {kind: 'mlflow_run'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN t.id AS id, t.name AS name, t.status AS status",
        run=run,
    )
    assert (task["name"], task["status"]) == ("baseline", "FINISHED")
    losses = any_backend.read(
        "MATCH (m:Metric {metric: 'loss'})-[:wasGeneratedBy]->(:Task {id: $id}) RETURN m.step AS step, m.value AS value "
        "ORDER BY step",
        {"id": task["id"]},
    )
    assert [(r["step"], round(r["value"], 2)) for r in losses] == [(0, 1.0), (1, 0.5), (2, 0.33)]
    artifact = _one(
        any_backend,
        "MATCH (f:File)-[:wasGeneratedBy]->(:Task {id: $id}) "
        "MATCH (f)-[d:wasDerivedFrom]->(p:Entity) WHERE d.activity = $id "
        "RETURN f.mlflow_artifact_path AS path, collect(p.mlflow_param) AS params",
        id=task["id"],
    )
    assert artifact["path"] == "summary.txt" and sorted(artifact["params"]) == ["epochs", "lr"]


@pytest.mark.adapters
def test_tensorboard_logs(example_graph, any_backend):
    (run,) = example_graph("tensorboard_logs.py")
    rows = any_backend.read(
        "MATCH (m:Metric)-[:wasGeneratedBy]->(:Task {name: 'fit'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN m.metric AS metric, m.kind AS kind, collect(m.step) AS steps ORDER BY metric",
        {"run": run},
    )
    assert [(r["metric"], r["kind"], sorted(r["steps"])) for r in rows] == [
        ("loss", "scalar", [0, 1, 2, 3]),
        ("weight", "histogram", [0, 1, 2, 3]),
    ]


@pytest.mark.adapters
def test_torch_layers(example_graph, any_backend):
    (run,) = example_graph("torch_layers.py")
    rows = any_backend.read(
        "MATCH (t:Task {kind: 'module_forward'})-[:wasStartedBy*1..10]->(:WorkflowRun {id: $run}) "
        "RETURN t.name AS name, count(DISTINCT t) AS n ORDER BY name",
        {"run": run},
    )
    assert [(r["name"], r["n"]) for r in rows] == [
        ("TinyNet.encoder", 6),
        ("TinyNet.forward", 6),
        ("TinyNet.head", 6),
    ]  # 2 epochs x 3 batches
    checkpoint = _one(
        any_backend,
        "MATCH (f:File)-[:wasGeneratedBy {role: 'checkpoint'}]->(:WorkflowRun {id: $run}) "
        "MATCH (f)-[d:wasDerivedFrom]->(m:Model)-[:hadMember]->(layer:Model) WHERE d.doc = $run "
        "RETURN m.parameters AS parameters, collect(layer.module_path) AS layers",
        run=run,
    )
    assert checkpoint["parameters"] == 4 * 16 + 16 + 16 + 1
    assert sorted(checkpoint["layers"]) == ["encoder", "head"]


def test_retention(example_graph, any_backend):
    monday, tuesday = example_graph("retention.py", load=False)  # it loads and purges by itself
    rows = any_backend.read(
        "MATCH (t:Task)-[:wasStartedBy]->(r:WorkflowRun) WHERE r.id IN $runs "
        "OPTIONAL MATCH (o:Entity)-[:wasGeneratedBy]->(t) WHERE NOT o:Telemetry "
        "OPTIONAL MATCH (m:Telemetry)-[:wasGeneratedBy]->(t) "
        "RETURN r.id AS run, o.value IS NULL AS value_dropped, o.payload_purged AS purged, count(m) AS telemetry",
        {"runs": [monday, tuesday]},
    )
    by_run = {row["run"]: row for row in rows}
    assert by_run[monday]["value_dropped"] and by_run[monday]["purged"] and by_run[monday]["telemetry"] == 0
    assert not by_run[tuesday]["value_dropped"] and by_run[tuesday]["telemetry"] == 2


def test_audit_trail(example_graph, any_backend):
    (run,) = example_graph("audit_trail.py", load=False)  # it loads (with digests) and verifies by itself
    lines = OUTPUT["audit_trail.py"].splitlines()
    assert "untouched: verified" in lines
    faults = [line for line in lines if line.startswith("after an edit:")]
    assert len(faults) == 2 and all(
        "property status is 'TAMPERED'; its record says 'FINISHED'" in f for f in faults
    )


def test_every_example_passes_prov_constraints():
    """What every example wrote, exported from the graph after its own test (all runs of one example as one
    document), is valid PROV: ProvToolbox's PROV-CONSTRAINTS validator accepts it (tests/_provtoolbox.py)."""
    import _provtoolbox

    if not CONSTRAINTS:
        pytest.skip("checks the exports of the example tests run before it in this module; none ran")
    results = _provtoolbox.validate(list(CONSTRAINTS.values()))
    assert [(Path(r["file"]).name, r["ok"], r["error"]) for r in results] == [
        (f"{name}.provn", True, None) for name in CONSTRAINTS
    ]
    assert all(r["counts"].get("activity") for r in results)  # each read as a workflow, not as an empty file
