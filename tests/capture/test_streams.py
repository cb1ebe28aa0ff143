"""Redis Cluster URLs and stream placement (`capture._streams`), without a server: the cluster itself is
exercised end to end in tests/provgraph/test_redis_cluster.py."""

from __future__ import annotations

import json

import pytest

from capture._streams import (
    StreamPlacement,
    discover_stream_keys,
    document_of,
    parse_cluster_url,
    partition_keys,
    partition_of,
)


def test_cluster_url_parses_nodes_credentials_and_partitions() -> None:
    address = parse_cluster_url("redis-cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001/?partitions=9")
    assert address.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    assert (address.username, address.password, address.tls, address.partitions) == ("u", "p@ss", False, 9)
    assert parse_cluster_url("rediss-cluster://127.0.0.1:7000").tls
    for bad in (
        "redis-cluster://",
        "redis-cluster://host",
        "redis-cluster://h:1?partitions=0",
        "redis-cluster://h:1?x=1",
    ):
        with pytest.raises(ValueError, match="redis-cluster://"):
            parse_cluster_url(bad)
    with pytest.raises(ValueError) as caught:
        parse_cluster_url("redis-cluster://u:secret@h:1?shards=2")
    assert "secret" not in str(caught.value)


def test_partitions_spread_over_the_slot_space_and_runs_stay_in_one() -> None:
    from redis.crc import key_slot

    keys = partition_keys("provgraph:records", 6)
    slots = [key_slot(key.encode()) for key in keys]
    assert [slot * 6 // 16384 for slot in slots] == list(range(6))  # partition i in the i-th sixth
    placement = StreamPlacement("provgraph:records", "redis-cluster://127.0.0.1:1?partitions=6")
    payload = json.dumps({"v": 1, "doc": "pgid:run_x", "records": []}).encode()
    assert document_of(payload) == "pgid:run_x"
    assert placement.key(payload) == keys[partition_of("pgid:run_x", 6)]
    assert StreamPlacement("s", "redis://127.0.0.1:6379/0").key(payload) == "s"  # one server: one stream


def test_escaped_documents_and_non_messages_have_a_partition() -> None:
    payload = json.dumps({"v": 1, "doc": 'ex:a"b', "records": []}).encode()
    assert document_of(payload) == 'ex:a"b'
    assert document_of(b"not json") == ""
    placement = StreamPlacement("s", "redis-cluster://127.0.0.1:1?partitions=3")
    assert placement.key(b"not json") == placement.keys()[0]
    assert len(set(placement.keys())) == 3


def test_discovery_reads_the_base_stream_the_partitions_and_other_counts() -> None:
    class Scanner:
        def scan_iter(self, match: str, count: int, _type: str) -> list[bytes]:
            assert (match, _type) == (r"a\*b:{*}", "stream")
            return [b"a*b:{old}", *(k.encode() for k in partition_keys("a*b", 2))]

    keys = discover_stream_keys(Scanner(), "a*b", 2)
    assert keys == ["a*b", *partition_keys("a*b", 2), "a*b:{old}"]
