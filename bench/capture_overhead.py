"""Capture overhead: microseconds per call, provgraph's capture against the reference system (Flowcept), one run.

Modes measured without services (our emitter's in-memory sink, or ``--sink file`` for the JSON Lines file; Flowcept
with its MQ disabled, keeping messages in its in-memory buffer):

- ``plain``: an undecorated function (the floor);
- ``task``: ``@capture.task`` vs ``@flowcept_task``;
- ``light``: ``@capture.light_task`` vs ``@lightweight_flowcept_task`` (ours records more: ids, times, status, inputs);
- ``list1000``: ``@task`` with a 1,000-element list argument (ours never copies it; Flowcept deep-copies);
- ``loop`` / ``batched_loop``: per iteration of ``capture.Loop`` / ``capture.BatchedLoop`` vs ``FlowceptLoop`` /
  ``FlowceptLightweightLoop``;
- ``disabled_task``: ``@capture.task`` with capture switched off.

``*_us`` is the cost on the calling thread: calls run in chunks of 1,000 while the emitter thread is idle, and the
emitter is flushed between chunks, so this is exactly what a user's code pays per call when the emitter keeps up.
``*_total_us`` adds, per call, the emitter's work for those calls (turning the compact items into PROV records,
encoding and writing them) as timed by those flushes: the whole cost. Flowcept in this mode appends dicts to an
in-memory buffer and writes it out at stop; ``flowcept_stop_us_per_call`` is that stop's time divided by the calls
captured. Median of ``--repeats`` repeats of ``--calls`` calls.
Also reported: ``import_ms``, the time of ``import capture`` in a fresh interpreter (median of 5; the package
loads its modules on first use), and ``import_first_use_ms``, the same plus the first ``capture.task`` lookup.

Run: ``python bench/capture_overhead.py [--calls 20000] [--repeats 5] [--redis]``. The first run installs Flowcept
1.0.3 into its own virtual environment (about a minute; see bench/_peer.py). The last line is one JSON object.
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
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._peer import run_in_peer  # noqa: E402

CHUNK = 1000
"""Calls per timed chunk (below the emitter's wake-up batch of 2,000 items)."""

MODES = ("task", "light", "list1000", "loop", "batched_loop")
TOTALS = tuple(f"{mode}_total_us" for mode in MODES)

PEER_SCRIPT = r"""
import json, os, statistics, time
N = int(os.environ["BENCH_CALLS"]); R = int(os.environ["BENCH_REPEATS"])
from flowcept import Flowcept, flowcept_task, lightweight_flowcept_task
from flowcept.instrumentation.flowcept_loop import FlowceptLoop, FlowceptLightweightLoop

def plain(x): return x + 1
@flowcept_task
def full(x): return x + 1
@lightweight_flowcept_task
def light(x): return x + 1
@flowcept_task
def takes_list(xs): return len(xs)
big = list(range(1000))

def calls(fn, arg):
    def body(n):
        for _ in range(n): fn(arg)
    return body

def loop(cls):
    def body(n):
        for _ in cls(range(n)): pass
    return body

def mode(name, body, n):
    # One controller per mode: its stop (where, in this offline mode, the buffered messages are written out) is
    # this mode's deferred work; CPU time is the whole process's, stop included.
    controller = Flowcept(workflow_name="bench", start_persistence=False, save_workflow=False, check_safe_stops=False)
    controller.start()
    cpu_start = time.process_time_ns()
    out = []
    for _ in range(R):
        start = time.perf_counter_ns()
        body(n)
        out.append((time.perf_counter_ns() - start) / n / 1000)
    start = time.perf_counter_ns()
    controller.stop()
    stop_us = (time.perf_counter_ns() - start) / (R * n) / 1000
    res[name + "_us"] = statistics.median(out)
    res[name + "_stop_us"] = stop_us
    res[name + "_total_us"] = res[name + "_us"] + stop_us
    res[name + "_cpu_us"] = (time.process_time_ns() - cpu_start) / (R * n) / 1000

res = {}
start = time.perf_counter_ns()
for _ in range(N): plain(1)
res["plain_us"] = (time.perf_counter_ns() - start) / N / 1000
mode("task", calls(full, 1), N)
mode("light", calls(light, 1), N)
mode("list1000", calls(takes_list, big), max(N // 20, 200))
mode("loop", loop(FlowceptLoop), N)
mode("batched_loop", loop(FlowceptLightweightLoop), N)
modes = ("task", "light", "list1000", "loop", "batched_loop")
res["stop_us_per_call"] = statistics.mean(res[m + "_stop_us"] for m in modes)
print(json.dumps(res))
"""


def _import_ms(statement: str) -> float:
    """Median over 5 fresh interpreters of the time ``statement`` takes, in milliseconds."""
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    samples = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def _ours(
    calls: int, repeats: int, sink: str, redis_url: str | None, wire_version: int = 2
) -> dict[str, float | str]:
    import capture
    from capture import _context
    from capture.settings import Settings

    home = tempfile.mkdtemp(prefix="provgraph-bench-")
    stream = f"provgraph:bench:{uuid.uuid4().hex[:8]}"
    overrides = {
        "home": home,
        "sink": sink,
        "buffer_path": str(Path(home) / "bench.jsonl"),
        "stream": stream,
        # The emitter stays idle during a timed chunk (no timer, no size wake-up); the flush after it times its work.
        "flush_interval_ms": 600_000,
        "flush_max_records": 2_000,
        "wire_version": wire_version,
    }
    if redis_url:
        overrides["redis_url"] = redis_url
    settings = Settings.load(**overrides)
    _context.set_enabled(True, settings)
    from capture._emitter import Emitter

    emitter = Emitter(settings)  # its own emitter per mode (the process emitter is configured once)
    _context.use_emitter(emitter)
    emitter_kind = "capture._emitter"

    def plain(x):
        return x + 1

    task = capture.task(plain)
    light = capture.light_task(plain)

    @capture.task
    def takes_list(xs):
        return len(xs)

    big = list(range(1000))

    def measure(body, n: int) -> tuple[float, float, float]:
        """(calling-thread µs per call, total µs per call including the emitter's work, CPU µs per call of the
        whole process), medians of repeats.

        Calls run in chunks of `CHUNK`; the emitter is idle during a chunk and flushed between chunks, so the
        first figure is exactly what the caller's thread pays, the second adds the emitter's work for those calls,
        the third is the CPU time all threads of the process spent on them (`time.process_time`).
        """
        per_call, total, cpu = [], [], []
        for _ in range(repeats):
            loop_ns = drain_ns = 0
            done = 0
            cpu_start = time.process_time_ns()
            while done < n:
                size = min(CHUNK, n - done)
                start = time.perf_counter_ns()
                body(size)
                middle = time.perf_counter_ns()
                capture.flush(timeout_s=600)
                if sink == "memory":
                    emitter.sink.payloads.clear()  # keep the bench's memory flat; the bytes were produced
                loop_ns += middle - start
                drain_ns += time.perf_counter_ns() - middle
                done += size
            cpu.append((time.process_time_ns() - cpu_start) / n / 1000)
            per_call.append(loop_ns / n / 1000)
            total.append((loop_ns + drain_ns) / n / 1000)
        return statistics.median(per_call), statistics.median(total), statistics.median(cpu)

    def calls_of(fn, arg):
        def body(n: int) -> None:
            for _ in range(n):
                fn(arg)

        return body

    def loop_body(cls):
        def body(n: int) -> None:
            for _ in cls(range(n)):
                pass

        return body

    res: dict[str, float | str] = {"emitter": emitter_kind, "sink": sink}
    with capture.Workflow("capture_overhead_bench"):
        res["plain_us"], _, _ = measure(calls_of(plain, 1), calls)
        for name, body, n in (
            ("task", calls_of(task, 1), calls),
            ("light", calls_of(light, 1), calls),
            ("list1000", calls_of(takes_list, big), max(calls // 20, 200)),
            ("loop", loop_body(capture.Loop), calls),
            ("batched_loop", loop_body(capture.BatchedLoop), calls),
        ):
            res[f"{name}_us"], res[f"{name}_total_us"], res[f"{name}_cpu_us"] = measure(body, n)
    _context.set_enabled(False)
    res["disabled_task_us"], _, _ = measure(calls_of(task, 1), calls)
    _context.set_enabled(True)
    emitter.shutdown(60)
    if sink == "redis":
        try:
            import redis

            redis.Redis.from_url(settings.redis_url).delete(stream)
        except Exception as exc:  # noqa: BLE001
            print(f"bench: could not delete {stream}: {exc}", file=sys.stderr)
    return res


def _ours_in(
    tree: Path, calls: int, repeats: int, sink: str, redis_url: str | None, wire_version: int | None
) -> dict[str, float | str]:
    """`_ours` of the checkout at ``tree`` (this one, or a baseline such as the tree before a change), run in a
    fresh interpreter so that both trees are measured alike."""
    extra = "" if wire_version is None else f", {wire_version}"
    code = (
        "import json; from bench.capture_overhead import _ours; "
        f"print(json.dumps(_ours({calls}, {repeats}, {sink!r}, {redis_url!r}{extra})))"
    )
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"bench in {tree} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, float | str] = json.loads(lines[-1])
    return figures


def _best(rounds: list[dict[str, float | str]]) -> dict[str, float | str]:
    """Per key, the lowest value over rounds (non-numbers from the first round)."""
    best = dict(rounds[0])
    for other in rounds[1:]:
        for key, value in other.items():
            if isinstance(value, float) and isinstance(best.get(key), float):
                best[key] = min(best[key], value)  # type: ignore[type-var]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sink",
        choices=("memory", "file"),
        default="memory",
        help="our sink without services: memory (like Flowcept's offline buffer) or the JSON Lines file",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternate ours/theirs this many times; keep the best"
    )
    parser.add_argument(
        "--redis", action="store_true", help="also measure the Redis transport (both systems)"
    )
    parser.add_argument(
        "--wire-version", type=int, choices=(1, 2), default=2, help="the wire version capture writes"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (say, `git worktree add /tmp/old <commit>`) measured alternately with this one: "
        "its figures come out as baseline_*",
    )
    options = parser.parse_args()

    print(f"bench: {options.calls} calls x {options.repeats} repeats, median", file=sys.stderr, flush=True)
    import_ms = _import_ms("import capture")
    first_use_ms = _import_ms("import capture; capture.task")
    print(
        f"bench: import capture: {import_ms:.1f} ms ({first_use_ms:.1f} ms with first use)", file=sys.stderr
    )

    peer_env = {
        "BENCH_CALLS": str(options.calls),
        "BENCH_REPEATS": str(options.repeats),
        "FLOWCEPT_USE_DEFAULT": "true",
    }
    # Both systems (and the baseline tree, if given) run alternately, `rounds` times each, and each figure keeps
    # its best (lowest) round: on a shared machine, interference from other processes only ever adds time.
    here = Path(__file__).resolve().parent.parent
    ours_rounds, theirs_rounds, baseline_rounds = [], [], []
    for round_number in range(1, options.rounds + 1):
        print(f"bench: round {round_number}: provgraph capture", file=sys.stderr, flush=True)
        ours_rounds.append(
            _ours_in(here, options.calls, options.repeats, options.sink, None, options.wire_version)
        )
        if options.baseline:
            print(f"bench: round {round_number}: baseline {options.baseline}", file=sys.stderr, flush=True)
            baseline_rounds.append(
                _ours_in(options.baseline, options.calls, options.repeats, options.sink, None, None)
            )
        print(
            f"bench: round {round_number}: the reference system (flowcept, own environment)",
            file=sys.stderr,
            flush=True,
        )
        theirs_rounds.append(run_in_peer(PEER_SCRIPT, env={**peer_env, "MQ_ENABLED": "false"}))
    ours = _best(ours_rounds)
    theirs = _best(theirs_rounds)

    result: dict[str, float | str] = {
        "plain_us": ours["plain_us"],
        "task_us": ours["task_us"],
        "flowcept_task_us": theirs["task_us"],
        "task_ratio": ours["task_us"] / theirs["task_us"],
        "light_us": ours["light_us"],
        "flowcept_light_us": theirs["light_us"],
        "light_ratio": ours["light_us"] / theirs["light_us"],
        "list1000_us": ours["list1000_us"],
        "flowcept_list1000_us": theirs["list1000_us"],
        "list1000_ratio": ours["list1000_us"] / theirs["list1000_us"],
        "loop_us": ours["loop_us"],
        "flowcept_loop_us": theirs["loop_us"],
        "batched_loop_us": ours["batched_loop_us"],
        "flowcept_batched_loop_us": theirs["batched_loop_us"],
    }
    # The whole cost per call, side by side: ours with the emitter's work, theirs with its stop's share (where its
    # deferred work happens in this mode), and the CPU time of each whole process per call.
    for mode in MODES:
        result[f"{mode}_total_us"] = ours[f"{mode}_total_us"]
        result[f"flowcept_{mode}_total_us"] = theirs[f"{mode}_total_us"]
        result[f"{mode}_total_ratio"] = ours[f"{mode}_total_us"] / theirs[f"{mode}_total_us"]
        result[f"{mode}_cpu_us"] = ours[f"{mode}_cpu_us"]
        result[f"flowcept_{mode}_cpu_us"] = theirs[f"{mode}_cpu_us"]
        result[f"{mode}_cpu_ratio"] = ours[f"{mode}_cpu_us"] / theirs[f"{mode}_cpu_us"]
        # Each round's own ratio (ours and theirs measured back to back), their median: steadier on a loaded machine
        # than the ratio of the best figures.
        for kind in ("total", "cpu"):
            result[f"{mode}_{kind}_ratio_median"] = statistics.median(
                float(mine[f"{mode}_{kind}_us"]) / float(peer[f"{mode}_{kind}_us"])
                for mine, peer in zip(ours_rounds, theirs_rounds, strict=True)
            )
    result.update(
        {
            "disabled_task_us": ours["disabled_task_us"],
            "flowcept_plain_us": theirs["plain_us"],
            "flowcept_stop_us_per_call": theirs["stop_us_per_call"],
            "import_ms": import_ms,
            "import_first_use_ms": first_use_ms,
            "wire_version": options.wire_version,
            "calls": options.calls,
            "repeats": options.repeats,
            "rounds": options.rounds,
            "mode": f"no services (our {options.sink} sink; flowcept MQ disabled, in-memory buffer)",
        }
    )
    if options.baseline:
        baseline = _best(baseline_rounds)
        for key in ("task_us", "list1000_us", "light_us", "loop_us", "batched_loop_us", *TOTALS):
            if isinstance(baseline.get(key), float):
                result[f"baseline_{key}"] = baseline[key]
        result["baseline"] = str(options.baseline)
    if options.redis:
        redis_url = os.environ.get("PROVGRAPH_REDIS_URL", "redis://127.0.0.1:6379/0")
        ours_redis = _ours_in(here, options.calls, options.repeats, "redis", redis_url, options.wire_version)
        from urllib.parse import urlparse

        parsed = urlparse(redis_url)
        theirs_redis = run_in_peer(
            PEER_SCRIPT,
            env={
                **peer_env,
                "MQ_ENABLED": "true",
                "MQ_TYPE": "redis",
                "MQ_HOST": parsed.hostname or "127.0.0.1",
                "MQ_PORT": str(parsed.port or 6379),
            },
        )
        for key in ("task_us", "light_us", "list1000_us", "loop_us"):
            result[f"redis_{key}"] = ours_redis[key]
            result[f"redis_flowcept_{key}"] = theirs_redis[key]
        result["redis_task_ratio"] = ours_redis["task_us"] / theirs_redis["task_us"]
        for mode in MODES:
            result[f"redis_{mode}_total_us"] = ours_redis[f"{mode}_total_us"]
            result[f"redis_flowcept_{mode}_total_us"] = theirs_redis[f"{mode}_total_us"]
            result[f"redis_{mode}_total_ratio"] = (
                ours_redis[f"{mode}_total_us"] / theirs_redis[f"{mode}_total_us"]
            )
            result[f"redis_{mode}_cpu_us"] = ours_redis[f"{mode}_cpu_us"]
            result[f"redis_flowcept_{mode}_cpu_us"] = theirs_redis[f"{mode}_cpu_us"]

    width = max(len(k) for k in result)
    for key, value in result.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}}  {shown}", file=sys.stderr)
    print(
        f"bench: task {result['task_ratio']:.3f}x flowcept (target <= 0.2), light {result['light_ratio']:.2f}x "
        f"(target <= 1), list1000 {result['list1000_ratio']:.4f}x (target <= 0.05)",
        file=sys.stderr,
    )
    print(
        "bench: whole cost per call (target <= 0.33): "
        + ", ".join(
            f"{mode} {result[f'{mode}_total_ratio']:.2f}x (median of rounds {result[f'{mode}_total_ratio_median']:.2f}x)"
            for mode in MODES
        )
        + "; CPU time: "
        + ", ".join(f"{mode} {result[f'{mode}_cpu_ratio']:.2f}x" for mode in MODES),
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
