"""Property test of capture's public API: arbitrary strings and values, every message valid, and every message
loads into both backends (Neo4j and the embedded engine) with the run in the graph.

The workload runs in this process with a real `Emitter` on an in-memory sink; its payloads are decoded with
`wire.decode_message` (which applies every limit of the wire format) and written through the loader library.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import capture
from capture import _context, _handoff, _ids, wire
from capture._emitter import Emitter
from capture._sinks import InMemorySink
from capture.settings import Settings

# Text of every kind, lone surrogates included now and then (no store can hold them: capture must not send them).
# NUL is left out: FalkorDB refuses it as a query parameter (the stream loader dead-letters such a record alone;
# `load_messages`, used here, raises), while Neo4j and the wire format accept it.
TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=40) | st.text(
    st.characters(codec=None, exclude_characters="\x00"), max_size=8
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT | st.binary(max_size=64),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


_SCHEMA_READY: set[int] = set()


@pytest.mark.services
@pytest.mark.embedded
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    workflow_id=TEXT,
    name=TEXT,
    campaign=TEXT,
    task_name=TEXT,
    tags=st.lists(TEXT, max_size=3),
    args=VALUES,
    value=VALUES,
    loop_name=TEXT,
    agent=TEXT,
)
def test_any_text_and_values_give_valid_messages_that_load(
    any_backend: Any, tmp_path_factory: pytest.TempPathFactory, **drawn: Any
) -> None:
    from provgraph.loader import load_messages

    sink = InMemorySink()
    home = tmp_path_factory.mktemp("properties")
    emitter = Emitter(Settings(home=str(home), sink="memory"), sink=sink)
    saved = (_context.STATE.on, _context.STATE.resolved, _context.STATE.settings, _context.STATE.emitter)
    _context.set_enabled(True, Settings(home=str(home), sink="memory"))
    _context.use_emitter(emitter)
    _handoff.LIGHT_QUEUE.clear()
    try:
        run_id = _run_workload(**drawn)
        assert emitter.flush(30)
    finally:
        emitter.shutdown(10)
        _context.STATE.on, _context.STATE.resolved, _context.STATE.settings = saved[:3]
        _context.use_emitter(saved[3])
    messages = [wire.decode_message(payload) for payload in sink.payloads]  # every limit checked here
    assert messages and {m.doc for m in messages} >= {run_id}
    if id(any_backend) not in _SCHEMA_READY:
        any_backend.ensure_schema()
        _SCHEMA_READY.add(id(any_backend))
    try:
        load_messages(any_backend, messages)
        rows = any_backend.read("MATCH (r:WorkflowRun) WHERE r.id = $id RETURN r.id AS id", {"id": run_id})
        assert [row["id"] for row in rows] == [run_id]
    finally:
        docs = sorted({m.doc for m in messages})
        ids = sorted(
            {r["id"] for m in messages for r in m.records if "id" in r}
            | {v for m in messages for r in m.records for v in r.get("f", {}).values() if ":" in v}
        )
        any_backend.write(
            [
                (  # by id (indexed: quick); a node other documents share too (the person agent) stays
                    "MATCH (n:Element) WHERE n.id IN $ids AND all(d IN n.docs WHERE d IN $docs) DETACH DELETE n",
                    {"ids": ids, "docs": docs},
                ),
                ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
                ("MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n", {"docs": docs}),
            ]
        )


def _run_workload(
    workflow_id: str,
    name: str,
    campaign: str,
    task_name: str,
    tags: list[str],
    args: Any,
    value: Any,
    loop_name: str,
    agent: str,
) -> str:
    step = capture.task(name=task_name or None, tags=tags, output_names="out")(_identity)
    with capture.Workflow(
        name or None,
        workflow_id=f"{workflow_id}-{_ids.mint('t')}",  # distinct per example: runs never share a document
        campaign_id=campaign or None,
        args={"given": args},
    ) as run:
        step(value)
        loop = capture.Loop([value, args], loop_name=loop_name or "loop", item_name="item")
        for _item in loop:
            loop.end_iter({"seen": value})
        capture.CustomTask(
            task_name or "custom", used={"v": value}, agent_id=agent or None, generated={"o": args}
        )
        capture.record_llm_call(
            task_name or None, prompt=value, tokens_in=1, tokens_out=2, agent=agent or None
        )
    return run.id


def _identity(x: Any) -> Any:
    return x
