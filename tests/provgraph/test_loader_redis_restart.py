"""Redis SIGKILLed and restarted mid-run with the defaults of `provgraph services` (append-only file on): the
loader waits, finds its group again and loads every record exactly once.

The Redis is this test's own (the services code, in a temporary home, on a free port); never the shared one.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))

from _mixed_records import build, payloads  # noqa: E402
from test_loader import _assert_exact, _cleanup  # noqa: E402

from capture import wire  # noqa: E402
from capture.settings import Settings  # noqa: E402
from provgraph.loader import Loader, persistence_warning  # noqa: E402
from provgraph.services.managed import Services  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path, neo4j_settings):
    """This test's managed Redis, with the services' defaults; stopped at the end whatever happens."""
    port = _free_port()
    settings = neo4j_settings.replace(home=str(tmp_path / "home"), redis_url=f"redis://127.0.0.1:{port}/0")
    assert Settings().redis_aof, "the default must persist"
    services = Services(settings)
    services.up(["redis"])
    try:
        yield services, settings
    finally:
        services.down(["redis"])


def test_redis_sigkilled_and_restarted_mid_run_loses_nothing(own_redis, neo4j_backend, unique):
    services, settings = own_redis
    mixed = build(unique, 20_000)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert persistence_warning(client) is None
        pipe = client.pipeline(transaction=False)
        for payload in payloads(mixed):
            pipe.xadd(settings.stream, {wire.FIELD: payload})
        pipe.execute()
        notes: list[str] = []
        failures: list[BaseException] = []
        loader = Loader(
            settings.replace(loader_batch_records=1000),
            backend=neo4j_backend,
            redis_client=redis.Redis.from_url(settings.redis_url),
            consumer="survivor",
            progress=notes.append,
        )

        def run() -> None:
            try:
                loader.run(until_idle_s=1.0)
            except BaseException as exc:  # reported by the test thread
                failures.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time.monotonic() + 60
        while loader.stats.records == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert 0 < loader.stats.records < mixed.records, "the kill must land mid-run"
        (status,) = services.status(["redis"])
        os.kill(status.pid, signal.SIGKILL)
        time.sleep(1.0)  # the loader meets a dead Redis and backs off
        services.up(["redis"])
        thread.join(timeout=120)
        assert not thread.is_alive() and not failures, failures
        loader.close()
        _assert_exact(neo4j_backend, mixed)  # every record once, nothing duplicated
        group = client.xinfo_groups(settings.stream)[0]
        assert group["pending"] == 0 and group["lag"] == 0
        assert client.xlen(settings.dead_letter_stream) == 0
        assert any("Redis unavailable" in note for note in notes)
    finally:
        client.close()
        _cleanup(neo4j_backend, mixed, None)


def test_an_emptied_redis_is_survived_the_group_recreated(own_redis, neo4j_backend, unique):
    services, settings = own_redis
    first, second = build(unique, 2000), build(unique + "b", 2000)
    client = redis.Redis.from_url(settings.redis_url)
    notes: list[str] = []
    try:
        loader = Loader(
            settings,
            backend=neo4j_backend,
            redis_client=redis.Redis.from_url(settings.redis_url),
            progress=notes.append,
        )
        thread = threading.Thread(target=loader.run)  # until stop(): no race with an idle timeout
        thread.start()
        for payload in payloads(first):
            client.xadd(settings.stream, {wire.FIELD: payload})
        deadline = time.monotonic() + 60
        while loader.stats.records < first.records and time.monotonic() < deadline:
            time.sleep(0.02)
        client.flushdb()  # the stream and its group are gone, the loader still running
        time.sleep(0.5)
        for payload in payloads(second):
            client.xadd(settings.stream, {wire.FIELD: payload})
        deadline = time.monotonic() + 60
        while loader.stats.records < first.records + second.records and time.monotonic() < deadline:
            time.sleep(0.02)
        loader.stop()
        thread.join(timeout=60)
        assert not thread.is_alive()
        loader.close()
        _assert_exact(neo4j_backend, first)
        _assert_exact(neo4j_backend, second)
        assert any("was missing" in note and "recreated" in note for note in notes)
    finally:
        client.close()
        _cleanup(neo4j_backend, first, None)
        _cleanup(neo4j_backend, second, None)
