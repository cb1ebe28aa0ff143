"""Faults injected into the loader's recovery: loaders killed again and again while they take entries over.

A write is held back with a real lock (the test's own open Neo4j transaction on the run's document node), so
"killed after reading, before committing" is a fixed point instead of a race; the processes are real `provgraph
load` commands killed with SIGKILL, on the shared Neo4j and Redis (nothing here stops a server).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _mixed_records import build, payloads  # noqa: E402
from test_loader import _assert_exact, _cleanup, _cli, _loader_env, _push  # noqa: E402


@pytest.fixture
def mixed_cleanup(neo4j_backend, redis_client, neo4j_settings):
    made: list = []
    yield made
    for mixed in made:
        _cleanup(neo4j_backend, mixed, redis_client, neo4j_settings.stream, neo4j_settings.dead_letter_stream)


def _deliveries(redis_client, settings) -> dict[str, int]:
    if not redis_client.xinfo_groups(settings.stream):
        return {}  # the first loader has not created its group yet
    rows = redis_client.xpending_range(settings.stream, settings.consumer_group, "-", "+", 1000)
    return {row["message_id"].decode(): row["times_delivered"] for row in rows}


def _wait(condition, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout_s} s for {what}"
        time.sleep(0.05)


def test_a_loader_killed_while_recovering_counts_a_delivery_against_one_entry_only(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup, tmp_path
):
    """Loaders restarted under one name and killed before their first commit (a crash loop): each death counts a
    delivery against the one entry it was taking over, not against every entry its predecessor held, so
    `loader_max_deliveries` never dead-letters innocent entries, and the next loader loads everything once."""
    mixed = build(unique, 6000, per_message=500)
    mixed_cleanup.append(mixed)
    neo4j_backend.ensure_schema()
    _push(redis_client, neo4j_settings.stream, payloads(mixed))
    env = _loader_env(neo4j_settings, PROVGRAPH_LOADER_BATCH_RECORDS="1000")
    session = neo4j_backend.driver.session()
    lock = session.begin_transaction()  # every loader write waits on this document node until rollback
    lock.run("MERGE (d:Document {id: $doc}) SET d.held = true", doc=mixed.doc).consume()
    kills = 3
    try:
        for attempt in range(kills + 1):
            before = sum(_deliveries(redis_client, neo4j_settings).values())
            log = open(tmp_path / f"loader-{attempt}.log", "w")  # noqa: SIM115 - closed below
            loader = subprocess.Popen(
                _cli("load", "--consumer", "crashing"), env=env, stdout=subprocess.DEVNULL, stderr=log
            )
            try:
                if attempt == 0:  # the first one reads batches and hangs writing them
                    _wait(lambda: len(_deliveries(redis_client, neo4j_settings)) >= 4, "the first reads")
                else:  # a restarted one takes its predecessor's entries over, and hangs writing
                    _wait(
                        lambda before=before: (
                            sum(_deliveries(redis_client, neo4j_settings).values()) > before
                        ),
                        "a redelivery",
                    )
                    time.sleep(0.5)  # room to read more, were it to
            finally:
                loader.send_signal(signal.SIGKILL)
                loader.wait(30)
                log.close()
        counts = _deliveries(redis_client, neo4j_settings)
        assert len(counts) >= 4
        # each killed restart counted one redelivery, against one entry; the others were delivered once
        assert sum(times - 1 for times in counts.values()) == kills, counts
        assert sorted(counts.values())[:-1] == [1] * (len(counts) - 1), counts
    finally:
        lock.rollback()
        session.close()
    final = subprocess.run(
        _cli("load", "--consumer", "crashing", "--until-idle", "2"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert final.returncode == 0, final.stderr
    assert redis_client.xlen(neo4j_settings.dead_letter_stream) == 0
    _assert_exact(neo4j_backend, mixed)
    group = redis_client.xinfo_groups(neo4j_settings.stream)[0]
    assert group["pending"] == 0 and group["lag"] == 0


@pytest.mark.embedded
@pytest.mark.services  # starts the embedded server
def test_records_a_killed_automatic_loader_left_unloaded_load_on_the_next_question(tmp_path, unique):
    """The automatic loader (docs/embedded.md) SIGKILLed with records in the stream it had not loaded, two entries
    of them pending under its name: its server dies with it, the records wait in the server's append-only file. The
    next store-side question (`Client`, as `provgraph runs` does) starts a server, sees them, has them loaded (the
    dead loader's batch taken over) and answers with them: every record once."""
    import os
    import socket

    import redis

    from capture._embedded_url import EmbeddedServerNotRunning, embedded_redis_url
    from capture.settings import Settings
    from provgraph import Client
    from provgraph.loader import _redis_client

    home = tmp_path / "home"
    settings = Settings.load(
        home=str(home),
        graph_url="embedded",
        redis_url="embedded",
        embedded_autoload=True,
        stream="provgraph:records",
    )
    env = {
        **os.environ,
        "PROVGRAPH_HOME": str(home),
        "PROVGRAPH_GRAPH_URL": "embedded",
        "PROVGRAPH_REDIS_URL": "embedded",
        "PROVGRAPH_SETTINGS": str(tmp_path / "no-settings.yaml"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    autoloader = subprocess.Popen(
        _cli("embedded", "serve"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    mixed = build(unique, 3000)
    try:

        def server_up() -> bool:
            try:
                embedded_redis_url(settings)
                return True
            except EmbeddedServerNotRunning:
                return False

        _wait(server_up, "the automatic loader's server")
        stream = _redis_client(settings)

        def group_made() -> bool:
            try:
                return bool(stream.xinfo_groups(settings.stream))
            except redis.exceptions.ResponseError:  # no stream yet
                return False

        _wait(group_made, "the automatic loader's consumer group")
        autoloader.send_signal(signal.SIGSTOP)  # hung: what arrives now stays unloaded
        _push(stream, settings.stream, payloads(mixed))
        # its batch in flight: what a loader killed mid-batch leaves pending under its name
        consumer = f"autoload-{socket.gethostname()}-{autoloader.pid}"
        stream.xreadgroup(settings.consumer_group, consumer, {settings.stream: ">"}, count=2)
        stream.close()
        autoloader.send_signal(signal.SIGKILL)
        autoloader.wait(30)
        _wait(lambda: not server_up(), "the server to die with its loader")
        with Client(settings) as client:
            _assert_exact(client.backend, mixed)
    finally:
        if autoloader.poll() is None:
            autoloader.kill()
        subprocess.run(_cli("embedded", "down"), env=env, capture_output=True, timeout=120)


class _Forwarder:
    """A plain TCP hop from a local port to a server: the graph 'comes up' when it starts listening."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        import socket
        import threading

        self.target = target
        self.server = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(2)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def test_a_loader_service_started_before_the_graph_waits_for_it_then_loads(
    neo4j_settings, neo4j_backend, redis_client, unique, mixed_cleanup
):
    """`provgraph load` (no --once/--until-idle: a service) started while Neo4j is not up yet (a reboot, Neo4j
    restarting) waits for it with back-off, as it waits for Redis, instead of exiting; then it loads everything once.
    A bounded run still fails at once on an unreachable graph (test_cli_failures)."""
    import socket
    import threading
    import urllib.parse

    mixed = build(unique, 2000)
    mixed_cleanup.append(mixed)
    neo4j_backend.ensure_schema()
    _push(redis_client, neo4j_settings.stream, payloads(mixed))
    with socket.socket() as sock:  # where the graph will listen: nothing there yet
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = urllib.parse.urlsplit(neo4j_settings.graph_url)
    env = _loader_env(
        neo4j_settings.replace(graph_url=f"bolt://127.0.0.1:{port}"), PROVGRAPH_LOADER_PROGRESS_INTERVAL_S="1"
    )
    loader = subprocess.Popen(_cli("load", "--consumer", "early"), env=env, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(loader.stderr), daemon=True)
    reader.start()
    forwarder = None
    try:
        _wait(
            lambda: any("the graph unavailable" in line for line in lines) or loader.poll() is not None,
            "a note",
        )
        assert loader.poll() is None, "".join(lines)
        forwarder = _Forwarder(port, (target.hostname or "127.0.0.1", target.port or 7687))

        def loaded() -> bool:
            groups = redis_client.xinfo_groups(neo4j_settings.stream)
            return bool(groups) and groups[0]["lag"] == 0 and groups[0]["pending"] == 0

        _wait(loaded, "the loader to load the stream once the graph is up")
        loader.send_signal(signal.SIGTERM)
        assert loader.wait(60) == 0, "".join(lines)
    finally:
        if loader.poll() is None:
            loader.kill()
        if forwarder is not None:
            forwarder.close()
    reader.join(10)
    assert any("stopped:" in line for line in lines), "".join(lines)
    _assert_exact(neo4j_backend, mixed)
    assert redis_client.xlen(neo4j_settings.dead_letter_stream) == 0
