"""The managed services: the servers `.ci/test` started answer, and `provgraph services` manages its own.

The first tests use the servers the test command started (URLs from ``PROVGRAPH_TEST_*``). The lifecycle tests
start a second Redis (and Neo4j) on free ports in a temporary home with the real CLI, and never touch the
servers on the default ports.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from capture.settings import Settings
from provgraph.errors import ConfigurationError
from provgraph.services.managed import Services, neo4j_lib_dir, neo4j_version

NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NEO4J_HTTP = os.environ.get("PROVGRAPH_TEST_NEO4J_HTTP", "http://127.0.0.1:7474")
DEFAULT_PORTS = {6379, 7687, 7474}


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _sockets_of(pid: int) -> list[psutil._common.pconn]:
    return psutil.Process(pid).net_connections(kind="inet")


def _listener_pid(port: int) -> int:
    for conn in psutil.net_connections(kind="inet"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return conn.pid
    raise AssertionError(f"nothing listens on port {port}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert port not in DEFAULT_PORTS
    return port


# --- the servers the test command started -------------------------------------------------------------------


@pytest.mark.services
def test_bolt_session_runs_return_1() -> None:
    import neo4j

    with neo4j.GraphDatabase.driver(NEO4J_URI, auth=None) as driver, driver.session() as session:
        assert session.run("RETURN 1 AS one").single()["one"] == 1


@pytest.mark.services
def test_browser_answers_http_200() -> None:
    with urllib.request.urlopen(f"{NEO4J_HTTP}/browser/", timeout=10) as response:  # noqa: S310 - loopback
        body = response.read().decode("utf-8", "replace")
        assert response.status == 200
    assert "<title>Neo4j Browser</title>" in body


@pytest.mark.services
def test_redis_ping_and_stream_round_trip(redis_client, unique: str) -> None:
    stream, group = f"provgraph:test:{unique}:services", f"group-{unique}"
    try:
        assert redis_client.ping() is True
        entry_id = redis_client.xadd(stream, {"payload": b"hello"})
        redis_client.xgroup_create(stream, group, id="0")
        [(name, entries)] = redis_client.xreadgroup(group, "consumer-1", {stream: ">"}, count=10, block=1000)
        assert name.decode() == stream
        assert entries == [(entry_id, {b"payload": b"hello"})]
        assert redis_client.xpending(stream, group)["pending"] == 1
        assert redis_client.xack(stream, group, entry_id) == 1
        assert redis_client.xpending(stream, group)["pending"] == 0
    finally:
        redis_client.delete(stream)


@pytest.mark.services
def test_test_servers_listen_on_loopback_only() -> None:
    ports = [
        urlsplit(REDIS_URL).port or 6379,
        urlsplit(NEO4J_URI).port or 7687,
        urlsplit(NEO4J_HTTP).port or 7474,
    ]
    for pid in {_listener_pid(port) for port in ports}:
        # Every TCP and UDP socket of the server, listening or not.
        exposed = [conn.laddr for conn in _sockets_of(pid) if conn.laddr and not _loopback(conn.laddr.ip)]
        assert exposed == [], f"pid {pid} has sockets on non-loopback addresses: {exposed}"


# --- settings to server configuration (no server needed) -----------------------------------------------------


def test_ports_and_memory_come_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=str(tmp_path),
        redis_url="redis://127.0.0.1:16380/0",
        graph_url="bolt://localhost:17688",
        neo4j_http_port=17475,
        neo4j_heap="768m",
        neo4j_pagecache="128m",
    )
    services = Services(settings)
    assert (services.redis_port, services.bolt_port, services.http_port) == (16380, 17688, 17475)
    config = services.neo4j_config(tmp_path / "data", tmp_path / "logs")
    assert config["server.bolt.listen_address"] == "127.0.0.1:17688"
    assert config["server.http.listen_address"] == "127.0.0.1:17475"
    assert config["server.memory.pagecache.size"] == "128m"
    assert config["dbms.memory.transaction.total.max"] == "384m"
    assert config["dbms.security.auth_enabled"] == "false"
    assert config["dbms.usage_report.enabled"] == "false"
    assert config["server.https.enabled"] == "false"
    assert (
        Services(settings.replace(neo4j_password="s3cret-pass")).neo4j_config(tmp_path, tmp_path)[
            "dbms.security.auth_enabled"
        ]
        == "true"
    )
    embedded = Services(Settings(home=str(tmp_path)))
    assert (embedded.redis_port, embedded.bolt_port, embedded.http_port) == (6379, 7687, 7474)


def test_config_addresses_are_loopback(tmp_path: Path) -> None:
    config = Services(Settings(home=str(tmp_path))).neo4j_config(tmp_path / "data", tmp_path / "logs")
    for key, value in config.items():
        if "address" in key:
            assert value.split(":")[0] == "127.0.0.1", key


def test_remote_urls_and_bad_memory_are_refused(tmp_path: Path) -> None:
    remote = Services(Settings(home=str(tmp_path), redis_url="redis://10.1.2.3:6379/0"))
    with pytest.raises(ConfigurationError, match="127.0.0.1 only"):
        remote.up(["redis"])
    with pytest.raises(ConfigurationError, match="PROVGRAPH_NEO4J_HEAP"):
        Services(Settings(home=str(tmp_path), neo4j_heap="lots")).neo4j_config(tmp_path, tmp_path)


def test_pom_pins_one_version_and_cache_is_versioned() -> None:
    version = neo4j_version()
    assert version.startswith("5.26.")
    assert neo4j_lib_dir(version).parts[-2:] == (f"neo4j-{version}", "lib")


# --- lifecycle of a second, private pair of servers ------------------------------------------------------------


def _cli(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "provgraph", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _private_env(home: Path, redis_port: int, bolt_port: int, http_port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SETTINGS=str(home / "no-settings.yaml"),
        PROVGRAPH_HOME=str(home),
        PROVGRAPH_REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        PROVGRAPH_GRAPH_URL=f"bolt://127.0.0.1:{bolt_port}",
        PROVGRAPH_NEO4J_HTTP_PORT=str(http_port),
        PROVGRAPH_NEO4J_HEAP="512m",
        PROVGRAPH_NEO4J_PAGECACHE="64m",
    )
    return env


def _processes_under(home: Path) -> list[psutil.Process]:
    """Live processes whose command line or working directory lies under ``home``."""
    found = []
    for process in psutil.process_iter(["cmdline", "cwd", "status"]):
        info = process.info
        if info["status"] == psutil.STATUS_ZOMBIE:
            continue
        text = " ".join(info["cmdline"] or []) + " " + (info["cwd"] or "")
        if str(home) in text:
            found.append(process)
    return found


@pytest.mark.services
@pytest.mark.slow
def test_services_lifecycle_redis_and_neo4j(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ports = {"redis": _free_port(), "bolt": _free_port(), "http": _free_port()}
    env = _private_env(home, ports["redis"], ports["bolt"], ports["http"])
    pids: list[int] = []
    try:
        first = _cli(env, "services", "up")
        assert first.returncode == 0, first.stderr
        assert "redis: started" in first.stdout and "neo4j: started" in first.stdout
        settings = Settings(
            home=str(home),
            redis_url=env["PROVGRAPH_REDIS_URL"],
            graph_url=env["PROVGRAPH_GRAPH_URL"],
            neo4j_http_port=ports["http"],
        )
        statuses = Services(settings).status()
        assert [status.state for status in statuses] == ["running", "running"]
        pids = [status.pid for status in statuses if status.pid]
        assert len(pids) == 2

        # Both answer, and only on loopback.
        import neo4j
        import redis

        assert redis.Redis(port=ports["redis"]).ping()
        with neo4j.GraphDatabase.driver(env["PROVGRAPH_GRAPH_URL"], auth=None) as driver:
            assert driver.execute_query("RETURN 1 AS one").records[0]["one"] == 1
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/browser/", timeout=10) as response:  # noqa: S310
            assert response.status == 200
        for pid in pids:
            sockets = _sockets_of(pid)
            assert sockets, f"pid {pid} has no sockets"
            assert all(_loopback(conn.laddr.ip) for conn in sockets if conn.laddr), sockets
        listening = {conn.laddr.port for pid in pids for conn in _sockets_of(pid) if conn.status == "LISTEN"}
        assert listening == set(ports.values())

        # `up` again is harmless: reported, same processes.
        second = _cli(env, "services", "up")
        assert second.returncode == 0, second.stderr
        assert second.stdout.count("already running") == 2
        assert [status.pid for status in Services(settings).status()] == pids
        assert _cli(env, "services", "status").returncode == 0

        # `down` leaves nothing behind.
        down = _cli(env, "services", "down")
        assert down.returncode == 0, down.stderr
        assert "redis: stopped" in down.stdout and "neo4j: stopped" in down.stdout
        for pid in pids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert _processes_under(home) == []
        status = _cli(env, "services", "status")
        assert status.returncode == 3 and status.stdout.count("not running") == 2
        assert _cli(env, "services", "down").returncode == 0  # nothing to stop: still fine
    finally:
        _cli(env, "services", "down")
        for process in _processes_under(home):
            process.kill()


@pytest.mark.services
def test_taken_port_is_named_in_the_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        free = _free_port()

        redis_env = _private_env(tmp_path / "a", taken, free, _free_port())
        result = _cli(redis_env, "services", "up", "--only", "redis")
        assert result.returncode == 1
        assert (
            f"port {taken}" in result.stderr
            and "Redis" in result.stderr
            and "PROVGRAPH_REDIS_URL" in result.stderr
        )

        http_env = _private_env(tmp_path / "b", free, _free_port(), taken)
        result = _cli(http_env, "services", "up", "--only", "neo4j")
        assert result.returncode == 1
        assert f"port {taken}" in result.stderr and "PROVGRAPH_NEO4J_HTTP_PORT" in result.stderr
    assert _processes_under(tmp_path) == []


@pytest.mark.services
def test_services_run_stops_what_it_started_even_on_failure(tmp_path: Path) -> None:
    home = tmp_path / "home"
    redis_port = _free_port()
    env = _private_env(home, redis_port, _free_port(), _free_port())
    script = (
        "import os, sys, redis; "
        "assert redis.Redis.from_url(os.environ['PROVGRAPH_REDIS_URL']).ping(); "
        "sys.exit(7)"
    )
    result = _cli(env, "services", "run", "--only", "redis", "--", sys.executable, "-c", script)
    assert result.returncode == 7, result.stderr
    assert "redis: stopping" in result.stderr
    assert _processes_under(home) == []
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", redis_port), timeout=1):
        pass
