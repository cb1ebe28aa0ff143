"""Helpers of the adapter tests: a real workload on the real library runs in a subprocess with the file sink; its messages are
loaded through the loader library into Neo4j and into the embedded engine (`any_backend`), and the graph of the
run is compared with the exact graph the adapter must have produced. Each test removes the documents it loaded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from capture import read_buffer

ROOT = Path(__file__).resolve().parents[2]


def run_captured(script: str, tmp: Path, *args: str, timeout_s: float = 180) -> tuple[dict[str, str], list]:
    """Run ``script`` (Python text) in a fresh interpreter with capture writing to a file sink; return the
    ``name: value`` lines it printed and the wire messages it produced."""
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "workload.py"
    path.write_text(textwrap.dedent(script))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SINK="file",
        PROVGRAPH_BUFFER_PATH=str(tmp / "buffer"),
        PROVGRAPH_HOME=str(tmp / "home"),
        XDG_CONFIG_HOME=str(tmp / "config"),  # no per-user settings file
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [sys.executable, str(path), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        cwd=tmp,
    )
    assert done.returncode == 0, (
        f"workload failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    return lines, read_buffer(tmp / "buffer")


def edges(backend: Any, doc: str) -> list[dict[str, Any]]:
    """Every relationship recorded in document ``doc``: type, both ends (id, labels, properties), its properties."""
    rows = backend.read(
        "MATCH (s:Element)-[r]->(t:Element) WHERE r.doc = $doc "
        "RETURN type(r) AS type, properties(r) AS props, s.id AS s, labels(s) AS s_labels, properties(s) AS s_props, "
        "t.id AS t, labels(t) AS t_labels, properties(t) AS t_props",
        {"doc": doc},
    )
    return rows
