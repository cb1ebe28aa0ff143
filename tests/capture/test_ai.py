"""Agent tool/LLM call capture and torch-style model instrumentation (no torch, no LLM library)."""

from __future__ import annotations

from _capture_helpers import attr, of_kind

import capture


class Reply:
    def __init__(self, content, usage):
        self.content = content
        self.usage = usage
        self.model = "stub-llm-1"


def test_agent_task_records_prompt_response_tool_and_tokens(memory_emitter):
    @capture.agent_task(agent="planner", tool_name="summarise")
    def summarise(prompt, temperature=0.0):
        return Reply("short answer", {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})

    with capture.Workflow() as run:
        summarise("Summarise the report")
    records = memory_emitter.records(run.id)
    (call,) = [r for r in of_kind(records, "activity") if attr(r, "pg:kind") == "agent_call"]
    assert attr(call, "pg:tool_name") == "summarise"
    assert attr(call, "pg:prompt") == "Summarise the report"
    assert attr(call, "pg:response") == "short answer"
    assert attr(call, "pg:llm_model") == "stub-llm-1"
    assert (attr(call, "pg:tokens_in"), attr(call, "pg:tokens_out"), attr(call, "pg:tokens_total")) == (
        12,
        3,
        15,
    )
    agent = [r for r in of_kind(records, "agent") if r["id"] == "pgid:agent_planner"][0]
    assert attr(agent, "prov:type") == {"$": "prov:SoftwareAgent", "type": "prov:QUALIFIED_NAME"}
    assert {"activity": call["id"], "agent": "pgid:agent_planner"} in [
        r["f"] for r in of_kind(records, "wasAssociatedWith")
    ]


class FakeTensor:
    def __init__(self, shape):
        self.shape = shape
        self.dtype = "float32"


class FakeParameter:
    def __init__(self, count):
        self.count = count

    def numel(self):
        return self.count


class Module:  # a torch.nn.Module stand-in: __call__ dispatches to forward
    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def parameters(self):
        return [FakeParameter(10), FakeParameter(1)]


def test_instrument_model_class_records_each_forward(memory_emitter):
    @capture.instrument_model
    class MyNet(Module):
        def forward(self, x):
            return FakeTensor((x.shape[0], 1))

    model = MyNet()
    with capture.Workflow() as run:
        for _ in range(3):
            out = model(FakeTensor((100, 10)))
    assert out.shape == (100, 1)
    records = memory_emitter.records(run.id)
    forwards = [r for r in of_kind(records, "activity") if attr(r, "pg:name") == "MyNet.forward"]
    assert len(forwards) == 3
    model_entities = [
        e
        for e in of_kind(records, "entity")
        if attr(e, "prov:type") == {"$": "pg:Model", "type": "prov:QUALIFIED_NAME"}
    ]
    assert len(model_entities) == 1 and attr(model_entities[0], "pg:parameters") == 11
    model_uses = [r for r in of_kind(records, "used") if attr(r, "prov:role") == "model"]
    assert len(model_uses) == 3 and len({r["f"]["entity"] for r in model_uses}) == 1
    shapes = [attr(e, "pg:shape") for e in of_kind(records, "entity") if attr(e, "pg:shape")]
    assert "[100,10]" in shapes and "[100,1]" in shapes


def test_instrument_model_instance_only(memory_emitter):
    class Net(Module):
        def forward(self, x):
            return x

    plain, instrumented = Net(), capture.instrument_model(Net())
    with capture.Workflow() as run:
        plain(1)
        instrumented(2)
    forwards = [
        r for r in of_kind(memory_emitter.records(run.id), "activity") if attr(r, "pg:name") == "Net.forward"
    ]
    assert len(forwards) == 1
