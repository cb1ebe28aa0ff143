"""A run whose producer died without ending it is shown as ABANDONED, one whose producer still runs as RUNNING,
both backends (provgraph.producers; the process agent is what capture records for every run)."""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys

from capture import wire
from provgraph import Client
from provgraph.loader import load_messages
from provgraph.producers import ABANDONED, RUNNING


def _run_records(run: str, hostname: str, pid: int, *, ended: bool) -> list[dict]:
    # the run starts after its producer did (a pid whose process started later was reused: not the producer)
    started = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
    formal = {"startTime": started.isoformat()}
    attrs = [["prov:type", wire.qualified_name("pg:WorkflowRun")], ["pg:name", "producers"]]
    if ended:
        formal["endTime"] = (started + datetime.timedelta(seconds=5)).isoformat()
        attrs.append(["pg:status", "FINISHED"])
    agent = f"{run}_process"
    return [
        wire.element("activity", run, attrs, formal=formal),
        wire.element("agent", agent, [["pg:hostname", hostname], ["pg:pid", pid]]),
        wire.relation("wasAssociatedWith", activity=run, agent=agent),
    ]


def test_runs_without_an_end_are_running_or_abandoned(any_backend, unique):
    here = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runs = {
        "alive": (here, alive.pid, False),
        "killed": (here, dead.pid, False),
        "elsewhere": ("another-machine.example", alive.pid, False),
        "ended": (here, dead.pid, True),
    }
    doc = f"pgid:doc_producers_{unique}"
    records = []
    for name, (host, pid, ended) in runs.items():
        records += _run_records(f"pgid:run_{name}_{unique}", host, pid, ended=ended)
    try:
        load_messages(any_backend, [wire.Message(doc=doc, records=records)])
        client = Client(backend=any_backend)
        status = {name: client.run_summary(f"pgid:run_{name}_{unique}").status for name in runs}
        assert status == {"alive": RUNNING, "killed": ABANDONED, "elsewhere": None, "ended": "FINISHED"}
        alive.kill()
        alive.wait()
        assert client.run_summary(f"pgid:run_alive_{unique}").status == ABANDONED
    finally:
        alive.kill()
        any_backend.write(
            [
                ("MATCH (n:Element) WHERE $doc IN n.docs DETACH DELETE n", {"doc": doc}),
                ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": doc}),
            ]
        )


_PRODUCER = """
import sys
import time

import capture


@capture.task(output_names="y")
def step(x):
    return x + 1


with capture.Workflow("killed-producer") as run:
    for i in range(5):
        step(i)
    assert capture.flush(30)
    print(run.id, flush=True)
    time.sleep(300)  # SIGKILLed here: the run never ends
"""


def test_a_real_producer_killed_mid_run_shows_running_then_abandoned(any_backend, tmp_path):
    """A workflow process with finished tasks, alive then SIGKILLed: the run has no end of its own, so it shows as
    RUNNING, then ABANDONED (its steps' end times are theirs, not the run's), and what it sent is there once."""
    env = {
        **__import__("os").environ,
        "PROVGRAPH_SINK": "file",
        "PROVGRAPH_BUFFER_PATH": str(tmp_path / "buffer"),
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "PROVGRAPH_SETTINGS": str(tmp_path / "no-settings.yaml"),
    }
    producer = subprocess.Popen([sys.executable, "-c", _PRODUCER], env=env, stdout=subprocess.PIPE, text=True)
    docs: set[str] = set()
    try:
        run = producer.stdout.readline().strip()
        assert run.startswith("pgid:run_"), run
        import capture

        messages = capture.read_buffer(tmp_path / "buffer")
        docs = {message.doc for message in messages}
        load_messages(any_backend, messages)
        load_messages(any_backend, messages)  # sent twice (a replay): still once in the graph
        client = Client(backend=any_backend)
        alive = client.run_summary(run)
        assert (alive.status, alive.end_time, alive.tasks, alive.finished) == (RUNNING, None, 5, 5)
        producer.kill()
        producer.wait(30)
        killed = client.run_summary(run)
        assert (killed.status, killed.end_time, killed.tasks, killed.finished) == (ABANDONED, None, 5, 5)
        assert [
            summary.status for summary in client.runs(workflow="killed-producer") if summary.id == run
        ] == [ABANDONED]
    finally:
        producer.kill()
        producer.wait(30)
        for doc in docs:
            any_backend.write(
                [
                    ("MATCH (n:Element) WHERE $doc IN n.docs DETACH DELETE n", {"doc": doc}),
                    ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": doc}),
                ]
            )
