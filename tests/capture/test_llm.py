"""Token usage read from each provider's own response classes (built locally, no network) and their dict forms,
and `capture.record_llm_call` inside a task, inside a run and outside any workflow."""

from __future__ import annotations

import os

import pytest
from _capture_helpers import attr, of_kind

import capture
from capture import TokenUsage, read_usage
from capture._llm import MAX_TEXT, response_text

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # LiteLLM would fetch its price list at import


def _openai():
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
    )


def _anthropic(**usage):
    import anthropic.types

    return anthropic.types.Message.model_validate(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
    )


def _gemini(**counts):
    from google.genai import types

    return types.GenerateContentResponse(
        model_version="gemini-flash",
        candidates=[types.Candidate(content=types.Content(role="model", parts=[types.Part(text="g")]))],
        usage_metadata=types.GenerateContentResponseUsageMetadata(**counts),
    )


def _litellm(cost=None):
    import litellm

    reply = litellm.ModelResponse(
        model="mistral-small", usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    )
    reply.choices[0].message.content = "l"
    if cost is not None:
        reply._hidden_params["response_cost"] = cost
    return reply


def test_openai_shape():
    reply = _openai()
    assert read_usage(reply) == TokenUsage(10, 5, 15, None, "gpt-4o-mini")
    assert read_usage(reply.model_dump()) == read_usage(reply)  # the dict form reads the same
    assert response_text(reply) == "hi"


def test_openai_responses_api_shape():
    usage = {
        "input_tokens": 8,
        "output_tokens": 2,
        "total_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4},
    }
    assert read_usage({"model": "gpt-5", "usage": usage, "output_text": "r"}) == TokenUsage(
        8, 2, 10, None, "gpt-5"
    )
    assert response_text({"output_text": "r"}) == "r"


def test_anthropic_shape_derives_the_total_and_counts_cached_input():
    assert read_usage(_anthropic(input_tokens=7, output_tokens=3)) == TokenUsage(
        7, 3, 10, None, "claude-haiku"
    )
    reply = _anthropic(
        input_tokens=7, output_tokens=3, cache_read_input_tokens=2, cache_creation_input_tokens=5
    )
    assert read_usage(reply) == TokenUsage(14, 3, 17, None, "claude-haiku")
    assert response_text(reply) == "ab"


def test_google_genai_shape():
    reply = _gemini(prompt_token_count=11, candidates_token_count=4, total_token_count=15)
    assert read_usage(reply) == TokenUsage(11, 4, 15, None, "gemini-flash")
    assert response_text(reply) == "g"
    thinking = _gemini(prompt_token_count=11, candidates_token_count=4, thoughts_token_count=6)
    assert read_usage(thinking) == TokenUsage(
        11, 10, 21, None, "gemini-flash"
    )  # thoughts are output; total derived


def test_litellm_shape_with_cost():
    assert read_usage(_litellm(cost=0.002)) == TokenUsage(3, 4, 7, 0.002, "mistral-small")
    assert read_usage(_litellm()) == TokenUsage(3, 4, 7, None, "mistral-small")
    assert response_text(_litellm()) == "l"


@pytest.mark.parametrize(
    "response", [None, "text", b"x", {"model": "m"}, {"usage": {}}, {"usage": {"x": 1}}, 3]
)
def test_no_usage(response):
    assert read_usage(response) is None


def test_record_llm_call_inside_a_task(memory_emitter):
    @capture.task
    def step():
        return capture.record_llm_call(prompt="hello", response=_litellm(cost=0.001), agent="helper")

    with capture.Workflow() as run:
        call_id = step()
    records = memory_emitter.records(run.id)
    (call,) = [r for r in of_kind(records, "activity") if r["id"] == call_id]
    (parent,) = [r for r in of_kind(records, "activity") if attr(r, "pg:name").endswith("step")]
    assert attr(call, "pg:kind") == "llm_call" and attr(call, "pg:name") == "llm:mistral-small"
    assert [attr(call, f"pg:tokens_{k}") for k in ("in", "out", "total")] == [3, 4, 7]
    assert attr(call, "pg:cost") == 0.001 and attr(call, "pg:llm_model") == "mistral-small"
    assert (attr(call, "pg:prompt"), attr(call, "pg:response")) == ("hello", "l")
    started = [r["f"] for r in of_kind(records, "wasStartedBy") if r["f"]["activity"] == call_id]
    assert started[0]["starter"] == parent["id"]
    assert {"activity": call_id, "agent": "pgid:agent_helper"} in [
        r["f"] for r in of_kind(records, "wasAssociatedWith")
    ]


def test_record_llm_call_counts_override_and_derive(memory_emitter):
    with capture.Workflow() as run:
        given = capture.record_llm_call("m", tokens_in=5, tokens_out=6)
        override = capture.record_llm_call(response=_openai(), tokens_out=1)
        failed = capture.record_llm_call("m", tokens_in=1, error="RateLimitError: slow down")
    by_id = {r["id"]: r for r in of_kind(memory_emitter.records(run.id), "activity")}
    assert attr(by_id[given], "pg:tokens_total") == 11
    assert [attr(by_id[override], f"pg:tokens_{k}") for k in ("in", "out", "total")] == [10, 1, 11]
    assert attr(by_id[failed], "pg:status") == "ERROR" and "slow down" in attr(by_id[failed], "pg:error")
    started = {
        r["f"]["activity"]: r["f"]["starter"] for r in of_kind(memory_emitter.records(run.id), "wasStartedBy")
    }
    assert started[given] == run.id


def test_long_texts_are_cut(memory_emitter):
    with capture.Workflow() as run:
        call_id = capture.record_llm_call("m", prompt="x" * (MAX_TEXT + 10), tokens_in=1)
    (call,) = [r for r in of_kind(memory_emitter.records(run.id), "activity") if r["id"] == call_id]
    assert len(attr(call, "pg:prompt")) == MAX_TEXT and attr(call, "pg:truncated") is True


def test_record_llm_call_never_raises(memory_emitter):
    class Hostile:
        def __getattr__(self, name):
            raise RuntimeError("boom")

    with capture.Workflow() as run:
        hostile = capture.record_llm_call("m", response=Hostile(), tokens_in=1)  # neither raised nor lost
        kept = capture.record_llm_call("m", tokens_in=1)
        assert capture.record_llm_call("m", tokens_in="many") is None  # logged, not raised
    calls = [
        r for r in of_kind(memory_emitter.records(run.id), "activity") if attr(r, "pg:kind") == "llm_call"
    ]
    assert [r["id"] for r in calls] == [hostile, kept]
    assert attr(calls[0], "pg:tokens_in") == 1  # what could be read of the call is recorded


def test_record_llm_call_is_a_no_op_when_capture_is_off(memory_emitter):
    from capture import _context

    _context.set_enabled(False)
    assert capture.record_llm_call("m", tokens_in=1) is None
    assert memory_emitter.records() == []


def test_prompts_and_responses_are_redacted(memory_emitter, monkeypatch):
    secret = "sk-proj-" + "A1b2C3d4" * 6
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "hunter2-very-secret")
    from capture import _redaction

    _redaction.active().refresh_environment()
    messages = [
        {"role": "user", "content": "connect with hunter2-very-secret"},
        {"api_key": "plain-value-1234"},
    ]
    reply = {
        "model": "m",
        "content": f"use {secret} and postgres://u:pw-in-url@db/x",
        "usage": {"input_tokens": 1},
    }
    with capture.Workflow() as run:
        call_id = capture.record_llm_call(prompt=messages, response=reply)
    (call,) = [r for r in of_kind(memory_emitter.records(run.id), "activity") if r["id"] == call_id]
    prompt, response = attr(call, "pg:prompt"), attr(call, "pg:response")
    for leaked in ("hunter2-very-secret", "plain-value-1234", secret, "pw-in-url"):
        assert leaked not in prompt and leaked not in response, leaked
    assert (
        "[REDACTED" in prompt and "[REDACTED" in response and prompt.startswith('[{"content":"connect with ')
    )
