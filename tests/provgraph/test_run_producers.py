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
