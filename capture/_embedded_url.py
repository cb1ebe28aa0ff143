"""Where the embedded server listens, for capture's ``redis_url = "embedded"`` (standard library only).

The store side (`provgraph.services.embedded`) starts the embedded redis-server and writes its URL, one line, to
``<settings.home>/embedded/url``; it removes the file when the server stops. Capture never imports provgraph, so
it reads that file here.

Example::

    from capture.settings import Settings
    from capture._embedded_url import embedded_redis_url

    url = embedded_redis_url(Settings.load())      # "unix:///home/me/.local/share/provgraph/embedded/redis.sock"
"""

from __future__ import annotations

import os
from pathlib import Path

from capture.settings import Settings

__all__ = ["EmbeddedServerNotRunning", "embedded_redis_url", "embedded_url_file"]


class EmbeddedServerNotRunning(ConnectionError):
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
