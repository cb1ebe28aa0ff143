"""Wire version 2: tasks sent as compact events expand into exactly the records version 1 sends, and a reader
refuses or isolates a malformed event as it does a malformed record."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from typing import Any

import pytest

import capture
from capture import _compact, _context, _handoff, _ids, wire
from capture._context import Run
from capture._emitter import Emitter
from capture._records import TaskItem, TaskSpec
from capture.settings import Settings


def _workload(directory: Any, elsewhere: str) -> None:
    directory.mkdir()
    data = directory / "data.txt"
    data.write_text("rows")

    @capture.task(output_names=["a", "b"], tags=["t1", "t2"], custom_metadata={"k": 1, "password": "hunter2"})
    def two(x, y=3, *rest, api_key=None, **kw):
        return x, [y]

    @capture.task
    def one(value):
        return value

    @capture.task(workflow_id=elsewhere)
    def moved(value):
        return {"first": value, "second": [value]}

    @capture.light_task
    def light(z):
        return z * 2

    @capture.task
    def boom(q):
        raise ValueError("failed with token=abcdefabcdef123456 in the text")

    with capture.Workflow("compact", campaign_id="camp:1"):
        a, b = two(1, 2.5, "x", api_key="sk-not-a-real-key-123", extra={"password": "p"})
        one(b)  # the very list `two` returned: used, not a new entity
        one(a)
        for value in (
            "hello",
            None,
            True,
            10**30,
            float("nan"),
            b"bytes",
            [1, 2],
            {"dsn": "postgres://u:pw@h/db"},
        ):
            one(value)
        one(two(5))  # the whole tuple: both of its outputs
        moved(7)
        one(capture.file(str(data)))  # a file entity: sent as records
        for i in range(3):
            light(i)
        with pytest.raises(ValueError):
            boom(1)
        loop = capture.Loop(range(3), loop_name="epochs", item_name="epoch")
        for epoch in loop:
            loop.end_iter({"loss": epoch * 0.5})
        for _ in capture.BatchedLoop([1, "s", 2.0], loop_name="batches"):
            pass
        plain = capture.Loop([None, 7, 10**30], loop_name="plain", item_name="k")
        for k in plain:
            plain.end_iter(k)
        one("surrogate \udc80 text")  # cannot be encoded: its two entities alone are dead-lettered
        one(a)


def _records_of(
    tmp_path: Any, version: int, workload: Any = _workload
) -> tuple[dict[str, list[dict[str, Any]]], list[bytes], Emitter]:
    """The records of the workload by document, the payloads sent and the emitter."""
    settings = Settings(home=str(tmp_path / f"v{version}"), sink="memory", wire_version=version)
    saved = (_context.STATE.on, _context.STATE.resolved, _context.STATE.settings, _context.STATE.emitter)
    saved_emit = _context.STATE.emit
    _context.set_enabled(True, settings)
    emitter = Emitter(settings)
    _context.use_emitter(emitter)
    _handoff.LIGHT_QUEUE.clear()
    try:
        workload(
            tmp_path / f"files{version}", f"elsewhere α {uuid.uuid4().hex[:8]}"
        )  # a run of its own: its own lineage
        capture.flush(10)
    finally:
        emitter.shutdown(10)
        _context.STATE.on, _context.STATE.resolved, _context.STATE.settings, _context.STATE.emitter = saved
        _context.STATE.emit = saved_emit
    payloads = list(emitter.sink.payloads)
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for payload in payloads:
        message = wire.decode_message(payload)
        by_doc.setdefault(message.doc, []).extend(message.records)
    return by_doc, payloads, emitter


def _normalised(by_doc: dict[str, list[dict[str, Any]]]) -> list[Any]:
    """Each document's records with what differs between two runs of one workload made equal (times, durations,
    the counter values inside ids, renumbered in order of appearance), documents in a fixed order."""
    return sorted((_normalised_records(records) for records in by_doc.values()), key=json.dumps)


def _normalised_records(records: list[dict[str, Any]]) -> list[Any]:
    text = json.dumps(records, sort_keys=True, ensure_ascii=False)
    text = re.sub(r"elsewhere(?: α |%20%CE%B1%20)[0-9a-f]{8}", "ELSEWHERE", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[-+]\d\d:\d\d", "TIME", text)
    text = re.sub(r'"pg:duration_s", [-0-9.e]+', '"pg:duration_s", "D"', text)
    text = re.sub(r'"pg:path", "[^"]*"', '"pg:path", "P"', text)
    seen: dict[str, str] = {}
    text = re.sub(
        r"(task|val|run|process|person|campaign|file)_[0-9a-f]{12}_\d+",
        lambda m: seen.setdefault(m.group(0), f"{m.group(1)}_N{len(seen)}"),
        text,
    )
    return json.loads(text)


def test_version_2_events_expand_to_exactly_the_records_of_version_1(tmp_path):
    records_1, payloads_1, emitter_1 = _records_of(tmp_path, 1)
    records_2, payloads_2, emitter_2 = _records_of(tmp_path, 2)
    assert {json.loads(p)["v"] for p in payloads_1} == {1}
    assert 2 in {json.loads(p)["v"] for p in payloads_2}
    assert _normalised(records_2) == _normalised(records_1)
    count = sum(map(len, records_1.values()))
    assert count > 100
    # the same counts, the same dead letters (the input and output entities holding a lone surrogate), everything
    # else sent
    for emitter in (emitter_1, emitter_2):
        stats = emitter.stats()
        assert stats["records_dead_lettered"] == 2
        assert stats["records_sent"] == stats["records"] - 2 == count
    assert sum(map(len, payloads_2)) < sum(map(len, payloads_1)) / 2
    # redaction happened in the producer: no secret is in the compact stream either
    stream = b"".join(payloads_2)
    for secret in (b"hunter2", b"sk-not-a-real-key-123", b"abcdefabcdef123456", b":pw@"):
        assert secret not in stream


def _light_workload(directory: Any, elsewhere: str) -> None:
    """Seeded light-task calls: scalars of every kind (long and secret-looking strings, None, huge ints, NaN),
    repeated values, outputs fed back as inputs within one hand-over batch, keyword arguments, errors, non-scalars,
    two specs and two workflows interleaved."""
    rng = random.Random(1905)

    @capture.light_task
    def same(v):
        return v

    @capture.light_task(output_names="out")
    def pair(a, b=0):
        if a == "boom":
            raise ValueError("boom with password=hunter2")
        return b

    pool: list[Any] = [
        0, 1, 2, -3, 10**30, 1.5, float("nan"), True, False, None, "", "s", "x" * 5000,
        "token=abcdefabcdef123456", "sk-not-a-real-key-123", [1, 2], {"k": "v"}, "boom",
    ]  # fmt: skip
    outputs: list[Any] = []
    with capture.Workflow("light a"), capture.Workflow("light b"):
        for i in range(1500):
            value = rng.choice(outputs) if outputs and rng.random() < 0.3 else rng.choice(pool)
            choice = rng.random()
            try:
                if choice < 0.5:
                    outputs.append(same(value))
                elif choice < 0.8:
                    outputs.append(pair(value, rng.choice(pool)))
                else:
                    outputs.append(pair(value, b=i))
            except ValueError:
                pass
        for _ in capture.BatchedLoop([rng.choice(pool) for _ in range(700)], loop_name="b", item_name="item"):
            pass
        for _ in capture.BatchedLoop(outputs[:300], loop_name="fed", item_name="item"):
            pass
        for _ in capture.BatchedLoop([1, "s", None, 2], loop_name="secret", item_name="password"):
            pass


def test_light_task_and_batched_loop_batches_expand_to_exactly_the_records_of_version_1(tmp_path):
    records_1, _, _ = _records_of(tmp_path, 1, _light_workload)
    records_2, payloads_2, _ = _records_of(tmp_path, 2, _light_workload)
    assert 2 in {json.loads(p)["v"] for p in payloads_2}
    assert sum(map(len, records_1.values())) > 5000
    assert _normalised(records_2) == _normalised(records_1)
    stream = b"".join(payloads_2)
    for secret in (b"hunter2", b"abcdefabcdef123456"):  # in text, after "password=" and "token=": redacted
        assert secret not in stream


def _message(events: list[Any], **changes: Any) -> bytes:
    raw = json.loads(
        wire.encode_compact_message("pgid:run_1", [], {0: wire.task_template("step")}, prefix="abc")
    )
    raw["records"] = events
    raw.update(changes)
    return json.dumps(raw).encode()


GOOD = [0, 7, None, 1_764_000_000_000_000_000, 1_764_000_000_500_000_000, 3600, "FINISHED", None]


def test_an_event_expands_to_the_task_shape():
    event = [*GOOD, [[0, "x", 1], [2, "y", ["pgid:val_abc_3_o0"]]], [[0, "return", 2.5]]]
    records = wire.decode_message(_message([event])).records
    assert [r["k"] for r in records] == [
        "activity",
        "wasStartedBy",
        "entity",
        "used",
        "used",
        "entity",
        "wasGeneratedBy",
        "wasDerivedFrom",
        "wasDerivedFrom",
    ]
    assert records[0]["id"] == "pgid:task_abc_7"
    assert records[0]["f"] == {
        "startTime": "2025-11-24T17:00:00.000000+01:00",
        "endTime": "2025-11-24T17:00:00.500000+01:00",
    }
    assert records[1]["f"]["starter"] == "pgid:run_1"
    assert records[2] == {
        "k": "entity",
        "id": "pgid:val_abc_7_i0",
        "a": [["pg:role", "x"], ["pg:python_type", "int"], ["prov:value", 1]],
    }
    assert records[4]["f"]["entity"] == "pgid:val_abc_3_o0"
    assert records[5]["a"][1] == ["pg:python_type", "float"]
    assert {r["f"]["usedEntity"] for r in records[7:]} == {"pgid:val_abc_7_i0", "pgid:val_abc_3_o0"}


@pytest.mark.parametrize(
    "event, reason",
    [
        ([*GOOD, [], [], [], []], "10 or 11 fields"),
        ([*GOOD[:5], "UTC", *GOOD[6:], [], []], "UTC offset is seconds"),
        ([*GOOD[:5], 86_400, *GOOD[6:], [], []], "a day or more"),
        ([5, *GOOD[1:], [], []], "no template 5"),
        ([0, -1, *GOOD[2:], [], []], "a number or an id"),
        ([*GOOD[:3], "soon", *GOOD[4:], [], []], "times are integers"),
        ([*GOOD, [[0, "x", [1]]], []], "a scalar binding"),
        ([*GOOD, [], [[2, "y", ["pgid:x"]]]], "unknown binding kind 2"),
        ([*GOOD, [[9, "x", 1]], []], "unknown binding kind 9"),
        ([*GOOD, [["x", 1]], []], "[kind, role, value]"),
        ([*GOOD[:3], 10**40, *GOOD[4:], [], []], "times are integers"),  # a float once parsed
    ],
)
def test_a_malformed_event_is_left_out_with_its_reason(event, reason):
    message, faults = wire.decode_message_partial(_message([[*GOOD, [], []], event]))
    assert [r["k"] for r in message.records] == ["activity", "wasStartedBy"]
    # its index is its position among the message's records and faults: after the first event's two records
    assert len(faults) == 1 and faults[0].index == 2 and reason in faults[0].reason
    with pytest.raises(wire.WireFormatError, match=re.escape(reason)):
        wire.decode_message(_message([event]))


@pytest.mark.parametrize("changes", [{"p": ""}, {"p": 7}, {"tpl": []}])
def test_a_version_2_message_without_usable_templates_or_prefix_is_refused(changes):
    with pytest.raises(wire.WireFormatError):
        wire.decode_message_partial(_message([[*GOOD, [], []]], **changes))


@pytest.mark.parametrize(
    "template, reason",
    [
        ({"n": 3}, "'n' and 'ty' must be strings"),
        ({"n": "x", "x": [[1, 2]]}, "'x' must be a list"),
        ({"n": "x", "x": [["pg:a", 1]] * 1000}, "over the limit of 1000"),
    ],
)
def test_an_unusable_template_costs_only_the_events_bound_to_it(template, reason):
    raw = json.loads(_message([[*GOOD, [], []], [1, 8, *GOOD[2:], [], []]]))
    raw["tpl"]["1"] = template
    message, faults = wire.decode_message_partial(json.dumps(raw))
    assert [r["id"] for r in message.records if "id" in r] == ["pgid:task_abc_7"]
    assert [f.index for f in faults] == [2] and reason in faults[0].reason


def test_a_template_of_many_attributes_is_refused_once_not_per_event():
    """Found by the fuzzer (breaker): a 2.8 MB message, a template of 200,000 fixed attributes bound by 2,000
    events, had every event copy them before its activity was refused: the reader took minutes (a stalled loader);
    the template is now refused before any event uses it."""
    template = {"n": "x", "x": [["pg:a", 1]] * 200_000}
    events = [[1, number, *GOOD[2:], [], []] for number in range(2000)]
    raw = json.loads(_message(events))
    raw["tpl"]["1"] = template
    message, faults = wire.decode_message_partial(json.dumps(raw))
    assert not message.records and len(faults) == 2000


def test_a_version_2_message_needs_its_templates():
    raw = json.loads(wire.encode_message("pgid:run_1", [wire.element("entity", "pgid:e")]))
    raw["v"] = 2  # a version-1 message relabelled: no 'p', no 'tpl'
    with pytest.raises(wire.WireFormatError, match="'p'"):
        wire.decode_message(json.dumps(raw))


def test_a_message_cannot_copy_its_templates_without_bound():
    """Found by the fuzzer (breaker): a 0.9 MB message, a template of 990 fixed attributes bound by 10,000 events,
    made a reader build 10 million attribute values (30 s in the loader's decoding, before any write). The events
    past `MAX_TEMPLATE_COPIES` copied attributes are refused, each alone."""
    template = {"n": "x", "x": [[f"pg:a{i}", 1] for i in range(990)]}
    raw = json.loads(_message([[1, number, *GOOD[2:], [], []] for number in range(1100)]))
    raw["tpl"]["1"] = template
    message, faults = wire.decode_message_partial(json.dumps(raw))
    loaded = len(message.records) // 2
    assert 0 < loaded * 995 <= wire.MAX_TEMPLATE_COPIES < (loaded + 1) * 995
    assert len(faults) == 1100 - loaded and "template attributes" in faults[0].reason


def test_a_message_cannot_expand_past_the_limit():
    inputs = [[0, f"x{i}", i] for i in range(500)]
    outputs = [[0, f"y{i}", i] for i in range(500)]  # 500 x 500 derivations: over MAX_EXPANDED_RECORDS
    # that event alone is refused: the events beside it are not its hostage
    message, faults = wire.decode_message_partial(_message([[*GOOD, [], []], [*GOOD, inputs, outputs]]))
    assert len(message.records) == 2
    assert [f.index for f in faults] == [2] and "expand to over 200000 records" in faults[0].reason
    with pytest.raises(wire.WireFormatError, match="expand to over"):
        wire.decode_message(_message([[*GOOD, inputs, outputs]]))


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "Europe/Berlin"])
def test_event_times_are_the_producers_local_times_even_across_a_clock_change(zone, monkeypatch):
    """The reader writes an event's times at the offsets the producer had (not the reader's own), the same text
    as capture's records; a task that spans a daylight-saving change keeps both offsets."""
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        spec = TaskSpec(lambda x: x, name="step")
        start = (
            1_774_746_000_000_000_000 - 500_000_000
        )  # Berlin's clocks went forward at 2026-03-29 01:00 UTC
        end = start + 1_000_000_000
        produced = []
        for version in (1, 2):
            run = Run(f"pgid:run_{version}", "run", None)
            item = TaskItem(run.id, spec, 1, (run, None), (3,), {}, start, end, 4, None, None)
            if version == 1:
                produced.append(item.to_records())
                continue
            entries: list[Any] = []
            item.add_entries(entries, [])
            number = entries[0][0]
            raw = {
                "doc": run.id,
                "p": _ids.process_prefix(),
                "tpl": {str(number): _compact.TEMPLATES[number]},
            }
            records, faults = wire.expand_events(
                raw, json.loads(json.dumps(entries))
            )  # as a reader sees them
            assert not faults
            produced.append(json.loads(json.dumps(records).replace("pgid:run_2", "pgid:run_1")))
        v1, v2 = produced
        assert v2 == json.loads(json.dumps(v1))
        times = v1[0]["f"]
        assert times["startTime"].endswith(
            {"UTC": "+00:00", "Asia/Kolkata": "+05:30", "Europe/Berlin": "+01:00"}[zone]
        )
        if zone == "Europe/Berlin":
            assert times["endTime"].endswith("+02:00")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
