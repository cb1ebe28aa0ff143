"""Handing capture items to the emitter, in emission order: `emit`, the light-task queue, the implicit run.

Lineage is resolved on the emitter thread in the order items arrive, so light-task calls still queued here always
go first (`emit` hands them over before anything else). A task that runs outside any workflow records into the
latest workflow still running in this process, else into one implicit run per process (`default_context`).
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import time
from typing import Any

from capture import _ids, _redaction
from capture._context import ACTIVE_RUNS, STATE, Context, Run, emitter, run_for_id
from capture._emitter import call_before_exit
from capture._records import LightBatch, LightCall, run_records

__all__ = ["LIGHT_HANDOVER", "LIGHT_QUEUE", "announce_run", "default_context", "emit", "flush_light"]

logger = logging.getLogger(__name__)

LIGHT_HANDOVER = 512
"""Light-task calls are handed to the emitter in batches of this many (or on flush/stop/exit)."""

LIGHT_QUEUE: collections.deque[LightCall] = collections.deque()
"""Light-task calls not yet handed to the emitter."""


def emit(doc: str, item: Any) -> None:
    """Hand ``item`` (records, or an object with ``to_records()``) to the emitter; never raises."""
    try:
        if STATE.emit is None:
            emitter()
        if LIGHT_QUEUE and type(item) is not LightBatch:
            flush_light()  # light-task records first: lineage is resolved in emission order
        STATE.emit(doc, item)
    except Exception as exc:  # noqa: BLE001 - capture never raises into user code
        logger.error("provgraph capture could not hand records to the emitter: %s", _redaction.scrub(exc))


def flush_light() -> None:
    """Hand every queued light-task call to the emitter now."""
    taken: list[LightCall] = []
    popleft = LIGHT_QUEUE.popleft
    try:
        while True:
            taken.append(popleft())
    except IndexError:
        pass
    if not taken:
        return
    by_run: dict[Run, list[LightCall]] = {}
    for call in taken:
        by_run.setdefault(call[1][0], []).append(call)  # call[1]: its (run, parent) context
    for run, calls in by_run.items():
        emit(run.id, LightBatch(calls))


def announce_run(
    run: Run, subtype: str | None, args: Any, campaign_id: str | None, start_ns: int | None = None
) -> None:
    """Emit the run activity, its campaign and its person/process agents."""
    emit(run.id, run_records(run, subtype, args, campaign_id, start_ns or time.time_ns()))


def default_context() -> Context:
    """Context for a task with no current workflow in its context (say, in a thread started without
    ``copy_context``): the latest workflow still running in this process, else a per-process default run,
    announced on first use."""
    if ACTIVE_RUNS:
        try:
            return (ACTIVE_RUNS[-1], None)
        except IndexError:  # stopped meanwhile in another thread
            pass
    with STATE.lock:
        run = STATE.default_run
        if run is None:
            name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
            run = run_for_id(_ids.mint("run"), name=name or "python", campaign=None)
            STATE.default_run = run
            announce_run(run, subtype="implicit", args=None, campaign_id=None)
        return (run, None)


def _after_fork_in_child() -> None:
    # Calls queued by the parent belong to the parent: the child starts clean (the emitter resets itself).
    LIGHT_QUEUE.clear()


call_before_exit(flush_light)  # light-task calls still queued reach the emitter before its last flush
os.register_at_fork(after_in_child=_after_fork_in_child)
