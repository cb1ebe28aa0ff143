"""Hostile values and exceptions: the user's program behaves exactly as without capture, and a value capture cannot
describe costs only its own description (a placeholder), never the record of the call that used it.

Each workload runs with the real `Emitter` (on the in-memory sink, both wire versions) so that the emitter thread's
compact paths (`_compact.add_scalar_task`, light-task batches, batched loops) are exercised, not only
`to_records`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from _capture_helpers import run_with_emitter

import capture


class _Raises:
    """Every dunder that describing a value may call raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr refused")

    def __str__(self) -> str:
        raise RuntimeError("str refused")


class _NoAttributes:
    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(f"no attribute {name}")


class _BadLength(list[int]):
    def __len__(self) -> int:
        raise RuntimeError("len refused")


class _BadIteration(list[int]):
    def __iter__(self) -> Any:
        raise RuntimeError("iter refused")


class _BadItems(dict[str, int]):
    def items(self) -> Any:
        raise RuntimeError("items refused")


class _BadDictAttribute:
    @property
    def __dict__(self) -> Any:  # type: ignore[override]
        raise RuntimeError("__dict__ refused")


class _BadShape:
    dtype = "float32"

    @property
    def shape(self) -> Any:
        raise RuntimeError("shape refused")


class _BadKey:
    def __hash__(self) -> int:
        return 1

    def __str__(self) -> str:
        raise RuntimeError("key str refused")

    __repr__ = __str__


class _SetItem:
    def __hash__(self) -> int:
        return 7

    def __repr__(self) -> str:
        raise RuntimeError("set item repr refused")


@dataclasses.dataclass
class _Holder:
    inner: Any


_Pair = collections.namedtuple("_Pair", "left right")


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


HOSTILE: dict[str, Callable[[], Any]] = {
    "repr_raises": _Raises,
    "no_attributes": _NoAttributes,
    "len_raises": lambda: _BadLength([1, 2]),
    "iter_raises": lambda: _BadIteration([1]),
    "items_raises": lambda: _BadItems(a=1),
    "dict_attribute_raises": _BadDictAttribute,
    "shape_raises": _BadShape,
    "set_of_unreprable": lambda: {_SetItem(), _SetItem()},
    "dict_with_unprintable_key": lambda: {_BadKey(): 1},
    "list_of_unreprable": lambda: [_Raises()],
    "dict_of_unreprable": lambda: {"a": _Raises()},
    "dataclass_of_unreprable": lambda: _Holder(_Raises()),
    "named_tuple_of_unreprable": lambda: _Pair(_Raises(), 1),
    "nested_past_the_recursion_limit": lambda: _deep(5000),
    "large_list_of_unreprable": lambda: [_Raises()] * 100,
}


def _run(tmp_path: Any, version: int, workload: Callable[[], None]) -> tuple[list[dict[str, Any]], Any]:
    return run_with_emitter(tmp_path / f"v{version}", version, workload)


def _attr(record: dict[str, Any], name: str) -> Any:
    return next((value for key, value in record.get("a", ()) if key == name), None)


@pytest.mark.parametrize("version", [1, 2])
def test_a_value_capture_cannot_describe_costs_only_its_description(tmp_path, version):
    values = {name: make() for name, make in HOSTILE.items()}
    returned: dict[tuple[str, str], Any] = {}

    def workload() -> None:
        @capture.task(output_names="out")
        def task_identity(x: Any) -> Any:
            return x

        @capture.light_task
        def light_identity(x: Any) -> Any:
            return x

        @capture.task(output_names=["first", "second"])
        def pair(x: Any) -> Any:
            return x

        with capture.Workflow("hostile values"):
            for name, value in values.items():
                returned[(name, "task")] = task_identity(value)
                returned[(name, "light")] = light_identity(value)
                returned[(name, "pair")] = pair(value)
                loop = capture.Loop([value], loop_name=f"loop {name}", item_name="item")
                for item in loop:
                    loop.end_iter({"seen": item})
                batched = capture.BatchedLoop([value], loop_name=f"batched {name}", item_name="item")
                for item in batched:
                    batched.end_iter({"seen": item})
                capture.CustomTask(f"custom {name}", used={"used": value}, generated={"made": value})

    records, emitter = _run(tmp_path, version, workload)
    for (name, how), result in returned.items():  # the program saw its own values, untouched
        assert result is values[name], (name, how)
    assert emitter.stats()["items_failed"] == 0
    assert emitter.stats()["records_dead_lettered"] == 0
    # one activity per call, loop, iteration and custom task (a loop's start and end records share its id)
    by_name = collections.Counter(
        _attr(r, "pg:name") for r in {r["id"]: r for r in records if r["k"] == "activity"}.values()
    )
    for name in HOSTILE:
        for activity in (
            f"loop {name}",
            f"loop {name}.iteration",
            f"batched {name}.iteration",
            f"custom {name}",
        ):
            assert by_name[activity] == 1, (activity, by_name[activity])
    task_names = [
        n for n in by_name if isinstance(n, str) and n.endswith(("task_identity", "light_identity"))
    ]
    assert sum(by_name[n] for n in task_names) == 2 * len(HOSTILE)
    assert sum(by_name[n] for n in by_name if isinstance(n, str) and n.endswith(".pair")) == len(HOSTILE)
    # Where a value could not be described, its entity is the type-and-identity placeholder.
    placeholders = [_attr(r, "pg:repr") for r in records if r["k"] == "entity" and _attr(r, "pg:repr")]
    assert any(str(p).startswith("<test_hostile_values._Raises #0x") for p in placeholders), placeholders[:5]
    assert any(str(p).startswith("<test_hostile_values._BadLength #0x") for p in placeholders)


@pytest.mark.parametrize("version", [1, 2])
def test_a_hostile_value_under_a_secret_name_is_still_a_marker(tmp_path, version):
    def workload() -> None:
        @capture.task
        def login(password: Any, api_token: Any) -> None:
            return None

        with capture.Workflow("hostile secrets"):
            login(_BadLength([1]), _Raises())

    records, emitter = _run(tmp_path, version, workload)
    assert emitter.stats()["items_failed"] == 0
    markers = {
        _attr(r, "pg:role"): _attr(r, "prov:value")
        for r in records
        if r["k"] == "entity" and _attr(r, "pg:redacted")
    }
    assert markers["password"].startswith("[REDACTED:password _BadLength h=")
    assert markers["api_token"].startswith("[REDACTED:api_token _Raises h=")


class _StrRaises(Exception):
    def __str__(self) -> str:
        raise RuntimeError("the message cannot be read")


class _StrNotText(Exception):
    def __str__(self) -> Any:
        return 42


class _ValueErrorOfUnprintable(ValueError):
    pass


@pytest.mark.parametrize(
    "make",
    [_StrRaises, _StrNotText, lambda: _ValueErrorOfUnprintable(_Raises())],
    ids=["str-raises", "str-not-text", "argument-unprintable"],
)
@pytest.mark.parametrize("version", [1, 2])
def test_an_exception_whose_message_cannot_be_read_propagates_itself(tmp_path, version, make):
    raised: list[BaseException] = []
    caught: list[BaseException] = []

    def workload() -> None:
        def fail() -> None:
            exc = make()
            raised.append(exc)
            raise exc

        async def fail_async() -> None:
            fail()

        callers: list[Callable[[], Any]] = [
            capture.task(name="plain")(fail),
            capture.telemetry_task(name="measured")(fail),
            capture.light_task(name="light")(fail),
            lambda: asyncio.run(capture.task(name="async")(fail_async)()),
            lambda: asyncio.run(capture.light_task(name="async light")(fail_async)()),
        ]
        if isinstance(make(), _ValueErrorOfUnprintable):  # asyncio itself reprs a task's exception: not ours
            callers = callers[:3]
        with capture.Workflow("unreadable errors"):
            for call in callers:
                try:
                    call()
                except BaseException as exc:  # noqa: BLE001 - what propagates is the test
                    caught.append(exc)
            try:
                with capture.CustomTask("custom"):
                    fail()
            except BaseException as exc:  # noqa: BLE001
                caught.append(exc)
        try:
            with capture.Workflow("failing run"):
                fail()
        except BaseException as exc:  # noqa: BLE001
            caught.append(exc)

    records, emitter = _run(tmp_path, version, workload)
    assert len(caught) == len(raised) >= 5
    assert all(got is exc for got, exc in zip(caught, raised, strict=True)), caught
    errors = {
        _attr(r, "pg:name"): _attr(r, "pg:error")
        for r in records
        if r["k"] == "activity" and _attr(r, "pg:error")
    }
    names = ["plain", "measured", "light", "async", "async light", "custom", "failing run"]
    for name in names if len(raised) == 7 else names[:3] + names[5:]:
        assert name in errors, (name, sorted(errors))
        assert errors[name].startswith(type(raised[0]).__name__ + ": "), errors[name]
    assert emitter.stats()["items_failed"] == 0


class _HostileResponse:
    """An LLM response whose every field raises when read."""

    @property
    def content(self) -> Any:
        raise RuntimeError("content refused")

    @property
    def usage(self) -> Any:
        raise RuntimeError("usage refused")

    @property
    def choices(self) -> Any:
        raise RuntimeError("choices refused")


@pytest.mark.parametrize("version", [1, 2])
def test_agent_and_llm_calls_with_values_that_cannot_be_read_are_recorded(tmp_path, version):
    returned: list[Any] = []

    def workload() -> None:
        @capture.agent_task(agent="bot")
        def ask(prompt: Any) -> Any:
            return _Raises()

        @capture.agent_task(agent="bot")
        def ask_again(prompt: Any) -> Any:
            return _HostileResponse()

        with capture.Workflow("hostile agents"):
            returned.append(ask(_Raises()))
            returned.append(ask_again([_Raises()]))
            returned.append(capture.record_llm_call("m1", prompt=_Raises(), response=_Raises()))
            returned.append(
                capture.record_llm_call(
                    "m2", prompt=[{"role": "user", "content": _Raises()}], response=_HostileResponse()
                )
            )

    records, emitter = _run(tmp_path, version, workload)
    assert isinstance(returned[0], _Raises) and isinstance(returned[1], _HostileResponse)
    assert all(isinstance(task_id, str) and task_id.startswith("pgid:task_") for task_id in returned[2:])
    assert emitter.stats()["items_failed"] == 0
    names = {_attr(r, "pg:name") for r in records if r["k"] == "activity"}
    assert {"llm:m1", "llm:m2"} <= names
    assert any(str(n).endswith(".ask") for n in names) and any(str(n).endswith(".ask_again") for n in names)


@pytest.mark.parametrize("version", [1, 2])
def test_names_that_are_not_text_are_recorded_as_before(tmp_path, version):
    def workload() -> None:
        @capture.task(name=7)  # type: ignore[call-overload]
        def numbered(x: Any) -> Any:
            return x

        with capture.Workflow(name=123):  # type: ignore[arg-type]
            numbered(1)
            loop = capture.Loop([1], loop_name=5)  # type: ignore[arg-type]
            for item in loop:
                loop.end_iter({"v": item})
            capture.CustomTask(9, generated={"g": 1})  # type: ignore[arg-type]

    records, emitter = _run(tmp_path, version, workload)
    assert emitter.stats()["items_failed"] == 0
    names = {_attr(r, "pg:name") for r in records if r["k"] == "activity"}
    assert {123, 7, 5, "5.iteration", 9} <= names, names


@pytest.mark.parametrize("version", [1, 2])
def test_keys_that_are_not_text_become_text_roles(tmp_path, version):
    """`end_iter({1: x})`, `used={(2, 3): y}`, a non-text `item_name`: roles are names, so each is its `str` (under
    wire version 2 such an event made the reader refuse its whole message)."""

    def workload() -> None:
        @capture.task
        def keyed() -> Any:
            return {1: "one", (2, 3): "pair", _BadKey(): "unprintable"}

        with capture.Workflow("non-text keys"):
            keyed()
            loop = capture.Loop([10], loop_name="loop", item_name=4)  # type: ignore[arg-type]
            for item in loop:
                loop.end_iter({1: item, 2.5: item})
            batched = capture.BatchedLoop([20], loop_name="batched")
            for item in batched:
                batched.end_iter({7: item})
            capture.CustomTask("custom", used={1: 1}, generated={None: 2})

    records, emitter = _run(tmp_path, version, workload)  # every message decodes (the reader's checks)
    assert emitter.stats()["items_failed"] == 0
    roles = [_attr(r, "pg:role") for r in records if r["k"] == "entity" and _attr(r, "pg:role") is not None]
    assert all(type(role) is str for role in roles), roles
    assert {"1", "(2, 3)", "<_BadKey>", "4", "2.5", "7", "None"} <= set(roles), roles


@pytest.mark.parametrize("version", [1, 2])
def test_a_time_no_record_can_hold_is_refused_where_it_is_given(tmp_path, version):
    """Before, `ended_at=1e30` was accepted and the custom task lost on the emitter (OverflowError)."""

    def workload() -> None:
        with capture.Workflow("times"):
            for bad in ({"ended_at": 1e30}, {"started_at": float("nan")}, {"ended_at": -1e20}):
                with pytest.raises(ValueError, match="not a time a record can hold"):
                    capture.CustomTask("bad time", generated={"x": 1}, **bad)
            capture.CustomTask("good time", generated={"x": 1}, ended_at=1_700_000_000.5)

    records, emitter = _run(tmp_path, version, workload)
    assert emitter.stats()["items_failed"] == 0
    names = [_attr(r, "pg:name") for r in records if r["k"] == "activity"]
    assert "good time" in names and "bad time" not in names
