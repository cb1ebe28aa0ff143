"""Distributed capture: one coordinator, several producer processes feeding ONE run, one loader elsewhere.

    python examples/distributed_producers.py              # coordinator: starts the run and 3 producers
    python examples/distributed_producers.py --load       # ... then runs the loader once
    python examples/distributed_producers.py produce ID   # a producer (any host) adding tasks to run ID

The coordinator emits the run record and writes the run id to ``workflow_id.txt``; producers are given the id and
do not emit a run record of their own (``emit_workflow_record=False``). The loader (``provgraph load``, usually a
long-running service started once per job) reads the same Redis stream and puts all of it in one graph, whichever
host it runs on; ``--load`` runs it once (``provgraph load --once``) after the run.
"""

import os
import subprocess
import sys
import tempfile

import capture


@capture.task(output_names="doubled")
def double(x):
    return 2 * x


def produce(workflow_id: str, worker: int) -> None:
    with capture.Workflow(workflow_id=workflow_id, emit_workflow_record=False):
        for x in range(worker * 10, worker * 10 + 3):
            double(x)


def coordinate(producers: int = 3, load: bool = False) -> None:
    with capture.Workflow("distributed_process_example") as run:
        id_file = os.path.join(tempfile.mkdtemp(), "workflow_id.txt")
        with open(id_file, "w") as handle:
            handle.write(run.id)
        workers = [
            subprocess.Popen([sys.executable, __file__, "produce", open(id_file).read(), str(worker)])
            for worker in range(producers)
        ]
        codes = [worker.wait() for worker in workers]
    if any(codes):
        raise SystemExit(f"a producer failed: exit codes {codes}")
    if load:  # the persistence side: every record of the run, from every producer, into the graph
        subprocess.run([sys.executable, "-m", "provgraph", "load", "--once", "--quiet"], check=True)
    print("run:", run.id)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "produce":
        produce(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    else:
        coordinate(load="--load" in sys.argv)
