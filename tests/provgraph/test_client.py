"""`provgraph.Client` on the real graph server: typed results, bounds, parameters, the escape hatches."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from provgraph import Client
from provgraph.client import (
    DEFAULT_DEPTH,
    MAX_DEPTH,
    ActivityChange,
    InputValue,
    LineageStep,
    ResourcePeak,
    RunSummary,
    TaskInput,
    query_parameters,
)
from provgraph.errors import ConfigurationError, QueryError
from provgraph.graph.cypher import load


@pytest.fixture(scope="module")
def client(graph_backend: Any) -> Client:
    return Client(backend=graph_backend)


def test_lineage_returns_frozen_steps(client, known_graph):
    g = known_graph
    steps = client.lineage(g.id("a.model"), depth=1)
    assert steps == [
        LineageStep(
            1,
            g.id("a.cleaned"),
            g.key("a.cleaned"),
            ("Entity",),
            "clean",
            90,
            "wasDerivedFrom",
            g.id("a.model"),
        ),
        LineageStep(
            1,
            g.id("a.train"),
            g.key("a.train"),
            ("Activity", "Task"),
            "train",
            None,
            "wasGeneratedBy",
            g.id("a.model"),
        ),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        steps[0].depth = 5  # type: ignore[misc]
    assert [s.id for s in client.impact(g.id("a.cleaned"), depth=1)] == [g.id("a.model"), g.id("a.train")]


def test_default_depth_is_bounded(client, known_graph):
    g = known_graph
    assert DEFAULT_DEPTH == 10 and MAX_DEPTH == 30
    assert client.lineage(g.id("a.model")) == client.lineage(g.id("a.model"), depth=DEFAULT_DEPTH)
    for bad in (0, -1, MAX_DEPTH + 1, True, "3"):
        with pytest.raises(ConfigurationError, match="depth"):
            client.lineage(g.id("a.model"), depth=bad)
    with pytest.raises(ConfigurationError, match="limit"):
        client.lineage(g.id("a.model"), limit=0)
    with pytest.raises(ConfigurationError, match="limit"):
        client.runs(limit=10**9)


def test_typed_run_questions(client, known_graph):
    g = known_graph
    runs = client.runs(workflow=g.names["train"])
    assert runs == [
        RunSummary(
            g.id("run.b"),
            g.key("run.b"),
            g.names["train"],
            "2026-03-01T10:21:00+00:00",
            "2026-03-01T10:40:00+00:00",
            None,
            7,
            7,
            0,
            0,
        ),
        RunSummary(
            g.id("run.a"),
            g.key("run.a"),
            g.names["train"],
            "2026-03-01T10:01:00+00:00",
            "2026-03-01T10:20:00+00:00",
            None,
            6,
            5,
            1,
            0,
        ),
    ]
    tree = client.task_tree(g.id("run.a"))
    assert [(t.depth, t.name, t.parent) for t in tree][3] == (2, "epoch", g.id("a.train"))
    assert tree[0].start_time == "2026-03-01T10:02:00+00:00" and tree[0].duration_s == 3.0

    diff = client.diff(g.id("run.a"), g.id("run.b"))
    assert [(c.name, c.ordinal) for c in diff.added] == [("report", 0), ("epoch", 2)]
    assert [(c.name, c.ordinal) for c in diff.removed] == [("evaluate", 0)]
    assert diff.changed[0] == ActivityChange(
        "changed",
        "clean",
        0,
        g.id("a.clean"),
        g.id("b.clean"),
        (InputValue("threshold", 0.5),),
        (InputValue("threshold", 0.7),),
        cause=True,
        place="clean",
    )
    assert [c.name for c in diff.causes] == ["clean"]

    failed = client.failed_tasks(g.id("run.a"))
    assert [(f.name, f.error, f.run) for f in failed] == [
        ("evaluate", "ValueError: no labels", g.id("run.a"))
    ]
    assert failed[0].inputs == (TaskInput(g.id("a.model"), "model", "model-a", None),)

    slow = client.slowest_tasks(g.id("run.a"), limit=2)
    assert [(t.name, t.duration_s) for t in slow] == [("train", 30.0), ("epoch", 12.0)]

    peaks = client.peak_resources(g.id("run.b"), limit=1)
    assert peaks == [
        ResourcePeak(
            g.id("b.train"),
            g.key("b.train"),
            "train",
            g.id("run.b"),
            2,
            950_000_000,
            99.0,
            7_000_000_000,
            80.0,
            475_000_000,  # the peak less the process's memory when the task started (950 MB / 2)
        )
    ]


def test_typed_lineage_and_cross_workflow_questions(client, known_graph):
    g = known_graph
    chain = client.derivation_chain(g.id("b.summary"), g.id("file"))
    assert [step.name for step in chain] == [
        "report",
        "report",
        "model",
        "train",
        "clean",
        "clean",
        "rows",
        "load",
        "/data/dataset.csv",
    ]
    assert chain[-1].relation is None and chain[0].relation == "wasGeneratedBy"
    since = client.provenance_since(g.id("b.model"), "train")
    assert [(s.id, s.cut) for s in since] == [(g.id("b.train"), True)]

    shared = client.shared_entities(g.id("run.b"))
    assert [(s.entity, s.other_run, s.other_workflow) for s in shared] == [
        (g.id("file"), g.id("run.a"), g.names["train"]),
        (g.id("file"), g.id("run.p"), g.names["plot"]),
    ]
    assert shared[0].labels == ("Entity", "File")
    uses = client.entity_runs(g.key("file"))
    assert [u.workflow for u in uses] == [g.names["train"], g.names["train"], g.names["plot"]]
    products = client.campaign_products(g.key("campaign"), limit=2)
    assert [(p.activity_name, p.value) for p in products] == [("load", 100), ("clean", 90)]
    agents = client.associations(g.id("p.figure"))
    assert [(a.name, a.how) for a in agents] == [
        (f"alice-{g.token}", "wasAssociatedWith"),
        (f"lab-{g.token}", "actedOnBehalfOf"),
        (f"node-{g.token}", "wasAssociatedWith"),
    ]


def test_run_any_named_query_with_checked_parameters(client, known_graph):
    g = known_graph
    rows = client.run("slowest_tasks", run=g.id("run.p"))
    assert [(row["name"], row["duration_s"]) for row in rows] == [("plot", 2.0)]
    with pytest.raises(QueryError, match="no query named"):
        client.run("no_such_query")
    with pytest.raises(QueryError, match="not a user-facing query"):
        client.run("schema/constraints")
    with pytest.raises(QueryError, match="needs parameter ref"):
        client.run("lineage_upstream")
    with pytest.raises(QueryError, match="has no parameter colour"):
        client.run("runs", colour="red")
    # optional parameters (their header says what null means) default to null
    assert {row["id"] for row in client.run("runs", workflow=g.names["plot"])} == {g.id("run.p")}


def test_query_parameters_come_from_the_header():
    params = {p.name: p for p in query_parameters(load("failed_tasks"))}
    assert set(params) == {"run", "limit"}
    assert params["run"].optional and not params["limit"].optional
    assert "workflow run" in params["run"].description
    assert [p.name for p in query_parameters(load("derivation_chain"))] == ["source", "target", "depth"]


def test_cypher_escape_hatch_reads_with_parameters_and_refuses_writes(client, known_graph):
    g = known_graph
    rows = client.cypher("MATCH (n:Element {id: $id}) RETURN n.name AS name", id=g.id("a.train"))
    assert rows == [{"name": "train"}]
    with pytest.raises(QueryError):
        client.cypher("CREATE (n:Element {key: $key})", key="pgid:probe_" + g.token)
    assert client.cypher("MATCH (n:Element {key: $key}) RETURN n", key="pgid:probe_" + g.token) == []


def test_client_opens_and_closes_its_own_connection(graph_backend, known_graph, monkeypatch):
    settings = graph_backend.settings  # the same server, through a connection the client opens itself
    with Client(settings) as own:
        assert [s.id for s in own.slowest_tasks(known_graph.id("run.p"))] == [known_graph.id("p.plot")]
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", settings.home)
    with Client() as from_environment:
        assert from_environment.settings.graph_url == settings.graph_url
        assert [s.id for s in from_environment.slowest_tasks(known_graph.id("run.p"))] == [
            known_graph.id("p.plot")
        ]
        assert {q.name for q in from_environment.queries()} >= {"lineage_upstream", "run_diff"}
