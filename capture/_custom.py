"""`CustomTask`: a task built by hand, for code that is not one function call.

Example::

    with capture.CustomTask("download", used={"url": url}) as t:
        data = fetch(url)
        t.end(generated={"bytes": len(data)}, data=data)

    capture.CustomTask("parse", used={"n": 3}, generated={"records": 42})   # ends (and publishes) at once
"""

from __future__ import annotations

import time
from typing import Any

from capture import _ids
from capture._context import CURRENT, STATE, Run, resolve
from capture._handoff import default_context, emit
from capture._ids import COUNTER
from capture._records import CustomItem, epoch_ns, exception_text
from capture._telemetry import TaskTelemetry, new_task_telemetry, telemetry_phase

__all__ = ["CustomTask"]


class CustomTask:
    """A task whose inputs, outputs and end you give explicitly; a context manager, or ended with `end`.

    Args:
        name: activity name (``pg:name``).
        used: inputs, ``{name: value}``.
        generated, status, ended_at, stdout, stderr: end fields; giving any of them at construction ends (and
            publishes) the task at once, with status ``FINISHED`` unless given.
        data: binary data produced by the task; recorded as an entity with its size and SHA-256, never the bytes.
        agent_id: the agent responsible (a ``prov:SoftwareAgent`` the task ``wasAssociatedWith``).
        tags, custom_metadata: as for `capture.task`.
        telemetry: record telemetry at construction and at `end`.
        parent_task: the parent task: a task object or the id of a task capture made (default: the current task or
            run); anything else raises `ValueError` here.
        started_at: start time (epoch seconds or datetime; default: now).
    """

    def __init__(
        self,
        name: str,
        used: dict[str, Any] | None = None,
        *,
        generated: Any = None,
        status: str | None = None,
        ended_at: Any = None,
        stdout: str | None = None,
        stderr: str | None = None,
        data: bytes | None = None,
        agent_id: Any = None,
        tags: str | list[str] | None = None,
        custom_metadata: dict[str, Any] | None = None,
        telemetry: bool = False,
        parent_task: Any = None,
        started_at: Any = None,
    ) -> None:
        self.name = name
        self.used = dict(used or {})
        self.stdout = stdout
        self.stderr = stderr
        self.data = data
        self.agent_id = agent_id
        self.tags = (tags,) if isinstance(tags, str) else tuple(tags or ())
        self.custom_metadata = custom_metadata
        self.ended = False
        given_parent = _ids.known_task(parent_task) if parent_task is not None else None
        self.enabled = STATE.on or (not STATE.resolved and resolve())
        self._token: Any = None
        self.number = next(COUNTER)
        self.start_ns = epoch_ns(started_at) if started_at is not None else time.time_ns()
        self.run: Run | None = None
        self.parent: int | str | None = None
        self._sampler: TaskTelemetry | None = None
        self._started: list[tuple[str, Any]] | None = None
        if not self.enabled:
            return
        context = CURRENT.get() or default_context()
        self.run = context[0]
        self.parent = given_parent if given_parent is not None else context[1]
        if telemetry:
            self._sampler = new_task_telemetry()
            self._started = telemetry_phase(self._sampler, "start")
        if any(field is not None for field in (generated, status, ended_at, stdout, stderr)):
            self.end(generated, status=status or "FINISHED", ended_at=ended_at)

    @property
    def id(self) -> str:
        """The task's activity id (``pgid:task_...``)."""
        return _ids.task_id(self.number)

    def end(
        self,
        generated: Any = None,
        *,
        status: str = "FINISHED",
        data: bytes | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        ended_at: Any = None,
        error: str | None = None,
    ) -> None:
        """Finish the task: record its end time, status, outputs, end telemetry, and publish it (once)."""
        if self.ended or not self.enabled:
            self.ended = True
            return
        self.ended = True
        if data is not None:
            self.data = data
        if stdout is not None:
            self.stdout = stdout
        if stderr is not None:
            self.stderr = stderr
        end_ns = epoch_ns(ended_at) if ended_at is not None else time.time_ns()
        telemetry = None
        if self._sampler is not None:
            telemetry = (self._started, telemetry_phase(self._sampler, "end"))
        if self.run is not None:
            emit(self.run.id, CustomItem(self, end_ns, status, generated, error, telemetry))

    def send(self) -> None:
        """Publish the task as it is now (status ``RUNNING``, no end time) without ending it.

        A later `end` publishes the same activity again with its end; the store merges both.
        """
        if self.ended or self.run is None:
            return
        telemetry = (self._started, None) if self._started is not None else None
        emit(self.run.id, CustomItem(self, None, "RUNNING", None, None, telemetry))

    def __enter__(self) -> CustomTask:
        if self.run is not None:
            self._token = CURRENT.set((self.run, self.number))
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            try:
                CURRENT.reset(self._token)
            except ValueError:
                pass
            self._token = None
        if not self.ended:
            if exc is not None:
                self.end(status="ERROR", error=exception_text(exc))
            else:
                self.end()
