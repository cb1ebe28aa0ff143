"""capture: record what a Python workflow did, as W3C PROV, with minimal code changes.

This package is the light producer side: importing it loads only the standard library; redis-py and psutil are
imported on first use; it never imports neo4j, prov, rdflib or the store package `provgraph`.

Example::

    import capture

    @capture.task(output_names="o1")
    def sum_one(i1):
        return i1 + 1

    @capture.task(output_names="o2")
    def mult_two(o1):
        return o1 * 2

    with capture.Workflow("quickstart") as run:
        mult_two(sum_one(3))        # o2 wasDerivedFrom o1, mult_two used o1, o1 wasGeneratedBy sum_one

Everything is described in docs/capture.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from capture._ai import agent_task, instrument_model
    from capture._custom import CustomTask
    from capture._emitter import Emitter, get_emitter
    from capture._llm import TokenUsage, read_usage, record_llm_call
    from capture._loops import BatchedLoop, Loop
    from capture._sinks import FileSink, InMemorySink, RedisStreamSink, read_buffer
    from capture._spill import ReplayResult, replay
    from capture._tasks import light_task, task, telemetry_task
    from capture._telemetry import telemetry_snapshot
    from capture._values import FileRef, file
    from capture._workflow import Workflow, current_run_id, flush, workflow
    from capture.adapters.files import watch

# Public name -> the private module defining it. Modules load on first use (PEP 562), so `import capture` (and
# `from capture import wire` on the store side) stays a few milliseconds.
_LOCATIONS = {
    "BatchedLoop": "capture._loops",
    "CustomTask": "capture._custom",
    "Emitter": "capture._emitter",
    "FileRef": "capture._values",
    "FileSink": "capture._sinks",
    "InMemorySink": "capture._sinks",
    "RedisStreamSink": "capture._sinks",
    "TokenUsage": "capture._llm",
    "Loop": "capture._loops",
    "ReplayResult": "capture._spill",
    "Sink": "capture._sinks",
    "Workflow": "capture._workflow",
    "agent_task": "capture._ai",
    "current_run_id": "capture._workflow",
    "file": "capture._values",
    "flush": "capture._workflow",
    "get_emitter": "capture._emitter",
    "instrument_model": "capture._ai",
    "light_task": "capture._tasks",
    "read_buffer": "capture._sinks",
    "read_usage": "capture._llm",
    "record_llm_call": "capture._llm",
    "replay": "capture._spill",
    "task": "capture._tasks",
    "telemetry_snapshot": "capture._telemetry",
    "telemetry_task": "capture._tasks",
    "watch": "capture.adapters.files",
    "workflow": "capture._workflow",
}

__all__ = [
    "BatchedLoop",
    "CustomTask",
    "Emitter",
    "FileRef",
    "FileSink",
    "InMemorySink",
    "Loop",
    "RedisStreamSink",
    "ReplayResult",
    "Sink",
    "TokenUsage",
    "Workflow",
    "agent_task",
    "current_run_id",
    "file",
    "flush",
    "get_emitter",
    "instrument_model",
    "light_task",
    "read_buffer",
    "read_usage",
    "record_llm_call",
    "replay",
    "task",
    "telemetry_snapshot",
    "telemetry_task",
    "watch",
    "workflow",
]


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'capture' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    if getattr(value, "__module__", None) == module:
        value.__module__ = "capture"  # public names report their public home (reprs, docs, pickling)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
