"""provgraph/graph/cypher.py: named queries from the library, dialect variants, the identifier allow-list and
combined writes. No server: these read files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from provgraph.errors import QueryError
from provgraph.graph.cypher import as_one_query, catalogue, cypher_dir, load, render


def test_a_named_query_has_its_header_and_its_text() -> None:
    query = load("lineage_upstream")
    assert query.header and not query.text.lstrip().startswith("//")
    assert "$ref" in query.text


def test_the_falkordb_variant_is_used_where_there_is_one() -> None:
    assert (cypher_dir() / "lineage_upstream.falkordb.cypher").is_file()
    assert load("lineage_upstream", "falkordb").text != load("lineage_upstream").text


@pytest.mark.parametrize("name", ["no_such_query", "../etc/passwd", "Lineage", "a//b"])
def test_unknown_or_malformed_names_are_query_errors(name: str) -> None:
    with pytest.raises(QueryError):
        load(name)


def test_placeholders_take_only_allow_listed_labels_and_types() -> None:
    text = render("loader/merge_relations", type="used")
    assert "used" in text and "{{" not in text
    with pytest.raises(QueryError, match="not an allowed"):
        render("loader/merge_relations", type="used]->() DETACH DELETE (x")
    with pytest.raises(QueryError, match="needs identifier"):
        render("loader/merge_relations")


def test_the_catalogue_lists_user_facing_queries_only() -> None:
    names = [query.name for query in catalogue()]
    assert names == sorted(names) and "lineage_upstream" in names
    assert not any("/" in name for name in names)  # loader/, schema/, export/ ... are internal


def test_a_different_library_directory_can_be_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hello.cypher").write_text("// says hello\nRETURN 'hello' AS greeting\n")
    monkeypatch.setenv("PROVGRAPH_CYPHER_DIR", str(tmp_path))
    load.cache_clear()
    try:
        assert [query.name for query in catalogue()] == ["hello"]
        assert load("hello").header == "says hello"
    finally:
        monkeypatch.delenv("PROVGRAPH_CYPHER_DIR")
        load.cache_clear()


def test_combined_writes_keep_each_statements_parameters_apart() -> None:
    text, params = as_one_query(
        [("MERGE (n {a: $x, b: $x1})", {"x": 1, "x1": 2}), ("CREATE (m {c: $x})", {"x": 3})]
    )
    assert text == "CALL () {\nMERGE (n {a: $s0_x, b: $s0_x1})\n}\nCALL () {\nCREATE (m {c: $s1_x})\n}"
    assert params == {"s0_x": 1, "s0_x1": 2, "s1_x": 3}
    with pytest.raises(QueryError, match="not given"):
        as_one_query([("CREATE (n {a: $missing})", {})])
    with pytest.raises(QueryError, match="returns rows"):
        as_one_query([("MATCH (n) RETURN n", {})])
