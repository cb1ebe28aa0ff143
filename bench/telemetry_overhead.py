"""Telemetry overhead: per-task cost of provgraph's telemetry against the reference system's (Flowcept), one run.

Measured, for two sets of telemetry types (``cpu_mem``: CPU incl. per-CPU, and memory; ``all``: every type, GPU
included, which costs nothing without a GPU):

- ``*_us``: the readings a task takes, per task (start + end), on the calling thread. Ours: ``TaskTelemetry``'s
  ``start()`` + ``end()``; Flowcept's: two ``TelemetryCapture.capture()`` calls, what ``@flowcept_task`` does.
- ``task_*_us``: the same through the decorators: a task with telemetry minus the same task without
  (``@capture.task(telemetry=True)`` vs ``@capture.task``; ``@flowcept_task(capture_telemetry=True/False)``).
  ``task_all_total_us`` adds our emitter's later work for the telemetry entities (encoding, file sink).
- ``workflow_start_ms``: what telemetry adds to a workflow's start: importing ``capture._telemetry`` and taking
  the machine snapshot (``machine_info``, psutil's import included) in a fresh interpreter where ``capture`` and its
  settings are loaded (any workflow loads them), bytecode cached as in an installed package, median of 5
  (``workflow_start_min_ms``: the fastest); ``flowcept_workflow_start_ms``: Flowcept's ``capture_machine_info()``.
- ``first_task_ms``: the first telemetry reading of a fresh process (psutil import, first sample, NVML probe).
- ``sampler_cpu_percent``: CPU the background sampler thread spends, in percent of one core (all types).

Flowcept 1.0.3 runs in its own virtual environment (bench/_peer.py) with its telemetry types switched on in a
settings file (``telemetry_capture`` in the YAML named by ``FLOWCEPT_SETTINGS_PATH``, read at its import), MQ off.

Run: ``python bench/telemetry_overhead.py [--tasks 2000] [--flowcept-tasks 100] [--repeats 5]``.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._peer import run_in_peer  # noqa: E402

ALL_TYPES = ["cpu", "process", "memory", "disk", "network", "gpu", "machine"]
CPU_MEM_TYPES = ["cpu", "memory"]

FLOWCEPT_CONFIGS = {
    "cpu_mem": {"cpu": True, "per_cpu": True, "mem": True},
    "all": {
        "cpu": True,
        "per_cpu": True,
        "process_info": True,
        "mem": True,
        "disk": True,
        "network": True,
        "machine_info": True,
        "gpu": ["used", "temperature", "power", "name", "id"],
    },
}

PEER_SCRIPT = r"""
import json, os, statistics, time
N = int(os.environ["BENCH_TASKS"]); R = int(os.environ["BENCH_REPEATS"])
from flowcept import Flowcept, flowcept_task
from flowcept.flowceptor.telemetry_capture import TelemetryCapture

def timed(body):
    out = []
    for _ in range(R):
        start = time.perf_counter_ns()
        body(N)
        out.append((time.perf_counter_ns() - start) / N / 1000)
    return statistics.median(out)

capturer = TelemetryCapture()
assert capturer.capture() is not None, "telemetry is off: the settings file was not read"

def direct(n):
    for _ in range(n):
        capturer.capture()
        capturer.capture()

@flowcept_task(capture_telemetry=True)
def with_telemetry(x): return x + 1
@flowcept_task(capture_telemetry=False)
def without_telemetry(x): return x + 1

def calls(fn):
    def body(n):
        for _ in range(n): fn(1)
    return body

res = {"direct_us": timed(direct)}
with Flowcept(workflow_name="bench", start_persistence=False, save_workflow=False, check_safe_stops=False):
    res["task_with_us"] = timed(calls(with_telemetry))
    res["task_without_us"] = timed(calls(without_telemetry))
if os.environ.get("BENCH_MACHINE_INFO"):
    start = time.perf_counter()
    info = TelemetryCapture().capture_machine_info()
    res["machine_info_ms"] = (time.perf_counter() - start) * 1000
    res["machine_info_ok"] = info is not None
print(json.dumps(res))
"""


def _median_us(body, n: int, repeats: int) -> float:
    body(min(n, 50))  # warm-up: the sampler's first sample, caches
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        body(n)
        samples.append((time.perf_counter_ns() - start) / n / 1000)
    return statistics.median(samples)


def _fresh_ms(code: str, runs: int = 5) -> tuple[float, float]:
    """Median and minimum over fresh interpreters of what ``code`` prints (milliseconds).

    As in an installed package, bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, so the tree stays
    clean, even where ``PYTHONDONTWRITEBYTECODE`` is set): one discarded run writes it, then ``runs`` are timed.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    values = []
    for _ in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
        )
        values.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(values[1:]), min(values[1:])


_PYCACHE = tempfile.mkdtemp(prefix="provgraph-bench-pycache-")


# capture and its settings are loaded by any workflow; the timer covers what telemetry adds at its start.
WORKFLOW_START_CODE = """
import time
import capture
from capture.settings import Settings
settings = Settings(telemetry={types!r})
start = time.perf_counter()
from capture._telemetry import machine_info
info = machine_info(settings)
assert info["environment"] and info["cpu_brand"]
print((time.perf_counter() - start) * 1000)
"""

FIRST_TASK_CODE = """
import time
from capture._telemetry import TaskTelemetry
from capture.settings import Settings
telemetry = TaskTelemetry(Settings(telemetry={types!r}))
start = time.perf_counter()
telemetry.start()
print((time.perf_counter() - start) * 1000)
"""


def _ours(tasks: int, repeats: int) -> dict[str, float]:
    import capture
    from capture import _context, _telemetry
    from capture.settings import Settings

    res: dict[str, float] = {}
    for label, types in (("cpu_mem", CPU_MEM_TYPES), ("all", ALL_TYPES)):
        settings = Settings(telemetry=types)

        def direct(n: int, settings: Settings = settings) -> None:
            for _ in range(n):
                telemetry = _telemetry.TaskTelemetry(settings)
                telemetry.start()
                telemetry.end()

        res[f"{label}_us"] = _median_us(direct, tasks, repeats)
        print(f"bench: ours {label}: {res[f'{label}_us']:.1f} us per task", file=sys.stderr, flush=True)

    # Through the decorators, with the real emitter writing to the file sink (idle during the measured loops).
    from capture._emitter import get_emitter

    home = tempfile.mkdtemp(prefix="provgraph-bench-")
    base = Settings.load(
        home=home,
        sink="file",
        buffer_path=str(Path(home) / "bench.jsonl"),
        flush_interval_ms=600_000,
        flush_max_records=10_000_000,
        queue_max_records=10_000_000,
    )
    _context.set_enabled(True, base)
    emitter = get_emitter(base)
    _context.use_emitter(emitter)

    def plain(x: int) -> int:
        return x + 1

    with_telemetry = capture.task(telemetry=True)(plain)
    without = capture.task(plain)

    def calls(fn, n: int) -> None:
        for _ in range(n):
            fn(1)

    for label, types in (("cpu_mem", CPU_MEM_TYPES), ("all", ALL_TYPES)):
        _context.set_enabled(True, base.replace(telemetry=types))  # the types new telemetry tasks read
        figures = {}
        with capture.Workflow(f"telemetry_overhead_{label}"):
            for name, fn in (("with", with_telemetry), ("without", without)):
                calls(fn, 50)
                capture.flush(timeout_s=600)
                calling, total = [], []
                for _ in range(repeats):
                    start = time.perf_counter_ns()
                    calls(fn, tasks)
                    middle = time.perf_counter_ns()
                    capture.flush(timeout_s=600)
                    end = time.perf_counter_ns()
                    calling.append((middle - start) / tasks / 1000)
                    total.append((end - start) / tasks / 1000)
                figures[name] = (statistics.median(calling), statistics.median(total))
        res[f"task_{label}_us"] = figures["with"][0] - figures["without"][0]
        res[f"task_{label}_total_us"] = figures["with"][1] - figures["without"][1]
        print(
            f"bench: ours task {label}: +{res[f'task_{label}_us']:.1f} us calling thread, "
            f"+{res[f'task_{label}_total_us']:.1f} us with the emitter's work",
            file=sys.stderr,
            flush=True,
        )
    emitter.shutdown(60)

    # The sampler's own CPU, all types, over a few seconds.
    sampler = _telemetry._Sampler(Settings().telemetry_interval_ms / 1000)
    sampler.ensure(tuple(t for t in ALL_TYPES if t != "machine"))
    before = sampler.samples
    time.sleep(5.0)
    sampler.stop()
    res["sampler_cpu_percent"] = sampler.thread_cpu_s / 5.0 * 100
    res["sampler_samples_per_s"] = (sampler.samples - before) / 5.0
    return res


def _theirs(tasks: int, repeats: int) -> dict[str, float]:
    res: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp(prefix="provgraph-bench-flowcept-"))
    for label, config in FLOWCEPT_CONFIGS.items():
        path = folder / f"{label}.yaml"
        settings = {
            "telemetry_capture": config,
            "log": {"log_file_level": "disable", "log_stream_level": "disable"},
            "mq": {"enabled": False},
            "kv_db": {"enabled": False},
            "project": {"dump_buffer": {"enabled": False}},
        }
        path.write_text(json.dumps(settings))  # JSON is YAML
        env = {
            "FLOWCEPT_SETTINGS_PATH": str(path),
            "FLOWCEPT_USE_DEFAULT": "false",
            "MQ_ENABLED": "false",
            "BENCH_TASKS": str(tasks),
            "BENCH_REPEATS": str(repeats),
        }
        if label == "all":
            env["BENCH_MACHINE_INFO"] = "1"
        print(f"bench: flowcept {label} (own environment)", file=sys.stderr, flush=True)
        figures = run_in_peer(PEER_SCRIPT, timeout_s=900, env=env)
        res[f"flowcept_{label}_us"] = figures["direct_us"]
        res[f"flowcept_task_{label}_us"] = figures["task_with_us"] - figures["task_without_us"]
        if "machine_info_ms" in figures:
            res["flowcept_workflow_start_ms"] = figures["machine_info_ms"]
        print(
            f"bench: flowcept {label}: {figures['direct_us']:.1f} us per task, "
            f"+{res[f'flowcept_task_{label}_us']:.1f} us through @flowcept_task",
            file=sys.stderr,
            flush=True,
        )
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per repeat (ours)")
    parser.add_argument("--flowcept-tasks", type=int, default=100, help="tasks per repeat (flowcept)")
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()

    print("bench: workflow start (fresh interpreters)", file=sys.stderr, flush=True)
    workflow_start_ms, workflow_start_min_ms = _fresh_ms(WORKFLOW_START_CODE.format(types=ALL_TYPES))
    first_task_ms, _ = _fresh_ms(FIRST_TASK_CODE.format(types=ALL_TYPES))
    print(
        f"bench: workflow start {workflow_start_ms:.1f} ms, first task {first_task_ms:.1f} ms",
        file=sys.stderr,
        flush=True,
    )
    ours = _ours(options.tasks, options.repeats)
    theirs = _theirs(options.flowcept_tasks, options.repeats)

    result = {
        "cpu_mem_us": round(ours["cpu_mem_us"], 2),
        "all_us": round(ours["all_us"], 2),
        "flowcept_cpu_mem_us": round(theirs["flowcept_cpu_mem_us"], 2),
        "flowcept_all_us": round(theirs["flowcept_all_us"], 2),
        "cpu_mem_ratio": round(ours["cpu_mem_us"] / theirs["flowcept_cpu_mem_us"], 4),
        "all_ratio": round(ours["all_us"] / theirs["flowcept_all_us"], 4),
        "task_cpu_mem_us": round(ours["task_cpu_mem_us"], 2),
        "task_all_us": round(ours["task_all_us"], 2),
        "task_all_total_us": round(ours["task_all_total_us"], 2),
        "flowcept_task_cpu_mem_us": round(theirs["flowcept_task_cpu_mem_us"], 2),
        "flowcept_task_all_us": round(theirs["flowcept_task_all_us"], 2),
        "task_all_ratio": round(ours["task_all_us"] / theirs["flowcept_task_all_us"], 4),
        "workflow_start_ms": round(workflow_start_ms, 2),
        "workflow_start_min_ms": round(workflow_start_min_ms, 2),
        "flowcept_workflow_start_ms": round(theirs.get("flowcept_workflow_start_ms", float("nan")), 2),
        "first_task_ms": round(first_task_ms, 2),
        "sampler_cpu_percent": round(ours["sampler_cpu_percent"], 3),
        "sampler_samples_per_s": round(ours["sampler_samples_per_s"], 2),
    }
    print(
        f"bench: everything on {result['all_us']:.1f} us vs flowcept {result['flowcept_all_us']:.1f} us per task: "
        f"{result['all_ratio']:.4f}x (target <= 0.05); CPU+memory {result['cpu_mem_ratio']:.4f}x; "
        f"workflow start {result['workflow_start_ms']:.1f} ms (target <= 50) vs flowcept "
        f"{result['flowcept_workflow_start_ms']:.0f} ms",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
