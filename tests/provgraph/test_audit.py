"""Tamper evidence on both backends: a run loaded with audit digests verifies; each kind of tampering is named
with the element at fault (a property edited, a record edited, a relationship deleted, a node added to the run);
signatures verify with the public key alone and fail with another key; RFC 8785 canonical form."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from _known_graph import build, delete

from provgraph.audit import verify
from provgraph.digests import document_digest, generate_key, jcs, leaf
from provgraph.errors import ConfigurationError, ProvgraphError
from provgraph.graph import open_backend
from provgraph.loader import load_messages


@pytest.fixture
def keys(tmp_path) -> dict[str, bytes | str]:
    signing = str(tmp_path / "audit.pem")
    public = generate_key(signing)
    other = generate_key(str(tmp_path / "other.pem"))
    return {"signing": signing, "public": open(public, "rb").read(), "other": open(other, "rb").read()}


@pytest.fixture
def loaded(any_settings: Any, keys: dict[str, Any]):
    """The known graph loaded through the loader with signed audit digests; its backend; removed afterwards."""
    settings = dataclasses.replace(any_settings, audit_digests=True, audit_signing_key=keys["signing"])
    backend = open_backend(settings)
    backend.ensure_schema()
    g = build(uuid.uuid4().hex[:12])
    load_messages(backend, g.messages[:2])  # the shared document and run A ...
    load_messages(backend, g.messages[2:])  # ... then the rest: a later message extends the digests
    yield g, backend
    delete(backend, g)
    docs = [m.doc for m in g.messages]
    backend.write([("MATCH (a:AuditBatch) WHERE a.doc IN $docs DELETE a", {"docs": docs})])
    backend.write([("MATCH (n:Element) WHERE n.id = $id DETACH DELETE n", {"id": f"pgid:evil_{g.token}"})])
    backend.close()


def _lines(report: Any) -> list[str]:
    return [p.line() for p in report.problems]


def test_a_loaded_run_verifies_with_its_public_key(loaded, keys):
    g, backend = loaded
    report = verify(backend, run=g.id("run.a"), public_key=keys["public"])
    assert report.ok, _lines(report)
    (doc,) = report.docs
    assert report.signed[doc] and report.batches[doc] >= 1 and report.records[doc] > 20
    assert len(report.digests[doc]) == 64
    assert verify(backend, doc=doc).digests == report.digests  # the digest needs no key


def test_another_key_fails(loaded, keys):
    g, backend = loaded
    report = verify(backend, run=g.id("run.a"), public_key=keys["other"])
    assert not report.ok and all("signature does not verify" in p.what for p in report.problems)


def test_a_property_edited_is_named(loaded, keys):
    g, backend = loaded
    backend.write([("MATCH (t:Task {key: $key}) SET t.status = 'TAMPERED'", {"key": g.key("a.evaluate")})])
    report = verify(backend, run=g.id("run.a"), public_key=keys["public"])
    assert _lines(report) == [
        f"{g.id('a.evaluate')}: property status is 'TAMPERED'; its record says 'ERROR'  [pgid:doc_a_{g.token}]"
    ]


def test_a_record_edited_is_named(loaded, keys):
    g, backend = loaded
    (row,) = backend.read(
        "MATCH (e:Element {key: $key}) RETURN e._decl AS decl", {"key": g.key("a.threshold")}
    )
    entry = json.loads(row["decl"][0])
    entry["r"]["a"] = [[name, 0.9 if name == "prov:value" else value] for name, value in entry["r"]["a"]]
    backend.write(
        [
            (
                "MATCH (e:Element {key: $key}) SET e._decl = [$decl], e.value = 0.9",
                {"key": g.key("a.threshold"), "decl": json.dumps(entry)},
            )
        ]
    )
    report = verify(backend, run=g.id("run.a"), public_key=keys["public"])
    problems = _lines(report)
    assert any(p.startswith(f"{g.id('a.threshold')}: record is not what was loaded") for p in problems), (
        problems
    )
    assert any(p.startswith(f"entity {g.id('a.threshold')}: record loaded but missing") for p in problems), (
        problems
    )


def test_a_relationship_deleted_is_named(loaded, keys):
    g, backend = loaded
    backend.write(
        [
            (
                "MATCH (t:Task {key: $task})-[r:used]->(e:Element {key: $entity}) DELETE r",
                {"task": g.key("a.clean"), "entity": g.key("a.threshold")},
            )
        ]
    )
    report = verify(backend, run=g.id("run.a"), public_key=keys["public"])
    assert _lines(report) == [
        f"used {g.id('a.clean')} -> {g.id('a.threshold')}: record loaded but missing (deleted)  [pgid:doc_a_{g.token}]"
    ]


def test_a_node_added_to_the_run_is_named(loaded, keys):
    g, backend = loaded
    evil = f"pgid:evil_{g.token}"
    backend.write(
        [
            (
                "MATCH (run:WorkflowRun {key: $run}) "
                "CREATE (t:Element:Activity:Task {key: $key, id: $id, name: 'evil', declared: true})"
                "-[:wasStartedBy {doc: $doc}]->(run)",
                {
                    "run": g.key("run.a"),
                    "key": f"urn:evil:{g.token}",
                    "id": evil,
                    "doc": f"pgid:doc_a_{g.token}",
                },
            )
        ]
    )
    problems = _lines(verify(backend, run=g.id("run.a"), public_key=keys["public"]))
    assert f"{evil}: node with no record behind it (added)  [pgid:doc_a_{g.token}]" in problems
    assert any(
        p.startswith(f"wasStartedBy {evil} -> {g.id('run.a')}: relationship with no record") for p in problems
    )


def test_a_run_loaded_without_digests_gets_its_properties_checked(any_backend):
    g = build(uuid.uuid4().hex[:12])
    load_messages(any_backend, g.messages)
    try:
        report = verify(any_backend, run=g.id("run.p"))
        assert report.ok and report.unrecorded == [f"pgid:doc_p_{g.token}"]
        any_backend.write([("MATCH (t:Task {key: $key}) SET t.name = 'other'", {"key": g.key("p.plot")})])
        (problem,) = verify(any_backend, run=g.id("run.p")).problems
        assert problem.element == g.id("p.plot") and "property name is 'other'" in problem.what
    finally:
        delete(any_backend, g)


def test_unknown_scope_and_unsigned_loads(any_backend):
    with pytest.raises(ProvgraphError, match="is not in the graph"):
        verify(any_backend, run=f"pgid:no_such_{uuid.uuid4().hex}")
    with pytest.raises(ConfigurationError, match="exactly one"):
        verify(any_backend)


def test_rfc_8785_canonical_form():
    # RFC 8785 section 3.2.3's sample: key order by UTF-16 code units, ECMAScript numbers, minimal escapes
    assert jcs(
        {"b": [1e21, 1e-7, 0.000001, 1e20, -0.0, 333333333.33333329], "a": "\u20ac\n", "\u00e9": True}
    ) == ('{"a":"€\\n","b":[1e+21,1e-7,0.000001,100000000000000000000,0,333333333.3333333],"é":true}')
    assert (
        jcs({"\U0001f600": 1, "\ufb33": 2}) == '{"\U0001f600":1,"\ufb33":2}'
    )  # surrogates sort before U+FB33
    assert leaf("d", {"k": "entity", "id": "x"}) == leaf("d", {"id": "x", "k": "entity"})
    assert document_digest(["b", "a", "a"]) == document_digest(["a", "b"])


def test_verify_command(loaded, keys, any_settings, monkeypatch, capsys, tmp_path):
    from provgraph.cli.main import main

    g, backend = loaded
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", any_settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_HOME", any_settings.home)
    monkeypatch.delenv("PROVGRAPH_SETTINGS", raising=False)
    public = tmp_path / "audit.pub"
    public.write_bytes(keys["public"])
    assert main(["verify", "--run", g.id("run.b"), "--public-key", str(public)]) == 0
    captured = capsys.readouterr()
    assert f"pgid:doc_b_{g.token}: " in captured.out and ", signed, digest sha256:" in captured.out
    assert captured.out.endswith("verified: the graph is what was loaded\n") and "[1/1]" in captured.err
    backend.write([("MATCH (t:Task {key: $key}) SET t.duration_s = 0.1", {"key": g.key("b.train")})])
    assert main(["verify", "--run", g.id("run.b"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["canonicalization"].startswith("RFC 8785")
    assert report["problems"] == [
        {
            "doc": f"pgid:doc_b_{g.token}",
            "element": g.id("b.train"),
            "what": "property duration_s is 0.1; its record says 40.0",
        }
    ]
    evidence, exported = tmp_path / "a.audit.json", tmp_path / "a.json"
    assert main(["verify", "--run", g.id("run.a"), "--evidence-out", str(evidence)]) == 0
    assert main(["export", "--run", g.id("run.a"), "--format", "json", "-o", str(exported)]) == 0
    capsys.readouterr()
    offline = ["verify", "--evidence", str(evidence), "--export", str(exported), "--public-key", str(public)]
    assert main(offline) == 0
    assert capsys.readouterr().out.strip() == "trusted: signed by the key, export matches"
    key = tmp_path / "new.pem"
    assert main(["verify", "--keygen", str(key)]) == 0
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----") and (tmp_path / "new.pem.pub").exists()


def test_evidence_lets_a_reader_check_an_export_with_the_public_key_alone(loaded, keys, tmp_path):
    from provgraph.evidence import check_evidence, write_evidence
    from provgraph.prov.export import export

    g, backend = loaded
    evidence, exported = tmp_path / "run.audit.json", tmp_path / "run.json"
    write_evidence(backend, g.id("run.a"), evidence)
    export(backend, fmt="json", out=exported, run=g.id("run.a"))
    assert check_evidence(evidence, keys["public"], exported) == []
    wrong_key = check_evidence(evidence, keys["other"])
    assert any("signature does not verify" in p for p in wrong_key) and any(
        "record not signed" in p for p in wrong_key
    )
    text = exported.read_text()
    exported.write_text(text.replace('"model-a"', '"model-z"'))
    problems = check_evidence(evidence, keys["public"], exported)
    assert "not the json export of the signed records" in problems[0] and any(
        "model-z" in p for p in problems
    )
    body = json.loads(evidence.read_text())
    (part,) = body["documents"].values()
    part["records"] = [r for r in part["records"] if r.get("k") != "used"][:-1] + [
        {**part["records"][-1], "id": "pgid:forged"} if "id" in part["records"][-1] else part["records"][-1]
    ]
    evidence.write_text(json.dumps(body))
    problems = check_evidence(evidence, keys["public"])
    assert any("signed record missing: used " in p for p in problems)
