"""Poison entries on the real servers, both backends: each is dead-lettered on its first delivery with a reason,
the loader never exits or stalls, and everything valid around it (in the same batch, in the same message) loads.

Each test uses its own stream, group, document and namespace (``unique``) and deletes its nodes at the end.
"""

from __future__ import annotations

import json

import pytest

from capture import wire
from provgraph.loader import Loader


def _ns(unique: str) -> str:
    return f"https://example.org/poison/{unique}/"


DEEP = "deep value placeholder"
"""Stands for a list nested 5,000 deep (too deep for json.dumps): spliced into the payload's text."""


def _message(unique: str, records: list, *, ns: dict | None = None) -> bytes:
    namespaces = {"ex": _ns(unique)} if ns is None else ns
    text = json.dumps(
        {"v": 1, "doc": f"ex:doc-{unique}", "ns": namespaces, "records": records}, ensure_ascii=False
    )
    return text.replace(json.dumps(DEEP), "[" * 5000 + "]" * 5000).encode("utf-8", "surrogatepass")


def _entities(prefix: str, count: int) -> list[dict]:
    return [{"k": "entity", "id": f"ex:{prefix}{i}", "a": [["ex:i", i]]} for i in range(count)]


def _declared(backend, unique: str) -> set[str]:
    rows = backend.read(
        "MATCH (n:Element) WHERE n.key STARTS WITH $ns AND n.declared RETURN n.key AS key",
        {"ns": _ns(unique)},
    )
    return {row["key"][len(_ns(unique)) :] for row in rows}


@pytest.fixture
def scoped(any_backend, any_redis, any_settings, unique):
    yield any_backend, any_redis, any_settings
    any_backend.write(
        [
            (
                "MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n",
                {"ns": _ns(unique)},
            ),
            ("MATCH (n:Namespace {doc: $doc}) DETACH DELETE n", {"doc": f"ex:doc-{unique}"}),
            ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": f"ex:doc-{unique}"}),
        ]
    )
    any_redis.delete(any_settings.stream, any_settings.dead_letter_stream)


def test_every_poison_kind_is_dead_lettered_on_first_delivery(scoped, unique, backend_kind):
    backend, redis_client, settings = scoped
    deep = "[" * 100_000 + "]" * 100_000
    doc = f"ex:doc-{unique}"
    whole = {  # entries that are unusable as a whole: name -> (payload, expected reason)
        "escaped surrogate": (
            f'{{"v":1,"doc":"{doc}","ns":{{}},"records":[{{"k":"entity","id":"ex:e\\ud800x"}}]}}'.encode(),
            "",
        ),
        "raw surrogate bytes": (
            f'{{"v":1,"doc":"{doc}","ns":{{}},"records":[{{"k":"entity","id":"ex:e'.encode()
            + b"\xed\xa0\x80"
            + b'x"}]}',
            "not valid JSON",
        ),
        "100,000-deep JSON": (deep.encode(), ""),
        "surrogate in a namespace URI": (
            f'{{"v":1,"doc":"{doc}","ns":{{"ex":"https://x/\\udfff"}},"records":[]}}'.encode(),
            "",
        ),
        "random bytes": (bytes(range(256)) * 3, "not valid JSON"),
    }
    single = {  # one bad record in a message of good ones: name -> (record, expected reason)
        "k as a list": ({"k": ["entity"], "id": "ex:k1"}, "unknown record kind"),
        "k as a map": ({"k": {"entity": 1}, "id": "ex:k2"}, "unknown record kind"),
        "deep value": ({"k": "entity", "id": "ex:d", "a": [["ex:x", DEEP]]}, "nested deeper than 64 levels"),
        "40 KB id": ({"k": "entity", "id": "ex:" + "x" * 40_000}, "over the limit of 1024"),
        "10 MB attribute name": (
            {"k": "entity", "id": "ex:big", "a": [["ex:" + "n" * 10_000_000, 1]]},
            "attribute name is 10000003 bytes",
        ),
        "bare reference": (
            {"k": "wasStartedBy", "f": {"activity": "ex:a", "trigger": "nowhere"}},
            "has no prefix",
        ),
        "unknown prefix": ({"k": "agent", "id": "nowhere:x"}, "unknown prefix 'nowhere'"),
    }
    entries = {}
    pipe = redis_client.pipeline(transaction=False)
    order = []
    for name, (payload, _) in whole.items():
        pipe.xadd(settings.stream, {wire.FIELD: payload})
        order.append(("whole", name))
        pipe.xadd(settings.stream, {wire.FIELD: _message(unique, _entities(f"w{len(order)}-", 3))})
        order.append(("good", name))
    for name, (record, _) in single.items():
        good = _entities(f"s{len(order)}-", 4)
        pipe.xadd(settings.stream, {wire.FIELD: _message(unique, [*good[:2], record, *good[2:]])})
        order.append(("single", name))
    for kind_name, entry_id in zip(order, pipe.execute(), strict=True):
        entries[kind_name] = entry_id.decode()

    with Loader(settings, backend=backend, redis_client=redis_client, consumer="only") as loader:
        loader.run(until_idle_s=0.5)

    dead = redis_client.xrange(settings.dead_letter_stream)
    by_entry: dict[str, list[dict]] = {}
    for _, fields in dead:
        decoded = {k.decode(): v for k, v in fields.items()}
        by_entry.setdefault(decoded["entry_id"].decode(), []).append(decoded)
    for name, (payload, expected) in whole.items():
        (letter,) = by_entry[entries[("whole", name)]]
        reason = letter["reason"].decode()
        assert expected in reason and "delivered" not in reason, (name, reason)
        assert letter["payload"] == payload and "record" not in letter
    for name, (record, expected) in single.items():
        (letter,) = by_entry[entries[("single", name)]]
        reason = letter["reason"].decode()
        assert reason.startswith("record 2") and expected in reason, (name, reason)
        assert letter["record"] == b"2"
        if record.get("id") == "ex:d":  # too deep to write out again: the whole message, as the reason says
            assert reason.endswith("(payload: the whole message)")
            continue
        # the payload replays the record alone, with the document and namespaces it needs
        replay = json.loads(letter["payload"])
        assert replay["doc"] == f"ex:doc-{unique}" and replay["ns"] == {"ex": _ns(unique)}
        assert replay["records"] == [record]
    assert len(dead) == len(whole) + len(single) == loader.dead_letters
    expected_keys = set()
    for index, (kind, _) in enumerate(order):
        if kind == "good":
            expected_keys |= {f"w{index}-{i}" for i in range(3)}
        elif kind == "single":
            expected_keys |= {f"s{index}-{i}" for i in range(4)}
    assert _declared(backend, unique) == expected_keys
    group = redis_client.xinfo_groups(settings.stream)[0]
    assert group["pending"] == 0 and group["lag"] == 0


def test_one_bad_record_among_1000_good_ones_loses_only_itself(scoped, unique):
    backend, redis_client, settings = scoped
    good = _entities("g", 1000)
    bad = {"k": "used", "f": {"activity": "ex:a", "entity": "ghost:e"}}
    redis_client.xadd(settings.stream, {wire.FIELD: _message(unique, [*good[:700], bad, *good[700:]])})
    with Loader(settings, backend=backend, redis_client=redis_client) as loader:
        stats = loader.run(until_idle_s=0.3)
    assert stats.records == 1000 and loader.dead_letters == 1
    assert _declared(backend, unique) == {f"g{i}" for i in range(1000)}
    (_, fields), *_ = redis_client.xrange(settings.dead_letter_stream)
    assert fields[b"record"] == b"700" and b"unknown prefix 'ghost'" in fields[b"reason"]


def test_a_record_the_graph_refuses_is_isolated_and_the_rest_of_its_batch_loads(scoped, unique, backend_kind):
    """Neo4j cannot index an activity name over 8,166 bytes (Activity.name is indexed); FalkorDB can."""
    backend, redis_client, settings = scoped
    huge_name = {"k": "activity", "id": "ex:huge", "a": [["pg:name", "n" * 20_000]]}
    pipe = redis_client.pipeline(transaction=False)
    for batch in range(4):
        records = _entities(f"b{batch}-", 50)
        if batch == 2:
            records.insert(17, huge_name)
        pipe.xadd(settings.stream, {wire.FIELD: _message(unique, records)})
    pipe.execute()
    with Loader(settings, backend=backend, redis_client=redis_client) as loader:
        loader.run(until_idle_s=0.3)
    expected = {f"b{batch}-{i}" for batch in range(4) for i in range(50)}
    dead = redis_client.xrange(settings.dead_letter_stream)
    if backend_kind == "neo4j":
        assert _declared(backend, unique) == expected
        assert len(dead) == 1
        fields = dead[0][1]
        assert fields[b"record"] == b"17" and b"too large to index" in fields[b"reason"]
    else:
        assert _declared(backend, unique) == expected | {"huge"}
        assert dead == []
