"""Retention: keep the lineage of an old run and drop its heavy payloads; list first what a purge would take.

Two nightly runs are recorded and loaded (this script runs the loader itself, for one second); the older one is
then purged in lineage mode: its activities, entities and PROV relations stay, its telemetry entities and long
values go. From a shell the same is:

    provgraph purge --run RUN_ID --dry-run            # exactly what would go
    provgraph purge --run RUN_ID --keep-lineage --yes
    provgraph purge --workflow nightly --older-than 90d --archive old-runs/ --yes
"""

import capture
from capture.settings import Settings
from provgraph import Client
from provgraph.loader import Loader
from provgraph.purge import plan, purge, select


@capture.telemetry_task(output_names="report")
def nightly_report(day):
    return f"{day}: " + "all systems nominal; " * 40


if __name__ == "__main__":
    runs = []
    for day in ("monday", "tuesday"):
        with capture.Workflow("nightly") as run:
            nightly_report(day)
        runs.append(run.id)
    capture.flush(timeout_s=10)
    settings = Settings.load()
    with Loader(settings) as loader:
        loader.run(until_idle_s=1)
    with Client(settings) as client:
        monday = select(client.backend, runs=[runs[0]])
        for item in plan(client.backend, monday):
            print(
                f"a full purge would delete {item.nodes_alone} nodes and {item.relationships} relationships"
            )
        done = purge(client.backend, monday, keep_lineage=True, max_chars=256, progress=print)
        print(
            f"kept the lineage; dropped {done.telemetry_deleted} telemetry entities, {done.payloads_stripped} values"
        )
    for run_id in runs:
        print("run:", run_id)
