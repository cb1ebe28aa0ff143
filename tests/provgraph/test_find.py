"""Finding ids (`Client.find`, `provgraph find`, `lineage --file`) and unknown ids as errors, on both engines.

Every verb and `Client` method that takes an id refuses one that is not in the graph, naming it and suggesting
close matches, instead of answering "(no rows)" as if it were real.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from provgraph.cli.main import main
from provgraph.client import Client
from provgraph.errors import ConfigurationError, UnknownId


@pytest.fixture(scope="module")
def client(graph_backend: Any) -> Client:
    return Client(backend=graph_backend)


@pytest.fixture
def cli_env(graph_backend, monkeypatch):
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", graph_backend.settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", graph_backend.settings.home)
    monkeypatch.delenv("PROVGRAPH_SETTINGS", raising=False)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_find_by_path_role_value_text_and_kind(client, known_graph):
    g = known_graph
    files = client.find(path="dataset.csv", run=g.id("run.a"))
    assert [(f.kind, f.id, f.name, f.path) for f in files] == [
        ("File", g.id("file"), "dataset.csv", "/data/dataset.csv")
    ]
    assert [f.id for f in client.find(role="threshold", run=g.id("run.b"))] == [g.id("b.threshold")]
    # a number matches numerically, whichever way it was written
    assert [f.id for f in client.find(value=0.5, run=g.id("run.a"))] == [g.id("a.threshold")]
    assert [f.id for f in client.find(value="0.50", run=g.id("run.a"))] == [g.id("a.threshold")]
    assert [f.id for f in client.find(value="model-b", run=g.key("run.b"))] == [g.id("b.model")]
    tasks = client.find(kind="task", run=g.id("run.a"))
    assert {t.kind for t in tasks} == {"Task"} and g.id("a.train") in {t.id for t in tasks}
    assert {t.name for t in client.find("EPOCH", run=g.id("run.b"), kind="task")} >= {
        g.names.get("epoch", "epoch")
    }
    assert client.find(name="no such thing", run=g.id("run.a")) == []
    with pytest.raises(ConfigurationError, match="unknown kind 'gadget'"):
        client.find(kind="gadget")


def test_file_ids_from_a_path_on_disk(client, known_graph, tmp_path):
    same = tmp_path / "model.pkl"
    same.write_bytes(b"weights of the model")
    with pytest.raises(UnknownId, match="content of .*model.pkl"):
        client.file_ids(same)
    with pytest.raises(ConfigurationError, match="cannot read"):
        client.file_ids(tmp_path / "missing.pkl")
    # give the known graph's figure this file's content hash: the file is then found by its content
    digest = hashlib.sha256(same.read_bytes()).hexdigest()
    client.backend.write(
        [
            (
                "MATCH (n:Element {key: $key}) SET n.sha256 = $sha256",
                {"key": known_graph.key("p.figure"), "sha256": digest},
            )
        ]
    )
    assert client.file_ids(same) == [known_graph.id("p.figure")]


def test_every_id_taking_method_refuses_an_unknown_id(client, known_graph):
    g = known_graph
    missing = g.id("run.a") + "x"  # one character off: a close match exists
    calls = {
        "lineage": lambda: client.lineage(missing),
        "impact": lambda: client.impact(missing),
        "derivation_chain": lambda: client.derivation_chain(missing, g.id("file")),
        "derivation_chain (target)": lambda: client.derivation_chain(g.id("a.model"), missing),
        "provenance_since": lambda: client.provenance_since(missing, "clean"),
        "task_tree": lambda: client.task_tree(missing),
        "diff": lambda: client.diff(g.id("run.a"), missing),
        "diff (a)": lambda: client.diff(missing, g.id("run.a")),
        "failed_tasks": lambda: client.failed_tasks(missing),
        "slowest_tasks": lambda: client.slowest_tasks(missing),
        "peak_resources": lambda: client.peak_resources(missing),
        "shared_entities": lambda: client.shared_entities(missing),
        "entity_runs": lambda: client.entity_runs(missing),
        "campaign_products": lambda: client.campaign_products(missing),
        "associations": lambda: client.associations(missing),
        "token_usage": lambda: client.token_usage(missing),
        "token_usage_by_step": lambda: client.token_usage_by_step(missing),
        "token_usage_lineage": lambda: client.token_usage_lineage(missing),
        "find": lambda: client.find(run=missing),
        "run_summary": lambda: client.run_summary(missing),
        "run": lambda: client.run("task_tree", run=missing),
        "runs": lambda: client.run("runs", run=missing, workflow=None),
    }
    for what, call in calls.items():
        with pytest.raises(UnknownId) as caught:
            call()
        assert caught.value.ref == missing, what
        assert g.id("run.a") in caught.value.suggestions, what
        assert missing in str(caught.value) and "did you mean" in str(caught.value), what
    # every query of the library whose header takes an id is covered above, through a method or `run`
    from provgraph.client import query_parameters
    from provgraph.graph.cypher import catalogue

    taking_ids = {q.name for q in catalogue() if any(p.is_id for p in query_parameters(q))}
    assert taking_ids <= {
        "runs",
        "lineage_upstream",
        "impact_downstream",
        "derivation_chain",
        "provenance_since",
        "task_tree",
        "run_diff",
        "failed_tasks",
        "slowest_tasks",
        "peak_resources",
        "shared_entities",
        "entity_runs",
        "campaign_products",
        "associations",
        "token_usage",
        "token_usage_tasks",
        "token_usage_lineage",
        "find",
    }, "a new query takes an id: add its method to this test"
    # a document's id is an id too (a run of an imported document)
    client.run("task_tree", run=g.messages[0].doc)


def test_cli_verbs_exit_non_zero_on_an_unknown_id(capsys, cli_env, known_graph):
    g = known_graph
    missing = "pgid:no_such_thing_" + g.token
    for argv in (
        ["lineage", missing],
        ["impact", missing],
        ["diff", g.id("run.a"), missing],
        ["diff", missing, g.id("run.b")],
        ["query", "task_tree", "--param", f"run={missing}"],
        ["find", "--run", missing],
        ["show", missing],
        ["export", "--run", missing],
        ["export", "--lineage", missing],
        ["export", "--doc", missing],
        ["verify", "--run", missing],
        ["purge", "--run", missing, "--yes"],
        ["purge", "--doc", missing, "--dry-run"],
        ["tokens", missing],
        ["lineage", "--file", __file__],
    ):
        code, out, err = _run(capsys, *argv)
        assert code == 1, argv
        assert out == "", argv
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert "is not in the graph" in err, (argv, err)
    code, _, err = _run(capsys, "diff", g.id("run.a"), g.id("run.a")[:-1])
    assert code == 1 and f"did you mean {g.id('run.a')}" in err or g.id("run.a") in err
    code, _, err = _run(capsys, "lineage")
    assert code == 1 and "needs an ID or --file PATH" in err


def test_find_command_lists_ids(capsys, cli_env, known_graph):
    g = known_graph
    code, out, err = _run(capsys, "find", "--path", "dataset.csv", "--run", g.id("run.p"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["kind", "name", "role", "value", "path", "runs", "id"]
    assert lines[2].split()[0] == "File" and g.id("file") in lines[2]
    assert "(1 element)" in err
    code, out, _ = _run(capsys, "find", "--role", "threshold", "--run", g.id("run.a"), "--json")
    assert [row["value"] for row in json.loads(out)] == [0.5]


def test_show_lists_a_runs_tasks_files_and_values_with_ids(capsys, cli_env, known_graph):  # noqa: F811
    g = known_graph
    code, out, err = _run(capsys, "show", g.id("run.a"))
    assert code == 0, err
    sections = out.split("== ")
    assert [s.split("\n", 1)[0] for s in sections[1:]] == ["run", "tasks", "files", "values"]
    assert g.id("run.a") in sections[1] and g.id("a.train") in sections[2]
    assert g.id("file") in sections[3] and "/data/dataset.csv" in sections[3]
    assert g.id("a.threshold") in sections[4] and g.id("file") not in sections[4]
    code, out, _ = _run(capsys, "show", g.id("run.a"), "--json")
    shown = json.loads(out)
    assert [f["id"] for f in shown["files"]] == [g.id("file")]
    code, _, err = _run(capsys, "show", g.id("run.a") + "x")
    assert code == 1 and "is not in the graph" in err
