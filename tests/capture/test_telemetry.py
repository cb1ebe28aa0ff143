"""Task telemetry: every key of every enabled type at start and end, disabled types absent, values wire-safe.

The last test runs a telemetry task in its own process against the real Redis, loads its stream into the real
Neo4j with the loader, and checks the Telemetry nodes, the Machine agent and that a secret never got there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import capture
from capture import _telemetry, wire
from capture.settings import Settings

ALL_TYPES = ["cpu", "process", "memory", "disk", "network", "gpu", "machine"]

# Every key each type records on Linux (docs/telemetry.md lists them with their meaning).
KEYS = {
    "cpu": {
        *(
            f"pg:cpu_times_avg_{f}_s"
            for f in (
                "user",
                "nice",
                "system",
                "idle",
                "iowait",
                "irq",
                "softirq",
                "steal",
                "guest",
                "guest_nice",
            )
        ),
        "pg:cpu_percent",
        "pg:cpu_frequency_mhz",
        "pg:cpu_times_per_cpu",
        "pg:cpu_percent_per_cpu",
    },
    "process": {
        "pg:process_pid",
        "pg:process_cpu_number",
        *(f"pg:process_{f}_bytes" for f in ("rss", "vms", "shared", "text", "lib", "data", "dirty")),
        "pg:process_memory_percent",
        *(
            f"pg:process_cpu_times_{f}_s"
            for f in ("user", "system", "children_user", "children_system", "iowait")
        ),
        "pg:process_cpu_percent",
        *(
            f"pg:process_io_{f}"
            for f in ("read_count", "write_count", "read_bytes", "write_bytes", "read_chars", "write_chars")
        ),
        "pg:process_num_connections",
        "pg:process_num_open_files",
        "pg:process_num_open_file_descriptors",
        "pg:process_num_threads",
        "pg:process_num_ctx_switches_voluntary",
        "pg:process_num_ctx_switches_involuntary",
        "pg:process_executable",
        "pg:process_cmd_line",
    },
    "memory": {
        *(
            f"pg:memory_virtual_{f}_bytes"
            for f in (
                "total",
                "available",
                "used",
                "free",
                "active",
                "inactive",
                "buffers",
                "cached",
                "shared",
                "slab",
            )
        ),
        "pg:memory_virtual_percent",
        *(f"pg:memory_swap_{f}_bytes" for f in ("total", "used", "free", "sin", "sout")),
        "pg:memory_swap_percent",
    },
    "disk": {
        *(f"pg:disk_usage_{f}_bytes" for f in ("total", "used", "free")),
        "pg:disk_usage_percent",
        *(
            f"pg:disk_io_{f}"
            for f in (
                "read_count",
                "write_count",
                "read_bytes",
                "write_bytes",
                "read_merged_count",
                "write_merged_count",
            )
        ),
        "pg:disk_io_read_time_ms",
        "pg:disk_io_write_time_ms",
        "pg:disk_io_busy_time_ms",
        "pg:disk_io_per_disk",
    },
    "network": {
        *(
            f"pg:network_{f}"
            for f in (
                "bytes_sent",
                "bytes_recv",
                "packets_sent",
                "packets_recv",
                "errin",
                "errout",
                "dropin",
                "dropout",
            )
        ),
        "pg:network_per_interface",
    },
    "gpu": {"pg:gpu_count"},  # per-device keys: tests/capture/test_gpu.py (this machine has no GPU)
}
PREFIXES = {t: f"pg:{t}_" for t in KEYS}
TELEMETRY_TYPE = wire.qualified_name("pg:Telemetry")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the key lists are Linux's")


def _names(pairs):
    return {name for name, _ in pairs}


def _of_type(names, kind):
    return {n for n in names if n.startswith(PREFIXES[kind])}


def test_every_key_of_every_type_at_start_and_end():
    telemetry = _telemetry.TaskTelemetry(Settings(telemetry=ALL_TYPES))
    start, end = telemetry.start(), telemetry.end()
    for pairs in (start, end):
        names = _names(pairs)
        for kind, keys in KEYS.items():
            assert keys <= names, f"{kind}: missing {sorted(keys - names)}"
        assert len(names) == len(pairs), "a key appears twice"
        assert "pg:sample_age_ms" in names


@pytest.mark.parametrize("disabled", list(KEYS))
def test_a_disabled_type_records_nothing(disabled):
    telemetry = _telemetry.TaskTelemetry(Settings(telemetry=[t for t in ALL_TYPES if t != disabled]))
    for pairs in (telemetry.start(), telemetry.end()):
        names = _names(pairs)
        assert not _of_type(names, disabled), f"{disabled} is off but recorded"
        for kind in KEYS:
            if kind != disabled:
                assert KEYS[kind] <= names


@pytest.mark.parametrize("only", list(KEYS))
def test_a_single_type_records_only_its_keys(only):
    telemetry = _telemetry.TaskTelemetry(Settings(telemetry=[only]))
    names = _names(telemetry.start())
    assert KEYS[only] <= names
    assert names - KEYS[only] - _of_type(names, only) <= {"pg:sample_age_ms"}


def test_no_types_no_readings():
    telemetry = _telemetry.TaskTelemetry(Settings(telemetry=[]))
    assert telemetry.start() == [] and telemetry.end() == []


def test_values_are_wire_safe_and_tables_are_json():
    pairs = _telemetry.TaskTelemetry(Settings(telemetry=ALL_TYPES)).start()
    wire.validate_record(
        wire.element("entity", "ex:t", [("prov:type", wire.qualified_name("pg:Telemetry")), *pairs])
    )
    values = dict(pairs)
    assert len(json.loads(values["pg:cpu_percent_per_cpu"])) == os.cpu_count()
    assert len(json.loads(values["pg:cpu_times_per_cpu"])) == os.cpu_count()
    assert isinstance(json.loads(values["pg:disk_io_per_disk"]), dict)
    assert isinstance(json.loads(values["pg:network_per_interface"]), dict)
    assert json.loads(values["pg:process_cmd_line"])[0]
    assert values["pg:process_pid"] == os.getpid()
    assert 0 <= values["pg:cpu_percent"] <= 100


def test_process_readings_follow_what_the_task_did(tmp_path):
    telemetry = _telemetry.TaskTelemetry(Settings(telemetry=["process"]))
    start = dict(telemetry.start())
    with open(tmp_path / "out.bin", "wb") as handle:  # 256 KiB written through write(2)
        for _ in range(64):
            handle.write(b"x" * 4096)
            handle.flush()
    busy = 0
    while _cpu(dict(telemetry.end())) - _cpu(start) < 0.02:  # at least 20 ms of CPU
        busy += sum(range(10_000))
    end = dict(telemetry.end())
    assert end["pg:process_io_write_chars"] - start["pg:process_io_write_chars"] >= 64 * 4096
    assert end["pg:process_io_write_count"] - start["pg:process_io_write_count"] >= 64
    assert end["pg:process_cpu_percent"] > 0
    assert end["pg:process_rss_bytes"] > 0 and end["pg:process_num_threads"] >= 1


def _cpu(values):
    return values["pg:process_cpu_times_user_s"] + values["pg:process_cpu_times_system_s"]


def test_sampler_is_one_daemon_thread_and_stops():
    _telemetry.TaskTelemetry(Settings(telemetry=["cpu"])).start()
    sampler = _telemetry._sampler
    threads = [t for t in threading.enumerate() if t.name == "provgraph-telemetry"]
    assert len(threads) == 1 and threads[0].daemon and threads[0] is sampler.thread
    sampler.stop()
    assert not sampler.thread.is_alive()
    # the next task restarts it, with a fresh sample
    pairs = dict(_telemetry.TaskTelemetry(Settings(telemetry=["cpu"])).start())
    assert sampler.thread.is_alive() and pairs["pg:sample_age_ms"] < 2 * 500


def test_telemetry_snapshot_is_public_and_flat():
    snapshot = capture.telemetry_snapshot(["cpu", "memory"])
    assert {k[3:] for k in KEYS["cpu"] | KEYS["memory"]} <= set(snapshot)
    assert not any(k.startswith(("process_", "disk_", "network_", "gpu_", "machine_")) for k in snapshot)
    with_machine = capture.telemetry_snapshot(["machine"], settings=Settings())
    assert with_machine["machine_hostname"] and with_machine["machine_host_id"] == _telemetry.machine_id()
    assert "telemetry_snapshot" in capture.__all__


def test_unknown_type_is_ignored_with_a_warning(caplog):
    telemetry = _telemetry.TaskTelemetry(Settings(telemetry=["cpu", "bogus"]))
    assert KEYS["cpu"] <= _names(telemetry.start())
    assert "bogus" in caplog.text


def test_telemetry_task_records_start_and_end_entities(memory_emitter):
    @capture.task(telemetry=True)
    def work(x):
        return x * 2

    with capture.Workflow("telemetry-unit"):
        work(21)
    records = memory_emitter.records()
    telemetry = [r for r in records if r["k"] == "entity" and ["prov:type", TELEMETRY_TYPE] in r["a"]]
    assert sorted(dict(map(tuple, r["a"]))["pg:phase"] for r in telemetry) == ["end", "start"]
    for record in telemetry:
        names = {name for name, _ in record["a"]}
        for kind, keys in KEYS.items():
            assert keys <= names, f"{kind}: missing {sorted(keys - names)}"
    generated = {r["f"]["entity"] for r in records if r["k"] == "wasGeneratedBy"}
    assert {r["id"] for r in telemetry} <= generated
    machines = [r for r in records if r["k"] == "agent" and r["id"].startswith("pgid:machine_")]
    assert len(machines) == 1


def test_import_capture_loads_no_psutil():
    code = "import sys, capture; capture.task; capture.telemetry_snapshot; print('psutil' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- on the real services ---------------------------------------------------------------------------------------

SECRET = "hunter2-" + os.urandom(4).hex()
RUN_SCRIPT = textwrap.dedent(
    """
    import capture

    @capture.task(telemetry=True)
    def crunch(n):
        return sum(range(n))

    with capture.Workflow("telemetry-graph-test") as run:
        crunch(100_000)
    print("run:", run.id)
    """
)


@pytest.mark.services
def test_telemetry_nodes_in_neo4j_carry_every_enabled_key_and_no_secret(
    redis_client, neo4j_backend, unique, tmp_path
):
    from provgraph.loader import load_messages

    enabled = ["cpu", "process", "memory", "machine"]
    stream = f"provgraph:test:{unique}:telemetry"
    env = {
        **os.environ,
        "PROVGRAPH_REDIS_URL": os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "PROVGRAPH_SINK": "redis",
        "PROVGRAPH_STREAM": stream,
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "PROVGRAPH_TELEMETRY": ",".join(enabled),
        "PROVGRAPH_TEST_SECRET_TOKEN": SECRET,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    for name in ("PROVGRAPH_DISABLED", "PROVGRAPH_SETTINGS"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, "--api-token", SECRET],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: "))
    try:
        entries = redis_client.xrange(stream)
        messages = [wire.decode_message(fields[wire.FIELD.encode()]) for _, fields in entries]
        assert messages, "nothing reached the stream"
        load_messages(neo4j_backend, messages)
    finally:
        redis_client.delete(stream)

    rows = neo4j_backend.read(
        """
        MATCH (t:Telemetry)-[:wasGeneratedBy]->(task:Task)-[:wasStartedBy]->(:WorkflowRun {id: $run})
        RETURN t.phase AS phase, properties(t) AS props
        """,
        {"run": run_id},
    )
    assert sorted(row["phase"] for row in rows) == ["end", "start"]
    for row in rows:
        names = {f"pg:{name}" for name in row["props"]}
        for kind in ("cpu", "process", "memory"):
            assert KEYS[kind] <= names, f"{row['phase']}: {kind} missing {sorted(KEYS[kind] - names)}"
        for kind in ("disk", "network", "gpu"):
            assert not _of_type(names, kind), f"{kind} is off but reached the graph"

    machine = neo4j_backend.read(
        """
        MATCH (:WorkflowRun {id: $run})-[:wasAssociatedWith]->(m:Machine)
        RETURN properties(m) AS props
        """,
        {"run": run_id},
    )
    assert len(machine) == 1
    props = machine[0]["props"]
    assert props["host_id"] == _telemetry.machine_id() and props["cpu_brand"]
    assert "environment" not in props, "the environment is the run's (its RunSnapshot), not the machine's"
    snapshot = neo4j_backend.read(
        "MATCH (r:WorkflowRun)-[:used]->(s:Entity) WHERE r.id = $run AND 'pg:RunSnapshot' IN s.types "
        "RETURN s.environment AS environment, s.process_cmd_line AS cmd_line",
        {"run": run_id},
    )
    assert len(snapshot) == 1, snapshot
    environment = json.loads(snapshot[0]["environment"])
    assert environment["PROVGRAPH_TEST_SECRET_TOKEN"].startswith("[REDACTED:PROVGRAPH_TEST_SECRET_TOKEN len=")
    assert "[REDACTED:api-token len=" in snapshot[0]["cmd_line"] and SECRET not in snapshot[0]["cmd_line"]

    # The run, its tasks, and every node and relationship this run's document wrote next to them (values,
    # telemetry, agents, the machine), declarations (`_decl`, `_rec`) included.
    everything = neo4j_backend.read(
        """
        MATCH (run:WorkflowRun {id: $run})
        OPTIONAL MATCH (task:Task)-[:wasStartedBy*1..2]->(run)
        WITH run, collect(DISTINCT task) AS tasks
        UNWIND [run] + tasks AS activity
        OPTIONAL MATCH (activity)-[r]-(other) WHERE r.doc = $run
        RETURN properties(activity) AS node, collect(properties(other)) AS others, collect(properties(r)) AS rels
        """,
        {"run": run_id},
    )
    assert len(everything) == 2  # the run and its task
    text = json.dumps(everything, default=str)
    assert "PROVGRAPH_TEST_SECRET_TOKEN" in text, "the environment was not among what was searched"
    assert "hunter2" not in text, "a secret reached Neo4j"
    assert (
        "--api-token" in text and "[REDACTED:api-token len=" in text
    )  # the command line is there, its value is not

    from provgraph.prov.export import export_document, serialize

    document = export_document(neo4j_backend, run=run_id)
    for fmt in ("json", "provn"):
        exported = serialize(document, fmt)
        assert "hunter2" not in exported, f"a secret reached the {fmt} export"
        assert "cpu_percent" in exported and "pg:Telemetry" in exported and "pg:Machine" in exported


FORK_SCRIPT = textwrap.dedent(
    """
    import json, os
    from capture import _telemetry
    from capture.settings import Settings

    settings = Settings(telemetry=["process", "cpu"])
    parent = dict(_telemetry.TaskTelemetry(settings).start())
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        values = dict(_telemetry.TaskTelemetry(settings).start())
        alive = _telemetry._sampler.thread.is_alive()
        os.write(write, json.dumps([os.getpid(), values["pg:process_pid"], values["pg:process_rss_bytes"], alive]).encode())
        os._exit(0)
    os.waitpid(child, 0)
    print(json.dumps([child, parent["pg:process_pid"], os.read(read, 65536).decode()]))
    """
)


def test_after_fork_the_child_reads_its_own_process():
    out = subprocess.run(
        [sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    child, parent_pid, child_report = json.loads(out.stdout)
    child_pid, recorded_pid, rss, sampler_alive = json.loads(child_report)
    assert recorded_pid == child_pid == child != parent_pid
    assert rss > 0 and sampler_alive
