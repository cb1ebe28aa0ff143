"""Structure-aware fuzzing of wire version 2 (compact events and their templates), seeded.

Real workflows (tasks with inputs and outputs, nested tasks, an error, light tasks, `capture.Loop` and
`capture.BatchedLoop` with and without ``break``, a `capture.CustomTask`) are captured in a subprocess into an
offline buffer; their version-2 messages are the seeds. `_compact_mutations.Mutator` changes their events and
templates (whatever event kinds they hold), envelopes and bytes. Then:

- the reader (`capture.wire`) raises nothing but `WireFormatError` on any mutant, expands an event whole or not
  at all, and the loader's decoding of a stream entry never raises (thousands of cases, no servers);
- a running `Loader` on each backend takes mutants interleaved with the intact messages (each sent twice): it never
  exits or stalls; every event and record the reader refuses, and every entry it cannot read, is dead-lettered
  with a reason; what a mutant still says validly is in the graph; every statement is in the graph exactly once;
  nothing of a refused event is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _compact_mutations import Mutator

from capture import wire
from provgraph.loader import Loader, _dead_record_payload, _decode_entry

ROOT = Path(__file__).resolve().parents[2]
PRODUCER = textwrap.dedent(
    """
    import sys
    import capture

    @capture.task(output_names=["a", "b"], tags=["t1", "t2"], custom_metadata={"k": 1})
    def two(x, y=3):
        return x, [y]

    @capture.task
    def one(value):
        return value

    @capture.task
    def outer(n):
        return one(n) + 1

    @capture.light_task
    def light(z):
        return z * 2

    @capture.task
    def boom(q):
        raise ValueError("failed")

    for name in sys.argv[1:]:
        with capture.Workflow(name, campaign_id="camp:" + name):
            a, b = two(1, 2.5)
            one(b)
            one(a)
            for value in ("hello", None, True, 2**70, 1.5, b"bytes", [1, 2], {"d": 1}):
                one(value)
            outer(3)
            for i in range(5):
                light(i)
            try:
                boom(1)
            except ValueError:
                pass
            loop = capture.Loop(range(4), loop_name="epochs", item_name="epoch")
            for epoch in loop:
                loop.end_iter({"loss": epoch * 0.5})
            for i in capture.Loop(range(6), loop_name="broken"):
                if i == 2:
                    break
            for _ in capture.BatchedLoop([1, "s", 2.0], loop_name="batches"):
                pass
            for i in capture.BatchedLoop(range(10), loop_name="bbreak"):
                if i == 3:
                    break
            with capture.CustomTask("download", used={"url": "http://x"}) as t:
                one(4)
                t.end(generated={"n": 3})
    """
)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The version-2 messages (decoded JSON objects) of two captured workflow runs, in send order."""
    home = tmp_path_factory.mktemp("compact-fuzz")
    buffer = home / "buffer"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(buffer),
        PROVGRAPH_HOME=str(home / "home"),
        XDG_CONFIG_HOME=str(home / "config"),
        PYTHONPATH=str(ROOT),
    )
    token = uuid.uuid4().hex[:12]
    subprocess.run(
        [sys.executable, "-c", PRODUCER, f"fuzz-{token}-a", f"fuzz-{token}-b"],
        env=env,
        check=True,
        timeout=120,
    )
    files = [buffer] if buffer.is_file() else sorted(buffer.glob("*.jsonl"))
    messages = [json.loads(line) for file in files for line in file.read_bytes().splitlines() if line.strip()]
    messages.sort(key=lambda m: m["ts"])
    assert {m["v"] for m in messages} >= {2}
    kinds = Counter(
        "event" if isinstance(entry, list) else entry["k"] for m in messages for entry in m["records"]
    )
    assert kinds["event"] >= 40 and kinds["activity"] >= 4, kinds
    return messages


GOOD = [0, 7, None, 1_764_000_000_000_000_000, 1_764_000_000_500_000_000, 0, "FINISHED", None]
"""The fields of an event before its bindings: template 0, task 7 of the run, half a second, finished."""


def _v2(entries: list[Any], doc: str = "pgid:run_x", prefix: str = "abc") -> bytes:
    """A version-2 message of ``entries`` with template 0 (``step``)."""
    raw = {
        "v": 2,
        "doc": doc,
        "ns": {},
        "p": prefix,
        "tpl": {"0": wire.task_template("step")},
        "records": entries,
    }
    return json.dumps(raw).encode()


def _records_of(payload: bytes) -> tuple[wire.Message, list[wire.RecordFault]] | None:
    try:
        return wire.decode_message_partial(payload)
    except wire.WireFormatError:
        return None


# --- the reader, no servers ---------------------------------------------------------------------------------------


def test_the_reader_refuses_any_mutant_only_with_its_own_error(captured):
    mutator = Mutator(seed=20261205)
    outcomes: Counter[str] = Counter()
    for _ in range(4000):
        mutant = mutator.mutate(mutator.rng.choice(captured), captured)
        try:
            message, faults = wire.decode_message_partial(mutant.payload)
        except wire.WireFormatError as exc:
            assert exc.reason and "\n" not in exc.reason
            outcomes["message refused"] += 1
            message, faults = None, []
        else:
            outcomes["faults" if faults else "valid"] += 1
        try:
            wire.decode_message(mutant.payload)
        except wire.WireFormatError:
            assert message is None or faults, mutant.what
        # the expansion itself, on the objects a reader would have (the standard library's parser keeps what
        # orjson refuses: NaN, integers beyond 64 bits, lone surrogates)
        try:
            raw = json.loads(mutant.payload)
        except (ValueError, RecursionError):
            raw = None
        if isinstance(raw, dict) and isinstance(raw.get("doc"), str) and isinstance(raw.get("records"), list):
            try:
                wire.expand_events(raw, raw["records"])
            except wire.WireFormatError:
                pass
        # an event is expanded whole or not at all
        if mutant.entry is not None and message is not None:
            entry = raw["records"][mutant.entry] if raw and mutant.entry < len(raw["records"]) else None
            if isinstance(entry, list):
                alone = _records_of(Mutator.encode({**raw, "records": [entry]}))
                if alone is not None:
                    kept, refused = alone
                    assert not (kept.records and refused), (mutant.what, refused[0].reason)
        # and on objects no parser returns (a caller's own)
        raw = mutator.mutate_objects(mutator.rng.choice(captured))
        try:
            wire.expand_events(raw, raw["records"])
        except wire.WireFormatError:
            pass
        # the loader's decoding of the entry never raises: what cannot load has its reason
        decoded = _decode_entry("1-1", {b"m": mutant.payload})
        assert decoded.reason or decoded.rows is not None
        assert all(reason for _, _, reason in decoded.faults)
    assert outcomes["message refused"] > 500 and outcomes["faults"] > 500 and outcomes["valid"] > 300, (
        outcomes
    )


@pytest.mark.parametrize(
    "field, value",
    [(0, "deep"), (0, "long"), (1, "long"), (2, "long"), (1, 2**63)],
    ids=["deep template key", "long template key", "long task", "long parent", "task beyond 64 bits"],
)
def test_expansion_refuses_python_values_no_parser_returns(field, value):
    """Found by the fuzzer: a task or template number too long to turn into text (ValueError) or a template key
    nested deep (RecursionError) escaped `expand_events` of a Python caller."""
    event: list[Any] = [0, 7, None, 1_764_000_000_000_000_000, None, 0, "FINISHED", None, [], []]
    if value == "long":
        value = 10**5000
    elif value == "deep":
        value = []
        for _ in range(100_000):
            value = [value]
    event[field] = value
    raw = {"doc": "pgid:run_x", "p": "abc", "tpl": {"0": wire.task_template("step")}}
    records, faults = wire.expand_events(raw, [event])
    assert not records and len(faults) == 1


def test_an_event_with_an_invalid_record_is_refused_whole():
    """Found by the fuzzer: an event whose bindings expanded to one invalid record (a described value's attribute
    that is not a [name, value] pair) lost that record alone, and its activity, usages and generations loaded,
    pointing at an entity that never came."""
    payload = _v2(
        [
            [*GOOD, [[0, "x", 1]], [[1, "return", [["pg:python_type", "list"], ["pg:length"]]]]],
            [*GOOD[:1], 8, *GOOD[2:], [], []],
            {"k": "entity", "id": ""},
        ]
    )
    message, faults = wire.decode_message_partial(payload)
    assert [r["id"] for r in message.records if "id" in r] == ["pgid:task_abc_8"]
    # positions in one sequence: the refused event, the second event's two records, the refused record
    assert [(f.index, f.reason.split(":")[0]) for f in faults] == [(0, "event 0"), (3, "record 3")]
    assert "not a [name, value] pair" in faults[0].reason
    with pytest.raises(wire.WireFormatError, match="event 0: record 4"):
        wire.decode_message(payload)


# --- a running loader, both backends ------------------------------------------------------------------------------

MUTANTS = 160


def _element_ids(records: list[dict[str, Any]]) -> set[str]:
    ids = {r["id"] for r in records if r["k"] in ("entity", "activity", "agent") and "id" in r}
    for record in records:
        ids.update(v for k, v in (record.get("f") or {}).items() if k not in wire.TIME_FORMALS)
    return ids


def test_mutated_compact_events_against_a_running_loader(
    any_backend, any_redis, any_settings, backend_kind, captured
):
    backend, redis_client, settings = any_backend, any_redis, any_settings
    mutator = Mutator(seed={"neo4j": 7, "embedded": 8}[backend_kind])
    intact = [Mutator.encode(message) for message in captured]
    sent: list[tuple[bytes, str]] = [(payload, "intact") for payload in intact]
    for _ in range(MUTANTS):
        mutant = mutator.mutate(mutator.rng.choice(captured), captured)
        sent.append((mutant.payload, mutant.what))
    sent += [(payload, "intact again") for payload in intact]  # at-least-once delivery
    mutator.rng.shuffle(sent)
    docs = sorted({m["doc"] for m in captured})

    failures: list[BaseException] = []
    loader = Loader(settings, backend=backend, redis_client=redis_client, consumer="compact-fuzz")

    def run() -> None:
        try:
            loader.run()
        except BaseException as exc:  # the test fails on it below
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ids: list[str] = []
    expected_sks: set[tuple[str, str]] = set()
    element_ids: set[str] = set()
    try:
        pipe = redis_client.pipeline(transaction=False)
        for payload, _ in sent:
            pipe.xadd(settings.stream, {wire.FIELD: payload})
        ids = [i.decode() for i in pipe.execute()]
        deadline = time.monotonic() + 120  # a bound for a loaded machine, not a timing claim
        while time.monotonic() < deadline:
            groups = redis_client.xinfo_groups(settings.stream)
            if groups and groups[0]["pending"] == 0 and groups[0]["lag"] == 0:
                break
            assert thread.is_alive() and not failures, failures  # it never exits
            time.sleep(0.1)
        else:
            pytest.fail("the loader did not finish the stream")
        loader.stop()
        thread.join(timeout=60)
        assert not thread.is_alive() and not failures, failures

        dead: dict[tuple[str, int | None], str] = {}
        dead_payloads: dict[tuple[str, int | None], bytes] = {}
        for _, fields in redis_client.xrange(settings.dead_letter_stream):
            record = fields.get(b"record")
            key = (fields[b"entry_id"].decode(), int(record) if record is not None else None)
            assert key not in dead, f"dead-lettered twice: {key}"
            dead[key] = fields[b"reason"].decode()
            assert dead[key], key
            dead_payloads[key] = fields[b"payload"]
        # what the reader says of each entry must be what the loader did: refused entries, events and records
        # dead-lettered with their reasons; the rest in the graph (unless the loader refused a record or event)
        records_in_graph: dict[tuple[str, str], dict[str, Any]] = {}
        for entry_id, (payload, what) in zip(ids, sent, strict=True):
            decoded = _records_of(payload)
            if decoded is None:
                assert (entry_id, None) in dead, what
                continue
            message, faults = decoded
            assert (entry_id, None) not in dead, (what, dead.get((entry_id, None)))
            for fault in faults:
                assert (entry_id, fault.index) in dead, (what, fault.reason)
                if isinstance(fault.record, list) and message.version == 2:  # an event: with its template
                    alone = dead_payloads[(entry_id, fault.index)]
                    assert alone.startswith(b'{"v":2,') and len(alone) <= len(payload) + 100, what
            taken = {fault.index for fault in faults}
            positions = [i for i in range(len(message.records) + len(taken)) if i not in taken]
            for start, end in message.events:  # an event loads whole or not at all
                refused = [(entry_id, positions[i]) in dead for i in range(start, end)]
                assert all(refused) or not any(refused), (what, dead.get((entry_id, positions[start])))
            for position, record in zip(positions, message.records, strict=True):
                reason = dead.get((entry_id, position))
                if reason is not None:  # refused by the loader: the graph refused it, or a name that resolves
                    # nowhere, or another record of its event was refused
                    assert any(
                        why in reason
                        for why in ("the graph refused", "unknown prefix", "no prefix", "its event")
                    ), reason
                    continue
                sk = wire.statement_key(message.doc, record, message.namespaces)
                records_in_graph[(message.doc, sk)] = record
                expected_sks.add((message.doc, sk))
        for (doc, _), record in records_in_graph.items():
            if doc in docs:
                element_ids |= _element_ids([record])
        assert {doc for doc, _ in expected_sks} <= set(docs)

        stored: Counter[tuple[str, str]] = Counter()
        for row in backend.read(
            "MATCH (n:Element) WHERE n.id IN $ids RETURN n._decl AS d", {"ids": sorted(element_ids)}
        ):
            for declaration in map(json.loads, row["d"] or []):
                if declaration["doc"] in docs:
                    stored[(declaration["doc"], declaration["sk"])] += 1
        for row in backend.read(
            "MATCH (n:Element)-[r]->() WHERE n.id IN $ids AND r.doc IN $docs RETURN r.doc AS doc, r.sk AS sk",
            {"ids": sorted(element_ids), "docs": docs},
        ):
            stored[(row["doc"], row["sk"])] += 1
        twice = [key for key, count in stored.items() if count > 1]
        assert not twice, [records_in_graph.get(key) for key in twice[:3]]
        missing = expected_sks - set(stored)
        assert not missing, [records_in_graph[key] for key in sorted(missing)[:3]]
        extra = set(stored) - expected_sks
        assert not extra, sorted(extra)[:3]  # nothing of a refused event or entry
    finally:
        loader.stop()
        thread.join(timeout=60)
        loader.close()
        _delete(backend, docs, element_ids)
        redis_client.delete(settings.stream, settings.dead_letter_stream)


def _delete(backend: Any, docs: list[str], ids: set[str]) -> None:
    """Remove what the test stored: its documents' relationships, the nodes only they declared, the reference
    nodes only its runs name (their ids hold the producer's prefix), its documents and namespaces."""
    from provgraph.graph.model import RELATIONSHIP_TYPES

    prefixes = sorted({doc.split("_")[1] for doc in docs})
    backend.write(
        [
            (
                f"MATCH (n:Element)-[r:{t}]-() WHERE n.id IN $ids AND r.doc IN $docs DELETE r",
                {"ids": sorted(ids), "docs": docs},
            )
            for t in sorted(RELATIONSHIP_TYPES)
        ]
        + [
            (
                "MATCH (n:Element) WHERE n.id IN $ids AND (size(n.docs) > 0 AND all(d IN n.docs WHERE d IN $docs) "
                "OR size(n.docs) = 0 AND any(p IN $prefixes WHERE n.id CONTAINS p)) DETACH DELETE n",
                {"ids": sorted(ids), "docs": docs, "prefixes": prefixes},
            ),
            ("MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n", {"docs": docs}),
            ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
        ]
    )


def test_a_record_of_an_event_the_graph_refuses_takes_its_event_along(
    embedded_backend, embedded_redis, embedded_settings, unique
):
    """Found by the fuzzer: FalkorDB takes no string holding a NUL character, so an event whose input role holds
    one had its input entity and usage refused, and its activity and start loaded. The event's records are now
    refused together, each dead-lettered with the graph's reason."""
    doc = f"pgid:run_{unique}_1"
    payload = _v2([[*GOOD, [[0, "in\x00put", 1]], []]], doc=doc, prefix=unique)
    embedded_redis.xadd(embedded_settings.stream, {wire.FIELD: payload})
    loader = Loader(embedded_settings, backend=embedded_backend, redis_client=embedded_redis, consumer="nul")
    try:
        loader.run(until_idle_s=0.5)
        dead = embedded_redis.xrange(embedded_settings.dead_letter_stream)
        assert [int(fields[b"record"]) for _, fields in dead] == [0, 1, 2, 3]
        assert all(b"NUL" in fields[b"reason"] and b"its event" in fields[b"reason"] for _, fields in dead)
        task = embedded_backend.read(
            "MATCH (n:Element {id: $id}) RETURN n.declared AS d", {"id": f"pgid:task_{unique}_7"}
        )
        assert not task, "the activity of a refused event is in the graph"
    finally:
        loader.close()
        _delete(embedded_backend, [doc], {f"pgid:task_{unique}_7", f"pgid:val_{unique}_7_i0"})
        embedded_redis.delete(embedded_settings.stream, embedded_settings.dead_letter_stream)


def test_a_name_of_an_event_that_resolves_nowhere_refuses_the_whole_event():
    """An event's record that passes the format but names a prefix nobody declared cannot get its rows: the
    loader refuses the event's other records with it (they are not in the rows), and the next event loads."""
    payload = _v2(
        [[*GOOD, [[1, "x", [["nowhere:attr", 1]]]], [[0, "y", 2]]], [*GOOD[:1], 8, *GOOD[2:], [], []]]
    )
    entry = _decode_entry("1-1", {b"m": payload})
    assert entry.reason is None and entry.rows is not None
    assert [index for index, _, _ in entry.faults] == list(range(7))
    assert "unknown prefix 'nowhere'" in entry.faults[2][2]
    assert all("its event's record 2 was refused" in why for index, _, why in entry.faults if index != 2)
    assert [record.get("id") for _, record in entry.records] == ["pgid:task_abc_8", None]
    assert entry.rows.records == 2 and set(entry.rows.relations) == {"wasStartedBy"}


def test_a_refused_event_is_dead_lettered_with_what_replays_it():
    """Found by the fuzzer: a refused event's dead letter held a version-1 message of the bare event array, which
    no reader can read (no template, no prefix), so replaying it after a fix could never work. It holds a
    version-2 message of that event alone with its template and prefix now (not the whole message once per event)."""
    bad = [*GOOD, [[0, "x", 1]], "not bindings"]
    payload = _v2([bad, [*GOOD[:1], 8, *GOOD[2:], [], []]])
    entry = _decode_entry("1-1", {b"m": payload})
    [(index, event, reason)] = entry.faults
    assert index == 0 and "bindings must be a list" in reason
    alone, replayable = _dead_record_payload(entry, index, event)
    raw = json.loads(alone)
    assert replayable and raw["v"] == 2 and raw["p"] == "abc" and raw["records"] == [bad]
    assert raw["tpl"] == {"0": wire.task_template("step")}
    # replayed as it is, it gives the same verdict
    with pytest.raises(wire.WireFormatError, match="event 0: bindings must be a list"):
        wire.decode_message(alone)
    fixed = json.dumps({**raw, "records": [[*GOOD, [[0, "x", 1]], []]]})
    assert [r["k"] for r in wire.decode_message(fixed).records] == [
        "activity",
        "wasStartedBy",
        "entity",
        "used",
    ]


def test_records_cut_for_nesting_put_the_whole_message_in_one_dead_letter(
    embedded_backend, embedded_redis, embedded_settings, unique
):
    """Found while fuzzing: each record holding a value nested too deep to write out again was dead-lettered with
    the whole message as its payload, so a 16 MiB message of 7,000 such records would write 100 GB of dead letters.
    The whole message is in the first one's dead letter now; the others point to it."""
    deep = "[" * 1100 + "]" * 1100  # deeper than the parser goes: cut out on decoding
    records = ",".join(f'{{"k":"entity","id":"ex:e{i}","a":[["ex:v",{deep}]]}}' for i in range(3))
    payload = f'{{"v":1,"doc":"ex:doc-{unique}","ns":{{"ex":"https://example.org/{unique}/"}},"records":[{records}]}}'
    entry = _decode_entry("1-1", {b"m": payload.encode()})
    assert [index for index, _, _ in entry.faults] == [0, 1, 2]
    loader = Loader(embedded_settings, backend=embedded_backend, redis_client=embedded_redis, consumer="cut")
    try:
        loader.ensure_group()
        loader._dead_letter_and_ack([entry])
        letters = [fields for _, fields in embedded_redis.xrange(embedded_settings.dead_letter_stream)]
        assert [letter[b"payload"] for letter in letters] == [payload.encode(), b"", b""]
        assert letters[0][b"reason"].endswith(b"(payload: the whole message)")
        assert all(letter[b"reason"].endswith(b"in the dead letter of record 0)") for letter in letters[1:])
    finally:
        loader.close()
        embedded_redis.delete(embedded_settings.stream, embedded_settings.dead_letter_stream)
