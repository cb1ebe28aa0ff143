"""The workflow controller: a run of a workflow as a PROV activity, with its campaign and agents.

Example::

    import capture

    with capture.Workflow("my_workflow", campaign_id="experiment_42", args={"epochs": 10}) as run:
        add_one(7)                      # @capture.task functions called here belong to this run
    print(run.id)                       # pgid:run_..., the document holding every record of the run
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import time
from collections.abc import Callable
from contextvars import Token
from typing import Any, ParamSpec, TypeVar, overload

from capture import _context, _ids, wire
from capture._context import ACTIVE_RUNS, CURRENT, STATE, Context, Run
from capture._handoff import announce_run, emit, flush_light
from capture._records import error_text, exception_text, run_attrs
from capture.settings import Settings

__all__ = ["Workflow", "current_run_id", "flush", "workflow"]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


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
    flush_light()
    limit = timeout_s if timeout_s is not None else float(_context.settings().stop_timeout_s)
    try:
        done = bool(_context.emitter().flush(limit))
    except Exception as exc:  # noqa: BLE001
        logger.error("provgraph capture flush failed: %s", exc)
        return False
    if not done:
        try:
            pending: int | str = _context.emitter().pending()
        except Exception:  # noqa: BLE001
            pending = "some"
        try:
            stats: Any = getattr(_context.emitter(), "stats", None)  # a test's stand-in may have none
            lost = int(stats()["records_lost"]) if stats is not None else 0
        except Exception:  # noqa: BLE001
            lost = 0
        if lost:  # the spill file could not be written (disk full, a home that is not writable): never "nothing is lost"
            logger.error(
                "provgraph capture: %d records were lost: the transport was down and the spill file could not be "
                "written (see the error above: free disk space, or point PROVGRAPH_HOME at a writable directory); "
                "%s more not sent yet",
                lost,
                pending,
            )
            return done
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
        settings: Settings | None = None,
        stop_timeout_s: float | None = None,
    ) -> None:
        self.name = name or (os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "workflow")
        self.subtype = subtype
        self.args = args
        self.campaign_id = campaign_id
        self.emit_workflow_record = emit_workflow_record
        self.stop_timeout_s = stop_timeout_s
        self._settings = settings
        self._id = _ids.run_id_from_user(workflow_id) if workflow_id else _ids.mint("run")
        self._given_id = _ids.given_text(workflow_id) if workflow_id else None
        self._run: Run | None = None
        self._token: Token[Context | None] | None = None
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
        campaign = _ids.campaign_id_from_user(self.campaign_id) if self.campaign_id else None
        self._run = _context.run_for_id(self._id, name=self.name, campaign=campaign)
        self._run.name = self.name
        self._run.campaign = campaign
        self._run.given_id = self._given_id
        self._start_ns = time.time_ns()
        if self.emit_workflow_record:
            announce_run(self._run, self.subtype, self.args, self.campaign_id, self._start_ns)
        self._token = CURRENT.set((self._run, None))
        ACTIVE_RUNS.append(self._run)
        return self

    def stop(self, status: str = "FINISHED", error: str | None = None) -> bool:
        """End the run: emit its end, detach it, flush with a bounded wait; ``True`` if everything was sent."""
        if not self.started:
            raise RuntimeError("stop() before start()")
        self.started = False
        if self._run is None:
            return True
        try:
            ACTIVE_RUNS.remove(self._run)
        except ValueError:  # a forked child stopping its parent's run
            pass
        if self._token is not None:
            try:
                CURRENT.reset(self._token)
            except ValueError:  # stopped from another context than it was started in
                CURRENT.set(None)
            self._token = None
        if self.emit_workflow_record:
            attrs = run_attrs(self._run, self.subtype, self.args, status)
            if error:
                attrs.append(("pg:error", error_text(error)))
            formal = {
                "startTime": _ids.iso_from_ns(self._start_ns),
                "endTime": _ids.iso_from_ns(time.time_ns()),
            }
            flush_light()
            emit(self._id, [wire.element("activity", self._id, attrs, formal=formal)])
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
            self.stop("ERROR", exception_text(exc))
        else:
            self.stop()

    async def __aenter__(self) -> Workflow:
        return self.start()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)  # the flush waits at most stop_timeout_s

    @classmethod
    def decorate(cls, function: Callable[P, R] | None = None, **options: Any) -> Any:
        """Run a "main" function (or ``async def``) as a workflow, with or without options; its arguments become
        the run's args.

        Example::

            @capture.workflow(name="train", campaign_id="exp42")
            def main():
                ...
        """

        def options_for(
            target: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> dict[str, Any]:
            opts = dict(options)
            opts.setdefault("name", target.__name__)
            if "args" not in opts and (args or kwargs):
                try:
                    bound = inspect.signature(target).bind_partial(*args, **kwargs)
                    opts["args"] = dict(bound.arguments)
                except TypeError:
                    opts["args"] = {"args": list(args), **kwargs}
            return opts

        def wrap(target: Callable[P, R]) -> Callable[P, R]:
            if inspect.iscoroutinefunction(target):
                async_target: Callable[..., Any] = target

                @functools.wraps(target)
                async def async_runner(*args: Any, **kwargs: Any) -> Any:
                    async with cls(**options_for(target, args, kwargs)):
                        return await async_target(*args, **kwargs)

                return async_runner  # type: ignore[return-value]

            @functools.wraps(target)
            def runner(*args: P.args, **kwargs: P.kwargs) -> R:
                with cls(**options_for(target, args, kwargs)):
                    return target(*args, **kwargs)

            return runner

        return wrap(function) if function is not None else wrap


@overload
def workflow(function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def workflow(
    function: None = None,
    *,
    name: str | None = ...,
    subtype: str | None = ...,
    args: Any = ...,
    campaign_id: str | None = ...,
    workflow_id: str | None = ...,
    emit_workflow_record: bool = ...,
    settings: Settings | None = ...,
    stop_timeout_s: float | None = ...,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def workflow(function: Callable[P, R] | None = None, **options: Any) -> Any:
    """Decorator running a "main" function (or ``async def``) as a workflow; same options as `Workflow`.

    Example::

        @capture.workflow(campaign_id="exp42")
        def main(epochs=3):
            ...
    """
    return Workflow.decorate(function, **options)
