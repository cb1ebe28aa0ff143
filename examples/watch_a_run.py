"""Watching provenance arrive: `Client.tail` (the Python side of `provgraph tail`) follows the record stream while
a workflow runs, one readable line per event.

The tail reads the stream with XREAD, so it takes nothing from the loader: run `provgraph load` beside it as
usual. From a shell, the same view is `provgraph tail --workflow NAME` (add `--json` for tools, `--status ERROR`
for failures only, `--since 1h` for what the graph already holds).
"""

import os
import threading

import capture
from provgraph import Client


@capture.task(output_names="squared")
def square(x):
    return x * x


@capture.telemetry_task(output_names="total")
def add_up(values):
    return sum(values)


@capture.task
def check(total):
    if total > 10:
        raise ValueError(f"total {total} is over the limit")


def watch(events):
    for event in events:
        print(event.line(), flush=True)
        if event.event == "run_finished":
            return


if __name__ == "__main__":
    name = f"watched_{os.getpid()}"
    with Client() as client:
        events = client.tail(workflow=name, idle_timeout_s=10)  # follows from the stream's end, from now on
        watcher = threading.Thread(target=watch, args=(events,))
        watcher.start()
        with capture.Workflow(name) as run:
            total = add_up([square(1), square(2), square(3)])
            try:
                check(total)
            except ValueError:
                pass
        capture.flush(timeout_s=10)
        watcher.join(timeout=30)
    print("run:", run.id)
