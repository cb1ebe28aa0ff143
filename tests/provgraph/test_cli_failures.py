"""The command line fails the way a person can read: one line per problem, no traceback on a closed pipe, SIGTERM,
a wrong URL or an unreachable Redis; a second Ctrl-C aborts a graceful stop; `import --via-stream` works on the
embedded default. Every test runs the real `provgraph` command in a subprocess, as a user's shell does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
PROVGRAPH = [sys.executable, "-m", "provgraph"]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PROVGRAPH_HOME=str(tmp_path / "home"),
        PROVGRAPH_SETTINGS=str(tmp_path / "none.yaml"),
        PROVGRAPH_GRAPH_URL=NEO4J_URI,
        PROVGRAPH_REDIS_URL=REDIS_URL,
        PROVGRAPH_STREAM=f"provgraph:test:{uuid.uuid4().hex[:12]}:records",
        PROVGRAPH_CONSUMER_GROUP=f"loader-{uuid.uuid4().hex[:12]}",
    )
    return env


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_closed_pipe_ends_quietly(env):
    ran = subprocess.run(
        f"{sys.executable} -m provgraph query --list | true; {sys.executable} -m provgraph query runs --show | head -1",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in ran.stderr and "BrokenPipeError" not in ran.stderr, ran.stderr
    assert ran.stdout.startswith("// runs: ")


def test_a_wrong_url_is_one_line(env):
    ran = subprocess.run(
        [*PROVGRAPH, "runs"],
        env={**env, "PROVGRAPH_GRAPH_URL": "bolt://127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1 and "cannot reach Neo4j" in _one_line(ran.stderr)
    ran = subprocess.run(
        [*PROVGRAPH, "status", "--no-graph"],
        env={**env, "PROVGRAPH_REDIS_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode != 0 and "Redis" in _one_line(ran.stderr)


@pytest.mark.services  # reaches Neo4j first
def test_load_once_gives_up_on_an_unreachable_redis(env):
    started = time.monotonic()
    ran = subprocess.run(
        [*PROVGRAPH, "load", "--once", "--quiet"],
        env={**env, "PROVGRAPH_REDIS_URL": "redis://127.0.0.1:1/0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = _one_line(ran.stderr)
    assert ran.returncode == 1
    assert "gave up after 10 s: cannot reach Redis at redis://127.0.0.1:1/0" in line
    assert "store" not in line
    assert time.monotonic() - started < 60


def _wait_for(process: subprocess.Popen[str], text: str, timeout_s: float = 60) -> str:
    """Lines of the process's stderr until one contains ``text``."""
    assert process.stderr is not None
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"no {text!r} in {''.join(seen)}")


@pytest.mark.services  # a loader on the real servers
def test_sigterm_ends_a_command_without_traceback(env):
    process = subprocess.Popen(
        [*PROVGRAPH, "tail"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        time.sleep(3)  # python start-up and the first blocking read
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in err, err
    assert process.returncode in (0, 143), (process.returncode, err)


@pytest.mark.services  # a loader on the real servers
def test_a_second_ctrl_c_aborts_the_graceful_stop(env):
    process = subprocess.Popen(
        [*PROVGRAPH, "load"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for(process, "reading ")
        process.send_signal(signal.SIGINT)
        _wait_for(process, "again to abort")
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (0, 130), err  # a stop already finished by then is fine too
    assert "Traceback" not in err, err


@pytest.mark.services  # starts the embedded server
def test_import_via_stream_on_the_embedded_default(env, tmp_path):
    env = {**env, "PROVGRAPH_GRAPH_URL": "embedded", "PROVGRAPH_REDIS_URL": "embedded"}
    env["PROVGRAPH_EMBEDDED_IDLE_S"] = "2"
    document = tmp_path / "doc.json"
    document.write_text(
        json.dumps(
            {
                "prefix": {"ex": "http://example.org/first-run/"},
                "entity": {"ex:result": {}, "ex:input": {}},
                "activity": {"ex:step": {}},
                "used": {"_:u1": {"prov:activity": "ex:step", "prov:entity": "ex:input"}},
                "wasGeneratedBy": {"_:g1": {"prov:entity": "ex:result", "prov:activity": "ex:step"}},
            }
        )
    )
    try:
        ran = subprocess.run(
            [*PROVGRAPH, "import", str(document), "--via-stream"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert "queued on the stream" in ran.stdout
        lineage = subprocess.run(
            [*PROVGRAPH, "lineage", "ex:result", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert lineage.returncode == 0, lineage.stderr
        assert {row["id"] for row in json.loads(lineage.stdout)} >= {"ex:step", "ex:input"}
    finally:
        subprocess.run([*PROVGRAPH, "embedded", "down"], env=env, capture_output=True, timeout=120)
