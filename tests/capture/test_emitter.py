"""The emitter: batching by size and time, flush and shutdown, never raising, bounded queue, spill and replay, fork."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from capture import wire
from capture._emitter import Emitter
from capture._sinks import FileSink, InMemorySink, Sink, read_buffer
from capture._spill import spill_directory
from capture.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def settings_for(tmp_path: Path, **changes) -> Settings:
    base = Settings(home=str(tmp_path / "home"), sink="memory", flush_interval_ms=20, stream="test:stream")
    return base.replace(**changes)


def entity(n: int) -> dict:
    return wire.element("entity", f"pgid:e{n}")


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Expanding:
    """An item expanded on the emitter thread: remembers which thread called ``to_records``."""

    def __init__(self, n: int, fail: bool = False) -> None:
        self.n = n
        self.fail = fail
        self.thread = None

    def to_records(self) -> list[dict]:
        self.thread = threading.current_thread().name
        if self.fail:
            raise RuntimeError("cannot describe")
        return [entity(self.n)]


def test_messages_are_cut_at_flush_max_records_and_grouped_by_document(tmp_path):
    sink = InMemorySink()
    with Emitter(settings_for(tmp_path, flush_max_records=10), sink=sink) as emitter:
        emitter.emit("pgid:run_a", [entity(i) for i in range(25)])
        emitter.emit("pgid:run_b", [entity(100)])
        assert emitter.flush(10)
    messages = sink.messages()
    sizes = sorted((m.doc, len(m.records)) for m in messages)
    assert sizes == [("pgid:run_a", 5), ("pgid:run_a", 10), ("pgid:run_a", 10), ("pgid:run_b", 1)]
    ids = [r["id"] for m in messages if m.doc == "pgid:run_a" for r in m.records]
    assert ids == [f"pgid:e{i}" for i in range(25)]  # order kept


def test_records_leave_on_the_timer_without_a_flush(tmp_path):
    sink = InMemorySink()
    with Emitter(settings_for(tmp_path, flush_interval_ms=30), sink=sink) as emitter:
        emitter.emit("pgid:run_t", [entity(1)])
        assert wait_for(lambda: len(sink.payloads) == 1, 10)


def test_a_full_batch_wakes_the_worker_before_the_timer(tmp_path):
    sink = InMemorySink()
    # The timer alone would wait a minute: only the size trigger can deliver within the test's wait.
    with Emitter(
        settings_for(tmp_path, flush_interval_ms=60_000, flush_max_records=50), sink=sink
    ) as emitter:
        emitter.emit("pgid:run_s", [entity(0)])  # starts the worker
        for i in range(1, 60):
            emitter.emit("pgid:run_s", [entity(i)])
        assert wait_for(lambda: len(sink.records()) >= 50, 10)
        assert emitter.flush(10)
    assert len(sink.records()) == 60


def test_items_are_expanded_on_the_worker_thread_in_emission_order(tmp_path):
    sink = InMemorySink()
    items = [Expanding(i) for i in range(200)]
    with Emitter(settings_for(tmp_path), sink=sink) as emitter:
        for item in items:
            emitter.emit("pgid:run_o", item)
        assert emitter.flush(10)
    assert {item.thread for item in items} == {"provgraph-emitter"}
    assert [r["id"] for r in sink.records()] == [f"pgid:e{i}" for i in range(200)]


def test_emit_never_raises_and_bad_items_are_counted_or_dead_lettered(tmp_path, caplog):
    sink = InMemorySink()
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    bad_record = {"k": "entity", "id": "pgid:bad", "a": [["pg:x", object()]]}
    with caplog.at_level(logging.ERROR):
        emitter.emit("pgid:run_x", Expanding(1, fail=True))
        emitter.emit("pgid:run_x", [entity(2), bad_record, entity(3)])
        emitter.emit("pgid:run_x", Expanding(4))
        assert emitter.flush(10)
    emitter.shutdown(5)
    assert [r["id"] for r in sink.records()] == ["pgid:e2", "pgid:e3", "pgid:e4"]
    stats = emitter.stats()
    assert stats["items_failed"] == 1
    assert stats["records_dead_lettered"] == 1
    dead = list((tmp_path / "home" / "spill" / "dead-letters").glob("*.jsonl"))
    assert len(dead) == 1
    entry = json.loads(dead[0].read_text().splitlines()[0])
    assert (
        entry["doc"] == "pgid:run_x"
        and "pgid:bad" in entry["record"]
        and "unsupported value type object" in entry["reason"]  # the wire format's own reason
    )
    assert "could not describe an item" in caplog.text


def test_shutdown_sends_everything_and_late_items_still_arrive(tmp_path):
    sink = InMemorySink()
    emitter = Emitter(settings_for(tmp_path, flush_interval_ms=60_000), sink=sink)
    for i in range(1000):
        emitter.emit("pgid:run_z", [entity(i)])
    emitter.shutdown(10)
    assert len(sink.records()) == 1000
    emitter.emit("pgid:run_z", [entity(1000)])  # after shutdown: sent inline, not dropped
    assert len(sink.records()) == 1001
    emitter.shutdown(1)  # idempotent
    assert emitter.pending() == 0


class BlockingSink(InMemorySink):
    """Holds every export until ``release`` is set (a slow transport)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def export(self, messages: list[bytes]) -> bool:
        self.release.wait(30)
        return super().export(messages)


def test_a_full_queue_waits_a_bounded_time_then_queues_over_the_bound(tmp_path, caplog):
    sink = BlockingSink()
    settings = settings_for(tmp_path, queue_max_records=20, queue_full_timeout_s=0.2, flush_max_records=5)
    emitter = Emitter(settings, sink=sink)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        for i in range(100):
            emitter.emit("pgid:run_f", [entity(i)])
    elapsed = time.monotonic() - started
    assert emitter.stats()["over_bound"] >= 1
    assert elapsed < 60  # bounded: never stuck until the transport returns
    assert "queuing over the bound" in caplog.text
    sink.release.set()
    assert emitter.flush(10)
    emitter.shutdown(5)
    assert sorted(int(r["id"][6:]) for r in sink.records()) == list(range(100))


def test_refused_batches_spill_and_are_replayed_when_the_sink_returns(tmp_path):
    sink = InMemorySink()
    sink.fail = True
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    for i in range(30):
        emitter.emit("pgid:run_r", [entity(i)])
    assert emitter.flush(5) is False  # on disk, not delivered
    stats = emitter.stats()
    assert stats["records_spilled"] == 30 and stats["transport_down"]
    spill_file = Path(stats["spill_file"])
    assert spill_file.parent == spill_directory(tmp_path / "home", "test:stream")
    assert len(read_buffer(spill_file)) >= 1
    assert emitter.pending() == 30
    sink.fail = False
    emitter.emit("pgid:run_r", [entity(30)])
    assert emitter.flush(5) is True
    emitter.shutdown(5)
    assert [r["id"] for r in sink.records()] == [f"pgid:e{i}" for i in range(31)]  # in order, no duplicate
    assert emitter.stats()["records_replayed"] == 31  # the last one queued behind the spilled ones
    assert not spill_file.exists() and Path(f"{spill_file}.replayed").exists()


def test_the_worker_recovers_by_itself_with_backoff(tmp_path):
    sink = InMemorySink()
    sink.fail = True
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    emitter.emit("pgid:run_b", [entity(1)])
    assert wait_for(lambda: emitter.stats()["records_spilled"] == 1, 10)
    sink.fail = False
    assert wait_for(lambda: len(sink.records()) == 1, 20)  # the worker's probe, no flush call
    # the worker marks the transport up right after the probe's delivery: wait for it rather than race it
    assert wait_for(lambda: emitter.stats()["transport_down"] is False, 5)
    emitter.shutdown(5)


def test_records_left_in_the_spill_file_at_shutdown_are_reported(tmp_path, caplog):
    sink = InMemorySink()
    sink.fail = True
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    emitter.emit("pgid:run_l", [entity(1), entity(2)])
    with caplog.at_level(logging.WARNING):
        emitter.shutdown(2)
    assert "2 records could not be sent" in caplog.text
    assert "provgraph replay" in caplog.text
    assert [
        r["id"] for m in read_buffer(spill_directory(tmp_path / "home", "test:stream")) for r in m.records
    ] == [
        "pgid:e1",
        "pgid:e2",
    ]


class RaisingSink(Sink):
    def export(self, messages):
        raise RuntimeError("a sink that breaks its contract")

    def probe(self):
        raise RuntimeError("still broken")


def test_a_sink_that_raises_does_not_reach_the_caller(tmp_path):
    emitter = Emitter(settings_for(tmp_path), sink=RaisingSink())
    emitter.emit("pgid:run_e", [entity(1)])
    assert emitter.flush(2) is False
    emitter.shutdown(2)
    assert emitter.stats()["records_spilled"] == 1  # kept on disk, not lost


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_empty_and_sends_its_own_records(tmp_path):
    buffer = tmp_path / "buffer"
    emitter = Emitter(settings_for(tmp_path, flush_interval_ms=60_000), sink=FileSink(buffer))
    emitter.emit("pgid:run_parent", [entity(1)])  # queued (worker started, timer far away)
    pid = os.fork()
    if pid == 0:  # the child: the parent's queued record is not ours to send
        code = 1
        try:
            emitter.emit("pgid:run_child", [entity(2)])
            code = 0 if emitter.flush(10) and emitter.stats()["items"] == 1 else 3
            emitter.shutdown(5)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert emitter.flush(10)
    emitter.shutdown(5)
    files = sorted(buffer.glob("*.jsonl"))
    assert len(files) == 2  # one file per process
    by_doc = {m.doc: [r["id"] for r in m.records] for m in read_buffer(buffer)}
    assert by_doc == {"pgid:run_parent": ["pgid:e1"], "pgid:run_child": ["pgid:e2"]}


def run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        PROVGRAPH_HOME=str(tmp_path / "home"),
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(tmp_path / "buffer"),
        PROVGRAPH_FLUSH_INTERVAL_MS="60000",
        PROVGRAPH_SETTINGS=str(tmp_path / "absent.yaml"),
        PYTHONPATH=str(REPO),
    )
    script = tmp_path / "script.py"  # a file, so that spawned children can import its functions
    script.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)


def test_exit_flushes_the_process_emitter_also_in_multiprocessing_children(tmp_path):
    # No flush anywhere: records reach the buffer through atexit (parent) and multiprocessing's finalizers
    # (children, which end with os._exit and skip atexit); fork and spawn children both.
    done = run_script(
        tmp_path,
        """
        import multiprocessing as mp
        from capture import get_emitter, wire

        def child(n):
            get_emitter().emit("pgid:run_mp", [wire.element("entity", f"pgid:child{n}")])

        if __name__ == "__main__":
            get_emitter().emit("pgid:run_mp", [wire.element("entity", "pgid:parent")])
            for method in ("fork", "spawn"):
                process = mp.get_context(method).Process(target=child, args=(method,))
                process.start()
                process.join()
                assert process.exitcode == 0, method
        """,
    )
    assert done.returncode == 0, done.stderr
    ids = sorted(r["id"] for m in read_buffer(tmp_path / "buffer") for r in m.records)
    assert ids == ["pgid:childfork", "pgid:childspawn", "pgid:parent"]


def test_get_emitter_is_configured_once_and_warns_on_other_settings(tmp_path):
    done = run_script(
        tmp_path,
        """
        import logging
        logging.basicConfig(level=logging.WARNING)
        from capture import get_emitter
        from capture.settings import Settings
        first = get_emitter()
        assert get_emitter() is first
        assert get_emitter(first.settings) is first
        assert get_emitter(first.settings.replace(flush_max_records=7)) is first
        assert first.settings.flush_max_records != 7
        """,
    )
    assert done.returncode == 0, done.stderr
    assert "already configured" in done.stderr
    assert done.stderr.count("already configured") == 1


def test_spill_files_left_by_ended_processes_are_sent_once_when_the_sink_works(tmp_path):
    directory = spill_directory(tmp_path / "home", "test:stream")
    directory.mkdir(parents=True)
    orphan = directory / "spill-otherhost-1-1-aaaaaa.jsonl"
    orphan.write_bytes(wire.encode_message("pgid:run_old", [entity(7), entity(8)]) + b"\n")
    live = FileSink(directory)  # stands for a live process still writing its own spill file: left alone
    live._out.path = directory / "spill-live-2-2-bbbbbb.jsonl"
    live.export([wire.encode_message("pgid:run_live", [entity(9)])])
    sink = InMemorySink()
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    emitter.emit("pgid:run_new", [entity(1)])
    assert emitter.flush(10)
    emitter.shutdown(5)
    live.close()
    assert sorted(r["id"] for r in sink.records()) == ["pgid:e1", "pgid:e7", "pgid:e8"]
    assert emitter.stats()["records_adopted"] == 2
    assert not orphan.exists() and Path(f"{orphan}.replayed").exists()
    assert (directory / "spill-live-2-2-bbbbbb.jsonl").exists()


def test_an_outage_is_logged_once_per_interval_not_per_batch(tmp_path, caplog):
    sink = InMemorySink()
    sink.fail = True
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    with caplog.at_level(logging.WARNING, logger="capture._emitter"):
        for i in range(5):
            emitter.emit("pgid:run_q", [entity(i)])
            assert emitter.flush(5) is False
    assert emitter.stats()["messages_spilled"] == 5
    assert caplog.text.count("records wait in") == 1
    sink.fail = False
    assert emitter.flush(5)
    emitter.shutdown(5)
    assert len(sink.records()) == 5


class StuckSink(InMemorySink):
    """Blocks inside ``export`` until released, and says when it got there."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, messages):
        self.entered.set()
        self.release.wait(30)
        return super().export(messages)


def test_shutdown_with_a_stuck_sender_writes_what_is_left_to_a_spill_file(tmp_path, caplog):
    sink = StuckSink()
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    emitter.emit("pgid:run_s", [entity(0)])
    assert sink.entered.wait(10)  # the worker is inside export with item 0
    for i in range(1, 100):
        emitter.emit("pgid:run_s", [entity(i)])
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        emitter.shutdown(0.5)
    assert time.monotonic() - started < 20  # bounded, although the sink never answered
    assert "did not finish in time; 99 records written to" in caplog.text
    spilled = read_buffer(spill_directory(tmp_path / "home", "test:stream"))
    assert sorted(int(r["id"][6:]) for m in spilled for r in m.records) == list(range(1, 100))
    sink.release.set()
    # The process lives on here: the batch in flight goes out, and the sender, now free, also sends the spill file
    # it finds unlocked: every record exactly once.
    assert wait_for(lambda: len(sink.records()) == 100, 10)
    assert sorted(int(r["id"][6:]) for r in sink.records()) == list(range(100))


def test_a_record_the_store_would_refuse_is_dead_lettered_once_with_a_warning_naming_the_call(
    tmp_path, caplog
):
    sink = InMemorySink()
    emitter = Emitter(settings_for(tmp_path), sink=sink)
    too_long = {"k": "activity", "id": "pgid:" + "x" * 2000, "a": [["pg:name", "train_step"]]}
    bad_name = {"k": "entity", "id": "pgid:e9", "a": [["pg:" + "n" * 300, 1]]}
    with caplog.at_level(logging.WARNING):
        emitter.emit("pgid:run_w", [entity(1), too_long, entity(2), bad_name, entity(3)])
        assert emitter.flush(10)
    emitter.shutdown(5)
    assert [r["id"] for r in sink.records()] == ["pgid:e1", "pgid:e2", "pgid:e3"]
    assert emitter.stats()["records_dead_lettered"] == 2
    warnings = [r for r in caplog.records if "refused by the wire format" in r.getMessage()]
    assert len(warnings) == 1 and "'train_step'" in warnings[0].getMessage()  # once per run, naming the call


def test_an_unwritable_spill_directory_is_a_clear_error_and_the_program_goes_on(tmp_path):
    """Redis down and the spill file impossible to write (PROVGRAPH_HOME is a file: the same OSError path as a full
    disk): the workflow runs to its end, exits 0, and the log says records were lost, never that nothing is."""
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = textwrap.dedent(
        """
        import capture

        @capture.task(output_names="y")
        def double(x):
            return 2 * x

        with capture.Workflow("spill-refused"):
            total = sum(double(i) for i in range(20))
        print("done", total, capture.flush(1))
        """
    )
    env = {
        **os.environ,
        "PROVGRAPH_HOME": str(home),
        "PROVGRAPH_REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "PROVGRAPH_SETTINGS": str(tmp_path / "no-settings.yaml"),
        "PROVGRAPH_STOP_TIMEOUT_S": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["done", "380", "False"]
    assert "records lost: cannot write the spill file" in result.stderr
    assert "records were lost" in result.stderr
    assert "nothing is lost" not in result.stderr
