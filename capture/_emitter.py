"""The emitter: capture's records leave the user's thread here and reach a sink in batches; nothing is dropped.

Shaped like OpenTelemetry's batch processor: the caller only appends to a deque (and, once a batch waits, sets an
`Event`); one named daemon thread wakes every ``flush_interval_ms`` or when ``flush_max_records`` items wait,
expands items into records (``to_records()``, in emission order), groups them by document into messages of at
most ``flush_max_records`` records, and hands them to the sink. Where OpenTelemetry drops records, this emitter
never does:

- the sink refuses (Redis down): messages go to this process's spill file under ``<home>/spill/``; the worker
  probes the sink with jittered backoff and, once it answers, replays the file and carries on (a Redis outage is
  logged once per interval, not once per record);
- the queue holds ``queue_max_records`` items: the caller waits, at most ``queue_full_timeout_s``, for the worker to
  make room, then queues the item anyway (counted and logged as over the bound);
- a record cannot be encoded: it goes to a dead-letter file with the reason.

Every count is kept (`Emitter.stats`) and reported at shutdown. One emitter per process (`get_emitter`); it
resets itself in a forked child and shuts down (flushing, bounded) at exit.

Example::

    from capture._emitter import Emitter
    from capture._sinks import InMemorySink
    from capture.settings import Settings

    sink = InMemorySink()
    with Emitter(Settings(sink="memory"), sink=sink) as emitter:
        emitter.emit("pgid:run_1", [wire.element("entity", "pgid:e1")])
        emitter.flush(timeout_s=5)
    print(sink.records())
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from capture import _compact, _ids, _redaction, wire
from capture._retry import Backoff
from capture._sinks import Sink, _LineFile, _RateLimitedLog, make_sink, process_file_name
from capture._spill import ReplayResult, SpillFile, replay_file, spill_directory
from capture.settings import Settings

__all__ = ["Emitter", "call_before_exit", "carries_its_document", "get_emitter"]

logger = logging.getLogger(__name__)

_PIPELINE_MESSAGES = 32
"""Messages per sink export call (one Redis pipeline)."""

_ROUND_ITEMS = 256
"""Items the worker takes from the queue at a time and turns into encoded messages before taking more (was 2,000).
A round's events are young objects that every collection of the garbage collector's youngest generation scans (on
the user's threads too), so the fewer of them live at once, the less each collection costs; the messages of several
rounds are handed to the sink together (`_PIPELINE_MESSAGES`)."""

_ROUNDS_FREED_TOGETHER = 8
"""The items of this many rounds are released together, not round by round. Measured, not explained: releasing
each round's items as it ends made the calling thread of the next calls 5-10% slower (the `@task` with a
1,000-element list of bench/capture_overhead.py, in alternating pairs, also with the garbage collector off), as if
the memory they free were reused less well by the next calls' items; released together, the calling thread is as
fast as with rounds of 2,000 items or faster."""

_PROBE_BACKOFF = (0.1, 5.0)
"""Base and cap, seconds, of the delay between probes of a sink that refused."""


_NO_DOC = object()
"""No document yet (`Emitter._process`)."""

_CARRY_DOCUMENT: set[type] = set()
"""Item classes (tuples) whose first field is their document: the queue holds such an item as it is, not in a
``(doc, item)`` pair (one object less per call for the garbage collector to scan on the user's thread)."""


def carries_its_document(cls: type) -> None:
    """Declare ``cls``, a tuple class, as holding the document its items are emitted to at index 0 (`emit`)."""
    _CARRY_DOCUMENT.add(cls)


class _Mark:
    """A flush marker in the queue: set when everything queued before it reached the sink (or the spill file)."""

    __slots__ = ("done", "ok", "replay")

    def __init__(self, replay: bool = True) -> None:
        self.done = threading.Event()
        self.ok = True
        self.replay = replay


class _Guarded(Sink):
    """The emitter's sink as replay sees it: a raising ``export`` counts as a refusal."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter
        self.name = emitter.sink.name

    def export(self, messages: list[bytes]) -> bool:
        return self._emitter._export(messages)


class Emitter:
    """Batches capture records in a background thread and hands them to a sink; see the module docstring.

    Args:
        settings: `capture.settings.Settings` (``flush_interval_ms``, ``flush_max_records``, ``queue_max_records``,
            ``queue_full_timeout_s``, ``home`` for the spill file, and the sink settings).
        sink: the sink to use (default: the one ``settings.sink`` names).
    """

    def __init__(self, settings: Any = None, sink: Sink | None = None) -> None:
        if settings is None:
            settings = Settings.load()
        self.settings = settings
        self.sink = sink if sink is not None else make_sink(settings)
        self._interval_s = settings.flush_interval_ms / 1000.0
        self._max_records = int(settings.flush_max_records)
        self._compact = int(getattr(settings, "wire_version", 2)) >= wire.COMPACT_VERSION
        self._limit = int(settings.queue_max_records)
        self._full_wait_s = float(getattr(settings, "queue_full_timeout_s", 5.0))
        self._spill_dir = spill_directory(
            settings.home, getattr(self.sink, "stream", None) or settings.stream
        )
        self._log = _RateLimitedLog(interval_s=30.0, log=logger)
        self._fresh_state()
        if _in_child_process():
            self._deliver_each_item()
        _LIVE.add(self)

    # --- state ---------------------------------------------------------------------------------------------------

    def _fresh_state(self) -> None:
        """Queue, locks, worker and counters as a new process needs them (also after fork)."""
        self._pid = os.getpid()
        self._queue: collections.deque[Any] = (
            collections.deque()
        )  # (doc, item) pairs, items carrying their doc
        # emit() takes its slow path once the queue holds this many items; 1 until the worker runs (so the first
        # emit starts it), 0 after shutdown (late items are sent inline).
        self._wake_at = 1
        self._wake = threading.Event()
        self._room = threading.Event()
        self._start_lock = threading.Lock()
        self._export_lock = threading.RLock()
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._closed = False
        self._abandon = False
        self._over_bound = False
        self._spill = SpillFile(self._spill_dir)
        self._down = False
        self._next_probe = 0.0
        self._backoff = Backoff(*_PROBE_BACKOFF, floor_s=0.05)
        self._dead_letters: Any = None
        self._warned_docs: set[str] = set()
        self._extra_messages: list[tuple[bytes, int]] = []  # the second halves of messages split for size
        self._outbox: list[bytes] = []  # encoded messages not yet handed to the sink, in order
        self._outbox_counts: list[int] = []  # the records each of them holds
        self._orphans_checked = False
        self._stats = {
            "items": 0,
            "records": 0,
            "messages_sent": 0,
            "records_sent": 0,
            "messages_spilled": 0,
            "records_spilled": 0,
            "records_replayed": 0,
            "records_adopted": 0,
            "records_dead_lettered": 0,
            "items_failed": 0,
            "records_lost": 0,
            "over_bound": 0,
        }

    def _after_fork(self) -> None:
        # The parent's queue, connections and spill file belong to the parent: the child starts empty.
        self.sink.after_fork()
        self._spill.forget()
        if self._dead_letters is not None:
            self._dead_letters.forget()
        self._fresh_state()
        self._deliver_each_item()

    def _deliver_each_item(self) -> None:
        """In a child process, every emitted item is delivered before `emit` returns: a pool worker's task ends
        with its records sent, so a pool that is terminated (``with multiprocessing.Pool() as pool`` does at its
        exit) or a child killed loses nothing that finished. The parent process keeps the cheap, batched path."""
        self.emit = self._emit_and_deliver  # type: ignore[method-assign]

    def _emit_and_deliver(self, doc: str, item: Any) -> None:
        Emitter.emit(self, doc, item)
        if threading.current_thread() is not self._worker:
            self.flush(self.settings.stop_timeout_s)

    def _check_pid(self) -> None:
        if self._pid != os.getpid():
            self._after_fork()

    def _start(self) -> None:
        with self._start_lock:
            if self._worker is None and not self._closed:
                self._worker = threading.Thread(target=self._run, name="provgraph-emitter", daemon=True)
                self._worker.start()
                self._wake_at = min(self._max_records, self._limit)

    # --- the caller's side ---------------------------------------------------------------------------------------

    def emit(self, doc: str, item: Any) -> None:
        """Queue ``item`` (a list of wire records, or an object with ``to_records()``) for document ``doc``.

        Costs a deque append on the caller's thread; never raises; waits (bounded) only when the queue is full.
        """
        queue = self._queue
        queue.append(item if item.__class__ in _CARRY_DOCUMENT else (doc, item))
        if len(queue) >= self._wake_at:
            self._backlog()

    def _backlog(self) -> None:
        try:
            if self._closed:
                self._drain_inline()
                return
            if self._worker is None:
                self._start()
            if not self._wake.is_set():
                self._wake.set()
            if (
                len(self._queue) >= self._limit
                and not self._over_bound
                and threading.current_thread() is not self._worker
            ):
                self._wait_for_room()
        except Exception as exc:  # noqa: BLE001 - capture never raises into user code
            self._log(logging.ERROR, "backlog", "provgraph emitter: %s", exc)

    def _wait_for_room(self) -> None:
        deadline = time.monotonic() + self._full_wait_s
        while len(self._queue) >= self._limit:
            left = deadline - time.monotonic()
            if left <= 0:
                # Until the worker drains to half the bound, later calls queue without waiting: one bounded wait
                # per episode, not one per call.
                self._over_bound = True
                self._stats["over_bound"] += 1
                self._log(
                    logging.WARNING,
                    "full",
                    "provgraph emitter: %d items queued (queue_max_records=%d) and the sender did not catch up "
                    "in %.1f s; queuing over the bound rather than dropping records",
                    len(self._queue),
                    self._limit,
                    self._full_wait_s,
                )
                return
            self._room.clear()
            self._wake.set()
            self._room.wait(min(left, 0.05))

    def flush(self, timeout_s: float | None = None) -> bool:
        """Send everything queued so far and wait, at most ``timeout_s``; ``True`` if it all reached the sink.

        Records that went to the spill file count as not sent: a flush also tries to replay the spill file once.
        """
        try:
            self._check_pid()
            timeout = self.settings.stop_timeout_s if timeout_s is None else timeout_s
            if self._closed or (self._worker is None and not self._queue and not self._spill.pending_records):
                return self._drain_inline()
            if threading.current_thread() is self._worker:
                return False  # called from a to_records(): the worker cannot wait for itself
            mark = _Mark()
            self._queue.append((_Mark, mark))
            if self._worker is None:
                self._start()
            self._wake.set()
            if not mark.done.wait(max(0.0, timeout)):
                return False
            return mark.ok
        except Exception as exc:  # noqa: BLE001
            self._log(logging.ERROR, "flush", "provgraph emitter: flush failed: %s", exc)
            return False

    def pending(self) -> int:
        """Items still queued in memory plus records waiting in the spill file."""
        self._check_pid()
        queued = sum(1 for entry in list(self._queue) if entry[0] is not _Mark)
        return queued + self._spill.pending_records

    def stats(self) -> dict[str, Any]:
        """Counters since start (or fork): items, records sent/spilled/replayed/dead-lettered/lost, and so on."""
        stats: dict[str, Any] = dict(self._stats)
        stats["queued_items"] = sum(1 for entry in list(self._queue) if entry[0] is not _Mark)
        stats["records_in_spill"] = self._spill.pending_records
        stats["spill_file"] = str(self._spill.path) if self._spill.path else None
        stats["transport_down"] = self._down
        return stats

    def shutdown(self, timeout_s: float | None = None) -> None:
        """Flush (bounded), stop the worker, close the sink, and report what could not be sent. Idempotent."""
        try:
            self._check_pid()
            if self._closed:
                return
            timeout = self.settings.stop_timeout_s if timeout_s is None else timeout_s
            deadline = time.monotonic() + timeout
            self.flush(timeout)
            self._stopping = True
            self._closed = True
            self._wake_at = 0
            worker = self._worker
            if worker is not None:
                self._wake.set()
                worker.join(max(0.0, deadline - time.monotonic()))
                if worker.is_alive():
                    # Stuck in a sink call (bounded by its socket timeout): take over what it has not popped.
                    self._abandon = True
                    self._emergency_spill()
            else:
                self._drain_inline()
            # A sender still stuck in the sink keeps it (and the lock): never wait on it past the deadline.
            if self._export_lock.acquire(timeout=max(0.1, deadline - time.monotonic())):
                try:
                    self.sink.close()
                    self._spill.close()
                finally:
                    self._export_lock.release()
            self._report()
        except Exception as exc:  # noqa: BLE001
            logger.error("provgraph emitter: shutdown failed: %s", exc)

    def close(self) -> None:
        """Same as `shutdown` with the ``stop_timeout_s`` setting."""
        self.shutdown()

    def __enter__(self) -> Emitter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()

    # --- the worker ----------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            try:
                with self._export_lock:
                    self._drain()
                    if self._down and not self._abandon:
                        self._recover()
            except Exception as exc:  # noqa: BLE001 - the worker must keep running
                self._log(
                    logging.ERROR, "worker", "provgraph emitter: unexpected error: %s", _redaction.scrub(exc)
                )
            self._room.set()
            if self._stopping and not self._queue:
                return
            if self._abandon:
                return

    def _drain(self) -> None:
        """Pop and send everything queued, in rounds (so waiting callers get room as it frees)."""
        queue = self._queue
        finished: list[
            list[Any]
        ] = []  # rounds processed, their items released together (_ROUNDS_FREED_TOGETHER)
        try:
            while queue and not self._abandon:
                if len(finished) >= _ROUNDS_FREED_TOGETHER:
                    finished.clear()
                items: list[Any] = []
                finished.append(items)
                try:
                    for _ in range(_ROUND_ITEMS):
                        items.append(queue.popleft())
                except IndexError:
                    pass
                self._process(items)
                if self._over_bound and len(queue) < self._limit // 2:
                    self._over_bound = False
                self._room.set()
        finally:
            self._send_outbox()

    def _drain_inline(self) -> bool:
        """Send what is queued on the caller's thread (after shutdown, or before the worker ever started)."""
        with self._export_lock:
            self._drain()
            if self._down:
                self._recover(force=True)
            return not self._down and not self._spill.pending_records

    def _process(self, items: list[Any]) -> None:
        # Per document: the message entries (records, and compact task events where the wire version allows) and,
        # in step, the number of records each entry stands for. Items of one run mostly come one after another: the
        # document's lists are looked up only when the document changes.
        by_doc: dict[str, tuple[list[Any], list[int]]] = {}
        compact = self._compact
        taken = 0  # items of this round counted so far
        last_doc: Any = _NO_DOC
        entries: list[Any] = []
        weights: list[int] = []
        for index, entry in enumerate(items):
            doc = entry[0]
            item = entry[1] if entry.__class__ is tuple else entry  # (doc, item), or an item carrying its doc
            if doc is not last_doc:
                if doc is _Mark:
                    self._stats["items"] += index - taken
                    taken = index + 1
                    self._ship(by_doc)
                    self._send_outbox()
                    by_doc = {}
                    last_doc = _NO_DOC
                    self._resolve(item)
                    continue
                bucket = by_doc.get(doc)
                if bucket is None:
                    bucket = by_doc[doc] = ([], [])
                entries, weights = bucket
                last_doc = doc
            size = len(entries)
            try:
                if item.__class__ is list:
                    records = item
                else:
                    add = getattr(item.__class__, "add_entries", None) if compact else None
                    if add is not None:
                        add(item, entries, weights)
                        continue
                    records = item.to_records()
                entries.extend(records)
                weights.extend([1] * len(records))
            except Exception as exc:  # noqa: BLE001 - a bad item must not stop the others
                del entries[size:], weights[size:]
                self._stats["items_failed"] += 1
                self._log(
                    logging.ERROR,
                    "expand",
                    "provgraph emitter: could not describe an item: %s: %s",
                    type(exc).__name__,
                    _redaction.scrub(exc),  # a user's code raised it: its message may hold a secret
                )
        self._stats["items"] += len(items) - taken
        self._ship(by_doc)

    def _resolve(self, mark: _Mark) -> None:
        if self._down and mark.replay:
            self._recover(force=True)
        mark.ok = not self._down and not self._spill.pending_records
        mark.done.set()

    def _ship(self, by_doc: dict[str, tuple[list[Any], list[int]]]) -> None:
        messages: list[bytes] = []
        counts: list[int] = []
        step = self._max_records
        for doc, (entries, weights) in by_doc.items():
            if not entries:
                continue
            # Messages of at most `flush_max_records` records (an event counts the records it stands for).
            start = 0
            total = 0
            parts: list[tuple[int, int]] = []
            for index, weight in enumerate(weights):
                if total + weight > step and index > start:
                    parts.append((start, index))
                    start, total = index, 0
                total += weight
            parts.append((start, len(entries)))
            for first, last in parts:
                payload = self._encode(doc, entries[first:last], weights[first:last])
                if payload is not None:
                    messages.append(payload[0])
                    counts.append(payload[1])
                while self._extra_messages:
                    extra = self._extra_messages.pop()
                    messages.append(extra[0])
                    counts.append(extra[1])
            self._stats["records"] += sum(weights)
        self._outbox += messages
        self._outbox_counts += counts
        if len(self._outbox) >= _PIPELINE_MESSAGES:
            self._send_outbox()

    def _send_outbox(self) -> None:
        """Hand the encoded messages waiting in the outbox to the sink, `_PIPELINE_MESSAGES` per call."""
        messages, counts = self._outbox, self._outbox_counts
        if not messages:
            return
        self._outbox, self._outbox_counts = [], []
        for start in range(0, len(messages), _PIPELINE_MESSAGES):
            self._deliver(
                messages[start : start + _PIPELINE_MESSAGES], sum(counts[start : start + _PIPELINE_MESSAGES])
            )

    def _encode(
        self, doc: str, entries: list[Any], weights: list[int] | None = None
    ) -> tuple[bytes, int] | None:
        """One message of ``entries`` (records, and events), or ``None``; records the wire format refuses are
        dead-lettered, the rest sent."""
        if weights is None:
            weights = [1] * len(entries)
        templates: set[int] = set()
        doubtful = False
        for entry in entries:
            if type(entry) is tuple:  # an event (records are dicts)
                templates.add(entry[0])
            elif not doubtful and not _within_limits(entry):
                doubtful = True
        if doubtful:
            kept = [
                (e, w)
                for e, w in zip(entries, weights, strict=True)
                if type(e) is tuple or self._storable(doc, e)
            ]
            if not kept:
                return None
            entries, weights = [e for e, _ in kept], [w for _, w in kept]
        try:
            payload = self._message(doc, entries, templates)
            if len(payload) <= wire.MAX_MESSAGE_BYTES:
                return payload, sum(weights)
            if len(entries) > 1:  # too big as one message: the caller's batch is split in two
                half = len(entries) // 2
                first = self._encode(doc, entries[:half], weights[:half])
                second = self._encode(doc, entries[half:], weights[half:])
                if first is not None and second is not None:
                    self._extra_messages.append(second)
                    return first
                return first or second
            if type(entries[0]) is tuple:  # one event too big: its records, one by one
                return self._encode(doc, self._expand(doc, entries[0]))
            self._dead_letter(doc, entries[0], f"one record of {len(payload)} bytes, over the message limit")
            return None
        except wire.WireFormatError:
            pass
        # One entry cannot be encoded: keep the others, dead-letter the culprits with the reason (an event that
        # cannot be encoded is checked as the records it stands for).
        good: list[Any] = []
        good_weights: list[int] = []
        for entry, weight in zip(entries, weights, strict=True):
            try:
                self._message(doc, [entry], {entry[0]} if type(entry) is tuple else set())
                good.append(entry)
                good_weights.append(weight)
                continue
            except wire.WireFormatError as exc:
                if type(entry) is not tuple:
                    self._dead_letter(doc, entry, exc.reason)
                    continue
            for record in self._expand(doc, entry):
                try:
                    wire.encode_message(doc, [record])
                    good.append(record)
                    good_weights.append(1)
                except wire.WireFormatError as exc:
                    self._dead_letter(doc, record, exc.reason)
        if not good:
            return None
        used = {entry[0] for entry in good if type(entry) is tuple}
        return self._message(doc, good, used), sum(good_weights)

    @staticmethod
    def _message(doc: str, entries: list[Any], templates: set[int]) -> bytes:
        if not templates:
            return wire.encode_message(doc, entries)
        return wire.encode_compact_message(
            doc, entries, {number: _compact.TEMPLATES[number] for number in templates}, _ids.process_prefix()
        )

    @staticmethod
    def _expand(doc: str, event: tuple[Any, ...]) -> list[dict[str, Any]]:
        """The records an event of ours stands for (to check or dead-letter them one by one)."""
        raw = {"doc": doc, "p": _ids.process_prefix(), "tpl": {str(event[0]): _compact.TEMPLATES[event[0]]}}
        # as a reader would see it (tuples become lists); the standard library's JSON keeps lone surrogates
        records, _ = wire.expand_events(raw, [json.loads(json.dumps(event))])
        return records

    def _storable(self, doc: str, record: dict[str, Any]) -> bool:
        """The full wire check of a record the quick one doubted; a refused record is dead-lettered."""
        try:
            wire.validate_record(record)
        except wire.WireFormatError as exc:
            self._dead_letter(doc, record, exc.reason)
            return False
        return True

    def _dead_letter(self, doc: str, record: Any, reason: str) -> None:
        self._stats["records_dead_lettered"] += 1
        if doc not in self._warned_docs:  # once per workflow: what was refused, from which call
            self._warned_docs.add(doc)
            logger.warning(
                "provgraph capture: a record of %s from %s is refused by the wire format (%s) and is not sent; "
                "the rest of the run is sent (docs/wire-format.md, 'Limits')",
                doc,
                _call_of(record),
                reason,
            )
        try:
            if self._dead_letters is None:
                self._dead_letters = _LineFile(
                    self._spill_dir.parent / "dead-letters" / process_file_name("dead")
                )
            entry = {"doc": doc, "reason": reason, "record": repr(record)[:100_000], "at": time.time()}
            self._dead_letters.append([json.dumps(entry).encode()])
            self._log(
                logging.ERROR,
                "dead",
                "provgraph emitter: a record of %s cannot be encoded (%s); written to %s",
                doc,
                reason,
                self._dead_letters.path,
            )
        except OSError as exc:
            self._stats["records_lost"] += 1
            logger.error("provgraph emitter: cannot write the dead-letter file: %s", exc)

    def _deliver(self, messages: list[bytes], records: int) -> None:
        if not messages:
            return
        if not self._down:
            if self._export(messages):
                self._stats["messages_sent"] += len(messages)
                self._stats["records_sent"] += records
                if not self._orphans_checked:
                    self._adopt_orphans()
                return
            self._down = True
            self._backoff.reset()
            self._next_probe = time.monotonic() + self._backoff.next_delay()
        self._to_spill(messages, records)

    def _export(self, messages: list[bytes]) -> bool:
        try:
            return bool(self.sink.export(messages))
        except Exception as exc:  # noqa: BLE001 - a sink should not raise; if one does, treat it as a refusal
            self._log(logging.ERROR, "sink", "provgraph emitter: the %s sink raised: %r", self.sink.name, exc)
            return False

    def _probe(self) -> bool:
        try:
            return bool(self.sink.probe())
        except Exception:  # noqa: BLE001
            return False

    def _to_spill(self, messages: list[bytes], records: int) -> None:
        try:
            self._spill.append(messages, records)
            self._stats["messages_spilled"] += len(messages)
            self._stats["records_spilled"] += records
            self._log(
                logging.WARNING,
                "spill",
                "provgraph emitter: the %s sink is unavailable; records wait in %s and are replayed when it returns",
                self.sink.name,
                self._spill.path,
            )
        except OSError as exc:
            self._stats["records_lost"] += records
            logger.error("provgraph emitter: %d records lost: cannot write the spill file (%s)", records, exc)

    def _recover(self, force: bool = False) -> None:
        """Probe the sink (when due, or now if forced); if it answers, replay the spill file and resume."""
        now = time.monotonic()
        if not force and now < self._next_probe:
            return
        if self._probe():
            result = ReplayResult()
            if self._spill.replay(_Guarded(self), result):
                self._stats["records_replayed"] += result.records
                self._down = False
                self._backoff.reset()
                self._orphans_checked = (
                    False  # others may have spilled during the same outage and ended since
                )
                logger.info(
                    "provgraph emitter: the %s sink is back; replayed %d spilled records",
                    self.sink.name,
                    result.records,
                )
                return
            self._stats["records_replayed"] += result.records
            self._spill.pending_records = max(0, self._spill.pending_records - result.records)
        self._next_probe = time.monotonic() + self._backoff.next_delay()

    def _adopt_orphans(self) -> None:
        """Replay spill files that processes which ended before their sink came back left behind.

        A live process holds a lock on its own spill file, so only files of ended processes are taken; two emitters
        never replay the same file (the lock again), and a replayed file is renamed, so it is sent once.
        """
        self._orphans_checked = True
        directory = self._spill_dir
        if not directory.is_dir():
            return
        own = self._spill.path
        result = ReplayResult()
        for file in sorted(directory.glob("spill-*.jsonl")):
            if file == own:
                continue
            try:
                replay_file(file, _Guarded(self), result)
            except OSError as exc:
                self._log(logging.WARNING, "orphan", "provgraph emitter: cannot replay %s: %s", file, exc)
            if result.failed:
                break  # the sink refused: the files wait for the next recovery or `provgraph replay`
        if result.records:
            self._stats["records_adopted"] += result.records
            logger.info(
                "provgraph emitter: sent %d records that ended processes had left in %s",
                result.records,
                directory,
            )

    def _emergency_spill(self) -> None:
        """At shutdown with the worker stuck: write what it has not popped to a spill file of our own."""
        spill = SpillFile(self._spill_dir)
        items = []
        while self._queue:
            items.append(self._queue.popleft())
        records_total = 0
        for entry in items:
            doc = entry[0]
            item = entry[1] if entry.__class__ is tuple else entry
            if doc is _Mark:
                item.ok = False
                item.done.set()
                continue
            try:
                records = item if type(item) is list else item.to_records()
            except Exception:  # noqa: BLE001
                self._stats["items_failed"] += 1
                continue
            for start in range(0, len(records), self._max_records):
                encoded = self._encode(doc, records[start : start + self._max_records])
                if encoded is None:
                    continue
                try:
                    spill.append([encoded[0]], encoded[1])
                    records_total += encoded[1]
                except OSError:
                    self._stats["records_lost"] += encoded[1]
        spill.close()
        if records_total:
            self._stats["records_spilled"] += records_total
            logger.warning(
                "provgraph emitter: the sender did not finish in time; %d records written to %s: run "
                "`provgraph replay` to send them",
                records_total,
                spill.path,
            )

    def _report(self) -> None:
        stats = self.stats()
        if self._dead_letters is not None:
            self._dead_letters.close()
        left = stats["records_in_spill"]
        if left:
            logger.warning(
                "provgraph emitter: %d records could not be sent and wait in %s; `provgraph replay` sends them",
                left,
                stats["spill_file"],
            )
        if stats["records_lost"] or stats["items_failed"]:
            logger.error(
                "provgraph emitter: %d records lost (disk refused), %d items could not be described",
                stats["records_lost"],
                stats["items_failed"],
            )
        logger.info("provgraph emitter stopped: %s", stats)


def _within_limits(record: dict[str, Any]) -> bool:
    """A quick check of the wire limits capture's records can break (ids and attribute names too long, too many
    attributes, a value of a type the format has no place for); `wire.validate_record` decides when it fails."""
    ident = record.get("id")
    if ident is not None and (type(ident) is not str or not ident or len(ident) > _SHORT_ID):
        return False
    formal = record.get("f")
    if formal:
        for value in formal.values():
            if type(value) is not str or not value or len(value) > _SHORT_ID:
                return False
    attrs = record.get("a")
    if attrs:
        if len(attrs) > wire.MAX_ATTRIBUTES:
            return False
        for pair in attrs:
            if len(pair[0]) > _SHORT_NAME:
                return False
            kind = type(pair[1])
            if kind is str or kind is int or kind is bool:
                continue
            if kind is float:
                if pair[1] - pair[1] != 0.0:  # NaN or an infinity
                    return False
                continue
            if kind is not dict:
                return False
    return True


_SHORT_ID = wire.MAX_ID_BYTES // 4  # characters of at most 4 UTF-8 bytes each: surely within the byte limit
_SHORT_NAME = wire.MAX_ATTRIBUTE_NAME_BYTES // 4


def _call_of(record: Any) -> str:
    """The call a record came from, for a warning: its activity's name, else its id."""
    if isinstance(record, dict):
        for name, value in record.get("a", ()):
            if name == "pg:name" and isinstance(value, str):
                return repr(value[:200])
        return repr(str(record.get("id") or record.get("f") or record.get("k"))[:200])
    return "an item"


def _in_child_process() -> bool:
    """Whether this process is a multiprocessing child (any start method); forked children are told by the fork
    hook instead."""
    mp = sys.modules.get("multiprocessing")
    try:
        return mp is not None and mp.parent_process() is not None
    except Exception:  # noqa: BLE001 - a multiprocessing without parent_process: not a child we know of
        return False


# --- the process emitter -------------------------------------------------------------------------------------------

_LIVE: weakref.WeakSet[Emitter] = weakref.WeakSet()
_process_emitter: Emitter | None = None
_process_lock = threading.Lock()
_exit_registered = False


def get_emitter(settings: Any = None) -> Emitter:
    """The process-wide emitter, created on first call with ``settings`` (default: ``Settings.load()``).

    A later call with different settings logs a warning and returns the existing emitter: it is configured once.
    The emitter shuts down (flushing, bounded by ``stop_timeout_s``) at interpreter exit, also in
    ``multiprocessing`` children, which skip ``atexit``.
    """
    global _process_emitter, _exit_registered
    with _process_lock:
        if _process_emitter is not None:
            if settings is not None and settings != _process_emitter.settings:
                logger.warning(
                    "provgraph: the emitter is already configured; settings given later are ignored (%r)",
                    settings,
                )
            return _process_emitter
        _process_emitter = Emitter(settings)
        if not _exit_registered:
            atexit.register(_shutdown_at_exit)
            _exit_registered = True
        _register_multiprocessing_exit()
        return _process_emitter


_before_exit: list[Callable[[], None]] = []


def call_before_exit(callback: Callable[[], None]) -> None:
    """Run ``callback`` at process exit before the process emitter's last flush (capture's layers above hand over
    what they still hold, such as queued light-task calls). Registered once per callback."""
    if callback not in _before_exit:
        _before_exit.append(callback)


def _shutdown_at_exit() -> None:
    for callback in _before_exit:
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - the flush below must still run
            logger.error("provgraph: could not hand over records at exit: %s", exc)
    emitter = _process_emitter
    if emitter is not None:
        emitter.shutdown(emitter.settings.stop_timeout_s)


_mp_registered_pid = 0


def _register_multiprocessing_exit() -> None:
    """In a ``multiprocessing`` child, flush at its exit too (it ends with ``os._exit``, skipping ``atexit``)."""
    global _mp_registered_pid
    mp = sys.modules.get("multiprocessing")
    if mp is None or _mp_registered_pid == os.getpid():
        return
    try:
        if mp.parent_process() is None:
            return
        import multiprocessing.util

        multiprocessing.util.Finalize(None, _shutdown_in_child, exitpriority=100)
        _mp_registered_pid = os.getpid()
    except Exception as exc:  # noqa: BLE001
        logger.debug("provgraph: no multiprocessing exit hook: %s", exc)


def _shutdown_in_child() -> None:
    _shutdown_at_exit()


class _Token:
    """A weak-referenceable key for multiprocessing's after-fork registry."""


_MP_TOKEN = _Token()
_mp_after_fork_registered = False


def _after_fork_in_child() -> None:
    global _mp_after_fork_registered
    for emitter in list(_LIVE):
        emitter._after_fork()
    util = sys.modules.get("multiprocessing.util")
    if util is not None and not _mp_after_fork_registered and _process_emitter is not None:
        # A multiprocessing child clears its finalizers after this hook, then runs its after-fork callbacks:
        # register the exit flush from there.
        util.register_after_fork(_MP_TOKEN, lambda _token: _register_multiprocessing_exit())
        _mp_after_fork_registered = True


os.register_at_fork(after_in_child=_after_fork_in_child)
