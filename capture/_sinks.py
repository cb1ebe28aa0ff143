"""Sinks: where the emitter's encoded messages go. Each ``export(messages)`` returns ``True``/``False``, never raises.

- `RedisStreamSink`: ``XADD`` of each message (field `wire.FIELD`) to the stream, one non-transactional pipeline
  per batch; ``redis_url`` ``embedded`` means the embedded server whose URL ``<home>/embedded/url`` holds, and a
  ``redis-cluster://`` URL a Redis Cluster, each run's messages in its partition stream (`capture._streams`).
- `FileSink`: the offline buffer, JSON Lines (one encoded message per line) appended and flushed as it goes, one
  file per process in a directory; `read_buffer` merges them back.
- `InMemorySink`: keeps messages in a list, for unit tests.

Example::

    from capture import FileSink, read_buffer

    sink = FileSink("/tmp/pg-buffer")          # what PROVGRAPH_SINK=file does, under settings.buffer_path
    ...
    messages = read_buffer("/tmp/pg-buffer")   # every process's file, merged by send time
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from capture import wire
from capture._embedded_url import CAPTURE_CLIENT_NAME, embedded_redis_url, reach_embedded_server
from capture._lazy import guard
from capture._redaction import redact_url, scrub
from capture._retry import Backoff, retry_call
from capture._streams import StreamPlacement, connect

__all__ = [
    "FileSink",
    "InMemorySink",
    "RedisStreamSink",
    "Sink",
    "buffer_files",
    "make_sink",
    "process_file_name",
    "read_buffer",
]

logger = logging.getLogger(__name__)

"""Relative to ``settings.home``: one line, the URL of the running embedded server (written by provgraph)."""

# Redis clients inherited across fork: never closed in the child (the parent owns their sockets).
_ORPHANS: list[Any] = []


class _RateLimitedLog:
    """Logs one message per ``key`` at most once per ``interval_s``, with the count of repeats it held back."""

    def __init__(self, interval_s: float = 30.0, log: logging.Logger = logger) -> None:
        self.interval_s = interval_s
        self.logger = log
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, level: int, key: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last, held = self._last.get(key, (-1e18, 0))
        if now - last < self.interval_s:
            self._last[key] = (last, held + 1)
            return
        self._last[key] = (now, 0)
        if held:
            message += " (%d similar messages held back)"
            args = (*args, held)
        self.logger.log(level, message, *args)


class Sink:
    """Base of every sink: ``export`` a batch of encoded messages, ``probe`` the destination, ``close``."""

    name = "sink"

    def export(self, messages: list[bytes]) -> bool:
        """Deliver encoded messages in order; ``True`` if all were accepted. Never raises."""
        raise NotImplementedError

    def probe(self) -> bool:
        """``True`` if the destination looks reachable now (the emitter's recovery check). Never raises."""
        return True

    def close(self) -> None:
        """Release connections and files; a later ``export`` opens them again."""

    def after_fork(self) -> None:
        """Forget the parent's connections and files in a forked child (without closing them)."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class InMemorySink(Sink):
    """Keeps every exported message in memory (unit tests). ``fail`` makes ``export`` return ``False``."""

    name = "memory"

    def __init__(self) -> None:
        self.payloads: list[bytes] = []
        self.fail = False
        self.exports = 0
        self._lock = threading.Lock()

    def export(self, messages: list[bytes]) -> bool:
        if self.fail:
            return False
        with self._lock:
            self.exports += 1
            self.payloads.extend(messages)
        return True

    def probe(self) -> bool:
        return not self.fail

    def messages(self) -> list[wire.Message]:
        """The exported messages, decoded (and validated)."""
        with self._lock:
            payloads = list(self.payloads)
        return [wire.decode_message(p) for p in payloads]

    def records(self, doc: str | None = None) -> list[dict[str, Any]]:
        """Every exported record, in order; only those of ``doc`` if given."""
        return [r for m in self.messages() if doc is None or m.doc == doc for r in m.records]


# --- files ------------------------------------------------------------------------------------------------------


def process_file_name(prefix: str) -> str:
    """A new file name unique to this process: ``<prefix>-<host>-<pid>-<ms>-<random>.jsonl`` (sorts by time)."""
    host = "".join(c if c.isalnum() or c in "-_." else "_" for c in socket.gethostname())[:40]
    return f"{prefix}-{host}-{os.getpid()}-{int(time.time() * 1000)}-{os.urandom(3).hex()}.jsonl"


class _LineFile:
    """An append-only JSON Lines file, opened on first write; every batch goes straight to the OS (no buffer in
    this process, so a crash loses nothing written and a forked child holds no half-written copy)."""

    def __init__(self, path: Path, lock: bool = False) -> None:
        self.path = path
        self.lock = lock
        self._fd: int | None = None
        self.lines = 0

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def append(self, payloads: list[bytes]) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if self.lock:
                import fcntl

                try:
                    # Held while this process may still write: `provgraph replay` skips a file a live process owns.
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(fd)
                    raise
            self._fd = fd
        view = memoryview(b"\n".join(payloads) + b"\n")
        while view:
            view = view[os.write(self._fd, view) :]
        self.lines += len(payloads)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def forget(self) -> None:
        """In a forked child: let go of the parent's file (closing our copy leaves the parent's lock in place)."""
        self.close()


class FileSink(Sink):
    """The offline buffer: JSON Lines, one encoded message per line, in one file per process under ``directory``.

    Lines are appended and flushed batch by batch, so a crash loses at most the batch being written; the files of
    many processes are merged by `read_buffer`, and `capture.replay` (or ``provgraph replay``) sends them to Redis.

    Args:
        directory: the buffer directory (created on first write).
    """

    name = "file"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()
        self._pid = os.getpid()
        self._out = _LineFile(self.directory / process_file_name("buffer"), lock=True)

    @property
    def path(self) -> Path:
        """This process's buffer file."""
        return self._out.path

    def export(self, messages: list[bytes]) -> bool:
        if self._pid != os.getpid():
            self.after_fork()
        try:
            self._out.append(messages)
            return True
        except OSError as exc:
            logger.error("provgraph: cannot write the buffer file %s: %s", self._out.path, exc)
            return False

    def close(self) -> None:
        self._out.close()

    def after_fork(self) -> None:
        self._out.forget()
        self._pid = os.getpid()
        self._out = _LineFile(self.directory / process_file_name("buffer"), lock=True)


def buffer_files(path: str | os.PathLike[str]) -> list[Path]:
    """The JSON Lines files at ``path``: the file itself, or every ``*.jsonl`` file of a directory (sorted)."""
    target = Path(path).expanduser()
    if target.is_dir():
        return sorted(p for p in target.glob("*.jsonl") if p.is_file())
    if target.is_file():
        return [target]
    raise FileNotFoundError(f"no buffer file or directory at {target}")


def read_buffer(path: str | os.PathLike[str]) -> list[wire.Message]:
    """Read a buffer (or spill) file, or every ``*.jsonl`` file of a directory, merged by send time.

    Messages of one process keep their order (the sort is stable and a process's send times never decrease).

    Raises:
        FileNotFoundError: nothing at ``path``.
        capture.wire.WireFormatError: a line is not a valid message; the message names the file and line.
    """
    messages: list[wire.Message] = []
    for file in buffer_files(path):
        with open(file, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    messages.append(wire.decode_message(line))
                except wire.WireFormatError as exc:
                    raise wire.WireFormatError(f"{file}:{number}: {exc.reason}") from exc
    messages.sort(key=lambda m: m.sent_at)
    return messages


# --- Redis ------------------------------------------------------------------------------------------------------


class RedisStreamSink(Sink):
    """``XADD`` every message to a Redis Stream, one ``pipeline(transaction=False)`` per batch.

    The sink makes one quick retry of a transient network error; after that ``export`` returns ``False`` and the
    emitter spills. Delivery is at least once: if the connection breaks after the server applied part of a
    pipeline, those messages are sent again later, which the loader absorbs (it MERGEs on statement keys).

    Args:
        url: a redis-py URL (``redis://``, ``rediss://``, ``unix://``), ``embedded``, or a Redis Cluster's
            ``redis-cluster://host:port,...`` (messages then go to their run's partition of ``stream``).
        stream: the stream key (on a cluster: the base of the partition keys).
        home: provgraph's data directory (finds the embedded server's URL).
        socket_timeout_s: network timeout of each call, seconds.
        autoload: with ``url`` ``embedded``, the settings with which to start the automatic loader (and so the
            server) when it is not running (`capture._embedded_url.reach_embedded_server`); ``None``: never start
            anything, report the transport unavailable instead.
    """

    name = "redis"

    def __init__(
        self,
        url: str,
        stream: str,
        home: str | os.PathLike[str] = "",
        socket_timeout_s: float = 5.0,
        autoload: Any = None,
    ) -> None:
        self.url = url
        self.autoload = autoload
        self.stream = stream
        self.home = home
        self.socket_timeout_s = socket_timeout_s
        self._client: Any = None
        self._placement = StreamPlacement(stream, url)
        self._pid = os.getpid()
        self._log = _RateLimitedLog()
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        if self._pid != os.getpid():
            self.after_fork()
        if self._client is None:
            with guard():  # fork-safe: never half-imported in a child (capture._lazy)
                from redis.backoff import NoBackoff
                from redis.retry import Retry

            options: dict[str, Any] = {}
            if self.url != "embedded":
                url = self.url
            elif self.autoload is not None:
                url = reach_embedded_server(self.autoload)
                options["client_name"] = CAPTURE_CLIENT_NAME  # keeps the automatic loader up while connected
            else:
                url = embedded_redis_url(self.home)
            # redis-py retries 10 times by default; the emitter has its own backoff and a spill file instead.
            self._client = connect(
                url,
                socket_timeout=self.socket_timeout_s,
                socket_connect_timeout=min(2.0, self.socket_timeout_s),
                retry=Retry(NoBackoff(), 0),
                **options,
            )
        return self._client

    def _transient(self) -> tuple[type[BaseException], ...]:
        with guard():  # fork-safe: never half-imported in a child (capture._lazy)
            import redis

        return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    def export(self, messages: list[bytes]) -> bool:
        if not messages:
            return True
        with self._lock:
            try:
                transient = self._transient()

                def send() -> None:
                    pipe = self._connect().pipeline(transaction=False)
                    for payload in messages:
                        pipe.xadd(self._placement.key(payload), {wire.FIELD: payload})
                    pipe.execute()

                retry_call(send, transient=transient, attempts=2, deadline_s=1.0, backoff=Backoff(0.05, 0.2))
                return True
            except Exception as exc:  # noqa: BLE001 - a sink never raises; the emitter spills
                self._drop_client()
                self._log(
                    logging.WARNING,
                    "export",
                    "provgraph: cannot send to Redis stream %r at %s (%s); records go to the spill file until it "
                    "returns",
                    self.stream,
                    redact_url(self.url),
                    scrub(exc),
                )
                return False

    def probe(self) -> bool:
        with self._lock:
            try:
                return bool(self._connect().ping())
            except Exception:  # noqa: BLE001 - unreachable: the emitter backs off and probes again
                self._drop_client()
                return False

    def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        with self._lock:
            self._drop_client()

    def after_fork(self) -> None:
        if self._client is not None:
            _ORPHANS.append(self._client)
        self._client = None
        self._pid = os.getpid()
        self._lock = threading.Lock()


def make_sink(settings: Any) -> Sink:
    """The sink ``settings.sink`` names: ``redis`` (``redis_url``, ``stream``), ``file`` or ``memory``."""
    if settings.sink == "redis":
        autoload = settings if getattr(settings, "embedded_autoload", False) else None
        return RedisStreamSink(settings.redis_url, settings.stream, settings.home, autoload=autoload)
    if settings.sink == "file":
        return FileSink(settings.buffer_path or Path(settings.home) / "buffer")
    if settings.sink == "memory":
        return InMemorySink()
    raise ValueError(f"unknown sink {settings.sink!r}: use redis, file or memory")
