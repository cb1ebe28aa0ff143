"""Shared fixtures. Integration tests talk to the real servers that the test command starts.

`bash .ci/test` (the README's test command) runs `provgraph services up`, exports the URLs below, runs pytest and
brings the services down. Run by hand with servers already up, the defaults point at the standard local ports.
Tests never wipe a database: each one uses its own stream names and ids, and scopes its queries by them.
"""

from __future__ import annotations

import os
import uuid

import pytest

from capture.settings import Settings

REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")


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
    from provgraph._backend import Neo4jBackend
    from provgraph.errors import StoreUnavailable

    try:
        backend = Neo4jBackend(neo4j_settings)
    except StoreUnavailable as exc:
        pytest.fail(f"{exc}; run the tests with `bash .ci/test`")
    yield backend
    backend.close()
