"""`provgraph tail` / `Client.tail` on both backends: a captured workflow (a subprocess started here) is watched
while it runs, through several filters at once; the loader's consumer group is never touched; `--since` replays
the same events from the graph once the real loader has loaded them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from provgraph.client import Client
from provgraph.errors import ConfigurationError
from provgraph.loader import Loader
from provgraph.purge import purge, select
from provgraph.tail import TailEvent, TailFilter, parse_since

WORKFLOW = r"""
import os
import sys
import time

import capture

token, signal = sys.argv[1], sys.argv[2]


@capture.task(output_names="rows")
def load(path):
    return 3


@capture.telemetry_task(output_names="model")
def train(rows, rate=0.5):
    return rows * rate


@capture.task
def evaluate(model):
    raise ValueError("no labels for " + token)


with capture.Workflow(name=f"tail_{token}", campaign_id=f"camp_{token}") as run:
    print("run:", run.id, flush=True)
    rows = load("/data/in.csv")
    capture.flush(timeout_s=10)
    deadline = time.time() + 60
    while not os.path.exists(signal) and time.time() < deadline:  # the test has seen `load` finish: go on
        time.sleep(0.02)
    model = train(rows)
    capture.record_llm_call("gpt-test", tokens_in=5, tokens_out=2, cost=0.25)
    try:
        evaluate(model)
    except ValueError:
        pass
with capture.Workflow(name=f"other_{token}") as other:
    load("/data/other.csv")
print("other:", other.id, flush=True)
"""


class Watcher(threading.Thread):
    """A tail running in a thread, collecting its events until it has been idle for a few seconds."""

    def __init__(self, client: Client, **options: Any) -> None:
        super().__init__(daemon=True)
        self.events: list[TailEvent] = []
        self.error: BaseException | None = None
        self.iterator = client.tail(idle_timeout_s=6, **options)  # follows from the stream's last entry now

    def run(self) -> None:
        try:
            for event in self.iterator:
                self.events.append(event)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def wait_for(self, predicate: Any, timeout_s: float = 30) -> TailEvent:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for event in list(self.events):
                if predicate(event):
                    return event
            assert self.error is None, self.error
            time.sleep(0.05)
        raise AssertionError(f"no such event within {timeout_s} s; saw {[e.line() for e in self.events]}")


def _start_workflow(settings: Any, token: str, signal: Path, tmp_path: Path) -> subprocess.Popen[str]:
    script = tmp_path / "workflow.py"
    script.write_text(WORKFLOW)
    env = {
        **os.environ,
        "PROVGRAPH_SINK": "redis",
        "PROVGRAPH_REDIS_URL": settings.redis_url,
        "PROVGRAPH_STREAM": settings.stream,
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PROVGRAPH_FLUSH_INTERVAL_MS": "50",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    return subprocess.Popen(
        [sys.executable, str(script), token, str(signal)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _delete_docs(backend: Any, docs: list[str]) -> None:
    # purge, not DETACH DELETE: shared nodes (the person, the machine) keep other runs' relationships
    purge(backend, select(backend, docs=docs))


def test_tail_follows_a_running_workflow_with_filters(any_settings, any_backend, any_redis, unique, tmp_path):
    token = unique
    workflow = f"tail_{token}"
    any_redis.xgroup_create(any_settings.stream, any_settings.consumer_group, id="0", mkstream=True)
    client = Client(any_settings, backend=any_backend)
    everything = Watcher(client)
    mine = Watcher(client, workflow=workflow)
    failures = Watcher(client, workflow=workflow, status="ERROR")
    runs_only = Watcher(client, kinds={"run"}, campaign=f"camp_{token}")
    calls = Watcher(client, kinds={"llm", "telemetry"}, workflow=workflow)
    watchers = [everything, mine, failures, runs_only, calls]
    for watcher in watchers:
        watcher.start()
    signal = tmp_path / "go-on"
    process = _start_workflow(any_settings, token, signal, tmp_path)
    try:
        # Live: the first task is reported while the workflow waits for us to let it go on.
        first = mine.wait_for(lambda e: e.event == "task_finished" and e.name.endswith("load"))
        assert process.poll() is None, "the workflow should still be running"
        assert first.inputs == {"path": "/data/in.csv"} and first.outputs == {"rows": 3}
        assert first.workflow == workflow and first.source == "stream" and first.entry_id
        assert "task finished" in first.line() and "path='/data/in.csv'" in first.line()
        signal.write_text("go")
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    run, other = lines["run"], lines["other"]
    for watcher in watchers:
        watcher.join(timeout=30)
        assert not watcher.is_alive() and watcher.error is None, watcher.error

    mine_events = [(e.event, (e.name or "").rsplit(".", 1)[-1]) for e in mine.events]
    assert mine_events[0] == ("run_started", workflow)
    assert mine_events[-1] == ("run_finished", workflow)
    for expected in [
        ("task_finished", "load"),
        ("task_finished", "train"),
        ("telemetry", "train"),
        ("llm_call", "llm:gpt-test"),
        ("task_failed", "evaluate"),
    ]:
        assert expected in mine_events, (expected, mine_events)
    assert {e.run for e in mine.events} == {run}
    assert {e.run for e in everything.events} >= {
        run,
        other,
    }  # the unfiltered tail sees the other workflow too

    (failed,) = failures.events
    assert failed.event == "task_failed" and failed.error == f"ValueError: no labels for {token}"
    assert failed.inputs == {"model": 1.5} and "FAILED" in failed.line() and "no labels" in failed.line()

    assert [(e.event, e.run) for e in runs_only.events] == [("run_started", run), ("run_finished", run)]
    assert runs_only.events[-1].status == "FINISHED" and runs_only.events[-1].duration_s > 0

    kinds = {e.event: e for e in calls.events}
    assert set(kinds) == {"llm_call", "telemetry"}
    assert kinds["llm_call"].details["tokens_total"] == 7 and "7 tokens" in kinds["llm_call"].line()
    assert kinds["telemetry"].details["samples"] == 2 and kinds["telemetry"].details["peak_rss_bytes"] > 0
    assert "peak RSS" in kinds["telemetry"].line()

    # None of this consumed anything from the loader's group: it still has every entry to deliver.
    (group,) = any_redis.xinfo_groups(any_settings.stream)
    assert group["pending"] == 0 and group["last-delivered-id"] in (b"0-0", "0-0")
    entries = any_redis.xlen(any_settings.stream)
    loader = Loader(any_settings, backend=any_backend, redis_client=any_redis)
    try:
        stats = loader.run(until_idle_s=1)
        assert stats.messages == entries
        # --since: the same run's events, now from the graph
        history = list(client.tail(run=run, since="10m", follow=False))
        assert {e.source for e in history} == {"graph"}
        events = [(e.event, (e.name or "").rsplit(".", 1)[-1]) for e in history]
        assert events[0] == ("run_started", workflow) and ("run_finished", workflow) in events
        for expected in [
            ("task_finished", "load"),
            ("task_failed", "evaluate"),
            ("llm_call", "llm:gpt-test"),
        ]:
            assert expected in events, (expected, events)
        graph_load = next(e for e in history if e.event == "task_finished" and e.name.endswith("load"))
        assert graph_load.inputs == {"path": "/data/in.csv"} and graph_load.outputs == {"rows": 3}
        assert [
            e.event for e in client.tail(workflow=workflow, status="ERROR", since="10m", follow=False)
        ] == ["task_failed"]
        assert {e.run for e in client.tail(campaign=f"camp_{token}", since="10m", follow=False)} == {run}
        assert not list(client.tail(run=run, since="1s", follow=False, kinds={"task"}))  # nothing that recent
    finally:
        loader.close()
        _delete_docs(any_backend, [run, other])


def test_tail_command_json_and_lines(
    any_settings, any_backend, any_redis, unique, monkeypatch, capsys, tmp_path
):
    from provgraph.cli.main import main

    signal = tmp_path / "go-on"
    signal.write_text("go")
    start = any_redis.xadd(any_settings.stream, {"probe": "not a message"})  # skipped: no wire field
    process = _start_workflow(any_settings, unique, signal, tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    run = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)["run"]
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", any_settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", any_settings.home)
    monkeypatch.setenv("PROVGRAPH_REDIS_URL", any_settings.redis_url)
    monkeypatch.setenv("PROVGRAPH_STREAM", any_settings.stream)
    monkeypatch.delenv("PROVGRAPH_SETTINGS", raising=False)
    argv = ["tail", "--from-id", start.decode(), "--idle-exit", "1", "--run", run]
    assert main([*argv, "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["event"] == "run_started" and events[-1]["event"] == "run_finished"
    assert {e["kind"] for e in events} == {"run", "task", "llm", "telemetry"}
    assert main([*argv, "--kind", "task", "--status", "ERROR"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert (
        f"tail_{unique}" in line and "task FAILED" in line and f"ValueError: no labels for {unique}" in line
    )
    assert main(["tail", "--since", "yesterday-ish"]) == 1
    assert "neither a duration" in capsys.readouterr().err


def test_filters_and_since_parsing():
    assert parse_since("2026-01-02T03:04:05Z") == "2026-01-02T03:04:05.000000Z"
    assert parse_since("90s", now=1_700_000_090.0) == "2023-11-14T22:13:20.000000Z"
    assert parse_since("1h", now=3600.0) == "1970-01-01T00:00:00.000000Z"
    with pytest.raises(ConfigurationError, match="neither a duration"):
        parse_since("yesterday-ish")
    with pytest.raises(ConfigurationError, match="unknown event kind"):
        TailFilter(kinds=frozenset({"tasks"}))
    flt = TailFilter(campaign="exp 1")
    assert flt.campaign_ids() == ["exp 1", "pgid:campaign_exp_1"]
    event = TailEvent("run_started", None, run="r", id="r", campaign="pgid:campaign_exp_1")
    assert flt.admits(event) and not TailFilter(campaign="exp2").admits(event)
