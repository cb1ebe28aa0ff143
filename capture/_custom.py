"""`CustomTask`: a task built by hand, for code that is not one function call.

Example::

    with capture.CustomTask("download", used={"url": url}) as t:
        data = fetch(url)
        t.end(generated={"bytes": len(data)}, data=data)

    capture.CustomTask("parse", used={"n": 3}, generated={"records": 42})   # ends (and publishes) at once
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from typing import Any

from capture import _context, _ids, wire
from capture._context import CURRENT, STATE, default_context, resolve
from capture._ids import COUNTER
from capture._records import activity_records

__all__ = ["CustomTask"]

_MAX_STREAM_CHARS = 4000
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _to_ns(moment: Any) -> int:
    if isinstance(moment, _dt.datetime):
        return int(moment.timestamp() * 1e9)
    return int(float(moment) * 1e9)


def agent_records(agent_id: Any) -> tuple[str, list[dict[str, Any]]]:
    """The qualified id of a user-named agent and its declaration (a ``prov:SoftwareAgent``)."""
    text = str(agent_id)
    qualified = text if ":" in text else f"pgid:agent_{_UNSAFE.sub('_', text)}"
    record = wire.element(
        "agent", qualified, [("prov:type", wire.qualified_name("prov:SoftwareAgent")), ("pg:agent_id", text)]
    )
    return qualified, [record]


class _CustomItem(tuple):
    """``(task, end_ns or None, status, generated, error, telemetry)`` snapshot of a `CustomTask`."""

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        task, end_ns, status, generated, error, telemetry = self
        records: list[dict[str, Any]] = []
        agents: tuple[str, ...] = ()
        if task.agent_id is not None:
            agent_id, declaration = agent_records(task.agent_id)
            records.extend(declaration)
            agents = (agent_id,)
        extra: list[tuple[str, Any]] = []
        if task.stdout:
            extra.append(("pg:stdout", str(task.stdout)[-_MAX_STREAM_CHARS:]))
        if task.stderr:
            extra.append(("pg:stderr", str(task.stderr)[-_MAX_STREAM_CHARS:]))
        outputs = (
            list(generated.items())
            if isinstance(generated, dict)
            else ([("return", generated)] if generated is not None else [])
        )
        if task.data is not None:
            outputs.append(("data", task.data))
        run = task.run
        records.extend(
            activity_records(
                run=run,
                activity_id=_ids.task_id(task.number),
                parent_id=run.id if task.parent is None else _ids.task_id(task.parent),
                name=task.name,
                start_ns=task.start_ns,
                end_ns=end_ns,
                status=status,
                error=error,
                inputs=list(task.used.items()),
                outputs=outputs,
                whole_result=generated,
                tags=task.tags,
                custom_metadata=task.custom_metadata,
                campaign_id=run.campaign,
                extra_attrs=extra,
                telemetry=telemetry,
                agents=agents,
            )
        )
        return records


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
        parent_task: id (or object with ``.id``) of the parent task (default: the current task or run).
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
        self.enabled = STATE.on or (not STATE.resolved and resolve())
        self._token: Any = None
        self.number = next(COUNTER)
        self.start_ns = _to_ns(started_at) if started_at is not None else time.time_ns()
        if not self.enabled:
            self.run = None
            self.parent = None
            self._sampler = None
            self._started = None
            return
        context = CURRENT.get() or default_context()
        self.run = context[0]
        self.parent = getattr(parent_task, "id", parent_task) if parent_task is not None else context[1]
        self._sampler = None
        self._started = None
        if telemetry:
            from capture._tasks import new_task_telemetry, telemetry_phase

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
        end_ns = _to_ns(ended_at) if ended_at is not None else time.time_ns()
        telemetry = None
        if self._sampler is not None:
            from capture._tasks import telemetry_phase

            telemetry = (self._started, telemetry_phase(self._sampler, "end"))
        _context.emit(self.run.id, _CustomItem((self, end_ns, status, generated, error, telemetry)))

    def send(self) -> None:
        """Publish the task as it is now (status ``RUNNING``, no end time) without ending it.

        A later `end` publishes the same activity again with its end; the store merges both.
        """
        if self.ended or not self.enabled:
            return
        telemetry = (self._started, None) if self._started is not None else None
        _context.emit(self.run.id, _CustomItem((self, None, "RUNNING", None, None, telemetry)))

    def __enter__(self) -> CustomTask:
        if self.enabled:
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
                self.end(status="ERROR", error=f"{type(exc).__name__}: {exc}")
            else:
                self.end()
