"""CustomTask: context manager, explicit end, send, auto-end, agent, tags, binary data."""

from __future__ import annotations

import hashlib

import pytest
from _capture_helpers import attr, of_kind

import capture


def _activities(records, name):
    return [r for r in of_kind(records, "activity") if attr(r, "pg:name") == name]


def test_context_manager_end_with_data(memory_emitter):
    data = b"\x00\x01payload"
    with capture.Workflow() as run:
        with capture.CustomTask("download", used={"url": "https://example.org/x"}) as t:
            t.end(data=data, generated={"bytes": len(data)})
    records = memory_emitter.records(run.id)
    (task,) = _activities(records, "download")
    assert attr(task, "pg:status") == "FINISHED" and "endTime" in task["f"]
    data_entity = [e for e in of_kind(records, "entity") if attr(e, "pg:role") == "data"][0]
    assert attr(data_entity, "pg:sha256") == hashlib.sha256(data).hexdigest()
    assert attr(data_entity, "pg:size") == len(data)
    assert "payload" not in str(records)


def test_send_publishes_without_ending_then_end(memory_emitter):
    with capture.Workflow() as run:
        agent = "agent-1"
        capture.CustomTask("super_func1", used={"x": 1}, agent_id=agent, tags=["tag1"]).send()
        t3 = capture.CustomTask("super_func3", used={"z": 1}, agent_id=agent, tags="tag3")
        t3.send()
        t3.end(generated={"w": 1})
    records = memory_emitter.records(run.id)
    (sent,) = _activities(records, "super_func1")
    assert attr(sent, "pg:status") == "RUNNING" and "endTime" not in sent["f"]
    snapshots = _activities(records, "super_func3")
    assert [attr(s, "pg:status") for s in snapshots] == ["RUNNING", "FINISHED"]
    assert snapshots[0]["id"] == snapshots[1]["id"]
    agents = [r for r in of_kind(records, "agent") if r["id"] == "pgid:agent_agent-1"]
    assert agents
    assert attr(sent, "pg:tags") == "tag1"


def test_auto_end_when_end_fields_given(memory_emitter):
    with capture.Workflow() as run:
        task = capture.CustomTask("parse", used={"n": 3}, generated={"records": 42})
        assert task.ended
        task.end(generated={"ignored": 1})  # already ended: no second publish
    records = memory_emitter.records(run.id)
    assert len(_activities(records, "parse")) == 1
    assert [
        attr(e, "pg:role") for e in of_kind(records, "entity") if attr(e, "pg:role") in ("records", "ignored")
    ] == ["records"]


def test_exception_in_context_marks_error_and_nests_tasks(memory_emitter):
    @capture.task
    def step(x):
        return x

    with capture.Workflow() as run:
        with pytest.raises(ValueError):
            with capture.CustomTask("outer") as outer:
                step(1)
                raise ValueError("nope")
    records = memory_emitter.records(run.id)
    (task,) = _activities(records, "outer")
    assert attr(task, "pg:status") == "ERROR" and attr(task, "pg:error") == "ValueError: nope"
    starters = {r["f"]["activity"]: r["f"]["starter"] for r in of_kind(records, "wasStartedBy")}
    step_id = [r["id"] for r in of_kind(records, "activity") if "step" in (attr(r, "pg:name") or "")][0]
    assert starters[step_id] == outer.id
