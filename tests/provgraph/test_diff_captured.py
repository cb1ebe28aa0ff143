"""`provgraph diff` on two runs that capture really wrote: pool tasks started together, one parameter changed.

Run 1 starts scale(x) for x = 1.5, 2.5, 3.5 on a thread pool, run 2 for x = 3.5, 2.5, 1.5 (so start order pairs them wrongly)
with another factor; both runs then combine the results. The diff must pair scale(x) with scale(x), name the
factor as the cause in each scale step and combine as their consequence, on both backends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from provgraph.client import Client, InputValue

POOL_WORKFLOW = """
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import capture

token = sys.argv[1]
start = threading.Barrier(3)


@capture.task(output_names="scaled")
def scale(x, factor):
    return x * factor


@capture.task(output_names="total")
def combine(first, second, third):
    return first + second + third


def started_together(x, factor):
    start.wait()  # the three tasks begin at (nearly) the same instant
    return scale(x, factor)


# floats: small ints are shared objects in CPython, and capture links values by object identity
for factor, order in ((2.0, (1.5, 2.5, 3.5)), (3.0, (3.5, 2.5, 1.5))):
    with capture.Workflow(f"pool_{token}") as run:
        with ThreadPoolExecutor(3) as pool:
            futures = []
            for x in order:
                futures.append(pool.submit(started_together, x, factor))
                time.sleep(0.01)
            results = sorted(f.result() for f in futures)
        combine(*results)
    print("run:", run.id)
"""


def test_diff_of_captured_pool_runs_names_the_parameter_and_pairs_by_input(graph_backend, tmp_path):
    from capture import read_buffer
    from provgraph.loader import load_messages

    token = uuid.uuid4().hex[:12]
    script = tmp_path / "pool.py"
    script.write_text(POOL_WORKFLOW)
    env = {
        **os.environ,
        "PROVGRAPH_SINK": "file",
        "PROVGRAPH_BUFFER_PATH": str(tmp_path / "buffer"),
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, str(script), token], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_1, run_2 = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: ")]
    graph_backend.ensure_schema()
    load_messages(graph_backend, read_buffer(tmp_path / "buffer"))
    client = Client(backend=graph_backend)
    diff = client.diff(run_1, run_2)

    steps = client.run("run_diff", run_a=run_1, run_b=run_2, limit=100)
    x_of: dict[str, Any] = {
        row["id"]: next(i["content"] for i in row["inputs"] if i["role"] == "x")
        for row in steps
        if row["name"] == "scale"
    }
    scale_pairs = [(a, b) for a, b in diff.pairs if a in x_of]
    assert len(scale_pairs) == 3 and all(x_of[a] == x_of[b] for a, b in scale_pairs)  # no false pairing

    assert [(c.name, c.cause, c.removed_inputs, c.added_inputs) for c in diff.causes] == [
        ("scale", True, (InputValue("factor", 2.0),), (InputValue("factor", 3.0),))
    ] * 3
    (combine,) = diff.consequences
    assert (combine.name, combine.cause) == ("combine", False)
    assert set(combine.because) == {b for _a, b in scale_pairs}
    assert not diff.added and not diff.removed
