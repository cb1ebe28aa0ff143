"""The reference system, installed from PyPI into the benchmarks' own virtual environment.

Benchmarks compare provgraph with ORNL's Flowcept in one run. Flowcept is not a dependency of provgraph: it is
installed once into ``$PROVGRAPH_BENCH_VENV`` (default ``~/.cache/provgraph/bench-flowcept``) and run there as a
subprocess that prints one JSON object.

Example::

    from bench._peer import run_in_peer

    figures = run_in_peer(PEER_SCRIPT, timeout_s=600)   # PEER_SCRIPT prints one JSON object as its last line
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

FLOWCEPT_VERSION = "1.0.3"


def peer_venv() -> Path:
    return Path(
        os.environ.get("PROVGRAPH_BENCH_VENV", Path.home() / ".cache" / "provgraph" / "bench-flowcept")
    )


def peer_python() -> str:
    """Path of the peer environment's Python, creating it (pip install flowcept==VERSION) when missing."""
    root = peer_venv()
    python = root / "bin" / "python"
    marker = root / f".flowcept-{FLOWCEPT_VERSION}"
    if not marker.exists():
        print(
            f"bench: installing flowcept=={FLOWCEPT_VERSION} into {root} (once)", file=sys.stderr, flush=True
        )
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                f"flowcept=={FLOWCEPT_VERSION}",
                "psutil",
                "py-cpuinfo",
                "redis",
            ],
            check=True,
        )
        marker.touch()
    return str(python)


def run_in_peer(script: str, timeout_s: float = 900, env: dict[str, str] | None = None) -> dict:
    """Run ``script`` (Python source) with the peer's interpreter; return the JSON object on its last line."""
    completed = subprocess.run(
        [peer_python(), "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, **(env or {})},
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"peer benchmark failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    return json.loads(lines[-1])
