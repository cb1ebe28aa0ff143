"""Runtime state of capture: the current workflow or task, the on/off switch, the process emitter.

The current position lives in ONE `contextvars.ContextVar`, ``CURRENT``. Its value is a 2-tuple ``(run, parent)``:
``run`` is the `Run` whose document receives the records, ``parent`` the counter (``int``) or id (``str``) of the
activity that starts whatever begins now (``None``: the run itself). Tasks attach a new value on entry and detach
it by token in ``finally``; threads inherit it through ``contextvars.copy_context()`` and asyncio tasks by
default.

This module sits below everything that records: it knows runs and switches, never how records are built.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import threading
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Protocol

from capture import _ids
from capture._emitter import get_emitter
from capture._lineage import Lineage
from capture.settings import Settings

__all__ = [
    "ACTIVE_RUNS",
    "CURRENT",
    "STATE",
    "Context",
    "EmitterLike",
    "Run",
    "InContext",
    "current_run",
    "follow_work_into_threads_and_pools",
    "emitter",
    "forget_run",
    "resolve",
    "run_for_id",
    "set_enabled",
    "settings",
    "use_emitter",
]

logger = logging.getLogger(__name__)


class Run:
    """A workflow run as capture sees it: its id (the document of all its records) and its lineage registry."""

    __slots__ = ("id", "name", "campaign", "given_id", "lineage", "machine_declared", "__weakref__")

    def __init__(self, run_id: str, name: str, campaign: str | None) -> None:
        self.id = run_id
        self.name = name
        self.campaign = campaign
        self.given_id: str | None = None  # the workflow id the user gave, as text
        self.lineage = Lineage()
        self.machine_declared = 0  # the pid of the process that declared the machine and its snapshot

    def __repr__(self) -> str:
        return f"Run({self.id!r}, name={self.name!r})"


Context = tuple[Run, int | str | None]
"""``(run, parent)``: the run receiving records and the counter or id of the activity that starts new work."""

CURRENT: ContextVar[Context | None] = ContextVar("provgraph_capture_current", default=None)


class EmitterLike(Protocol):
    """What capture needs of an emitter (the process `Emitter`, or a test's in-memory stand-in)."""

    def emit(self, doc: str, item: Any) -> None: ...

    def flush(self, timeout_s: float) -> bool: ...

    def pending(self) -> int: ...


class _State:
    """Process-wide switches; ``on`` is read by every decorated call, so it is a plain attribute."""

    __slots__ = ("on", "resolved", "settings", "emitter", "emit", "default_run", "lock")

    def __init__(self) -> None:
        self.on = False
        self.resolved = False
        self.settings: Settings | None = None
        self.emitter: EmitterLike | None = None
        self.emit: Any = None  # the emitter's bound ``emit`` (one attribute read on the hot path)
        self.default_run: Run | None = None
        self.lock = threading.RLock()


STATE = _State()

ACTIVE_RUNS: list[Run] = []
"""Runs started and not yet stopped in this process, latest last (for threads started without the context)."""

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
    with STATE.lock:
        if _runs_by_id.get(run.id) is run:
            del _runs_by_id[run.id]
    run.lineage = Lineage()


def resolve(settings_object: Settings | None = None) -> bool:
    """Decide once whether capture is on (``capture_enabled`` setting, ``PROVGRAPH_DISABLED=1``)."""
    with STATE.lock:
        if settings_object is not None and STATE.settings is None:
            STATE.settings = settings_object
        if not STATE.resolved:
            if STATE.settings is None:
                try:
                    STATE.settings, ignored = Settings.load_trusted()
                except Exception as exc:  # noqa: BLE001 - bad settings must not break the user's program
                    logger.error("provgraph capture is off: cannot load settings (%s)", exc)
                    STATE.on = False
                    STATE.resolved = True
                    return False
                for line in ignored:  # recording goes on with the defaults for what cannot be used
                    logger.warning("provgraph capture: setting ignored, its default used: %s", line)
            STATE.on = bool(STATE.settings.capture_enabled)
            STATE.resolved = True
            if STATE.on:
                follow_work_into_threads_and_pools()
            if STATE.on and STATE.emit is None:
                try:
                    _create_emitter()
                except Exception as exc:  # noqa: BLE001 - no transport: run the program uncaptured, say so once
                    logger.error("provgraph capture is off: cannot create the emitter (%s)", exc)
                    STATE.on = False
        return STATE.on


def settings() -> Settings:
    """The settings capture runs with (resolving them on first use; the defaults if they cannot be loaded)."""
    resolve()
    return STATE.settings if STATE.settings is not None else Settings()


def _create_emitter() -> EmitterLike:
    with STATE.lock:
        if STATE.emitter is None:
            STATE.emitter = get_emitter(STATE.settings)
            STATE.emit = STATE.emitter.emit
        return STATE.emitter


def emitter() -> EmitterLike:
    """The process emitter (created on first use)."""
    return STATE.emitter if STATE.emitter is not None else _create_emitter()


def use_emitter(emitter_object: EmitterLike | None) -> None:
    """Install an emitter object (tests use an in-memory one); ``None`` goes back to the process emitter."""
    with STATE.lock:
        STATE.emitter = emitter_object
        STATE.emit = emitter_object.emit if emitter_object is not None else None


def set_enabled(on: bool, settings_object: Settings | None = None) -> None:
    """Switch capture on or off for this process (tests and `Workflow(settings=...)`)."""
    with STATE.lock:
        if settings_object is not None:
            STATE.settings = settings_object
        STATE.on = bool(on)
        STATE.resolved = True
        if STATE.on:
            follow_work_into_threads_and_pools()


# --- context follows the work ----------------------------------------------------------------------------------
#
# A new thread starts with an empty context, and a pool's worker runs what it is given in its own. Once capture is
# on, three standard entry points carry the current position along (docs/capture.md, "Context follows the work"):
# `threading.Thread.start` (the thread runs in the position of the code that started it),
# `ThreadPoolExecutor.submit` (each call runs in a copy of the submitter's context) and `ProcessPoolExecutor.submit`
# (the call is wrapped with the run id and the parent task id, which travel to the worker). A multiprocessing
# `Pool` forks its workers when it is created, so they hold the position of that moment.

_followed = False


class InContext:
    """A callable sent to a process pool with the submitter's run and parent task: the worker runs it there."""

    __slots__ = ("function", "run_id", "run_name", "parent")

    def __init__(self, function: Callable[..., Any], run_id: str, run_name: str, parent: str | None) -> None:
        self.function = function
        self.run_id = run_id
        self.run_name = run_name
        self.parent = parent

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.function, self.run_id, self.run_name, self.parent)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.function, self.run_id, self.run_name, self.parent = state

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = CURRENT.set((run_for_id(self.run_id, name=self.run_name), self.parent))
        try:
            return self.function(*args, **kwargs)
        finally:
            CURRENT.reset(token)


def follow_work_into_threads_and_pools() -> None:
    """Make threads, thread pools and process pools started from now on carry the current run and task (once)."""
    global _followed
    if _followed:
        return
    _followed = True
    import concurrent.futures.process as process_pools  # stdlib; loaded when capture turns on, not at import
    import concurrent.futures.thread as thread_pools

    thread_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        position = CURRENT.get()
        if position is not None:
            body = self.run

            def run_in_position() -> None:
                CURRENT.set(position)  # the new thread's own context: nothing leaks back
                body()

            self.run = run_in_position  # type: ignore[method-assign]
        thread_start(self)

    thread_submit = thread_pools.ThreadPoolExecutor.submit

    def submit_to_thread(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        if CURRENT.get() is None:
            return thread_submit(self, fn, *args, **kwargs)
        return thread_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    process_submit = process_pools.ProcessPoolExecutor.submit

    def submit_to_process(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        position = CURRENT.get()
        if position is None:
            return process_submit(self, fn, *args, **kwargs)
        run, parent = position
        wrapped = InContext(fn, run.id, run.name, None if parent is None else _ids.task_id(parent))
        return process_submit(self, wrapped, *args, **kwargs)

    for owner, name, replacement in (
        (threading.Thread, "start", start),
        (thread_pools.ThreadPoolExecutor, "submit", submit_to_thread),
        (process_pools.ProcessPoolExecutor, "submit", submit_to_process),
    ):
        functools.update_wrapper(replacement, getattr(owner, name))
        setattr(owner, name, replacement)


def current_run() -> Run | None:
    """The run of the current context, if any."""
    value = CURRENT.get()
    return value[0] if value is not None else None


def _after_fork_in_child() -> None:
    STATE.lock = threading.RLock()
    ACTIVE_RUNS.clear()  # the parent's workflows are not running in the child
    if STATE.emitter is not None:
        STATE.emit = STATE.emitter.emit  # a forked emitter delivers each item before emit returns


os.register_at_fork(after_in_child=_after_fork_in_child)
