"""Past one machine: capture and the loader on a real Redis Cluster, the graph through Neo4j's routing scheme.

The test starts its OWN Redis Cluster (three primaries of Debian's ``redis-server`` on 127.0.0.1, in a temporary
directory; `bench._redis_cluster`) and stops it in ``finally``; the graph is the shared test Neo4j, reached as
``neo4j://`` (a single Community server answers the routing scheme too). Workflow runs captured by a producer
process (into an offline buffer, so the exact messages are known) go through capture's Redis sink to the
cluster, with a PROV document imported onto the stream; three loaders (two `ClusterLoader`s and a `provgraph
load` process, three consumers of each stream's group) load them; the stored documents must equal the captured
ones record for record, each record loaded once. A second test stops a primary in the middle.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench._redis_cluster import LocalRedisCluster
from capture import wire
from capture._streams import connect, partition_keys, partition_of
from capture.settings import Settings
from provgraph.tail import TailFilter, tail

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
ELEMENT_KINDS = {"entity", "activity", "agent", "bundle"}
ROUTING_URI = "neo4j://" + NEO4J_URI.split("://", 1)[1]

TASKS = 20
PRODUCER = textwrap.dedent(
    """
    import sys
    import capture

    @capture.task(output_names="y")
    def square(x):
        return x * x

    for name in sys.argv[1:]:
        with capture.Workflow(name) as run:
            for i in range(TASKS):
                square(i)
    """
)


def _capture_runs(buffer: Path, names: list[str]) -> None:
    """Capture workflow runs into an offline buffer: the exact messages the cluster then carries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(buffer),
        PROVGRAPH_HOME=str(buffer.parent / "home-buffer"),
        XDG_CONFIG_HOME=str(buffer.parent / "config"),
        PYTHONPATH=str(ROOT),
    )
    subprocess.run(
        [sys.executable, "-c", PRODUCER.replace("TASKS", str(TASKS)), *names],
        env=env,
        check=True,
        timeout=120,
    )


def _element_ids(records: list[dict]) -> list[str]:
    """Every element id the records declare or reference (the nodes the run touches)."""
    ids: set[str] = set()
    for record in records:
        if "id" in record and record["k"] in ELEMENT_KINDS:
            ids.add(record["id"])
        ids.update(v for v in (record.get("f") or {}).values() if isinstance(v, str) and ":" in v)
    return sorted(ids)


def _stored(backend, docs: list[str], ids: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The stored declarations and relation records of ``docs`` on the nodes ``ids``: (document, record as
    canonical JSON), one entry per stored copy, so a record stored twice shows twice."""
    declarations = [
        (entry["doc"], json.dumps(entry["r"], sort_keys=True))
        for row in backend.read("MATCH (n:Element) WHERE n.id IN $ids RETURN n._decl AS d", {"ids": ids})
        for entry in map(json.loads, row["d"] or [])
        if entry["doc"] in docs
    ]
    relations = [
        (row["doc"], json.dumps(json.loads(row["rec"]), sort_keys=True))
        for row in backend.read(
            "MATCH (n:Element)-[r]-() WHERE n.id IN $ids AND r.doc IN $docs RETURN DISTINCT r.sk AS sk, "
            "r.doc AS doc, r._rec AS rec",
            {"ids": ids, "docs": docs},
        )
    ]
    return declarations, relations


def _delete(backend, docs: list[str], ids: list[str]) -> None:
    """Remove what the test's runs stored by index look-ups (relationships by statement key, then the nodes
    only they declared, their documents and namespaces); shared nodes such as the machine agent stay."""
    from provgraph.graph.model import RELATIONSHIP_TYPES

    sks = [
        row["sk"]
        for row in backend.read(
            "MATCH (n:Element)-[r]-() WHERE n.id IN $ids AND r.doc IN $docs RETURN DISTINCT r.sk AS sk",
            {"ids": ids, "docs": docs},
        )
    ]
    backend.write(
        [
            (f"MATCH ()-[r:{t}]->() WHERE r.sk IN $sks DELETE r", {"sks": sks})
            for t in sorted(RELATIONSHIP_TYPES)
        ]
        + [
            (
                "MATCH (n:Element) WHERE n.id IN $ids AND all(d IN n.docs WHERE d IN $docs) DETACH DELETE n",
                {"ids": ids, "docs": docs},
            ),
            ("MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n", {"docs": docs}),
            ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
        ]
    )


@dataclass
class Captured:
    """Workflow runs captured into an offline buffer: the exact messages the cluster then carries."""

    buffer: Path
    messages: list[wire.Message]
    sent: dict[str, set[str]]  # document -> its records, as canonical JSON
    records: int

    @property
    def docs(self) -> list[str]:
        return sorted(self.sent)

    @property
    def ids(self) -> list[str]:
        return _element_ids([json.loads(r) for doc in self.docs for r in self.sent[doc]])


def _capture(tmp_path: Path, unique: str, runs: int) -> Captured:
    import capture

    buffer = tmp_path / "buffer"
    _capture_runs(buffer, [f"cluster-{unique}-{i}" for i in range(runs)])
    messages = capture.read_buffer(buffer)
    sent: dict[str, set[str]] = collections.defaultdict(set)
    for message in messages:
        sent[message.doc].update(json.dumps(record, sort_keys=True) for record in message.records)
    assert len(sent) == runs
    return Captured(buffer, messages, dict(sent), sum(len(m.records) for m in messages))


def _settings(tmp_path: Path, unique: str, url: str) -> Settings:
    return Settings(
        home=str(tmp_path / "home"),
        graph_url=ROUTING_URI,
        redis_url=url,
        stream=f"provgraph:test:{unique}:records",
        dead_letter_stream=f"provgraph:test:{unique}:dead",
        consumer_group=f"loader-{unique}",
        loader_batch_records=200,
        loader_flush_interval_ms=20,
        loader_retry_max_s=0.5,
    )


def _assert_exact(backend, captured: Captured) -> None:
    """The graph holds every captured record of the runs once, and nothing else of them."""
    docs = captured.docs
    declarations, relations = _stored(backend, docs, captured.ids)
    sent_all = {(doc, r) for doc in docs for r in captured.sent[doc]}
    sent_elements = {(doc, r) for doc, r in sent_all if json.loads(r)["k"] in ELEMENT_KINDS}
    assert sorted(declarations) == sorted(sent_elements)  # every declaration stored, once
    assert sorted(relations) == sorted(sent_all - sent_elements)  # every relation stored, once
    rows = backend.read(
        "MATCH (t:Task)-[:wasStartedBy]->(r:WorkflowRun) WHERE r.id IN $docs "
        "RETURN count(t) AS n, count(DISTINCT t.id) AS d",
        {"docs": docs},
    )
    assert (rows[0]["n"], rows[0]["d"]) == (TASKS * len(docs), TASKS * len(docs))


def test_runs_through_a_three_primary_cluster_load_exactly_with_three_loaders(
    tmp_path: Path, unique: str
) -> None:
    from prov.model import ProvDocument

    import capture
    from provgraph.cluster_loader import ClusterLoader
    from provgraph.graph.backend import Neo4jBackend
    from provgraph.prov.compare import same_document
    from provgraph.prov.export import export_document
    from provgraph.prov.importer import import_document

    captured = _capture(tmp_path, unique, 12)
    messages = captured.messages
    extra_docs: list[str] = []
    cluster = LocalRedisCluster(tmp_path / "cluster")
    backends: list[Neo4jBackend] = []
    try:
        cluster.start()
        settings = _settings(tmp_path, unique, cluster.url)
        # `provgraph tail` follows every partition stream, those created after it started included
        tailed: list[Any] = []
        tail_events = tail(settings, None, flt=TailFilter(kinds=frozenset({"run", "task"})), idle_timeout_s=4)
        tailer = threading.Thread(target=lambda: tailed.extend(tail_events), daemon=True)
        tailer.start()
        # the producer side: every captured message through capture's own Redis sink, placed by its run
        result = capture.replay(captured.buffer, settings=settings)
        assert (result.messages, result.records, result.failed) == (len(messages), captured.records, [])
        client = connect(cluster.url)
        try:
            keys = partition_keys(settings.stream, 6)
            lengths = {key: client.xlen(key) for key in keys}
            assert sum(lengths.values()) == len(messages)
            for doc in captured.docs:  # each run wholly in its partition, in the order it was sent
                entries = [
                    wire.decode_message(fields[b"m"])
                    for _, fields in client.xrange(keys[partition_of(doc, 6)])
                ]
                assert [e.records for e in entries if e.doc == doc] == [
                    m.records for m in messages if m.doc == doc
                ]
            shards = {client.get_node_from_key(key).port for key, n in lengths.items() if n}
            assert len(shards) >= 2, f"12 runs all on one shard: {lengths}"
        finally:
            client.close()

        tailer.join(timeout=60)
        assert not tailer.is_alive()
        finished = collections.Counter(e.run for e in tailed if e.event == "task_finished")
        assert finished == {doc: TASKS for doc in captured.docs}, finished
        assert sorted(e.run for e in tailed if e.event == "run_finished") == captured.docs

        # a PROV document imported onto the stream goes to its own partition and loads too
        document = ProvDocument()
        document.add_namespace("ex", f"http://example.org/{unique}/cluster/")
        document.entity("ex:e", {"prov:label": "via the cluster"})
        document.wasDerivedFrom("ex:e", "ex:f", identifier="ex:d")
        imported = import_document(settings, document, via_stream=True)
        extra_docs.append(imported.doc)

        # three loaders, each reading every stream: two in this process, one `provgraph load` process; the graph
        # through the routing scheme
        command = subprocess.Popen(
            [sys.executable, "-m", "provgraph", "load", "--until-idle", "1", "--consumer", f"{unique}-c"],
            env=_cli_env(settings, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        loaders = []
        for name in ("a", "b"):
            backends.append(Neo4jBackend(settings))
            loaders.append(ClusterLoader(settings, backend=backends[-1], consumer=f"{unique}-{name}"))
        failures: list[BaseException] = []
        threads = [_running(loader, 1.0, failures) for loader in loaders]
        for thread in threads:
            thread.join(timeout=120)
        out, err = command.communicate(timeout=120)
        assert command.returncode == 0, err[-3000:]
        assert "reading every partition of" in err
        assert re.search(r"\d+ streams: loaded \d+ records", err), err  # one progress line for all streams
        assert not failures and not any(t.is_alive() for t in threads)
        for loader in loaders:
            loader.close()
        by_command = int(re.findall(r"stopped: (\d+) records", err)[-1])
        loaded = [loader.stats.records for loader in loaders] + [by_command]
        expected = captured.records + imported.records
        assert sum(loaded) == expected, f"each record loaded once: {loaded} of {expected}"
        status = subprocess.run(
            [sys.executable, "-m", "provgraph", "status", "--no-graph"],
            env=_cli_env(settings, tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for key in keys:  # every partition listed, nothing pending
            assert re.search(
                rf"stream +{re.escape(key)}: \d+ entries\ngroup +{settings.consumer_group}: "
                r"\d+ consumers, 0 pending",
                status,
            ), status
        assert sum(loader.dead_letters for loader in loaders) == 0
        assert set(loaders[0].streams) >= set(keys)
        _assert_exact(backends[0], captured)
        assert same_document(document, export_document(backends[0], doc=imported.doc))
    finally:
        cluster.stop()
        if backends:
            _delete(backends[0], captured.docs + extra_docs, captured.ids + ["ex:e", "ex:f"])
        for backend in backends:
            backend.close()


def _cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment of a `provgraph` command with ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SETTINGS=str(tmp_path / "no-settings-file.yaml"),
        PROVGRAPH_HOME=settings.home,
        PROVGRAPH_REDIS_URL=settings.redis_url,
        PROVGRAPH_GRAPH_URL=settings.graph_url,
        PROVGRAPH_STREAM=settings.stream,
        PROVGRAPH_DEAD_LETTER_STREAM=settings.dead_letter_stream,
        PROVGRAPH_CONSUMER_GROUP=settings.consumer_group,
        PYTHONPATH=str(ROOT),
    )
    return env


def _running(loader, until_idle_s: float | None, failures: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            loader.run(until_idle_s=until_idle_s)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_primary_down_mid_run_stalls_the_transport_and_loses_nothing(tmp_path: Path, unique: str) -> None:
    """A primary stops (its data in its append-only file) while records are being sent and loaded: the sink
    refuses and the replay resumes later; the running loader waits (no crash, nothing acknowledged wrongly); once
    the primary is back, every record is in the graph exactly once."""
    import capture
    from capture._spill import replay_file
    from provgraph.cluster_loader import ClusterLoader
    from provgraph.graph.backend import Neo4jBackend

    captured = _capture(tmp_path, unique, 6)
    first = [m for m in captured.messages if m.doc in captured.docs[:3]]
    second = [m for m in captured.messages if m.doc in captured.docs[3:]]
    first_file, second_file = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    for path, part in ((first_file, first), (second_file, second)):
        path.write_bytes(
            b"".join(
                wire.encode_message(m.doc, m.records, m.namespaces, sent_at=m.sent_at) + b"\n" for m in part
            )
        )
    cluster = LocalRedisCluster(tmp_path / "cluster", appendonly=True, node_timeout_ms=1000)
    backend = None
    loader = None
    try:
        cluster.start()
        settings = _settings(tmp_path, unique, cluster.url)
        backend = Neo4jBackend(settings)
        loader = ClusterLoader(settings, backend=backend, consumer=f"{unique}-a")
        failures: list[BaseException] = []
        thread = _running(loader, None, failures)  # a long-running loader (`provgraph load`)
        sink = capture.RedisStreamSink(settings.redis_url, settings.stream)
        assert replay_file(first_file, sink)
        first_records = sum(len(m.records) for m in first)
        _wait_for(lambda: loader.stats.records >= first_records, 60, "the first runs to load")

        cluster.stop_node(1)  # the whole cluster refuses now (full slot coverage is required)
        assert not replay_file(
            second_file, sink
        )  # refused: the file keeps its progress, as a spill file does
        time.sleep(2.0)  # the loader meets the outage on every stream and waits
        assert thread.is_alive() and not failures

        cluster.start_node(1)
        _wait_for(lambda: replay_file(second_file, sink), 30, "the cluster to take the rest")
        sink.close()
        _wait_for(lambda: loader.stats.records >= captured.records, 60, "every record to load")
        loader.stop()
        thread.join(timeout=60)
        assert not failures and not thread.is_alive()
        assert loader.dead_letters == 0
        _assert_exact(backend, captured)
    finally:
        if loader is not None:
            loader.stop()
        cluster.stop()
        if backend is not None:
            _delete(backend, captured.docs, captured.ids)
            backend.close()


def test_stream_progress_lines_are_recognised_for_the_summed_line() -> None:
    from provgraph.cluster_loader import PROGRESS_LINE_START
    from provgraph.loader import LoaderProgress

    line = LoaderProgress(1, 1, 0, 1.0, 0, 0, False).line()
    assert line.startswith(PROGRESS_LINE_START)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis-cluster://nohost", "PROVGRAPH_REDIS_URL: Redis Cluster node 'nohost' has no host:port"),
        ("redis-cluster://127.0.0.1:1", "cannot reach the Redis Cluster at redis-cluster://127.0.0.1:1"),
    ],
)
def test_load_names_a_malformed_or_unreachable_cluster_in_one_line(
    tmp_path: Path, unique: str, url: str, says: str
) -> None:
    env = _cli_env(_settings(tmp_path, unique, url).replace(graph_url=NEO4J_URI), tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "provgraph", "load", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
