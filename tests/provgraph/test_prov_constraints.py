"""What capture writes is valid PROV: ProvToolbox's PROV-CONSTRAINTS validator (tests/_provtoolbox.py) checks the
export of test workflows that use every kind of record capture makes, and of the demo's workflows
(`provgraph demo`). The examples are checked by tests/examples/test_examples.py the same way.

The workflows run as their own process (file sink), are loaded through the real loader into the embedded engine
and exported by provgraph as PROV-N (and converted by export's own code straight from capture's records): each run alone and all runs as one document (an entity generated in two runs, or a derivation cycle
across runs, shows only in the union). (PROV-JSON is read by ProvToolbox in tests/provgraph/test_provtoolbox_reader.py.) The validator is shown to fail on the very shape capture
wrote before files got one entity per generation (a rerun regenerating a file from what was derived from it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import _provtoolbox
import pytest

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parents[2]

WORKFLOWS = r"""
import datetime
import os
import sys

import capture

folder, token = sys.argv[1], sys.argv[2]
table = os.path.join(folder, "table.csv")
os.makedirs(os.path.join(folder, "watched"))


@capture.task(output_names="table", attributes={"format": "csv"}, types="Tabulation")
def write_table(rows):
    with open(table, "w") as handle:
        handle.writelines(f"{i},{i * i},{token}\n" for i in range(rows))
    return capture.file(table, attributes={"rows": rows, "written": datetime.datetime.now()}, types="Table")


@capture.task(output_names="summary")
def summarise(source):
    with open(source) as handle:
        return {"rows": sum(1 for _ in handle)}


@capture.task(output_names="table")
def regenerate(summary):
    return write_table(summary["rows"])  # nested: the same bytes again, derived from what was derived from them


@capture.task
def fails(x):
    raise ValueError("no")


@capture.light_task
def light(x):
    return x + 0.5


@capture.telemetry_task(output_names="y")
def measured(x):
    return x * 2.0


with capture.Workflow("write", campaign_id=f"campaign-{token}") as first:
    write_table(5)
with capture.Workflow("rerun", campaign_id=f"campaign-{token}") as second:
    summary = summarise(capture.file(table))  # reads the first run's generation
    regenerate(summary)  # identical bytes: a new generation, not the first run's entity again
    summarise(capture.file(table))
with capture.Workflow("everything else") as third:
    loop = capture.Loop([1.5, 2.5], loop_name="sweep", item_name="x")
    for x in loop:
        loop.end_iter({"y": measured(x)})
    for value in capture.BatchedLoop([0.25, 0.75], loop_name="batched", item_name="v"):
        light(value)
    try:
        fails(3.5)
    except ValueError:
        pass
    with capture.CustomTask("external", used={"input": 1.25}, agent_id="robot") as custom:
        custom.send()
        custom.end(generated={"out": 2.25})
    capture.record_llm_call(prompt="why?", response="because", model="toy-model", tokens_in=3, tokens_out=1)
    with capture.watch(os.path.join(folder, "watched")):
        with open(os.path.join(folder, "watched", "made.txt"), "w") as handle:
            handle.write("made " + token)
    summarise(capture.file(os.path.join(folder, "watched", "made.txt")))
for run in (first, second, third):
    print("run:", run.id)

# the demo's two workflows (`provgraph demo`): prepare_data writes the data train_model reads
from capture.settings import Settings
from provgraph.demo import run_workflows

demo = run_workflows(__import__("pathlib").Path(folder) / "demo", 2, Settings.load())
print("run:", demo["prepare"])
print("run:", demo["train"])
"""


@pytest.fixture(scope="module")
def exported(embedded_server: Any, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The test workflows captured, loaded into the embedded engine and exported as PROV-N (each run, and all runs
    as one document), and the same from capture's records without a store (export's own conversion)."""
    from _known_graph import open_test_backend
    from prov.model import ProvDocument

    from capture import read_buffer
    from provgraph.loader import load_messages
    from provgraph.prov.export import export_document, records_to_document, serialize

    tmp = tmp_path_factory.mktemp("constraints")
    script = tmp / "workflows.py"
    script.write_text(WORKFLOWS)
    env = {
        **os.environ,
        "PROVGRAPH_SINK": "file",
        "PROVGRAPH_BUFFER_PATH": str(tmp / "buffer"),
        "PROVGRAPH_HOME": str(tmp / "home"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp / "work"), uuid.uuid4().hex],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: ")]
    messages = read_buffer(tmp / "buffer")
    backend = open_test_backend("embedded", str(embedded_server.home))
    try:
        backend.ensure_schema()
        load_messages(backend, messages)
        stored = {run: export_document(backend, run=run) for run in runs}
    finally:
        backend.close()
    # (the shared test Neo4j holds millions of relationships from other tests, where export pages slowly)
    unstored = {
        run: records_to_document({}, [r for m in messages if m.doc == run for r in m.records]) for run in runs
    }
    files: list[Path] = []
    for source, documents in (("stored", stored), ("records", unstored)):
        union = ProvDocument()
        for index, document in enumerate(documents.values()):
            union.update(document)
            files.append(tmp / f"{source}_run{index}.provn")
            serialize(document, "provn", files[-1])
        files.append(tmp / f"{source}_all_runs.provn")
        serialize(union, "provn", files[-1])
    for index, document in enumerate(stored.values()):  # PROV-JSON, read back by ProvToolbox (last test)
        serialize(document, "json", tmp / f"stored_run{index}.json")
    return files


def test_every_export_of_the_test_workflows_passes_prov_constraints(exported: list[Path]) -> None:
    results = _provtoolbox.validate(exported)
    assert [(Path(r["file"]).name, r["ok"], r["error"]) for r in results] == [
        (path.name, True, None) for path in exported
    ]
    # what was validated is the whole workflow: every kind of record capture writes, as ProvToolbox read it
    kinds = set(next(r for r in results if r["file"].endswith("stored_all_runs.provn"))["counts"])
    assert {
        "entity",
        "activity",
        "agent",
        "used",
        "wasGeneratedBy",
        "wasDerivedFrom",
        "wasStartedBy",
        "wasAssociatedWith",
        "wasInfluencedBy",
        "specializationOf",
    } <= kinds, kinds


OLD_FILE_SHAPE = """document
  prefix pgid <https://w3id.org/provgraph/id/>
  entity(pgid:file_sha256_ab)
  activity(pgid:task_write, 2026-01-05T09:00:00+01:00, 2026-01-05T09:00:01+01:00)
  activity(pgid:task_summarise, 2026-01-05T09:01:00+01:00, 2026-01-05T09:01:01+01:00)
  activity(pgid:task_regenerate, 2026-01-05T09:02:00+01:00, 2026-01-05T09:02:01+01:00)
  wasGeneratedBy(pgid:file_sha256_ab, pgid:task_write, 2026-01-05T09:00:01+01:00)
  used(pgid:task_summarise, pgid:file_sha256_ab, 2026-01-05T09:01:00+01:00)
  wasGeneratedBy(pgid:summary, pgid:task_summarise, 2026-01-05T09:01:01+01:00)
  wasDerivedFrom(pgid:summary, pgid:file_sha256_ab, pgid:task_summarise, -, -)
  used(pgid:task_regenerate, pgid:summary, 2026-01-05T09:02:00+01:00)
  wasGeneratedBy(pgid:file_sha256_ab, pgid:task_regenerate, 2026-01-05T09:02:01+01:00)
  wasDerivedFrom(pgid:file_sha256_ab, pgid:summary, pgid:task_regenerate, -, -)
endDocument
"""


def test_the_validator_refuses_the_shape_capture_wrote_before(tmp_path: Path) -> None:
    """The rerun of the test workflows as capture wrote it before: one content-hash entity for both writes of the
    table, so it is generated twice and derived from a summary derived from itself."""
    path = tmp_path / "old_file_shape.provn"
    path.write_text(OLD_FILE_SHAPE)
    (result,) = _provtoolbox.validate([path])
    assert not result["ok"] and "strict cycles" in result["error"]


def test_provtoolbox_reads_capture_s_prov_json_exports_record_by_record(exported: list[Path]) -> None:
    """Capture declares a run twice (when it starts, again when it ends with its end time and status): the PROV-JSON
    export gives each element once with the attributes of all its declarations (provgraph.prov.provjson), so
    ProvToolbox reads every run back, record by record what ``prov`` reads of the same file, and it passes
    PROV-CONSTRAINTS too."""
    import json
    import re
    import warnings

    from provgraph.prov.compare import parse_text

    files = sorted(exported[0].parent.glob("stored_run*.json"))
    assert len(files) == 5
    read = _provtoolbox.read(files, exported[0].parent)
    assert [(r["ok"], r.get("error")) for r in read] == [(True, None)] * len(files)
    for path, result in zip(files, read, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = parse_text(path.read_text(encoding="utf-8"), "json")
            seen = parse_text(Path(result["provn"]).read_text(encoding="utf-8"), "provn")
        missing = _provtoolbox.records(ours) - _provtoolbox.records(seen)
        extra = _provtoolbox.records(seen) - _provtoolbox.records(ours)
        assert not missing and not extra, f"{path.name}: missing {list(missing)[:2]}, extra {list(extra)[:2]}"
        # each activity once, the run with both times and its status from the second declaration
        # (ProvToolbox holds times to the millisecond; the file has capture's microseconds, offset included)
        activities = json.loads(path.read_text(encoding="utf-8"))["activity"]
        starts = [r["prov:startTime"] for r in activities.values() if "prov:startTime" in r]
        assert any(re.search(r"\.\d{6}[+-]\d\d:\d\d$", start) for start in starts), starts
        assert all(isinstance(record, dict) for record in activities.values())
        runs = [r for r in activities.values() if "prov:endTime" in r and "pg:status" in r]
        assert runs, path.name
    assert [r["ok"] for r in _provtoolbox.validate(files)] == [True] * len(files)
