"""The workflow controller: a run of a workflow as a PROV activity, with its campaign and agents.

Example::

    import capture

    with capture.Workflow("my_workflow", campaign_id="experiment_42", args={"epochs": 10}) as run:
        add_one(7)                      # @capture.task functions called here belong to this run
    print(run.id)                       # pgid:run_..., the document holding every record of the run
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import platform
import re
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from capture import _context, _ids, wire
from capture._context import CURRENT, STATE
from capture._records import _is_secret, safe_json

__all__ = ["Workflow", "announce_run", "current_run_id", "flush", "run_id_from_user", "workflow"]

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def run_id_from_user(workflow_id: str) -> str:
    """A run id from a user-given workflow id: a qualified name (``pgid:run_...``) as is, else ``pgid:run_<id>``."""
    text = str(workflow_id)
    return text if ":" in text else f"pgid:run_{_UNSAFE.sub('_', text)}"


def _campaign_id(campaign_id: str) -> str:
    text = str(campaign_id)
    return text if ":" in text else f"pgid:campaign_{_UNSAFE.sub('_', text)}"


def _agent_records(run_id: str) -> list[dict[str, Any]]:
    try:
        login = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still a person agent
        login = "unknown"
    person = f"pgid:person_{_UNSAFE.sub('_', login)}"
    host = socket.gethostname()
    process = f"pgid:process_{_UNSAFE.sub('_', host)}_{os.getpid()}_{_ids.process_prefix()}"
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return [
        wire.element(
            "agent", person, [("prov:type", wire.qualified_name("prov:Person")), ("pg:login", login)]
        ),
        wire.element(
            "agent",
            process,
            [
                ("prov:type", wire.qualified_name("prov:SoftwareAgent")),
                ("pg:hostname", host),
                ("pg:pid", os.getpid()),
                ("pg:python", platform.python_version()),
                ("pg:program", script),
            ],
        ),
        wire.relation("actedOnBehalfOf", delegate=process, responsible=person),
        wire.relation("wasAssociatedWith", activity=run_id, agent=process),
        wire.relation("wasAssociatedWith", activity=run_id, agent=person),
    ]


def _run_attrs(run: Any, subtype: str | None, args: Any, status: str | None) -> list[tuple[str, Any]]:
    attrs: list[tuple[str, Any]] = [
        ("prov:type", wire.qualified_name("pg:WorkflowRun")),
        ("pg:name", run.name),
    ]
    if subtype:
        attrs.append(("pg:subtype", str(subtype)))
    if args is not None:
        if isinstance(args, dict):  # secret-looking argument names keep their name, never their value
            args = {k: "[REDACTED]" if _is_secret(str(k)) else v for k, v in args.items()}
        attrs.append(("pg:args", safe_json(args)))
    if run.campaign:
        attrs.append(("pg:campaign", run.campaign))
    if status:
        attrs.append(("pg:status", status))
    return attrs


def announce_run(
    run: Any, subtype: str | None, args: Any, campaign_id: str | None, start_ns: int | None = None
) -> None:
    """Emit the run activity, its campaign and its person/process agents."""
    start = _ids.iso_from_ns(start_ns or time.time_ns())
    records = [
        wire.element("activity", run.id, _run_attrs(run, subtype, args, None), formal={"startTime": start})
    ]
    if campaign_id:
        campaign = _campaign_id(campaign_id)
        records.append(
            wire.element(
                "activity",
                campaign,
                [("prov:type", wire.qualified_name("pg:Campaign")), ("pg:campaign_id", str(campaign_id))],
            )
        )
        records.append(wire.relation("wasInfluencedBy", influencee=run.id, influencer=campaign))
    records.extend(_agent_records(run.id))
    _context.emit(run.id, records)


def current_run_id() -> str | None:
    """The id of the current workflow run (``None`` outside any workflow and before any task ran).

    Example::

        @capture.workflow
        def main():
            print("recording into", capture.current_run_id())
    """
    run = _context.current_run()
    return run.id if run is not None else None


def flush(timeout_s: float | None = None) -> bool:
    """Hand every queued record to the transport and wait (bounded) until it is sent; ``True`` if all were.

    Example::

        capture.flush(timeout_s=5)
    """
    if not STATE.on:
        return True
    _context.flush_light()
    limit = timeout_s if timeout_s is not None else float(_context.settings().stop_timeout_s)
    try:
        done = bool(_context.emitter().flush(limit))
    except Exception as exc:  # noqa: BLE001
        logger.error("provgraph capture flush failed: %s", exc)
        return False
    if not done:
        try:
            pending = _context.emitter().pending()
        except Exception:  # noqa: BLE001
            pending = "some"
        logger.warning(
            "provgraph capture: %s records not sent yet (the flush waits at most %.1f s); nothing is lost: they "
            "stay queued, or in the local spill file while the transport is down, and are sent when it returns "
            "(or by `provgraph replay`); raise PROVGRAPH_STOP_TIMEOUT_S to wait longer",
            pending,
            limit,
        )
    return done


class Workflow:
    """A workflow run: a context manager, a manually started/stopped controller, or (`workflow`) a decorator.

    Args:
        name: workflow name (``pg:name``).
        subtype: a category such as ``"ml_workflow"`` (``pg:subtype``).
        args: workflow-level arguments, stored as JSON (``pg:args``).
        campaign_id: groups runs: the run ``wasInfluencedBy`` activity ``pgid:campaign_<id>``.
        workflow_id: use this run id instead of a new one: producers in many processes or hosts given the same
            id feed one run (pass ``emit_workflow_record=False`` in all but one of them).
        emit_workflow_record: emit the run activity and its agents (default ``True``).
        settings: `capture.settings.Settings` to use (default: ``Settings.load()``), used once per process.
        stop_timeout_s: bounded wait for the flush on stop (default: setting ``stop_timeout_s``).

    Example::

        run = capture.Workflow("manual_example")
        run.start()
        double(21)
        run.stop()          # flushes; returns False (and logs how many) if records are still queued
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        subtype: str | None = None,
        args: Any = None,
        campaign_id: str | None = None,
        workflow_id: str | None = None,
        emit_workflow_record: bool = True,
        settings: Any = None,
        stop_timeout_s: float | None = None,
    ) -> None:
        self.name = name or (os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "workflow")
        self.subtype = subtype
        self.args = args
        self.campaign_id = campaign_id
        self.emit_workflow_record = emit_workflow_record
        self.stop_timeout_s = stop_timeout_s
        self._settings = settings
        self._id = run_id_from_user(workflow_id) if workflow_id else _ids.mint("run")
        self._run: Any = None
        self._token: Any = None
        self._start_ns = 0
        self.started = False
        self.flushed: bool | None = None

    @property
    def id(self) -> str:
        """The run id (``pgid:run_...``): the document of every record of this run."""
        return self._id

    def start(self) -> Workflow:
        """Begin the run: emit its records and make it the current workflow."""
        if self.started:
            raise RuntimeError(f"workflow {self._id} is already started")
        self.started = True
        if not _context.resolve(self._settings):
            return self
        campaign = _campaign_id(self.campaign_id) if self.campaign_id else None
        self._run = _context.run_for_id(self._id, name=self.name, campaign=campaign)
        self._run.name = self.name
        self._run.campaign = campaign
        self._start_ns = time.time_ns()
        if self.emit_workflow_record:
            announce_run(self._run, self.subtype, self.args, self.campaign_id, self._start_ns)
        self._token = CURRENT.set((self._run, None))
        _context.ACTIVE_RUNS.append(self._run)
        return self

    def stop(self, status: str = "FINISHED", error: str | None = None) -> bool:
        """End the run: emit its end, detach it, flush with a bounded wait; ``True`` if everything was sent."""
        if not self.started:
            raise RuntimeError("stop() before start()")
        self.started = False
        if self._run is None:
            return True
        try:
            _context.ACTIVE_RUNS.remove(self._run)
        except ValueError:  # a forked child stopping its parent's run
            pass
        if self._token is not None:
            try:
                CURRENT.reset(self._token)
            except ValueError:  # stopped from another context than it was started in
                CURRENT.set(None)
            self._token = None
        if self.emit_workflow_record:
            attrs = _run_attrs(self._run, self.subtype, self.args, status)
            if error:
                attrs.append(("pg:error", error[:2000]))
            formal = {
                "startTime": _ids.iso_from_ns(self._start_ns),
                "endTime": _ids.iso_from_ns(time.time_ns()),
            }
            _context.flush_light()
            _context.emit(self._id, [wire.element("activity", self._id, attrs, formal=formal)])
        self.flushed = flush(self.stop_timeout_s)
        if (
            self.flushed
        ):  # every record is built: the run's lineage registry can go (a long process runs many)
            _context.forget_run(self._run)
        return self.flushed

    def __enter__(self) -> Workflow:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None:
            self.stop("ERROR", f"{type(exc).__name__}: {exc}")
        else:
            self.stop()

    @classmethod
    def decorate(cls, function: Callable[..., Any] | None = None, **options: Any) -> Any:
        """Run a "main" function as a workflow (with or without options); its arguments become the run's args.

        Example::

            @capture.workflow(name="train", campaign_id="exp42")
            def main():
                ...
        """

        def wrap(target: Callable[..., Any]) -> Callable[..., Any]:
            import inspect

            @functools.wraps(target)
            def runner(*args: Any, **kwargs: Any) -> Any:
                opts = dict(options)
                opts.setdefault("name", target.__name__)
                if "args" not in opts and (args or kwargs):
                    try:
                        bound = inspect.signature(target).bind_partial(*args, **kwargs)
                        opts["args"] = {k: v for k, v in bound.arguments.items()}
                    except TypeError:
                        opts["args"] = {"args": list(args), **kwargs}
                with cls(**opts):
                    return target(*args, **kwargs)

            return runner

        return wrap(function) if function is not None else wrap


def workflow(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Decorator running a "main" function as a workflow; same options as `Workflow`."""
    return Workflow.decorate(function, **options)
