"""Task decorators: `task`, `telemetry_task`, `light_task`.

The wrappers are the hot path. Per call they read the context, take a counter value and two clock readings, and
hand ONE tuple (references only, nothing copied or formatted) to the emitter; ids, values and lineage are worked
out later on the emitter thread (`capture._records`). With capture off a wrapper costs one attribute test.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, overload

from capture import _context, wire
from capture._context import (
    CURRENT,
    LIGHT_HANDOVER,
    LIGHT_QUEUE,
    STATE,
    default_context,
    flush_light,
    resolve,
)
from capture._ids import COUNTER
from capture._records import TaskItem, TaskSpec

__all__ = ["light_task", "machine_agent_records", "new_task_telemetry", "task", "telemetry_task"]

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def error_text(exc: BaseException) -> str:
    """One line naming an exception: ``ValueError: bad input``."""
    return f"{type(exc).__name__}: {exc}"


# --- telemetry seam (capture/_telemetry.py is written separately; absent: no telemetry entities) -----------------

_telemetry_module: Any = None
_telemetry_checked = False
_machine_record: dict[str, Any] | None = None  # read once per process: the machine does not change


def telemetry_module() -> Any:
    """capture._telemetry if it is installed, else ``None`` (then telemetry tasks record no telemetry)."""
    global _telemetry_module, _telemetry_checked
    if not _telemetry_checked:
        _telemetry_checked = True
        try:
            from capture import _telemetry  # type: ignore[attr-defined]

            _telemetry_module = _telemetry
        except ImportError:
            logger.info("capture._telemetry is not available: telemetry tasks record no telemetry")
            _telemetry_module = None
    return _telemetry_module


def new_task_telemetry() -> Any:
    """A started-to-be `TaskTelemetry` for one task, or ``None`` when telemetry is unavailable."""
    module = telemetry_module()
    if module is None:
        return None
    try:
        return module.TaskTelemetry(_context.settings())
    except Exception as exc:  # noqa: BLE001 - telemetry must never break a task
        logger.warning("telemetry unavailable: %s", exc)
        return None


def telemetry_phase(sampler: Any, phase: str) -> list[tuple[str, Any]] | None:
    """``sampler.start()`` or ``sampler.end()``, never raising."""
    if sampler is None:
        return None
    try:
        return list(sampler.start() if phase == "start" else sampler.end())
    except Exception as exc:  # noqa: BLE001
        logger.warning("telemetry %s reading failed: %s", phase, exc)
        return None


def machine_agent_records(run: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The machine agent (declared once per run) and the run's association with it; ``([], None)`` without it."""
    global _machine_record
    module = telemetry_module()
    if module is None:
        return [], None
    if _machine_record is None:
        try:
            _machine_record = module.machine_agent_record(_context.settings())
        except Exception as exc:  # noqa: BLE001
            logger.warning("machine description unavailable: %s", exc)
            return [], None
    record = _machine_record
    machine_id = record.get("id")
    if run.machine_declared:
        return [], machine_id
    run.machine_declared = True
    return [record, wire.relation("wasAssociatedWith", activity=run.id, agent=machine_id)], machine_id


# --- decorators -------------------------------------------------------------------------------------------------


def disabled_by_environment() -> bool:
    """``PROVGRAPH_DISABLED=1`` at decoration time: decorators return the function itself (zero cost).

    Settings-file and other switches are read on first use instead (settings are never read at import time);
    then a decorated call costs one attribute test more than a plain call.
    """
    return os.environ.get("PROVGRAPH_DISABLED", "").strip().lower() in {"1", "true", "yes", "on"}


def _make_spec(function: Callable[..., Any], options: dict[str, Any]) -> TaskSpec:
    from capture._workflow import run_id_from_user

    workflow_id = options.pop("workflow_id", None)
    run_override = None
    if workflow_id:
        run_override = _context.run_for_id(run_id_from_user(workflow_id), name=str(workflow_id))
    return TaskSpec(function, run_override=run_override, **options)


def _wrap(function: Callable[..., Any], spec: TaskSpec) -> Callable[..., Any]:
    import inspect  # decoration time only: keeps `import capture` light

    state = STATE
    get_context = CURRENT.get
    set_context = CURRENT.set
    reset_context = CURRENT.reset
    counter = COUNTER
    now = time.time_ns
    item = TaskItem
    override = spec.run_override
    with_telemetry = spec.telemetry
    light_queue = LIGHT_QUEUE

    def enter() -> tuple[Any, Any]:
        context = get_context()
        if override is not None:
            if context is None or context[0] is not override:
                context = (override, None)
        elif context is None:
            context = default_context()
        return context

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not state.on and (state.resolved or not resolve()):
                return await function(*args, **kwargs)
            context = enter()
            number = next(counter)
            sampler = new_task_telemetry() if with_telemetry else None
            started = telemetry_phase(sampler, "start")
            token = set_context((context[0], number))
            start_ns = now()
            try:
                result = await function(*args, **kwargs)
            except BaseException as exc:
                end_ns = now()
                reset_context(token)
                telemetry = (started, telemetry_phase(sampler, "end")) if sampler else None
                _context.emit(
                    context[0].id,
                    item(
                        (
                            spec,
                            number,
                            context,
                            args,
                            kwargs,
                            start_ns,
                            end_ns,
                            None,
                            error_text(exc),
                            telemetry,
                        )
                    ),
                )
                raise
            end_ns = now()
            reset_context(token)
            telemetry = (started, telemetry_phase(sampler, "end")) if sampler else None
            if light_queue:
                flush_light()
            state.emit(
                context[0].id,
                item((spec, number, context, args, kwargs, start_ns, end_ns, result, None, telemetry)),
            )
            return result

        async_wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return async_wrapper

    if with_telemetry:

        @functools.wraps(function)
        def telemetry_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not state.on and (state.resolved or not resolve()):
                return function(*args, **kwargs)
            context = enter()
            number = next(counter)
            sampler = new_task_telemetry()
            started = telemetry_phase(sampler, "start")
            token = set_context((context[0], number))
            start_ns = now()
            try:
                result = function(*args, **kwargs)
            except BaseException as exc:
                end_ns = now()
                reset_context(token)
                _context.emit(
                    context[0].id,
                    item(
                        (
                            spec,
                            number,
                            context,
                            args,
                            kwargs,
                            start_ns,
                            end_ns,
                            None,
                            error_text(exc),
                            (started, telemetry_phase(sampler, "end")),
                        )
                    ),
                )
                raise
            end_ns = now()
            reset_context(token)
            if light_queue:
                flush_light()
            state.emit(
                context[0].id,
                item(
                    (
                        spec,
                        number,
                        context,
                        args,
                        kwargs,
                        start_ns,
                        end_ns,
                        result,
                        None,
                        (started, telemetry_phase(sampler, "end")),
                    )
                ),
            )
            return result

        telemetry_wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return telemetry_wrapper

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not state.on and (state.resolved or not resolve()):
            return function(*args, **kwargs)
        context = get_context()
        if context is None or override is not None:
            context = enter()
        number = next(counter)
        token = set_context((context[0], number))
        start_ns = now()
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            end_ns = now()
            reset_context(token)
            _context.emit(
                context[0].id,
                item((spec, number, context, args, kwargs, start_ns, end_ns, None, error_text(exc))),
            )
            raise
        end_ns = now()
        reset_context(token)
        if light_queue:  # light-task records first: lineage is resolved in emission order
            flush_light()
        state.emit(context[0].id, item((spec, number, context, args, kwargs, start_ns, end_ns, result, None)))
        return result

    wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
    return wrapper


@overload
def task(function: F) -> F: ...
@overload
def task(
    function: None = None,
    *,
    output_names: str | Sequence[str] | None = ...,
    tags: str | Sequence[str] | None = ...,
    custom_metadata: dict[str, Any] | None = ...,
    workflow_id: str | None = ...,
    campaign_id: str | None = ...,
    args_handler: Callable[..., dict[str, Any]] | None = ...,
    telemetry: bool = ...,
    name: str | None = ...,
) -> Callable[[F], F]: ...


def task(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Record each call of a function as a PROV task activity (use with or without parentheses).

    Args:
        function: the function (when used as ``@task`` without parentheses).
        output_names: name of the result, or names mapped by position onto a returned tuple/list; a returned dict
            is passed through (its keys name the outputs). Without it the result is output ``return``.
        tags: labels attached to the task (``pg:tags``).
        custom_metadata: a dict stored as ``pg:custom_metadata`` (JSON).
        workflow_id: record the calls into this run instead of the current one.
        campaign_id: campaign recorded on the task (default: the run's).
        args_handler: ``handler(*args, **kwargs) -> dict`` deciding which inputs are recorded, under which names.
        telemetry: also record start/end telemetry entities (see `telemetry_task`).
        name: activity name (default: the function's qualified name).

    Example::

        @capture.task(output_names=["y", "z"], tags=["math"], custom_metadata={"owner": "dev"})
        def compute(x):
            return x * 2, x * 3
    """
    unknown = set(options) - {
        "output_names",
        "tags",
        "custom_metadata",
        "workflow_id",
        "campaign_id",
        "args_handler",
        "telemetry",
        "name",
    }
    if unknown:
        raise TypeError(f"capture.task got unknown option(s): {', '.join(sorted(unknown))}")

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        if disabled_by_environment():
            return target
        return _wrap(target, _make_spec(target, dict(options)))

    return decorate(function) if function is not None else decorate


def telemetry_task(function: Callable[..., Any] | None = None, **options: Any) -> Any:
    """`task` that also records CPU/memory/GPU telemetry entities at the start and end of each call.

    Example::

        @capture.telemetry_task
        def train_step(batch):
            ...
    """
    options["telemetry"] = True
    return task(function, **options)


def light_task(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    output_names: str | Sequence[str] | None = None,
) -> Any:
    """Ultra-light task for tight loops: records id, start/end time, status, bound inputs and outputs.

    Unlike `task` it does not become the parent of tasks it calls (its id is assigned when its records are built),
    records no telemetry, and its records reach the
    emitter in batches of 512 (and at workflow stop, `capture.flush()` and exit).

    Example::

        @capture.light_task
        def fast_op(x):
            return x + 1
    """

    def decorate(target: Callable[..., Any]) -> Callable[..., Any]:
        import inspect

        if disabled_by_environment():
            return target
        spec = TaskSpec(target, name=name, output_names=output_names)
        state = STATE
        get_context = CURRENT.get
        now = time.time_ns
        append = LIGHT_QUEUE.append
        queue = LIGHT_QUEUE
        handover = LIGHT_HANDOVER
        hand_over = flush_light

        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def async_light(*args: Any, **kwargs: Any) -> Any:
                if not state.on and (state.resolved or not resolve()):
                    return await target(*args, **kwargs)
                context = get_context() or default_context()
                start_ns = now()
                try:
                    result = await target(*args, **kwargs)
                except BaseException as exc:
                    append((spec, context, args, kwargs, start_ns, now(), None, error_text(exc)))
                    raise
                append((spec, context, args, kwargs, start_ns, now(), result, None))
                if len(queue) >= handover:
                    hand_over()
                return result

            return async_light

        @functools.wraps(target)
        def light(*args: Any, **kwargs: Any) -> Any:
            if not state.on and (state.resolved or not resolve()):
                return target(*args, **kwargs)
            context = get_context() or default_context()
            start_ns = now()
            try:
                result = target(*args, **kwargs)
            except BaseException as exc:
                append((spec, context, args, kwargs, start_ns, now(), None, error_text(exc)))
                raise
            append((spec, context, args, kwargs, start_ns, now(), result, None))
            if len(queue) >= handover:
                hand_over()
            return result

        light.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return light

    return decorate(function) if function is not None else decorate
