"""The loader over a Redis Cluster: one `Loader` per partition stream, sharing one graph backend and one client.

With ``redis_url`` ``redis-cluster://host:port,...`` capture puts each workflow run's messages in one of
``partitions`` streams ``<stream>:{<tag>}``, spread over the cluster's shards (`capture._streams`).
`ClusterLoader` finds those streams on every primary (the partition keys, the plain ``<stream>`` key, and any
other ``<stream>:{...}`` stream a SCAN finds) and runs a `Loader` for each in its own thread, each reading its
stream through the consumer group ``settings.consumer_group``. Every `Loader` guarantee holds per stream:
acknowledged only after the commit, dead letters with reasons, stale entries claimed from gone consumers. Start
as many loader processes as you like (``provgraph load`` on each machine): within each stream, the consumer
group hands every entry to one of them. A running loader looks for new streams every `DISCOVER_INTERVAL_S`.

Example::

    settings = Settings.load(redis_url="redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002")
    with ClusterLoader(settings) as loader:
        loader.run(until_idle_s=5)
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from capture._streams import (
    cluster_outages,
    discover_stream_keys,
    is_cluster_url,
    parse_cluster_url,
    partition_keys,
)
from provgraph.errors import ConfigurationError, StoreUnavailable
from provgraph.loader import Loader, LoaderProgress, LoadStats, _redis_client
from provgraph.redaction import redact_url

if TYPE_CHECKING:
    from provgraph.graph.backend import GraphBackend

__all__ = ["DISCOVER_INTERVAL_S", "ClusterLoader", "make_loader"]

logger = logging.getLogger(__name__)

DISCOVER_INTERVAL_S = 5.0
"""How often a running (unbounded) cluster loader looks for streams that appeared since it started."""

PROGRESS_LINE_START = "loaded "
"""How a stream loader's periodic progress line starts (`LoaderProgress.line`): those are summed into one line."""

WRITERS_PER_STREAM = 1
"""Batches each stream's loader writes at once. A cluster loader already writes one batch per stream in
parallel (``partitions`` + 1 of them); more would only queue transactions on the graph and contend for its locks
(docs/scaling.md)."""


class ClusterLoader:
    """Loads every partition stream of ``settings.stream`` on the Redis Cluster of ``settings.redis_url``.

    The same interface as `Loader`: `run`, `stop`, `close`, `progress`, `stats`, `dead_letters`, `consumer`,
    `redis`. Progress comes as one line for all streams; a stream's own events (an outage, a recreated group)
    as lines naming the stream.
    """

    def __init__(
        self,
        settings: Any,
        *,
        backend: GraphBackend | None = None,
        redis_client: Any = None,
        consumer: str | None = None,
        progress: Any = None,
    ) -> None:
        import os
        import socket

        self.settings = settings
        try:
            self.partitions = parse_cluster_url(settings.redis_url).partitions
        except ValueError as exc:
            raise ConfigurationError(f"PROVGRAPH_REDIS_URL: {exc}") from exc
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._owns_backend = backend is None
        if backend is None:
            from provgraph.graph import open_backend

            backend = open_backend(settings)
        self.backend = backend
        self._owns_redis = redis_client is None
        if redis_client is None:
            try:
                redis_client = _redis_client(settings)
            except Exception as exc:  # no node of the cluster answered, or a malformed URL
                if self._owns_backend:
                    self.backend.close()
                raise StoreUnavailable(
                    f"cannot reach the Redis Cluster at {redact_url(settings.redis_url)}: {exc}",
                    redact_url(settings.redis_url),
                ) from exc
        self.redis = redis_client
        self._progress = progress
        self._progress_lock = threading.Lock()
        self._started = self._last_report = time.monotonic()
        self._stopping = threading.Event()
        self.loaders: dict[str, Loader] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._errors: list[BaseException] = []

    @property
    def stats(self) -> LoadStats:
        """What every stream's loader wrote so far, summed."""
        total = LoadStats()
        for loader in list(self.loaders.values()):
            total.add(loader.stats)
        return total

    @property
    def dead_letters(self) -> int:
        return sum(loader.dead_letters for loader in list(self.loaders.values()))

    @property
    def streams(self) -> list[str]:
        """The streams this loader reads so far."""
        return list(self.loaders)

    def stop(self) -> None:
        """Ask every stream's loader to stop after its batch in flight (safe from a signal handler)."""
        self._stopping.set()
        for loader in list(self.loaders.values()):
            loader.stop()

    def close(self) -> None:
        if self._owns_backend:
            self.backend.close()
        if self._owns_redis:
            self.redis.close()

    def __enter__(self) -> ClusterLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _discover(self) -> list[str]:
        """The streams to read; while a shard is down, the ones known already (the next round looks again)."""
        import redis

        outages: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, *cluster_outages())
        try:
            return discover_stream_keys(self.redis, self.settings.stream, self.partitions)
        except outages as exc:
            logger.warning("cannot look for new streams on the Redis Cluster (%s); trying again later", exc)
            known = [self.settings.stream, *partition_keys(self.settings.stream, self.partitions)]
            return list(dict.fromkeys([*known, *self.loaders]))

    def _start(self, stream: str, until_idle_s: float | None) -> None:
        progress = None
        if self._progress is not None:
            outer = self._progress

            def progress(line: str, stream: str = stream) -> None:
                if line.startswith(PROGRESS_LINE_START):  # one line for all streams instead (`_report`)
                    return
                with self._progress_lock:  # one whole line at a time from the streams' threads
                    outer(f"{stream}: {line}")

        loader = Loader(
            self.settings,
            backend=self.backend,
            redis_client=self.redis,
            consumer=self.consumer,
            progress=progress,
            stream=stream,
            writers=WRITERS_PER_STREAM,
        )
        if self._stopping.is_set():
            loader.stop()

        def work() -> None:
            try:
                loader.run(until_idle_s=until_idle_s)
            except BaseException as exc:  # noqa: BLE001 - reported by run(), after the others stopped
                self._errors.append(exc)
                self.stop()

        thread = threading.Thread(target=work, name=f"provgraph-load-{stream}", daemon=True)
        self.loaders[stream] = loader
        self._threads[stream] = thread
        thread.start()

    def progress(self) -> LoaderProgress:
        """Counts of every stream's loader so far, summed, with the groups' lag and pending entries (None when
        Redis cannot say for some stream)."""
        parts = [loader.progress() for loader in list(self.loaders.values())]
        records = sum(part.records for part in parts)
        lags = [part.lag for part in parts]
        pendings = [part.pending for part in parts]
        return LoaderProgress(
            records=records,
            messages=sum(part.messages for part in parts),
            dead_letters=sum(part.dead_letters for part in parts),
            records_per_s=records / max(time.monotonic() - self._started, 1e-9),
            lag=None if None in lags else sum(lag or 0 for lag in lags),
            pending=None if None in pendings else sum(p or 0 for p in pendings),
            waiting_for_graph=any(part.waiting_for_graph for part in parts),
        )

    def _report(self) -> None:
        self._last_report = time.monotonic()
        if self._progress is not None:
            line = f"{len(self.loaders)} streams: {self.progress().line()}"
            with self._progress_lock:
                self._progress(line)

    def run(self, *, until_idle_s: float | None = None) -> LoadStats:
        """Load every stream until `stop`, or (``until_idle_s``) until each is idle and settled and no new stream
        appeared. Raises the first failure of a stream's loader (the others stop after their batch in flight)."""
        self.backend.ensure_schema()  # once, before the streams' loaders all check it at the same moment
        next_discovery = 0.0
        while True:
            now = time.monotonic()
            if now >= next_discovery and not self._stopping.is_set():
                next_discovery = now + DISCOVER_INTERVAL_S
                for stream in self._discover():
                    if stream not in self.loaders:
                        self._start(stream, until_idle_s)
            running = [thread for thread in self._threads.values() if thread.is_alive()]
            if not running:
                if until_idle_s is None or self._stopping.is_set() or self._errors:
                    break
                # every stream is idle and settled: done, unless a producer created a stream meanwhile
                if set(self._discover()) <= set(self.loaders):
                    break
                next_discovery = 0.0
                continue
            running[0].join(timeout=min(0.2, max(0.0, next_discovery - time.monotonic())))
            if time.monotonic() - self._last_report >= self.settings.loader_progress_interval_s:
                self._report()
        for thread in self._threads.values():
            thread.join()
        if self._errors:
            raise self._errors[0]
        self._report()  # the last line is the final state of every stream
        return self.stats


def make_loader(settings: Any, **options: Any) -> Loader | ClusterLoader:
    """The loader ``settings.redis_url`` calls for: `ClusterLoader` on a ``redis-cluster://`` URL, else `Loader`."""
    if is_cluster_url(settings.redis_url):
        return ClusterLoader(settings, **options)
    return Loader(settings, **options)
