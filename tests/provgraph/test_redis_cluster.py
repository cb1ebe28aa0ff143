"""Past one machine: capture and the loader on a real Redis Cluster, the graph through Neo4j's routing scheme.

The test starts its OWN Redis Cluster (three primaries of Debian's ``redis-server`` on 127.0.0.1, in a temporary
directory; `bench._redis_cluster`) and stops it in ``finally``; the graph is the shared test Neo4j, reached as
``neo4j://`` (a single Community server answers the routing scheme too). Workflow runs are captured in this
process and in producer processes through the cluster URL; two loaders (`ClusterLoader`, two consumers of each
stream's group) load them; the stored documents must equal the captured ones record for record, each record
loaded once.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from bench._redis_cluster import LocalRedisCluster
from capture._streams import connect, partition_keys, partition_of
from capture.settings import Settings

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
ELEMENT_KINDS = {"entity", "activity", "agent", "bundle"}
ROUTING_URI = "neo4j://" + NEO4J_URI.split("://", 1)[1]

PRODUCER = textwrap.dedent(
    """
    import sys
    import capture

    @capture.task(output_names="y")
    def square(x):
        return x * x

    for name in sys.argv[1:]:
        with capture.Workflow(name) as run:
            for i in range(20):
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
    subprocess.run([sys.executable, "-c", PRODUCER, *names], env=env, check=True, timeout=120)


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


def test_runs_through_a_three_primary_cluster_load_exactly_with_two_loaders(
    tmp_path: Path, unique: str
) -> None:
    import capture
    from provgraph.cluster_loader import ClusterLoader
    from provgraph.graph.backend import Neo4jBackend

    names = [f"cluster-{unique}-{i}" for i in range(12)]
    buffer = tmp_path / "buffer"
    _capture_runs(buffer, names)
    messages = capture.read_buffer(buffer)
    sent: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    namespaces: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for message in messages:
        namespaces[message.doc].update(message.namespaces)
        for record in message.records:
            sent[message.doc][json.dumps(record, sort_keys=True)] += 1
    docs = sorted(sent)
    assert len(docs) == len(names)
    records = sum(len(m.records) for m in messages)
    ids = _element_ids([json.loads(r) for doc in docs for r in sent[doc]])

    cluster = LocalRedisCluster(tmp_path / "cluster")
    backends: list[Neo4jBackend] = []
    try:
        cluster.start()
        settings = Settings(
            home=str(tmp_path / "home"),
            graph_url=ROUTING_URI,
            redis_url=cluster.url,
            stream=f"provgraph:test:{unique}:records",
            dead_letter_stream=f"provgraph:test:{unique}:dead",
            consumer_group=f"loader-{unique}",
            loader_batch_records=200,
            loader_flush_interval_ms=20,
        )
        # the producer side: every captured message through capture's own Redis sink, placed by its run
        result = capture.replay(buffer, settings=settings)
        assert (result.messages, result.records, result.failed) == (len(messages), records, [])
        client = connect(cluster.url)
        try:
            keys = partition_keys(settings.stream, 6)
            lengths = {key: client.xlen(key) for key in keys}
            assert sum(lengths.values()) == len(messages)
            for message_doc in docs:  # each run wholly in its partition, in the order it was sent
                key = keys[partition_of(message_doc, 6)]
                entries = [json.loads(fields[b"m"]) for _, fields in client.xrange(key)]
                assert [e["records"] for e in entries if e["doc"] == message_doc] == [
                    m.records for m in messages if m.doc == message_doc
                ]
            shards = {client.get_node_from_key(key).port for key, n in lengths.items() if n}
            assert len(shards) >= 2, f"12 runs all on one shard: {lengths}"
        finally:
            client.close()

        # two loaders, each reading every stream; the graph through the routing scheme
        loaders = []
        for name in ("a", "b"):
            backend = Neo4jBackend(settings)
            backends.append(backend)
            loaders.append(ClusterLoader(settings, backend=backend, consumer=f"{unique}-{name}"))
        failures: list[BaseException] = []

        def run(loader: ClusterLoader) -> None:
            try:
                loader.run(until_idle_s=1.0)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(loader,)) for loader in loaders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not failures and not any(t.is_alive() for t in threads)
        for loader in loaders:
            loader.close()
        loaded = [loader.stats.records for loader in loaders]
        assert sum(loaded) == records, f"each record loaded once: {loaded} for {records} sent"
        assert sum(loader.dead_letters for loader in loaders) == 0
        assert set(loaders[0].streams) >= set(keys)

        declarations, relations = _stored(backends[0], docs, ids)
        sent_all = {(doc, r) for doc in docs for r in sent[doc]}
        sent_elements = {(doc, r) for doc, r in sent_all if json.loads(r)["k"] in ELEMENT_KINDS}
        sent_relations = sent_all - sent_elements
        assert sorted(declarations) == sorted(sent_elements)  # every declaration stored, once
        assert sorted(relations) == sorted(sent_relations)  # every relation stored, once
        rows = backends[0].read(
            "MATCH (t:Task)-[:wasStartedBy]->(r:WorkflowRun) WHERE r.id IN $docs "
            "RETURN count(t) AS n, count(DISTINCT t.id) AS d",
            {"docs": docs},
        )
        assert (rows[0]["n"], rows[0]["d"]) == (20 * len(docs), 20 * len(docs))
    finally:
        cluster.stop()
        if backends:
            _delete(backends[0], docs, ids)
        for backend in backends:
            backend.close()


def _delete(backend, docs: list[str], unique: str) -> None:
    from provgraph.purge import purge, select

    purge(backend, select(backend, docs=docs))
