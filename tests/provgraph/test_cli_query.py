"""`provgraph query/lineage/impact/runs/diff` through the real command line entry, on the real graph server."""

from __future__ import annotations

import json

import pytest

from provgraph.cli.main import main
from provgraph.cli.query import parse_param
from provgraph.errors import ConfigurationError
from provgraph.tables import format_cell, format_table


@pytest.fixture(autouse=True)
def _graph_url(graph_backend, monkeypatch):
    """The command line reaches the same server as the fixtures, through the environment."""
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", graph_backend.settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", graph_backend.settings.home)
    monkeypatch.delenv("PROVGRAPH_SETTINGS", raising=False)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_query_list_names_every_query(capsys):
    code, out, _ = _run(capsys, "query", "--list")
    assert code == 0
    for name in ("lineage_upstream", "run_diff", "shared_entities", "peak_resources", "runs", "task_tree"):
        assert name in out
    assert "$run_a $run_b $limit" in out
    code, out, _ = _run(capsys, "query", "--list", "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert listed["derivation_chain"]["parameters"] == ["source", "target", "depth"]


def test_query_show_prints_the_cypher(capsys):
    code, out, _ = _run(capsys, "query", "run_diff", "--show")
    assert code == 0
    assert out.startswith("// run_diff: ")
    assert "UNWIND [[0, $run_a], [1, $run_b]] AS side_ref" in out


def test_query_runs_a_named_query_as_table_and_json(capsys, known_graph):
    g = known_graph
    code, out, err = _run(capsys, "query", "task_tree", "--param", f"run={g.id('run.a')}")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["depth", "id", "name", "labels"]
    assert set(lines[1]) == {"-", " "}
    assert len(lines) == 2 + 6 and g.id("a.evaluate") in lines[-1] and "ValueError: no labels" in lines[-1]
    assert "(6 rows)" in err
    code, out, _ = _run(capsys, "query", "task_tree", "--param", f"run={g.id('run.a')}", "--wide")
    assert out.splitlines()[0].split()[:4] == ["depth", "id", "key", "name"] and g.key("a.load") in out
    code, out, _ = _run(
        capsys,
        "query",
        "run_diff",
        "-p",
        f"run_a={g.id('run.a')}",
        "-p",
        f"run_b={g.id('run.b')}",
        "-p",
        "limit=2",
        "--json",
    )
    rows = json.loads(out)
    assert [(r["side"], r["name"]) for r in rows] == [(0, "load"), (0, "clean")]
    assert {
        "role": "threshold",
        "id": g.id("a.threshold"),
        "key": g.key("a.threshold"),
        "content": 0.5,
    } in rows[1]["inputs"]


def test_lineage_and_impact_commands(capsys, known_graph):
    g = known_graph
    code, out, err = _run(capsys, "lineage", g.id("a.model"), "--depth", "2", "--json")
    assert code == 0
    assert [row["id"] for row in json.loads(out)] == [
        g.id("a.cleaned"),
        g.id("a.train"),
        g.id("a.clean"),
        g.id("a.rows"),
        g.id("a.threshold"),
    ]
    code, out, err = _run(capsys, "impact", g.key("a.threshold"))
    assert code == 0
    body = out.splitlines()
    assert body[0].split() == ["depth", "name", "labels", "value", "relation", "via", "id"]
    assert [line.split()[-1] for line in body[2:]] == [
        g.id("a.clean"),
        g.id("a.cleaned"),
        g.id("a.model"),
        g.id("a.train"),
        g.id("a.evaluate"),
    ]
    assert "(5 elements within 10 relationships)" in err


def test_runs_and_diff_commands(capsys, known_graph):
    g = known_graph
    code, out, _ = _run(capsys, "runs", "--workflow", g.names["train"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "workflow",
        "start_time",
        "status",
        "tasks",
        "finished",
        "failed",
        "other",
        "id",
    ]
    assert lines[2].split() == [
        g.names["train"],
        "2026-03-01T10:21:00+00:00",
        "7",
        "7",
        "0",
        "0",
        g.id("run.b"),
    ]
    assert lines[3].split() == [
        g.names["train"],
        "2026-03-01T10:01:00+00:00",
        "6",
        "5",
        "1",
        "0",
        g.id("run.a"),
    ]
    code, out, err = _run(capsys, "diff", g.id("run.a"), g.id("run.b"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["change", "kind", "activity"]
    assert lines[2].split()[:5] == ["changed", "cause", "clean#0", "threshold=0.5", "threshold=0.7"]
    assert lines[3].split() == [
        "removed",
        "consequence",
        "evaluate#0",
        "model=model-a",
        g.id("a.train"),
        g.id("a.evaluate"),
    ]
    assert lines[6].split() == ["added", "consequence", "epoch#2", g.id("b.train"), g.id("b.epoch2")]
    assert "(2 added, 1 removed, 2 changed; 1 causes, 4 consequences)" in err
    code, out, _ = _run(capsys, "diff", g.id("run.a"), g.id("run.b"), "--json")
    diff = json.loads(out)
    assert diff["run_a"] == g.id("run.a") and len(diff["changes"]) == 5


def test_errors_are_one_line_and_exit_non_zero(capsys, known_graph):
    code, _, err = _run(capsys, "lineage", known_graph.id("a.model"), "--depth", "99")
    assert code == 1 and "depth must be a whole number from 1 to 30" in err
    code, _, err = _run(capsys, "query", "no_such_query")
    assert code == 1 and "no query named 'no_such_query'" in err
    code, _, err = _run(capsys, "query", "task_tree", "-p", "run")
    assert code == 1 and "is not K=V" in err
    code, _, err = _run(capsys, "query", "task_tree")
    assert code == 1 and "needs parameter run" in err


def test_parse_param_and_table_format():
    assert parse_param("run=pgid:run_1") == ("run", "pgid:run_1")
    assert parse_param("ref=a=b") == ("ref", "a=b")
    assert parse_param("limit=5") == ("limit", 5)
    assert parse_param("run=null") == ("run", None)
    assert parse_param('ids:=["a", 1]') == ("ids", ["a", 1])
    with pytest.raises(ConfigurationError):
        parse_param("depth=deep")
    table = format_table(
        [{"name": "a", "n": 1, "tags": ["x", "y"]}, {"name": "long name", "n": 12.5, "tags": None}]
    )
    assert table.splitlines() == [
        "name          n  tags",
        "---------  ----  ----",
        "a             1  x, y",
        "long name  12.5",
    ]
    assert format_table([]) == "(no rows)"
    assert format_cell({"role": "x", "value": None}) == "role=x"
    assert format_cell("a\nb") == "a b"
    assert len(format_cell("z" * 500)) == 60
