"""TaskSpec binding and output mapping, and the records of one activity (wire-valid, lineage-linked)."""

from __future__ import annotations

import datetime

from _capture_helpers import attr

from capture import _ids, wire
from capture._context import Run
from capture._records import TaskSpec, activity_records


def test_bind_positional_keyword_defaults_varargs_and_methods():
    def f(a, b=2, *more, c=3, **extra):
        return None

    spec = TaskSpec(f)
    assert spec.bind((1,), {}) == [("a", 1), ("b", 2), ("c", 3)]
    assert spec.bind((1, 5, 6), {"c": 7, "z": 8}) == [("a", 1), ("b", 5), ("more[0]", 6), ("c", 7), ("z", 8)]

    class K:
        def m(self, x):
            return x

    assert TaskSpec(K.m).bind((K(), 4), {}) == [("x", 4)]


def test_outputs_mapping_rules():
    assert TaskSpec(None, output_names="y").outputs((1, 2)) == [("y", (1, 2))]
    assert TaskSpec(None, output_names=["y", "z"]).outputs((1, 2)) == [("y", 1), ("z", 2)]
    assert TaskSpec(None, output_names=["y", "z"]).outputs(5) == [("return", 5)]
    assert TaskSpec(None).outputs({"a": 1}) == [("a", 1)]
    assert TaskSpec(None).outputs(None) == []
    assert TaskSpec(None).outputs(3) == [("return", 3)]


def test_activity_records_are_valid_and_linked():
    run = Run("pgid:run_t", "t", None)
    records = activity_records(
        run=run,
        activity_id="pgid:task_abc_1",
        parent_id="pgid:run_t",
        name="step",
        start_ns=1_000_000_000,
        end_ns=1_500_000_000,
        status="FINISHED",
        inputs=[("x", [1, 2])],
        outputs=[("y", [3])],
        tags=["a", "b"],
        custom_metadata={"k": 1},
    )
    for index, record in enumerate(records):
        wire.validate_record(record, index)
    kinds = [r["k"] for r in records]
    assert kinds == [
        "activity",
        "wasStartedBy",
        "entity",
        "used",
        "entity",
        "wasGeneratedBy",
        "wasDerivedFrom",
    ]
    activity = records[0]
    assert activity["f"] == {
        "startTime": _ids.iso_from_ns(1_000_000_000),
        "endTime": _ids.iso_from_ns(1_500_000_000),
    }
    assert datetime.datetime.fromisoformat(activity["f"]["endTime"]).timestamp() == 1.5
    assert attr(activity, "pg:duration_s") == 0.5 and attr(activity, "pg:tags") == ["a", "b"]
    assert records[6]["f"] == {
        "generatedEntity": "pgid:val_abc_1_o0",
        "usedEntity": "pgid:val_abc_1_i0",
        "activity": "pgid:task_abc_1",
    }
