"""bench/adapters_overhead.py runs at a tiny size and its last line is the JSON the issue asks for (no timing is
asserted: figures come from the full run, docs/adapters.md "Overheads")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _adapter_helpers import ROOT

pytestmark = pytest.mark.adapters


def test_the_bench_reports_each_ratio_to_the_uninstrumented_run(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROVGRAPH_")}
    env.update(PYTHONPATH=str(ROOT), XDG_CONFIG_HOME=str(tmp_path / "config"))
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "adapters_overhead.py"),
            "--dask-tasks",
            "20",
            "--forwards",
            "20",
        ]
        + ["--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["dask_tasks"] == 20 and figures["torch_forwards"] == 20
    for key in ("dask_ratio", "dask_ratio_with_flush", *(f"torch_depth{d}_ratio" for d in (0, 1, 2))):
        assert figures[key] > 0, key
    assert [figures[f"torch_depth{d}_tasks_per_forward"] for d in (0, 1, 2)] == [1, 3, 7]
