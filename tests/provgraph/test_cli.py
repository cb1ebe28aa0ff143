"""The `provgraph` command's own behaviour: failures are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys


def _provgraph(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provgraph", *args], capture_output=True, text=True, timeout=60, env=env
    )


def test_a_bad_setting_is_one_line_naming_the_variable(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PROVGRAPH_FLUSH_INTERVAL_MS": "abc"}
    result = _provgraph("runs", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "PROVGRAPH_FLUSH_INTERVAL_MS" in result.stderr and result.stderr.count("\n") == 1


def test_an_unreachable_graph_is_one_line_with_a_hint(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PROVGRAPH_GRAPH_URL": "bolt://127.0.0.1:9"}
    result = _provgraph("runs", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        "cannot reach Neo4j at bolt://127.0.0.1:9" in result.stderr
        and "provgraph services up" in result.stderr
    )
