"""Where the embedded server listens, for capture's ``redis_url = "embedded"`` (standard library only).

The store side (`provgraph.services.embedded`) starts the embedded redis-server and writes its URL, one line, to
``<settings.home>/embedded/url``; it removes the file when the server stops. Capture never imports provgraph, so
it reads that file here.

With ``embedded_autoload`` on (the default), capture also makes sure the **automatic loader** runs: a separate
process, ``python -m provgraph embedded serve``, which starts the embedded server, loads the stream into the graph
as records arrive, and stops (with the server it started) once nothing has happened for ``embedded_idle_s``.
Capture starts it as a subprocess (no provgraph import here) and waits for the server's URL. One automatic loader
runs per data directory: it holds ``<home>/embedded/autoload.lock`` while it lives (docs/embedded.md).

Example::

    from capture.settings import Settings
    from capture._embedded_url import embedded_redis_url

    url = embedded_redis_url(Settings.load())      # "unix:///home/me/.local/share/provgraph/embedded/redis.sock"
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from capture.errors import CaptureError
from capture.settings import Settings

__all__ = [
    "CAPTURE_CLIENT_NAME",
    "EmbeddedServerNotRunning",
    "autoloader_lock_file",
    "autoloader_running",
    "embedded_redis_url",
    "embedded_url_file",
    "reach_embedded_server",
    "start_autoloader",
]

CAPTURE_CLIENT_NAME = "provgraph-capture"
"""The Redis client name of capture's connections: the automatic loader stays up while one is connected."""

_AUTOLOADER_START_S = 60.0  # Python start-up and the server's data load on a busy machine; bounded anyway


class EmbeddedServerNotRunning(CaptureError, ConnectionError):
    """No embedded server is running for this data directory (a `ConnectionError`, so senders retry or spill)."""


def embedded_url_file(settings: Settings | str | os.PathLike[str]) -> Path:
    """The file in which the running embedded server's URL is recorded: ``<home>/embedded/url``."""
    return _home(settings) / "embedded" / "url"


def _home(settings: Settings | str | os.PathLike[str]) -> Path:
    return Path(settings.home if isinstance(settings, Settings) else settings).expanduser()


def embedded_redis_url(settings: Settings | str | os.PathLike[str]) -> str:
    """The redis URL of the embedded server of ``settings.home`` (``unix:///.../redis.sock``).

    Args:
        settings: capture's settings (only ``home`` is read), or the home directory itself.

    Returns:
        The URL to pass to ``redis.Redis.from_url``.

    Raises:
        EmbeddedServerNotRunning: no server is recorded, or its socket is gone; the message says how to start one.
    """
    path = embedded_url_file(settings)
    try:
        url = path.read_text().strip()
    except OSError:
        url = ""
    socket_path = url[len("unix://") :] if url.startswith("unix://") else ""
    if not url or (socket_path and not os.path.exists(socket_path)):
        raise EmbeddedServerNotRunning(
            f"no embedded provgraph server is running for {_home(settings)} "
            "(PROVGRAPH_REDIS_URL=embedded): start one with `provgraph embedded up`, or set PROVGRAPH_REDIS_URL "
            "to a Redis URL"
        )
    return url


def autoloader_lock_file(settings: Settings | str | os.PathLike[str]) -> Path:
    """The lock the automatic loader holds while it runs: ``<home>/embedded/autoload.lock``."""
    return _home(settings) / "embedded" / "autoload.lock"


def autoloader_running(settings: Settings | str | os.PathLike[str]) -> bool:
    """Whether an automatic loader holds its lock for this data directory (a check that takes no time)."""
    path = autoloader_lock_file(settings)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def start_autoloader(settings: Settings) -> subprocess.Popen[bytes]:
    """Start ``python -m provgraph embedded serve`` for ``settings``, detached; its output goes to
    ``<home>/embedded/autoload.log``. It passes the settings that decide where records go (home, graph URL,
    stream, group, idle time) in its environment; a second one started at the same time finds the lock taken
    and exits at once."""
    home = _home(settings).resolve()
    directory = home / "embedded"
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        PROVGRAPH_HOME=str(home),
        PROVGRAPH_REDIS_URL="embedded",
        PROVGRAPH_GRAPH_URL=settings.graph_url,
        PROVGRAPH_STREAM=settings.stream,
        PROVGRAPH_DEAD_LETTER_STREAM=settings.dead_letter_stream,
        PROVGRAPH_CONSUMER_GROUP=settings.consumer_group,
        PROVGRAPH_EMBEDDED_IDLE_S=repr(float(settings.embedded_idle_s)),
    )
    with open(directory / "autoload.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "provgraph", "embedded", "serve"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            cwd=str(directory),
            env=env,
            close_fds=True,
            start_new_session=True,  # not in the script's process group: Ctrl-C of the script leaves it loading
        )


def reach_embedded_server(settings: Settings, wait_s: float = _AUTOLOADER_START_S) -> str:
    """The embedded server's URL, after making sure the automatic loader runs (starting it if needed).

    Raises:
        EmbeddedServerNotRunning: the loader could not be started or did not bring the server up in ``wait_s``;
            the message points at its log.
    """
    process: Any = None
    if not autoloader_running(settings):
        process = start_autoloader(settings)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return embedded_redis_url(settings)
        except EmbeddedServerNotRunning:
            # a loader that exits at once found another one starting (the lock): wait for that one's server
            exited = process is not None and process.poll() is not None and not autoloader_running(settings)
            if exited or time.monotonic() > deadline:
                log = _home(settings) / "embedded" / "autoload.log"
                raise EmbeddedServerNotRunning(
                    f"the automatic loader did not start the embedded server for {_home(settings)} "
                    f"(see {log}); start one with `provgraph embedded up`, or set PROVGRAPH_REDIS_URL to a Redis URL"
                ) from None
            time.sleep(0.05)
