"""LLM token accounting: usage read from provider responses, and `record_llm_call` for calls made anywhere.

No LLM library is imported: responses are read by duck typing (attributes or dict keys), so an OpenAI, Anthropic,
google-genai or LiteLLM object, its ``model_dump()``, or its JSON all read the same. The four shapes:

==============  ===============================  ==================================  =====================
provider        where                            tokens in / out                     total
==============  ===============================  ==================================  =====================
OpenAI          ``usage``                        ``prompt_tokens`` / ``completion_   ``total_tokens``
                                                 tokens`` (Responses API: ``input_
                                                 tokens`` / ``output_tokens``)
Anthropic       ``usage``                        ``input_tokens`` + ``cache_read_    derived: in + out
                                                 input_tokens`` + ``cache_creation_
                                                 input_tokens`` / ``output_tokens``
google-genai    ``usage_metadata``               ``prompt_token_count`` + ``tool_    ``total_token_count``
                                                 use_prompt_token_count`` /
                                                 ``candidates_token_count`` +
                                                 ``thoughts_token_count``
LiteLLM         ``usage`` (OpenAI names);        as OpenAI                           ``total_tokens``
                cost in ``_hidden_params[
                "response_cost"]``
==============  ===============================  ==================================  =====================

Tokens in count every prompt token the provider processed (cached ones too, as OpenAI's ``prompt_tokens`` does);
tokens out count every generated token (reasoning/thinking ones too, as OpenAI's ``completion_tokens`` does). A
total the response lacks is in + out. The attributes written are ``pg:llm_model``, ``pg:tokens_in``,
``pg:tokens_out``, ``pg:tokens_total`` and ``pg:cost``; the roll-up queries (``cypher/token_usage*.cypher``) sum
them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from capture import _ids, _redaction
from capture._context import CURRENT, STATE, resolve
from capture._handoff import default_context, emit
from capture._records import LlmCallItem, epoch_ns, safe_json

__all__ = ["TokenUsage", "read_usage", "record_llm_call", "response_text", "usage_attrs"]

logger = logging.getLogger(__name__)

MAX_TEXT = 4000
"""Prompts and responses are kept up to this many characters (the rest is cut, and ``pg:truncated`` says so)."""


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """The token usage (and cost, when known) of one LLM call; ``None``: not reported."""

    tokens_in: int | None = None
    tokens_out: int | None = None
    tokens_total: int | None = None
    cost: float | None = None
    model: str | None = None


def _get(obj: Any, name: str) -> Any:
    try:
        if isinstance(obj, Mapping):
            return obj.get(name)
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a response's property may raise anything: then it has no such field
        return None


def _count(obj: Any, *names: str) -> int | None:
    """The sum of the named counts that are present (``None`` when none is)."""
    total: int | None = None
    for name in names:
        value = _get(obj, name)
        if isinstance(value, int) and not isinstance(value, bool):
            total = value if total is None else total + value
    return total


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_usage(response: Any) -> TokenUsage | None:
    """The token usage of an OpenAI, Anthropic, google-genai or LiteLLM response (object or dict); ``None`` if
    it reports none.

    Example::

        usage = capture.read_usage(client.chat.completions.create(...))
        usage.tokens_in, usage.tokens_out, usage.tokens_total
    """
    try:
        return _read_usage(response)
    except Exception:  # noqa: BLE001 - a response whose fields raise reports no usage
        return None


def _read_usage(response: Any) -> TokenUsage | None:
    if response is None or isinstance(response, str | bytes):
        return None
    model = _get(response, "model") or _get(response, "model_version")
    model = model if isinstance(model, str) else None
    hidden = _get(response, "_hidden_params")
    cost = _number(_get(hidden, "response_cost")) if hidden is not None else None
    metadata = _get(response, "usage_metadata")
    if metadata is not None and _get(response, "usage") is None:  # google-genai
        tokens_in = _count(metadata, "prompt_token_count", "tool_use_prompt_token_count")
        tokens_out = _count(metadata, "candidates_token_count", "thoughts_token_count")
        total = _count(metadata, "total_token_count")
    else:
        usage = _get(response, "usage")
        if usage is None:
            return None
        if _count(usage, "prompt_tokens", "completion_tokens") is not None:  # OpenAI chat, LiteLLM
            tokens_in = _count(usage, "prompt_tokens")
            tokens_out = _count(usage, "completion_tokens")
        else:  # Anthropic, OpenAI Responses API (whose input_tokens already include cached ones)
            tokens_in = _count(
                usage, "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"
            )
            tokens_out = _count(usage, "output_tokens")
        total = _count(usage, "total_tokens")
        if cost is None:
            cost = _number(_get(usage, "cost"))  # OpenAI-compatible gateways that report it (OpenRouter)
    if total is None and (tokens_in is not None or tokens_out is not None):
        total = (tokens_in or 0) + (tokens_out or 0)
    if tokens_in is None and tokens_out is None and total is None:
        return None
    return TokenUsage(tokens_in, tokens_out, total, cost, model)


def response_text(response: Any) -> str | None:
    """The generated text of a response: a string, OpenAI/LiteLLM ``choices[0].message.content``, Anthropic's
    text blocks, google-genai's ``text``, or a ``content``/``text``/``output`` field; ``None`` if none is found
    (or reading the response raises)."""
    try:
        return _response_text(response)
    except Exception:  # noqa: BLE001 - a response whose fields raise has no text we can read
        return None


def _response_text(response: Any) -> str | None:
    if response is None:
        return None
    if isinstance(response, str):
        return response
    choices = _get(response, "choices")
    if isinstance(choices, Sequence) and choices:
        message = _get(choices[0], "message")
        content = _get(message, "content") if message is not None else _get(choices[0], "text")
        if isinstance(content, str):
            return content
    content = _get(response, "content")
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, str | bytes):
        texts = [t for t in (_get(block, "text") for block in content) if isinstance(t, str)]
        if texts:
            return "".join(texts)
    output_text = _get(response, "output_text")  # OpenAI Responses API
    if isinstance(output_text, str):
        return output_text
    if not isinstance(response, Mapping) and type(response).__name__ == "GenerateContentResponse":
        try:
            text = response.text  # google-genai: joins the first candidate's text parts
        except Exception:  # noqa: BLE001 - a blocked or empty candidate raises or warns; no text then
            text = None
        if isinstance(text, str):
            return text
    for name in ("text", "output", "response"):
        value = _get(response, name)
        if isinstance(value, str):
            return value
    return None


def usage_attrs(usage: TokenUsage | None) -> list[tuple[str, Any]]:
    """The ``pg:`` attributes of a usage (only those it reports)."""
    if usage is None:
        return []
    attrs: list[tuple[str, Any]] = []
    if usage.model is not None:
        attrs.append(("pg:llm_model", usage.model))
    for name, value in (
        ("pg:tokens_in", usage.tokens_in),
        ("pg:tokens_out", usage.tokens_out),
        ("pg:tokens_total", usage.tokens_total),
        ("pg:cost", usage.cost),
    ):
        if value is not None:
            attrs.append((name, value))
    return attrs


def text_attrs(name: str, value: Any) -> list[tuple[str, Any]]:
    """``pg:<name>`` for a prompt or response, redacted (`capture._redaction`: secret-named fields of a messages
    list at any depth, then credential formats and secret environment values in the text), cut at `MAX_TEXT`."""
    if value is None:
        return []
    redactor = _redaction.active(STATE.settings)
    text = value if isinstance(value, str) else response_text(value)
    if text is None:
        text = safe_json(redactor.redact(value))
    text = redactor.scrub(text)
    if len(text) > MAX_TEXT:
        return [(f"pg:{name}", text[:MAX_TEXT]), ("pg:truncated", True)]
    return [(f"pg:{name}", text)]


def record_llm_call(
    model: str | None = None,
    *,
    response: Any = None,
    prompt: Any = None,
    tokens_in: int | None = None,
    tokens_out: int | None = None,
    tokens_total: int | None = None,
    cost: float | None = None,
    name: str | None = None,
    agent: str | None = None,
    error: str | BaseException | None = None,
    started_at: Any = None,
    ended_at: Any = None,
    parent_task: Any = None,
) -> str | None:
    """Record one LLM call: an activity (``pg:Task``, ``pg:kind`` ``llm_call``) with its model, token usage,
    cost, prompt and response, started by the current task (or the current run; outside any workflow, the
    process's default run). Returns the activity's id, or ``None`` when capture is off. Never raises.

    Args:
        model: the model name (default: the response's ``model``/``model_version``).
        response: a provider response (OpenAI, Anthropic, google-genai, LiteLLM; object or dict): usage, cost,
            model and text are read from it (see `read_usage`).
        prompt: the prompt (text, or a messages list, recorded as JSON).
        tokens_in, tokens_out, tokens_total, cost: override or supply what the response does not report; a
            missing total is in + out. ``cost`` is in the currency you use (LiteLLM reports US dollars).
        name: activity name (default ``llm:<model>``).
        agent: the agent that made the call (a ``prov:SoftwareAgent`` the activity ``wasAssociatedWith``).
        error: the call failed with this error (status ``ERROR``).
        started_at, ended_at: epoch seconds or datetimes (default: now for both).
        parent_task: id (or object with ``.id``) of the task that made the call (default: the current one).

    Example::

        reply = client.messages.create(model="claude-sonnet-4-5", messages=messages, max_tokens=512)
        capture.record_llm_call(prompt=messages, response=reply)
        capture.record_llm_call("my-local-model", tokens_in=120, tokens_out=30, cost=0.0)
    """
    try:
        if not (STATE.on or (not STATE.resolved and resolve())):
            return None
        usage = read_usage(response) or TokenUsage()
        chosen_in = tokens_in if tokens_in is not None else usage.tokens_in
        chosen_out = tokens_out if tokens_out is not None else usage.tokens_out
        total = tokens_total
        if total is None and tokens_in is None and tokens_out is None:
            total = usage.tokens_total  # the response's own total, unless its counts were overridden
        if total is None and (chosen_in is not None or chosen_out is not None):
            total = (chosen_in or 0) + (chosen_out or 0)
        chosen = TokenUsage(
            chosen_in,
            chosen_out,
            total,
            float(cost) if cost is not None else usage.cost,
            model if model is not None else usage.model,
        )
        attrs: list[tuple[str, Any]] = [("pg:kind", "llm_call"), *usage_attrs(chosen)]
        attrs += text_attrs("prompt", prompt)
        attrs += text_attrs("response", response)
        now = time.time_ns()
        end_ns = epoch_ns(ended_at) if ended_at is not None else now
        start_ns = epoch_ns(started_at) if started_at is not None else end_ns
        context = CURRENT.get() or default_context()
        run = context[0]
        parent = _ids.known_task(parent_task) if parent_task is not None else context[1]
        number = next(_ids.COUNTER)
        status = "ERROR" if error is not None else "FINISHED"
        label = name or f"llm:{chosen.model or 'unknown'}"
        item = LlmCallItem(run, parent, number, label, start_ns, end_ns, status, error, attrs, agent)
        emit(run.id, item)
        return _ids.task_id(number)
    except Exception as exc:  # noqa: BLE001 - capture never raises into user code
        logger.error("provgraph capture could not record an LLM call: %s", _redaction.scrub(exc))
        return None
