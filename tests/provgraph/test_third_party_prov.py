"""PROV written the way other tools write it goes in, answers, and comes back exactly, on both backends.

Each test is one cause found by feeding provgraph documents it did not write (PROV-O Turtle and TriG as RDF tools
write them, ...): the document is imported through `import_document` (the loader's write path), exported, read back
by ``prov`` and compared strictly with what ``prov`` read from the original.
"""

from __future__ import annotations

import io
import json
import re
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest
from prov.model import ProvDocument

from provgraph.errors import ExportError
from provgraph.prov.compare import roundtrip_identical, same_document, strictly_equal
from provgraph.prov.export import export
from provgraph.prov.importer import default_doc_id, document_to_records, import_document, read_document


def _delete(backend: Any, namespace: str, doc: str) -> None:
    backend.write(
        [
            ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": namespace}),
            ("MATCH (n:Namespace) WHERE n.doc = $doc DETACH DELETE n", {"doc": doc}),
            ("MATCH (n:Document) WHERE n.id = $doc DETACH DELETE n", {"doc": doc}),
        ]
    )


EMPTY_PREFIX_TURTLE = """@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix : <{ns}> .
:e1 a prov:Entity .
:a1 a prov:Activity ; prov:used :e1 .
"""

EMPTY_PREFIX_TRIG = """@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix : <{ns}> .
:e0 a prov:Entity .
:b1 {{ :e1 a prov:Entity . :a1 a prov:Activity ; prov:used :e1 . }}
"""


@pytest.mark.parametrize(("suffix", "text"), [(".ttl", EMPTY_PREFIX_TURTLE), (".trig", EMPTY_PREFIX_TRIG)])
def test_rdf_with_the_empty_prefix_imports_and_comes_back_strictly(
    graph_backend: Any, tmp_path: Path, suffix: str, text: str
) -> None:
    """``@prefix : <...>`` (``:e1``), the form most PROV-O examples use, was refused: prov reads it as a prefix
    ``""`` whose names its PROV-JSON encoding writes without a colon, and no ``default`` namespace resolved them."""
    namespace = f"http://example.org/empty-prefix/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / f"doc{suffix}"
    path.write_text(text.format(ns=namespace))
    fmt = "turtle" if suffix == ".ttl" else "trig"
    original = read_document(path)
    graph_backend.ensure_schema()
    doc = f"pgid:empty_prefix_{uuid.uuid4().hex[:12]}"
    try:
        result = import_document(graph_backend, path, doc=doc)
        assert result.records == (3 if suffix == ".ttl" else 5)
        keys = graph_backend.read(
            "MATCH (n:Element) WHERE n.key STARTS WITH $ns AND n.declared RETURN n.key AS key ORDER BY key",
            {"ns": namespace},
        )
        bundle = f"{namespace}b1 {namespace}"  # the bundle's elements: "<bundle URI> <element URI>"
        expected = ["a1", "e1"] if suffix == ".ttl" else ["b1", f"{bundle}a1", f"{bundle}e1", "e0"]
        assert [row["key"] for row in keys] == [
            local if local.startswith(namespace) else namespace + local for local in expected
        ]
        same, differences = roundtrip_identical(original, export(graph_backend, doc=doc, fmt=fmt), fmt)
        assert same, differences
    finally:
        _delete(graph_backend, namespace, doc)


def test_the_empty_prefix_and_a_default_namespace_on_different_uris_are_refused_by_name() -> None:
    """Both bound to different URIs: a name without a prefix names either, so the document is refused with the
    reason (it was stored with every such name in the default namespace, silently)."""
    text = '{"prefix": {"": "http://a.example/", "default": "http://b.example/"}, "entity": {"e1": {}, ":e2": {}}}'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = ProvDocument.deserialize(source=io.StringIO(text), format="json")
    with pytest.raises(ExportError, match="empty prefix to <http://a.example/> and the default namespace"):
        document_to_records(document)


LOOSE_STEPS = """document
  prefix ex <{ns}>
  activity(ex:clean, 2020-01-01T10:00:00+02:00, -, [prov:label="clean step"])
  used(ex:clean, ex:raw, -)
  wasGeneratedBy(ex:tidy, ex:clean, -)
  entity(ex:unrelated)
  bundle ex:r1
    activity(ex:step, 2020-01-01T00:00:00Z, -)
    used(ex:step, ex:in, -)
    wasGeneratedBy(ex:out, ex:step, -)
  endBundle
endDocument
"""


def test_find_in_a_document_or_bundle_run_gives_its_steps_and_their_entities(
    graph_backend: Any, tmp_path: Path
) -> None:
    """A document and a bundle are runs for their loose activities (docs/graph-model.md, "Runs and steps"), as
    `runs` and `task_tree` say; `find --run` gave nothing for either."""
    from provgraph.client import Client

    namespace = f"http://example.org/loose-steps/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "loose.provn"
    path.write_text(LOOSE_STEPS.format(ns=namespace))
    graph_backend.ensure_schema()
    doc = f"pgid:loose_steps_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        client = Client(backend=graph_backend)
        assert [step.key for step in client.task_tree(doc)] == [namespace + "clean"]
        found = client.find(run=doc)
        assert sorted(f.key for f in found) == [namespace + local for local in ("clean", "raw", "tidy")]
        assert [f.name for f in found if f.key == namespace + "clean"] == ["clean step"]
        bundle = namespace + "r1"
        in_bundle = sorted(f.key for f in client.find(run=bundle))
        assert in_bundle == [bundle] + [f"{bundle} {namespace}{local}" for local in ("in", "out", "step")]
    finally:
        _delete(graph_backend, namespace, doc)


PROV_O_TURTLE = """@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <{ns}> .
ex:ag1 a prov:Agent ; prov:qualifiedDelegation [ a prov:Delegation ; prov:agent ex:ag2 ; prov:hadActivity ex:a1 ] .
ex:ag2 a prov:Agent .
ex:a1 a prov:Activity ; prov:used ex:e1 ;
  prov:qualifiedAssociation [ a prov:Association ; prov:agent ex:ag1 ; prov:hadPlan ex:plan ] ;
  prov:startedAtTime "2020-01-01T00:00:00+01:00"^^xsd:dateTime .
ex:e1 a prov:Entity ; ex:size 12 .
"""


def test_prov_o_in_generic_json_ld_is_read_like_its_turtle(graph_backend: Any, tmp_path: Path) -> None:
    """PROV-O written as JSON-LD by an RDF tool (rdflib: an array of nodes, full URIs) was refused, as not
    PROV-JSONLD; prov's RDF reader reads it, so it is the same document as its Turtle, stored once."""
    import rdflib

    namespace = f"http://example.org/json-ld/{uuid.uuid4().hex[:12]}/"
    turtle = tmp_path / "doc.ttl"
    turtle.write_text(PROV_O_TURTLE.format(ns=namespace))
    graph = rdflib.Graph()
    graph.parse(turtle, format="turtle")
    json_ld = tmp_path / "doc.jsonld"
    json_ld.write_text(graph.serialize(format="json-ld"))
    original = read_document(turtle)
    graph_backend.ensure_schema()
    stored = import_document(graph_backend, json_ld)
    try:
        assert stored.records == len(document_to_records(original)[1]) == 7
        assert import_document(graph_backend, turtle).doc == stored.doc  # the same document
        same, differences = roundtrip_identical(
            original, export(graph_backend, doc=stored.doc, fmt="turtle"), "turtle", strict=False
        )
        assert same, differences
    finally:
        _delete(graph_backend, namespace, stored.doc)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"@context": "https://example.org/ctx.jsonld", "@graph": [{"@id": "ex:x"}]}', "does not fetch"),
        ('[{"@id": "http://example.org/x", "http://example.org/p": "v"}]', "states no PROV record"),
    ],
)
def test_json_ld_that_is_no_prov_or_needs_a_remote_context_is_refused_by_name(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "other.jsonld"
    path.write_text(text)
    with pytest.raises(ExportError, match="neither PROV-JSONLD") as caught:
        read_document(path)
    assert str(path) in str(caught.value) and reason in str(caught.value)


def test_import_of_a_directory_imports_its_prov_files_and_names_an_empty_one(
    embedded_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`provgraph import DIR` took the directory for a file ("cannot tell the PROV format ... from its suffix")."""
    from capture.settings import Settings
    from provgraph.cli.main import main
    from provgraph.graph import open_backend

    namespace = f"http://example.org/import-dir/{uuid.uuid4().hex[:12]}/"
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "a.ttl").write_text(EMPTY_PREFIX_TURTLE.format(ns=namespace))
    (traces / "b.provn").write_text(f"document\n  prefix ex <{namespace}>\n  entity(ex:two)\nendDocument\n")
    (traces / "notes.txt").write_text("not PROV")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", "embedded")
    monkeypatch.setenv("PROVGRAPH_HOME", str(embedded_server.home))
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(tmp_path / "no-settings.yaml"))
    out = ""
    try:
        code = main(["import", str(traces), str(empty)])
        out, err = capsys.readouterr()
        assert code == 1
        assert f"{traces / 'a.ttl'}: 3 records stored as document pgid:doc_" in out
        assert f"{traces / 'b.provn'}: 1 records stored as document pgid:doc_" in out
        assert "notes.txt" not in out + err
        assert f"{empty}: refused: no PROV files" in err and "1 of 3 files refused" in err
    finally:
        docs = [line.split()[-1] for line in out.splitlines() if "stored as document" in line]
        with open_backend(Settings(graph_url="embedded", home=str(embedded_server.home))) as backend:
            for doc in docs:
                _delete(backend, namespace, doc)


UNNAMED_STEPS = """document
  prefix ex <{ns}>
  bundle ex:r1
    activity(ex:step, 2020-01-01T00:00:00Z, -)
    used(ex:step, ex:in, -)
    entity(ex:in, [prov:value=1])
  endBundle
  bundle ex:r2
    activity(ex:step, 2020-01-02T00:00:00Z, -)
    used(ex:step, ex:in, -)
    entity(ex:in, [prov:value=2])
  endBundle
endDocument
"""


def test_diff_table_of_unnamed_steps_and_inputs_without_a_role(
    embedded_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another tool's steps often have no name and use inputs without a role: the table said ``None#0`` and
    ``=ex:in``."""
    from capture.settings import Settings
    from provgraph.cli.main import main
    from provgraph.graph import open_backend

    namespace = f"http://example.org/unnamed/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "runs.provn"
    path.write_text(UNNAMED_STEPS.format(ns=namespace))
    doc = f"pgid:unnamed_{uuid.uuid4().hex[:12]}"
    settings = Settings(graph_url="embedded", home=str(embedded_server.home))
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", "embedded")
    monkeypatch.setenv("PROVGRAPH_HOME", str(embedded_server.home))
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(tmp_path / "no-settings.yaml"))
    with open_backend(settings) as backend:
        backend.ensure_schema()
        import_document(backend, path, doc=doc)
        try:
            assert main(["diff", namespace + "r1", namespace + "r2"]) == 0
            out = capsys.readouterr().out
            (row,) = [line for line in out.splitlines() if line.startswith("changed")]
            cells = re.split(r"\s{2,}", row)
            assert cells[:5] == ["changed", "cause", "(no name)#0", "1", "2"], row  # inputs: their values
            assert [cell.split(":")[-1] for cell in cells[5:]] == ["step", "step"], row
        finally:
            _delete(backend, namespace, doc)


BLANK_VALUES = """@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix ex: <{ns}> .
ex:paper a prov:Entity ;
  ex:author [ ex:name "Ada" ; ex:affiliation [ ex:name "Lab" ] ] ;
  ex:pages ( 1 2 3 ) ;
  prov:wasAttributedTo ex:ada .
ex:ada a prov:Agent .
ex:a a prov:Activity ; prov:qualifiedUsage [ a prov:Usage ; prov:entity ex:paper ; prov:hadRole "input" ] .
"""


def test_rdf_with_blank_node_values_reads_the_same_every_time(graph_backend: Any, tmp_path: Path) -> None:
    """prov keeps an attribute's blank-node value as the string of its label, which rdflib drew at random on
    every parse: the same Turtle was another document (another id, stored again) on each import."""
    import rdflib

    namespace = f"http://example.org/blank-values/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "doc.ttl"
    path.write_text(BLANK_VALUES.format(ns=namespace))
    graph = rdflib.Graph()
    graph.parse(path, format="turtle")
    json_ld = tmp_path / "doc.jsonld"
    json_ld.write_text(graph.serialize(format="json-ld"))
    first, second, as_json_ld = read_document(path), read_document(path), read_document(json_ld)
    assert strictly_equal(first, second) and same_document(first, as_json_ld)  # JSON-LD: no prefixes
    assert default_doc_id(*document_to_records(as_json_ld)) == default_doc_id(*document_to_records(first))
    graph_backend.ensure_schema()
    stored = import_document(graph_backend, path)
    try:
        assert import_document(graph_backend, path).doc == stored.doc
        relations = graph_backend.read(
            "MATCH ()-[r]->() WHERE r.doc = $doc RETURN count(r) AS n", {"doc": stored.doc}
        )
        assert relations == [{"n": 2}]  # the attribution and the usage, once
        same, differences = roundtrip_identical(
            first, export(graph_backend, doc=stored.doc, fmt="turtle"), "turtle"
        )
        assert same, differences
    finally:
        _delete(graph_backend, namespace, stored.doc)


MULTI_VALUED = """document
  prefix ex <{ns}>
  activity(ex:align, -, -, [prov:label="Ausrichtung"@de, prov:label="alignment"@en])
  entity(ex:img, [prov:value=7, prov:value="seven"])
  used(ex:align, ex:img, -)
endDocument
"""


def test_find_matches_each_value_of_a_multi_valued_label_or_value(graph_backend: Any, tmp_path: Path) -> None:
    """A label in two languages (or two values) is a list on the node: `find` compared the whole list with the
    text and found nothing."""
    from provgraph.client import Client

    namespace = f"http://example.org/multi-valued/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "multi.provn"
    path.write_text(MULTI_VALUED.format(ns=namespace))
    graph_backend.ensure_schema()
    doc = f"pgid:multi_valued_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        client = Client(backend=graph_backend)
        align, img = namespace + "align", namespace + "img"
        assert [f.key for f in client.find("ALIGNMENT", run=doc)] == [align]
        assert [f.key for f in client.find(name="Ausrichtung", run=doc)] == [align]
        assert [f.key for f in client.find(value=7, run=doc)] == [img]
        assert [f.key for f in client.find(value="seven", run=doc)] == [img]
        assert client.find(value=8, run=doc) == []
    finally:
        _delete(graph_backend, namespace, doc)


SAME_ID_IN_A_BUNDLE = """document
  prefix ex <{ns}>
  entity(ex:e1)
  wasDerivedFrom(ex:e1, ex:top)
  bundle ex:b
    entity(ex:e1)
    wasDerivedFrom(ex:e1, ex:inner)
  endBundle
endDocument
"""


def test_an_id_naming_elements_at_the_top_and_in_a_bundle_is_refused_as_ambiguous(
    graph_backend: Any, tmp_path: Path
) -> None:
    """``ex:e1`` at the top level and inside bundle ``ex:b`` are two elements (two nodes, two keys) with one
    qualified name: asked by that name, lineage answered for both at once (``ex:top`` and ``ex:inner``)."""
    from provgraph.client import Client
    from provgraph.errors import AmbiguousId
    from provgraph.graph.prefixes import PropertyPrefixes

    namespace = f"http://example.org/same-id/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "same-id.provn"
    path.write_text(SAME_ID_IN_A_BUNDLE.format(ns=namespace))
    graph_backend.ensure_schema()
    doc = f"pgid:same_id_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        name = f"{PropertyPrefixes(graph_backend).load()[namespace]}:e1"
        top, inner = namespace + "e1", f"{namespace}b {namespace}e1"
        client = Client(backend=graph_backend)
        with pytest.raises(AmbiguousId) as caught:
            client.lineage(name)
        assert caught.value.keys == tuple(sorted([top, inner])) and "names 2 elements" in str(caught.value)
        assert [step.key for step in client.lineage(top)] == [namespace + "top"]
        assert [step.key for step in client.lineage(inner)] == [f"{namespace}b {namespace}inner"]
        with pytest.raises(ExportError, match="names 2 elements"):
            export(graph_backend, lineage_of=name, fmt="provn")
    finally:
        _delete(graph_backend, namespace, doc)


def test_import_names_a_file_the_store_cannot_keep_and_goes_on(
    neo4j_settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A namespace URI beyond what Neo4j indexes (8 kB) fails in the store, not in the reader: the command
    stopped there with the driver's message, naming no file, and left the files after it unread."""
    from provgraph.cli.main import main
    from provgraph.graph import open_backend

    namespace = f"http://example.org/store-refuses/{uuid.uuid4().hex[:12]}/"
    huge = tmp_path / "a-huge.provn"
    huge.write_text(f"document\n  prefix ex <{namespace}{'y' * 9000}/>\n  entity(ex:e)\nendDocument\n")
    good = tmp_path / "b-good.provn"
    good.write_text(f"document\n  prefix ex <{namespace}>\n  entity(ex:e)\nendDocument\n")
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", neo4j_settings.graph_url)
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(tmp_path / "no-settings.yaml"))
    out = ""
    try:
        assert main(["import", str(huge), str(good)]) == 1
        out, err = capsys.readouterr()
        (line,) = [line for line in err.splitlines() if line.startswith(f"{huge}: refused: ")]
        assert "too large" in line and len(line) < 2200
        assert f"{good}: 1 records stored as document pgid:doc_" in out and "1 of 2 files refused" in err
    finally:
        docs = [line.split()[-1] for line in out.splitlines() if "stored as document" in line]
        with open_backend(neo4j_settings) as backend:
            for doc in docs:
                _delete(backend, namespace, doc)


def test_a_name_prov_n_cannot_write_is_refused_in_prov_n_not_changed() -> None:
    """A PROV-JSON id with a space (``ex:1 ``, as another tool wrote it) cannot be spelled in PROV-N: prov's writer
    percent-encodes it (``ex:1%20``, another IRI) with a warning the export swallowed, so the PROV-N export named
    another element without a word."""
    from provgraph.prov.export import serialize

    text = json.dumps(
        {
            "prefix": {"ex": "http://example.org/space/"},
            "wasDerivedFrom": {"ex:1 ": {"prov:generatedEntity": "ex:e2", "prov:usedEntity": "ex:e1"}},
        }
    )
    document = read_document(text.encode(), "json")
    with pytest.raises(ExportError, match=r"cannot write this document as provn exactly: .*'1 '"):
        serialize(document, "provn")
    back = read_document(str(serialize(document, "json")).encode(), "json")
    assert strictly_equal(document, back)


TWO_LANGUAGES = """document
  prefix ex <{ns}>
  activity(ex:run, 2020-01-01T00:00:00Z, -, [prov:label="atlas run"@en, prov:label="Atlas-Lauf"@de])
  activity(ex:mean, 2020-01-01T00:00:00Z, -, [prov:label="softmean"@en, prov:label="moyenne"@fr])
  activity(ex:convert, 2020-01-01T01:00:00Z, -)
  wasInformedBy(ex:mean, ex:run)
  wasInformedBy(ex:convert, ex:run)
  used(ex:mean, ex:image, -)
  wasGeneratedBy(ex:atlas, ex:mean, -)
  used(ex:convert, ex:atlas, -)
  wasGeneratedBy(ex:gif, ex:convert, -)
endDocument
"""


def test_a_step_or_run_labelled_in_two_languages_is_found_by_either(
    graph_backend: Any, tmp_path: Path
) -> None:
    """A label in two languages is a list on the node: `provenance_since` never cut at such a step (it gave the
    whole lineage as if none matched) and `runs --workflow` never found such a run."""
    from provgraph.client import Client

    namespace = f"http://example.org/two-languages/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "two.provn"
    path.write_text(TWO_LANGUAGES.format(ns=namespace))
    graph_backend.ensure_schema()
    doc = f"pgid:two_languages_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        client = Client(backend=graph_backend)
        for name in ("softmean", "moyenne"):
            rows = client.run("provenance_since", ref=namespace + "gif", activity=name, depth=30, limit=100)
            assert sorted((row["key"][len(namespace) :], row["cut"]) for row in rows) == [
                ("atlas", False),
                ("convert", False),
                ("mean", True),
            ], name
        for name in ("atlas run", "Atlas-Lauf"):
            assert [run.key for run in client.runs(workflow=name, limit=1000)] == [namespace + "run"], name
    finally:
        _delete(graph_backend, namespace, doc)


MULTI_VALUED_RUNS = """document
  prefix ex <{ns}>
  bundle ex:r1
    activity(ex:align, 2020-01-01T00:00:00Z, -, [prov:label="align"@en, prov:label="ausrichten"@de, ex:model=12])
    used(ex:align, ex:in, -, [prov:role="input", prov:role="image"])
    entity(ex:in, [prov:value=1])
    wasGeneratedBy(ex:out, ex:align, -)
    activity(ex:count, 2020-01-01T01:00:00Z, -, [prov:label=3])
    used(ex:count, ex:out, -)
  endBundle
  bundle ex:r2
    activity(ex:align, 2020-01-02T00:00:00Z, -, [prov:label="align"@en, prov:label="ausrichten"@de, ex:model=13])
    used(ex:align, ex:in, -, [prov:role="input", prov:role="image"])
    entity(ex:in, [prov:value=1])
    wasGeneratedBy(ex:out, ex:align, -)
    activity(ex:count, 2020-01-02T01:00:00Z, -, [prov:label=3])
    used(ex:count, ex:out, -)
  endBundle
endDocument
"""


def test_diff_of_runs_whose_steps_have_several_labels_roles_or_a_number_for_a_label(
    graph_backend: Any, tmp_path: Path
) -> None:
    """Names and roles with several values are lists on the nodes, and a label may be a number: `diff` raised
    TypeError (unhashable list; str and int compared) instead of answering."""
    from provgraph.client import Client

    namespace = f"http://example.org/multi-valued-runs/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "runs.provn"
    path.write_text(MULTI_VALUED_RUNS.format(ns=namespace))
    graph_backend.ensure_schema()
    doc = f"pgid:multi_valued_runs_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        diff = Client(backend=graph_backend).diff(namespace + "r1", namespace + "r2")
        assert [(c.change, c.name, c.cause) for c in diff.changes] == [
            ("changed", "3", False),  # a consequence: its input comes from the changed step
            ("changed", "align, ausrichten", True),
        ]
        (count, align) = diff.changes
        assert [(p.name.split(":")[-1], p.value_a, p.value_b) for p in align.parameters] == [
            ("model", 12, 13)
        ]
        assert align.removed_inputs == align.added_inputs == () and count.because
    finally:
        _delete(graph_backend, namespace, doc)


def test_show_of_a_document_run_names_the_document(
    embedded_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An imported document is a run of its loose steps; `show` listed its tasks but said "(no rows)" for the run
    itself, and no values at all (`find --run` gave none for a document)."""
    from capture.settings import Settings
    from provgraph.cli.main import main
    from provgraph.graph import open_backend

    namespace = f"http://example.org/show-document/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "loose.provn"
    path.write_text(LOOSE_STEPS.format(ns=namespace))
    doc = f"pgid:show_document_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("PROVGRAPH_GRAPH_URL", "embedded")
    monkeypatch.setenv("PROVGRAPH_HOME", str(embedded_server.home))
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(tmp_path / "no-settings.yaml"))
    with open_backend(Settings(graph_url="embedded", home=str(embedded_server.home))) as backend:
        backend.ensure_schema()
        import_document(backend, path, doc=doc)
        try:
            assert main(["show", doc, "--json"]) == 0
            shown = json.loads(capsys.readouterr().out)
            assert [(row["kind"], row["id"]) for row in shown["run"]] == [("Document", doc)]
            assert [row["key"] for row in shown["tasks"]] == [namespace + "clean"]
            assert sorted(row["key"] for row in shown["values"]) == [namespace + "raw", namespace + "tidy"]
        finally:
            _delete(backend, namespace, doc)


@pytest.mark.parametrize(
    ("triples", "where"),
    [
        ("[] a prov:Activity ; prov:used ex:e .", "[] a <http://www.w3.org/ns/prov#Activity>"),
        ("ex:a a prov:Activity ; prov:used [ ex:p 1 ] .", "the object of <http://www.w3.org/ns/prov#used>"),
    ],
)
def test_a_blank_node_as_a_prov_element_is_refused_with_that_reason(
    tmp_path: Path, triples: str, where: str
) -> None:
    """RDF tools often write activities as blank nodes; prov cannot read them and said only "Invalid Qualified
    Name: n3f2...b1" (rdflib's random label), which names nothing in the file."""
    path = tmp_path / "blank.ttl"
    path.write_text(
        "@prefix prov: <http://www.w3.org/ns/prov#> .\n@prefix ex: <http://example.org/blank/> .\n" + triples
    )
    with pytest.raises(ExportError) as caught:
        read_document(path)
    assert str(path) in str(caught.value)
    assert f"a blank node is a PROV element here ({where})" in str(caught.value)


RELATIONS_ONLY = """document
  prefix ex <{ns}>
  used(ex:clean, ex:raw, 2020-01-01T00:00:00Z)
  wasGeneratedBy(ex:tidy, ex:clean, 2020-01-01T01:00:00Z)
  used(ex:train, ex:tidy, -)
  wasGeneratedBy(ex:model, ex:train, -)
endDocument
"""


def test_a_document_that_never_declares_its_activities_is_a_run_of_them(
    graph_backend: Any, tmp_path: Path
) -> None:
    """Other tools often write only relations (`used(ex:clean, ex:raw, -)`, no `activity(ex:clean)`): such an
    activity has no declaring document, so the document was no run: `runs` left it out, `task_tree` and `find
    --run` refused it or gave nothing, `entity_runs` gave nothing."""
    from provgraph.client import Client

    namespace = f"http://example.org/relations-only/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "relations.provn"
    path.write_text(RELATIONS_ONLY.format(ns=namespace))
    graph_backend.ensure_schema()
    doc = f"pgid:relations_only_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        client = Client(backend=graph_backend)
        assert [(run.kind, run.tasks) for run in client.runs(limit=100_000) if run.id == doc] == [
            ("document", 2)
        ]
        steps = [namespace + "clean", namespace + "train"]
        assert [step.key for step in client.task_tree(doc)] == steps
        assert sorted(f.key for f in client.find(run=doc)) == sorted(
            steps + [namespace + local for local in ("raw", "tidy", "model")]
        )
        assert [(use.run, use.relation) for use in client.entity_runs(namespace + "raw")] == [(doc, "used")]
    finally:
        _delete(graph_backend, namespace, doc)


def test_a_long_rdf_list_as_a_value_reads(tmp_path: Path) -> None:
    """An RDF list is a chain of blank nodes as long as the list: labelling them by content recursed once per item
    and a list of a few thousand items hit Python's recursion limit, where prov alone reads it."""
    path = tmp_path / "list.ttl"
    path.write_text(
        "@prefix ex: <http://example.org/long-list/> .\n@prefix prov: <http://www.w3.org/ns/prov#> .\n"
        "ex:e a prov:Entity ; ex:v (" + " 1" * 5000 + " ) .\n"
    )
    first, second = read_document(path), read_document(path)
    assert len(first.get_records()) == 1 and strictly_equal(first, second)


def test_find_by_role_finds_what_a_usage_or_generation_gives_the_role(
    graph_backend: Any, tmp_path: Path
) -> None:
    """Other tools put the role on the relation (`used(ex:clean, ex:raw, -, [prov:role="input"])`), not on the
    entity as capture does: `find --role input` found nothing."""
    from provgraph.client import Client

    namespace = f"http://example.org/roles/{uuid.uuid4().hex[:12]}/"
    path = tmp_path / "roles.provn"
    path.write_text(
        f"document\n  prefix ex <{namespace}>\n"
        '  used(ex:clean, ex:raw, -, [prov:role="input"])\n'
        '  wasGeneratedBy(ex:tidy, ex:clean, -, [prov:role="output"])\n'
        "endDocument\n"
    )
    graph_backend.ensure_schema()
    doc = f"pgid:roles_{uuid.uuid4().hex[:12]}"
    try:
        import_document(graph_backend, path, doc=doc)
        client = Client(backend=graph_backend)
        assert [f.key for f in client.find(role="input", run=doc)] == [namespace + "raw"]
        assert [f.key for f in client.find(role="output", run=doc)] == [namespace + "tidy"]
        assert client.find(role="other", run=doc) == []
    finally:
        _delete(graph_backend, namespace, doc)
