"""Task decorators: binding, outputs, options, errors, nesting, async, threads, disabled capture."""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import datetime
import inspect
import threading

import pytest
from _capture_helpers import attr, of_kind

import capture
from capture import _context


def task_activities(records):
    return [
        r
        for r in of_kind(records, "activity")
        if attr(r, "prov:type") == {"$": "pg:Task", "type": "prov:QUALIFIED_NAME"}
    ]


def test_quickstart_lineage(memory_emitter):
    @capture.task(output_names="o1")
    def sum_one(i1):
        return i1 + 1

    @capture.task(output_names="o2")
    def mult_two(o1):
        return o1 * 2

    with capture.Workflow("quickstart") as run:
        assert mult_two(sum_one(3)) == 8
    records = memory_emitter.records(run.id)
    tasks = {attr(t, "pg:name"): t for t in task_activities(records)}
    assert set(tasks) == {
        "test_quickstart_lineage.<locals>.sum_one",
        "test_quickstart_lineage.<locals>.mult_two",
    }
    sum_id = tasks["test_quickstart_lineage.<locals>.sum_one"]["id"]
    mult_id = tasks["test_quickstart_lineage.<locals>.mult_two"]["id"]
    generated = {r["f"]["activity"]: r["f"]["entity"] for r in of_kind(records, "wasGeneratedBy")}
    o1, o2 = generated[sum_id], generated[mult_id]
    used = [(r["f"]["activity"], r["f"]["entity"], attr(r, "prov:role")) for r in of_kind(records, "used")]
    assert (mult_id, o1, "o1") in used
    derived = [(r["f"]["generatedEntity"], r["f"]["usedEntity"]) for r in of_kind(records, "wasDerivedFrom")]
    assert (o2, o1) in derived
    started = {r["f"]["activity"]: r["f"]["starter"] for r in of_kind(records, "wasStartedBy")}
    assert started[sum_id] == run.id and started[mult_id] == run.id
    task = tasks["test_quickstart_lineage.<locals>.sum_one"]
    assert attr(task, "pg:status") == "FINISHED"
    start, end = (datetime.datetime.fromisoformat(task["f"][t]) for t in ("startTime", "endTime"))
    assert start.utcoffset() == datetime.datetime.now().astimezone().utcoffset() and end >= start


def test_inputs_bound_to_names_defaults_and_namespace(memory_emitter):
    @capture.task
    def f(a, b=2, *rest, c=5, **extra):
        return None

    with capture.Workflow() as run:
        f(1, 3, 4, c=6, z=7)
        f(argparse.Namespace(lr=0.1, epochs=3))
    records = memory_emitter.records(run.id)
    first, second = task_activities(records)
    roles = {}
    for r in of_kind(records, "used"):
        roles.setdefault(r["f"]["activity"], set()).add(attr(r, "prov:role"))
    assert roles[first["id"]] == {"a", "b", "rest[0]", "c", "z"}
    assert roles[second["id"]] == {"lr", "epochs", "b", "c"}


def test_output_names_tuple_dict_and_default(memory_emitter):
    @capture.task(output_names=["y", "z"])
    def pair(x):
        return x * 2, x * 3

    @capture.task
    def as_dict(x):
        return {"p": x, "q": x + 1}

    @capture.task
    def plain(x):
        return x

    with capture.Workflow() as run:
        pair(5)
        as_dict(1)
        plain(9)
    records = memory_emitter.records(run.id)
    roles = sorted(attr(r, "prov:role") for r in of_kind(records, "wasGeneratedBy"))
    assert roles == ["p", "q", "return", "y", "z"]
    values = {attr(e, "pg:role"): attr(e, "prov:value") for e in of_kind(records, "entity")}
    assert values["y"] == 10 and values["z"] == 15


def test_tags_metadata_campaign_and_workflow_override(memory_emitter):
    @capture.task(
        tags=["math", "demo"], custom_metadata={"owner": "devX"}, campaign_id="c42", workflow_id="other"
    )
    def compute(x):
        return x

    with capture.Workflow("main") as run:
        compute(1)
    assert memory_emitter.records(run.id) and not task_activities(memory_emitter.records(run.id))
    (task,) = task_activities(memory_emitter.records("pgid:run_other"))
    assert attr(task, "pg:tags") == ["math", "demo"]
    assert attr(task, "pg:custom_metadata") == '{"owner":"devX"}'
    assert attr(task, "pg:campaign") == "c42"


def test_args_handler_decides_inputs(memory_emitter):
    def drop_big(*args, **kwargs):
        return {k: v for k, v in kwargs.items() if k != "very_big_list"}

    @capture.task(args_handler=drop_big, output_names="result")
    def heavy(x, very_big_list):
        return x * 2

    with capture.Workflow() as run:
        heavy(x=3, very_big_list=list(range(10)))
    roles = [attr(r, "prov:role") for r in of_kind(memory_emitter.records(run.id), "used")]
    assert roles == ["x"]


def test_error_recorded_and_reraised_unchanged(memory_emitter):
    class Boom(Exception):
        pass

    error = Boom("bad input")

    @capture.task
    def fails(x):
        raise error

    with capture.Workflow() as run:
        with pytest.raises(Boom) as caught:
            fails(1)
    assert caught.value is error
    (task,) = task_activities(memory_emitter.records(run.id))
    assert attr(task, "pg:status") == "ERROR"
    assert attr(task, "pg:error") == "Boom: bad input"
    assert _context.CURRENT.get() is None


def test_nested_tasks_are_started_by_their_parent(memory_emitter):
    @capture.task
    def inner(x):
        return x

    @capture.task
    def outer(x):
        return inner(x)

    with capture.Workflow() as run:
        outer(1)
    records = memory_emitter.records(run.id)
    by_name = {attr(t, "pg:name").rsplit(".", 1)[-1]: t["id"] for t in task_activities(records)}
    starters = {r["f"]["activity"]: r["f"]["starter"] for r in of_kind(records, "wasStartedBy")}
    assert starters[by_name["inner"]] == by_name["outer"]
    assert starters[by_name["outer"]] == run.id


def test_async_task_and_threads_inherit_context(memory_emitter):
    @capture.task(output_names="y")
    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    @capture.task
    def in_thread(x):
        return x

    with capture.Workflow() as run:
        assert asyncio.run(double(4)) == 8
        ctx = contextvars.copy_context()
        worker = threading.Thread(target=ctx.run, args=(in_thread, 5))
        worker.start()
        worker.join()
    names = sorted(
        attr(t, "pg:name").rsplit(".", 1)[-1] for t in task_activities(memory_emitter.records(run.id))
    )
    assert names == ["double", "in_thread"]


def test_light_task_records_ids_times_status_inputs(memory_emitter):
    @capture.light_task
    def fast(x):
        return x + 1

    with capture.Workflow() as run:
        for i in range(600):
            fast(i)
        with pytest.raises(TypeError):
            fast("a")
    tasks = task_activities(memory_emitter.records(run.id))
    assert len(tasks) == 601
    assert len({t["id"] for t in tasks}) == 601
    assert sorted({attr(t, "pg:status") for t in tasks}) == ["ERROR", "FINISHED"]
    assert all("startTime" in t["f"] and "endTime" in t["f"] for t in tasks)
    used = of_kind(memory_emitter.records(run.id), "used")
    assert len(used) == 601 and {attr(r, "prov:role") for r in used} == {"x"}


def test_machine_agent_declared_once_per_run_and_associated_with_each_telemetry_task(memory_emitter):
    @capture.task(telemetry=True)
    def step(x):
        return x

    with capture.Workflow() as run:
        step(1)
        step(2)
    records = memory_emitter.records(run.id)
    phases = sorted(attr(e, "pg:phase") for e in of_kind(records, "entity") if attr(e, "pg:phase"))
    assert phases == ["end", "end", "start", "start"]
    machines = [r for r in of_kind(records, "agent") if r["id"].startswith("pgid:machine_")]
    assert len(machines) == 1
    machine_id = machines[0]["id"]
    associations = [
        r["f"]["activity"] for r in of_kind(records, "wasAssociatedWith") if r["f"]["agent"] == machine_id
    ]
    assert run.id in associations and len(associations) == 3


def test_disabled_capture_is_a_plain_call(memory_emitter):
    _context.set_enabled(False)

    @capture.task
    def f(x):
        return x + 1

    @capture.light_task
    def g(x):
        return x + 1

    with capture.Workflow() as run:
        assert f(1) == 2 and g(1) == 2
        assert list(capture.Loop(3)) == [0, 1, 2]
    assert memory_emitter.items == []
    assert run.id


def test_tasks_outside_a_workflow_go_to_a_default_run(memory_emitter):
    @capture.task
    def f(x):
        return x

    f(1)
    docs = {doc for doc, _ in memory_emitter.items}
    assert len(docs) == 1
    records = memory_emitter.records()
    runs = [r for r in of_kind(records, "activity") if attr(r, "pg:subtype") == "implicit"]
    assert runs and len(task_activities(records)) == 1


def test_secret_named_inputs_are_redacted(memory_emitter):
    @capture.task
    def call(url, api_key):
        return 1

    with capture.Workflow() as run:
        call("https://example.org", "sk-123")
    entities = of_kind(memory_emitter.records(run.id), "entity")
    secret = [e for e in entities if attr(e, "pg:role") == "api_key"]
    assert attr(secret[0], "pg:redacted") is True
    assert "sk-123" not in str(memory_emitter.records(run.id))


def test_disabled_by_environment_returns_the_function_itself(monkeypatch):
    monkeypatch.setenv("PROVGRAPH_DISABLED", "1")

    def f(x):
        return x

    class Net:
        def forward(self, x):
            return x

    assert capture.task(f) is f
    assert capture.task(output_names="y")(f) is f
    assert capture.light_task(f) is f
    assert capture.agent_task(agent="a")(f) is f
    assert capture.instrument_model(Net) is Net and Net.forward.__name__ == "forward"


def test_thread_without_copied_context_joins_the_running_workflow(memory_emitter):
    @capture.task
    def in_thread(x):
        return x

    with capture.Workflow() as run:
        worker = threading.Thread(target=in_thread, args=(1,))  # no copy_context
        worker.start()
        worker.join()
    assert len(task_activities(memory_emitter.records(run.id))) == 1
    assert _context.ACTIVE_RUNS == []


def test_async_light_task(memory_emitter):
    @capture.light_task
    async def fast(x):
        return x + 1

    with capture.Workflow() as run:
        assert asyncio.run(fast(1)) == 2
    assert len(task_activities(memory_emitter.records(run.id))) == 1


def test_a_call_that_fails_to_bind_raises_typeerror_and_records_nothing(memory_emitter):
    @capture.task
    def f(x, y):
        return x + y

    @capture.light_task
    def g(x):
        return x

    @capture.task
    def inside(x):
        raise TypeError("raised by the function itself")

    with capture.Workflow() as run:
        with pytest.raises(TypeError):
            f(3, x=4)
        with pytest.raises(TypeError):
            g()
        with pytest.raises(TypeError, match="itself"):
            inside(1)
    tasks = task_activities(memory_emitter.records(run.id))
    assert [attr(t, "pg:name").rsplit(".", 1)[-1] for t in tasks] == ["inside"]  # only the real failure


def test_tags_are_repeated_attributes_even_for_one_tag(memory_emitter):
    @capture.task(tags=["only"])
    def one():
        return None

    @capture.task(tags="single")
    def text():
        return None

    with capture.Workflow() as run:
        one()
        text()
    tags = [[v for k, v in t["a"] if k == "pg:tags"] for t in task_activities(memory_emitter.records(run.id))]
    assert tags == [["only"], ["single"]]


@pytest.mark.parametrize(
    "decorator",
    [capture.task, capture.light_task, capture.telemetry_task, capture.agent_task(agent="a")],
    ids=["task", "light_task", "telemetry_task", "agent_task"],
)
def test_a_decorator_above_staticmethod_or_classmethod_keeps_the_method_kind(memory_emitter, decorator):
    class Tool:
        @decorator
        @staticmethod
        def scale(x, factor=2):
            return x * factor

        @decorator
        @classmethod
        def make(cls, size):
            return cls, size

    tool = Tool()
    with capture.Workflow("methods") as run:
        assert Tool.scale(3) == 6 and tool.scale(3, factor=3) == 9  # as without capture
        assert Tool.make(4) == (Tool, 4) and tool.make(size=5) == (Tool, 5)
        capture.flush(5)
    assert isinstance(Tool.__dict__["scale"], staticmethod)
    assert isinstance(Tool.__dict__["make"], classmethod)
    assert str(inspect.signature(Tool.scale)) == "(x, factor=2)"
    assert str(inspect.signature(Tool.make)) == "(size)"
    records = memory_emitter.records(run.id)
    calls = [
        t for t in of_kind(records, "activity") if str(attr(t, "pg:name")).startswith("test_a_decorator")
    ]
    assert sorted(str(attr(t, "pg:name")).rsplit(".", 1)[1] for t in calls) == [
        "make",
        "make",
        "scale",
        "scale",
    ]
    roles = sorted(attr(e, "pg:role") for e in of_kind(records, "entity") if attr(e, "pg:role"))
    assert "cls" not in roles and roles.count("size") == 2 and roles.count("x") == 2


def _by_name(records, suffix):
    return [t for t in task_activities(records) if str(attr(t, "pg:name")).endswith(suffix)]


@pytest.mark.parametrize("decorator", [capture.task, capture.light_task], ids=["task", "light_task"])
def test_a_generator_function_is_recorded_over_its_iteration(memory_emitter, decorator):
    @capture.task
    def inner_step(x):
        return x + 1

    @decorator
    def produce(n):
        for i in range(n):
            yield inner_step(i)  # called while the generator runs: a child of its task
        return "done"

    @capture.task
    def consume(x):
        return x

    assert inspect.isgeneratorfunction(produce)  # frameworks (pytest fixtures, FastAPI dependencies) look
    with capture.Workflow("generators") as run:
        generator = produce(3)
        assert list(generator) == [1, 2, 3]
        capture.flush(5)
        echo = produce(2)
        assert echo.send(None) == 1
        consume(5)  # the consumer's own task, while the generator is suspended: not its child
        assert echo.send("ignored") == 2
        with pytest.raises(StopIteration) as stop:
            next(echo)
        assert stop.value.value == "done"
        early = produce(5)
        assert next(early) == 1
        early.close()  # left early (a `break`)
        failing = produce(2)
        next(failing)
        with pytest.raises(KeyError):
            failing.throw(KeyError("thrown in"))
        never = produce(1)  # never iterated: its body never ran
        del never
    records = memory_emitter.records(run.id)
    produced = _by_name(records, "produce")
    assert len(produced) == 4
    by_status = sorted(attr(t, "pg:status") for t in produced)
    assert by_status == ["ERROR", "FINISHED", "FINISHED", "FINISHED"]
    assert any("KeyError" in str(attr(t, "pg:error")) for t in produced)
    first = produced[0]
    children = [t for t in _by_name(records, "inner_step") if attr(t, "pg:started_by") == first["id"]]
    assert len(children) == 3  # the steps run inside the first iteration belong to it
    (consumer,) = _by_name(records, "consume")
    assert attr(consumer, "pg:started_by") == run.id
    outputs = [e for e in of_kind(records, "entity") if attr(e, "prov:value") == "done"]
    assert len(outputs) == 2  # the return value of each generator that returned


def test_an_async_generator_function_is_recorded_over_its_iteration(memory_emitter):
    @capture.task
    async def produce(n):
        for i in range(n):
            yield i

    async def main():
        got = [x async for x in produce(3)]
        partial = produce(5)
        first = await partial.__anext__()
        await partial.aclose()
        return got, first

    assert inspect.isasyncgenfunction(produce)
    with capture.Workflow("async generators") as run:
        assert asyncio.run(main()) == ([0, 1, 2], 0)
    produced = _by_name(memory_emitter.records(run.id), "produce")
    assert [attr(t, "pg:status") for t in produced] == ["FINISHED", "FINISHED"]
