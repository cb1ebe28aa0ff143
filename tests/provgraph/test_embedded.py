"""The embedded backend on the real embedded server: lifecycle, no orphans, persistence, Streams, parameters,
the loader, and `provgraph demo` end to end."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from _known_graph import build, delete, load

from capture.settings import Settings
from provgraph.errors import QueryError, StoreUnavailable
from provgraph.graph.falkordb import FalkorBackend, encode_parameters
from provgraph.services.embedded import EmbeddedServer

pytestmark = pytest.mark.embedded

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int, timeout_s: float = 15.0) -> bool:
    """Whether the process is gone (or a zombie) within the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _servers_for(socket_path: Path) -> list[int]:
    """Pids of redis-server processes listening on this socket path (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"redis-server" in cmdline and str(socket_path).encode() in cmdline:
            pids.append(int(entry.name))
    return [pid for pid in pids if not _gone(pid, 0)]


def _env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PROVGRAPH_HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),  # no per-user settings file
        "PYTHONPATH": str(ROOT),
    }
    for name in ("PROVGRAPH_GRAPH_URL", "PROVGRAPH_REDIS_URL", "PROVGRAPH_SETTINGS", "PROVGRAPH_DISABLED"):
        env.pop(name, None)
    return env


# --- lifecycle ----------------------------------------------------------------------------------------------------


def test_start_stop_leaves_no_process_and_records_its_url(tmp_path):
    from capture._embedded_url import EmbeddedServerNotRunning, embedded_redis_url

    server = EmbeddedServer(tmp_path / "home")
    settings = Settings(home=str(tmp_path / "home"))
    with pytest.raises(EmbeddedServerNotRunning, match="provgraph embedded up"):
        embedded_redis_url(settings)
    assert server.start() is True
    state = server.state()
    assert state["mode"] == "owned" and state["url"] == server.url
    assert embedded_redis_url(settings) == server.url  # capture's stdlib-only lookup
    assert server.running()
    assert EmbeddedServer(tmp_path / "home").start() is False  # a second user attaches to the same one
    pid = state["pid"]
    assert server.stop() is True
    assert _gone(pid)
    assert not server.running() and server.state() is None
    assert not (tmp_path / "home" / "embedded" / "url").exists()
    assert not server.socket_path.exists()
    assert server.stop() is False
    with pytest.raises(EmbeddedServerNotRunning):
        embedded_redis_url(settings)


def test_server_dies_with_its_owner_even_after_sigkill(tmp_path):
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from provgraph.services.embedded import EmbeddedServer; "
            "s = EmbeddedServer(sys.argv[1]); s.start(); print(s.state()['pid'], flush=True); time.sleep(60)",
            str(tmp_path / "home"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        pid = int(owner.stdout.readline())
        assert not _gone(pid, 0)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert _gone(pid), f"redis-server {pid} outlived its SIGKILLed owner"
    assert EmbeddedServer(tmp_path / "home").state() is None  # the stale record is recognised as such


def test_shared_server_outlives_the_command_and_stops_with_down(tmp_path):
    env = _env(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "provgraph", "embedded", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    up = cli("up")
    assert up.returncode == 0, up.stderr
    assert "embedded server started: unix://" in up.stdout
    server = EmbeddedServer(tmp_path)
    try:
        state = server.state()
        assert state is not None and state["mode"] == "shared" and server.running()
        again = cli("up")
        assert "already running (shared)" in again.stdout
        status = cli("status", "--json")
        assert status.returncode == 0 and json.loads(status.stdout)["pid"] == state["pid"]
        # the multi-process flow of docs/embedded.md, all on the defaults (graph and transport "embedded")
        example = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quickstart.py")],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert example.returncode == 0, example.stderr
        run_id = next(line.split()[1] for line in example.stdout.splitlines() if line.startswith("run: "))
        for args in (("load", "--once", "--quiet"), ("query", "runs", "--json")):
            done = subprocess.run(
                [sys.executable, "-m", "provgraph", *args],
                env=env, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        assert [(r["id"], r["workflow"], r["tasks"]) for r in json.loads(done.stdout)] == [
            (run_id, "quickstart", 2)
        ]
    finally:
        down = cli("down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert _gone(state["pid"])
    assert cli("status").returncode == 3


def test_data_survives_a_clean_restart_and_a_crash(tmp_path):
    home = tmp_path / "home"
    settings = Settings(home=str(home), graph_url="embedded")
    with FalkorBackend(settings) as graph:
        assert graph.server is not None  # this backend started it, so closing stops it
        graph.write([("CREATE (:Element {key: $key, n: 1})", {"key": "clean-restart"})])
        graph.client.xadd("s", {"f": "before restart"})
    with FalkorBackend(settings) as graph:
        assert graph.read("MATCH (n:Element {key: 'clean-restart'}) RETURN n.n AS n") == [{"n": 1}]
        assert graph.client.xrange("s")[0][1] == {b"f": b"before restart"}
        graph.write([("CREATE (:Element {key: $key})", {"key": "before-crash"})])
        graph.client.xadd("s", {"f": "before crash"})
        time.sleep(1.5)  # the append-only file is fsynced every second
        pid = graph.server.state()["pid"]
        os.kill(pid, signal.SIGKILL)
        assert _gone(pid)
    with FalkorBackend(settings) as graph:
        keys = graph.read("MATCH (n:Element) RETURN n.key AS key ORDER BY key")
        assert keys == [{"key": "before-crash"}, {"key": "clean-restart"}]
        assert graph.client.xlen("s") == 2


# --- the backend --------------------------------------------------------------------------------------------------


def test_streams_consumer_group_cycle(embedded_redis, unique):
    stream, group = f"provgraph:test:{unique}:s", f"g-{unique}"
    embedded_redis.xgroup_create(stream, group, id="0", mkstream=True)
    ids = [embedded_redis.xadd(stream, {"m": str(i)}) for i in range(3)]
    read = embedded_redis.xreadgroup(group, "c1", {stream: ">"}, count=10, block=100)
    assert [entry_id for entry_id, _ in read[0][1]] == ids
    assert embedded_redis.xack(stream, group, ids[0]) == 1
    time.sleep(0.02)
    _, claimed, _ = embedded_redis.xautoclaim(stream, group, "c2", min_idle_time=1, start_id="0")
    assert [entry_id for entry_id, _ in claimed] == ids[1:]
    assert embedded_redis.xpending(stream, group)["pending"] == 2
    embedded_redis.delete(stream)


TRICKY_VALUES = [
    "",
    'a"b',
    "a'b",
    "back\\slash",
    "ends with \\",
    '\\"',
    "\\n is not a newline",
    "real\nnewline\ttab\rcr",
    "unicode é ✓ 💡 \u200b",
    "}) MATCH (n) DETACH DELETE n //",
    "` backtick $param {{label}}",
    0,
    -(2**63),
    2**63 - 1,
    0.1,
    -0.0,
    1e-300,
    1.5e300,
    123456789.123457,
    True,
    False,
    None,
    [],
    {},
    [1, "two", 3.0, None, [True, ['deep \\ "']]],
    {"plain": 1, "with space": "x", "ex:colon": [1, {"nested": 'q"'}], "é": None},
]


def test_parameters_round_trip_exactly(embedded_backend):
    for value in TRICKY_VALUES:
        rows = embedded_backend.read("RETURN $v AS v", {"v": value})
        assert rows == [{"v": value}], value
        if isinstance(value, float):
            assert math.copysign(1, rows[0]["v"]) == math.copysign(1, value)
    # FalkorDB stores doubles exactly but replies with 15 significant digits (documented in docs/embedded.md)
    rows = embedded_backend.read("RETURN $v AS v, $v = 0.30000000000000004 AS exact", {"v": 0.1 + 0.2})
    assert rows == [{"v": 0.3, "exact": True}]
    rows = embedded_backend.read("RETURN $a AS a, $b AS b", {"a": "x", "b": ["y"]})
    assert rows == [{"a": "x", "b": ["y"]}]


def test_parameters_cannot_inject(embedded_backend, unique):
    hostile = f'{unique}"}}) WITH 1 AS x MATCH (n) DETACH DELETE n RETURN 1 //'
    embedded_backend.write([("CREATE (:Element {key: $key})", {"key": hostile})])
    assert embedded_backend.read("MATCH (n:Element {key: $key}) RETURN n.key AS key", {"key": hostile}) == [
        {"key": hostile}
    ]
    assert embedded_backend.read("MATCH (n:Element) RETURN count(n) > 0 AS some") == [{"some": True}]
    embedded_backend.write([("MATCH (n:Element {key: $key}) DELETE n", {"key": hostile})])


@pytest.mark.parametrize(
    "params, message",
    [
        ({"v": float("nan")}, "float"),
        ({"v": float("inf")}, "float"),
        ({"v": "nul\x00byte"}, "NUL"),
        ({"v": b"bytes"}, "bytes"),
        ({"v": 2**64}, "64 bits"),
        ({"bad name": 1}, "identifier"),
        ({"v": {"x`y": 1}}, "map key"),
        ({"v": {1: 1}}, "map key"),
    ],
)
def test_parameters_it_cannot_represent_are_refused(params, message):
    with pytest.raises(QueryError, match=message):
        encode_parameters(params)


def test_errors_are_translated(embedded_backend, tmp_path):
    with pytest.raises(QueryError, match="failed on FalkorDB"):
        embedded_backend.read("MATCH (n RETURN n", tag="broken")
    with pytest.raises(QueryError):
        embedded_backend.read("CREATE (:Element {key: 'read-only'})")  # reads cannot write
    with pytest.raises(StoreUnavailable, match="cannot reach"):
        FalkorBackend(Settings(graph_url=f"unix://{tmp_path}/nothing.sock"))


def test_nodes_and_relationships_come_back_as_property_maps(embedded_backend, unique):
    embedded_backend.write(
        [("CREATE (:Element {key: $a, n: 1})-[:used {sk: $sk, role: 'x'}]->(:Element {key: $b})",
          {"a": f"a{unique}", "b": f"b{unique}", "sk": f"sk{unique}"})]
    )  # fmt: skip
    rows = embedded_backend.read(
        "MATCH p = (s:Element {key: $a})-[r]->(t) RETURN s, r, t.key AS t, p", {"a": f"a{unique}"}
    )
    assert rows[0]["s"] == {"key": f"a{unique}", "n": 1}
    assert rows[0]["r"] == {"sk": f"sk{unique}", "role": "x"}
    assert rows[0]["p"] == [rows[0]["s"], rows[0]["r"], {"key": f"b{unique}"}]
    embedded_backend.write([("MATCH (n:Element) WHERE n.key IN $keys DETACH DELETE n",
                             {"keys": [f"a{unique}", f"b{unique}"]})])  # fmt: skip


def test_loader_writes_the_known_graph_idempotently(embedded_backend):
    graph = build(uuid.uuid4().hex[:12], tricky=True)
    keys = [graph.key(short) for short in graph.ids]
    count = "MATCH (n:Element) WHERE n.key IN $keys OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, count(r) AS r"
    try:
        load(embedded_backend, graph)
        first = embedded_backend.read(count, {"keys": keys})
        load(embedded_backend, graph)  # redelivered: nothing changes
        assert embedded_backend.read(count, {"keys": keys}) == first
        assert first[0]["n"] == len(keys) and first[0]["r"] > len(keys)
        names = embedded_backend.read(
            "MATCH (r:WorkflowRun) WHERE r.key IN $keys RETURN DISTINCT r.name AS name ORDER BY name",
            {"keys": keys},
        )
        assert [row["name"] for row in names] == sorted({graph.names["plot"], graph.names["train"]})
    finally:
        delete(embedded_backend, graph)
    assert embedded_backend.read(count, {"keys": keys}) == [{"n": 0, "r": 0}]


# --- the demo -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_runs_end_to_end_twice_and_leaves_nothing_running(tmp_path):
    home = tmp_path / "home"
    server = EmbeddedServer(home)

    def demo(*extra: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "provgraph", "demo", "--out", str(tmp_path / "out"), *extra],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"demo failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        assert not _servers_for(server.socket_path), "a redis-server is still running after the demo"
        assert server.state() is None
        return done.stdout

    first = demo()
    assert "started the embedded server" in first
    for title in (
        "Recent workflow runs",
        "Where did model.json come from?",
        "Which runs touched measurements.csv?",
        "Slowest tasks of the training run",
        "Peak resources per task (telemetry)",
    ):
        assert title in first
    peaks = first.split("Peak resources per task (telemetry)")[1].split("\n\n")[0]
    assert (
        "train_epoch" in peaks and "peak_rss_bytes" in peaks and " MB" in peaks
    )  # bytes shown in readable units
    # the model's lineage reaches back into the other run: the task that generated the shared file
    lineage = first.split("Where did model.json come from?")[1].split("==")[0]
    assert "generate_measurements" in lineage and "compute_statistics" in lineage and "save_model" in lineage
    shared = first.split("Which runs touched measurements.csv?")[1].split("==")[0]
    assert "prepare_data" in shared and "train_model" in shared
    exported = json.loads((tmp_path / "out" / "train_model.json").read_text())
    assert exported["activity"] and exported["entity"]
    turtle = (tmp_path / "out" / "train_model.ttl").read_text()
    assert "prov:qualifiedGeneration" in turtle  # PROV-O's qualified form; direct triples only when asked

    second = demo()  # the same data directory: the first run's runs are still there
    runs = second.split("Recent workflow runs")[1].split("==")[0]
    assert runs.count("train_model") == 2 and runs.count("prepare_data") == 2

    third = demo("--fresh")
    runs = third.split("Recent workflow runs")[1].split("==")[0]
    assert runs.count("train_model") == 1


def test_a_later_declaration_wins_within_one_batch(embedded_backend, unique):
    """A loop is declared RUNNING, then FINISHED, in one message: the node must end FINISHED, declarations in order
    (FalkorDB reorders rows after a MERGE that creates; cypher/loader/merge_elements.falkordb.cypher avoids it)."""
    from capture import wire
    from provgraph.loader import load_messages

    ident = f"pgid:loop_{unique}"
    records = [
        wire.element("activity", ident, attrs=[["pg:status", status], ["pg:step", step]])
        for step, status in enumerate(("RUNNING", "PAUSED", "FINISHED"))
    ]
    message = wire.decode_message(wire.encode_message(f"pgid:doc_{unique}", records, sent_at=0.0))
    load_messages(embedded_backend, [message])
    load_messages(embedded_backend, [message])  # redelivered: unchanged
    rows = embedded_backend.read(
        "MATCH (n:Element {id: $id}) RETURN n.status AS status, n._decl AS decls", {"id": ident}
    )
    assert rows[0]["status"] == "FINISHED"
    assert [json.loads(d)["r"]["a"][0][1] for d in rows[0]["decls"]] == ["RUNNING", "PAUSED", "FINISHED"]
    embedded_backend.write([("MATCH (n:Element {id: $id}) DETACH DELETE n", {"id": ident})])


def test_a_fresh_store_is_queryable_and_indexed(tmp_path):
    with FalkorBackend(Settings(home=str(tmp_path / "home"), graph_url="embedded")) as graph:
        assert graph.read("MATCH (n:Element) RETURN count(n) AS n") == [{"n": 0}]  # no "empty key" error
        indexed = {row["label"] for row in graph.read("CALL db.indexes() YIELD label")}
        assert {"Element", "Document", "Namespace", "used", "wasGeneratedBy"} <= indexed
        unique = graph.read("CALL db.constraints() YIELD label, properties RETURN label, properties")
        assert {"label": "Element", "properties": ["key"]} in unique
