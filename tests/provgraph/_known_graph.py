"""A known provenance graph, as wire messages, for the query tests (any backend).

`build(token)` returns the messages and the ids; every identifier and name embeds ``token`` so tests that share a
database never see each other's nodes. The graph, in capture's vocabulary (docs/graph-model.md)::

    campaign C  <-wasInfluencedBy-  run A (train_T)   run B (train_T)   run P (plot_T)
    run A: load -> clean(threshold 0.5) -> train(epoch #0, #1) -> evaluate (ERROR)
    run B: load -> clean(threshold 0.7) -> train(epoch #0, #1, #2) -> report
    run P: plot
    file F (dataset.csv) is used by load in A, load in B and plot in P: the cross-workflow join.

Each task carries ``duration_s``, a start and end time and a telemetry entity with ``process_rss_bytes`` (train
also GPU memory). A, B and P are associated with a machine; A and P with a person, who acts on behalf of an
organisation. `tricky_names` replaces names with strings full of Cypher syntax (the injection test).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pytest

from capture import wire

PG_TYPE = "prov:type"


def _qn(value: str) -> dict[str, str]:
    return wire.qualified_name(value)


@dataclass
class KnownGraph:
    """The messages of the known graph and the identifiers tests refer to."""

    token: str
    messages: list[wire.Message] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def id(self, short: str) -> str:
        """The qualified name (``id``) of an element by its short name in this module, e.g. ``"a.train"``."""
        return self.ids[short]

    def key(self, short: str) -> str:
        """The full URI (``key``) of an element."""
        local = self.ids[short].split(":", 1)[1]
        return wire.NAMESPACES["pgid"] + local


def _time(minute: int, second: int = 0) -> str:
    return f"2026-03-01T10:{minute:02d}:{second:02d}+00:00"


class _Builder:
    def __init__(self, graph: KnownGraph, doc: str) -> None:
        self.graph = graph
        self.doc = doc
        self.records: list[dict[str, Any]] = []

    def ident(self, short: str) -> str:
        ident = self.graph.ids.get(short)
        if ident is None:
            safe = short.replace(".", "_").replace("#", "_")
            ident = f"pgid:{safe}_{self.graph.token}"
            self.graph.ids[short] = ident
        return ident

    def activity(self, short: str, kind: str, name: str, start: str, end: str, **attrs: Any) -> str:
        ident = self.ident(short)
        pairs = [[PG_TYPE, _qn(kind)], ["pg:name", name]]
        pairs += [[f"pg:{k}", v] for k, v in attrs.items()]
        self.records.append(
            wire.element("activity", ident, attrs=pairs, formal={"startTime": start, "endTime": end})
        )
        return ident

    def entity(self, short: str, *types: str, **attrs: Any) -> str:
        ident = self.ident(short)
        pairs = [[PG_TYPE, _qn(t)] for t in types]
        pairs += [["prov:value" if k == "value" else f"pg:{k}", v] for k, v in attrs.items()]
        self.records.append(wire.element("entity", ident, attrs=pairs))
        return ident

    def agent(self, short: str, kind: str, **attrs: Any) -> str:
        ident = self.ident(short)
        pairs = [[PG_TYPE, _qn(kind)]] + [[f"pg:{k}", v] for k, v in attrs.items()]
        self.records.append(wire.element("agent", ident, attrs=pairs))
        return ident

    def rel(self, kind: str, attrs: list[list[Any]] | None = None, **formal: str) -> None:
        self.records.append(wire.relation(kind, attrs=attrs, **formal))

    def task(
        self,
        short: str,
        name: str,
        parent: str,
        minute: int,
        duration_s: float,
        inputs: list[tuple[str, str]] = (),
        outputs: list[tuple[str, str]] = (),
        status: str = "FINISHED",
        rss: int = 0,
        cpu: float = 50.0,
        gpus: tuple[int, ...] = (),
        **extra: Any,
    ) -> str:
        end_second = int(duration_s)
        attrs: dict[str, Any] = {"status": status, "duration_s": duration_s, **extra}
        task = self.activity(short, "pg:Task", name, _time(minute), _time(minute, end_second), **attrs)
        self.rel("wasStartedBy", activity=task, starter=self.ident(parent))
        for role, entity_short in inputs:
            self.rel("used", attrs=[["prov:role", role]], activity=task, entity=self.ident(entity_short))
        for role, entity_short in outputs:
            self.rel(
                "wasGeneratedBy", attrs=[["prov:role", role]], entity=self.ident(entity_short), activity=task
            )
            for _, input_short in inputs:
                self.rel(
                    "wasDerivedFrom",
                    generatedEntity=self.ident(entity_short),
                    usedEntity=self.ident(input_short),
                    activity=task,
                )
        if rss:
            # two samples, as capture writes them: at the start (half the memory) and at the end
            start = self.entity(
                f"{short}.telemetry_start", "pg:Telemetry", phase="start", process_rss_bytes=rss // 2
            )
            self.rel("wasGeneratedBy", entity=start, activity=task)
            end: dict[str, Any] = {"phase": "end", "process_rss_bytes": rss, "process_cpu_percent": cpu}
            if gpus:
                end["gpu_count"] = len(gpus)
            for index, used in enumerate(gpus):  # capture/_gpu.py's names
                end[f"gpu_{index}_used_bytes"] = used
                end[f"gpu_{index}_utilization_percent"] = 80.0 - 10 * index
                end[f"gpu_{index}_memory_utilization_percent"] = 99.0
            tel = self.entity(f"{short}.telemetry_end", "pg:Telemetry", **end)
            self.rel("wasGeneratedBy", entity=tel, activity=task)
        return task

    def message(self) -> wire.Message:
        payload = wire.encode_message(self.doc, self.records, sent_at=0.0)
        return wire.decode_message(payload)


def build(token: str, tricky: bool = False) -> KnownGraph:
    """The known graph for ``token``; with ``tricky``, names are strings full of Cypher syntax."""
    graph = KnownGraph(token)

    def name(base: str) -> str:
        if tricky:
            value = f"{base}' }}) DETACH DELETE n // `{{x}}` \" MATCH (m) RETURN m {token}"
        else:
            value = f"{base}_{token}"
        graph.names[base] = value
        return value

    shared = _Builder(graph, f"pgid:shared_{token}")
    shared.agent("machine", "pg:Machine", hostname=f"node-{token}", platform="Linux")
    shared.agent("alice", "prov:Person", login=f"alice-{token}")
    shared.agent("lab", "prov:Organization", name=f"lab-{token}")
    shared.rel("actedOnBehalfOf", delegate=shared.ident("alice"), responsible=shared.ident("lab"))
    shared.activity("campaign", "pg:Campaign", name("campaign"), _time(0), _time(59))

    train = name("train")
    plot = name("plot")

    # --- run A -------------------------------------------------------------------------------------------
    a = _Builder(graph, f"pgid:doc_a_{token}")
    run_a = a.activity(
        "run.a", "pg:WorkflowRun", train, _time(1), _time(20), campaign=graph.names["campaign"]
    )
    a.rel("wasInfluencedBy", influencee=run_a, influencer=a.ident("campaign"))
    a.rel("wasAssociatedWith", activity=run_a, agent=a.ident("machine"))
    a.rel("wasAssociatedWith", activity=run_a, agent=a.ident("alice"))
    a.entity("file", "pg:File", path="/data/dataset.csv", sha256="ab" * 32, size=2048)
    a.entity("a.rows", value=100, role="rows")
    a.entity("a.threshold", value=0.5, role="threshold")
    a.entity("a.cleaned", value=90, role="clean")
    a.entity("a.model", "pg:Model", value="model-a", role="model")
    a.task("a.load", "load", "run.a", 2, 3.0, [("path", "file")], [("rows", "a.rows")], rss=100_000_000)
    a.task(
        "a.clean",
        "clean",
        "run.a",
        3,
        2.0,
        [("rows", "a.rows"), ("threshold", "a.threshold")],
        [("clean", "a.cleaned")],
        rss=150_000_000,
    )
    a.task(
        "a.train",
        "train",
        "run.a",
        4,
        30.0,
        [("clean", "a.cleaned")],
        [("model", "a.model")],
        rss=900_000_000,
        cpu=97.5,
        gpus=(4_000_000_000, 1_000_000_000),
    )
    a.task("a.epoch0", "epoch", "a.train", 5, 10.0, rss=800_000_000, gpus=(3_000_000_000,))
    a.task("a.epoch1", "epoch", "a.train", 6, 12.0, rss=850_000_000, gpus=(3_500_000_000,))
    a.task(
        "a.evaluate",
        "evaluate",
        "run.a",
        7,
        1.0,
        [("model", "a.model")],
        status="ERROR",
        error="ValueError: no labels",
        rss=120_000_000,
    )

    # --- run B: same workflow, a different threshold, one more epoch, report instead of evaluate ------------
    b = _Builder(graph, f"pgid:doc_b_{token}")
    run_b = b.activity(
        "run.b", "pg:WorkflowRun", train, _time(21), _time(40), campaign=graph.names["campaign"]
    )
    b.rel("wasInfluencedBy", influencee=run_b, influencer=b.ident("campaign"))
    b.rel("wasAssociatedWith", activity=run_b, agent=b.ident("machine"))
    b.entity("file", "pg:File", path="/data/dataset.csv", sha256="ab" * 32, size=2048)
    b.entity("b.rows", value=100, role="rows")
    b.entity("b.threshold", value=0.7, role="threshold")
    b.entity("b.cleaned", value=80, role="clean")
    b.entity("b.model", "pg:Model", value="model-b", role="model")
    b.entity("b.summary", value="report-b", role="report")
    b.task("b.load", "load", "run.b", 22, 4.0, [("path", "file")], [("rows", "b.rows")], rss=110_000_000)
    b.task(
        "b.clean",
        "clean",
        "run.b",
        23,
        2.5,
        [("rows", "b.rows"), ("threshold", "b.threshold")],
        [("clean", "b.cleaned")],
        rss=160_000_000,
    )
    b.task(
        "b.train",
        "train",
        "run.b",
        24,
        40.0,
        [("clean", "b.cleaned")],
        [("model", "b.model")],
        rss=950_000_000,
        cpu=99.0,
        gpus=(5_000_000_000, 2_000_000_000),
    )
    b.task("b.epoch0", "epoch", "b.train", 25, 11.0, rss=800_000_000, gpus=(3_000_000_000,))
    b.task("b.epoch1", "epoch", "b.train", 26, 13.0, rss=810_000_000, gpus=(3_100_000_000,))
    b.task("b.epoch2", "epoch", "b.train", 27, 14.0, rss=820_000_000, gpus=(3_200_000_000,))
    b.task(
        "b.report",
        "report",
        "run.b",
        28,
        0.5,
        [("model", "b.model")],
        [("report", "b.summary")],
        rss=90_000_000,
    )

    # --- run P: another workflow that reads the same file -------------------------------------------------
    p = _Builder(graph, f"pgid:doc_p_{token}")
    run_p = p.activity("run.p", "pg:WorkflowRun", plot, _time(41), _time(45))
    p.rel("wasAssociatedWith", activity=run_p, agent=p.ident("machine"))
    p.rel("wasAssociatedWith", activity=run_p, agent=p.ident("alice"))
    p.entity("file", "pg:File", path="/data/dataset.csv", sha256="ab" * 32, size=2048)
    p.entity("p.figure", "pg:File", path="/out/figure.png", sha256="cd" * 32, size=512)
    p.task("p.plot", "plot", "run.p", 42, 2.0, [("data", "file")], [("figure", "p.figure")], rss=70_000_000)

    graph.messages = [shared.message(), a.message(), b.message(), p.message()]
    return graph


def load(backend: Any, graph: KnownGraph) -> None:
    """Write the graph's messages through the real loader."""
    from provgraph.loader import load_messages

    backend.ensure_schema()
    load_messages(backend, graph.messages)


def delete(backend: Any, graph: KnownGraph) -> None:
    """Remove exactly what `load` wrote: the graph's element nodes, its documents and their namespaces."""
    keys = [graph.key(short) for short in graph.ids]
    docs = [message.doc for message in graph.messages]
    backend.write(
        [
            ("UNWIND $keys AS key MATCH (n:Element {key: key}) DETACH DELETE n", {"keys": keys}),
            ("MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n", {"docs": docs}),
            ("UNWIND $docs AS doc MATCH (n:Document {id: doc}) DETACH DELETE n", {"docs": docs}),
        ]
    )


# --- fixtures (import them into a test module: ``from _known_graph import graph_backend, known_graph``) ---------

NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
BACKENDS = os.environ.get("PROVGRAPH_TEST_QUERY_BACKENDS", "neo4j,embedded").split(",")
"""Backends the query tests run on (``neo4j``, ``embedded``); parametrises `graph_backend`."""


def open_test_backend(kind: str, home: str | None = None) -> Any:
    """An open backend of ``kind`` on a real server; fails (never skips) when it cannot be reached."""
    from capture.settings import Settings
    from provgraph.errors import StoreUnavailable
    from provgraph.graph import open_backend

    if kind == "neo4j":
        settings = Settings(graph_url=NEO4J_URI)
    elif kind == "embedded":
        settings = Settings(graph_url="embedded", home=home or tempfile.mkdtemp(prefix="provgraph-queries-"))
    else:
        raise ValueError(f"no test backend {kind!r}; use neo4j or embedded")
    try:
        return open_backend(settings)
    except StoreUnavailable as exc:
        pytest.fail(f"{exc}; run the tests with `bash .ci/test`")
