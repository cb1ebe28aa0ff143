"""Lineage semantics: identity joins, equal generated immutables join, unrelated literals never do, files."""

from __future__ import annotations

import datetime

import pytest
from _capture_helpers import attr, of_kind

import capture
from capture import wire
from capture._lineage import Lineage


def _used(records):
    return [(r["f"]["activity"], r["f"]["entity"]) for r in of_kind(records, "used")]


def _generated(records):
    return {r["f"]["entity"]: r["f"]["activity"] for r in of_kind(records, "wasGeneratedBy")}


def test_equal_literals_from_unrelated_places_are_not_joined(memory_emitter):
    @capture.task
    def f(x):
        return None

    with capture.Workflow() as run:
        f(1000)
        f(1000)
    used = _used(memory_emitter.records(run.id))
    assert len(used) == 2 and used[0][1] != used[1][1]


def test_equal_immutable_value_generated_earlier_is_the_same_entity(memory_emitter):
    @capture.task(output_names="name")
    def make():
        return "".join(["ab", "cd"])  # a new str object each call

    @capture.task
    def consume(name):
        return None

    with capture.Workflow() as run:
        make()
        consume("abcd")  # equal value, different object
    records = memory_emitter.records(run.id)
    generated = _generated(records)
    consumed = [e for a, e in _used(records)]
    assert consumed and consumed[0] in generated


def test_mutable_object_identity(memory_emitter):
    @capture.task(output_names="rows")
    def load():
        return [1, 2, 3]

    @capture.task
    def use(rows):
        return None

    with capture.Workflow() as run:
        rows = load()
        use(rows)
        use([1, 2, 3])  # equal but a different list: a new entity
        shared = {"k": 1}
        use(shared)
        use(shared)  # the same input object twice: one entity used twice
    used = [e for _, e in _used(memory_emitter.records(run.id))]
    generated = _generated(memory_emitter.records(run.id))
    assert used[0] in generated
    assert used[1] not in generated and used[1] != used[0]
    assert used[2] == used[3]


def test_whole_tuple_result_uses_every_output(memory_emitter):
    @capture.task(output_names=["a", "b"])
    def split():
        return [1.5], [2.5]

    @capture.task
    def join(pair):
        return None

    with capture.Workflow() as run:
        pair = split()
        join(pair)
    records = memory_emitter.records(run.id)
    generated = _generated(records)
    join_used = [e for a, e in _used(records) if a not in set(generated.values())]
    assert len(join_used) == 2 and all(e in generated for e in join_used)


def _file_entities(records):
    return {e["id"]: e for e in of_kind(records, "entity") if attr(e, "pg:sha256")}


def _specialised(records):
    return {r["f"]["specificEntity"]: r["f"]["generalEntity"] for r in of_kind(records, "specializationOf")}


def test_each_generation_of_a_file_is_its_own_entity_and_a_later_read_uses_it(memory_emitter, tmp_path):
    path = tmp_path / "table.csv"

    @capture.task(output_names="table")
    def write():
        path.write_text("a,b\n1,2\n")  # the same bytes in both runs: a deterministic rerun
        return capture.file(path)

    @capture.task
    def read(source):
        return None

    runs = []
    for _ in range(2):
        with capture.Workflow("producer") as producer:
            write()
        with capture.Workflow("consumer") as consumer:
            read(capture.file(path))  # a new marker: found by path and content, not by identity
        runs.append((producer.id, consumer.id))
    everything = [r for pair in runs for run in pair for r in memory_emitter.records(run)]
    generators: dict[str, list[str]] = {}
    for entity, activity in (
        (r["f"]["entity"], r["f"]["activity"]) for r in of_kind(everything, "wasGeneratedBy")
    ):
        generators.setdefault(entity, []).append(activity)
    assert all(len(activities) == 1 for activities in generators.values())  # no entity generated twice
    generations = []
    for producer_id, consumer_id in runs:
        produced = memory_emitter.records(producer_id)
        (generation,) = [e for e in _file_entities(produced) if e in _generated(produced)]
        assert generation.startswith("pgid:file_") and not generation.startswith("pgid:file_sha256_")
        content = _specialised(produced)[generation]
        assert content == "pgid:file_sha256_" + attr(_file_entities(produced)[generation], "pg:sha256")
        assert attr(_file_entities(produced)[generation], "pg:size") == len("a,b\n1,2\n")
        assert [e for _, e in _used(memory_emitter.records(consumer_id))] == [generation]  # the one it read
        generations.append((generation, content))
    (first, content_1), (second, content_2) = generations
    assert first != second and content_1 == content_2  # equal content, linked by the content entity


def test_a_file_no_task_wrote_is_read_as_its_content_entity(memory_emitter, tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text("raw\n")

    @capture.task
    def read(source):
        return None

    with capture.Workflow() as one:
        read(capture.file(path))
    with capture.Workflow() as two:
        read(capture.file(path))
    (used_1,) = [e for _, e in _used(memory_emitter.records(one.id))]
    (used_2,) = [e for _, e in _used(memory_emitter.records(two.id))]
    assert used_1 == used_2 and used_1.startswith("pgid:file_sha256_")  # the shared input of both runs
    assert attr(_file_entities(memory_emitter.records(one.id))[used_1], "pg:path") == str(path)
    assert not of_kind(memory_emitter.records(one.id), "wasGeneratedBy")


def test_a_file_rewritten_with_other_bytes_is_read_as_what_it_holds_now(memory_emitter, tmp_path):
    path = tmp_path / "state.txt"

    @capture.task(output_names="state")
    def write(text):
        path.write_text(text)
        return capture.file(path)

    @capture.task
    def read(source):
        return None

    with capture.Workflow() as run:
        write("one")
        write("two")
        read(capture.file(path))
        path.write_text("one")  # back to the first bytes: the first generation's content again
        read(capture.file(path))
    records = memory_emitter.records(run.id)
    generated = [e for e in _generated(records) if e.startswith("pgid:file_")]
    assert len(generated) == 2
    assert [e for _, e in _used(records) if e.startswith("pgid:file_")] == [generated[1], generated[0]]


def test_files_and_tasks_carry_attributes_and_types(memory_emitter, tmp_path):
    path = tmp_path / "scan.img"
    path.write_bytes(b"\x00\x01")
    taken = datetime.datetime(2026, 1, 5, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))

    @capture.task(attributes={"centre": "Lyon", "threshold": 0.5, "prov:label": "align"}, types="Alignment")
    def align(image):
        return None

    with capture.Workflow() as run:
        align(
            capture.file(
                path,
                attributes={"instrument": "UV-3", "global_maximum": 4095, "taken": taken},
                types=["Image"],
            )
        )
    records = memory_emitter.records(run.id)
    (image,) = _file_entities(records).values()
    assert attr(image, "pg:instrument") == "UV-3" and attr(image, "pg:global_maximum") == 4095
    assert attr(image, "pg:taken") == {"$": "2026-01-05T09:30:00+01:00", "type": "xsd:dateTime"}
    assert {t["$"] for t in _all(image, "prov:type")} == {"pg:File", "pg:Image"}
    (task,) = [a for a in of_kind(records, "activity") if str(attr(a, "pg:name")).endswith("align")]
    assert attr(task, "pg:centre") == "Lyon" and attr(task, "pg:threshold") == 0.5
    assert attr(task, "prov:label") == "align"
    assert {t["$"] for t in _all(task, "prov:type")} == {"pg:Task", "pg:Alignment"}
    for record in records:
        wire.validate_record(record, 0)


def _all(record, name):
    return [value for key, value in record.get("a", []) if key == name]


@pytest.mark.parametrize(
    ("attributes", "types", "error"),
    [
        ({"ex:size": 1}, (), ValueError),  # an undeclared prefix
        ({"path": "/x"}, (), ValueError),  # capture's own
        ({"bad name": 1}, (), ValueError),
        ({"prov:type": "pg:X"}, (), ValueError),
        ({"blob": object()}, (), TypeError),
        ({}, ["ex:Image"], ValueError),
    ],
)
def test_wrong_attributes_fail_where_they_are_written(tmp_path, attributes, types, error):
    with pytest.raises(error):
        capture.file(tmp_path / "x", attributes=attributes, types=types)


def test_a_task_refuses_its_own_attribute_names_at_decoration():
    with pytest.raises(ValueError, match="status"):
        capture.task(attributes={"status": "x"})(lambda: None)


def test_registry_is_bounded_and_weak_where_possible(monkeypatch):
    from capture import _lineage

    monkeypatch.setattr(_lineage, "MAX_ENTRIES", 10)
    lineage = Lineage()
    for i in range(50):
        lineage.register_output(10_000 + i, (f"e{i}",))
    assert len(lineage) == 20  # each scalar output by identity and by value, each table bounded
    assert lineage.lookup(10_049) == ("e49",) and lineage.lookup(10_000) is None

    class Thing:
        pass

    thing = Thing()
    lineage.register_output(thing, ("t",))
    assert lineage.lookup(thing) == ("t",)
    del thing
    assert all(ids != ("t",) for ids, _ in lineage._by_identity.values())


def test_light_task_output_joins_a_later_full_task(memory_emitter):
    @capture.light_task(output_names="row")
    def make(i):
        return [i]

    @capture.task
    def use(row):
        return None

    with capture.Workflow() as run:
        row = make(1)
        use(row)
    records = memory_emitter.records(run.id)
    generated = _generated(records)
    used_by_use = [e for a, e in _used(records) if a not in set(generated.values())]
    assert used_by_use and used_by_use[0] in generated


def test_objects_kept_alive_are_bounded_separately(monkeypatch):
    from capture import _lineage

    monkeypatch.setattr(_lineage, "MAX_STRONG_ENTRIES", 5)
    lineage = Lineage()
    lists = [[i] for i in range(20)]
    for i, value in enumerate(lists):
        lineage.register_output(value, (f"l{i}",))
    assert lineage.lookup(lists[-1]) == ("l19",)
    assert lineage.lookup(lists[0]) is None
    assert len(lineage._strong) == 5 and len(lineage._by_identity) == 5


def test_equal_outputs_of_a_sweep_link_each_input_to_its_own_output(memory_emitter):
    """Two settings score the same: the best model's lineage names only its own parameter."""

    @capture.task(output_names="accuracy")
    def evaluate(c):
        return round(0.9 + 0.07222 + c * 0, 5)  # equal values, two different float objects

    @capture.task(output_names="best")
    def save_best(accuracy):
        return "model.pkl"

    with capture.Workflow() as run:
        acc_a = evaluate(0.1)
        acc_b = evaluate(1.0)
        assert acc_a == acc_b and acc_a is not acc_b
        save_best(acc_a)
    records = memory_emitter.records(run.id)
    generated = _generated(records)
    tasks = {r["id"]: attr(r, "pg:name") for r in of_kind(records, "activity")}
    evaluations = [a for a, n in tasks.items() if n.endswith("evaluate")]
    saved = [e for a, e in _used(records) if tasks[a].endswith("save_best")]
    assert len(saved) == 1 and generated[saved[0]] == evaluations[0]  # C=0.1's output, not C=1.0's


def test_an_equal_copy_of_one_of_two_equal_outputs_links_to_neither(memory_emitter):
    @capture.task(output_names="score")
    def score(seed):
        return float("0.5") + seed * 0

    @capture.task
    def report(score):
        return None

    with capture.Workflow() as run:
        score(1)
        score(2)
        report(float("0.5"))  # equal to both, the object of neither: a new entity, not a guess
    records = memory_emitter.records(run.id)
    generated = _generated(records)
    tasks = {r["id"]: attr(r, "pg:name") for r in of_kind(records, "activity")}
    reported = [e for a, e in _used(records) if tasks[a].endswith("report")]
    assert len(reported) == 1 and reported[0] not in generated


def test_registry_identity_first_then_unique_value():
    lineage = Lineage()
    a, b = float("1.5"), float("1.5")
    lineage.register_output(a, ("e:a",))
    assert lineage.lookup(a) == ("e:a",)
    assert lineage.lookup(float("1.5")) == ("e:a",)  # one equal output: that one
    lineage.register_output(b, ("e:b",))
    assert lineage.lookup(a) == ("e:a",) and lineage.lookup(b) == ("e:b",)
    assert lineage.lookup(float("1.5")) is None  # two equal outputs: no guess
    lineage.register_output(7, ("e:7",))
    lineage.register_output(7, ("e:7b",))  # the same cached small int generated twice
    assert lineage.lookup(7) is None


def test_a_scalar_output_held_as_its_task_number_looks_up_as_its_entity_id(monkeypatch):
    """The emitter registers a task's scalar result by the task's counter value; a later input that is that value
    gets the output's id, under the prefix the task was numbered with, also after a fork changed the prefix."""
    from capture import _ids

    lineage = Lineage()
    value = int("1000007")  # not a shared small int
    prefix = _ids.process_prefix()
    lineage.register_scalar_output(value, 42)
    assert lineage.lookup(value) == (f"pgid:val_{prefix}_42_o0",)  # by identity
    assert lineage.lookup(int("1000007")) == (f"pgid:val_{prefix}_42_o0",)  # by value: the one equal output
    forked = "f" * 12
    monkeypatch.setattr(_ids, "_prefix", forked)
    monkeypatch.setattr(_ids, "_prefix_history", [*_ids._prefix_history, (_ids._next_number(), forked)])
    assert lineage.lookup(value) == (f"pgid:val_{prefix}_42_o0",)
    # a second equal output: equality cannot pick between them, identity still can
    lineage.register_scalar_output(int("1000007"), "pgid:val_x_o0")
    assert lineage.lookup(value) == (f"pgid:val_{prefix}_42_o0",)
    assert lineage.lookup(int("1000007")) is None
