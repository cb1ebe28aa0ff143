"""Ids never collide across threads and forked processes; timestamps are ISO 8601 with the local UTC offset."""

from __future__ import annotations

import datetime
import multiprocessing
import os
import threading
import time

from capture import _ids


def _mint_many(count: int) -> list[str]:
    return [_ids.task_id(next(_ids.COUNTER)) for _ in range(count)]


def _child(queue) -> None:
    queue.put(_mint_many(2000))


def test_threads_and_forked_children_never_collide():
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(_mint_many(2000))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=_child, args=(queue,)) for _ in range(3)]
    for child in children:
        child.start()
    for _ in children:
        results.append(queue.get(timeout=30))
    for child in children:
        child.join()
    results.append(_mint_many(2000))
    everything = [i for chunk in results for i in chunk]
    assert len(everything) == 8 * 2000
    assert len(set(everything)) == len(everything)


def test_counter_values_minted_before_a_fork_keep_their_prefix():
    number = next(_ids.COUNTER)
    before = _ids.task_id(number)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: the parent's number still names the parent's task
        os.write(write, _ids.task_id(number).encode() + b"|" + _ids.process_prefix().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_view, child_prefix = os.read(read, 200).decode().split("|")
    assert child_view == before
    assert child_prefix != _ids.process_prefix()


def _in_zone(monkeypatch, zone):
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    monkeypatch.setattr(_ids, "_second_cache", (-1, ""))


def test_iso_times_keep_the_local_utc_offset(monkeypatch):
    try:
        _in_zone(monkeypatch, "UTC")
        assert _ids.iso_from_ns(1_764_000_000_123_456_789) == "2025-11-24T16:00:00.123456+00:00"
        assert _ids.iso_from_ns(0) == "1970-01-01T00:00:00.000000+00:00"
        _in_zone(monkeypatch, "Asia/Tokyo")  # the local clock time and its offset: the same instant
        assert _ids.iso_from_ns(1_764_000_000_123_456_789) == "2025-11-25T01:00:00.123456+09:00"
        _in_zone(monkeypatch, "America/St_Johns")  # a half-hour offset, in winter
        assert _ids.iso_from_ns(1_764_000_000_000_000_000) == "2025-11-24T12:30:00.000000-03:30"
        _in_zone(monkeypatch, "Europe/Paris")  # summer time: the offset of that day, not of today
        assert _ids.iso_from_ns(1_751_364_000_000_000_000).endswith("+02:00")
        moment = _ids.iso_from_ns(1_764_000_000_123_456_789)
        assert datetime.datetime.fromisoformat(moment).timestamp() == 1_764_000_000.123456
    finally:
        monkeypatch.undo()
        time.tzset()
        _ids._second_cache = (-1, "")
