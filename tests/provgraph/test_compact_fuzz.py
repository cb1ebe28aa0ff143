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
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _compact_mutations import Mutator

from capture import wire
from provgraph.loader import _decode_entry

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


def _records_of(payload: bytes) -> tuple[wire.Message, list[wire.RecordFault]] | None:
    try:
        return wire.decode_message_partial(payload)
    except wire.WireFormatError:
        return None


# --- the reader, no servers ---------------------------------------------------------------------------------------


def test_the_reader_refuses_any_mutant_only_with_its_own_error(captured):
    mutator = Mutator(seed=20261205)
    outcomes: Counter[str] = Counter()
    for _ in range(6000):
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
        # the loader's decoding of the entry never raises: what cannot load has its reason
        decoded = _decode_entry("1-1", {b"m": mutant.payload})
        assert decoded.reason or decoded.rows is not None
        assert all(reason for _, _, reason in decoded.faults)
    assert outcomes["message refused"] > 500 and outcomes["faults"] > 500 and outcomes["valid"] > 300, (
        outcomes
    )


def test_an_event_with_an_invalid_record_is_refused_whole():
    """Found by the fuzzer: an event whose bindings expanded to one invalid record (a described value's attribute
    that is not a [name, value] pair) lost that record alone, and its activity, usages and generations loaded,
    pointing at an entity that never came."""
    good = [0, 7, None, 1_764_000_000_000_000_000, 1_764_000_000_500_000_000, 0, "FINISHED", None]
    raw = {
        "v": 2,
        "doc": "pgid:run_x",
        "ns": {},
        "p": "abc",
        "tpl": {"0": wire.task_template("step")},
        "records": [
            [*good, [[0, "x", 1]], [[1, "return", [["pg:python_type", "list"], ["pg:length"]]]]],
            [*good[:1], 8, *good[2:], [], []],
            {"k": "entity", "id": ""},
        ],
    }
    message, faults = wire.decode_message_partial(json.dumps(raw))
    assert [r["id"] for r in message.records if "id" in r] == ["pgid:task_abc_8"]
    # positions in one sequence: the refused event, the second event's two records, the refused record
    assert [(f.index, f.reason.split(":")[0]) for f in faults] == [(0, "event 0"), (3, "record 3")]
    assert "not a [name, value] pair" in faults[0].reason
    with pytest.raises(wire.WireFormatError, match="event 0: record 4"):
        wire.decode_message(json.dumps(raw))
