"""The loader on the real Redis and Neo4j: exact counts and values, crash and restart, two loaders, dead letters.

Every test uses its own stream, group, document id and namespace (``unique``), counts only nodes under its own
namespace, and deletes only those at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from _mixed_records import MixedRecords, build, payloads  # noqa: E402

from capture import wire  # noqa: E402
from provgraph.errors import QueryError  # noqa: E402
from provgraph.graph.backend import server_version  # noqa: E402
from provgraph.graph.cypher import as_one_query  # noqa: E402
from provgraph.loader import Batch, Loader, load_messages, message_rows  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


# --- helpers --------------------------------------------------------------------------------------------------------


def _push(redis_client, stream: str, items: list[bytes]) -> list[str]:
    pipe = redis_client.pipeline(transaction=False)
    for payload in items:
        pipe.xadd(stream, {wire.FIELD: payload})
    return [i.decode() for i in pipe.execute()]


def _graph(backend, mixed: MixedRecords) -> dict:
    """What the graph holds under this test's namespace (plus its document's placeholder node)."""
    params = {"ns": mixed.namespace, "placeholder": f"{mixed.doc} _:"}
    scope = "MATCH (n:Element) WHERE n.key STARTS WITH $ns OR n.key = $placeholder "
    nodes = backend.read(
        scope + "RETURN count(n) AS nodes, sum(CASE WHEN n.declared THEN 1 ELSE 0 END) AS declared, "
        "max(size(coalesce(n._decl, []))) AS max_decl, count(DISTINCT n.key) AS keys",
        params,
    )[0]
    rels = backend.read(
        scope
        + "MATCH (n)-[r]->() RETURN type(r) AS type, count(r) AS count, count(DISTINCT r.sk) AS distinct_sk",
        params,
    )
    files = backend.read("MATCH (n:File) WHERE n.key STARTS WITH $ns RETURN count(n) AS files", params)[0][
        "files"
    ]
    return {
        "nodes": nodes["nodes"],
        "declared": nodes["declared"],
        "max_decl": nodes["max_decl"],
        "keys": nodes["keys"],
        "relations": {row["type"]: row["count"] for row in rels},
        "distinct_sk": sum(row["distinct_sk"] for row in rels),
        "files": files,
    }


def _assert_exact(backend, mixed: MixedRecords) -> None:
    graph = _graph(backend, mixed)
    assert graph["nodes"] == graph["keys"] == len(mixed.element_keys)
    assert graph["declared"] == len(mixed.declared_keys)
    assert graph["max_decl"] == 1  # every element declared once: nothing appended twice
    assert graph["relations"] == mixed.relations
    assert graph["distinct_sk"] == mixed.relation_count
    assert graph["files"] == len(mixed.file_keys)


def _graph_spelling(backend, mixed: MixedRecords) -> dict[str, str]:
    """The records' prefixes (``ex``, and ``bx`` in bundles) -> the property prefixes the graph gave their
    namespaces (`provgraph.graph.prefixes`: on a graph where another namespace took ``ex`` first, ``ex_2``...)."""
    written = {"ex": mixed.namespace, "bx": mixed.namespace + "b/"}
    rows = backend.read(backend.render("prefixes/read"), {"uris": list(written.values())})
    graph = {row["uri"]: row["prefix"] for row in rows}
    return {prefix: graph.get(uri, prefix) for prefix, uri in written.items()}


def _respelled(expected: dict, spelling: dict[str, str]) -> dict:
    def name(text: str) -> str:
        prefix, sep, local = text.partition(":")
        return f"{spelling[prefix]}:{local}" if sep and prefix in spelling else text

    return {name(key): name(value) if key == "id" else value for key, value in expected.items()}


def _assert_samples(backend, mixed: MixedRecords) -> None:
    keys = sorted(mixed.samples)
    rows = backend.read(
        "UNWIND $keys AS key MATCH (n:Element {key: key}) RETURN n.key AS key, properties(n) AS props, labels(n) AS labels",
        {"keys": keys},
    )
    assert len(rows) == len(keys)
    spelling = _graph_spelling(backend, mixed)
    for row in rows:
        expected = _respelled(mixed.samples[row["key"]], spelling)
        got = {name: row["props"].get(name) for name in expected}
        assert got == expected, row["key"]
        assert "Element" in row["labels"]
        if "types" in expected:
            assert "File" in row["labels"] and "Entity" in row["labels"]
        decl = json.loads(row["props"]["_decl"][0])
        assert (
            decl["doc"] == mixed.doc and decl["r"]["id"] == mixed.samples[row["key"]]["id"]
        )  # the record as written


def _cleanup(backend, mixed: MixedRecords, redis_client, *streams: str) -> None:
    params = {"ns": mixed.namespace, "placeholder": f"{mixed.doc} _:"}
    while True:
        records, _, _ = backend.driver.execute_query(
            "MATCH (n:Element) WHERE n.key STARTS WITH $ns OR n.key = $placeholder WITH n LIMIT 5000 "
            "DETACH DELETE n RETURN count(*) AS deleted",
            params,
        )
        if not records or records[0]["deleted"] == 0:
            break
    backend.write(
        [
            ("MATCH (n:Namespace {doc: $doc}) DETACH DELETE n", {"doc": mixed.doc}),
            ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": mixed.doc}),
        ]
    )
    if streams:
        redis_client.delete(*streams)


def _loader_env(settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PROVGRAPH_GRAPH_URL=settings.graph_url,
        PROVGRAPH_REDIS_URL=settings.redis_url,
        PROVGRAPH_STREAM=settings.stream,
        PROVGRAPH_DEAD_LETTER_STREAM=settings.dead_letter_stream,
        PROVGRAPH_CONSUMER_GROUP=settings.consumer_group,
        PROVGRAPH_HOME=settings.home,
        PROVGRAPH_SETTINGS=str(Path(settings.home) / "no-settings-file.yaml"),
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from provgraph.cli.main import main; sys.exit(main())", *args]


@pytest.fixture
def mixed_cleanup(neo4j_backend, redis_client, neo4j_settings):
    made: list[MixedRecords] = []
    yield made
    for mixed in made:
        _cleanup(neo4j_backend, mixed, redis_client, neo4j_settings.stream, neo4j_settings.dead_letter_stream)


# --- pure row building ----------------------------------------------------------------------------------------------


def test_names_resolve_against_bundle_then_message_then_builtin_namespaces():
    message = wire.Message(
        doc="pgid:d",
        namespaces={"ex": "https://a.example/", "default": "https://default.example/"},
        records=[
            {"k": "bundle", "id": "ex:b", "ns": {"ex": "https://b.example/"}},
            wire.element("entity", "ex:e", bundle="ex:b"),
            wire.element("entity", "ex:e"),
            wire.element("entity", "plain"),
            wire.element("agent", "pgid:person_1", attrs=[["prov:type", wire.qualified_name("prov:Person")]]),
        ],
    )
    batch = message_rows(message)
    keys = {row["key"]: group for group, rows in batch.elements.items() for row in rows}
    assert keys == {  # the bundle's own name too, as prov reads it (a prefix the bundle declares wins)
        "https://b.example/b": ("Bundle", "Bundle"),
        "https://b.example/b https://b.example/e": ("Entity", "Entity"),
        "https://a.example/e": ("Entity", "Entity"),
        "https://default.example/plain": ("Entity", "Entity"),
        "https://w3id.org/provgraph/id/person_1": ("Agent", "Person"),
    }
    assert batch.namespaces["pgid:d https://b.example/b ex"]["uri"] == "https://b.example/"
    assert batch.namespaces["pgid:d  default"]["uri"] == "https://default.example/"


def test_unknown_prefix_is_a_wire_format_error_naming_the_record():
    message = wire.Message(
        doc="d",
        records=[wire.element("entity", "ex:ok"), wire.element("entity", "nope:x")],
        namespaces={"ex": "https://a.example/"},
    )
    with pytest.raises(wire.WireFormatError, match=r"record 1 \(entity\): unknown prefix 'nope'"):
        message_rows(message)


def test_relation_edges_missing_ends_and_convenience_values():
    ns = {"ex": "https://a.example/"}
    records = [
        wire.relation(
            "wasDerivedFrom", "ex:d", generatedEntity="ex:e2", activity="ex:a"
        ),  # usedEntity missing
        wire.relation("wasGeneratedBy", entity="ex:e", time="2026-01-01T00:00:00Z"),  # self-loop
        wire.relation("wasGeneratedBy", activity="ex:a"),  # no subject
        wire.relation(
            "used",
            attrs=[["prov:role", "x"], ["ex:n", 1], ["ex:n", 2], ["ex:m", 1], ["ex:m", "1"]],
            activity="ex:a",
            entity="ex:e",
        ),
        wire.relation("wasStartedBy", activity="ex:t", starter="ex:run"),
    ]
    batch = message_rows(wire.Message(doc="d", records=records, namespaces=ns))
    derived = batch.relations["wasDerivedFrom"][0]
    assert (derived["source"], derived["target"]) == ("https://a.example/e2", "https://a.example/a")
    assert derived["props"]["to_formal"] == "activity" and derived["props"]["id"] == "ex:d"
    loop, orphan = batch.relations["wasGeneratedBy"]
    assert loop["source"] == loop["target"] == "https://a.example/e" and "to_formal" not in loop["props"]
    assert loop["props"]["time"] == "2026-01-01T00:00:00Z"
    assert orphan["source"] == "d _:" and orphan["target"] == "https://a.example/a"
    used = batch.relations["used"][0]["props"]
    assert used["role"] == "x" and used["ex:n"] == [1, 2] and used["ex:m"] == ["1", "1"]
    assert json.loads(used["_rec"]) == records[3]
    started = batch.relations["wasStartedBy"][0]
    assert started["target"] == "https://a.example/run" and started["props"]["to_formal"] == "starter"
    assert "https://a.example/run" in batch.references["Activity"]
    assert batch.references["Element"]["d _:"]["declared"] is False


_ATTRIBUTE_NAMES = st.sampled_from(
    [
        "pg:name",
        "pg:tags",
        "prov:type",
        "prov:value",
        "prov:label",
        "ex:size",
        "ex:_hidden",
        "ex:id",
        "pg:docs",
    ]
    + ["pg:types", "pg:key", "pg:sk", "pg:entity", "pg:time", "bare", "https://full.example/attr"]
)
_ATTRIBUTE_VALUES = st.one_of(
    st.text(max_size=5),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.builds(
        lambda v, t: {"$": v, "type": t},
        st.sampled_from(["4", "x", "true", "2026-03-02T20:00:00.5-06:00"]),
        st.sampled_from(
            ["xsd:int", "xsd:boolean", "xsd:double", "xsd:dateTime", "prov:QUALIFIED_NAME", "ex:custom"]
        ),
    ),
    st.builds(lambda v: {"$": v, "lang": "en"}, st.text(max_size=3)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_ATTRIBUTE_NAMES, _ATTRIBUTE_VALUES).map(list), max_size=6))
def test_convenience_fast_path_equals_the_general_one(attrs):
    """The one-pass `_convenience` (every record takes it) gives exactly the general algorithm's properties, in the
    same order and with the same value types, for node and relationship reserved names alike."""
    from provgraph.loader import (
        _NODE_RESERVED,
        _RELATION_RESERVED,
        _convenience,
        _convenience_general,
        _Names,
    )

    namespaces = {"ex": "https://a.example/", "default": "https://default.example/"}
    for reserved in (_NODE_RESERVED, _RELATION_RESERVED):
        fast = _convenience(attrs, _Names(namespaces), reserved)
        general = _convenience_general(attrs, _Names(namespaces), reserved)
        assert repr(fast) == repr(general)


def test_statement_keys_are_the_wire_statement_keys():
    record = wire.element("entity", "ex:e", attrs=[["ex:v", 1]])
    batch = message_rows(wire.Message(doc="d", records=[record], namespaces={"ex": "https://a.example/"}))
    row = batch.elements[("Entity", "Entity")][0]
    assert row["sk"] == wire.statement_key("d", record, {"ex": "https://a.example/"})
    assert row["sk"].startswith("2-")
    assert json.loads(row["decl"]) == {"doc": "d", "sk": row["sk"], "r": record}


def test_statement_keys_follow_meaning_not_spelling():
    """Two prefixes for one URI, attributes in another order, qualified-name values under other prefixes: one
    statement, one key. Another URI, another value or another document: another key."""
    one = wire.element(
        "entity",
        "ex:e",
        attrs=[["ex:v", 1], ["ex:t", "a"], ["ex:t", "b"], ["prov:type", wire.qualified_name("ex:K")]],
    )
    two = wire.element(
        "entity",
        "y:e",
        attrs=[["prov:type", wire.qualified_name("y:K")], ["y:t", "b"], ["y:v", 1], ["y:t", "a"]],
    )
    assert wire.statement_key("d", one, {"ex": "https://a.example/"}) == wire.statement_key(
        "d", two, {"y": "https://a.example/"}
    )
    assert wire.statement_key("d", one, {"ex": "https://a.example/"}) != wire.statement_key(
        "d", one, {"ex": "https://b.example/"}
    )
    assert wire.statement_key("d", one, {"ex": "https://a.example/"}) != wire.statement_key(
        "d2", one, {"ex": "https://a.example/"}
    )
    used = wire.relation("used", activity="ex:a", entity="ex:e", time="2026-01-01T00:00:00Z")
    used_y = wire.relation("used", activity="y:a", entity="y:e", time="2026-01-01T00:00:00Z")
    assert wire.statement_key("d", used, {"ex": "https://a.example/"}) == wire.statement_key(
        "d", used_y, {"y": "https://a.example/"}
    )
    assert wire.statement_key("d", wire.element("entity", "ex:e", attrs=[["ex:v", 1]]), {"ex": "u:"}) != (
        wire.statement_key("d", wire.element("entity", "ex:e", attrs=[["ex:v", "1"]]), {"ex": "u:"})
    )


def test_one_documents_records_under_two_prefixes_give_one_statement_each(neo4j_backend, unique):
    """Two messages of one document bind different prefixes to one URI: each statement is stored once."""
    ns = f"https://example.org/prefixes/{unique}/"
    doc = f"ex:doc-{unique}"

    def records(p: str) -> list[dict]:
        return [
            wire.element("entity", f"{p}:e", attrs=[[f"{p}:size", 3], ["prov:label", "e"]]),
            wire.element("activity", f"{p}:a", formal={"startTime": "2026-01-01T00:00:00Z"}),
            wire.relation("used", activity=f"{p}:a", entity=f"{p}:e", attrs=[["prov:role", "in"]]),
        ]

    first = wire.Message(doc=doc, records=records("ex"), namespaces={"ex": ns})
    second = wire.Message(doc=doc, records=records("other")[::-1], namespaces={"other": ns})
    try:
        load_messages(neo4j_backend, [first])
        load_messages(neo4j_backend, [second])
        rows = neo4j_backend.read(
            "MATCH (n:Element) WHERE n.key STARTS WITH $ns RETURN n.key AS key, size(n._decl) AS decls",
            {"ns": ns},
        )
        assert sorted((row["key"][len(ns) :], row["decls"]) for row in rows) == [("a", 1), ("e", 1)]
        used = neo4j_backend.read(
            "MATCH (a:Element {key: $a})-[r:used]->() RETURN count(r) AS n", {"a": ns + "a"}
        )
        assert used[0]["n"] == 1
    finally:
        neo4j_backend.write(
            [
                ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": ns}),
                ("MATCH (n:Namespace {doc: $doc}) DETACH DELETE n", {"doc": doc}),
                ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": doc}),
            ]
        )


def test_batches_merge():
    one = message_rows(wire.Message(doc="d1", records=[wire.element("entity", "pgid:a")]))
    Batch().extend(one)
    two = message_rows(wire.Message(doc="d2", records=[wire.element("entity", "pgid:a")]), Batch())
    two.extend(one)
    assert two.documents == {"d1", "d2"} and two.records == 2 and two.element_count == 2


# --- integration: the real Redis and Neo4j --------------------------------------------------------------------------


@pytest.mark.slow
def test_100k_mixed_records_load_exactly_and_a_redelivery_changes_nothing(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    mixed = build(unique, 100_000)
    mixed_cleanup.append(mixed)
    _push(redis_client, neo4j_settings.stream, payloads(mixed))
    lines: list[str] = []
    settings = neo4j_settings.replace(loader_progress_interval_s=5.0)
    with Loader(settings, backend=neo4j_backend, redis_client=redis_client, progress=lines.append) as loader:
        stats = loader.run(until_idle_s=1.0)
    assert stats.records == mixed.records >= 100_000
    assert loader.dead_letters == 0 and redis_client.xlen(neo4j_settings.dead_letter_stream) == 0
    assert lines and "records/s" in lines[-1] and "pending 0" in lines[-1]
    _assert_exact(neo4j_backend, mixed)
    _assert_samples(neo4j_backend, mixed)
    group = redis_client.xinfo_groups(neo4j_settings.stream)[0]
    assert group["pending"] == 0 and group["lag"] == 0

    # the same payloads again (a producer retrying, a batch redelivered): the graph does not change
    before = neo4j_backend.read(
        "UNWIND $keys AS key MATCH (n:Element {key: key}) RETURN n.key AS key, properties(n) AS props",
        {"keys": sorted(mixed.samples)},
    )
    _push(redis_client, neo4j_settings.stream, payloads(mixed)[:20])
    with Loader(settings, backend=neo4j_backend, redis_client=redis_client) as loader:
        loader.run(until_idle_s=0.5)
    load_messages(neo4j_backend, mixed.messages[:5])
    _assert_exact(neo4j_backend, mixed)
    after = neo4j_backend.read(
        "UNWIND $keys AS key MATCH (n:Element {key: key}) RETURN n.key AS key, properties(n) AS props",
        {"keys": sorted(mixed.samples)},
    )
    assert after == before


def test_loader_killed_mid_run_and_restarted_loads_everything_once(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup, tmp_path
):
    mixed = build(unique, 30_000, per_message=500)
    mixed_cleanup.append(mixed)
    neo4j_backend.ensure_schema()
    _push(redis_client, neo4j_settings.stream, payloads(mixed))
    env = _loader_env(
        neo4j_settings, PROVGRAPH_LOADER_BATCH_RECORDS="2000", PROVGRAPH_LOADER_CLAIM_IDLE_MS="1000"
    )
    first = subprocess.Popen(
        _cli("load", "--consumer", "first"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "first", "w"),
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill it once some, not all, batches are acknowledged
            group = redis_client.xinfo_groups(neo4j_settings.stream)
            acked = (
                group[0]["entries-read"] - group[0]["pending"] if group and group[0]["entries-read"] else 0
            )
            if acked >= 6:
                break
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    group = redis_client.xinfo_groups(neo4j_settings.stream)[0]
    assert group["lag"] > 0 or group["pending"] > 0, "the loader finished before it was killed: test is void"
    second = subprocess.run(
        _cli("load", "--consumer", "second", "--until-idle", "3"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr
    assert "stopped:" in second.stderr
    _assert_exact(neo4j_backend, mixed)
    group = redis_client.xinfo_groups(neo4j_settings.stream)[0]
    assert group["pending"] == 0 and group["lag"] == 0
    assert redis_client.xlen(neo4j_settings.dead_letter_stream) == 0


def test_two_loaders_in_one_group_give_the_same_exact_graph(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup, tmp_path
):
    mixed = build(unique, 20_000, per_message=250)
    mixed_cleanup.append(mixed)
    neo4j_backend.ensure_schema()
    _push(redis_client, neo4j_settings.stream, payloads(mixed))
    env = _loader_env(neo4j_settings, PROVGRAPH_LOADER_BATCH_RECORDS="1000")
    loaders = [
        subprocess.Popen(
            _cli("load", "--consumer", name, "--until-idle", "3"), env=env, stderr=subprocess.PIPE, text=True
        )
        for name in ("one", "two")
    ]
    errors = [proc.communicate(timeout=300)[1] for proc in loaders]
    assert [proc.returncode for proc in loaders] == [0, 0], errors
    _assert_exact(neo4j_backend, mixed)
    # both took part, and both left the group when they stopped (no consumer left behind, nothing pending)
    loaded = [int(re.search(r"stopped: (\d+) records", text).group(1)) for text in errors]
    assert all(count > 0 for count in loaded) and sum(loaded) >= mixed.records, errors
    assert redis_client.xinfo_consumers(neo4j_settings.stream, neo4j_settings.consumer_group) == []
    assert redis_client.xpending(neo4j_settings.stream, neo4j_settings.consumer_group)["pending"] == 0


def test_bad_entries_go_to_dead_letters_with_a_reason_and_the_rest_loads(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    mixed = build(unique, 4000)
    mixed_cleanup.append(mixed)
    good = payloads(mixed)
    unknown_version = json.loads(good[0])
    unknown_version["v"] = 99
    unknown_relation = json.loads(good[0])
    unknown_relation["records"][5] = {"k": "wasFooedBy", "f": {"entity": "ex:x"}}
    unknown_prefix = json.loads(good[0])
    unknown_prefix["records"][3]["id"] = "nowhere:x"
    bad = [
        b"{not json",
        json.dumps(unknown_version).encode(),
        json.dumps(unknown_relation).encode(),
        json.dumps(unknown_prefix).encode(),
    ]
    stream = neo4j_settings.stream
    ids = []
    for payload, wrong in zip(good, bad + [None] * len(good), strict=False):
        ids += _push(redis_client, stream, [payload])
        if wrong is not None:
            ids += _push(redis_client, stream, [wrong])
    no_field = redis_client.xadd(stream, {"payload": b"x"}).decode()
    with Loader(neo4j_settings, backend=neo4j_backend, redis_client=redis_client) as loader:
        loader.run(until_idle_s=0.5)
    assert loader.dead_letters == 5
    dead = redis_client.xrange(neo4j_settings.dead_letter_stream)
    reasons = {fields[b"entry_id"].decode(): fields[b"reason"].decode() for _, fields in dead}
    by_payload = {fields[b"payload"]: fields[b"reason"].decode() for _, fields in dead}
    assert "not valid JSON" in by_payload[bad[0]]
    assert "unknown wire version 99" in by_payload[bad[1]]
    # a bad record costs only itself: its dead letter replays it alone, the message's other records loaded
    by_record = {
        json.dumps(json.loads(fields[b"payload"])["records"]): fields[b"reason"].decode()
        for _, fields in dead
        if b"record" in fields
    }
    assert "unknown record kind 'wasFooedBy'" in by_record[json.dumps([unknown_relation["records"][5]])]
    assert "unknown prefix 'nowhere'" in by_record[json.dumps([unknown_prefix["records"][3]])]
    assert "no field 'm'" in reasons[no_field]
    assert all(fields[b"stream"].decode() == stream for _, fields in dead)
    assert set(reasons) <= set(ids) | {no_field}
    _assert_exact(neo4j_backend, mixed)  # every good message around them loaded
    group = redis_client.xinfo_groups(stream)[0]
    assert group["pending"] == 0 and group["lag"] == 0


def test_entries_delivered_too_often_are_dead_lettered(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    mixed = build(unique, 100)
    mixed_cleanup.append(mixed)
    stream, group = neo4j_settings.stream, neo4j_settings.consumer_group
    (entry_id,) = _push(redis_client, stream, payloads(mixed))
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    redis_client.xreadgroup(
        group, "crashed", {stream: ">"}, count=1
    )  # delivered once to a consumer that died
    time.sleep(0.05)
    settings = neo4j_settings.replace(loader_max_deliveries=1, loader_claim_idle_ms=10)
    with Loader(settings, backend=neo4j_backend, redis_client=redis_client, consumer="rescuer") as loader:
        loader.run(until_idle_s=0.3)
    dead = redis_client.xrange(neo4j_settings.dead_letter_stream)
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"entry_id"].decode() == entry_id and b"delivered 2 times" in fields[b"reason"]
    assert redis_client.xinfo_groups(stream)[0]["pending"] == 0


def test_stale_entries_of_a_dead_consumer_are_taken_over(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    mixed = build(unique, 3000)
    mixed_cleanup.append(mixed)
    stream, group = neo4j_settings.stream, neo4j_settings.consumer_group
    _push(redis_client, stream, payloads(mixed))
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    redis_client.xreadgroup(group, "crashed", {stream: ">"}, count=2)  # read, never acknowledged
    time.sleep(0.05)
    settings = neo4j_settings.replace(loader_claim_idle_ms=10)
    with Loader(settings, backend=neo4j_backend, redis_client=redis_client, consumer="rescuer") as loader:
        loader.run(until_idle_s=0.3)
    _assert_exact(neo4j_backend, mixed)
    assert redis_client.xinfo_groups(stream)[0]["pending"] == 0
    assert redis_client.xlen(neo4j_settings.dead_letter_stream) == 0


def test_status_command_reports_stream_group_dead_letters_and_graph(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    mixed = build(unique, 500)
    mixed_cleanup.append(mixed)
    _push(redis_client, neo4j_settings.stream, payloads(mixed) + [b"junk"])
    env = _loader_env(neo4j_settings)
    before = subprocess.run(_cli("status"), env=env, capture_output=True, text=True, timeout=60)
    assert before.returncode == 0, before.stderr
    assert f"{neo4j_settings.stream}: 2 entries" in before.stdout and "not created yet" in before.stdout
    load = subprocess.run(_cli("load", "--once"), env=env, capture_output=True, text=True, timeout=120)
    assert load.returncode == 0, load.stderr
    assert "1 dead letters" in load.stderr
    after = subprocess.run(_cli("status"), env=env, capture_output=True, text=True, timeout=60)
    assert "0 pending, lag 0" in after.stdout
    assert f"{neo4j_settings.dead_letter_stream}: 1 entries" in after.stdout
    assert ":Element " in after.stdout and "[:used]" in after.stdout


def test_sigterm_finishes_the_batch_in_flight_and_a_restart_loads_the_rest(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup, tmp_path
):
    mixed = build(unique, 20_000, per_message=500)
    mixed_cleanup.append(mixed)
    neo4j_backend.ensure_schema()
    _push(redis_client, neo4j_settings.stream, payloads(mixed))
    env = _loader_env(neo4j_settings, PROVGRAPH_LOADER_BATCH_RECORDS="1000")
    loader = subprocess.Popen(
        _cli("load", "--consumer", "graceful"), env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            group = redis_client.xinfo_groups(neo4j_settings.stream)
            if group and (group[0]["entries-read"] or 0) >= 4:
                break
            time.sleep(0.05)
        loader.send_signal(signal.SIGTERM)
        _, stderr = loader.communicate(timeout=120)
    finally:
        if loader.poll() is None:
            loader.kill()
    assert loader.returncode == 0, stderr
    assert "SIGTERM: finishing the batch in flight" in stderr and "stopped:" in stderr
    group = redis_client.xinfo_groups(neo4j_settings.stream)[0]
    assert group["pending"] == 0  # what it read, it wrote and acknowledged
    assert group["lag"] > 0, "the loader finished before the signal: test is void"
    rest = subprocess.run(
        _cli("load", "--until-idle", "2"), env=env, capture_output=True, text=True, timeout=300
    )
    assert rest.returncode == 0, rest.stderr
    _assert_exact(neo4j_backend, mixed)


def test_graph_unavailable_acknowledges_nothing_and_loading_resumes(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    import threading

    import neo4j

    mixed = build(unique, 2000)
    mixed_cleanup.append(mixed)
    neo4j_backend.ensure_schema()
    stream = neo4j_settings.stream
    _push(redis_client, stream, payloads(mixed))
    real_driver = neo4j_backend.driver
    # a real driver pointed at a port where nothing listens: every write fails as if Neo4j were down
    neo4j_backend.driver = neo4j.GraphDatabase.driver(
        "bolt://127.0.0.1:9",
        connection_timeout=0.5,
        max_transaction_retry_time=0,  # the loader's back-off, not the driver's
    )
    notes: list[str] = []
    settings = neo4j_settings.replace(loader_retry_max_s=0.3, loader_progress_interval_s=0.5)
    loader = Loader(settings, backend=neo4j_backend, redis_client=redis_client, progress=notes.append)
    loader.ensure_group()
    neo4j_backend.ensure_schema = lambda: None  # schema exists already; the outage starts after start-up
    done: dict = {}
    # a daemon thread, stopped on every failure path: a failing assertion must never leave it spinning
    thread = threading.Thread(
        target=lambda: done.setdefault("stats", loader.run(until_idle_s=1.0)), daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not any("the graph unavailable" in note for note in notes) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        group = redis_client.xinfo_groups(stream)[0]
        assert group["pending"] == len(mixed.messages)  # read, not acknowledged
        assert loader.progress().waiting_for_graph
    except BaseException:
        loader.stop()
        raise
    finally:
        broken, neo4j_backend.driver = neo4j_backend.driver, real_driver
        broken.close()
        thread.join(60)
        if thread.is_alive():
            loader.stop()
            thread.join(30)
    assert "stats" in done, "the loader did not finish within 60 s of the graph coming back"
    assert done["stats"].records == mixed.records
    assert any("available again" in note for note in notes)
    assert (
        sum("the graph unavailable" in note for note in notes) <= 4
    )  # logged once per interval, not per attempt
    _assert_exact(neo4j_backend, mixed)
    assert redis_client.xinfo_groups(stream)[0]["pending"] == 0


@pytest.mark.services  # starts the embedded server
def test_load_and_status_on_the_embedded_server(tmp_path, unique):
    """The default deployment: stream and graph both in the embedded server (FalkorDB), through the CLI."""
    import redis

    from capture.settings import Settings

    env = dict(os.environ)
    env.update(
        PROVGRAPH_HOME=str(tmp_path / "home"),
        PROVGRAPH_GRAPH_URL="embedded",
        PROVGRAPH_REDIS_URL="embedded",
        PROVGRAPH_SETTINGS=str(tmp_path / "none.yaml"),
        PYTHONPATH=str(ROOT),
    )
    up = subprocess.run(_cli("embedded", "up"), env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr
    try:
        from capture._embedded_url import embedded_redis_url

        client = redis.Redis.from_url(embedded_redis_url(Settings(home=env["PROVGRAPH_HOME"])))
        mixed = build(unique, 3000)
        _push(client, "provgraph:records", payloads(mixed) + [b"{broken"])
        client.close()
        load = subprocess.run(
            _cli("load", "--until-idle", "1"), env=env, capture_output=True, text=True, timeout=300
        )
        assert load.returncode == 0, load.stderr
        assert f"stopped: {mixed.records} records" in load.stderr and "1 dead letters" in load.stderr
        status = subprocess.run(_cli("status"), env=env, capture_output=True, text=True, timeout=120)
        assert status.returncode == 0, status.stderr
        assert "0 pending, lag 0" in status.stdout and "dead-letters: 1 entries" in status.stdout
        elements = len(mixed.element_keys)
        assert f":Element {elements}," in status.stdout
        assert f"[:used] {mixed.relations['used']}" in status.stdout
    finally:
        subprocess.run(_cli("embedded", "down"), env=env, capture_output=True, text=True, timeout=120)


def test_statements_combine_into_one_query_with_their_own_parameters():
    text, params = as_one_query(
        [
            ("// a comment\nUNWIND $rows AS row MERGE (:Document {id: row})", {"rows": ["a"]}),
            (
                "UNWIND $rows AS row MATCH (n {key: row.key}) SET n.x = $rows_count",
                {"rows": [1], "rows_count": 2},
            ),
        ]
    )
    assert text == (
        "CALL () {\nUNWIND $s0_rows AS row MERGE (:Document {id: row})\n}\n"
        "CALL () {\nUNWIND $s1_rows AS row MATCH (n {key: row.key}) SET n.x = $s1_rows_count\n}"
    )
    assert params == {"s0_rows": ["a"], "s1_rows": [1], "s1_rows_count": 2}
    with pytest.raises(QueryError, match="returns rows"):
        as_one_query([("MATCH (n) RETURN n", {}), ("CREATE (m)", {})])
    with pytest.raises(QueryError, match=r"not given: \['missing'\]"):
        as_one_query([("UNWIND $missing AS row CREATE (m)", {})])


def test_server_versions_decide_whether_statements_combine(neo4j_backend):
    assert server_version("Neo4j/5.26.30") == (5, 26, 30)
    assert server_version("Neo4j/5.20.0") < (5, 23) <= server_version("Neo4j/5.23")
    assert server_version("") == () < (5, 23)
    assert neo4j_backend.combines_writes is True  # the managed server is 5.26


@pytest.mark.parametrize("combined", [True, False], ids=["one-query", "statement-by-statement"])
def test_combined_statements_see_each_others_writes(neo4j_backend, unique, combined):
    """One query of unit subqueries writes what the separate statements would (servers before 5.23 get those): a
    relationship statement finds the nodes an earlier one created, and running it again changes nothing."""
    neo4j_backend.combines_writes = combined
    batch = message_rows(
        wire.Message(
            doc=f"pgid:{unique}doc",
            records=[
                wire.element("activity", f"pgid:{unique}a"),
                wire.element("entity", f"pgid:{unique}e", attrs=[["prov:value", 3]]),
                wire.relation("used", activity=f"pgid:{unique}a", entity=f"pgid:{unique}e"),
            ],
        )
    )
    from provgraph.loader import write_batch

    for _ in range(2):
        write_batch(neo4j_backend, batch)
    rows = neo4j_backend.read(
        "MATCH (a:Activity {id: $a})-[r:used]->(e:Entity {id: $e}) RETURN count(r) AS used, e.value AS value",
        {"a": f"pgid:{unique}a", "e": f"pgid:{unique}e"},
    )
    assert rows == [{"used": 1, "value": 3}]


def test_overlapping_loads_restore_the_gc_thresholds_once_the_last_ends():
    """Loaders in several threads raise the collector's threshold while any runs; ending in any order restores it."""
    import gc

    from provgraph.loader import GC_GENERATION0_THRESHOLD, _fewer_collections

    before = gc.get_threshold()
    first, second = _fewer_collections(), _fewer_collections()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold()[0] == max(before[0], GC_GENERATION0_THRESHOLD)
    first.__exit__(None, None, None)  # the first to start ends first: the other still loads
    assert gc.get_threshold()[0] == max(before[0], GC_GENERATION0_THRESHOLD)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
