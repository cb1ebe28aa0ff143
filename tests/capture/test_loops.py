"""Loop and BatchedLoop: per-iteration tasks, end_iter values, unknown lengths, early exits lose nothing."""

from __future__ import annotations

import itertools

import pytest
from _capture_helpers import attr, of_kind

import capture


def _iterations(records):
    return [r for r in of_kind(records, "activity") if attr(r, "pg:iteration") is not None]


def _loops(records):
    return [
        r
        for r in of_kind(records, "activity")
        if attr(r, "prov:type") == {"$": "pg:Loop", "type": "prov:QUALIFIED_NAME"}
    ]


@pytest.mark.parametrize("loop_class", [capture.Loop, capture.BatchedLoop])
def test_iterations_with_values(memory_emitter, loop_class):
    with capture.Workflow() as run:
        loop = loop_class(range(5), loop_name="train_loop", item_name="epoch")
        for epoch in loop:
            loop.end_iter({"loss": 0.1 * (5 - epoch)})
    records = memory_emitter.records(run.id)
    iterations = _iterations(records)
    assert [attr(r, "pg:iteration") for r in iterations] == [0, 1, 2, 3, 4]
    assert {attr(r, "pg:status") for r in iterations} == {"FINISHED"}
    assert {attr(r, "prov:role") for r in of_kind(records, "used")} == {"epoch"}
    losses = [attr(e, "prov:value") for e in of_kind(records, "entity") if attr(e, "pg:role") == "loss"]
    assert len(losses) == 5
    loop_ids = {r["id"] for r in _loops(records)}
    assert len(loop_ids) == 1
    starters = {r["f"]["activity"]: r["f"]["starter"] for r in of_kind(records, "wasStartedBy")}
    assert all(starters[r["id"]] in loop_ids for r in iterations)
    assert starters[loop_ids.pop()] == run.id
    final = [r for r in _loops(records) if "endTime" in r["f"]]
    assert attr(final[0], "pg:iterations") == 5 and attr(final[0], "pg:status") == "FINISHED"


@pytest.mark.parametrize("loop_class", [capture.Loop, capture.BatchedLoop])
def test_unknown_length_iterator_is_never_materialised(memory_emitter, loop_class):
    consumed = []

    def stream():
        for i in itertools.count():
            consumed.append(i)
            yield i

    with capture.Workflow() as run:
        loop = loop_class(stream(), loop_name="stream", item_name="i", items_length=100)
        for i in loop:
            loop.end_iter({"v": i * i})
            if i == 9:
                break
    assert len(consumed) == 10  # lazily pulled, never listed
    records = memory_emitter.records(run.id)
    statuses = [attr(r, "pg:status") for r in _iterations(records)]
    assert statuses == ["FINISHED"] * 9 + ["INTERRUPTED"]
    final = [r for r in _loops(records) if "endTime" in r["f"]][0]
    assert attr(final, "pg:items_length") == 100 and attr(final, "pg:iterations") == 10


@pytest.mark.parametrize("loop_class", [capture.Loop, capture.BatchedLoop])
def test_exception_in_body_keeps_completed_iterations(memory_emitter, loop_class):
    with capture.Workflow() as run:
        with pytest.raises(RuntimeError):
            for i in loop_class(10):
                if i == 3:
                    raise RuntimeError("stop")
    iterations = _iterations(memory_emitter.records(run.id))
    assert len(iterations) == 4
    assert attr(iterations[-1], "pg:status") == "INTERRUPTED"


def test_tasks_inside_an_iteration_are_started_by_it(memory_emitter):
    @capture.task
    def work(x):
        return x

    with capture.Workflow() as run:
        for i in capture.Loop(2, loop_name="outer"):
            work(i)
    records = memory_emitter.records(run.id)
    iteration_ids = {r["id"] for r in _iterations(records)}
    work_ids = {
        r["id"] for r in of_kind(records, "activity") if attr(r, "pg:name") and "work" in attr(r, "pg:name")
    }
    starters = {r["f"]["activity"]: r["f"]["starter"] for r in of_kind(records, "wasStartedBy")}
    assert {starters[w] for w in work_ids} == iteration_ids


def test_parent_task_and_batched_single_publish(memory_emitter):
    with capture.Workflow() as run:
        parent = capture.CustomTask("epoch_driver")
        before = len(memory_emitter.items)
        loop = capture.BatchedLoop([0, 1, 2], parent_task=parent, item_name="batch")
        for batch in loop:
            loop.end_iter({"metric": batch * 2})
        assert len(memory_emitter.items) == before + 1  # one publish for the whole loop
        parent.end()
    records = memory_emitter.records(run.id)
    (loop_record,) = _loops(records)
    starters = {r["f"]["activity"]: r["f"]["starter"] for r in of_kind(records, "wasStartedBy")}
    assert starters[loop_record["id"]] == parent.id


def test_telemetry_loop_without_module_still_records_iterations(memory_emitter):
    with capture.Workflow() as run:
        for _ in capture.Loop(3, telemetry=True):
            pass
    assert len(_iterations(memory_emitter.records(run.id))) == 3


def test_a_parent_is_checked_where_it_is_given(memory_emitter):
    with pytest.raises(ValueError, match="mock_task123"):
        capture.Loop(range(2), parent_task="mock_task123")
    with pytest.raises(ValueError, match="not the id of a task"):
        capture.CustomTask("x", parent_task="proj:task1")
    with pytest.raises(ValueError, match="a task"):
        capture.BatchedLoop(range(2), parent_task=object())
    with capture.Workflow() as run:
        with capture.CustomTask("parent") as parent:
            pass
        loop = capture.Loop(range(2), parent_task=parent.id)  # the id of a task capture made
        assert list(loop) == [0, 1]
        with pytest.raises(ValueError, match="no such task"):
            capture.Loop(range(1), parent_task=parent.id.rsplit("_", 1)[0] + "_999999999")
    starts = [
        r
        for r in memory_emitter.records(run.id)
        if r["k"] == "wasStartedBy" and r["f"]["activity"] == loop.id
    ]
    assert starts[0]["f"]["starter"] == parent.id


class _LenRaises(list):
    def __len__(self):
        raise RuntimeError("no length today")


class _Sized:
    """Iterates over ``items`` whatever its ``__len__`` says."""

    def __init__(self, items, length):
        self.items, self.length = items, length

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return self.length


@pytest.mark.parametrize("loop_class", [capture.Loop, capture.BatchedLoop])
@pytest.mark.parametrize(
    "make",
    [
        lambda: _LenRaises([1, 2]),
        lambda: _Sized([1, 2], -1),  # len() itself raises ValueError
        lambda: _Sized([1, 2], 2**63),  # len() raises OverflowError
        lambda: _Sized([1, 2], 10**12),  # a length no list can preallocate
        lambda: _Sized([1, 2, 3], 1),  # a length that is wrong
    ],
    ids=["len-raises", "negative", "overflow", "huge", "wrong"],
)
def test_a_length_that_fails_or_lies_costs_the_loop_nothing(memory_emitter, loop_class, make):
    items = make()
    expected = list(items.items if isinstance(items, _Sized) else list.__iter__(items))
    with capture.Workflow("lengths") as run:
        loop = loop_class(items, loop_name="lengths")
        seen = []
        for item in loop:  # iterates as it would without capture
            seen.append(item)
            loop.end_iter({"v": item})
    assert seen == expected
    iterations = [
        r for r in of_kind(memory_emitter.records(run.id), "activity") if attr(r, "pg:iteration") is not None
    ]
    assert sorted(attr(r, "pg:iteration") for r in iterations) == list(range(len(expected)))
