"""The Cypher in the docs runs on both engines with the same answers.

docs/queries.md shows the query library itself: each of its blocks must be a file of cypher/ word for word, and
tests/provgraph/test_embedded_parity.py runs every one of those on both engines. Every other Cypher block of
README.md and docs/ runs here as written, on Neo4j and on the embedded engine, over a small graph that gives each
one answers; the rows that are this test's own (the shared test Neo4j holds other tests' graphs too) must be the
same on both, and not empty.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _known_graph import open_test_backend

from capture import wire

pytestmark = [pytest.mark.services, pytest.mark.embedded]

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"^```cypher\n(.*?)^```", re.S | re.M)


def _blocks(path: Path) -> list[str]:
    return [block.strip() for block in _BLOCK.findall(path.read_text(encoding="utf-8"))]


def _other_blocks() -> list[tuple[str, str]]:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [(path.name, block) for path in docs if path.name != "queries.md" for block in _blocks(path)]


def test_the_queries_of_docs_queries_md_are_the_query_library_word_for_word():
    from provgraph.graph.cypher import cypher_dir

    library = {path.read_text(encoding="utf-8").strip() for path in cypher_dir().glob("*.cypher")}
    blocks = _blocks(ROOT / "docs" / "queries.md")
    assert blocks and [block.splitlines()[0] for block in blocks if block not in library] == []


def _graph(token: str, marks: set[Any]) -> wire.Message:
    """Answers for every other docs block: a task `fit` with two loss points and end-of-task GPU telemetry, and a
    file written twice with the same bytes (two generations of one content)."""
    qn = wire.qualified_name
    run, fit = f"pgid:run_{token}", f"pgid:task_{token}_fit"
    losses = [round(random.uniform(1, 2), 9) for _ in range(2)]  # noqa: S311 - marks, not secrets
    gpu = f"GPU-{token}"
    marks.update({*losses, gpu, token})
    records = [
        wire.element("activity", run, [("prov:type", qn("pg:WorkflowRun")), ("pg:name", f"docs_{token}")]),
        wire.element(  # a Monday evening in Chicago, Tuesday in UTC (docs/graph-model.md, "Date-times")
            "activity",
            fit,
            [("prov:type", qn("pg:Task")), ("pg:name", "fit")],
            formal={"startTime": "2026-03-02T20:00:00.5-06:00"},
        ),
        wire.relation("wasStartedBy", activity=fit, starter=run),
        wire.element(
            "entity",
            f"pgid:val_{token}_gpu",
            [
                ("prov:type", qn("pg:Telemetry")),
                ("pg:phase", "end"),
                ("pg:gpu_count", 1),
                ("pg:gpu_0_id", gpu),
                # the largest: in the block's top ten whatever else is stored (earlier runs' graphs included,
                # on servers that outlive a test session: each run's value is larger than the last)
                ("pg:gpu_0_used_bytes", 10**15 + time.time_ns() // 1000),
                ("pg:gpu_0_power_mw", 70_000),
            ],
        ),
        wire.relation("wasGeneratedBy", entity=f"pgid:val_{token}_gpu", activity=fit),
        wire.element(
            "entity", f"pgid:file_sha256_{token}", [("prov:type", qn("pg:File")), ("pg:sha256", token)]
        ),
    ]
    for step, loss in enumerate(losses):
        metric = f"pgid:metric_{token}_{step}"
        attrs = [
            ("prov:type", qn("pg:Metric")),
            ("pg:metric", "loss"),
            ("pg:step", step),
            ("prov:value", loss),
        ]
        records += [
            wire.element("entity", metric, attrs),
            wire.relation("wasGeneratedBy", entity=metric, activity=fit),
        ]
    for copy in ("one", "two"):
        generation = f"pgid:file_{token}_{copy}"
        records += [
            wire.element("entity", generation, [("prov:type", qn("pg:File")), ("pg:sha256", token)]),
            wire.relation("wasGeneratedBy", entity=generation, activity=fit),
            wire.relation(
                "specializationOf", specificEntity=generation, generalEntity=f"pgid:file_sha256_{token}"
            ),
        ]
    return wire.decode_message(wire.encode_message(run, records))


def _ours(rows: list[dict[str, Any]], marks: set[Any]) -> list[list[Any]]:
    """This test's rows (one of its marks in a value), as value lists (the engines name unaliased columns alike)."""
    found = []
    for row in rows:
        values = list(row.values())
        if any(
            value in marks or (isinstance(value, str) and any(str(m) in value for m in marks))
            for value in values
        ):
            found.append(values)
    return sorted(found, key=repr)


@pytest.fixture(scope="module")
def engines(embedded_server: Any) -> Any:
    from provgraph.loader import load_messages

    token = uuid.uuid4().hex[:12]
    marks: set[Any] = set()
    message = _graph(token, marks)
    backends = {
        "neo4j": open_test_backend("neo4j"),
        "embedded": open_test_backend("embedded", str(embedded_server.home)),
    }
    for backend in backends.values():
        backend.ensure_schema()
        load_messages(backend, [message])
    yield backends, marks
    for backend in backends.values():
        backend.close()


@pytest.mark.parametrize(
    ("doc", "block"), _other_blocks(), ids=[f"{d}:{b.split()[1]}" for d, b in _other_blocks()]
)
def test_docs_cypher_gives_the_same_answers_on_both_engines(doc: str, block: str, engines: Any) -> None:
    backends, marks = engines
    answers = {name: _ours(backend.read(block), marks) for name, backend in backends.items()}
    assert answers["embedded"] == answers["neo4j"], f"{doc}: {block}"
    assert answers["neo4j"], f"{doc}: the block found none of this test's graph: {block}"
