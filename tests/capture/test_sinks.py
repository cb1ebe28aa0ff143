"""Sinks, buffer files, replay and the retry helper; the Redis sink against the real Redis."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path

import pytest

from capture import wire
from capture._embedded_url import EmbeddedServerNotRunning, embedded_redis_url
from capture._retry import Backoff, retry_call
from capture._sinks import FileSink, InMemorySink, RedisStreamSink, read_buffer
from capture._spill import ReplayResult, replay, replay_file

REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def payload(doc: str, *ids: str) -> bytes:
    return wire.encode_message(doc, [wire.element("entity", i) for i in ids])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- file sink and buffers --------------------------------------------------------------------------------------


def test_file_sink_appends_each_batch_to_disk_as_it_goes(tmp_path):
    sink = FileSink(tmp_path / "buffer")
    assert sink.export([payload("pgid:run_1", "pgid:a"), payload("pgid:run_1", "pgid:b")])
    # Before close: the lines are on disk already, not held in memory until stop.
    assert len(sink.path.read_bytes().splitlines()) == 2
    assert sink.export([payload("pgid:run_1", "pgid:c")])
    assert len(sink.path.read_bytes().splitlines()) == 3
    sink.close()
    assert [r["id"] for m in read_buffer(sink.path) for r in m.records] == ["pgid:a", "pgid:b", "pgid:c"]


def test_read_buffer_merges_the_files_of_many_processes_by_send_time(tmp_path):
    directory = tmp_path / "buffer"
    first, second = FileSink(directory), FileSink(directory)  # two processes' files
    assert first.path != second.path
    first.export([wire.encode_message("pgid:run_1", [wire.element("entity", "pgid:a")], sent_at=1.0)])
    second.export([wire.encode_message("pgid:run_1", [wire.element("entity", "pgid:b")], sent_at=2.0)])
    first.export([wire.encode_message("pgid:run_1", [wire.element("entity", "pgid:c")], sent_at=3.0)])
    first.close()
    second.close()
    assert len(list(directory.glob("*.jsonl"))) == 2
    assert [m.records[0]["id"] for m in read_buffer(directory)] == ["pgid:a", "pgid:b", "pgid:c"]


def test_read_buffer_names_the_file_and_line_of_a_bad_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(payload("pgid:run_1", "pgid:a") + b"\n{not json\n")
    with pytest.raises(wire.WireFormatError, match=r"x\.jsonl:2: not valid JSON"):
        read_buffer(path)
    with pytest.raises(FileNotFoundError):
        read_buffer(tmp_path / "missing")


def test_in_memory_sink_keeps_and_decodes_messages():
    sink = InMemorySink()
    assert sink.export([payload("pgid:run_1", "pgid:a")])
    sink.fail = True
    assert sink.export([payload("pgid:run_1", "pgid:b")]) is False
    assert sink.probe() is False
    assert [r["id"] for r in sink.records("pgid:run_1")] == ["pgid:a"]


# --- replay -----------------------------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def test_replay_sends_a_file_once_and_marks_it_replayed(tmp_path):
    path = tmp_path / "spill" / "a.jsonl"
    write_lines(path, [payload("pgid:run_1", f"pgid:e{i}") for i in range(100)])
    sink = InMemorySink()
    result = replay(path.parent, sink=sink, settings=object())
    assert result.complete and result.messages == 100 and result.records == 100
    assert not path.exists() and Path(f"{path}.replayed").exists()
    again = replay(path.parent, sink=sink, settings=object())  # nothing left to send: no duplicate
    assert again.messages == 0
    assert len(sink.records()) == 100


class FailAfter(InMemorySink):
    """Accepts ``n`` export calls, then refuses."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def export(self, messages):
        if self.left <= 0:
            return False
        self.left -= 1
        return super().export(messages)


def test_an_interrupted_replay_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "b.jsonl"
    write_lines(path, [payload("pgid:run_1", f"pgid:e{i}") for i in range(150)])  # 3 chunks of <= 64
    first = FailAfter(1)
    assert replay_file(path, first) is False
    assert len(first.records()) == 64
    assert Path(f"{path}.progress").read_text() != "0"
    second = InMemorySink()
    result = ReplayResult()
    assert replay_file(path, second, result) is True
    ids = [r["id"] for r in first.records() + second.records()]
    assert ids == [f"pgid:e{i}" for i in range(150)]  # each exactly once
    assert not Path(f"{path}.progress").exists()


def test_bad_and_truncated_lines_go_to_the_rejected_file_with_a_reason(tmp_path):
    path = tmp_path / "c.jsonl"
    good = payload("pgid:run_1", "pgid:a")
    path.write_bytes(good + b"\n" + b'{"v": 99}\n' + good[: len(good) // 2])  # the last line cut by a crash
    sink = InMemorySink()
    result = ReplayResult()
    assert replay_file(path, sink, result)
    assert result.messages == 1 and result.rejected == 2
    rejected = [json.loads(line) for line in Path(f"{path}.rejected").read_text().splitlines()]
    assert [r["reason"] for r in rejected] == [
        "unknown wire version 99 (this reader knows 1, 2)",
        "incomplete last line",
    ]


def test_replay_leaves_alone_a_file_a_live_process_still_writes(tmp_path):
    writer = FileSink(tmp_path / "buffer")
    writer.export([payload("pgid:run_1", "pgid:a")])  # holds the file's lock
    sink = InMemorySink()
    result = replay(tmp_path / "buffer", sink=sink, settings=object())
    assert result.in_use == [str(writer.path)] and sink.payloads == []
    writer.close()
    assert replay(tmp_path / "buffer", sink=sink, settings=object()).messages == 1


# --- Redis ------------------------------------------------------------------------------------------------------


def test_redis_sink_adds_each_message_to_the_stream(redis_client, unique):
    stream = f"provgraph:test:{unique}:sink"
    sink = RedisStreamSink(REDIS_URL, stream)
    try:
        assert sink.probe()
        assert sink.export([payload("pgid:run_1", "pgid:a"), payload("pgid:run_1", "pgid:b")])
        entries = redis_client.xrange(stream)
        assert len(entries) == 2
        assert [
            wire.decode_message(fields[wire.FIELD.encode()]).records[0]["id"] for _, fields in entries
        ] == [
            "pgid:a",
            "pgid:b",
        ]
    finally:
        sink.close()
        redis_client.delete(stream)


def test_redis_sink_on_a_closed_port_returns_false_quickly_and_logs_once(caplog):
    sink = RedisStreamSink(f"redis://127.0.0.1:{free_port()}/0", "provgraph:test:nowhere")
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        results = [sink.export([payload("pgid:run_1", "pgid:a")]) for _ in range(5)]
    assert results == [False] * 5
    assert sink.probe() is False
    assert time.monotonic() - started < 30  # refused connections fail fast (no 10 redis-py retries)
    assert caplog.text.count("cannot send to Redis stream") == 1  # rate-limited: once per interval


def test_embedded_url_comes_from_the_file_the_embedded_server_writes(tmp_path, redis_client, unique):
    with pytest.raises(EmbeddedServerNotRunning, match="no embedded provgraph server is running"):
        embedded_redis_url(tmp_path)
    sink = RedisStreamSink("embedded", f"provgraph:test:{unique}:emb", home=tmp_path)
    assert sink.export([payload("pgid:run_1", "pgid:a")]) is False  # not running yet: the emitter would spill
    (tmp_path / "embedded").mkdir()
    (tmp_path / "embedded" / "url").write_text(REDIS_URL + "\n")
    assert embedded_redis_url(tmp_path) == REDIS_URL
    try:
        assert sink.export([payload("pgid:run_1", "pgid:a")])
        assert redis_client.xlen(f"provgraph:test:{unique}:emb") == 1
    finally:
        sink.close()
        redis_client.delete(f"provgraph:test:{unique}:emb")


# --- retry ------------------------------------------------------------------------------------------------------


def test_retry_call_retries_transient_errors_within_its_bounds():
    calls = []
    slept = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("blip")
        return "ok"

    assert (
        retry_call(
            flaky, transient=(ConnectionError,), attempts=5, backoff=Backoff(0.01, 0.1), sleep=slept.append
        )
        == "ok"
    )
    assert len(calls) == 3 and len(slept) == 2 and all(0 <= s <= 0.1 for s in slept)

    def always():
        calls.append(1)
        raise ConnectionError("down")

    calls.clear()
    with pytest.raises(ConnectionError):
        retry_call(always, transient=(ConnectionError,), attempts=4, sleep=lambda s: None)
    assert len(calls) == 4

    def wrong():
        calls.append(1)
        raise ValueError("not transient")

    calls.clear()
    with pytest.raises(ValueError):
        retry_call(wrong, transient=(ConnectionError,), attempts=4, sleep=lambda s: None)
    assert len(calls) == 1


def test_retry_call_stops_at_its_deadline():
    calls = []

    def always():
        calls.append(1)
        raise TimeoutError("slow")

    with pytest.raises(TimeoutError):
        retry_call(always, transient=(TimeoutError,), attempts=1000, deadline_s=0.0, sleep=lambda s: None)
    assert len(calls) == 1


def test_backoff_grows_is_capped_and_resets():
    backoff = Backoff(base_s=0.1, cap_s=1.0, floor_s=0.05)
    ceilings = [min(1.0, 0.1 * 2**n) for n in range(8)]
    delays = [backoff.next_delay() for _ in range(8)]
    assert all(0.05 <= d <= max(0.05, c) for d, c in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 0.1
    with pytest.raises(ValueError):
        Backoff(base_s=0)
