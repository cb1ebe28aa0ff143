"""Run verbs on PROV that provgraph did not write: the provenance-challenge fixture, on both backends.

The fixture (`_challenge.py`, ``data/provenance_challenge.provn``) has two runs whose steps belong to them only
through ``wasInformedBy``; run 2 changes one parameter of align_warp. Each test asks one verb and checks the exact
answer (docs/graph-model.md, "Runs and steps").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _challenge import Challenge, delete, load

from provgraph.client import Client, ParameterChange
from provgraph.errors import QueryError

STEPS = 15  # 4 align_warp, 4 reslice, softmean, 3 slicer, 3 convert


@pytest.fixture(scope="module")
def challenge(graph_backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Challenge]:
    copy = load(graph_backend, uuid.uuid4().hex[:12], tmp_path_factory.mktemp("challenge"))
    yield copy
    delete(graph_backend, copy)


@pytest.fixture(scope="module")
def client(graph_backend: Any) -> Client:
    return Client(backend=graph_backend)


def test_runs_finds_both_runs_through_was_informed_by(client, challenge):
    rows = client.run("runs", workflow=None, run=None, limit=100_000)
    mine = [row for row in rows if (row["key"] or "").startswith(challenge.namespace)]
    assert [(row["key"], row["kind"], row["workflow"], row["tasks"], row["other"]) for row in mine] == [
        (challenge.key("run2"), "activity", "brain atlas run 2", STEPS, STEPS),
        (challenge.key("run1"), "activity", "brain atlas run 1", STEPS, STEPS),
    ]
    assert mine[0]["startTime"] == "2026-03-03T08:00:00-06:00"
    # the document holds run activities, so it is not a run of its own
    assert not [row for row in rows if row["id"] == challenge.doc]


def _keys(rows: list[dict[str, Any]], field: str = "key") -> list[str]:
    return [row[field] for row in rows]


def test_task_tree_lists_the_steps_of_a_run(client, challenge):
    rows = client.run("task_tree", run=challenge.key("run1"), limit=100)
    assert len(rows) == STEPS
    assert {row["depth"] for row in rows} == {1}
    assert {row["parent"] for row in rows} == {challenge.id("run1")}
    names = sorted(row["name"] for row in rows)
    assert names == sorted(
        ["align_warp"] * 4 + ["reslice"] * 4 + ["softmean"] + ["slicer"] * 3 + ["convert"] * 3
    )
    assert all(row["key"].startswith(challenge.namespace + "r1_") for row in rows)
    # by the document's qualified name too; an entity is no run: no steps
    assert client.run("task_tree", run=challenge.key("anatomy1_img"), limit=100) == []


def test_lineage_does_not_count_the_run_as_a_cause(client, challenge):
    rows = client.run("lineage_upstream", ref=challenge.key("r1_atlas_x_gif"), depth=30, limit=1000)
    keys = set(_keys(rows))
    assert challenge.key("run1") not in keys
    expected = {
        challenge.key(local)
        for local in ["r1_convert_x", "r1_atlas_x_pgm", "r1_slicer_x", "r1_atlas", "r1_softmean"]
    }
    expected |= {
        challenge.key(f"r1_{kind}{k}") for kind in ("reslice", "resliced", "warp") for k in range(1, 5)
    }
    expected |= {challenge.key(f"r1_aw_{letter}") for letter in "abcd"}
    expected |= {challenge.key(f"anatomy{k}_img") for k in range(1, 5)} | {challenge.key("reference_img")}
    assert keys == expected
    by_key = {row["key"]: row for row in rows}
    assert (
        by_key[challenge.key("r1_convert_x")]["depth"],
        by_key[challenge.key("r1_convert_x")]["relation"],
    ) == (
        1,
        "wasGeneratedBy",
    )
    assert by_key[challenge.key("r1_softmean")]["name"] == "softmean"


def test_impact_of_a_shared_input_reaches_both_runs(client, challenge):
    rows = client.run("impact_downstream", ref=challenge.key("reference_img"), depth=30, limit=1000)
    keys = set(_keys(rows))
    for run in (1, 2):
        assert {challenge.key(f"r{run}_aw_{letter}") for letter in "abcd"} <= keys
        assert {challenge.key(f"r{run}_atlas_{dim}_gif") for dim in "xyz"} <= keys
    assert not {challenge.key("run1"), challenge.key("run2")} & keys
    assert len(keys) == 2 * (STEPS + 4 + 4 + 1 + 3 + 3)  # every step and every generated entity of both runs


def test_provenance_since_cuts_at_a_step_named_by_its_label(client, challenge):
    rows = client.run(
        "provenance_since", ref=challenge.key("r1_atlas_x_gif"), activity="softmean", depth=30, limit=1000
    )
    assert sorted((row["depth"], row["key"], row["cut"]) for row in rows) == sorted(
        [
            (1, challenge.key("r1_atlas_x_pgm"), False),
            (1, challenge.key("r1_convert_x"), False),
            (2, challenge.key("r1_slicer_x"), False),
            (3, challenge.key("r1_atlas"), False),
            (4, challenge.key("r1_softmean"), True),
        ]
    )


def test_find_in_a_run_covers_its_steps_by_was_informed_by_and_finds_them_by_label(client, challenge):
    """find --run follows the run rule (steps joined by wasInformedBy, not only wasStartedBy), and a step named
    only by its prov:label is found by that label; both came back empty for another tool's PROV."""
    from _challenge import DOCUMENT, NAMESPACE
    from prov.model import ProvCommunication, ProvGeneration, ProvUsage

    from provgraph.prov.importer import read_document

    text = DOCUMENT.read_text().replace(f"<{NAMESPACE}>", f"<{challenge.namespace}>")
    document = read_document(text.encode(), "provn")
    run1 = challenge.key("run1")
    steps = {
        str(r.formal_attributes[0][1].uri)
        for r in document.get_records(ProvCommunication)
        if str(r.formal_attributes[1][1].uri) == run1
    }
    entities = {
        str(r.formal_attributes[i][1].uri)
        for kind, i, j in ((ProvUsage, 1, 0), (ProvGeneration, 0, 1))
        for r in document.get_records(kind)
        if str(r.formal_attributes[j][1].uri) in steps
    }
    assert len(steps) == STEPS and entities
    found = client.find(run=run1, limit=1000)
    assert sorted(f.key for f in found) == sorted({run1} | steps | entities)
    warps = client.find("align_warp", run=run1)
    assert sorted(f.key for f in warps) == sorted(challenge.key(f"r1_aw_{letter}") for letter in "abcd")
    assert {f.name for f in warps} == {"align_warp"}
    # other tests load the same fixture under other namespaces into the shared store: look at this one's only
    named = [f.key for f in client.find(name="brain atlas run 2") if f.key.startswith(challenge.namespace)]
    assert named == [challenge.key("run2")]


def test_shared_entities_and_entity_runs(client, challenge):
    rows = client.run("shared_entities", run=challenge.key("run1"), limit=1000)
    shared = sorted(
        {(row["entity_key"], row["other_run"], row["relation"], row["other_relation"]) for row in rows}
    )
    inputs = [challenge.key(f"anatomy{k}_img") for k in range(1, 5)] + [challenge.key("reference_img")]
    assert shared == sorted((key, challenge.id("run2"), "used", "used") for key in inputs)
    assert {row["other_workflow"] for row in rows} == {"brain atlas run 2"}
    uses = client.run("entity_runs", ref=challenge.key("reference_img"), limit=1000)
    assert sorted((row["run"], row["activity"], row["relation"]) for row in uses) == sorted(
        [(challenge.id("run1"), challenge.id(f"r1_aw_{letter}"), "used") for letter in "abcd"]
        + [(challenge.id("run2"), challenge.id(f"r2_aw_{letter}"), "used") for letter in "abcd"]
    )
    assert {row["activity_name"] for row in uses} == {"align_warp"}
    assert [row["run_start"] for row in uses][:1] == ["2026-03-02T08:00:00-06:00"]


def test_diff_pairs_steps_by_what_they_did_and_names_the_parameter_as_the_cause(client, challenge):
    diff = client.diff(challenge.key("run1"), challenge.key("run2"))
    # the four align_warp steps start at the same instant and run 2 numbers them differently: paired by image
    anatomy_of_run2 = {"a": 3, "b": 1, "c": 4, "d": 2}
    expected_pairs = {
        (challenge.id(f"r1_aw_{letter}"), challenge.id(f"r2_aw_{l2}"))
        for letter, k in zip("abcd", (1, 2, 3, 4), strict=True)
        for l2, k2 in anatomy_of_run2.items()
        if k2 == k
    }
    assert expected_pairs <= set(diff.pairs)
    assert {(challenge.id(f"r1_reslice{k}"), challenge.id(f"r2_reslice{k}")) for k in range(1, 5)} <= set(
        diff.pairs
    )
    assert {(challenge.id(f"r1_slicer_{d}"), challenge.id(f"r2_slicer_{d}")) for d in "xyz"} <= set(
        diff.pairs
    )
    assert not diff.added and not diff.removed
    assert len(diff.changes) == STEPS
    causes = diff.causes
    assert sorted((c.activity_a, c.activity_b) for c in causes) == sorted(expected_pairs)
    assert {c.parameters for c in causes} == {(ParameterChange("fpc:model", 12, 9),)}  # xsd:int: numbers
    assert all(
        not c.removed_inputs and not c.added_inputs for c in causes
    )  # the same images: no false change
    consequences = {c.activity_b: c for c in diff.consequences}
    assert consequences[challenge.id("r2_reslice1")].because == (challenge.id("r2_aw_b"),)
    assert set(consequences[challenge.id("r2_softmean")].because) == {
        challenge.id(f"r2_reslice{k}") for k in range(1, 5)
    }
    assert consequences[challenge.id("r2_convert_x")].because == (challenge.id("r2_slicer_x"),)
    assert client.diff(challenge.key("run1"), challenge.key("run1")).changes == ()


def test_run_questions_refuse_what_is_not_a_run(client, challenge):
    entity = challenge.key("anatomy1_img")
    for question in (
        lambda: client.task_tree(entity),
        lambda: client.shared_entities(entity),
        lambda: client.diff(challenge.key("run1"), entity),
        lambda: client.diff(challenge.key("r1_softmean"), challenge.key("run2")),  # a step, not a run
    ):
        with pytest.raises(QueryError, match="is not a run"):
            question()
    assert client.run_summary(challenge.key("run1")).tasks == STEPS


def test_browser_graphs_follow_the_same_rule(graph_backend, challenge):
    (tree,) = graph_backend.read(
        graph_backend.render("browser/task_tree_graph"),
        {"run": challenge.key("run1")},
        tag="browser/task_tree_graph",
    )
    assert len(tree["nodes"]) == STEPS + 1
    # every step's wasInformedBy edge to the run, and the 4 reslice -> align_warp links
    assert len(tree["relationships"]) == STEPS + 4
    shared = graph_backend.read(
        graph_backend.render("browser/shared_entities_graph"),
        {"run": challenge.key("run1")},
        tag="browser/shared_entities_graph",
    )
    assert {row["other_run"]["key"] for row in shared} == {challenge.key("run2")}
    assert {row["entity"]["key"] for row in shared} == {
        challenge.key(local)
        for local in ["reference_img", "anatomy1_img", "anatomy2_img", "anatomy3_img", "anatomy4_img"]
    }


def test_typed_values_are_queryable_as_numbers_and_booleans(graph_backend, challenge):
    """`"4095" %% xsd:int` is the number 4095 in the graph and `"true" %% xsd:boolean` the boolean true; the exact
    lexical forms stay in the record (`_decl`), so export gives them back as written."""
    maxima = graph_backend.read(
        "MATCH (e:Entity) WHERE e.key STARTS WITH $ns AND e.`fpc:global_maximum` = 4095 RETURN e.key AS key",
        {"ns": challenge.namespace},
    )
    expected = {challenge.key(f"anatomy{k}_img") for k in range(1, 5)} | {challenge.key("reference_img")}
    assert {row["key"] for row in maxima} == expected | {challenge.key("r1_atlas")}
    below = graph_backend.read(
        "MATCH (e:Entity) WHERE e.key STARTS WITH $ns AND e.`fpc:global_maximum` < 4095 RETURN e.key AS key",
        {"ns": challenge.namespace},
    )
    assert [row["key"] for row in below] == [challenge.key("r2_atlas")]
    resampled = graph_backend.read(
        "MATCH (e:Entity) WHERE e.key STARTS WITH $ns AND e.`fpc:resampled` = true RETURN e.key AS key",
        {"ns": challenge.namespace},
    )
    assert [row["key"] for row in resampled] == [challenge.key("reference_img")]
    (row,) = graph_backend.read(
        "MATCH (e:Element {key: $key}) RETURN e._decl AS decl", {"key": challenge.key("reference_img")}
    )
    assert '"$":"4095","type":"xsd:int"' in row["decl"][0].replace(" ", "")
