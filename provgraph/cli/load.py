"""``provgraph load`` and ``provgraph status``: the loader process, and where the stream and the graph stand.

Examples::

    provgraph load                      # runs until SIGTERM/Ctrl-C; progress lines on stderr
    provgraph load --until-idle 5       # stop once nothing arrived for 5 s (scripts, tests)
    provgraph load --once               # load what is in the stream now, then stop
    provgraph status                    # stream length, pending, lag, dead letters, graph counts
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import Any

from provgraph.redaction import scrub


def register(subparsers: Any) -> None:
    load = subparsers.add_parser(
        "load",
        help="load PROV records from the Redis stream into the graph (long-running)",
        description=(
            "Read the stream through the consumer group, write records into the graph in batches, acknowledge "
            "after each commit. Several loaders may share the group. SIGTERM/SIGINT finish the batch in flight."
        ),
    )
    until = load.add_mutually_exclusive_group()
    until.add_argument("--once", action="store_true", help="load what the stream holds now, then stop")
    until.add_argument(
        "--until-idle", type=float, metavar="SECONDS", help="stop once nothing arrived for this long"
    )
    load.add_argument("--consumer", metavar="NAME", help="consumer name in the group (default: host-pid)")
    load.add_argument("--stream", metavar="NAME", help="stream to read (default: settings.stream)")
    load.add_argument("--group", metavar="NAME", help="consumer group (default: settings.consumer_group)")
    load.add_argument("--quiet", action="store_true", help="no progress lines")
    load.set_defaults(func=_load)

    status = subparsers.add_parser(
        "status",
        help="stream length, pending entries, lag, dead letters and graph counts",
        description="Where the loader stands: the stream and its consumer group, the dead letters, the graph.",
    )
    status.add_argument("--stream", metavar="NAME", help="stream (default: settings.stream)")
    status.add_argument("--group", metavar="NAME", help="consumer group (default: settings.consumer_group)")
    status.add_argument("--no-graph", action="store_true", help="skip the graph counts")
    status.set_defaults(func=_status)


def _settings(args: argparse.Namespace) -> Any:
    from capture.settings import Settings

    return Settings.load(args.settings, stream=args.stream, consumer_group=args.group)


def _stderr(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} provgraph load: {scrub(line)}", file=sys.stderr, flush=True)


def _load(args: argparse.Namespace) -> int:
    from provgraph.cluster_loader import ClusterLoader
    from provgraph.loader import persistence_warning
    from provgraph.retention import start_schedule

    settings = _settings(args)
    # the loader's warnings are its progress lines here (--quiet: neither); its failure is the command's one line
    logging.getLogger("provgraph.loader").setLevel(logging.ERROR)
    bounded = args.once or args.until_idle is not None
    loader = _open_loader(settings, args, bounded)

    signals: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        signals.append(signum)
        if len(signals) > 1:  # asked twice: stop now; what was read and not acknowledged loads again later
            _stderr(f"{signal.Signals(signum).name} again: aborting (unacknowledged entries stay pending)")
            raise KeyboardInterrupt
        if not args.quiet:
            _stderr(f"{signal.Signals(signum).name}: finishing the batch in flight (again to abort at once)")
        loader.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    stop_retention = threading.Event()
    retention: threading.Thread | None = None
    try:
        if not args.quiet:
            where = settings.stream
            if isinstance(loader, ClusterLoader):
                where = (
                    f"every partition of {settings.stream} on the Redis Cluster ({loader.partitions} or more)"
                )
            _stderr(
                f"reading {where} as {loader.consumer} in group {settings.consumer_group}; "
                f"dead letters to {settings.dead_letter_stream}"
            )
            warning = persistence_warning(loader.redis)
            if warning:
                _stderr(warning)
        until_idle = 0.0 if args.once else args.until_idle
        retention = start_schedule(settings, stop_retention, None if args.quiet else _stderr)
        stats = loader.run(until_idle_s=until_idle)
    finally:
        stop_retention.set()
        if retention is not None:
            retention.join(timeout=30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        loader.close()
    if not args.quiet:
        _stderr(
            f"stopped: {stats.records} records in {stats.messages} messages, {loader.dead_letters} dead letters"
        )
    return 0


def _open_loader(settings: Any, args: argparse.Namespace, bounded: bool) -> Any:
    """The loader, once the graph answers. A bounded run (`--once`, `--until-idle`: a script's step) fails at once on a
    graph it cannot reach; an unbounded one (a service) waits for it with back-off, as it waits for Redis, so a
    loader started while Neo4j is (re)starting loads once it is up instead of exiting."""
    import random

    from provgraph.cluster_loader import make_loader
    from provgraph.errors import StoreUnavailable

    delay, last_note = 0.1, -float("inf")
    while True:
        try:
            return make_loader(settings, consumer=args.consumer, progress=None if args.quiet else _stderr)
        except StoreUnavailable as exc:
            if bounded:
                raise
            now = time.monotonic()
            if now - last_note >= settings.loader_progress_interval_s:
                last_note = now
                if not args.quiet:
                    _stderr(f"the graph unavailable, retrying with back-off (nothing read yet): {exc}")
            time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, settings.loader_retry_max_s)


def stream_status(redis_client: Any, settings: Any, stream: str | None = None) -> dict[str, Any]:
    """Length, consumer-group state and dead letters of ``stream`` (default: the settings' stream; zeros where it
    does not exist)."""
    import redis

    stream = stream or settings.stream
    info: dict[str, Any] = {
        "stream": stream,
        "length": redis_client.xlen(stream),
        "group": settings.consumer_group,
        "group_exists": False,
        "pending": 0,
        "lag": None,
        "consumers": 0,
        "dead_letter_stream": settings.dead_letter_stream,
        "dead_letters": redis_client.xlen(settings.dead_letter_stream),
    }
    try:
        groups = redis_client.xinfo_groups(stream)
    except redis.exceptions.ResponseError:  # no such stream
        groups = []
    for group in groups:
        name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
        if name == settings.consumer_group:
            info.update(
                group_exists=True,
                pending=group["pending"],
                lag=group.get("lag"),
                consumers=group["consumers"],
            )
    return info


def graph_counts(backend: Any) -> dict[str, int]:
    """Nodes per label and relationships per type, from the allow-list (zero counts left out)."""
    from provgraph.graph.model import LABELS, RELATIONSHIP_TYPES

    counts: dict[str, int] = {}
    for label in sorted(LABELS):
        rows = backend.read(backend.render("loader/count_label", label=label), tag="loader/count_label")
        if rows and rows[0]["count"]:
            counts[f":{label}"] = rows[0]["count"]
    for rel_type in sorted(RELATIONSHIP_TYPES):
        rows = backend.read(backend.render("loader/count_type", type=rel_type), tag="loader/count_type")
        if rows and rows[0]["count"]:
            counts[f"[:{rel_type}]"] = rows[0]["count"]
    return counts


def _status(args: argparse.Namespace) -> int:
    import redis

    from capture._streams import discover_stream_keys, is_cluster_url, parse_cluster_url
    from provgraph.errors import StoreUnavailable
    from provgraph.graph.backend import redact_url
    from provgraph.loader import _redis_client, persistence_warning

    settings = _settings(args)
    try:
        client = _redis_client(settings)
    except (ConnectionError, redis.exceptions.ConnectionError) as exc:  # no embedded server, no cluster node
        raise StoreUnavailable(str(exc)) from exc
    try:
        streams = [settings.stream]
        if is_cluster_url(settings.redis_url):  # every partition stream the loader reads
            streams = discover_stream_keys(
                client, settings.stream, parse_cluster_url(settings.redis_url).partitions
            )
        infos = [stream_status(client, settings, stream) for stream in streams]
        warning = persistence_warning(client)
    except redis.exceptions.RedisError as exc:
        pool = getattr(client, "connection_pool", None)  # a cluster client has one per node
        url = redact_url(str(pool and pool.connection_kwargs.get("path") or settings.redis_url))
        raise StoreUnavailable(
            f"cannot reach Redis at {url}: {str(exc).rstrip('.')}. Is it running? `provgraph services up` starts one.",
            url,
        ) from exc
    finally:
        client.close()
    for info in infos:
        lag = "unknown" if info["lag"] is None else info["lag"]
        print(f"stream        {info['stream']}: {info['length']} entries")
        if info["group_exists"]:
            print(
                f"group         {info['group']}: {info['consumers']} consumers, {info['pending']} pending, "
                f"lag {lag}"
            )
        else:
            print(f"group         {info['group']}: not created yet (the first `provgraph load` creates it)")
    if warning:
        print(warning)
    print(f"dead letters  {infos[0]['dead_letter_stream']}: {infos[0]['dead_letters']} entries")
    if not args.no_graph:
        from provgraph.graph import open_backend

        with open_backend(settings) as backend:
            counts = graph_counts(backend)
        print("graph         " + (", ".join(f"{name} {count}" for name, count in counts.items()) or "empty"))
    return 0
