"""A Dask graph recorded task by task, with no change to the tasks (needs `provgraph[adapters]`).

Ten `square` tasks run on a LocalCluster and one `total` task sums their results: the run holds 11 Dask tasks,
each with its worker, function and timing, and `total` used the ten results it depends on.
"""

from dask.distributed import Client, LocalCluster

import capture
from capture.adapters.dask import instrument


def square(x):
    return x * x


def total(values):
    return sum(values)


if __name__ == "__main__":
    # processes=False keeps the worker threads in this process: quick to start on a small machine. With
    # processes=True the workers are separate processes and the recording is the same (the plugin runs in the
    # scheduler, which a LocalCluster keeps in this process).
    with capture.Workflow("dask_graph") as run:
        with LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster:
            with Client(cluster) as client:
                instrument(client)
                squares = client.map(square, range(10))
                print("total:", client.submit(total, squares).result())
    print("run:", run.id)
