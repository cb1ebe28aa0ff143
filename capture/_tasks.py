"""Task decorators: `task`, `telemetry_task`, `light_task`.

The wrappers are the hot path. Per call they read the context, take a counter value and two clock readings, and
hand ONE tuple (references only, nothing copied or formatted) to the emitter; ids, values and lineage are worked
out later on the emitter thread (`capture._records`). With capture off a wrapper costs one attribute test.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast, overload

from capture import _context, _ids
from capture._context import CURRENT, STATE, Context, resolve
from capture._handoff import LIGHT_HANDOVER, LIGHT_QUEUE, default_context, emit, flush_light
from capture._ids import COUNTER
from capture._records import TASK_OWN_ATTRIBUTES, TaskItem, TaskSpec, exception_text
from capture._telemetry import new_task_telemetry, telemetry_phase
from capture._values import user_attrs

__all__ = [
    "disabled_by_environment",
    "error_text",
    "light_task",
    "task",
    "telemetry_task",
    "through_descriptor",
    "wrap_function",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _failed_to_bind(exc: BaseException) -> bool:
    """Whether ``exc`` is Python refusing the call's arguments: a TypeError raised by the call itself, before the
    function's first line ran (its traceback ends in the wrapper's frame). A function implemented in C has no
    frame of its own, so its own TypeErrors look the same and are not recorded either."""
    trace = exc.__traceback__
    return type(exc) is TypeError and trace is not None and trace.tb_next is None


def error_text(exc: BaseException) -> str:
    """One line naming an exception: ``ValueError: bad input`` (`capture._records.exception_text`: never raises,
    so the user's exception is the one that propagates)."""
    return exception_text(exc)


# --- decorators -------------------------------------------------------------------------------------------------


def disabled_by_environment() -> bool:
    """``PROVGRAPH_DISABLED=1`` at decoration time: decorators return the function itself (zero cost).

    Settings-file and other switches are read on first use instead (settings are never read at import time);
    then a decorated call costs one attribute test more than a plain call.
    """
    return os.environ.get("PROVGRAPH_DISABLED", "").strip().lower() in {"1", "true", "yes", "on"}


def through_descriptor(target: Any, wrap: Callable[[Any], Any]) -> Any:
    """``wrap(target)``; a ``staticmethod`` or ``classmethod`` object (the decorator written above
    ``@staticmethod``/``@classmethod``) has the function inside it wrapped and stays that kind of method, so the
    class calls it as it would without capture."""
    if isinstance(target, staticmethod | classmethod):
        return type(target)(wrap(target.__func__))
    return wrap(target)


def _make_spec(function: Callable[..., Any], options: dict[str, Any]) -> TaskSpec:
    attributes, types = options.pop("attributes", None), options.pop("types", ())
    if attributes or types:  # checked at decoration: a wrong name fails where it is written
        options["attrs"] = user_attrs(attributes, types, TASK_OWN_ATTRIBUTES)
    workflow_id = options.pop("workflow_id", None)
    run_override = None
    if workflow_id:
        run_override = _context.run_for_id(
            _ids.run_id_from_user(workflow_id), name=_ids.given_text(workflow_id)
        )
        run_override.given_id = _ids.given_text(workflow_id)
    return TaskSpec(function, run_override=run_override, **options)


def wrap_function(function: Callable[P, R], spec: TaskSpec) -> Callable[P, R]:
    """The recording wrapper of ``function`` (sync or ``async def``) described by ``spec``."""
    state = STATE
    get_context = CURRENT.get
    set_context = CURRENT.set
    reset_context = CURRENT.reset
    counter = COUNTER
    now = time.time_ns
    new_item = tuple.__new__  # TaskItem's fields as one tuple: a plain tuple's cost (see TaskItem)
    item = TaskItem
    override = spec.run_override
    with_telemetry = spec.telemetry
    light_queue = LIGHT_QUEUE

    def enter() -> Context:
        context = get_context()
        if override is not None:
            if context is None or context[0] is not override:
                context = (override, None)
        elif context is None:
            context = default_context()
        return context

    def record(
        context: Context,
        number: int,
        args: Any,
        kwargs: Any,
        start_ns: int,
        result: Any,
        error: Any,
        sampler: Any,
        started: Any,
    ) -> None:
        end_ns = now()
        telemetry = (started, telemetry_phase(sampler, "end")) if sampler else None
        if light_queue:
            flush_light()
        doc = context[0].id
        emit(
            doc,
            new_item(
                item, (doc, spec, number, context, args, kwargs, start_ns, end_ns, result, error, telemetry)
            ),
        )

    if inspect.isgeneratorfunction(function):
        # A generator function's work happens while it is iterated: the task starts at the first `next`, ends
        # when the generator returns (its return value is the output), raises (ERROR) or is closed early (a
        # `break`: FINISHED then), and is the current task while its body runs, never while it is suspended.
        # The wrapper is itself a generator function (`inspect.isgeneratorfunction` stays true for frameworks
        # that look) that forwards `send`, `throw` and `close` as `yield from` would.

        @functools.wraps(function)
        def generator_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not state.on and (state.resolved or not resolve()):
                return (yield from function(*args, **kwargs))
            inner = function(*args, **kwargs)  # runs none of its body (a binding TypeError is Python's own)
            context = enter()
            number = next(counter)
            sampler = new_task_telemetry() if with_telemetry else None
            started = telemetry_phase(sampler, "start")
            start_ns = now()
            sent: Any = None
            thrown: BaseException | None = None
            try:
                while True:
                    token = set_context((context[0], number))
                    try:
                        if thrown is not None:
                            value = inner.throw(thrown)
                        else:
                            value = inner.send(sent)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    finally:
                        reset_context(token)
                    thrown = None
                    try:
                        sent = yield value
                    except GeneratorExit:
                        token = set_context((context[0], number))
                        try:
                            inner.close()
                        finally:
                            reset_context(token)
                        raise
                    except BaseException as exc:  # thrown into us: into the wrapped generator
                        thrown = exc
            except GeneratorExit:
                record(context, number, args, kwargs, start_ns, None, None, sampler, started)
                raise
            except BaseException as exc:
                record(context, number, args, kwargs, start_ns, None, error_text(exc), sampler, started)
                raise
            record(context, number, args, kwargs, start_ns, result, None, sampler, started)
            return result

        generator_wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return generator_wrapper

    if inspect.isasyncgenfunction(function):
        # The same for an `async def` with `yield`, forwarding `asend`, `athrow` and `aclose`.

        @functools.wraps(function)
        async def async_generator_wrapper(*args: Any, **kwargs: Any) -> Any:
            inner = function(*args, **kwargs)
            on = state.on or (not state.resolved and resolve())
            context = enter() if on else None
            number = next(counter) if on else 0
            sampler = new_task_telemetry() if on and with_telemetry else None
            started = telemetry_phase(sampler, "start") if on else None
            start_ns = now()
            sent: Any = None
            thrown: BaseException | None = None
            try:
                while True:
                    token = set_context((context[0], number)) if context is not None else None
                    try:
                        if thrown is not None:
                            value = await inner.athrow(thrown)
                        else:
                            value = await inner.asend(sent)
                    except StopAsyncIteration:
                        break
                    finally:
                        if token is not None:
                            reset_context(token)
                    thrown = None
                    try:
                        sent = yield value
                    except GeneratorExit:
                        await inner.aclose()
                        raise
                    except BaseException as exc:
                        thrown = exc
            except GeneratorExit:
                if context is not None:
                    record(context, number, args, kwargs, start_ns, None, None, sampler, started)
                raise
            except BaseException as exc:
                if context is not None:
                    record(context, number, args, kwargs, start_ns, None, error_text(exc), sampler, started)
                raise
            if context is not None:
                record(context, number, args, kwargs, start_ns, None, None, sampler, started)

        async_generator_wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return async_generator_wrapper

    if inspect.iscoroutinefunction(function):
        async_function: Callable[..., Awaitable[Any]] = function

        @functools.wraps(function)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if not state.on and (state.resolved or not resolve()):
                return await async_function(*args, **kwargs)
            context = enter()
            number = next(counter)
            sampler = new_task_telemetry() if with_telemetry else None
            started = telemetry_phase(sampler, "start")
            token = set_context((context[0], number))
            start_ns = now()
            try:
                result = await async_function(*args, **kwargs)
            except BaseException as exc:
                end_ns = now()
                reset_context(token)
                if _failed_to_bind(exc):
                    raise  # Python's own TypeError, as without capture; nothing happened to record
                telemetry = (started, telemetry_phase(sampler, "end")) if sampler else None
                doc = context[0].id
                emit(
                    doc,
                    new_item(
                        item,
                        (
                            doc,
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
                        ),
                    ),
                )
                raise
            end_ns = now()
            reset_context(token)
            telemetry = (started, telemetry_phase(sampler, "end")) if sampler else None
            if light_queue:
                flush_light()
            doc = context[0].id
            state.emit(
                doc,
                new_item(
                    item,
                    (doc, spec, number, context, args, kwargs, start_ns, end_ns, result, None, telemetry),
                ),
            )
            return result

        async_wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return async_wrapper  # type: ignore[return-value]

    if with_telemetry:

        @functools.wraps(function)
        def telemetry_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
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
                if _failed_to_bind(exc):
                    raise  # Python's own TypeError, as without capture; nothing happened to record
                telemetry = (started, telemetry_phase(sampler, "end"))
                doc = context[0].id
                emit(
                    doc,
                    new_item(
                        item,
                        (
                            doc,
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
                        ),
                    ),
                )
                raise
            end_ns = now()
            reset_context(token)
            telemetry = (started, telemetry_phase(sampler, "end"))
            if light_queue:
                flush_light()
            doc = context[0].id
            state.emit(
                doc,
                new_item(
                    item,
                    (doc, spec, number, context, args, kwargs, start_ns, end_ns, result, None, telemetry),
                ),
            )
            return result

        telemetry_wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return telemetry_wrapper

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
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
            if _failed_to_bind(exc):
                raise  # Python's own TypeError, as without capture; nothing happened to record
            doc = context[0].id
            emit(
                doc,
                new_item(
                    item,
                    (doc, spec, number, context, args, kwargs, start_ns, end_ns, None, error_text(exc), None),
                ),
            )
            raise
        end_ns = now()
        reset_context(token)
        if light_queue:  # light-task records first: lineage is resolved in emission order
            flush_light()
        doc = context[0].id
        state.emit(
            doc,
            new_item(item, (doc, spec, number, context, args, kwargs, start_ns, end_ns, result, None, None)),
        )
        return result

    wrapper.__provgraph_spec__ = spec  # type: ignore[attr-defined]
    return wrapper


_TASK_OPTIONS = frozenset(
    {
        "output_names",
        "tags",
        "custom_metadata",
        "workflow_id",
        "campaign_id",
        "args_handler",
        "telemetry",
        "name",
        "attributes",
        "types",
    }
)


@overload
def task(function: Callable[P, R]) -> Callable[P, R]: ...
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
    attributes: Mapping[str, Any] | None = ...,
    types: str | Sequence[str] = ...,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def task(function: Callable[P, R] | None = None, **options: Any) -> Any:
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
        attributes: attributes of every call's activity (``{"instrument": "UV-3", "threshold": 0.5}``), named and
            typed as `capture.file`'s (a plain name is ``pg:NAME``).
        types: extra ``prov:type`` values of every call's activity (``"Calibration"`` is ``pg:Calibration``).

    Example::

        @capture.task(output_names=["y", "z"], tags=["math"], custom_metadata={"owner": "dev"})
        def compute(x):
            return x * 2, x * 3
    """
    unknown = set(options) - _TASK_OPTIONS
    if unknown:
        raise TypeError(f"capture.task got unknown option(s): {', '.join(sorted(unknown))}")

    def decorate(target: Callable[P, R]) -> Callable[P, R]:
        if disabled_by_environment():
            return target
        return cast(
            "Callable[P, R]",
            through_descriptor(target, lambda inner: wrap_function(inner, _make_spec(inner, dict(options)))),
        )

    return decorate(function) if function is not None else decorate


@overload
def telemetry_task(function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def telemetry_task(
    function: None = None,
    *,
    output_names: str | Sequence[str] | None = ...,
    tags: str | Sequence[str] | None = ...,
    custom_metadata: dict[str, Any] | None = ...,
    workflow_id: str | None = ...,
    campaign_id: str | None = ...,
    args_handler: Callable[..., dict[str, Any]] | None = ...,
    name: str | None = ...,
    attributes: Mapping[str, Any] | None = ...,
    types: str | Sequence[str] = ...,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def telemetry_task(function: Callable[P, R] | None = None, **options: Any) -> Any:
    """`task` that also records CPU/memory/GPU telemetry entities at the start and end of each call.

    Example::

        @capture.telemetry_task
        def train_step(batch):
            ...
    """
    options["telemetry"] = True
    return task(function, **options)


@overload
def light_task(function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def light_task(
    function: None = None, *, name: str | None = ..., output_names: str | Sequence[str] | None = ...
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def light_task(
    function: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    output_names: str | Sequence[str] | None = None,
) -> Any:
    """Ultra-light task for tight loops: records id, start/end time, status, bound inputs and outputs.

    Unlike `task` it does not become the parent of tasks it calls (its id is assigned when its records are built),
    records no telemetry, and its records reach the emitter in batches of 512 (and at workflow stop,
    `capture.flush()` and exit).

    Example::

        @capture.light_task
        def fast_op(x):
            return x + 1
    """

    def decorate(target: Callable[P, R]) -> Callable[P, R]:
        if disabled_by_environment():
            return target
        return cast("Callable[P, R]", through_descriptor(target, wrap_light))

    def wrap_light(target: Callable[P, R]) -> Callable[P, R]:
        spec = TaskSpec(target, name=name, output_names=output_names)
        if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
            return wrap_function(
                cast("Callable[P, R]", target), spec
            )  # recorded over its iteration, as `task` records it
        state = STATE
        get_context = CURRENT.get
        now = time.time_ns
        append = LIGHT_QUEUE.append
        queue = LIGHT_QUEUE
        handover = LIGHT_HANDOVER
        hand_over = flush_light
        # Each call appends a plain `LightCall` tuple (a named one would cost a third more).

        if inspect.iscoroutinefunction(target):
            async_target: Callable[..., Awaitable[Any]] = target

            @functools.wraps(target)
            async def async_light(*args: Any, **kwargs: Any) -> Any:
                if not state.on and (state.resolved or not resolve()):
                    return await async_target(*args, **kwargs)
                context = get_context() or default_context()
                start_ns = now()
                try:
                    result = await async_target(*args, **kwargs)
                except BaseException as exc:
                    if not _failed_to_bind(exc):
                        append((spec, context, args, kwargs, start_ns, now(), None, error_text(exc)))
                    raise
                append((spec, context, args, kwargs, start_ns, now(), result, None))
                if len(queue) >= handover:
                    hand_over()
                return result

            async_light.__provgraph_spec__ = spec  # type: ignore[attr-defined]
            return async_light  # type: ignore[return-value]

        @functools.wraps(target)
        def light(*args: P.args, **kwargs: P.kwargs) -> R:
            if not state.on and (state.resolved or not resolve()):
                return target(*args, **kwargs)
            context = get_context() or default_context()
            start_ns = now()
            try:
                result = target(*args, **kwargs)
            except BaseException as exc:
                if not _failed_to_bind(exc):
                    append((spec, context, args, kwargs, start_ns, now(), None, error_text(exc)))
                raise
            append((spec, context, args, kwargs, start_ns, now(), result, None))
            if len(queue) >= handover:
                hand_over()
            return result

        light.__provgraph_spec__ = spec  # type: ignore[attr-defined]
        return light

    return decorate(function) if function is not None else decorate
