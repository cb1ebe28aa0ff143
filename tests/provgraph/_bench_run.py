"""Run a benchmark script from bench/ at a tiny size against the test servers; its last line parsed as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from _known_graph import NEO4J_URI

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def run_bench(script: str, args: list[str], tmp_path: Path) -> tuple[dict[str, Any], str]:
    """(the JSON of the last line, all of stdout); fails the test with stderr's tail if the script fails."""
    env = {
        **os.environ,
        "PROVGRAPH_GRAPH_URL": NEO4J_URI,
        "PROVGRAPH_REDIS_URL": REDIS_URL,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout
