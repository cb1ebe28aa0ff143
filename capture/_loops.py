"""Loop instrumentation: `Loop` (one task per iteration, streamed) and `BatchedLoop` (one publish at the end).

Both iterate ranges (an ``int`` means ``range(n)``), sized iterables and plain iterators without ever
materialising them. Leaving a loop early (``break``, ``return`` or an exception) loses nothing: completed
iterations are kept, and the iteration in progress is recorded with status ``INTERRUPTED``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from capture import _ids
from capture._context import CURRENT, STATE, resolve
from capture._handoff import default_context, emit
from capture._ids import COUNTER
from capture._records import BatchItem, IterationItem, LoopBoundary, LoopEnd
from capture._telemetry import new_task_telemetry, telemetry_phase

__all__ = ["BatchedLoop", "Loop"]

_PREALLOCATED = 1 << 20
"""Most iterations a `BatchedLoop` allocates room for before it starts (8 MiB of references); it grows past it."""


def _length_of(items: Any, items_length: int | None) -> int | None:
    if items_length is not None:
        return int(items_length)
    try:
        return len(items)
    except Exception:  # noqa: BLE001 - no len(), or a __len__ that raises or is negative: an unknown length
        return None


class Loop:
    """Iterate while recording each iteration as a task (streamed as it ends), under a ``pg:Loop`` activity.

    Args:
        items: an iterable, an iterator, or an ``int`` (``range(items)``).
        loop_name: name of the loop activity.
        item_name: role under which each item is recorded as the iteration's input.
        parent_task: the task the loop belongs to: a task object (a `CustomTask`, a started `Loop`) or the id of a task
            capture made (default: the current task or run); anything else raises `ValueError` here.
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
        self.parent = _ids.known_task(parent_task) if parent_task is not None else None
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
        context = CURRENT.get() or default_context()
        run = context[0]
        parent = self.parent if self.parent is not None else context[1]
        loop_number = next(COUNTER)
        self.id = _ids.task_id(loop_number)
        hand_over = STATE.emit  # the emitter's own emit: one call per iteration
        doc = run.id
        now = time.time_ns
        loop_start = now()
        new_item = tuple.__new__  # IterationItem's fields as one tuple: a plain tuple's cost (see TaskItem)
        item = IterationItem
        hand_over(doc, LoopBoundary(run, loop_number, parent, self.loop_name, self.length, loop_start, None))
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
                hand_over(
                    doc,
                    new_item(
                        item,
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
                        ),
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
                hand_over(
                    doc,
                    new_item(
                        item,
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
                        ),
                    ),
                )
                count += 1
                if status == "FINISHED":
                    status = "INTERRUPTED"
            hand_over(
                doc,
                LoopBoundary(
                    run,
                    loop_number,
                    parent,
                    loop_name,
                    self.length,
                    loop_start,
                    LoopEnd(now(), status, count),
                ),
            )


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
        # of `Iteration`s; a length beyond `_PREALLOCATED` (or a wrong one) is grown into, never allocated up front
        iterations: list[Any] = [None] * min(self.length, _PREALLOCATED) if self.length is not None else []
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
            boundary = LoopBoundary(
                run,
                loop_number,
                parent,
                self.loop_name,
                self.length,
                loop_start,
                LoopEnd(now(), status, count),
            )
            emit(run.id, BatchItem(boundary, iterations, self.item_name, count))
