"""Answers a person can use (issue #21, point 5): slowest_tasks tells loop iterations from tasks, and resource
columns read in units, with what a task added to memory beside the process's peak.

A real capture run (a `capture.Loop` whose iterations each run a task) goes through the file sink and the
loader into the real graph on both engines.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from capture import read_buffer
from provgraph.client import Client
from provgraph.loader import load_messages
from provgraph.tables import format_bytes, format_table

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, time
import capture

@capture.task(output_names="y")
def step(x):
    time.sleep(0.05)
    return x * 2

with capture.Workflow(name=sys.argv[1]):
    loop = capture.Loop(range(2), loop_name="epochs", item_name="epoch")
    for epoch in loop:
        step(epoch)
        time.sleep(0.2)  # the iteration lasts longer than the task inside it
        loop.end_iter({"done": epoch})
"""


@pytest.fixture(scope="module")
def looped_run(graph_backend, tmp_path_factory):
    buffer = tmp_path_factory.mktemp("buffer")
    name = f"loops_{uuid.uuid4().hex[:12]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(buffer),
        PROVGRAPH_HOME=str(buffer / "home"),
        PROVGRAPH_SETTINGS=str(buffer / "none.yaml"),
    )
    ran = subprocess.run(
        [sys.executable, "-c", SCRIPT, name], env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    messages = read_buffer(buffer)
    load_messages(graph_backend, messages)
    [run] = {m.doc for m in messages}
    return run


def test_slowest_tasks_tells_iterations_from_tasks(graph_backend, looped_run):
    client = Client(backend=graph_backend)
    tasks = client.slowest_tasks(looped_run)
    assert [t.name for t in tasks] == ["step", "step"] and {t.kind for t in tasks} == {"task"}
    iterations = client.slowest_tasks(looped_run, kind="iteration")
    assert len(iterations) == 2 and {t.kind for t in iterations} == {"iteration"}
    assert min(i.duration_s for i in iterations) > max(t.duration_s for t in tasks)
    both = client.slowest_tasks(looped_run, kind=None, limit=10)
    assert [t.kind for t in both][:2] == ["iteration", "iteration"]  # what ranked iterations first before
    assert sorted(t.kind for t in both) == ["iteration", "iteration", "task", "task"]


def test_byte_columns_read_in_units():
    assert [format_bytes(v) for v in (0, 999, 20_480, 42_300_000, 1_210_000_000, -5_000_000)] == [
        "0 B",
        "999 B",
        "20.5 kB",
        "42.3 MB",
        "1.21 GB",
        "-5 MB",
    ]
    table = format_table([{"name": "train", "peak_rss_bytes": 950_000_000, "samples": 2}])
    assert table.splitlines()[2].split() == ["train", "950", "MB", "2"]
