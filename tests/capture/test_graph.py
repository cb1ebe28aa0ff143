"""Capture's records reach the graph, on Neo4j and on the embedded engine: the reference system's instrumentation
scenarios (decorator, loops with a parent given as a string, explicit tasks, telemetry) ported to capture, and
1,000 random Unicode workflow and campaign ids that must stay 1,000 distinct runs with their original text.

The workload runs in a fresh interpreter with the file sink; its messages go through the loader library
(`provgraph.loader.load_messages`) into each backend; each test removes what it loaded.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from capture import _ids, read_buffer, wire

ROOT = Path(__file__).resolve().parents[2]

SCENARIOS = r"""
import sys
import capture

# --- decorator (the reference system's quickstart) -------------------------------------------------------------
@capture.task(output_names="o1")
def sum_one(i1):
    return i1 + 1

@capture.task(output_names="o2", tags=["only"])
def mult_two(o1):
    return o1 * 2

with capture.Workflow("decorator", campaign_id="proj:exp42", workflow_id="batch N/α") as run:
    mult_two(sum_one(3))
print("run decorator:", run.id)

# --- loops, including a parent given as a string -----------------------------------------------------------------
with capture.Workflow("loops") as run:
    loop = capture.Loop(range(3), loop_name="train_loop", item_name="epoch", telemetry=True)
    for epoch in loop:
        loop.end_iter({"loss": 0.1 * (3 - epoch)})
    batched = capture.BatchedLoop(range(4), loop_name="eval_loop", item_name="batch")
    for batch in batched:
        batched.end_iter({"metric": batch * 2})
    for _ in capture.Loop(iter(range(2)), loop_name="stream_loop", items_length=2):
        pass
    try:
        capture.Loop(range(2), parent_task="mock_task123")
    except ValueError as exc:
        print("refused:", exc)
    with capture.CustomTask("driver") as driver:
        pass
    for _ in capture.Loop(range(2), loop_name="child_loop", parent_task=driver.id):
        pass
print("run loops:", run.id)

# --- explicit tasks -----------------------------------------------------------------------------------------------
with capture.Workflow("explicit") as run:
    capture.CustomTask("super_func1", used={"x": 1}, agent_id="agent 1", tags=["tag1"]).send()
    with capture.CustomTask("super_func2", used={"y": 1}, agent_id="agent 1", tags=["tag2"]) as t2:
        t2.end(generated={"y2": 2})
    t3 = capture.CustomTask("super_func3", used={"z": 1}, agent_id="agent 1", tags=["tag3"])
    t3.end(generated={"z2": 3})
    capture.CustomTask("parse", used={"n": 3}, generated={"records": 42})
print("run explicit:", run.id)

# --- telemetry ----------------------------------------------------------------------------------------------------
@capture.telemetry_task(output_names="y")
def train_step(x):
    return x * 2

with capture.Workflow("telemetry") as run:
    for i in range(3):
        train_step(i)
print("run telemetry:", run.id)

# --- two runs, two environments ---------------------------------------------------------------------------------
import os

for visible in ("0", "1"):
    os.environ["CUDA_VISIBLE_DEVICES"] = visible
    with capture.Workflow("environment") as run:
        train_step(10)
    print(f"run environment {visible}:", run.id)

# --- many user-given ids ------------------------------------------------------------------------------------------
for line in open(sys.argv[1], encoding="utf-8"):
    workflow_id, campaign_id = line.rstrip("\n").split("\t")
    with capture.Workflow("ids", workflow_id=workflow_id, campaign_id=campaign_id):
        pass
"""

ALPHABET = "ab XY09:/-_.%~#?&=αβ漢字🙂\\\"'@+!"


def _random_ids(count: int) -> list[tuple[str, str]]:
    chooser = random.Random(14)
    seen: set[str] = set()
    pairs = []
    while len(pairs) < count:
        kind = chooser.random()
        if kind < 0.1:
            text = f"https://example.org/runs/{chooser.randrange(10**9)}"
        elif kind < 0.15:
            text = f"urn:uuid:{chooser.randrange(16**12):012x}"
        else:
            text = "".join(chooser.choice(ALPHABET) for _ in range(chooser.randint(1, 24)))
        if text in seen or text.startswith("pgid:") or "\t" in text or "\n" in text:
            continue
        seen.add(text)
        pairs.append((text, f"campaign {chooser.choice(ALPHABET)}:{len(pairs) % 7}"))
    return pairs


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("capture-graph")
    (tmp / "scenarios.py").write_text(textwrap.dedent(SCENARIOS))
    pairs = _random_ids(1000)
    (tmp / "ids.tsv").write_text("".join(f"{w}\t{c}\n" for w, c in pairs), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(tmp / "buffer"),
        PROVGRAPH_HOME=str(tmp / "home"),
        PROVGRAPH_TELEMETRY="cpu,process,memory,machine",
        XDG_CONFIG_HOME=str(tmp / "config"),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, str(tmp / "scenarios.py"), str(tmp / "ids.tsv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    return {"lines": lines, "messages": read_buffer(tmp / "buffer"), "ids": pairs}


@pytest.fixture
def loaded(any_backend: Any, captured: dict[str, Any]):
    from provgraph.loader import load_messages

    any_backend.ensure_schema()
    load_messages(any_backend, captured["messages"])
    yield any_backend
    docs = sorted({message.doc for message in captured["messages"]})
    any_backend.write(
        [
            # only what these documents alone hold: a node others share (the person agent) stays
            (
                "MATCH (n:Element) WHERE any(d IN n.docs WHERE d IN $docs) AND all(d IN n.docs WHERE d IN $docs) DETACH DELETE n",
                {"docs": docs},
            ),
            ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
            ("MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n", {"docs": docs}),
        ]
    )


def _type_of(record: dict[str, Any]) -> str | None:
    for name, value in record.get("a", ()):
        if name == "prov:type" and isinstance(value, dict):
            return str(value["$"])
    return None


def test_every_message_is_valid_and_the_string_parent_was_refused_at_the_call(captured):
    for message in captured["messages"]:
        for index, record in enumerate(message.records):
            wire.validate_record(record, index)
    assert "mock_task123" in captured["lines"]["refused"]


@pytest.mark.services
@pytest.mark.embedded
def test_every_run_and_task_of_the_reference_scenarios_is_in_the_graph(loaded, captured):
    lines = captured["lines"]
    runs = [lines[f"run {name}"] for name in ("decorator", "loops", "explicit", "telemetry")]
    expected = {
        record["id"]
        for message in captured["messages"]
        if message.doc in runs
        for record in message.records
        if record["k"] == "activity" and _type_of(record) in ("pg:Task", "pg:Loop", "pg:WorkflowRun")
    }
    assert set(runs) <= expected and len(expected) >= 4 + 2 + 3 + 3 + 4 + 2 + 1 + 2 + 4 + 3
    rows = loaded.read("MATCH (n:Element) WHERE n.id IN $ids RETURN n.id AS id", {"ids": sorted(expected)})
    assert {row["id"] for row in rows} == expected
    (decorated,) = loaded.read(
        "MATCH (t:Task) WHERE t.id IN $ids AND t.name ENDS WITH 'mult_two' RETURN t.tags AS tags",
        {"ids": sorted(expected)},
    )
    assert decorated["tags"] == ["only"]
    assert runs[0] == _ids.run_id_from_user("batch N/α")


@pytest.mark.services
@pytest.mark.embedded
def test_a_thousand_random_unicode_ids_are_a_thousand_runs_with_their_text(loaded, captured):
    wanted = {_ids.run_id_from_user(text): text for text, _ in captured["ids"]}
    assert len(wanted) == 1000
    rows = loaded.read(
        "MATCH (r:WorkflowRun) WHERE r.id IN $ids RETURN r.id AS id, r.workflow_id AS text",
        {"ids": sorted(wanted)},
    )
    assert len(rows) == 1000
    assert {row["id"]: row["text"] for row in rows} == wanted
    campaigns = {_ids.campaign_id_from_user(c) for _, c in captured["ids"]}
    found = loaded.read(
        "MATCH (c:Element) WHERE c.id IN $ids RETURN count(DISTINCT c.id) AS n", {"ids": sorted(campaigns)}
    )
    assert found[0]["n"] == len(campaigns)


@pytest.mark.services
@pytest.mark.embedded
def test_two_runs_with_different_environments_show_their_own_values(loaded, captured):
    import json

    for visible in ("0", "1"):
        run = captured["lines"][f"run environment {visible}"]
        rows = loaded.read(
            "MATCH (r:WorkflowRun)-[:used]->(s:Entity) WHERE r.id = $run AND 'pg:RunSnapshot' IN s.types "
            "RETURN s.environment AS environment, s.gpu_unavailable AS why, s.process_pid AS pid",
            {"run": run},
        )
        assert len(rows) == 1, rows
        assert json.loads(rows[0]["environment"])["CUDA_VISIBLE_DEVICES"] == visible
        assert rows[0]["why"] and rows[0]["pid"]
    machines = loaded.read(
        "MATCH (r:WorkflowRun)-[:wasAssociatedWith]->(m:Agent) WHERE r.id = $run AND 'pg:Machine' IN m.types "
        "RETURN m.environment AS environment, m.host_id AS host",
        {"run": captured["lines"]["run environment 0"]},
    )
    assert len(machines) == 1 and machines[0]["environment"] is None and machines[0]["host"]
