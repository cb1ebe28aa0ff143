"""Workflow controller: context manager, manual start/stop, decorator, campaign, distributed ids, flush."""

from __future__ import annotations

import logging

import pytest
from _capture_helpers import attr, of_kind

import capture
from capture import _context

QN_RUN = {"$": "pg:WorkflowRun", "type": "prov:QUALIFIED_NAME"}


def test_run_campaign_and_agents(memory_emitter):
    with capture.Workflow(
        "training_workflow", subtype="ml_workflow", campaign_id="experiment_42", args={"epochs": [10, 100]}
    ) as run:
        pass
    records = memory_emitter.records(run.id)
    runs = [r for r in of_kind(records, "activity") if attr(r, "prov:type") == QN_RUN]
    assert len(runs) == 2 and "endTime" in runs[1]["f"] and attr(runs[1], "pg:status") == "FINISHED"
    assert attr(runs[0], "pg:subtype") == "ml_workflow" and attr(runs[0], "pg:args") == '{"epochs":[10,100]}'
    influence = of_kind(records, "wasInfluencedBy")[0]["f"]
    assert influence == {"influencee": run.id, "influencer": "pgid:campaign_experiment_42"}
    person = [r for r in of_kind(records, "agent") if r["id"].startswith("pgid:person_")][0]
    process = [r for r in of_kind(records, "agent") if r["id"].startswith("pgid:process_")][0]
    assert of_kind(records, "actedOnBehalfOf")[0]["f"] == {
        "delegate": process["id"],
        "responsible": person["id"],
    }
    assert {r["f"]["agent"] for r in of_kind(records, "wasAssociatedWith")} == {person["id"], process["id"]}


def test_manual_start_stop_and_error_status(memory_emitter):
    run = capture.Workflow("manual_example")
    run.start()
    assert _context.current_run().id == run.id
    assert run.stop() is True
    assert _context.CURRENT.get() is None
    with pytest.raises(KeyError):
        with capture.Workflow("failing") as failing:
            raise KeyError("x")
    last = [r for r in of_kind(memory_emitter.records(failing.id), "activity")][-1]
    assert attr(last, "pg:status") == "ERROR" and "KeyError" in attr(last, "pg:error")


def test_decorator_records_main_arguments(memory_emitter):
    seen = {}

    @capture.workflow(campaign_id="c1")
    def main(n, verbose=False):
        seen["run"] = _context.current_run().id
        return n

    assert main(3) == 3
    records = memory_emitter.records(seen["run"])
    first = [r for r in of_kind(records, "activity") if attr(r, "prov:type") == QN_RUN][0]
    assert attr(first, "pg:name") == "main" and attr(first, "pg:args") == '{"n":3}'

    @capture.Workflow.decorate
    def bare():
        return _context.current_run().id

    assert bare().startswith("pgid:run_")


def test_distributed_producers_share_one_run(memory_emitter):
    @capture.task
    def double(x):
        return 2 * x

    with capture.Workflow("coordinator") as coordinator:
        pass
    for _ in range(2):
        with capture.Workflow(workflow_id=coordinator.id, emit_workflow_record=False):
            double(21)
    records = memory_emitter.records(coordinator.id)
    tasks = [r for r in of_kind(records, "activity") if attr(r, "pg:name") and "double" in attr(r, "pg:name")]
    assert len(tasks) == 2
    assert (
        len([r for r in of_kind(records, "activity") if attr(r, "prov:type") == QN_RUN]) == 2
    )  # start + end


def test_stop_says_clearly_when_records_remain_queued(memory_emitter, caplog):
    memory_emitter.flush = lambda timeout_s: False
    memory_emitter.pending = lambda: 17
    with caplog.at_level(logging.WARNING, logger="capture._workflow"):
        run = capture.Workflow("slow", stop_timeout_s=0.01).start()
        assert run.stop() is False
    assert "17 records not sent yet" in caplog.text


def test_public_names_are_sorted_and_exported():
    assert capture.__all__ == sorted(capture.__all__)
    for name in capture.__all__:
        assert getattr(capture, name) is not None


def test_lazy_public_names_match_all():
    from capture import _LOCATIONS

    assert sorted(_LOCATIONS) == capture.__all__
    assert "task" in dir(capture)
    with pytest.raises(AttributeError):
        capture.no_such_name  # noqa: B018


def test_stopped_runs_are_released(memory_emitter):
    @capture.task(output_names="rows")
    def load():
        return [1, 2, 3]

    with capture.Workflow() as run:
        load()
        held = _context.current_run()
        capture.flush()
        assert len(held.lineage) == 1
    assert run.id not in _context._runs_by_id
    assert len(held.lineage) == 0


def test_capture_never_imports_the_store_side():
    import subprocess
    import sys

    code = (
        "import sys, capture\n"
        "light = set(sys.modules)\n"
        "capture.task, capture.Workflow, capture.Loop, capture.CustomTask, capture.agent_task\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'neo4j', 'prov', 'rdflib', 'provgraph'}]\n"
        "print(bad, sorted(m for m in light if m.startswith('capture.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


def test_secret_workflow_arguments_are_redacted(memory_emitter):
    with capture.Workflow("w", args={"lr": 0.1, "db_password": "hunter2"}) as run:
        pass
    text = str(memory_emitter.records(run.id))
    assert "hunter2" not in text and "[REDACTED:db_password len=7" in text and "0.1" in text
