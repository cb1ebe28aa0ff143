"""Capture across forked processes with the real emitter and the file sink: one run, unique ids, linked parents."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest

import capture
from capture import _context, wire
from capture._emitter import Emitter
from capture._sinks import read_buffer
from capture.settings import Settings

CALLS = 200
WORKERS = 4


@capture.task(output_names="y")
def square(x):
    return x * x


@capture.task
def worker(index):
    for i in range(CALLS):
        square(index * CALLS + i)
    return index


def _child(index: int) -> None:
    worker(index)
    capture.flush(timeout_s=30)  # this test's emitter is not the process emitter, so flush explicitly


def test_forked_workers_feed_one_run_without_id_collisions(tmp_path):
    settings = Settings(home=str(tmp_path), sink="file", buffer_path=str(tmp_path / "buffer"))
    saved = (
        _context.STATE.on,
        _context.STATE.resolved,
        _context.STATE.settings,
        _context.STATE.emitter,
        _context.STATE.emit,
    )
    emitter = Emitter(settings)
    _context.set_enabled(True, settings)
    _context.use_emitter(emitter)
    try:
        with capture.Workflow("forked") as run:
            context = multiprocessing.get_context("fork")
            children = [context.Process(target=_child, args=(i,)) for i in range(WORKERS)]
            for child in children:
                child.start()
            for child in children:
                child.join(60)
            assert [child.exitcode for child in children] == [0] * WORKERS
        emitter.shutdown(30)
    finally:
        (
            _context.STATE.on,
            _context.STATE.resolved,
            _context.STATE.settings,
            _context.STATE.emitter,
            _context.STATE.emit,
        ) = saved

    records = [r for m in read_buffer(tmp_path / "buffer") if m.doc == run.id for r in m.records]
    tasks = {r["id"]: r for r in records if r["k"] == "activity" and "task_" in r["id"]}
    names = [dict((k, v) for k, v in r["a"])["pg:name"] for r in tasks.values()]
    assert names.count("square") == WORKERS * CALLS and names.count("worker") == WORKERS
    prefixes = {task_id.split("_")[1] for task_id in tasks}
    assert len(prefixes) == WORKERS  # each forked child minted under its own process prefix
    starters = {r["f"]["activity"]: r["f"]["starter"] for r in records if r["k"] == "wasStartedBy"}
    workers = {i for i, n in zip(tasks, names, strict=True) if n == "worker"}
    assert {starters[i] for i, n in zip(tasks, names, strict=True) if n == "square"} == workers
    assert {starters[w] for w in workers} == {run.id}


POOL_SCRIPT = r"""
import multiprocessing, sys
import capture

@capture.task(output_names="y")
def work(x):
    return x * 3

for _ in range(int(sys.argv[1])):
    with capture.Workflow("pool") as run:
        with multiprocessing.Pool(2) as pool:  # created at once: the emitter may be importing redis right now
            assert pool.map(work, range(100)) == [x * 3 for x in range(100)]
        # leaving the `with` terminates the workers (Pool.__exit__ calls terminate())
    print("run:", run.id)
"""


@pytest.mark.services
def test_with_pool_as_pool_records_every_task_ten_runs_in_a_row(tmp_path, redis_client, unique):
    """`with multiprocessing.Pool(2) as pool` over 100 tasks, pool created right after the workflow starts: 100 of
    100 tasks of each of ten runs reach the stream (the workers are terminated, never flushed at exit)."""
    stream = f"provgraph:test:pool:{unique}"
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_REDIS_URL=os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        PROVGRAPH_STREAM=stream,
        PROVGRAPH_HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    try:
        done = subprocess.run(
            [sys.executable, str(script), "10"], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("run: ")]
        assert len(runs) == 10
        tasks: dict[str, set[str]] = {run: set() for run in runs}
        for _entry_id, fields in redis_client.xrange(stream):
            message = wire.decode_message(fields[wire.FIELD.encode()])
            for record in message.records:
                attrs = dict(map(tuple, record.get("a", [])))
                if record["k"] == "activity" and attrs.get("prov:type", {}).get("$") == "pg:Task":
                    tasks[message.doc].add(record["id"])
        assert [len(tasks[run]) for run in runs] == [100] * 10
        spill = tmp_path / "home" / "spill"
        assert not list(spill.rglob("*.jsonl")) or all(p.stat().st_size == 0 for p in spill.rglob("*.jsonl"))
    finally:
        redis_client.delete(stream)
