"""The Dask adapter on a real `distributed` LocalCluster: every task of a small graph (futures with known keys, a
scattered input, a failing task) is in the run with its worker, function, status and timing, and each task used
exactly the results of the tasks it depends on, on Neo4j and on the embedded engine."""

from __future__ import annotations

import pytest
from _adapter_helpers import edges, run_captured

pytestmark = [pytest.mark.adapters, pytest.mark.services]

WORKLOAD = r"""
import capture
from dask.distributed import Client, LocalCluster
from capture.adapters.dask import instrument


def inc(x):
    return x + 1


def add(a, b):
    return a + b


def boom(x):
    raise ValueError(f"bad {x}")


if __name__ == "__main__":
    with capture.Workflow("dask_test") as run:
        with LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster, Client(cluster) as client:
            plugin = instrument(client)
            ten = client.scatter(10)
            a = client.submit(inc, 1, key="inc-a")
            b = client.submit(inc, ten, key="inc-b")
            c = client.submit(add, a, b, key="add-c")
            print("c:", c.result())
            d = client.submit(boom, c, key="boom-d")
            try:
                d.result()
            except ValueError as exc:
                print("error:", exc)
            print("scattered:", ten.key)
            print("worker:", next(iter(cluster.scheduler.workers)))
    print("run:", run.id)
"""


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    return run_captured(WORKLOAD, tmp_path_factory.mktemp("dask"))


def test_every_task_with_its_dependencies_worker_and_status(captured, load, any_backend):
    lines, messages = captured
    run, scattered, worker = lines["run"], lines["scattered"], lines["worker"]
    assert (lines["c"], lines["error"]) == ("13", "bad 13")
    load(messages)

    tasks = {
        row["key"]: row
        for row in any_backend.read(
            "MATCH (t:Task {kind: 'dask_task'})-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
            "RETURN t.id AS id, t.dask_key AS key, t.name AS name, t.function AS function, t.worker AS worker, "
            "t.status AS status, t.error AS error, t.duration_s AS duration, t.startTime AS start, t.endTime AS end",
            {"run": run},
        )
    }
    assert sorted(tasks) == ["add-c", "boom-d", "inc-a", "inc-b"]
    assert {key: (t["function"], t["status"]) for key, t in tasks.items()} == {
        "inc-a": ("__main__.inc", "FINISHED"),
        "inc-b": ("__main__.inc", "FINISHED"),
        "add-c": ("__main__.add", "FINISHED"),
        "boom-d": ("__main__.boom", "ERROR"),
    }
    assert tasks["boom-d"]["error"] == "ValueError('bad 13')"
    assert all(
        t["worker"] == worker and t["duration"] >= 0 and t["start"] <= t["end"] for t in tasks.values()
    )

    # The exact graph around the tasks, with ids replaced by readable names.
    name = {t["id"]: f"task:{key}" for key, t in tasks.items()}
    outputs = {
        row["e"]: row["key"]
        for row in any_backend.read(
            "MATCH (e:Entity)-[:wasGeneratedBy]->(t:Task) WHERE t.id IN $ids RETURN e.id AS e, e.dask_key AS key",
            {"ids": list(name)},
        )
    }
    name.update({entity: f"result:{key}" for entity, key in outputs.items()})
    name[run] = "run"

    def readable(row, end):
        node_id, labels, props = row[end], row[f"{end}_labels"], row[f"{end}_props"]
        if node_id in name:
            return name[node_id]
        if "Agent" in labels and props.get("dask_worker") == worker:
            return "worker"
        if props.get("dask_key") == scattered:
            return "data:scattered"
        return node_id

    graph = {
        (readable(row, "s"), row["type"], readable(row, "t"), row["props"].get("role"))
        for row in edges(any_backend, run)
        if row["s"] in name and row["s"] != run
    }
    assert graph == {
        *{(f"task:{key}", "wasStartedBy", "run", None) for key in tasks},
        *{(f"task:{key}", "wasAssociatedWith", "worker", None) for key in tasks},
        ("result:inc-a", "wasGeneratedBy", "task:inc-a", "result"),
        ("result:inc-b", "wasGeneratedBy", "task:inc-b", "result"),
        ("result:add-c", "wasGeneratedBy", "task:add-c", "result"),
        ("task:inc-b", "used", "data:scattered", scattered),
        ("result:inc-b", "wasDerivedFrom", "data:scattered", None),
        ("task:add-c", "used", "result:inc-a", "inc-a"),
        ("task:add-c", "used", "result:inc-b", "inc-b"),
        ("result:add-c", "wasDerivedFrom", "result:inc-a", None),
        ("result:add-c", "wasDerivedFrom", "result:inc-b", None),
        ("task:boom-d", "used", "result:add-c", "add-c"),
    }
    sizes = any_backend.read(
        "MATCH (e:Entity) WHERE e.id IN $ids RETURN e.dask_key AS key, e.python_type AS type, e.nbytes AS nbytes",
        {"ids": list(outputs)},
    )
    assert sorted((r["key"], r["type"]) for r in sizes) == [
        ("add-c", "int"),
        ("inc-a", "int"),
        ("inc-b", "int"),
    ]
    assert all(r["nbytes"] > 0 for r in sizes)
