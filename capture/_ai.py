"""Instrumentation of AI agents' tool/LLM calls (`agent_task`) and of torch-style models (`instrument_model`).

Neither imports torch nor any LLM library: both work by duck typing. The agents themselves are declared by
`capture._agents`; a model is described as a value by `capture._values.model_attrs`.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec, TypeVar, cast, overload

from capture._agents import software_agent_records
from capture._context import STATE
from capture._llm import read_usage, response_text, usage_attrs
from capture._records import TaskSpec
from capture._redaction import active
from capture._tasks import disabled_by_environment, through_descriptor, wrap_function

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["agent_task", "instrument_model"]

_PROMPT_NAMES = ("prompt", "messages", "query", "question", "input", "text")
_MAX_TEXT = 4000


def _get(obj: Any, name: str) -> Any:
    try:
        if isinstance(obj, dict):
            return obj.get(name)
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a property that raises: no such field
        return None


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    for name in ("content", "text", "output", "response"):
        inner = _get(value, name)
        if isinstance(inner, str):
            return inner
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise: the type-and-identity placeholder
        return f"<{type(value).__module__}.{type(value).__qualname__} #{id(value):#x}>"


class AgentSpec:
    """The agent an instrumented call belongs to, and how to read prompt, response and token usage."""

    def __init__(self, agent: str, tool_name: str | None, prompt_arg: str | None) -> None:
        self.agent_id, self.declaration = software_agent_records(agent)
        self.tool_name = tool_name
        self.prompt_arg = prompt_arg

    def call_attrs(
        self, spec: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> list[tuple[str, Any]]:
        attrs: list[tuple[str, Any]] = [("pg:tool_name", self.tool_name or spec.name)]
        bound = dict(spec.bind(args, kwargs))
        names = (self.prompt_arg,) if self.prompt_arg else _PROMPT_NAMES
        scrub = active(STATE.settings).scrub  # before the cut, so a secret across it is found whole
        for name in names:
            if name in bound:
                attrs.append(("pg:prompt", scrub(_text_of(bound[name]))[:_MAX_TEXT]))
                break
        if result is not None:
            attrs.append(("pg:response", scrub(response_text(result) or _text_of(result))[:_MAX_TEXT]))
            attrs.extend(usage_attrs(read_usage(result)))
        return attrs


@overload
def agent_task(function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def agent_task(
    function: None = None,
    *,
    agent: str = ...,
    tool_name: str | None = ...,
    prompt_arg: str | None = ...,
    output_names: str | Sequence[str] | None = ...,
    tags: str | Sequence[str] | None = ...,
    custom_metadata: dict[str, Any] | None = ...,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def agent_task(
    function: Callable[P, R] | None = None,
    *,
    agent: str = "agent",
    tool_name: str | None = None,
    prompt_arg: str | None = None,
    output_names: str | Sequence[str] | None = None,
    tags: str | Sequence[str] | None = None,
    custom_metadata: dict[str, Any] | None = None,
) -> Any:
    """Record a tool or LLM call of an AI agent: a task associated with the agent (a ``prov:SoftwareAgent``).

    Records the prompt (argument ``prompt_arg``, else the first of prompt/messages/query/question/input/text),
    the response text, the tool name, timing, and the model, token usage and cost when the result is an OpenAI,
    Anthropic, google-genai or LiteLLM response (`capture.read_usage`). Apply it under a framework's own decorator
    (``@mcp.tool()`` above it).

    Example::

        @capture.agent_task(agent="planner", tool_name="summarise")
        def summarise(prompt):
            return llm.invoke(prompt)
    """
    agent_spec = AgentSpec(agent, tool_name, prompt_arg)

    def decorate(target: Callable[P, R]) -> Callable[P, R]:
        if disabled_by_environment():
            return target
        return cast("Callable[P, R]", through_descriptor(target, wrap))

    def wrap(target: Callable[P, R]) -> Callable[P, R]:
        spec = TaskSpec(
            target,
            output_names=output_names,
            tags=tags,
            custom_metadata=custom_metadata,
            agent=agent_spec,
            attrs=[("pg:kind", "agent_call")],
        )
        return wrap_function(target, spec)

    return decorate(function) if function is not None else decorate


def instrument_model(
    target: Any, *, name: str | None = None, output_names: str | Sequence[str] | None = None
) -> Any:
    """Record every ``forward`` (or ``__call__``) of a torch-style model as a task that used the model entity.

    Works on a class (used as a class decorator) or on one instance; torch is never imported. Tensors are
    summarised (shape, dtype, device), never copied. The model is one entity (``pg:Model``) used by every call.

    Example::

        @capture.instrument_model
        class MyNet(nn.Module):
            def forward(self, x):
                return self.fc(x)
    """
    if disabled_by_environment():
        return target
    is_class = isinstance(target, type)
    cls = target if is_class else type(target)
    method_name = "forward" if callable(getattr(cls, "forward", None)) else "__call__"
    original = getattr(cls, method_name)
    spec = TaskSpec(original, name=name or f"{cls.__name__}.{method_name}", output_names=output_names)
    if spec.positional and spec.skip_first:
        spec.positional = ("model", *spec.positional[1:])
        spec.skip_first = False
    wrapped = wrap_function(original, spec)
    if is_class:
        cls.__provgraph_model__ = True
        setattr(cls, method_name, wrapped)
        return cls
    target.__dict__["__provgraph_model__"] = True
    if method_name == "__call__":
        # Special methods are looked up on the type: give this instance its own subclass.
        target.__class__ = type(cls.__name__, (cls,), {"__call__": wrapped, "__provgraph_model__": True})
    else:
        target.__dict__["forward"] = types.MethodType(functools.wraps(original)(wrapped), target)
    return target
