"""Graph backends: one small interface over Neo4j and the embedded FalkorDB engine.

The loader, the query client and export talk only to `GraphBackend`; `provgraph.graph.open_backend` picks the engine
from ``settings.graph_url`` (``embedded`` or a ``bolt://``/``neo4j://`` URI). Query text comes from
`provgraph.graph.cypher` in the backend's ``dialect``; values are always parameters.

Example::

    from capture._redaction import redact_url as _redact_url
from capture.settings import Settings
    from provgraph.graph import open_backend

    with open_backend(Settings.load(graph_url="bolt://127.0.0.1:7687")) as graph:
        rows = graph.read("RETURN $x AS x", {"x": 1})
"""

from __future__ import annotations

import abc
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from capture.settings import Settings
from provgraph.errors import QueryError, StoreUnavailable
from provgraph.graph.cypher import render
from provgraph.redaction import redact_url  # re-exported: the one URL format, for messages and logs

__all__ = ["GraphBackend", "Neo4jBackend", "Statement", "redact_url"]

logger = logging.getLogger(__name__)

_NOTIFICATION_SEVERITY: dict[str, Literal["OFF", "WARNING", "INFORMATION"]] = {
    "off": "OFF",
    "warning": "WARNING",
    "information": "INFORMATION",
}
"""PROVGRAPH_NEO4J_NOTIFICATIONS (checked by Settings) as the driver's minimum severity."""

Statement = tuple[str, dict[str, Any]]
"""A query text (rendered from a ``cypher/`` file) and its parameters."""


def server_version(agent: str) -> tuple[int, ...]:
    """The version in a Neo4j server agent string (``Neo4j/5.26.30`` -> (5, 26, 30)); () when there is none."""
    found = re.search(r"/(\d+(?:\.\d+)*)", agent or "")
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


_DATA_REFUSALS = (
    "Neo.ClientError.Statement.",  # a type, a value, a statement the data made invalid
    "Neo.ClientError.Schema.",  # a constraint
    # "Property value is too large to index" and other per-value failures of executing a statement
    "Neo.DatabaseError.Statement.ExecutionFailed",
)
"""Neo4j error codes that are about the data written, not the server's availability (not retried)."""


class GraphBackend(abc.ABC):
    """What the store side needs from a graph engine."""

    dialect: str
    """``neo4j`` or ``falkordb``: selects the ``cypher/`` variant."""

    combines_writes: bool = False
    """Whether the loader sends a batch's statements as one query of unit subqueries (`provgraph.graph.cypher.as_one_query`):
    Neo4j 5.23 and later, which know ``CALL () { ... }``."""

    @abc.abstractmethod
    def read(
        self, query: str, params: dict[str, Any] | None = None, *, tag: str = ""
    ) -> list[dict[str, Any]]:
        """Run a read query; rows as dicts. ``tag`` (the query's name) goes into server-side metadata."""

    @abc.abstractmethod
    def write(self, statements: Sequence[Statement], *, tag: str = "") -> None:
        """Run statements in one transaction where the engine has them (each statement is idempotent)."""

    @abc.abstractmethod
    def ensure_schema(self) -> None:
        """Create constraints and indexes if missing (idempotent, run at start-up)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def render(self, name: str, **identifiers: str) -> str:
        """The text of a named query in this backend's dialect."""
        return render(name, self.dialect, **identifiers)

    def __enter__(self) -> GraphBackend:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Neo4jBackend(GraphBackend):
    """Neo4j through the official driver (``execute_query`` for reads, managed write transactions)."""

    dialect = "neo4j"

    def __init__(self, settings: Settings) -> None:
        import neo4j

        self._neo4j = neo4j
        self.settings = settings
        self.url = settings.graph_url
        auth = (settings.neo4j_user, settings.neo4j_password) if settings.neo4j_password else None
        try:
            # the server's notifications (deprecations, "property key does not exist" on a graph that has no
            # such value yet) reach the log only when asked for: PROVGRAPH_NEO4J_NOTIFICATIONS
            self.driver = neo4j.GraphDatabase.driver(
                self.url,
                auth=auth,
                notifications_min_severity=_NOTIFICATION_SEVERITY[settings.neo4j_notifications.lower()],
            )
            self.driver.verify_connectivity()
            self.combines_writes = server_version(self.driver.get_server_info().agent) >= (5, 23)
        except Exception as exc:
            raise StoreUnavailable(
                f"cannot reach Neo4j at {redact_url(self.url)}: {exc}. "
                "Is it running? `provgraph services up` starts one.",
                redact_url(self.url),
            ) from exc
        self.database = settings.neo4j_database

    def _query(self, text: str, tag: str) -> Any:
        return self._neo4j.Query(
            text, metadata={"provgraph": tag} if tag else None, timeout=self.settings.query_timeout_s
        )

    def read(
        self, query: str, params: dict[str, Any] | None = None, *, tag: str = ""
    ) -> list[dict[str, Any]]:
        try:
            records, _, _ = self.driver.execute_query(
                self._query(query, tag), params or {}, database_=self.database, routing_="r"
            )
        except self._neo4j.exceptions.TransientError as exc:  # the server is busy or restarting: retry helps
            raise StoreUnavailable(
                f"Neo4j at {redact_url(self.url)} failed: {exc.code}: {exc.message}", redact_url(self.url)
            ) from exc
        except self._neo4j.exceptions.Neo4jError as exc:
            raise QueryError(f"query {tag or '(inline)'} failed: {exc.message}", tag or None) from exc
        except (self._neo4j.exceptions.DriverError, OSError) as exc:
            raise StoreUnavailable(
                f"Neo4j at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
            ) from exc
        except (TypeError, ValueError, OverflowError) as exc:  # the driver could not pack a parameter value
            raise QueryError(
                f"query {tag or '(inline)'} failed: a value Neo4j cannot take: {type(exc).__name__}: {exc}",
                tag or None,
            ) from exc
        return [record.data() for record in records]

    def write(self, statements: Sequence[Statement], *, tag: str = "") -> None:
        @self._neo4j.unit_of_work(
            metadata={"provgraph": tag} if tag else None, timeout=self.settings.query_timeout_s
        )
        def work(tx: Any) -> None:
            for text, params in statements:
                tx.run(text, _unprinted(params)).consume()

        try:
            with self.driver.session(database=self.database) as session:
                session.execute_write(work)
        except self._neo4j.exceptions.Neo4jError as exc:
            if not (exc.code or "").startswith(_DATA_REFUSALS):
                raise StoreUnavailable(
                    f"Neo4j at {redact_url(self.url)} refused: {exc}", redact_url(self.url)
                ) from exc
            # the statements or their data are at fault (a constraint, a value Neo4j cannot store or index): not
            # retryable; the loader isolates the record at fault
            raise QueryError(
                f"write {tag or '(inline)'} failed: {exc.code}: {exc.message}", tag or None
            ) from exc
        except (self._neo4j.exceptions.DriverError, OSError) as exc:
            raise StoreUnavailable(
                f"Neo4j at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
            ) from exc
        except (TypeError, ValueError, OverflowError) as exc:  # the driver could not pack a parameter value
            raise QueryError(
                f"write {tag or '(inline)'} failed: a value Neo4j cannot take: {type(exc).__name__}: {exc}",
                tag or None,
            ) from exc

    def ensure_schema(self) -> None:
        from provgraph.graph.cypher import load
        from provgraph.graph.model import RELATIONSHIP_TYPES

        statements = [
            s.strip() for s in load("schema/constraints", self.dialect).text.split(";") if s.strip()
        ]
        # one sk uniqueness constraint per relationship type, rendered from the allow-list
        statements += [
            self.render("schema/relationship_constraint", type=t) for t in sorted(RELATIONSHIP_TYPES)
        ]
        for statement in statements:
            self._schema_statement(statement)

    # Loaders starting together on an empty database race to create the same index: the loser's
    # `IF NOT EXISTS` still fails with one of these (or a deadlock), and the statement run again is a no-op.
    _SCHEMA_RACES = frozenset(
        {
            "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
            "Neo.ClientError.Schema.IndexAlreadyExists",
            "Neo.ClientError.Schema.ConstraintAlreadyExists",
        }
    )

    def _schema_statement(self, statement: str, attempts: int = 5) -> None:
        for attempt in range(attempts):
            try:
                self.driver.execute_query(statement, database_=self.database)
                return
            except self._neo4j.exceptions.ClientError as exc:
                if exc.code in self._SCHEMA_RACES and attempt + 1 < attempts:
                    continue
                raise QueryError(
                    f"schema statement failed on Neo4j: {exc.code}: {exc.message}", "schema"
                ) from exc
            except self._neo4j.exceptions.TransientError as exc:
                if attempt + 1 == attempts:
                    raise StoreUnavailable(
                        f"Neo4j at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
                    ) from exc
                time.sleep(0.05 * (attempt + 1))
            except (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError, OSError) as exc:
                raise StoreUnavailable(
                    f"Neo4j at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
                ) from exc

    def close(self) -> None:
        self.driver.close()


class _Unprinted(list):  # type: ignore[type-arg]
    """A parameter list that the driver packs as any list, with a short ``repr``.

    The Neo4j driver (5.x and 6.x, ``Bolt*.run``) builds the text of a DEBUG log line from the ``repr`` of every
    RUN message's parameters before the logger is asked whether DEBUG is on: for a loader batch of 5,000 records,
    as much CPU as packing them (docs/loader.md). Packed, this is any list: same bytes on the wire."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"[... {len(self)} items]"


def _unprinted(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` with each list value (a statement's rows) as an `_Unprinted` copy: the list of rows is copied,
    not the rows."""
    return {name: _Unprinted(value) if type(value) is list else value for name, value in params.items()}
