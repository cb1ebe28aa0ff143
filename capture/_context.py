"""Runtime state of capture: the current workflow or task, the on/off switch, the process emitter.

The current position lives in ONE `contextvars.ContextVar`, ``CURRENT``. Its value is a 2-tuple ``(run, parent)``:
``run`` is the `Run` whose document receives the records, ``parent`` the counter (``int``) or id (``str``) of the
activity that starts whatever begins now (``None``: the run itself). Tasks attach a new value on entry and detach
it by token in ``finally``; threads inherit it through ``contextvars.copy_context()`` and asyncio tasks by
default.

This module sits below everything that records: it knows runs and switches, never how records are built.
"""

from __future__ import annotations

import logging
import os
import threading
from contextvars import ContextVar
from typing import Any, Protocol

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
    "current_run",
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

    __slots__ = ("id", "name", "campaign", "lineage", "machine_declared", "__weakref__")

    def __init__(self, run_id: str, name: str, campaign: str | None) -> None:
        self.id = run_id
        self.name = name
        self.campaign = campaign
        self.lineage = Lineage()
        self.machine_declared = False

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


def current_run() -> Run | None:
    """The run of the current context, if any."""
    value = CURRENT.get()
    return value[0] if value is not None else None


def _after_fork_in_child() -> None:
    STATE.lock = threading.RLock()
    ACTIVE_RUNS.clear()  # the parent's workflows are not running in the child


os.register_at_fork(after_in_child=_after_fork_in_child)
