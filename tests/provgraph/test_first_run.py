"""The first-run experience on the embedded default, as a new user meets it (issue #21).

The README quickstart runs in a fresh PROVGRAPH_HOME with no server started by hand: capture starts the automatic
loader (`provgraph.autoload`), which starts the embedded server and loads the records, so `provgraph runs` lists
the run right after the script, and `provgraph find` + `provgraph lineage` answer. Every test ends with no process
left behind for its data directory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_quickstart() -> str:
    """The Python block under README.md's "Capture in your code" heading, as a user copies it."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Capture in your code", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md lost its quickstart snippet"
    return match.group(1)


def first_run_env(home: Path, idle_s: float = 3.0) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_HOME=str(home),
        PROVGRAPH_SETTINGS=str(home / "no-settings.yaml"),
        PROVGRAPH_EMBEDDED_IDLE_S=str(idle_s),
        PYTHONPATH=str(ROOT),
    )
    return env


def provgraph(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provgraph", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def processes_of(home: Path) -> list[int]:
    """Pids of live processes whose command line or environment names ``home`` (server, automatic loader)."""
    needle = str(home).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().split(") ", 1)[1][:1] == "Z":
                continue
            if needle in (entry / "cmdline").read_bytes() or needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_until_gone(home: Path, timeout_s: float) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while (left := processes_of(home)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.fixture
def fresh_home(tmp_path):
    home = tmp_path / "home"
    yield home
    provgraph(first_run_env(home), "embedded", "down")
    left = wait_until_gone(home, 30)
    for pid in left:  # never leave anything behind, even when the test failed
        os.kill(pid, 9)
    assert not left, f"processes left behind for {home}: {left}"


@pytest.mark.services  # starts the embedded server
def test_readme_quickstart_reaches_the_graph_with_no_command(fresh_home, tmp_path):
    # idle long enough that the loader is still there for `embedded status` on a slow machine (the fixture stops it)
    env = first_run_env(fresh_home, idle_s=120.0)
    script = tmp_path / "quickstart.py"
    script.write_text(readme_quickstart())
    ran = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""  # nothing spilled, nothing to worry a user

    runs = provgraph(env, "runs")
    assert runs.returncode == 0, runs.stderr
    assert re.search(r"^quickstart .* FINISHED +2 +2 +0 +0 +pgid:run_", runs.stdout, re.M), runs.stdout

    found = provgraph(env, "find", "--role", "o2", "--json")
    assert found.returncode == 0, found.stderr
    import json

    rows = json.loads(found.stdout)
    assert [row["value"] for row in rows] == [8]
    lineage = provgraph(env, "lineage", rows[0]["id"])
    assert lineage.returncode == 0, lineage.stderr
    assert "mult_two" in lineage.stdout and "sum_one" in lineage.stdout

    status = provgraph(env, "embedded", "status")
    assert "automatic loader: running" in status.stdout


@pytest.mark.services  # starts the embedded server
def test_the_automatic_loader_stops_when_idle_and_concurrent_scripts_share_it(fresh_home, tmp_path):
    env = first_run_env(fresh_home, idle_s=1.0)
    script = tmp_path / "quickstart.py"
    script.write_text(readme_quickstart())
    scripts = [
        subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for process in scripts:
        assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    # nothing connected, nothing to load: the loader and the server it started go away by themselves
    assert wait_until_gone(fresh_home, 30) == []
    log = (fresh_home / "embedded" / "autoload.log").read_text()
    assert "idle for 1 s; stopping" in log and "stopped the embedded server" in log

    runs = provgraph(env, "runs", "--json")  # records persisted: a later command still sees all three runs
    assert runs.returncode == 0, runs.stderr
    assert runs.stdout.count('"workflow": "quickstart"') == 3


def test_demo_writes_into_provgraph_home_not_the_current_directory(fresh_home, tmp_path):
    cwd = tmp_path / "where-the-user-is"
    cwd.mkdir()
    ran = subprocess.run(
        [sys.executable, "-m", "provgraph", "demo", "--epochs", "2"],
        env=first_run_env(fresh_home),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert list(cwd.iterdir()) == []
    demo = fresh_home / "demo"
    assert (demo / "train_model.json").is_file() and (demo / "train_model.ttl").is_file()
    assert (demo / "work" / "measurements.csv").is_file()
    assert str(demo / "train_model.json") in ran.stdout
    # the slowest tasks are tasks, not the loop iterations around them
    slowest = ran.stdout.split("== Slowest tasks", 1)[1].split("==", 1)[0]
    assert "iteration" not in slowest and "train_epoch" in slowest
