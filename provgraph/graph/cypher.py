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

__all__ = [
    "CYPHER_DIR_ENV",
    "QueryFile",
    "as_one_query",
    "catalogue",
    "cypher_dir",
    "importing_with_subqueries",
    "load",
    "render",
]

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
            header_lines: list[str] = []
            body_lines: list[str] = []
            for line in raw.splitlines():
                if not body_lines and line.lstrip().startswith("//"):
                    header_lines.append(line.lstrip()[2:].strip())
                elif line.strip() or body_lines:
                    body_lines.append(line)
            if dialect == "falkordb":
                # FalkorDB 4.x crashes (SIGSEGV in its AST validation) on a comment as the first line of a
                # subquery: it gets the queries without their whole-line comments
                body_lines = [line for line in body_lines if not line.lstrip().startswith("//")]
            text = "\n".join(body_lines).strip()
            if dialect == "falkordb" and path.name == f"{name.rsplit('/', 1)[-1]}.cypher":
                text = importing_with_subqueries(text)
            return QueryFile(name, text, "\n".join(header_lines).strip(), dialect)
    raise QueryError(f"no query named {name!r} in {base}; `provgraph query --list` shows them", name)


_SCOPED_CALL = re.compile(r"\bCALL\s*\(([^()]*)\)\s*\{")
_UNION = re.compile(r"\bUNION(?:\s+ALL)?\b")


def importing_with_subqueries(text: str) -> str:
    """Neo4j's subquery form ``CALL (a, b) { ... }`` (a variable scope clause; the older ``CALL { WITH a, b ... }``
    is deprecated since Neo4j 5.23) as FalkorDB takes it: ``CALL { WITH a, b ... }``, the importing ``WITH``
    repeated after each ``UNION`` of the subquery. The query files are written in Neo4j's current form; this is
    the one place the other form is made. Braces in string literals inside a subquery are not supported (none of
    the library's queries has one)."""
    out: list[str] = []
    position = 0
    while match := _SCOPED_CALL.search(text, position):
        names = match.group(1).strip()
        depth, end = 1, match.end()
        while depth and end < len(text):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        body = text[match.end() : end - 1]
        if names:
            # UNIONs of this subquery only: not those inside a nested {...}
            pieces, level, start = [], 0, 0
            for index, char in enumerate(body):
                level += {"{": 1, "}": -1}.get(char, 0)
                union = _UNION.match(body, index) if level == 0 and char == "U" else None
                if union and (index == 0 or not (body[index - 1].isalnum() or body[index - 1] == "_")):
                    pieces.append(body[start : union.end()] + f"\n  WITH {names}")
                    start = union.end()
            body = f"\n  WITH {names}" + "".join(pieces) + body[start:]
        out.append(text[position : match.start()] + "CALL {" + importing_with_subqueries(body) + "}")
        position = end
    out.append(text[position:])
    return "".join(out)


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
        renamed = _PARAMETER.sub(rf"$s{index}_\g<1>", body)  # $name -> $s<index>_name
        parts.append("CALL () {\n" + renamed + "\n}")
        params.update({f"s{index}_{name}": value for name, value in values.items()})
    return "\n".join(parts), params
