"""The consumer group and the stream, both backends: --until-idle/--once finish only when nothing is pending for
the group (a gone consumer's entries are claimed first), a loader that stops cleanly leaves no consumer behind, and
acknowledged entries are trimmed, never one that is not loaded."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

import provgraph.loader as loader_module
from capture import wire
from provgraph.loader import Loader


def _payloads(unique: str, messages: int, per_message: int = 20) -> list[bytes]:
    return [
        json.dumps(
            {
                "v": 1,
                "doc": f"ex:doc-{unique}",
                "ns": {"ex": f"https://example.org/group/{unique}/"},
                "records": [{"k": "entity", "id": f"ex:m{m}-{i}"} for i in range(per_message)],
            }
        ).encode()
        for m in range(messages)
    ]


def _declared(backend, unique: str) -> int:
    rows = backend.read(
        "MATCH (n:Element) WHERE n.key STARTS WITH $ns AND n.declared RETURN count(n) AS n",
        {"ns": f"https://example.org/group/{unique}/"},
    )
    return rows[0]["n"]


@pytest.fixture
def scoped(any_backend, any_redis, any_settings, unique):
    yield any_backend, any_redis, any_settings
    any_backend.write(
        [
            (
                "MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n",
                {"ns": f"https://example.org/group/{unique}"},  # also the second namespace, {unique}x
            ),
            (
                "MATCH (n:Document) WHERE n.id IN $docs DETACH DELETE n",
                {"docs": [f"ex:doc-{unique}", f"ex:doc-{unique}x"]},
            ),
            (
                "MATCH (n:Namespace) WHERE n.doc IN $docs DETACH DELETE n",
                {"docs": [f"ex:doc-{unique}", f"ex:doc-{unique}x"]},
            ),
        ]
    )
    any_redis.delete(any_settings.stream, any_settings.dead_letter_stream)


def _push(redis_client, stream: str, payloads: list[bytes]) -> None:
    pipe = redis_client.pipeline(transaction=False)
    for payload in payloads:
        pipe.xadd(stream, {wire.FIELD: payload})
    pipe.execute()


def test_once_claims_what_a_gone_consumer_left_and_leaves_no_consumer(scoped, unique, monkeypatch):
    backend, redis_client, settings = scoped
    monkeypatch.setattr(loader_module, "GONE_CONSUMER_MS", 300)  # 5 s in real use
    _push(redis_client, settings.stream, _payloads(unique, 30))
    redis_client.xgroup_create(settings.stream, settings.consumer_group, id="0")
    # a loader that read 20 entries and died (the claim wait of a live group is 30 s: not what --once waits for)
    redis_client.xreadgroup(settings.consumer_group, "crashed", {settings.stream: ">"}, count=20)
    with Loader(settings, backend=backend, redis_client=redis_client, consumer="once") as loader:
        loader.run(until_idle_s=0)  # what `provgraph load --once` runs
    assert _declared(backend, unique) == 30 * 20
    assert redis_client.xpending(settings.stream, settings.consumer_group)["pending"] == 0
    consumers = {
        c["name"].decode() for c in redis_client.xinfo_consumers(settings.stream, settings.consumer_group)
    }
    assert consumers == {"crashed"}  # "once" removed on its clean stop; "crashed" read moments ago: kept
    monkeypatch.setattr(loader_module, "STALE_CONSUMER_MS", 0)  # 10 minutes in real use
    with Loader(settings, backend=backend, redis_client=redis_client, consumer="again") as loader:
        loader.run(until_idle_s=0)
    assert redis_client.xinfo_consumers(settings.stream, settings.consumer_group) == []


def test_acknowledged_entries_are_trimmed_never_unloaded_ones(scoped, unique, monkeypatch):
    backend, redis_client, settings = scoped
    settings = settings.replace(loader_keep_acknowledged_s=0)
    _push(redis_client, settings.stream, _payloads(unique, 10))
    redis_client.xgroup_create(settings.stream, settings.consumer_group, id="0")
    # another group of the same stream that has read only the first 4 entries: the rest must stay for it
    redis_client.xgroup_create(settings.stream, "audit-" + unique, id="0")
    redis_client.xreadgroup("audit-" + unique, "reader", {settings.stream: ">"}, count=4)
    with Loader(settings, backend=backend, redis_client=redis_client) as loader:
        loader.run(until_idle_s=0)
        assert redis_client.xlen(settings.stream) == 10  # the audit group still has 4 pending, 6 unread
        redis_client.xgroup_destroy(settings.stream, "audit-" + unique)
        _push(redis_client, settings.stream, _payloads(unique + "x", 5))
        # five new entries not yet read by the loader's group: trimming keeps them
        assert loader.trim() == 10
        assert redis_client.xlen(settings.stream) == 5
        loader.run(until_idle_s=0)
    assert redis_client.xlen(settings.stream) == 0
    assert _declared(backend, unique) == 10 * 20


def test_keep_acknowledged_setting_keeps_recent_entries(scoped, unique):
    backend, redis_client, settings = scoped
    _push(redis_client, settings.stream, _payloads(unique, 5))
    with Loader(settings, backend=backend, redis_client=redis_client) as loader:  # default: keep 300 s
        loader.run(until_idle_s=0)
    assert redis_client.xlen(settings.stream) == 5
    assert settings.loader_keep_acknowledged_s == 300


def _status(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    command = [sys.executable, "-m", "provgraph", "status", "--no-graph"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_status_with_redis_down_is_one_line_and_fails(unique):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _status({"PROVGRAPH_REDIS_URL": f"redis://:hunter2secret@127.0.0.1:{port}/0"})
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("provgraph: cannot reach Redis at redis://"), result.stderr
    assert "hunter2secret" not in result.stderr and "provgraph services up" in lines[0]


@pytest.mark.services  # starts its own Redis
@pytest.mark.parametrize("aof", [False, True])
def test_status_warns_when_redis_keeps_no_append_only_file(tmp_path, unique, aof):
    from capture.settings import Settings
    from provgraph.services.managed import Services

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    services = Services(
        Settings(home=str(tmp_path), redis_url=url, redis_aof=aof)
    )  # our own, never the shared
    services.up(["redis"])
    try:
        result = _status({"PROVGRAPH_REDIS_URL": url, "PROVGRAPH_STREAM": f"provgraph:test:{unique}:records"})
    finally:
        services.down(["redis"])
    assert result.returncode == 0, result.stderr
    assert ("warning: this Redis keeps no append-only file" in result.stdout) is not aof


def test_a_group_that_keeps_vanishing_backs_off_and_still_stops(scoped, unique):
    """The stream deleted again and again under a running loader: the loader recreates its group with back-off
    (it once spun, writing gigabytes of log), `stop` ends it, and a later loader loads what arrives afterwards."""
    import threading

    backend, redis_client, settings = scoped
    recreated = 0

    class CountingLoader(Loader):
        def ensure_group(self) -> None:
            nonlocal recreated
            recreated += 1
            super().ensure_group()

    loader = CountingLoader(settings, backend=backend, redis_client=redis_client, consumer="vanishing")
    finished = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loader.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failure.append(exc)
        finally:
            finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deletions = 0
    stop_deleting = threading.Event()
    while not stop_deleting.wait(0.01) and deletions < 150:  # ~1.5 s of a stream that keeps disappearing
        redis_client.delete(settings.stream)
        deletions += 1
    loader.stop()
    assert finished.wait(30), "the loader did not stop while its group kept vanishing"
    thread.join(5)
    loader.close()
    assert not failure, failure
    # with back-off (0.1 s doubling) a second and a half allows a few dozen recreations at most; a spin makes thousands
    assert 1 < recreated < 60, recreated
    _push(redis_client, settings.stream, _payloads(unique, 2))
    with Loader(settings, backend=backend, redis_client=redis_client, consumer="after") as again:
        again.run(until_idle_s=0)
    assert _declared(backend, unique) == 2 * 20
