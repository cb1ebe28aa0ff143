"""Redis connections and stream placement, for capture's sink and the loader alike: one server or a Redis Cluster.

A ``redis_url`` is either what redis-py takes (``redis://``, ``rediss://``, ``unix://``: one server, one stream,
``settings.stream``) or names a **Redis Cluster** by some of its nodes::

    redis-cluster://[user:password@]host:port[,host:port...][?partitions=N]     (rediss-cluster:// with TLS)

On a cluster, records go to ``partitions`` streams (default `DEFAULT_PARTITIONS`) named
``<stream>:{<tag>}``: the part in braces is a Redis hash tag, so it alone decides the slot, and so the shard, of
the stream. A message's stream is chosen from its document (the workflow run: `partition_of`), so every record
of one run lands in one stream, in the order it was sent, however many processes produce it. The tags are chosen
so that partition ``i`` hashes into the ``i``-th equal share of the slot space (`partition_tags`): with shards
owning equal slot ranges (what ``redis-cli --cluster create`` sets up), partitions spread evenly over them.
The loader reads every partition (and the plain ``<stream>`` key, where other writers may put messages) through
one consumer group per stream (`provgraph.cluster_loader`); docs/scaling.md has the numbers.

Example::

    from capture._streams import StreamPlacement, connect

    client = connect("redis-cluster://127.0.0.1:7000,127.0.0.1:7001")
    placement = StreamPlacement("provgraph:records", "redis-cluster://127.0.0.1:7000?partitions=6")
    placement.key(payload)      # 'provgraph:records:{p2}' for the run the payload belongs to
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from capture._lazy import guard

__all__ = [
    "CLUSTER_SCHEMES",
    "cluster_outages",
    "DEFAULT_PARTITIONS",
    "ClusterAddress",
    "StreamPlacement",
    "connect",
    "discover_stream_keys",
    "document_of",
    "is_cluster_url",
    "parse_cluster_url",
    "partition_keys",
    "partition_of",
    "partition_tags",
]

CLUSTER_SCHEMES = {"redis-cluster": False, "rediss-cluster": True}
"""URL scheme -> whether it uses TLS."""

DEFAULT_PARTITIONS = 6
"""Streams per base stream on a cluster: two per primary of a three-primary cluster. Use a multiple of the
number of primaries, so each owns the same share (docs/scaling.md)."""

MAX_PARTITIONS = 1024
SLOTS = 16384  # Redis Cluster's fixed slot count

_DOC = re.compile(rb'"doc"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class ClusterAddress:
    """A parsed ``redis-cluster://`` URL: startup nodes, credentials, TLS, and the partition count."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False
    partitions: int = DEFAULT_PARTITIONS


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis-cluster://`` or ``rediss-cluster://``)."""
    return url.split("://", 1)[0].lower() in CLUSTER_SCHEMES


def parse_cluster_url(url: str) -> ClusterAddress:
    """The nodes, credentials and partition count of a ``redis-cluster://`` URL.

    Raises:
        ValueError: not a cluster URL, no node, a node without a port, an unknown option or a bad partition
            count; the message shows the expected form (never the password).
    """
    form = (
        "redis-cluster://host:port[,host:port...][?partitions=N], with user:password@ before the first node when "
        "the cluster needs a login"
    )
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in CLUSTER_SCHEMES:
        raise ValueError(f"not a Redis Cluster URL (expected {form})")
    # urlsplit cannot take several host:port pairs: split the authority by hand
    authority, _, tail = rest.partition("/")
    authority, _, query_in_authority = authority.partition("?")
    query = urlsplit("x://h/" + tail).query if tail else query_in_authority
    credentials, at, hosts = authority.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = credentials.partition(":")
        username, password = (unquote(user) or None), (unquote(secret) if colon else None)
    nodes: list[tuple[str, int]] = []
    for node in filter(None, hosts.split(",")):
        host, colon, port = node.rpartition(":")
        if not colon or not port.isdigit() or not host:
            raise ValueError(f"Redis Cluster node {node!r} has no host:port (expected {form})")
        nodes.append((host.strip("[]"), int(port)))
    if not nodes:
        raise ValueError(f"a Redis Cluster URL names at least one node (expected {form})")
    options = parse_qs(query)
    unknown = sorted(set(options) - {"partitions"})
    if unknown:
        raise ValueError(f"unknown Redis Cluster URL option(s) {', '.join(unknown)} (expected {form})")
    partitions = DEFAULT_PARTITIONS
    if "partitions" in options:
        text = options["partitions"][-1]
        if not text.isdigit() or not 1 <= int(text) <= MAX_PARTITIONS:
            raise ValueError(
                f"partitions={text!r}: expected a whole number from 1 to {MAX_PARTITIONS} ({form})"
            )
        partitions = int(text)
    return ClusterAddress(tuple(nodes), username, password, CLUSTER_SCHEMES[scheme.lower()], partitions)


def connect(url: str, **options: Any) -> Any:
    """A redis-py client for ``url``: `redis.cluster.RedisCluster` for a cluster URL, else ``Redis.from_url``.

    ``options`` go to the client (timeouts, ``retry``); on a cluster, redis-py's own redirection retries stay on
    (a MOVED reply after a resharding is not a failure), and ``client_name`` is dropped (it names one
    connection of the embedded server, which is never a cluster).

    Raises:
        redis.exceptions.ConnectionError: no node of the cluster answered (a cluster client asks for the slot
            map at once; a one-server client connects on first use).
        ValueError: a malformed ``redis-cluster://`` URL.
    """
    with guard():  # fork-safe: never half-imported in a child (capture._lazy)
        import redis
        from redis.cluster import ClusterNode, RedisCluster

    if not is_cluster_url(url):
        return redis.Redis.from_url(url, **options)
    address = parse_cluster_url(url)
    options.pop("client_name", None)
    # redis-py 8.2 leaves ClusterNode's constructor unannotated (earlier versions annotate it)
    new_node: Any = ClusterNode
    try:
        return RedisCluster(
            startup_nodes=[new_node(host, port) for host, port in address.nodes],
            username=address.username,
            password=address.password,
            ssl=address.tls,
            **options,
        )
    except (
        redis.exceptions.RedisClusterException
    ) as exc:  # no startup node answered: an outage, like one server's
        nodes = ", ".join(f"{host}:{port}" for host, port in address.nodes)
        raise redis.exceptions.ConnectionError(
            f"no node of the Redis Cluster answered ({nodes}): {exc}"
        ) from exc


def cluster_outages() -> tuple[type[BaseException], ...]:
    """redis-py's errors that say a cluster shard is down, failing over or not yet covering its slots: outages to
    wait out like a lost connection, never a problem with the data."""
    with guard():
        import redis.exceptions as errors

    return (errors.ClusterDownError, errors.TryAgainError, errors.RedisClusterException)


# --- placement ---------------------------------------------------------------------------------------------------

_TAGS: dict[int, list[str]] = {}


def partition_tags(count: int) -> list[str]:
    """``count`` hash tags, the ``i``-th hashing into the ``i``-th equal share of the slot space (``p0``,
    ``p1``... or ``p<i>.<n>`` with the smallest ``n`` that lands there). The same on every machine."""
    tags = _TAGS.get(count)
    if tags is None:
        with guard():
            from redis.crc import key_slot

        tags = []
        for index in range(count):
            low, high = index * SLOTS // count, (index + 1) * SLOTS // count
            tag, attempt = f"p{index}", 0
            while not low <= key_slot(tag.encode()) < high:
                tag = f"p{index}.{attempt}"
                attempt += 1
            tags.append(tag)
        _TAGS[count] = tags
    return list(tags)


def partition_keys(stream: str, count: int) -> list[str]:
    """The stream keys of ``stream``'s ``count`` partitions: ``<stream>:{<tag>}``."""
    return [f"{stream}:{{{tag}}}" for tag in partition_tags(count)]


def partition_of(doc: str, count: int) -> int:
    """The partition of a document (a workflow run): a stable hash, so every producer of a run agrees."""
    return zlib.crc32(doc.encode("utf-8", "surrogatepass")) % count


def document_of(payload: bytes) -> str:
    """The ``doc`` of an encoded wire message, read without decoding the whole message where it can be ("" when
    the payload has none: such a message goes to partition 0 and the loader dead-letters it there)."""
    match = _DOC.search(payload, 0, 4096)
    if match is not None:
        raw = match.group(1)
        if b"\\" not in raw:
            return raw.decode("utf-8", "replace")
    try:
        doc = json.loads(payload).get("doc")
    except Exception:  # noqa: BLE001 - not a message: the loader says why, with the entry
        return ""
    return doc if isinstance(doc, str) else ""


class StreamPlacement:
    """Which stream a message goes to: ``stream`` itself on one server, its document's partition on a cluster.

    Args:
        stream: the base stream (``settings.stream``).
        url: the Redis URL (``settings.redis_url``).
    """

    def __init__(self, stream: str, url: str) -> None:
        self.stream = stream
        self.partitions = parse_cluster_url(url).partitions if is_cluster_url(url) else 0
        self._keys = partition_keys(stream, self.partitions) if self.partitions else [stream]

    def key(self, payload: bytes) -> str:
        """The stream key for one encoded message."""
        if not self.partitions:
            return self.stream
        return self._keys[partition_of(document_of(payload), self.partitions)]

    def keys(self) -> list[str]:
        """Every stream key this placement writes to."""
        return list(self._keys)


def discover_stream_keys(client: Any, stream: str, partitions: int) -> list[str]:
    """The stream keys a loader reads on a cluster: ``stream`` itself (where writers that do not place by
    document may append), the ``partitions`` keys, and every other ``<stream>:{...}``
    stream a SCAN of the primaries finds (producers configured with another partition count)."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", stream) + ":{*}"
    found = {
        key.decode() if isinstance(key, bytes) else key
        for key in client.scan_iter(match=pattern, count=1000, _type="stream")
    }
    keys = [stream, *partition_keys(stream, partitions)]
    return keys + sorted(found - set(keys))
