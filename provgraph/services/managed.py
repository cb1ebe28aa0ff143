"""Managed Redis and Neo4j on 127.0.0.1, without Docker: what ``provgraph services up|down|status`` runs.

Redis is the machine's ``redis-server``; Neo4j 5.26 LTS Community runs from its Maven Central jars (fetched once
by Maven from ``deployment/neo4j/pom.xml`` into ``~/.cache/provgraph/neo4j-<version>/lib``) on Java 17. Each
server runs in its own process group; its pid file (JSON: pid, start time, ports) lives under
``<PROVGRAPH_HOME>/services/<name>/``, so ``down`` and ``status`` work from any other process.

Ports come from the settings: Redis from ``PROVGRAPH_REDIS_URL`` (6379 when it is ``embedded``), Bolt from
``PROVGRAPH_GRAPH_URL`` (7687 when it is ``embedded``), HTTP/Browser from ``PROVGRAPH_NEO4J_HTTP_PORT``.

Example::

    from capture.settings import Settings
    from provgraph.services.managed import Services

    services = Services(Settings.load(redis_url="redis://127.0.0.1:16379/0"))
    for status in services.up():        # starts what is not running yet
        print(status.describe())
    services.down()                     # SIGTERM, wait, nothing left behind
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from capture.settings import Settings
from provgraph.errors import ConfigurationError, ServiceError
from provgraph.package_files import package_path

__all__ = [
    "SERVICE_NAMES",
    "ServiceStatus",
    "Services",
    "neo4j_lib_dir",
    "neo4j_version",
]

logger = logging.getLogger(__name__)

SERVICE_NAMES = ("redis", "neo4j")
"""The servers provgraph can run, in start order (stopped in reverse)."""

_BROWSER_FILES = "browser-files"
"""The small server of Neo4j Browser's style and guide (`provgraph.services.browser`); part of the neo4j service."""

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
_MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_NEO4J_MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
# The flags Neo4j's own launcher adds (its neo4j.conf `server.jvm.additional` is read by bin/neo4j, not the JVM).
_NEO4J_JVM_FLAGS = (
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dlog4j2.disable.jmx=true",
    "-XX:+UseG1GC",
)
_NEO4J_INITIAL_PASSWORD = "neo4j"  # noqa: S105 - Neo4j's documented first-start password, changed at once
_MEMORY = re.compile(r"^(\d+)([kmgKMG]?)$")

Progress = Callable[[str], None]


@dataclass
class ServiceStatus:
    """One managed server as seen now.

    Attributes:
        name: ``redis`` or ``neo4j``.
        state: ``started``, ``already running``, ``running``, ``stopped``, ``not running``.
        pid: the server's process id while it runs.
        listening: the addresses it listens on (``127.0.0.1:6379`` ...), read from the process itself.
        urls: what clients use (``redis://...``, ``bolt://...``, ``http://.../browser/``).
        log: the server's console log file.
    """

    name: str
    state: str
    pid: int | None = None
    listening: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def running(self) -> bool:
        return self.state in {"started", "already running", "running"}

    def describe(self) -> str:
        """One line for the terminal."""
        text = f"{self.name}: {self.state}"
        if self.pid:
            text += f" (pid {self.pid}"
            if self.listening:
                text += ", listening on " + ", ".join(self.listening)
            text += ")"
        if self.running and self.urls:
            text += "  " + "  ".join(self.urls)
        return text


def neo4j_version() -> str:
    """The pinned Neo4j version, read from ``deployment/neo4j/pom.xml``."""
    text = _pom_path().read_text()
    match = re.search(r"<neo4j\.version>\s*([^<\s]+)\s*</neo4j\.version>", text)
    if not match:
        raise ConfigurationError(f"{_pom_path()} has no <neo4j.version> property")
    return match.group(1)


def neo4j_lib_dir(version: str | None = None) -> Path:
    """Where the Neo4j jars are cached: ``$XDG_CACHE_HOME/provgraph/neo4j-<version>/lib``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "provgraph" / f"neo4j-{version or neo4j_version()}" / "lib"


def _pom_path() -> Path:
    pom = package_path("deployment/neo4j/pom.xml")
    if not pom.is_file():
        raise ConfigurationError(
            f"the Neo4j runtime description {pom} is missing: reinstall provgraph, or use "
            "deployment/compose.yml or your own Neo4j"
        )
    return pom


def _memory_mib(value: str, setting: str) -> int:
    match = _MEMORY.match(value.strip())
    if not match:
        raise ConfigurationError(f"{setting}={value!r} is not a memory size like 512m or 1g")
    number, unit = int(match.group(1)), match.group(2).lower()
    scale = {"": 1 / (1024 * 1024), "k": 1 / 1024, "m": 1, "g": 1024}[unit]
    return max(1, int(number * scale))


def _loopback_port(url: str, schemes: set[str], default: int, setting: str, service: str) -> tuple[int, str]:
    """The port (and password, if any) of a URL that must point at 127.0.0.1 for a managed server."""
    if url == "embedded":
        return default, ""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ConfigurationError(
            f"{setting}={url!r}: provgraph can only run {service} for a {'/'.join(sorted(schemes))}:// URL "
            f"on 127.0.0.1; leave {service} out (--only) or change the setting"
        )
    if (parts.hostname or "") not in _LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"{setting} points at {parts.hostname!r}: provgraph runs {service} on 127.0.0.1 only; use "
            f"{parts.scheme}://127.0.0.1:PORT, or leave {service} out (--only)"
        )
    return parts.port or default, parts.password or ""


def _port_owner(port: int) -> str:
    """' (pid N, name)' of whoever listens on the port, when the system lets us see it."""
    import psutil

    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                with contextlib.suppress(psutil.Error):
                    return f" (pid {conn.pid}, {psutil.Process(conn.pid).name()})"
                return f" (pid {conn.pid})"
    return ""


def _check_port_free(port: int, what: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ServiceError(
                f"port {port} on 127.0.0.1 ({what}) is already in use by another process{_port_owner(port)}; "
                f"stop that process or choose another port with {setting}"
            ) from exc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _listening(pid: int) -> list[str]:
    import psutil

    addresses = []
    with contextlib.suppress(psutil.Error):
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                addresses.append(f"{conn.laddr.ip}:{conn.laddr.port}")
    return sorted(set(addresses))


class _ManagedProcess:
    """A server process in its own process group, known by a JSON pid file in its state directory."""

    def __init__(self, name: str, state_dir: Path, log_name: str = "console.log") -> None:
        self.name = name
        self.dir = state_dir
        self.pid_file = state_dir / f"{name}.pid"
        self.log = state_dir / log_name

    def running_pid(self) -> int | None:
        """The pid from the pid file when that very process is still alive; a stale file is removed."""
        import psutil

        try:
            record = json.loads(self.pid_file.read_text())
            process = psutil.Process(int(record["pid"]))
            alive = process.status() != psutil.STATUS_ZOMBIE
            same = abs(process.create_time() - float(record["create_time"])) < 1.0
        except FileNotFoundError:
            return None
        except (psutil.Error, ValueError, KeyError, TypeError, json.JSONDecodeError):
            alive = same = False
        if alive and same:
            return int(record["pid"])
        logger.info("removing stale pid file %s", self.pid_file)
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, command: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        import psutil

        self.dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            log.write(
                f"\n--- provgraph starting {self.name}: {time.strftime('%Y-%m-%d %H:%M:%S')} ---\n".encode()
            )
            log.flush()
            # Own session (and process group): Ctrl-C in the terminal that ran `up` does not reach the server,
            # and `down` can signal the whole group.
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,
            )
        record = {
            "pid": process.pid,
            "create_time": psutil.Process(process.pid).create_time(),
            "argv0": command[0],
        }
        self.pid_file.write_text(json.dumps(record))
        return process

    def stop(self, pid: int, timeout_s: float) -> None:
        """SIGTERM the process group, wait for it to empty, SIGKILL what remains after ``timeout_s``."""
        import psutil

        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).wait(timeout=timeout_s)  # reaps it too when it is our child
        while _group_alive(pid):
            if time.monotonic() > deadline:
                logger.warning(
                    "%s (pid %d) did not stop within %.0f s; killing it", self.name, pid, timeout_s
                )
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)


def _group_alive(pgid: int) -> bool:
    import psutil

    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Signal 0 also succeeds for zombies; a group of zombies only is as good as gone.
    for process in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                return True
    return False


class Services:
    """Start, stop and inspect the managed Redis and Neo4j for one settings object.

    Args:
        settings: where (``home``), which ports (the URLs and ``neo4j_http_port``), how much memory, credentials.
        progress: called with one line per step worth telling a person (the CLI prints them); default: log.
        start_timeout_s: how long to wait for a server to answer before giving up with its log tail.
    """

    def __init__(
        self, settings: Settings, progress: Progress | None = None, start_timeout_s: float = 120.0
    ) -> None:
        self.settings = settings
        self.progress: Progress = progress or logger.info
        self.start_timeout_s = start_timeout_s
        self.state_dir = Path(settings.home).expanduser().resolve() / "services"
        # A URL that cannot name a managed server is an error only when that server is asked for (--only).
        self._config_errors: dict[str, ConfigurationError] = {}
        self.redis_port, self.redis_password = self._port_of(
            "redis", settings.redis_url, {"redis"}, 6379, "PROVGRAPH_REDIS_URL"
        )
        self.bolt_port, _ = self._port_of(
            "neo4j", settings.graph_url, {"bolt", "neo4j"}, 7687, "PROVGRAPH_GRAPH_URL"
        )
        self.http_port = int(settings.neo4j_http_port)

    def _port_of(self, name: str, url: str, schemes: set[str], default: int, setting: str) -> tuple[int, str]:
        try:
            return _loopback_port(url, schemes, default, setting, name)
        except ConfigurationError as exc:
            self._config_errors[name] = exc
            return default, ""

    # --- public -------------------------------------------------------------------------------------------------

    def up(self, names: Sequence[str] = SERVICE_NAMES) -> list[ServiceStatus]:
        """Start each named server that is not running; on a failure, stop the ones this call started.

        Raises:
            ServiceError: a port is taken, a program is missing, or a server did not answer in time (log tail).
            ConfigurationError: a setting cannot work for a managed server.
        """
        names = self._check_names(names)
        results: list[ServiceStatus] = []
        started: list[str] = []
        with self._lock():
            try:
                for name in names:
                    process = self._process(name)
                    pid = process.running_pid()
                    if pid:
                        results.append(self._status(name, pid, "already running"))
                        continue
                    self.progress(f"{name}: starting")
                    began = time.monotonic()
                    pid = self._start_redis() if name == "redis" else self._start_neo4j()
                    started.append(name)
                    self.progress(f"{name}: answering after {time.monotonic() - began:.1f} s")
                    results.append(self._status(name, pid, "started"))
            except BaseException:
                for name in reversed(started):
                    self._stop(name)
                raise
        return results

    def down(self, names: Sequence[str] = SERVICE_NAMES) -> list[ServiceStatus]:
        """Stop each named server that provgraph started here (SIGTERM, then wait until its group is gone)."""
        names = self._check_names(names)
        with self._lock():
            return [self._stop(name) for name in reversed(names)][::-1]

    def status(self, names: Sequence[str] = SERVICE_NAMES) -> list[ServiceStatus]:
        """What runs now, with the addresses each server really listens on."""
        results = []
        for name in self._check_names(names):
            pid = self._process(name).running_pid()
            results.append(
                self._status(name, pid, "running") if pid else self._status(name, None, "not running")
            )
        return results

    def client_environment(self, names: Sequence[str] = SERVICE_NAMES) -> dict[str, str]:
        """``PROVGRAPH_*`` variables that point a client at these servers."""
        env: dict[str, str] = {}
        if "redis" in names:
            env["PROVGRAPH_REDIS_URL"] = self._redis_url()
        if "neo4j" in names:
            env["PROVGRAPH_GRAPH_URL"] = f"bolt://127.0.0.1:{self.bolt_port}"
        return env

    # --- common -------------------------------------------------------------------------------------------------

    def _check_names(self, names: Sequence[str]) -> list[str]:
        unknown = [name for name in names if name not in SERVICE_NAMES]
        if unknown:
            raise ConfigurationError(
                f"unknown service {unknown[0]!r}; choose from {', '.join(SERVICE_NAMES)}"
            )
        for name in names:
            if name in self._config_errors:
                raise self._config_errors[name]
        return [name for name in SERVICE_NAMES if name in names]

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _process(self, name: str) -> _ManagedProcess:
        if name == _BROWSER_FILES:
            return _ManagedProcess(name, self.state_dir / "neo4j", log_name=f"{name}.log")
        return _ManagedProcess(name, self.state_dir / name)

    def _status(self, name: str, pid: int | None, state: str) -> ServiceStatus:
        urls = (
            [self._redis_url(redact=True)]
            if name == "redis"
            else [f"bolt://127.0.0.1:{self.bolt_port}", f"http://127.0.0.1:{self.http_port}/browser/"]
        )
        files_pid = self._process(_BROWSER_FILES).running_pid() if name == "neo4j" and pid else None
        if files_pid:
            urls += [
                f"guide: {address.replace('127.0.0.1', 'http://localhost')}/guide.html"
                for address in _listening(files_pid)
            ]
        return ServiceStatus(
            name, state, pid, _listening(pid) if pid else [], urls, str(self._process(name).log)
        )

    def _stop(self, name: str) -> ServiceStatus:
        if name == "neo4j":
            self._stop(_BROWSER_FILES)
        process = self._process(name)
        pid = process.running_pid()
        if not pid:
            return ServiceStatus(name, "not running", log=str(process.log))
        self.progress(f"{name}: stopping (pid {pid})")
        process.stop(pid, timeout_s=60.0 if name == "neo4j" else 15.0)
        return ServiceStatus(name, "stopped", pid, log=str(process.log))

    def _wait(
        self, name: str, process: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path
    ) -> None:
        """Wait until ``ready()``; on any failure (or Ctrl-C) the half-started server is stopped, not left."""
        deadline = time.monotonic() + self.start_timeout_s
        next_note = time.monotonic() + 15
        try:
            while True:
                if process.poll() is not None:
                    raise ServiceError(
                        f"{name} exited with status {process.returncode} while starting; see {log}",
                        _tail(log),
                    )
                if ready():
                    return
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"{name} did not answer within {self.start_timeout_s:.0f} s; stopped it; see {log}",
                        _tail(log),
                    )
                if time.monotonic() > next_note:
                    self.progress(f"{name}: still starting ...")
                    next_note = time.monotonic() + 15
                time.sleep(0.25)
        except BaseException:
            self._stop(name)
            raise

    # --- Redis --------------------------------------------------------------------------------------------------

    def _redis_url(self, redact: bool = False) -> str:
        if self.settings.redis_url != "embedded":
            from provgraph.graph.backend import redact_url

            return redact_url(self.settings.redis_url) if redact else self.settings.redis_url
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _start_redis(self) -> int:
        program = shutil.which("redis-server")
        if not program:
            raise ServiceError(
                "redis-server is not installed; on Debian/Ubuntu: apt-get install redis-server"
            )
        _check_port_free(self.redis_port, "Redis", "PROVGRAPH_REDIS_URL")
        managed = self._process("redis")
        data = managed.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        lines = [
            "bind 127.0.0.1",
            f"port {self.redis_port}",
            f'dir "{data}"',
            'save ""',
            # the default keeps what the loader has not loaded yet across a restart (docs/transport.md)
            f"appendonly {'yes' if self.settings.redis_aof else 'no'}",
            "appendfsync everysec",
            "aof-use-rdb-preamble yes",
            "protected-mode yes",
            "daemonize no",
            'logfile ""',
        ]
        if self.redis_password:
            lines.append(f'requirepass "{self.redis_password}"')
        # The password (if any) goes into a private file, not onto the command line where `ps` shows it.
        conf = managed.dir / "redis.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text("\n".join(lines) + "\n")
        process = managed.start([program, str(conf)])

        def ready() -> bool:
            import redis

            client = redis.Redis(
                host="127.0.0.1", port=self.redis_port, password=self.redis_password or None, socket_timeout=1
            )
            try:
                return bool(client.ping())
            except redis.exceptions.RedisError:
                return False
            finally:
                client.close()

        self._wait("redis", process, ready, managed.log)
        return process.pid

    # --- Neo4j --------------------------------------------------------------------------------------------------

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        program = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if not program or not Path(program).exists():
            raise ServiceError(
                "Java 17 is not installed; on Debian 12: apt-get install openjdk-17-jre-headless"
            )
        out = subprocess.run([program, "-version"], capture_output=True, text=True, check=False)  # noqa: S603
        match = re.search(r'version "(\d+)', out.stderr + out.stdout)
        if not match or int(match.group(1)) < 17:
            raise ServiceError(
                f"Neo4j 5.26 needs Java 17 or 21; {program} is: {(out.stderr or out.stdout).strip()}"
            )
        return program

    def ensure_neo4j_lib(self) -> Path:
        """The folder of Neo4j jars, fetched by Maven (with progress lines) when it is not cached yet."""
        version = neo4j_version()
        lib = neo4j_lib_dir(version)
        if _lib_complete(lib, version):
            return lib
        mvn = shutil.which("mvn")
        if not mvn:
            raise ServiceError(
                f"the Neo4j jars are not in {lib} and Maven is missing; on Debian: apt-get install maven"
            )
        lib.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
        self.progress(f"neo4j: fetching Neo4j {version} jars with Maven into {lib} (once; ~/.m2 caches them)")
        command = [
            mvn, "-B", "-f", str(_pom_path()),
            f"{_MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        downloads = 0
        last_lines: list[str] = []
        began = time.monotonic()
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as maven:  # noqa: S603
            assert maven.stdout is not None
            for line in maven.stdout:
                last_lines = (last_lines + [line.rstrip()])[-40:]
                if line.startswith("Downloaded from"):
                    downloads += 1
                    if downloads % 25 == 0:
                        self.progress(
                            f"neo4j: Maven downloaded {downloads} files ({time.monotonic() - began:.0f} s)"
                        )
        if maven.returncode != 0 or not _lib_complete(staging, version):
            shutil.rmtree(staging, ignore_errors=True)
            raise ServiceError(
                f"Maven could not fetch the Neo4j jars (exit {maven.returncode})", "\n".join(last_lines)
            )
        if lib.exists():
            shutil.rmtree(lib)
        staging.rename(lib)
        jars = len(list(lib.glob("*.jar")))
        self.progress(
            f"neo4j: {jars} jars in {lib} ({downloads} downloads, {time.monotonic() - began:.0f} s)"
        )
        return lib

    def neo4j_config(self, data: Path, logs: Path) -> dict[str, str]:
        """The ``neo4j.conf`` entries for the managed server (strict validation: only real 5.26 names)."""
        heap_mib = _memory_mib(self.settings.neo4j_heap, "PROVGRAPH_NEO4J_HEAP")
        _memory_mib(self.settings.neo4j_pagecache, "PROVGRAPH_NEO4J_PAGECACHE")
        return {
            "server.default_listen_address": "127.0.0.1",
            "server.default_advertised_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.bolt_port}",
            # Browser learns the Bolt address from HTTP discovery, which reports the advertised one.
            "server.bolt.advertised_address": f"127.0.0.1:{self.bolt_port}",
            "server.http.advertised_address": f"127.0.0.1:{self.http_port}",
            "server.http.enabled": "true",
            "server.http.listen_address": f"127.0.0.1:{self.http_port}",
            "server.https.enabled": "false",
            "server.directories.data": str(data),
            "server.directories.logs": str(logs),
            "server.memory.pagecache.size": self.settings.neo4j_pagecache,
            # Half the heap for all transactions together: a runaway query fails instead of the server.
            "dbms.memory.transaction.total.max": f"{max(64, heap_mib // 2)}m",
            "dbms.security.auth_enabled": "true" if self.settings.neo4j_password else "false",
            "dbms.usage_report.enabled": "false",
        }

    def _start_neo4j(self) -> int:
        if self.settings.neo4j_password and self.settings.neo4j_user != "neo4j":
            raise ConfigurationError(
                "the managed Neo4j has one user, 'neo4j'; set PROVGRAPH_NEO4J_USER=neo4j (or leave it unset)"
            )
        java = self._java()
        _check_port_free(self.bolt_port, "Neo4j Bolt", "PROVGRAPH_GRAPH_URL")
        _check_port_free(self.http_port, "Neo4j HTTP/Browser", "PROVGRAPH_NEO4J_HTTP_PORT")
        lib = self.ensure_neo4j_lib()
        managed = self._process("neo4j")
        conf_dir, data, logs = managed.dir / "conf", managed.dir / "data", managed.dir / "logs"
        for folder in (conf_dir, data, logs):
            folder.mkdir(parents=True, exist_ok=True)
        config = self.neo4j_config(data, logs)
        config.update(self._start_browser_files())
        (conf_dir / "neo4j.conf").write_text("".join(f"{key}={value}\n" for key, value in config.items()))
        heap = self.settings.neo4j_heap
        command = [
            java, f"-Xms{heap}", f"-Xmx{heap}", *_NEO4J_JVM_FLAGS,
            "-cp", f"{lib}/*", _NEO4J_MAIN_CLASS,
            f"--home-dir={managed.dir}", f"--config-dir={conf_dir}", "--console-mode",
        ]  # fmt: skip
        try:
            process = managed.start(command)
        except BaseException:
            self._stop(_BROWSER_FILES)
            raise
        self._wait("neo4j", process, lambda: self._neo4j_ready(), managed.log)
        if not _port_open(self.http_port):
            self._wait("neo4j", process, lambda: _port_open(self.http_port), managed.log)
        return process.pid

    def _start_browser_files(self) -> dict[str, str]:
        """Start the server of Browser's style and guide; the ``neo4j.conf`` entries that make Browser use it."""
        from provgraph.services.browser import browser_settings

        port = self.settings.browser_files_port
        if port:
            _check_port_free(port, "Neo4j Browser style and guide", "PROVGRAPH_BROWSER_FILES_PORT")
        else:
            port = _free_port()
        managed = self._process(_BROWSER_FILES)
        env = {
            **os.environ,
            "PROVGRAPH_NEO4J_USER": "neo4j",
            "PROVGRAPH_NEO4J_PASSWORD": self.settings.neo4j_password,
            "PROVGRAPH_NEO4J_DATABASE": self.settings.neo4j_database,
        }
        command = [
            sys.executable, "-m", "provgraph.services.browser", "--port", str(port),
            "--graph-url", f"bolt://127.0.0.1:{self.bolt_port}", "--http-port", str(self.http_port),
        ]  # fmt: skip
        process = managed.start(command, env=env)
        self._wait(_BROWSER_FILES, process, lambda: _port_open(port), managed.log)
        return browser_settings(f"http://localhost:{port}")

    def _neo4j_ready(self) -> bool:
        if not _port_open(self.bolt_port):
            return False
        import neo4j
        from neo4j.exceptions import AuthError, DriverError, Neo4jError

        uri = f"bolt://127.0.0.1:{self.bolt_port}"
        password = self.settings.neo4j_password
        auth = ("neo4j", password) if password else None
        try:
            with neo4j.GraphDatabase.driver(uri, auth=auth, connection_timeout=2) as driver:
                driver.execute_query("RETURN 1")
            return True
        except AuthError:
            if not password:
                raise ServiceError(
                    f"Neo4j at {uri} asks for a password but PROVGRAPH_NEO4J_PASSWORD is empty; its data under "
                    f"{self._process('neo4j').dir / 'data'} was created with auth on"
                ) from None
            self._set_initial_password(uri, password)
            return False
        except (Neo4jError, DriverError, OSError):
            return False

    def _set_initial_password(self, uri: str, password: str) -> None:
        import neo4j
        from neo4j.exceptions import AuthError

        try:
            with neo4j.GraphDatabase.driver(uri, auth=("neo4j", _NEO4J_INITIAL_PASSWORD)) as driver:
                driver.execute_query(
                    "ALTER CURRENT USER SET PASSWORD FROM $old TO $new",
                    {"old": _NEO4J_INITIAL_PASSWORD, "new": password},
                    database_="system",
                )
            self.progress("neo4j: initial password set from PROVGRAPH_NEO4J_PASSWORD")
        except AuthError as exc:
            raise ServiceError(
                f"Neo4j at {uri} rejects PROVGRAPH_NEO4J_PASSWORD and no longer has its initial password: its data "
                f"under {self._process('neo4j').dir / 'data'} was set up with another password"
            ) from exc


def _lib_complete(lib: Path, version: str) -> bool:
    return all(
        (lib / jar).is_file()
        for jar in (f"neo4j-{version}.jar", f"neo4j-bolt-{version}.jar", f"neo4j-server-{version}.jar")
    ) and any(lib.glob("neo4j-browser-*.jar"))
