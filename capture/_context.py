"""Runtime state of capture: the current workflow or task, the on/off switch, the emitter seam.

The current position lives in ONE `contextvars.ContextVar`, ``CURRENT``. Its value is a 2-tuple ``(run, parent)``:
``run`` is the `Run` whose document receives the records, ``parent`` the counter (``int``) or id (``str``) of the
activity that starts whatever begins now (``None``: the run itself). Tasks attach a new value on entry and detach
it by token in ``finally``; threads inherit it through ``contextvars.copy_context()`` and asyncio tasks by
default.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import sys
import threading
from contextvars import ContextVar
from typing import Any

from capture import _ids

__all__ = [
    "CURRENT",
    "LIGHT_QUEUE",
    "STATE",
    "Run",
    "current_run",
    "default_context",
    "emit",
    "flush_light",
    "resolve",
    "settings",
    "use_emitter",
]

logger = logging.getLogger(__name__)

CURRENT: ContextVar[tuple[Any, Any] | None] = ContextVar("provgraph_capture_current", default=None)

LIGHT_HANDOVER = 512
"""Light-task records are handed to the emitter in batches of this many (or on flush/stop/exit)."""

LIGHT_QUEUE: collections.deque[tuple[Any, ...]] = collections.deque()
"""Light-task calls: ``(spec, context, args, kwargs, start_ns, end_ns, result, error)``."""


class _State:
    """Process-wide switches; ``on`` is read by every decorated call, so it is a plain attribute."""

    __slots__ = ("on", "resolved", "settings", "emitter", "emit", "default_run", "lock", "exit_hook")

    def __init__(self) -> None:
        self.on = False
        self.resolved = False
        self.settings: Any = None
        self.emitter: Any = None
        self.emit: Any = None
        self.default_run: Run | None = None
        self.lock = threading.RLock()
        self.exit_hook = False


STATE = _State()


class Run:
    """A workflow run as capture sees it: its id (the document of all its records) and its lineage registry."""

    __slots__ = ("id", "name", "campaign", "lineage", "machine_declared", "__weakref__")

    def __init__(self, run_id: str, name: str, campaign: str | None) -> None:
        from capture._lineage import Lineage

        self.id = run_id
        self.name = name
        self.campaign = campaign
        self.lineage = Lineage()
        self.machine_declared = False

    def __repr__(self) -> str:
        return f"Run({self.id!r}, name={self.name!r})"


_runs_by_id: dict[str, Run] = {}


def run_for_id(run_id: str, name: str = "", campaign: str | None = None) -> Run:
    """The one `Run` object of this process for ``run_id`` (producers of one distributed run share it)."""
    with STATE.lock:
        run = _runs_by_id.get(run_id)
        if run is None:
            run = Run(run_id, name, campaign)
            _runs_by_id[run_id] = run
        return run


def forget_run(run: Run) -> None:
    """Release a stopped run whose records have all been handed over: its lineage registry is no longer needed."""
    from capture._lineage import Lineage

    with STATE.lock:
        if _runs_by_id.get(run.id) is run:
            del _runs_by_id[run.id]
    run.lineage = Lineage()


def resolve(settings: Any = None) -> bool:
    """Decide once whether capture is on (``capture_enabled`` setting, ``PROVGRAPH_DISABLED=1``)."""
    with STATE.lock:
        if settings is not None and STATE.settings is None:
            STATE.settings = settings
        if not STATE.resolved:
            if STATE.settings is None:
                try:
                    from capture.settings import Settings

                    STATE.settings = Settings.load()
                except Exception as exc:  # noqa: BLE001 - bad settings must not break the user's program
                    logger.error("provgraph capture is off: cannot load settings (%s)", exc)
                    STATE.on = False
                    STATE.resolved = True
                    return False
            STATE.on = bool(STATE.settings.capture_enabled)
            STATE.resolved = True
            if STATE.on and STATE.emit is None:
                try:
                    _get_emitter()
                except Exception as exc:  # noqa: BLE001 - no transport: run the program uncaptured, say so once
                    logger.error("provgraph capture is off: cannot create the emitter (%s)", exc)
                    STATE.on = False
        return STATE.on


def settings() -> Any:
    """The settings capture runs with (resolving them on first use)."""
    resolve()
    return STATE.settings


def _get_emitter() -> Any:
    with STATE.lock:
        if STATE.emitter is None:
            from capture._emitter import get_emitter

            STATE.emitter = get_emitter(STATE.settings)
            STATE.emit = STATE.emitter.emit
        if not STATE.exit_hook:
            # Registered after the emitter's own exit hook, so it runs first (atexit is LIFO): light-task
            # records still queued here reach the emitter before it shuts down.
            atexit.register(flush_light)
            STATE.exit_hook = True
        return STATE.emitter


def emitter() -> Any:
    """The process emitter (created on first use)."""
    return STATE.emitter if STATE.emitter is not None else _get_emitter()


def emit(doc: str, item: Any) -> None:
    """Hand ``item`` (records, or an object with ``to_records()``) to the emitter; never raises."""
    try:
        if STATE.emit is None:
            _get_emitter()
        if LIGHT_QUEUE and not isinstance(item, LightBatchType):
            flush_light()  # light-task records first: lineage is resolved in emission order
        STATE.emit(doc, item)
    except Exception as exc:  # noqa: BLE001 - capture never raises into user code
        logger.error("provgraph capture could not hand records to the emitter: %s", exc)


class LightBatchType:
    """Marker base of `capture._records.LightBatch` (kept here so `emit` needs no import)."""

    __slots__ = ()


def use_emitter(emitter_object: Any) -> None:
    """Install an emitter object (tests use an in-memory one); ``None`` goes back to the process emitter."""
    with STATE.lock:
        STATE.emitter = emitter_object
        STATE.emit = emitter_object.emit if emitter_object is not None else None


def set_enabled(on: bool, settings_object: Any = None) -> None:
    """Switch capture on or off for this process (tests and `Workflow(settings=...)`)."""
    with STATE.lock:
        if settings_object is not None:
            STATE.settings = settings_object
        STATE.on = bool(on)
        STATE.resolved = True


ACTIVE_RUNS: list[Run] = []
"""Runs started and not yet stopped in this process, latest last (for threads started without the context)."""


def default_context() -> tuple[Run, None]:
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
            from capture._workflow import announce_run

            name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
            run = run_for_id(_ids.mint("run"), name=name or "python", campaign=None)
            STATE.default_run = run
            announce_run(run, subtype="implicit", args=None, campaign_id=None)
        return (run, None)


def current_run() -> Run | None:
    """The run of the current context, if any."""
    value = CURRENT.get()
    return value[0] if value is not None else None


def flush_light() -> None:
    """Hand every queued light-task record to the emitter now."""
    from capture._records import LightBatch

    taken: list[tuple[Any, ...]] = []
    popleft = LIGHT_QUEUE.popleft
    try:
        while True:
            taken.append(popleft())
    except IndexError:
        pass
    if not taken:
        return
    by_run: dict[Any, list[tuple[Any, ...]]] = {}
    for item in taken:
        by_run.setdefault(item[1][0], []).append(item)  # item[1]: the (run, parent) context
    for run, items in by_run.items():
        emit(run.id, LightBatch(items))


def _after_fork_in_child() -> None:
    # Records queued by the parent belong to the parent; the child starts clean (the emitter resets itself).
    LIGHT_QUEUE.clear()
    STATE.lock = threading.RLock()
    ACTIVE_RUNS.clear()  # the parent's workflows are not running in the child


os.register_at_fork(after_in_child=_after_fork_in_child)
