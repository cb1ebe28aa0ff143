"""The FalkorDB graph backend: the embedded default's graph, or any redis-server with the FalkorDB module.

`FalkorBackend` speaks FalkorDB's ``GRAPH.QUERY`` over redis-py; with ``settings.graph_url`` ``embedded`` it
starts (or attaches to) the embedded server of `provgraph.services.embedded`. FalkorDB takes parameters only as
literal text in front of the query: `encode_parameters` is the one place where values become text.

Example::

    from capture.settings import Settings
    from provgraph.graph.falkordb import FalkorBackend

    with FalkorBackend(Settings.load(graph_url="embedded")) as graph:   # starts (or attaches to) the server
        graph.ensure_schema()
        print(graph.read("MATCH (n:Element) RETURN count(n) AS n"))
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

from capture.settings import Settings
from provgraph.errors import ConfigurationError, QueryError, StoreUnavailable
from provgraph.graph.backend import GraphBackend, Statement, redact_url
from provgraph.graph.cypher import load
from provgraph.services.embedded import STORE_CLIENT_NAME, EmbeddedServer

__all__ = ["GRAPH_KEY", "FalkorBackend", "encode_parameters"]


class _RedisConnection(Protocol):
    """What this backend uses of a redis-py client (redis-py does not type ``execute_command``)."""

    def execute_command(self, *args: Any) -> Any: ...
    def ping(self) -> Any: ...
    def exists(self, *names: str) -> Any: ...
    def bgrewriteaof(self) -> Any: ...
    def close(self) -> None: ...


GRAPH_KEY = "provgraph"
"""The Redis key of the graph inside the embedded server."""

_INT64 = (-(2**63), 2**63 - 1)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX_STATEMENT = re.compile(r"CREATE INDEX FOR (?:\(\w*:(\w+)\)|\(\)-\[\w*:(\w+)\]-\(\)) ON \(\w+\.(\w+)\)")


# --- parameters -----------------------------------------------------------------------------------------------


def encode_parameters(params: dict[str, Any] | None) -> str:
    """The ``CYPHER name=value ...`` prefix that carries parameters to FalkorDB, as Cypher literals.

    FalkorDB takes parameters only as literal text in front of the query, so this encoder is the one place where
    values become text: strings are double-quoted with backslash and quote escaped (nothing else is an escape
    once every backslash is doubled), numbers use Python's round-trip form, maps quote their keys with
    backticks. Values it cannot represent exactly are refused rather than altered.

    Raises:
        QueryError: a name is not an identifier, or a value is of a type (or a float, string, integer) that
            FalkorDB cannot take: NaN/infinity, a string with a NUL character, an integer beyond 64 bits, bytes.
    """
    if not params:
        return ""
    parts = []
    for name, value in params.items():
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise QueryError(f"parameter name {name!r} is not an identifier")
        parts.append(f"{name}={_literal(value)}")
    return "CYPHER " + " ".join(parts) + " "


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise QueryError(f"integer {value} does not fit in 64 bits")
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QueryError(f"FalkorDB cannot take the float {value!r} as a parameter")
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise QueryError("FalkorDB cannot take a string containing a NUL character as a parameter")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ",".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str) or "`" in key or "\x00" in key or not key:
                raise QueryError(
                    f"map key {key!r} cannot be passed to FalkorDB (keys are non-empty text without `)"
                )
            items.append(f"`{key}`:{_literal(item)}")
        return "{" + ",".join(items) + "}"
    raise QueryError(f"cannot pass a {type(value).__name__} as a FalkorDB parameter")


# --- results --------------------------------------------------------------------------------------------------

# Value types of FalkorDB's compact result format.
_NULL, _STRING, _INTEGER, _BOOLEAN, _DOUBLE, _ARRAY, _EDGE, _NODE, _PATH, _MAP, _POINT = range(1, 12)


class _Decoder:
    """Turns compact results into Python values the way the Neo4j driver's ``record.data()`` does: nodes and
    relationships become dicts of their properties, paths lists of them."""

    def __init__(self, fetch_property_keys: Any) -> None:
        self._fetch_property_keys = fetch_property_keys
        self._property_keys: list[str] = []

    def property_key(self, index: int) -> str:
        if index >= len(self._property_keys):
            self._property_keys = self._fetch_property_keys()
        return self._property_keys[index]

    def value(self, cell: list[Any]) -> Any:
        kind, raw = cell[0], cell[1]
        if kind == _NULL:
            return None
        if kind == _STRING:
            return raw.decode() if isinstance(raw, bytes) else raw
        if kind == _INTEGER:
            return int(raw)
        if kind == _BOOLEAN:
            return raw in (b"true", "true", 1, True)
        if kind == _DOUBLE:
            return float(raw)
        if kind == _ARRAY:
            return [self.value(item) for item in raw]
        if kind == _MAP:
            return {
                (raw[i].decode() if isinstance(raw[i], bytes) else raw[i]): self.value(raw[i + 1])
                for i in range(0, len(raw), 2)
            }
        if kind == _NODE:
            return self.properties(raw[2])
        if kind == _EDGE:
            return self.properties(raw[4])
        if kind == _PATH:
            nodes, edges = self.value(raw[0]), self.value(raw[1])
            path: list[Any] = []
            for index, node in enumerate(nodes):
                path.append(node)
                if index < len(edges):
                    path.append(edges[index])
            return path
        if kind == _POINT:
            return {"latitude": float(raw[0]), "longitude": float(raw[1])}
        return raw.decode() if isinstance(raw, bytes) else raw

    def properties(self, triples: list[Any]) -> dict[str, Any]:
        return {self.property_key(key): self.value([kind, raw]) for key, kind, raw in triples}


# --- the backend ----------------------------------------------------------------------------------------------


class FalkorBackend(GraphBackend):
    """The FalkorDB graph in the embedded server (or in any redis-server with the module: ``redis://``/``unix://``).

    ``settings.graph_url`` ``embedded`` starts the server under ``settings.home`` (or attaches to a running
    one); ``close()`` stops it if this backend started it. Reads run with ``GRAPH.RO_QUERY`` and a server-side
    timeout of ``settings.query_timeout_s``; writes run statement by statement (FalkorDB has no multi-statement
    transactions; every provgraph write statement is idempotent, so a retry after a failure is safe).

    Args:
        settings: provgraph's settings.
        graph: the graph's key in the server.
        client_name: the name of its connections on the server (`STORE_CLIENT_NAME`).
    """

    dialect = "falkordb"

    def __init__(
        self, settings: Settings, *, graph: str = GRAPH_KEY, client_name: str = STORE_CLIENT_NAME
    ) -> None:
        import redis

        self._redis = redis
        self.settings = settings
        self.graph = graph
        self.server: EmbeddedServer | None = None
        url = settings.graph_url
        if url == "embedded":
            server = EmbeddedServer(settings.home)
            if server.start():
                self.server = server  # ours: close() stops it
            state = server.state()
            url = state["url"] if state else server.url
        elif url.startswith("falkordb://"):
            url = "redis://" + url[len("falkordb://") :]
        self.url = url
        self.timeout_ms = max(1, int(settings.query_timeout_s * 1000))
        # redis-py's default socket timeout is too short for graph work: allow the server-side timeout plus slack
        try:
            self.client: _RedisConnection = redis.Redis.from_url(
                url,
                socket_timeout=max(120.0, settings.query_timeout_s * 4),
                socket_connect_timeout=10,
                client_name=client_name,
            )
        except ValueError as exc:  # redis-py's words for a URL it cannot parse
            self.close()
            raise ConfigurationError(f"PROVGRAPH_GRAPH_URL={redact_url(url)!r}: {exc}") from exc
        try:
            self.client.ping()
            exists = self.client.exists(graph)
        except redis.exceptions.RedisError as exc:
            self.close()
            raise StoreUnavailable(
                f"cannot reach the FalkorDB server at {redact_url(url)}: {exc}", redact_url(url)
            ) from exc
        self._decoder = _Decoder(self._property_keys)
        if not exists:
            # read-only queries on a missing key fail ("empty key"), and MERGE without the key indexes scans every
            # node: a fresh store gets its graph and its schema now
            self._execute("GRAPH.QUERY", "RETURN 0", None, "create graph")
            self.ensure_schema()

    def _property_keys(self) -> list[str]:
        try:
            reply = self.client.execute_command("GRAPH.RO_QUERY", self.graph, "CALL db.propertyKeys()")
        except self._redis.exceptions.RedisError as exc:
            raise StoreUnavailable(
                f"the FalkorDB server at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
            ) from exc
        return [row[0].decode() for row in reply[1]]

    def _execute(
        self, command: str, query: str, params: dict[str, Any] | None, tag: str
    ) -> list[dict[str, Any]]:
        return self._run(command, encode_parameters(params) + query, tag)

    def _run(self, command: str, text: str, tag: str) -> list[dict[str, Any]]:
        args: list[Any] = [command, self.graph, text, "--compact"]
        if command == "GRAPH.RO_QUERY":
            args += ["TIMEOUT", self.timeout_ms]
        try:
            reply = self.client.execute_command(*args)
        except self._redis.exceptions.ResponseError as exc:
            message = str(exc)
            hint = (
                " (raise PROVGRAPH_QUERY_TIMEOUT_S or bound depth/limit)"
                if "timed out" in message.lower()
                else ""
            )
            raise QueryError(
                f"query {tag or '(inline)'} failed on FalkorDB: {message}{hint}", tag or None
            ) from exc
        except self._redis.exceptions.RedisError as exc:
            raise StoreUnavailable(
                f"the FalkorDB server at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
            ) from exc
        if len(reply) < 3:  # statistics only: a write without RETURN
            return []
        columns = [column[1].decode() if isinstance(column, list) else column.decode() for column in reply[0]]
        return [
            dict(zip(columns, (self._decoder.value(cell) for cell in row), strict=True)) for row in reply[1]
        ]

    def read(
        self, query: str, params: dict[str, Any] | None = None, *, tag: str = ""
    ) -> list[dict[str, Any]]:
        return self._execute("GRAPH.RO_QUERY", query, params, tag)

    def write(self, statements: Sequence[Statement], *, tag: str = "") -> None:
        # every statement's parameters are encoded before the first runs: a value FalkorDB cannot take (a NUL
        # character, say) refuses the whole write, not the statements after it only (FalkorDB has no transaction
        # around several queries, so those before it would stay written)
        texts = [encode_parameters(params) + query for query, params in statements]
        for text in texts:
            self._run("GRAPH.QUERY", text, tag)

    def ensure_schema(self) -> None:
        """Indexes with ``CREATE INDEX``, then unique constraints with ``GRAPH.CONSTRAINT CREATE`` (both from
        ``cypher/schema/constraints.falkordb.cypher``). Existing ones are skipped before sending: FalkorDB writes
        even a refused schema command to its log, and a restart would replay the refusal."""
        indexes = {
            (row["entitytype"], row["label"], prop)
            for row in self.read("CALL db.indexes() YIELD label, properties, entitytype", tag="schema")
            for prop in row["properties"]
        }
        constraints = {
            (row["entitytype"], row["label"], tuple(row["properties"]))
            for row in self.read("CALL db.constraints() YIELD label, properties, entitytype", tag="schema")
        }
        text = load("schema/constraints", self.dialect).text
        created = False
        for statement in (part.strip() for part in text.split(";")):
            if not statement:
                continue
            try:
                if statement.upper().startswith("GRAPH.CONSTRAINT"):
                    # GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE|RELATIONSHIP <label> PROPERTIES <n> <props...>
                    words = statement.split()
                    if (words[3], words[4], tuple(words[7:])) in constraints:
                        continue
                    self.client.execute_command(words[0], words[1], self.graph, *words[2:])
                    created = True
                else:
                    match = _INDEX_STATEMENT.fullmatch(statement)
                    if match:
                        kind = "NODE" if match.group(1) else "RELATIONSHIP"
                        if (kind, match.group(1) or match.group(2), match.group(3)) in indexes:
                            continue
                    self.client.execute_command("GRAPH.QUERY", self.graph, statement)
                    created = True
            except self._redis.exceptions.ResponseError as exc:
                if "already" not in str(exc).lower():
                    raise QueryError(
                        f"schema statement failed on FalkorDB: {statement}: {exc}", "schema"
                    ) from exc
            except self._redis.exceptions.RedisError as exc:
                raise StoreUnavailable(
                    f"the FalkorDB server at {redact_url(self.url)} failed: {exc}", redact_url(self.url)
                ) from exc
        if created:
            # FalkorDB logs each constraint twice; a snapshot now spares a restart replaying (and refusing) them
            with contextlib.suppress(self._redis.exceptions.RedisError):
                self.client.bgrewriteaof()

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self.server is not None:
            server, self.server = self.server, None
            server.stop()
