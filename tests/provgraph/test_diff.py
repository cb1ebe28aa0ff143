"""`provgraph.diff.compare_runs` on hand-made step rows (the shape of ``cypher/run_diff.cypher``): pairing by what
steps did, and causes told from consequences. The same rules on real graphs: test_runs_any_prov.py and
test_queries.py."""

from __future__ import annotations

from typing import Any

from provgraph.diff import InputValue, ParameterChange, compare_runs


def _step(
    side: int,
    name: str,
    start: str,
    inputs: list[tuple[str, str, Any]] = (),  # type: ignore[assignment]
    outputs: list[tuple[str, str, Any]] = (),  # type: ignore[assignment]
    parent: str = "run",
    parameters: list[list[Any]] | None = None,
    ident: str | None = None,
) -> dict[str, Any]:
    ident = ident or f"{side}:{name}:{start}"
    return {
        "side": side,
        "id": ident,
        "key": "urn:" + ident,
        "name": name,
        "depth": 1,
        "parent": parent,
        "startTime": start,
        "status": "FINISHED",
        "parameters": parameters or [],
        "inputs": [{"role": r, "key": "urn:" + k, "id": k, "content": c} for r, k, c in inputs],
        "outputs": [{"role": r, "key": "urn:" + k, "id": k, "content": c} for r, k, c in outputs],
    }


def _pool_run(side: int, factor: int, order: list[int]) -> list[dict[str, Any]]:
    """scale(x, factor) for x in 1..3, all starting at the same instant (ids in `order`), then combine."""
    rows = []
    for position, x in enumerate(order):
        rows.append(
            _step(
                side,
                "scale",
                "2026-01-01T00:00:00+00:00",
                inputs=[("x", f"{side}x{x}", x), ("factor", f"{side}f{x}", factor)],
                outputs=[("scaled", f"{side}s{x}", x * factor)],
                ident=f"{side}:scale:{position}",
            )
        )
    rows.append(
        _step(
            side,
            "combine",
            "2026-01-01T00:00:01+00:00",
            inputs=[(f"v{x}", f"{side}s{x}", x * factor) for x in (1, 2, 3)],
            outputs=[("total", f"{side}t", 6 * factor)],
        )
    )
    return rows


def test_tasks_starting_together_pair_by_their_inputs_and_the_parameter_is_the_cause():
    diff = compare_runs("a", "b", _pool_run(0, 2, [1, 2, 3]) + _pool_run(1, 3, [3, 1, 2]))
    # scale(x=1) in A is 0:scale:0; in B x=1 is 1:scale:1: paired by x, not by start order or id
    assert sorted(p for p in diff.pairs if p[0] and "scale" in p[0]) == [
        ("0:scale:0", "1:scale:1"),
        ("0:scale:1", "1:scale:2"),
        ("0:scale:2", "1:scale:0"),
    ]
    causes = diff.causes
    assert [(c.name, c.removed_inputs, c.added_inputs) for c in causes] == [
        ("scale", (InputValue("factor", 2),), (InputValue("factor", 3),))
    ] * 3
    assert [(c.change, c.name, c.cause) for c in diff.consequences] == [("changed", "combine", False)]
    combine = diff.consequences[0]
    assert set(combine.because) == {"1:scale:0", "1:scale:1", "1:scale:2"}
    assert not diff.added and not diff.removed


def test_identical_runs_have_no_changes_whatever_the_start_order():
    diff = compare_runs("a", "b", _pool_run(0, 2, [1, 2, 3]) + _pool_run(1, 2, [2, 3, 1]))
    assert diff.changes == ()


def test_an_equal_value_from_a_changed_step_stops_the_consequences():
    def run(side: int, threshold: float) -> list[dict[str, Any]]:
        return [
            _step(side, "clean", "t1", [("threshold", f"{side}th", threshold)], [("rows", f"{side}r", 10)]),
            _step(side, "train", "t2", [("rows", f"{side}r", 10)], [("model", f"{side}m", "m")]),
        ]

    diff = compare_runs("a", "b", run(0, 0.5) + run(1, 0.7))
    assert [(c.name, c.cause) for c in diff.changes] == [("clean", True)]


def test_a_parameter_attribute_is_a_cause_and_steps_without_content_are_consequences():
    def run(side: int, model: int) -> list[dict[str, Any]]:
        return [
            _step(
                side,
                "align",
                "t1",
                [("img", "shared_img", None)],
                [("warp", f"{side}w", None)],
                parameters=[["fpc:model", model]],
            ),
            _step(side, "reslice", "t2", [("warp", f"{side}w", None)], [("out", f"{side}o", None)]),
        ]

    diff = compare_runs("a", "b", run(0, 12) + run(1, 9))
    align, reslice = diff.changes
    assert align.cause and align.parameters == (ParameterChange("fpc:model", 12, 9),)
    assert not align.removed_inputs and not align.added_inputs
    assert not reslice.cause and reslice.because == ("1:align:t1",)


def test_added_and_removed_steps_under_a_changed_parent_are_consequences():
    def run(side: int, epochs: int) -> list[dict[str, Any]]:
        rows = [_step(side, "train", "t1", [("epochs", f"{side}e", epochs)], ident=f"{side}:train")]
        rows += [_step(side, "epoch", f"t2.{i}", parent=f"{side}:train") for i in range(epochs)]
        return rows

    diff = compare_runs("a", "b", run(0, 2) + run(1, 3))
    assert [(c.change, c.place, c.ordinal, c.cause, c.because) for c in diff.changes] == [
        ("changed", "train", 0, True, ()),
        ("added", "train/epoch", 2, False, ("1:train",)),
    ]
    # an added step with nothing changed above or before it is a cause of its own
    lone = compare_runs("a", "b", [_step(1, "extra", "t9")])
    assert [(c.change, c.cause) for c in lone.changes] == [("added", True)]


def test_large_groups_fall_back_to_start_order_after_exact_matches():
    a = [_step(0, "it", f"t{i:04d}", [("i", f"0i{i}", i)]) for i in range(300)]
    b = [_step(1, "it", f"t{i:04d}", [("i", f"1i{i}", i if i % 2 else -i)]) for i in range(300)]
    diff = compare_runs("a", "b", a + b)
    assert len(diff.pairs) == 300  # everything paired, none added or removed
    assert len(diff.changes) == 149  # the even ones but 0 (-0 == 0)
