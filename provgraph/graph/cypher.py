"""Named Cypher queries, loaded from ``cypher/*.cypher`` files.

Each file holds one parameterised statement under a header of ``//`` comment lines (purpose, parameters, what it
returns). Where the embedded engine (FalkorDB) needs another form, ``NAME.falkordb.cypher`` sits beside
``NAME.cypher`` and is used for that dialect. Values always travel as parameters; the only text ever substituted is
a ``{{label}}``/``{{type}}`` placeholder, and only with a name from the allow-list in `provgraph.graph.model`.

Example::

    from provgraph.graph.cypher import render, catalogue

    text = render("lineage_upstream")                         # the Neo4j form
    text = render("loader/merge_nodes", dialect="falkordb", label="Entity")
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provgraph.errors import QueryError
from provgraph.graph.model import LABELS, RELATIONSHIP_TYPES
from provgraph.package_files import package_path

__all__ = ["CYPHER_DIR_ENV", "QueryFile", "as_one_query", "catalogue", "cypher_dir", "load", "render"]

CYPHER_DIR_ENV = "PROVGRAPH_CYPHER_DIR"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_ALLOWED = LABELS | RELATIONSHIP_TYPES
DIALECTS = ("neo4j", "falkordb")


@dataclass(frozen=True)
class QueryFile:
    """One named query: its text and the header comment that documents it."""

    name: str
    text: str
    header: str
    dialect: str


def cypher_dir() -> Path:
    """The query library: ``$PROVGRAPH_CYPHER_DIR``, else the one shipped in the package (or the checkout's)."""
    override = os.environ.get(CYPHER_DIR_ENV)
    if override:
        return Path(override)
    return package_path("cypher")


@functools.lru_cache(maxsize=512)
def load(name: str, dialect: str = "neo4j") -> QueryFile:
    """Load query ``name`` (a path under ``cypher/`` without ``.cypher``) in the given dialect."""
    if dialect not in DIALECTS:
        raise QueryError(f"unknown Cypher dialect {dialect!r}; use one of {', '.join(DIALECTS)}", name)
    if not re.fullmatch(r"[a-z0-9_]+(/[a-z0-9_]+)*", name):
        raise QueryError(f"invalid query name {name!r}", name)
    base = cypher_dir()
    candidates = [base / f"{name}.{dialect}.cypher"] if dialect != "neo4j" else []
    candidates.append(base / f"{name}.cypher")
    for path in candidates:
        if path.is_file():
            raw = path.read_text()
            header_lines, body_lines = [], []
            for line in raw.splitlines():
                if not body_lines and line.lstrip().startswith("//"):
                    header_lines.append(line.lstrip()[2:].strip())
                elif line.strip() or body_lines:
                    body_lines.append(line)
            return QueryFile(name, "\n".join(body_lines).strip(), "\n".join(header_lines).strip(), dialect)
    raise QueryError(f"no query named {name!r} in {base}; `provgraph query --list` shows them", name)


def render(name: str, dialect: str = "neo4j", **identifiers: str) -> str:
    """The text of query ``name`` with ``{{placeholders}}`` filled from the label/type allow-list only."""
    query = load(name, dialect)

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in identifiers:
            raise QueryError(f"query {name!r} needs identifier {key!r}", name)
        value = identifiers[key]
        if value not in _ALLOWED:
            raise QueryError(f"{value!r} is not an allowed label or relationship type", name)
        return value

    return _PLACEHOLDER.sub(fill, query.text)


def catalogue(dialect: str = "neo4j") -> list[QueryFile]:
    """Every user-facing query (top-level ``cypher/*.cypher``), sorted by name."""
    names = sorted({p.name.split(".")[0] for p in cypher_dir().glob("*.cypher")})
    return [load(n, dialect) for n in names]


_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def as_one_query(statements: Sequence[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, Any]]:
    """Several write statements as one Cypher query of unit subqueries (``CALL () { ... }``, Neo4j 5.23 on), run
    in the given order, each seeing what the earlier ones wrote, as in one transaction of separate statements.

    One query is one round trip: the server never waits for the client between statements (about 15% more
    records/s for the loader, docs/loader.md). Statement ``i``'s parameter ``$name`` becomes ``$s<i>_name``.
    Only statements that return nothing may be combined: a subquery that returns rows would repeat the ones after
    it once per row.
    """
    parts: list[str] = []
    params: dict[str, Any] = {}
    for index, (text, values) in enumerate(statements):
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        if re.search(r"\bRETURN\b", body, re.IGNORECASE):
            raise QueryError(f"statement {index} returns rows; only write statements can be combined", None)
        unknown = set(_PARAMETER.findall(body)) - set(values)
        if unknown:
            raise QueryError(f"statement {index} uses parameters it was not given: {sorted(unknown)}", None)
        parts.append("CALL () {\n" + _PARAMETER.sub(lambda m, i=index: f"$s{i}_{m.group(1)}", body) + "\n}")
        params.update({f"s{index}_{name}": value for name, value in values.items()})
    return "\n".join(parts), params
