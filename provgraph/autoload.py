"""The automatic loader of the embedded default: server and loader in one process that stops when idle.

With ``redis_url = embedded`` (the default) capture starts this process by itself (``python -m provgraph embedded
serve``, see `capture._embedded_url.reach_embedded_server`), so a captured script's records reach the graph with
no command to run. What it does, in order:

1. takes ``<home>/embedded/autoload.lock`` (one automatic loader per data directory; a second one exits at once)
   and records itself in ``<home>/embedded/autoload.json``;
2. starts the embedded server, owned by this process (it dies with it, even on ``kill -9``), or attaches to the
   one already running (then it never stops it);
3. runs the stream `Loader` until it is idle: no capture or store-side client connected (they name their
   connections), nothing pending or unread in the consumer group, for ``settings.embedded_idle_s`` seconds;
   or until SIGTERM/SIGINT (``provgraph embedded down``), or until the server it attached to goes away;
4. stops the server if it started it, then releases the lock.

A script that ends while records are still loading does not wait: the loader finishes them. Records sent after
the loader decided to stop stay in the stream (the server's append-only file) and load when the next script, or
the next store-side command, starts the loader again (`catch_up`). A killed loader leaves its batch pending in the
consumer group; the next one takes it over (XAUTOCLAIM), so nothing is lost or duplicated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from capture._embedded_url import (
    CAPTURE_CLIENT_NAME,
    autoloader_lock_file,
    autoloader_running,
    start_autoloader,
)
from capture.settings import Settings
from provgraph.services.embedded import STORE_CLIENT_NAME

__all__ = [
    "AUTOLOAD_CLIENT_NAME",
    "STORE_CLIENT_NAME",
    "autoloader_state",
    "catch_up",
    "serve",
    "stop_autoloader",
]

logger = logging.getLogger(__name__)

AUTOLOAD_CLIENT_NAME = "provgraph-autoload"
"""The Redis client name of the automatic loader's own connections (not counted as activity)."""


_ACTIVE_CLIENTS = frozenset({CAPTURE_CLIENT_NAME, STORE_CLIENT_NAME})
_LOCK_WAIT_S = (
    1.0  # a capture process checking the lock holds it for microseconds; another loader for its life
)
_CHECK_INTERVAL_S = 0.25


def _state_file(home: str | os.PathLike[str]) -> Path:
    return Path(home).expanduser() / "embedded" / "autoload.json"


def autoloader_state(settings: Settings) -> dict[str, Any] | None:
    """The running automatic loader's record (pid, stream, started_at, idle_s), or ``None`` when none runs."""
    if not autoloader_running(settings):
        return None
    try:
        state: dict[str, Any] = json.loads(_state_file(settings.home).read_text())
    except (OSError, ValueError):
        return {"pid": None}
    return state


def _take_lock(settings: Settings) -> int | None:
    path = autoloader_lock_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + _LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() > deadline:
                os.close(fd)
                return None
            time.sleep(0.05)


def _group_backlog(client: Any, settings: Settings) -> tuple[int, int]:
    """(stream length, unread + pending entries of the consumer group); unread counts all when no group yet."""
    import redis

    length = int(client.xlen(settings.stream))
    try:
        groups = client.xinfo_groups(settings.stream)
    except redis.exceptions.ResponseError:  # no stream yet
        return length, 0
    for group in groups:
        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
        if name == settings.consumer_group:
            lag = group.get("lag")
            unread = length if lag is None else int(lag)
            return length, unread + int(group.get("pending") or 0)
    return length, length


def _active_clients(client: Any) -> int:
    return sum(1 for entry in client.client_list() if entry.get("name") in _ACTIVE_CLIENTS)


def serve(settings: Settings, *, progress: Any = None) -> int:
    """Run the automatic loader for ``settings.home`` until idle or signalled; see the module docstring.

    Returns:
        0, also when another automatic loader already runs for this data directory (this one then does nothing).
    """
    import redis

    from provgraph.graph import open_backend
    from provgraph.graph.falkordb import FalkorBackend
    from provgraph.loader import GONE_CONSUMER_MS, Loader
    from provgraph.services.embedded import EmbeddedServer

    say = progress or (lambda line: None)
    lock = _take_lock(settings)
    if lock is None:
        say("another automatic loader runs for this data directory; nothing to do")
        return 0
    state_file = _state_file(settings.home)
    server = EmbeddedServer(settings.home)
    loader: Loader | None = None
    started = False
    try:
        state = {
            "pid": os.getpid(),
            "stream": settings.stream,
            "graph_url": "embedded" if settings.graph_url == "embedded" else "(set)",
            "idle_s": settings.embedded_idle_s,
            "started_at": time.time(),
        }
        state_file.write_text(json.dumps(state, indent=2) + "\n")
        started = server.start()  # owned by this process: it dies with it
        url = (server.state() or {}).get("url", server.url)
        say(f"{'started' if started else 'attached to'} the embedded server {url}")
        monitor_client = redis.Redis.from_url(url, socket_timeout=10, client_name=AUTOLOAD_CLIENT_NAME)
        backend = (
            FalkorBackend(settings, client_name=AUTOLOAD_CLIENT_NAME)
            if settings.uses_embedded_graph
            else open_backend(settings)
        )
        loader = Loader(
            # one automatic loader per data directory (the lock): entries another one left pending are a killed
            # one's, so they are taken over after `GONE_CONSUMER_MS`, not `loader_claim_idle_ms` (30 s: a store-side
            # command waiting for them would give up first)
            settings.replace(loader_claim_idle_ms=min(settings.loader_claim_idle_ms, GONE_CONSUMER_MS)),
            backend=backend,
            redis_client=redis.Redis.from_url(url, client_name=AUTOLOAD_CLIENT_NAME),
            consumer=f"autoload-{socket.gethostname()}-{os.getpid()}",
            progress=say,
        )
        stopping = threading.Event()

        def stop(signum: int, _frame: Any) -> None:
            if (
                stopping.is_set()
            ):  # asked twice: stop now; what was read and not acknowledged loads again later
                say(f"{signal.Signals(signum).name} again: aborting")
                raise KeyboardInterrupt
            say(f"{signal.Signals(signum).name}: finishing the batch in flight (again to abort at once)")
            stopping.set()
            if loader is not None:
                loader.stop()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, stop)
        watcher = threading.Thread(
            target=_watch, args=(monitor_client, settings, loader, stopping, say), daemon=True
        )
        watcher.start()
        try:
            stats = loader.run()
        finally:
            stopping.set()
            watcher.join(5)
            monitor_client.close()
        say(f"stopped: loaded {stats.records} records in {stats.messages} messages")
        return 0
    finally:
        if loader is not None:
            loader.close()
            loader.backend.close()
        if started:
            server.stop()
            say("stopped the embedded server")
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        os.close(lock)  # releases the lock


def _watch(client: Any, settings: Settings, loader: Any, stopping: threading.Event, say: Any) -> None:
    """Stop the loader once nothing happened for ``settings.embedded_idle_s`` or the server went away."""
    import redis

    idle_since = time.monotonic()
    last_length = -1
    while not stopping.wait(_CHECK_INTERVAL_S):
        try:
            length, backlog = _group_backlog(client, settings)
            busy = backlog > 0 or length != last_length or _active_clients(client) > 0
            last_length = length
        except redis.exceptions.RedisError as exc:
            say(f"the embedded server went away ({exc}); stopping")
            loader.stop()
            return
        now = time.monotonic()
        if busy:
            idle_since = now
        elif now - idle_since >= settings.embedded_idle_s:
            say(f"idle for {settings.embedded_idle_s:g} s; stopping")
            loader.stop()
            return


def stop_autoloader(settings: Settings, timeout_s: float = 60.0) -> int | None:
    """Send SIGTERM to the automatic loader of ``settings.home`` and wait until it has released its lock.

    Returns:
        Its pid, or ``None`` when none was running.
    """
    state = autoloader_state(settings)
    if state is None:
        return None
    pid = state.get("pid")
    if isinstance(pid, int):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while autoloader_running(settings):
        if time.monotonic() > deadline:
            if isinstance(pid, int):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # its batch stays pending; the next loader takes it over
            break
        time.sleep(0.05)
    return pid if isinstance(pid, int) else None


def catch_up(settings: Settings, timeout_s: float = 30.0) -> None:
    """Before a store-side read on the embedded default: wait until the automatic loader has loaded what the
    stream holds (starting it when records wait and none runs), so a query right after a script sees its run.

    Does nothing unless both URLs are ``embedded``, automatic loading is on and a server is running.
    """
    import redis

    from capture._embedded_url import EmbeddedServerNotRunning, embedded_redis_url

    if not (settings.uses_embedded_redis and settings.uses_embedded_graph and settings.embedded_autoload):
        return
    try:
        url = embedded_redis_url(settings)
    except EmbeddedServerNotRunning:
        return
    client = redis.Redis.from_url(url, socket_timeout=10, client_name=STORE_CLIENT_NAME)
    try:
        deadline = time.monotonic() + timeout_s
        reported = spawned = False
        while True:
            try:
                _, backlog = _group_backlog(client, settings)
            except redis.exceptions.RedisError:
                return
            if backlog == 0:
                return
            if not spawned and not autoloader_running(settings):
                start_autoloader(settings)
                spawned = True
            if time.monotonic() > deadline:
                logger.warning(
                    "%d stream entries are not loaded yet; answering from the graph as it is", backlog
                )
                return
            if not reported and time.monotonic() > deadline - timeout_s + 2:
                logger.warning("waiting for the automatic loader to load %d stream entries", backlog)
                reported = True
            time.sleep(0.05)
    finally:
        client.close()
