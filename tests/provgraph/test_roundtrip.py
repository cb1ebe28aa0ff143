"""Round-trip fidelity on the real Neo4j: PROV documents nobody here wrote go in through the loader and come out
identical, in every export format; exports of a captured workflow parse back and speak PROV-O.

The corpus is the PROV-JSON test documents inside the installed ``prov`` package plus the documents of ``prov``'s
own ``tests/examples.py``. Each document is stored under its own unique document id (the test leaves them in the
graph; ids embed the test's token). Which documents count for RDF and PROV-JSONLD is computed here by running
``prov`` alone (`provgraph.prov.compare.prov_roundtrips`), never written down.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import rdflib
from prov.model import ProvDocument
from prov_corpus import all_documents

from capture import wire
from provgraph.errors import ExportError
from provgraph.prov.compare import parse_text, prov_roundtrips, roundtrip, same_document, strictly_equal
from provgraph.prov.export import EXPORT_FORMATS, export, export_document, serialize
from provgraph.prov.importer import FORMATS, document_to_messages, import_document
from provgraph.prov.provjson import merge_declarations

pytestmark = pytest.mark.services

ALL_DOCUMENTS = ("json", "provn", "xml")  # every document must come back identical in these


@pytest.mark.slow
def test_corpus_round_trips_through_neo4j_in_every_format(neo4j_backend, unique, capsys):
    """Every corpus document (PROV-JSON and PROV-N by other tools) goes into Neo4j and comes back, read by prov's
    own reader, strictly identical in every format where prov alone keeps it strictly (else identical by
    prov's ==); nothing is left in the graph."""
    documents = all_documents()
    assert len(documents) >= 850
    neo4j_backend.ensure_schema()
    prefix = f"pgid:rt_{unique}_"
    results = roundtrip(neo4j_backend, documents, EXPORT_FORMATS, doc_prefix=prefix)
    with capsys.disabled():
        print()
        for result in results:
            print(
                f"{result.fmt}: {len(result.identical)}/{result.counted} documents identical "
                f"({result.counted - len(result.loose)} strictly, {len(result.loose)} by prov's == because prov "
                f"alone changes them; {len(result.inexpressible)} of {len(documents)} not counted)"
            )
    for result in results:
        assert result.different == {}, f"{result.fmt}: {dict(list(result.different.items())[:3])}"
        assert result.prov_equal == result.counted
        if result.fmt in ALL_DOCUMENTS:
            assert len(result.inexpressible) <= 1 and len(result.loose) < 120
        else:
            # RDF cannot say everything PROV-DM can; most documents still must count
            assert len(result.identical) > len(documents) * 0.8
    left = neo4j_backend.read(
        "MATCH (d:Document) WHERE d.id STARTS WITH $prefix RETURN count(d) AS n", {"prefix": prefix}
    )
    assert left[0]["n"] == 0


def _known_workflow(token: str):
    """Three runs of a campaign in capture's vocabulary, as wire messages (the query tests' known graph)."""
    from _known_graph import build

    graph = build(token)
    return graph, graph.messages


def _load(backend, messages):
    from provgraph.loader import load_messages

    backend.ensure_schema()
    load_messages(backend, messages)


@pytest.fixture
def captured_run(neo4j_settings, neo4j_backend, redis_client):
    """A workflow captured for real: examples/quickstart.py run with its records going to this test's Redis
    stream, loaded by the loader into Neo4j. Yields the run id (the run's document)."""
    from provgraph.loader import Loader

    env = {
        **os.environ,
        "PROVGRAPH_REDIS_URL": neo4j_settings.redis_url,
        "PROVGRAPH_STREAM": neo4j_settings.stream,
        "PROVGRAPH_SINK": "redis",
        "PROVGRAPH_HOME": neo4j_settings.home,
    }
    quickstart = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"
    done = subprocess.run(
        [sys.executable, str(quickstart)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_id = next(line.split()[-1] for line in done.stdout.splitlines() if line.startswith("run:"))
    try:
        with Loader(neo4j_settings, backend=neo4j_backend, redis_client=redis_client) as loader:
            stats = loader.run(until_idle_s=1.0)
        assert stats.records > 0 and loader.dead_letters == 0
        yield run_id
    finally:
        redis_client.delete(neo4j_settings.stream, neo4j_settings.dead_letter_stream)


def test_captured_workflow_exports_parse_back_in_every_format_and_speak_prov_o(neo4j_backend, captured_run):
    document = export_document(neo4j_backend, run=captured_run)
    kinds = {type(r).__name__ for r in document.get_records()}
    assert {"ProvActivity", "ProvEntity", "ProvUsage", "ProvGeneration", "ProvDerivation"} <= kinds
    texts = {
        fmt: serialize(document, fmt) for fmt in EXPORT_FORMATS
    }  # what export() writes, without re-reading
    assert export(neo4j_backend, run=captured_run, fmt="turtle") == texts["turtle"]
    merged = merge_declarations(document)  # PROV-JSON gives the run once, its two declarations merged
    assert merged is not document
    for fmt, text in texts.items():
        assert text
        back = parse_text(text, fmt)
        if fmt == "json":
            assert strictly_equal(merged, back)
        elif prov_roundtrips(document, fmt):
            assert same_document(document, back), fmt
        else:
            # RDF merges the run's two declarations (at its start and at its end) into one resource, so prov
            # itself cannot round-trip this: what comes back is still exactly statements of the original
            assert fmt in ("turtle", "trig")
            originals = document.get_records()
            assert all(any(record == original for original in originals) for record in back.get_records())
        if fmt != "jsonld":  # prov's own reader, not provgraph's (which drops PROV-O's repeated shortcuts)
            prov_format, options = FORMATS[fmt]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ProvDocument.deserialize(source=io.StringIO(text), format=prov_format, **options)

    rdf = rdflib.Graph().parse(data=texts["turtle"], format="turtle")
    prov = rdflib.Namespace("http://www.w3.org/ns/prov#")
    activities = set(rdf.subjects(rdflib.RDF.type, prov.Activity))
    assert len(activities) >= 3  # the run and its two tasks
    # by default no direct triple beside a qualified influence: prov's reader would read it as one more record
    assert len(list(rdf.triples((None, prov.used, None)))) == 0
    direct = rdflib.Graph().parse(data=serialize(document, "turtle", rdf_direct=True), format="turtle")
    assert len(list(direct.triples((None, prov.used, None)))) == 2
    assert len(list(direct.triples((None, prov.wasGeneratedBy, None)))) == 2
    # a `used` with a role and a time needs PROV-O's qualified form: prov:qualifiedUsage -> prov:Usage
    usages = list(rdf.objects(None, prov.qualifiedUsage))
    assert len(usages) == 2 and all((u, rdflib.RDF.type, prov.Usage) in rdf for u in usages)
    assert all(any(rdf.objects(u, prov.hadRole)) and any(rdf.objects(u, prov.atTime)) for u in usages)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdflib's own deprecation notices while parsing TriG
        assert len(rdflib.Dataset().parse(data=texts["trig"], format="trig")) > 0


def test_import_via_the_stream_and_the_loader(neo4j_settings, neo4j_backend, redis_client, unique, tmp_path):
    from provgraph.loader import Loader

    document = ProvDocument()
    document.add_namespace("ex", f"http://example.org/{unique}/stream/")
    document.entity("ex:e", {"prov:label": "via the stream"})
    document.wasDerivedFrom("ex:e", "ex:f", identifier="ex:d")
    path = tmp_path / "doc.json"
    path.write_text(document.serialize(format="json"))
    try:
        result = import_document(neo4j_backend, path, via_stream=True, settings=neo4j_settings)
        with Loader(neo4j_settings, backend=neo4j_backend, redis_client=redis_client) as loader:
            loader.run(until_idle_s=1.0)
        assert same_document(document, export_document(neo4j_backend, doc=result.doc))
    finally:
        redis_client.delete(neo4j_settings.stream, neo4j_settings.dead_letter_stream)


def test_import_file_through_loader_and_export_scopes(neo4j_backend, unique, tmp_path):
    document = ProvDocument()
    ex = document.add_namespace("ex", f"http://example.org/{unique}/")
    document.entity(ex["input"], {"ex:size": 3})
    document.activity(ex["step"])
    document.used(ex["step"], ex["input"], identifier=ex["u1"], other_attributes={"prov:role": "data"})
    document.wasGeneratedBy(ex["output"], ex["step"])
    document.entity(ex["output"])
    document.entity(ex["unrelated"])
    path = tmp_path / "trace.provn"
    path.write_text(document.get_provn())
    neo4j_backend.ensure_schema()
    result = import_document(neo4j_backend, path)
    assert result.format == "provn" and result.records == 6
    again = import_document(neo4j_backend, path)  # same file, same document id: nothing duplicated
    assert again.doc == result.doc
    exported = export_document(neo4j_backend, doc=result.doc)
    assert same_document(document, exported)
    lineage = export_document(neo4j_backend, lineage_of=f"http://example.org/{unique}/output")
    texts = {r.get_provn() for r in lineage.get_records()}
    assert any("wasGeneratedBy" in t for t in texts) and any(t.startswith("used(") for t in texts)
    assert not any("unrelated" in t for t in texts)  # not upstream of the output
    stream = io.StringIO()
    export(neo4j_backend, doc=result.doc, fmt="xml", out=stream)
    assert same_document(document, parse_text(stream.getvalue(), "xml"))


def test_export_errors_are_clear(neo4j_backend, unique):
    with pytest.raises(ExportError, match="is not in the graph"):
        export_document(neo4j_backend, doc=f"pgid:missing_{unique}")
    with pytest.raises(ExportError, match="exactly one scope"):
        export_document(neo4j_backend, doc="a", run="b")
    with pytest.raises(ExportError, match=r"\(run\) is not in the graph"):
        export_document(neo4j_backend, run=f"pgid:missing_{unique}")
    with pytest.raises(ExportError, match="is not in the graph"):
        export_document(neo4j_backend, lineage_of=f"pgid:missing_{unique}")


def test_bundles_keep_their_namespaces_through_the_store(neo4j_backend, unique):
    document = ProvDocument()
    document.add_namespace("ex", f"http://example.org/{unique}/")
    document.add_namespace("bid", f"http://example.org/{unique}/bundles/")
    document.entity("ex:e", {"ex:v": 0})
    document.bundle("bid:b1").entity(
        "ex:e", {"ex:v": 1}
    )  # the same identifier in another bundle: another node
    second = document.bundle("bid:b2")
    second.add_namespace("ex", f"http://example.org/{unique}/other/")  # the same prefix, another namespace
    second.entity("ex:e", {"ex:v": 2})
    assert prov_roundtrips(document, "provn")
    # one record per message: every message must resolve its bundle's names on its own
    _load(neo4j_backend, document_to_messages(document, f"pgid:bundles_{unique}", max_records=1))
    exported = export_document(neo4j_backend, doc=f"pgid:bundles_{unique}")
    assert same_document(document, exported)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert same_document(document, parse_text(serialize(exported, "provn"), "provn"))


def test_run_and_campaign_scopes(neo4j_backend, unique):
    graph, messages = _known_workflow(unique)
    _load(neo4j_backend, messages)
    by_run = export_document(neo4j_backend, run=graph.id("run.a"))  # the documents that declared the run
    assert same_document(by_run, export_document(neo4j_backend, doc=f"pgid:doc_a_{unique}"))
    campaign = export_document(neo4j_backend, campaign=graph.id("campaign"))
    identifiers = {str(r.identifier) for r in campaign.get_records() if r.identifier}
    assert {graph.id("campaign"), graph.id("run.a"), graph.id("run.b")} <= identifiers
    sent = {wire.statement_key(m.doc, r) for m in messages for r in m.records}
    assert len(campaign.get_records()) <= len(sent)


def test_cli_roundtrip_import_and_export(monkeypatch, capsys, tmp_path, neo4j_settings):
    import shutil

    from prov_corpus import corpus_dir

    from provgraph.cli.main import main

    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", neo4j_settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(tmp_path / "no-settings.yaml"))
    files = tmp_path / "files"
    files.mkdir()
    for name in ("bundle1.json", "scruffy-generation1-M.json", "derivation6.json", "mention1.json"):
        shutil.copy(corpus_dir() / name, files / name)
    assert main(["roundtrip", str(files), "--format", "xml"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "4/4 identical"
    (files / "broken.json").write_text('{"entity": 3}')
    assert main(["roundtrip", str(files), "--format", "xml", "--verbose"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "4/5 identical"

    assert main(["import", str(files / "bundle1.json")]) == 0
    doc = capsys.readouterr().out.split()[-1]
    out = tmp_path / "bundle1.provn"
    assert main(["export", "--doc", doc, "--format", "provn", "-o", str(out)]) == 0
    original = ProvDocument.deserialize(str(files / "bundle1.json"), format="json")
    assert same_document(original, parse_text(out.read_text(), "provn"))
    assert main(["export", "--doc", f"pgid:missing_{tmp_path.name}", "--format", "json"]) == 1
    assert "(doc) is not in the graph" in capsys.readouterr().err
