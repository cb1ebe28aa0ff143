"""Where capture's whole cost per task goes: CPU µs per call of each part of the emitter's work, timed alone.

bench/capture_overhead.py gives the totals; this splits the emitter's share of one ``@capture.task`` call of
``f(1)`` (returning ``2``) into its parts, each run over ``--calls`` prepared items with the garbage collector off
(best of 3, CPU time of this process):

- ``handoff_flush_us``: handing an item over, waking the emitter and flushing, per item, with an item that builds
  nothing (calls in chunks of 1,000, as the overhead benchmark does);
- ``event_us``: building the task's compact event (`TaskItem.add_entries`), of which ``register_output_us`` and
  ``lookup_us`` (lineage) and ``utc_offsets_us`` (the two times' offsets);
- ``encode_us``: encoding the events into messages; ``process_us``: the emitter's whole work for ``--calls`` queued
  items (in its rounds of `capture._emitter._ROUND_ITEMS`), and ``process_gc_us`` the same with the garbage
  collector on;
- ``task_total_us``: a whole ``@task`` call, calling thread and emitter, in chunks of 1,000.

Run: ``python bench/capture_breakdown.py [--calls 20000]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls

    import capture
    from capture import _context, _ids, _records
    from capture._emitter import _ROUND_ITEMS, Emitter
    from capture.settings import Settings

    settings = Settings.load(home=tempfile.mkdtemp(prefix="provgraph-bench-"), sink="memory")
    settings = settings.replace(flush_interval_ms=600_000)
    _context.set_enabled(True, settings)
    emitter = Emitter(settings)
    _context.use_emitter(emitter)

    def cpu_us(body: Callable[[], Any]) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.process_time_ns()
            body()
            best = min(best, (time.process_time_ns() - start) / calls / 1000)
        return best

    def f(x: int) -> int:
        return x + 1

    task = capture.task(f)
    result: dict[str, Any] = {"calls": calls}
    with capture.Workflow("capture_breakdown"):
        run, _ = _context.CURRENT.get()  # type: ignore[misc]
        spec = task.__provgraph_spec__  # type: ignore[attr-defined]
        items = [
            tuple.__new__(
                _records.TaskItem,
                (run.id, spec, next(_ids.COUNTER), (run, None), (1,), {}, 1, 2, 2, None, None),
            )
            for _ in range(calls)
        ]

        class Nothing:
            __slots__ = ()

            def add_entries(self, entries: list[Any], weights: list[int]) -> None:
                pass

        nothing = Nothing()

        def handoff() -> None:
            for _ in range(calls // 1000):
                for _ in range(1000):
                    emitter.emit(run.id, nothing)
                emitter.flush(60)

        def whole() -> None:
            for _ in range(calls // 1000):
                for _ in range(1000):
                    task(1)
                emitter.flush(60)
                emitter.sink.payloads.clear()  # type: ignore[attr-defined]

        entries: list[Any] = []
        weights: list[int] = []

        def events() -> None:
            entries.clear()
            weights.clear()
            for item in items:
                item.add_entries(entries, weights)

        def encode() -> None:
            for start in range(0, calls, 2000):
                emitter._encode(run.id, entries[start : start + 2000], weights[start : start + 2000])

        pairs = list(items)  # a task item is queued as it is (it carries its document)

        def process() -> None:  # as the worker does it: in rounds, then the messages to the sink
            for start in range(0, calls, _ROUND_ITEMS):
                emitter._process(pairs[start : start + _ROUND_ITEMS])
            emitter._send_outbox()

        delivered = emitter._deliver
        gc.collect()
        gc.disable()
        try:
            result["handoff_flush_us"] = cpu_us(handoff)
            result["event_us"] = cpu_us(events)
            result["register_output_us"] = cpu_us(
                lambda: [run.lineage.register_output(2, ("pgid:x",)) for _ in items]
            )
            result["lookup_us"] = cpu_us(lambda: [run.lineage.lookup(1) for _ in items])
            result["utc_offsets_us"] = cpu_us(lambda: [_ids.utc_offsets(1, 2) for _ in items])
            result["encode_us"] = cpu_us(encode)
            emitter._deliver = lambda messages, records: None  # type: ignore[method-assign]
            result["process_us"] = cpu_us(process)
        finally:
            gc.enable()
        result["process_gc_us"] = cpu_us(process)
        emitter._deliver = delivered  # type: ignore[method-assign]
        result["task_total_us"] = cpu_us(whole)
    emitter.shutdown(10)
    for key, value in result.items():
        print(f"{key:<20} {value:.3f}" if isinstance(value, float) else f"{key:<20} {value}", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
