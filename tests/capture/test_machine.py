"""The machine snapshot and its agent record: contents, one reading per process, redaction of secrets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from capture import _telemetry, wire
from capture._agents import is_host_fact, machine_agent_record, run_snapshot_records
from capture._redaction import REDACTED, Redactor
from capture._telemetry import machine_info
from capture.settings import Settings

MACHINE_KEYS = {
    "host_id", "hostname", "login", "platform",
    *(f"platform_{f}" for f in ("system", "node", "release", "version", "machine", "processor")),
    "python_version", "python_implementation",
    "cpu_brand", "cpu_vendor", "cpu_arch", "cpu_bits", "cpu_count", "cpu_count_physical",
    "memory_virtual_total_bytes", "memory_virtual_available_bytes", "memory_swap_total_bytes",
    "disk_usage_total_bytes", "disk_usage_free_bytes", "disk_usage_percent",
    "network_addresses", "process_pid", "process_rss_bytes", "process_executable", "process_cmd_line",
    "process_num_open_file_descriptors", "environment",
}  # fmt: skip


@pytest.fixture
def fresh_cache(monkeypatch):
    """machine_info reads once per process: each test starts from an empty cache."""
    monkeypatch.setattr(_telemetry, "_machine_cache", {})


def test_machine_info_has_every_part(fresh_cache):
    info = machine_info(Settings(telemetry=["machine"]))
    assert MACHINE_KEYS <= set(info), sorted(MACHINE_KEYS - set(info))
    assert all(isinstance(v, str | int | float | bool) for v in info.values())
    assert isinstance(json.loads(info["network_addresses"]), dict)
    assert isinstance(json.loads(info["environment"]), dict)
    if sys.platform.startswith("linux"):
        assert info["cpu_flags"] and info["cpu_brand"] != ""


def test_machine_info_is_read_once_per_process(fresh_cache):
    settings = Settings(telemetry=["machine"])
    assert machine_info(settings) is machine_info(settings)
    assert machine_info(settings)["host_id"] == _telemetry.machine_id() == _telemetry.machine_id()


def test_machine_off_keeps_only_the_host(fresh_cache):
    assert set(machine_info(Settings(telemetry=["cpu"]))) == {"host_id", "hostname"}


def _redacted(value: str, name: str) -> bool:
    return value.startswith(f"{REDACTED}:{name} len=")


def test_secret_named_variables_are_redacted(fresh_cache, monkeypatch):
    monkeypatch.setenv("PROVGRAPH_TEST_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("MY_API_KEY", "hunter2")
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    monkeypatch.setenv("PGPASS", "hunter2")
    monkeypatch.setenv("MY_CREDS", "hunter2")
    monkeypatch.setenv("DATABASE_URL", "postgres://app:hunter2@db.example:5432/x")
    monkeypatch.setenv("PROVGRAPH_TEST_PLAIN", "visible-value")
    monkeypatch.setenv("PROVGRAPH_TEST_SESSION_ID", "sess-42")
    info = machine_info(Settings(telemetry=["machine"]))
    environment = json.loads(info["environment"])
    for name in ("PROVGRAPH_TEST_SECRET_TOKEN", "MY_API_KEY", "DB_PASSWORD", "PGPASS", "MY_CREDS"):
        assert _redacted(environment[name], name), name
    assert environment["DATABASE_URL"].startswith("postgres://app:[REDACTED:")
    assert environment["DATABASE_URL"].endswith("]@db.example:5432/x")
    assert environment["PROVGRAPH_TEST_PLAIN"] == "visible-value"
    assert environment["PROVGRAPH_TEST_SESSION_ID"] == "sess-42"
    record = machine_agent_record(Settings(telemetry=["machine"]))
    assert "hunter2" not in json.dumps(record)


def test_allow_and_deny_lists_are_settings(fresh_cache, monkeypatch):
    monkeypatch.setenv("PROVGRAPH_TEST_SECRET_TOKEN", "hunter2")
    monkeypatch.setenv("PROVGRAPH_TEST_COLOUR", "blue")
    settings = Settings(
        telemetry=["machine"], redact_allow=["PROVGRAPH_TEST_SECRET_TOKEN"], redact_deny=["colour"]
    )
    environment = json.loads(machine_info(settings)["environment"])
    assert environment["PROVGRAPH_TEST_SECRET_TOKEN"] == "hunter2"  # explicitly allowed
    assert _redacted(environment["PROVGRAPH_TEST_COLOUR"], "PROVGRAPH_TEST_COLOUR")


def test_environment_names_are_case_insensitive():
    shown = Redactor().environment({"github_token": "x", "HOME": "/root"})
    assert _redacted(shown["github_token"], "github_token") and shown["HOME"] == "/root"


def test_command_line_is_redacted(fresh_cache, monkeypatch):
    argv = ["train.py", "--api-key=abc", "--token", "xyz", "--epochs", "3", "--verbose", "redis://u:pw@h/0"]
    monkeypatch.setattr(_telemetry, "_constants", None)
    monkeypatch.setattr(_telemetry, "_command_line", lambda: argv)
    info = machine_info(Settings(telemetry=["machine"]))
    shown = json.loads(info["process_cmd_line"])
    assert shown[0] == "train.py" and shown[2] == "--token" and shown[4:7] == ["--epochs", "3", "--verbose"]
    assert _redacted(shown[1].split("=", 1)[1], "api-key") and _redacted(shown[3], "token")
    assert shown[7].startswith("redis://u:[REDACTED:url-password")


def test_agent_record_is_a_machine_agent_with_the_host_facts_only(fresh_cache):
    record = machine_agent_record(Settings(telemetry=["machine"]))
    wire.validate_record(record)
    assert record["k"] == "agent" and record["id"] == f"pgid:machine_{_telemetry.machine_id()}"
    attrs = dict(map(tuple, record["a"]))
    assert attrs["prov:type"] == wire.qualified_name("pg:Machine")
    host = {k for k in MACHINE_KEYS if is_host_fact(k)}
    assert {"host_id", "platform", "cpu_brand", "memory_virtual_total_bytes"} <= host
    assert {f"pg:{k}" for k in host} <= set(attrs)
    assert not {f"pg:{k}" for k in MACHINE_KEYS - host} & set(
        attrs
    )  # environment, pid, memory in use: per run


def test_each_run_gets_its_own_snapshot_with_the_rest(fresh_cache, monkeypatch):
    from capture._context import Run

    settings = Settings(telemetry=["machine"])
    monkeypatch.setenv("PROVGRAPH_TEST_SNAPSHOT", "first")
    first = run_snapshot_records(Run("pgid:run_a", "a", None), "pgid:machine_x", settings)
    monkeypatch.setenv("PROVGRAPH_TEST_SNAPSHOT", "second")
    second = run_snapshot_records(Run("pgid:run_b", "b", None), "pgid:machine_x", settings)
    for records, value in ((first, "first"), (second, "second")):
        for index, record in enumerate(records):
            wire.validate_record(record, index)
        entity, used, attributed = records
        attrs = dict(map(tuple, entity["a"]))
        assert {f"pg:{k}" for k in MACHINE_KEYS if not is_host_fact(k)} <= set(attrs)
        assert json.loads(attrs["pg:environment"])["PROVGRAPH_TEST_SNAPSHOT"] == value
        assert attrs["pg:gpu_unavailable"]  # no GPU read: the snapshot says why
        assert used["k"] == "used" and used["f"]["entity"] == entity["id"]
        assert attributed["f"] == {"entity": entity["id"], "agent": "pgid:machine_x"}
    assert first[0]["id"] != second[0]["id"]


def test_machine_info_never_runs_py_cpuinfo():
    code = (
        "import sys, capture._telemetry as t; from capture.settings import Settings; "
        "t.machine_info(Settings(telemetry=['machine'])); print('cpuinfo' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc reader is Linux's")
def test_linux_snapshot_matches_psutil():
    mine, theirs = _telemetry._linux_resources(), _telemetry._psutil_resources()
    assert set(mine) == set(theirs)

    def addresses(text):
        return {
            nic: sorted(json.dumps(a, sort_keys=True) for a in entries)
            for nic, entries in json.loads(text).items()
        }

    assert addresses(mine["network_addresses"]) == addresses(theirs["network_addresses"])
    for key in ("memory_virtual_total_bytes", "memory_swap_total_bytes", "disk_usage_total_bytes"):
        assert mine[key] == theirs[key], key
    for key in ("memory_virtual_available_bytes", "disk_usage_used_bytes"):  # moving values: close, not equal
        assert abs(mine[key] - theirs[key]) <= 0.05 * theirs[key] + 2**20, key


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the /proc reader is Linux's")
def test_machine_snapshot_needs_no_psutil_on_linux():
    code = (
        "import sys, capture._telemetry as t; from capture.settings import Settings; "
        "t.machine_info(Settings(telemetry=['machine'])); print('psutil' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
