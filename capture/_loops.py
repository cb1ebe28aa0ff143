"""Loop instrumentation: `Loop` (one task per iteration, streamed) and `BatchedLoop` (one publish at the end).

Both iterate ranges (an ``int`` means ``range(n)``), sized iterables and plain iterators without ever
materialising them. Leaving a loop early (``break``, ``return`` or an exception) loses nothing: completed
iterations are kept, and the iteration in progress is recorded with status ``INTERRUPTED``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from capture import _context, _ids, wire
from capture._context import CURRENT, STATE, default_context, resolve
from capture._ids import COUNTER
from capture._records import QN_LOOP, activity_records

__all__ = ["BatchedLoop", "Loop"]


def _parent_of(parent_task: Any) -> Any:
    if parent_task is None:
        return None
    if isinstance(parent_task, str | int):
        return parent_task
    identifier = getattr(parent_task, "id", None)
    if identifier is None:
        raise TypeError("parent_task must be a task id (str) or an object with an .id (e.g. a CustomTask)")
    return identifier


def _length_of(items: Any, items_length: int | None) -> int | None:
    if items_length is not None:
        return int(items_length)
    try:
        return len(items)
    except TypeError:
        return None


class _LoopBoundary(tuple):
    """Start or end of a loop activity: ``(run, loop number, parent, name, length, t_ns, end info or None)``."""

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        run, number, parent, name, length, start_ns, end = self
        loop_id = _ids.task_id(number)
        parent_id = run.id if parent is None else _ids.task_id(parent)
        start = _ids.iso_from_ns(start_ns)
        attrs: list[tuple[str, Any]] = [
            ("prov:type", QN_LOOP),
            ("pg:name", name),
            ("pg:started_by", parent_id),
        ]
        if length is not None:
            attrs.append(("pg:items_length", length))
        formal = {"startTime": start}
        if end is None:
            attrs.append(("pg:status", "RUNNING"))
        else:
            end_ns, status, iterations = end
            formal["endTime"] = _ids.iso_from_ns(end_ns)
            attrs += [
                ("pg:status", status),
                ("pg:iterations", iterations),
                ("pg:duration_s", (end_ns - start_ns) / 1e9),
            ]
        return [
            wire.element("activity", loop_id, attrs, formal=formal),
            wire.relation("wasStartedBy", activity=loop_id, starter=parent_id, time=start),
        ]


def _iteration_records(
    run: Any, loop_number: int, loop_name: str, item_name: str, iteration: Any
) -> list[dict[str, Any]]:
    number, index, value, start_ns, end_ns, values, status, telemetry = iteration
    outputs = (
        list(values.items())
        if isinstance(values, dict)
        else ([("value", values)] if values is not None else [])
    )
    return activity_records(
        run=run,
        activity_id=_ids.task_id(number),
        parent_id=_ids.task_id(loop_number),
        name=f"{loop_name}.iteration",
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        inputs=[(item_name, value)],
        outputs=outputs,
        whole_result=values,
        extra_attrs=[("pg:iteration", index), ("pg:loop", loop_name)],
        campaign_id=run.campaign,
        telemetry=telemetry,
    )


class _IterationItem(tuple):
    """One finished iteration of a `Loop`: ``(run, loop number, loop name, item name, *iteration fields)``."""

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        return _iteration_records(self[0], self[1], self[2], self[3], self[4:])


class Loop:
    """Iterate while recording each iteration as a task (streamed as it ends), under a ``pg:Loop`` activity.

    Args:
        items: an iterable, an iterator, or an ``int`` (``range(items)``).
        loop_name: name of the loop activity.
        item_name: role under which each item is recorded as the iteration's input.
        parent_task: id (or object with ``.id``) of the task the loop belongs to (default: the current task or run).
        items_length: length of an iterator without ``len()`` (recorded; never needed).
        telemetry: record telemetry at the start and end of each iteration.

    Example::

        loop = capture.Loop(range(5), loop_name="train_loop", item_name="epoch")
        for epoch in loop:
            loss = 0.1 * (5 - epoch)
            loop.end_iter({"loss": loss})
    """

    def __init__(
        self,
        items: Iterable[Any] | int,
        *,
        loop_name: str = "loop",
        item_name: str = "item",
        parent_task: Any = None,
        items_length: int | None = None,
        telemetry: bool = False,
    ) -> None:
        self.items = range(items) if isinstance(items, int) else items
        self.loop_name = loop_name
        self.item_name = item_name
        self.parent = _parent_of(parent_task)
        self.length = _length_of(self.items, items_length)
        self.telemetry = telemetry
        self._values: Any = None
        self.id: str | None = None

    def end_iter(self, values: Any) -> None:
        """Attach values produced in the current iteration (a dict: one output per key)."""
        if isinstance(values, dict) and isinstance(self._values, dict):
            self._values.update(values)
        else:
            self._values = dict(values) if isinstance(values, dict) else values

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("this loop's length is unknown; pass items_length")
        return self.length

    def __iter__(self) -> Iterator[Any]:
        if not STATE.on and (STATE.resolved or not resolve()):
            yield from self.items
            return
        from capture._tasks import new_task_telemetry, telemetry_phase

        context = CURRENT.get() or default_context()
        run = context[0]
        parent = self.parent if self.parent is not None else context[1]
        loop_number = next(COUNTER)
        self.id = _ids.task_id(loop_number)
        emit = STATE.emit
        doc = run.id
        now = time.time_ns
        loop_start = now()
        emit(doc, _LoopBoundary((run, loop_number, parent, self.loop_name, self.length, loop_start, None)))
        count = 0
        status = "FINISHED"
        in_progress = False
        token: Any = None
        number = start_ns = 0
        value: Any = None
        started: Any = None
        sampler: Any = None
        telemetry_on = self.telemetry
        set_context = CURRENT.set
        reset_context = CURRENT.reset
        counter = COUNTER
        loop_name, item_name = self.loop_name, self.item_name
        try:
            for value in self.items:
                number = next(counter)
                if telemetry_on:
                    sampler = new_task_telemetry()
                    started = telemetry_phase(sampler, "start")
                self._values = None
                in_progress = True
                token = set_context((run, number))
                start_ns = now()
                yield value
                end_ns = now()
                reset_context(token)
                token = None
                telemetry = (started, telemetry_phase(sampler, "end")) if sampler is not None else None
                emit(
                    doc,
                    _IterationItem(
                        (
                            run,
                            loop_number,
                            loop_name,
                            item_name,
                            number,
                            count,
                            value,
                            start_ns,
                            end_ns,
                            self._values,
                            "FINISHED",
                            telemetry,
                        )
                    ),
                )
                in_progress = False
                count += 1
        except GeneratorExit:  # the loop was left early (break, return, an exception in the body)
            raise
        except BaseException:  # the iterable itself failed
            status = "ERROR"
            raise
        finally:
            if token is not None:
                try:
                    CURRENT.reset(token)
                except ValueError:  # closed from another context: nothing of ours to undo there
                    pass
            if in_progress:  # left during an iteration: the iteration in progress is kept
                telemetry = (started, telemetry_phase(sampler, "end")) if sampler is not None else None
                emit(
                    doc,
                    _IterationItem(
                        (
                            run,
                            loop_number,
                            loop_name,
                            item_name,
                            number,
                            count,
                            value,
                            start_ns,
                            now(),
                            self._values,
                            "INTERRUPTED",
                            telemetry,
                        )
                    ),
                )
                count += 1
                if status == "FINISHED":
                    status = "INTERRUPTED"
            emit(
                doc,
                _LoopBoundary(
                    (run, loop_number, parent, loop_name, self.length, loop_start, (now(), status, count))
                ),
            )


class _BatchItem(tuple):
    """A whole `BatchedLoop`: ``(boundary, iterations, item name, count)``."""

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        boundary, iterations, item_name, count = self
        run, loop_number, _parent, loop_name = boundary[:4]
        records = boundary.to_records()
        for iteration in iterations[:count]:
            records.extend(_iteration_records(run, loop_number, loop_name, item_name, iteration))
        return records


class BatchedLoop(Loop):
    """Like `Loop`, but iterations are kept in a preallocated list and published once, when the loop ends.

    Lowest overhead for large loops: no per-iteration telemetry, no per-iteration context (tasks called in the
    body are linked to the enclosing task or run). The list is preallocated when the length is known
    (``len()`` or ``items_length``) and grows otherwise.

    Example::

        loop = capture.BatchedLoop(data, loop_name="eval_loop", item_name="batch")
        for batch in loop:
            loop.end_iter({"metric": batch * 2})
    """

    def __init__(
        self,
        items: Iterable[Any] | int,
        *,
        loop_name: str = "loop",
        item_name: str = "item",
        parent_task: Any = None,
        items_length: int | None = None,
    ) -> None:
        super().__init__(
            items,
            loop_name=loop_name,
            item_name=item_name,
            parent_task=parent_task,
            items_length=items_length,
        )

    def __iter__(self) -> Iterator[Any]:
        if not STATE.on and (STATE.resolved or not resolve()):
            yield from self.items
            return
        context = CURRENT.get() or default_context()
        run = context[0]
        parent = self.parent if self.parent is not None else context[1]
        loop_number = next(COUNTER)
        self.id = _ids.task_id(loop_number)
        now = time.time_ns
        loop_start = now()
        iterations: list[Any] = [None] * self.length if self.length is not None else []
        capacity = len(iterations)
        count = 0
        status = "FINISHED"
        in_progress = False
        start_ns = 0
        number = 0
        value: Any = None
        try:
            for value in self.items:
                number = next(COUNTER)
                self._values = None
                in_progress = True
                start_ns = now()
                yield value
                record = (number, count, value, start_ns, now(), self._values, "FINISHED", None)
                if count < capacity:
                    iterations[count] = record
                else:
                    iterations.append(record)
                    capacity += 1
                count += 1
                in_progress = False
        except GeneratorExit:  # the loop was left early (break, return, an exception in the body)
            raise
        except BaseException:  # the iterable itself failed
            status = "ERROR"
            raise
        finally:
            if in_progress:
                record = (number, count, value, start_ns, now(), self._values, "INTERRUPTED", None)
                if count < capacity:
                    iterations[count] = record
                else:
                    iterations.append(record)
                count += 1
                if status == "FINISHED":
                    status = "INTERRUPTED"
            boundary = _LoopBoundary(
                (run, loop_number, parent, self.loop_name, self.length, loop_start, (now(), status, count))
            )
            _context.emit(run.id, _BatchItem((boundary, iterations, self.item_name, count)))
