"""Date-times queryable as instants and local wall clocks, the same on both engines (docs/graph-model.md,
"Date-times"; provgraph.graph.times).

The document is written as another tool would write it: ``xsd:dateTime`` attributes and activity times under
several UTC offsets, chosen so that the order of the lexical strings, the UTC day and the local day all disagree.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from provgraph.graph.prefixes import PropertyPrefixes
from provgraph.graph.times import companions, utc_microseconds
from provgraph.prov.compare import roundtrip
from provgraph.prov.export import EXPORT_FORMATS
from provgraph.prov.importer import import_document, read_document

pytestmark = pytest.mark.services

DOCUMENT = """document
  prefix ex <{ns}>
  entity(ex:scan_a, [ex:acquired="2026-02-01T23:30:00-06:00" %% xsd:dateTime, ex:site="Chicago"])
  entity(ex:scan_b, [ex:acquired="2026-02-02T01:00:00+09:00" %% xsd:dateTime, ex:site="Tokyo"])
  entity(ex:scan_c, [ex:acquired="2026-02-03T12:00:00.250Z" %% xsd:dateTime, ex:site="London"])
  activity(ex:step1, 2026-03-02T20:00:00-06:00, 2026-03-02T20:05:00-06:00, [prov:label="align"])
  activity(ex:step2, 2026-03-03T01:00:00+05:00, 2026-03-03T01:10:00+05:00, [prov:label="reslice"])
  activity(ex:step3, 2026-03-02T23:59:59.999999Z, 2026-03-03T00:00:01Z, [prov:label="convert"])
  used(ex:step1, ex:scan_a, 2026-03-02T20:01:00-06:00)
  used(ex:step2, ex:scan_b, 2026-03-03T01:02:00+05:00)
endDocument
"""


@pytest.fixture
def imported(any_backend: Any, tmp_path: Path) -> Any:
    namespace = f"http://example.org/dt/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "times.provn"
    path.write_text(DOCUMENT.format(ns=namespace))
    any_backend.ensure_schema()
    result = import_document(any_backend, path)
    prefix = PropertyPrefixes(any_backend).load()[namespace]
    yield namespace, prefix, path
    any_backend.write(
        [
            ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": namespace}),
            ("MATCH (n:Namespace) WHERE n.doc = $doc DETACH DELETE n", {"doc": result.doc}),
            ("MATCH (n:Document) WHERE n.id = $doc DETACH DELETE n", {"doc": result.doc}),
        ]
    )


def _labels(backend: Any, query: str, **params: Any) -> list[str]:
    return [row["label"] for row in backend.read(query, params)]


def test_activities_filter_and_order_by_instant_not_by_text(any_backend, imported):
    namespace, _, _ = imported
    tasks_after = (
        "MATCH (a:Activity) WHERE a.key STARTS WITH $ns AND a._utc_startTime > $t "
        "RETURN a.label AS label ORDER BY a._utc_startTime"
    )
    ordered = (
        "MATCH (a:Activity) WHERE a.key STARTS WITH $ns RETURN a.label AS label ORDER BY a._utc_startTime"
    )
    # instants: reslice 2026-03-02T20:00Z, convert 23:59:59.999999Z, align 2026-03-03T02:00Z
    assert _labels(any_backend, ordered, ns=namespace) == ["reslice", "convert", "align"]
    # the lexical strings sort otherwise (align, convert, reslice): that order is not the time order
    by_text = "MATCH (a:Activity) WHERE a.key STARTS WITH $ns RETURN a.label AS label ORDER BY a.startTime"
    assert _labels(any_backend, by_text, ns=namespace) == ["align", "convert", "reslice"]
    assert _labels(any_backend, tasks_after, ns=namespace, t=utc_microseconds("2026-03-03T00:00:00Z")) == [
        "align"
    ]
    assert _labels(any_backend, tasks_after, ns=namespace, t=utc_microseconds("2026-03-02T21:00:00Z")) == [
        "convert",
        "align",
    ]
    # a microsecond apart: the fraction counts
    assert _labels(
        any_backend, tasks_after, ns=namespace, t=utc_microseconds("2026-03-02T23:59:59.999998Z")
    ) == ["convert", "align"]
    assert _labels(
        any_backend, tasks_after, ns=namespace, t=utc_microseconds("2026-03-02T23:59:59.999999Z")
    ) == ["align"]
    # the lexical form stays as written
    rows = any_backend.read(
        "MATCH (a:Activity) WHERE a.key = $key RETURN a.startTime AS start, a.endTime AS end",
        {"key": namespace + "step1"},
    )
    assert rows == [{"start": "2026-03-02T20:00:00-06:00", "end": "2026-03-02T20:05:00-06:00"}]


def test_which_step_ran_on_a_monday_local_time(any_backend, imported):
    namespace, _, _ = imported
    local = (
        "MATCH (a:Activity) WHERE a.key STARTS WITH $ns AND a._dow_startTime = 1 "
        "RETURN a.label AS label ORDER BY label"
    )
    # align ran Monday 20:00 in Chicago (Tuesday in UTC); reslice Tuesday 01:00 at +05:00 (Monday in UTC)
    assert _labels(any_backend, local, ns=namespace) == ["align", "convert"]
    utc_monday = (
        "MATCH (a:Activity) WHERE a.key STARTS WITH $ns "
        "AND a._utc_startTime >= $monday AND a._utc_startTime < $tuesday RETURN a.label AS label ORDER BY label"
    )
    assert _labels(
        any_backend,
        utc_monday,
        ns=namespace,
        monday=utc_microseconds("2026-03-02T00:00:00Z"),
        tuesday=utc_microseconds("2026-03-03T00:00:00Z"),
    ) == ["convert", "reslice"]
    hour = (
        "MATCH (a:Activity) WHERE a.key STARTS WITH $ns "
        "RETURN a.label AS label, a._local_startTime % 86400000000 / 3600000000 AS hour ORDER BY label"
    )
    assert [(r["label"], r["hour"]) for r in any_backend.read(hour, {"ns": namespace})] == [
        ("align", 20),
        ("convert", 23),
        ("reslice", 1),
    ]


def test_typed_date_time_attributes_and_relation_times_filter_as_instants(any_backend, imported):
    namespace, prefix, _ = imported
    prop = f"{prefix}:acquired"
    query = (
        f"MATCH (e:Entity) WHERE e.key STARTS WITH $ns AND e.`_utc_{prop}` >= $since "
        f"RETURN e.`{prefix}:site` AS label ORDER BY e.`_utc_{prop}`"
    )
    # Tokyo 2026-02-01T16:00Z, Chicago 2026-02-02T05:30Z, London 2026-02-03T12:00:00.25Z
    assert _labels(any_backend, query, ns=namespace, since=0) == ["Tokyo", "Chicago", "London"]
    assert _labels(any_backend, query, ns=namespace, since=utc_microseconds("2026-02-02T00:00:00Z")) == [
        "Chicago",
        "London",
    ]
    rows = any_backend.read(
        f"MATCH (e:Entity) WHERE e.key = $key RETURN e.`{prop}` AS lexical, e.`_dow_{prop}` AS dow",
        {"key": namespace + "scan_a"},
    )
    assert rows == [{"lexical": "2026-02-01T23:30:00-06:00", "dow": 7}]  # Sunday in Chicago
    used = (
        "MATCH (a:Activity)-[u:used]->(e:Entity) WHERE a.key STARTS WITH $ns "
        "RETURN a.label AS label ORDER BY u._utc_time"
    )
    assert _labels(any_backend, used, ns=namespace) == ["reslice", "align"]


def test_neo4j_reads_the_instant_as_a_native_date_time(neo4j_backend, tmp_path):
    """On Neo4j the companion turns into a DateTime equal to the lexical value's (docs/embedded.md)."""
    namespace = f"http://example.org/dt/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "times.provn"
    path.write_text(DOCUMENT.format(ns=namespace))
    neo4j_backend.ensure_schema()
    result = import_document(neo4j_backend, path)
    try:
        rows = neo4j_backend.read(
            "MATCH (a:Activity) WHERE a.key STARTS WITH $ns "
            "WITH a, datetime(a.startTime) AS native "
            "RETURN native.epochSeconds * 1000000 + native.microsecond = a._utc_startTime AS same, "
            "datetime({epochMillis: a._utc_startTime / 1000}).epochMillis = native.epochMillis AS back, "
            "native.dayOfWeek = a._dow_startTime AS same_day",
            {"ns": namespace},
        )
        assert len(rows) == 3 and all(row["same"] and row["back"] and row["same_day"] for row in rows)
    finally:
        neo4j_backend.write(
            [
                ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": namespace}),
                ("MATCH (n:Namespace) WHERE n.doc = $doc DETACH DELETE n", {"doc": result.doc}),
                ("MATCH (n:Document) WHERE n.id = $doc DETACH DELETE n", {"doc": result.doc}),
            ]
        )


def test_the_lexical_forms_round_trip_exactly_through_every_export(any_backend, imported, unique):
    _, _, path = imported
    document = read_document(path)
    results = roundtrip(any_backend, [("times", document)], EXPORT_FORMATS, doc_prefix=f"pgid:dt_{unique}_")
    for result in results:
        assert result.different == {}, result.fmt
        assert result.identical == ["times"], result.fmt


@pytest.mark.parametrize(
    ("lexical", "expected"),
    [
        ("1970-01-01T00:00:00Z", (0, 0, 4)),
        ("1970-01-01T00:00:00", (0, 0, 4)),  # no offset: taken as UTC
        ("1970-01-01T01:00:00+01:00", (0, 3_600_000_000, 4)),
        ("1969-12-31T23:00:00-01:00", (0, -3_600_000_000, 3)),
        ("2026-03-02T20:00:00.1234567-06:00", (1772503200123456, 1772481600123456, 1)),
        ("2026-03-01T24:00:00Z", (1772409600000000, 1772409600000000, 1)),
    ],
)
def test_companions_of_xsd_date_time_forms(lexical, expected):
    assert tuple(companions("t", lexical).values()) == expected
    assert utc_microseconds(lexical) == expected[0]


@pytest.mark.parametrize(
    "lexical",
    [
        "2026-03-02",
        "2026-03-02 20:00:00",
        "2026-02-30T00:00:00Z",
        "2026-03-02T24:00:01Z",
        "2026-03-02T10:00:00+15:00",
        "20260302T100000Z",
        "-0001-01-01T00:00:00Z",
        "2026-03-02T10:00:00+0100",
    ],
)
def test_no_companions_for_what_is_not_an_xsd_date_time(lexical):
    assert companions("t", lexical) == {}
    with pytest.raises(ValueError, match="xsd:dateTime"):
        utc_microseconds(lexical)


def test_a_declaration_with_fewer_types_or_attributes_keeps_the_union(any_backend, unique):
    """PROV merges several declarations of one id: the node keeps every prov:type and attribute any of them gave,
    whether they come in one message or in two (across messages a later value of the same attribute wins; within
    one batch declarations are applied per kind and subtype label, so only the union is asserted there)."""
    from capture import wire
    from provgraph.loader import load_messages

    namespaces = {"ex": f"http://example.org/union/{unique}/"}
    ident = "ex:image"
    full = wire.element(
        "entity",
        ident,
        attrs=[
            ["prov:type", wire.qualified_name("ex:Image")],
            ["prov:type", wire.qualified_name("prov:Plan")],
            ["ex:center", "UChicago"],
            ["ex:max", 4095],
        ],
    )
    fewer = wire.element(
        "entity", ident, attrs=[["prov:type", wire.qualified_name("ex:Scan")], ["ex:max", 7]]
    )
    bare = wire.element("entity", ident)
    any_backend.ensure_schema()
    key = namespaces["ex"] + "image"
    prefix = None
    try:
        for doc, messages in (
            (f"pgid:union_one_{unique}", [[full, fewer, bare]]),
            (f"pgid:union_two_{unique}", [[full], [fewer], [bare]]),
        ):
            for records in messages:
                payload = wire.encode_message(doc, records, namespaces, sent_at=0.0)
                load_messages(any_backend, [wire.decode_message(payload)])
            prefix = prefix or PropertyPrefixes(any_backend).load()[namespaces["ex"]]
            rows = any_backend.read(
                f"MATCH (n:Element {{key: $key}}) RETURN n.types AS types, n.`{prefix}:center` AS center, "
                f"n.`{prefix}:max` AS max, labels(n) AS labels",
                {"key": key},
            )
            assert sorted(rows[0]["types"]) == sorted([f"{prefix}:Image", "prov:Plan", f"{prefix}:Scan"]), doc
            assert rows[0]["center"] == "UChicago", doc
            if "two" in doc:
                assert rows[0]["types"] == [f"{prefix}:Image", "prov:Plan", f"{prefix}:Scan"]
                assert rows[0]["max"] == 7
            assert {"Entity", "Plan"} <= set(rows[0]["labels"]), doc
            any_backend.write([("MATCH (n:Element {key: $key}) DETACH DELETE n", {"key": key})])
    finally:
        any_backend.write(
            [
                ("MATCH (n:Element {key: $key}) DETACH DELETE n", {"key": key}),
                ("MATCH (n:Document) WHERE n.id STARTS WITH $p DETACH DELETE n", {"p": "pgid:union_"}),
            ]
        )


def test_tail_since_compares_instants_not_text(any_backend, unique):
    """`provgraph tail --since`: a task that started after the moment at another offset is replayed, one whose
    text sorts after it but that started before is not (cypher/tail/since.cypher)."""
    from capture import wire
    from provgraph.loader import load_messages
    from provgraph.tail import TailFilter, graph_events, parse_since

    qn = wire.qualified_name
    run = f"pgid:run_dt_{unique}"
    records = [
        wire.element(
            "activity",
            run,
            [("prov:type", qn("pg:WorkflowRun")), ("pg:name", f"dt_{unique}")],
            formal={"startTime": "2026-03-02T19:00:00-06:00"},  # 2026-03-03T01:00Z
        )
    ]
    for name, start in (("after", "2026-03-02T20:00:00-06:00"), ("before", "2026-03-03T01:00:00+05:00")):
        task = f"pgid:task_dt_{unique}_{name}"
        records += [
            wire.element(
                "activity",
                task,
                [("prov:type", qn("pg:Task")), ("pg:name", name)],
                formal={"startTime": start},
            ),
            wire.relation("wasStartedBy", activity=task, starter=run),
        ]
    any_backend.ensure_schema()
    load_messages(any_backend, [wire.decode_message(wire.encode_message(run, records))])
    try:
        events = graph_events(any_backend, parse_since("2026-03-03T00:00:00Z"), TailFilter(run=run), 100)
        assert [e.name for e in events] == [f"dt_{unique}", "after"]
    finally:
        any_backend.write(
            [
                (
                    "MATCH (n:Element) WHERE n.id STARTS WITH $p DETACH DELETE n",
                    {"p": f"pgid:task_dt_{unique}"},
                ),
                ("MATCH (n:Element {id: $run}) DETACH DELETE n", {"run": run}),
                ("MATCH (n:Document {id: $run}) DETACH DELETE n", {"run": run}),
            ]
        )


def test_purge_older_than_and_failed_tasks_go_by_instants(any_backend, unique):
    """`provgraph purge --older-than` picks runs by the instant they ended, `failed_tasks` lists the newest failure
    first and `runs` the newest run first, whatever the offsets their times were written with."""
    from capture import wire
    from provgraph.client import Client
    from provgraph.loader import load_messages
    from provgraph.purge import select

    qn = wire.qualified_name
    workflow = f"dt_purge_{unique}"
    ends = {"late": "2026-03-02T20:00:00-06:00", "early": "2026-03-03T01:00:00+05:00"}  # 02:00Z and 20:00Z
    messages = []
    for name, end in ends.items():
        run, task = f"pgid:run_dt_{unique}_{name}", f"pgid:task_dt_{unique}_{name}"
        records = [
            wire.element(
                "activity",
                run,
                [("prov:type", qn("pg:WorkflowRun")), ("pg:name", workflow)],
                formal={"startTime": end, "endTime": end},
            ),
            wire.element(
                "activity",
                task,
                [("prov:type", qn("pg:Task")), ("pg:name", name), ("pg:status", "ERROR")],
                formal={"startTime": end, "endTime": end},
            ),
            wire.relation("wasStartedBy", activity=task, starter=run),
        ]
        messages.append(wire.decode_message(wire.encode_message(run, records)))
    any_backend.ensure_schema()
    load_messages(any_backend, messages)
    try:
        chosen = select(any_backend, workflow=workflow, older_than="2026-03-03T00:00:00Z")
        assert [s.run for s in chosen] == [f"pgid:run_dt_{unique}_early"]
        both = select(any_backend, workflow=workflow, older_than="2026-03-03T03:00:00Z")
        assert [s.run for s in both] == [f"pgid:run_dt_{unique}_early", f"pgid:run_dt_{unique}_late"]
        rows = Client(backend=any_backend).run("failed_tasks", run=None, limit=100_000)
        mine = [row["name"] for row in rows if row["id"].startswith(f"pgid:task_dt_{unique}")]
        assert mine == ["late", "early"]
        runs = Client(backend=any_backend).run("runs", workflow=workflow, run=None, limit=10)
        assert [row["id"] for row in runs] == [f"pgid:run_dt_{unique}_late", f"pgid:run_dt_{unique}_early"]
        assert [row["startTime"] for row in runs] == [ends["late"], ends["early"]]
    finally:
        any_backend.write(
            [
                (
                    "MATCH (n:Element) WHERE n.id STARTS WITH $p DETACH DELETE n",
                    {"p": f"pgid:run_dt_{unique}"},
                ),
                (
                    "MATCH (n:Element) WHERE n.id STARTS WITH $p DETACH DELETE n",
                    {"p": f"pgid:task_dt_{unique}"},
                ),
                (
                    "MATCH (n:Document) WHERE n.id STARTS WITH $p DETACH DELETE n",
                    {"p": f"pgid:run_dt_{unique}"},
                ),
            ]
        )


CAPTURED = """
import sys
import capture

@capture.task
def step(x):
    return x + 1

with capture.Workflow(sys.argv[1]) as run:
    step(1)
    step(2)
print("run:", run.id)
"""


def test_capture_s_own_times_keep_the_local_offset_and_are_queryable(any_backend, tmp_path, unique):
    """A workflow captured in Chicago: its times carry -06:00/-05:00 as written, and the companions give the
    instant and the local day (tasks that started after T; which ran on which local weekday)."""
    import datetime
    import os
    import subprocess
    import sys

    from capture import read_buffer
    from provgraph.loader import load_messages

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(tmp_path / "buffer"),
        PROVGRAPH_HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=str(root),
        TZ="America/Chicago",
    )
    workflow = f"dt_capture_{unique}"
    done = subprocess.run(
        [sys.executable, "-c", CAPTURED, workflow], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: "))
    messages = read_buffer(tmp_path / "buffer")
    any_backend.ensure_schema()
    load_messages(any_backend, messages)
    try:
        rows = any_backend.read(
            "MATCH (t:Task)-[:wasStartedBy*1..20]->(r:WorkflowRun {id: $run}) "
            "RETURN t.startTime AS start, t._utc_startTime AS utc, t._dow_startTime AS dow ORDER BY utc",
            {"run": run},
        )
        assert len(rows) == 2
        for row in rows:
            moment = datetime.datetime.fromisoformat(row["start"])
            assert row["start"][-6:] in ("-06:00", "-05:00"), row["start"]
            assert row["utc"] == utc_microseconds(row["start"])
            assert row["utc"] == round(moment.timestamp() * 1_000_000)
            assert row["dow"] == moment.isoweekday()  # the day in Chicago, not in UTC
        after = any_backend.read(
            "MATCH (t:Task)-[:wasStartedBy*1..20]->(r:WorkflowRun {id: $run}) WHERE t._utc_startTime > $t "
            "RETURN count(t) AS n",
            {"run": run, "t": rows[0]["utc"]},
        )
        assert after == [{"n": 1}]
    finally:
        any_backend.write(
            [
                (
                    "MATCH (n:Element) WHERE $run IN coalesce(n.docs, []) AND size(n.docs) = 1 DETACH DELETE n",
                    {"run": run},
                ),
                ("MATCH (n:Document {id: $run}) DETACH DELETE n", {"run": run}),
            ]
        )


def test_run_queries_order_steps_and_runs_by_instant_not_text(any_backend, unique):
    """task_tree and entity_runs (like run_diff, campaign_products and the Browser guide) list by the instant of a
    start (`_utc_startTime`), not by its text: at other UTC offsets the text order is not the time order."""
    from capture import wire
    from provgraph.loader import load_messages

    qn = wire.qualified_name
    data = f"pgid:data_dt_{unique}"
    # runs: "late" starts 2026-03-03T02:00Z, written before "early" (2026-03-02T20:00Z) in text order
    runs = {"late": "2026-03-02T20:00:00-06:00", "early": "2026-03-03T01:00:00+05:00"}
    # steps of each run, instants: reslice 20:00Z, convert 23:59:59.999999Z, align 2026-03-03T02:00Z
    steps = {
        "align": "2026-03-02T20:00:00-06:00",
        "convert": "2026-03-02T23:59:59.999999Z",
        "reslice": "2026-03-03T01:00:00+05:00",
    }
    records = [wire.element("entity", data, [("pg:name", "data")])]
    for run_name, run_start in runs.items():
        run = f"pgid:run_dt_{unique}_{run_name}"
        records.append(
            wire.element(
                "activity",
                run,
                [("prov:type", qn("pg:WorkflowRun")), ("pg:name", f"dt_{unique}")],
                formal={"startTime": run_start},
            )
        )
        for step_name, start in steps.items():
            task = f"pgid:task_dt_{unique}_{run_name}_{step_name}"
            records += [
                wire.element(
                    "activity",
                    task,
                    [("prov:type", qn("pg:Task")), ("pg:name", step_name)],
                    formal={"startTime": start},
                ),
                wire.relation("wasStartedBy", activity=task, starter=run),
            ]
        records.append(wire.relation("used", activity=f"pgid:task_dt_{unique}_{run_name}_align", entity=data))
    doc = f"pgid:run_dt_{unique}_late"
    any_backend.ensure_schema()
    load_messages(any_backend, [wire.decode_message(wire.encode_message(doc, records))])
    try:
        tree = any_backend.read(any_backend.render("task_tree"), {"run": doc, "limit": 100})
        assert [row["name"] for row in tree] == ["reslice", "convert", "align"]
        uses = any_backend.read(any_backend.render("entity_runs"), {"ref": data, "limit": 100})
        assert [row["run"] for row in uses] == [f"pgid:run_dt_{unique}_early", doc]
    finally:
        any_backend.write(
            [
                ("MATCH (n:Element) WHERE n.id CONTAINS $p DETACH DELETE n", {"p": f"_dt_{unique}"}),
                ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": doc}),
            ]
        )
