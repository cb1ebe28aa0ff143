"""Adapter overheads: a Dask graph with and without the provenance plugin, a small torch model's forward at
instrumentation depth 0, 1 and 2, each as a ratio to the uninstrumented run. No services: capture's in-memory sink.

- Dask: a LocalCluster (``processes=False``, one worker, two threads) computes a graph of ``--dask-tasks`` small
  tasks (``--dask-tasks - 1`` independent ``inc`` tasks and one ``sum`` over them), with and without
  `capture.adapters.dask.instrument`, alternating, ``--repeats`` times each. ``dask_ratio``: wall time to the
  result, plugin against none (median of repeats); ``dask_ratio_with_flush`` adds the time until capture's emitter
  has turned every task into records and written them (the whole cost).
- torch: a small MLP (``encoder``: Linear 32->64, ReLU, Linear 64->64, ReLU; ``head``: Linear 64->1; 3 modules at
  depth 1, 6 at depth 2) on a batch of 16, in ``torch.no_grad()``, ``--forwards`` forwards per repeat. Per mode:
  microseconds per forward on the calling thread (``*_us``: what the training loop pays while the emitter keeps up)
  and including the emitter's work (``*_total_us``), with ``*_ratio`` and ``*_total_ratio`` against the plain
  model, and ``*_tasks_per_forward``.

Run: ``python bench/adapters_overhead.py [--dask-tasks 1000] [--forwards 2000] [--repeats 5]``. Progress goes to
stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CHUNK = 500
"""Forwards per timed chunk; the emitter is flushed between chunks."""


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _capture_on() -> Any:
    from capture import _context
    from capture._emitter import Emitter
    from capture.settings import Settings

    home = tempfile.mkdtemp(prefix="provgraph-bench-adapters-")
    # The emitter stays idle during a timed chunk (no timer, no size wake-up); the flush after it times its work.
    settings = Settings.load(home=home, sink="memory", flush_interval_ms=600_000, flush_max_records=20_000)
    _context.set_enabled(True, settings)
    emitter = Emitter(settings)
    _context.use_emitter(emitter)
    return emitter


def _flush(emitter: Any) -> None:
    import capture

    capture.flush(timeout_s=600)
    emitter.sink.payloads.clear()  # keep memory flat; the bytes were produced


def _inc(x: int) -> int:
    return x + 1


def _total(values: list[int]) -> int:
    return sum(values)


def bench_dask(tasks: int, repeats: int, emitter: Any) -> dict[str, Any]:
    from dask.distributed import Client, LocalCluster

    import capture
    from capture.adapters.dask import instrument

    def graph(client: Any) -> float:
        start = time.perf_counter()
        parts = client.map(_inc, range(tasks - 1), pure=False)
        result = client.submit(_total, parts, pure=False).result()
        elapsed = time.perf_counter() - start
        assert result == sum(range(1, tasks))
        del parts
        return elapsed

    plain, plugin, plugin_flushed = [], [], []
    with capture.Workflow("bench_adapters_dask"):
        with LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster:
            with Client(cluster) as client:
                graph(client)  # warm-up: imports, first task of each kind
                for index in range(repeats):
                    plain.append(graph(client))
                    instrument(client, name="provgraph-bench")
                    seconds = graph(client)
                    start = time.perf_counter()
                    _flush(emitter)
                    plugin.append(seconds)
                    plugin_flushed.append(seconds + time.perf_counter() - start)
                    client.unregister_scheduler_plugin("provgraph-bench")
                    _progress(
                        f"dask repeat {index + 1}/{repeats}: plain {plain[-1]:.3f} s, plugin {plugin[-1]:.3f} s "
                        f"({plugin_flushed[-1]:.3f} s with the emitter's work)"
                    )
    base = statistics.median(plain)
    return {
        "dask_tasks": tasks,
        "dask_plain_s": round(base, 4),
        "dask_plugin_s": round(statistics.median(plugin), 4),
        "dask_plugin_with_flush_s": round(statistics.median(plugin_flushed), 4),
        "dask_ratio": round(statistics.median(plugin) / base, 3),
        "dask_ratio_with_flush": round(statistics.median(plugin_flushed) / base, 3),
    }


def bench_torch(forwards: int, repeats: int, emitter: Any) -> dict[str, Any]:
    import torch

    import capture
    from capture.adapters import torch as pg_torch

    class SmallNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = torch.nn.Sequential(
                torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU()
            )
            self.head = torch.nn.Linear(64, 1)

        def forward(self, x: Any) -> Any:
            return self.head(self.encoder(x))

    torch.manual_seed(0)
    torch.set_num_threads(1)  # steadier figures on a shared machine
    batch = torch.randn(16, 32)
    models = {"plain": SmallNet()}
    for depth in (0, 1, 2):
        models[f"depth{depth}"] = pg_torch.instrument_model(SmallNet(), depth=depth)
    modules_at = {"plain": 0, "depth0": 1, "depth1": 3, "depth2": 7}  # forwards recorded per model forward

    def measure(model: Any) -> tuple[float, float]:
        per_forward, total = [], []
        for _ in range(repeats):
            loop_ns = drain_ns = 0
            done = 0
            while done < forwards:
                size = min(CHUNK, forwards - done)
                start = time.perf_counter_ns()
                with torch.no_grad():
                    for _ in range(size):
                        model(batch)
                middle = time.perf_counter_ns()
                _flush(emitter)
                loop_ns += middle - start
                drain_ns += time.perf_counter_ns() - middle
                done += size
            per_forward.append(loop_ns / forwards / 1000)
            total.append((loop_ns + drain_ns) / forwards / 1000)
        return statistics.median(per_forward), statistics.median(total)

    results: dict[str, Any] = {"torch_forwards": forwards}
    with capture.Workflow("bench_adapters_torch"):
        for model in models.values():
            measure(model)  # warm-up (and the profile, sent once per run)
        figures = {}
        for name, model in models.items():
            figures[name] = measure(model)
            _progress(
                f"torch {name}: {figures[name][0]:.1f} us per forward ({figures[name][1]:.1f} us in all)"
            )
    plain_us, plain_total = figures["plain"]
    results["torch_plain_us"] = round(plain_us, 2)
    for depth in (0, 1, 2):
        us, total_us = figures[f"depth{depth}"]
        results[f"torch_depth{depth}_us"] = round(us, 2)
        results[f"torch_depth{depth}_total_us"] = round(total_us, 2)
        results[f"torch_depth{depth}_ratio"] = round(us / plain_us, 2)
        results[f"torch_depth{depth}_total_ratio"] = round(total_us / plain_total, 2)
        results[f"torch_depth{depth}_tasks_per_forward"] = modules_at[f"depth{depth}"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dask-tasks", type=int, default=1000, help="tasks in the Dask graph (default 1000)")
    parser.add_argument("--forwards", type=int, default=2000, help="torch forwards per repeat (default 2000)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each measurement (default 5)")
    options = parser.parse_args()
    if options.dask_tasks < 2 or options.forwards < 1 or options.repeats < 1:
        parser.error("--dask-tasks must be 2 or more, --forwards and --repeats 1 or more")
    os.environ.pop("PROVGRAPH_DISABLED", None)
    emitter = _capture_on()
    results: dict[str, Any] = {"cpu_count": os.cpu_count(), "repeats": options.repeats}
    results.update(bench_dask(options.dask_tasks, options.repeats, emitter))
    results.update(bench_torch(options.forwards, options.repeats, emitter))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
