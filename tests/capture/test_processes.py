"""Capture across forked processes with the real emitter and the file sink: one run, unique ids, linked parents."""

from __future__ import annotations

import multiprocessing

import capture
from capture import _context
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
