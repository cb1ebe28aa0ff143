"""Loader throughput and latency, end to end from XADD to Neo4j commit, against a naive one-record-per-transaction
baseline, all measured in one run.

Workload: capture-shaped provenance (docs/graph-model.md, "What capture writes"): per task an activity
``pg:Task`` with name, status, duration and times, two input value entities it ``used`` (with ``prov:role``), an
output entity ``wasGeneratedBy`` it, a telemetry entity ``wasGeneratedBy`` it, ``wasStartedBy`` its run and
the run ``wasAssociatedWith`` the machine: 10 records per task, in messages of ``--message-records`` records.
``--wire`` picks the messages' wire version: 1 (those records), 2 (what capture writes today: one compact task
event per task, template plus bindings, that the loader expands into 10 records: the activity, ``wasStartedBy``
the run, two input and one output value entity, two ``used``, a ``wasGeneratedBy``, two ``wasDerivedFrom``), or
both (the default: every round runs both versions, each against its own graph-only run of the same expanded
records; version 2's figures come as ``v2_*`` keys). End to end under version 2 includes the expansion.

Phases:
0. warm-up: ``--warmup-records`` records through a loader, not measured (Neo4j's JIT compiles the statements'
   code paths during the first ~100,000 records; a loader is a long-running process, so steady state counts).
1. throughput, ``--repeat`` rounds; each round runs, back to back on fresh records (the order alternating between
   rounds, so a drifting machine favours neither):
   a. end to end: a producer thread XADDs every message as fast as it can while a `Loader` (default settings
      except the stream names) reads, decodes, writes and acknowledges; records/s = records / (first XADD ->
      last commit).
   b. graph only, the ceiling: the same kind of records, grouped into the same batches (messages of
      ``--message-records``, batches of ``loader_batch_records``), decoded and turned into the loader's exact final
      statements beforehand; `WRITERS` threads then only send them (`GraphBackend.write`, one transaction per
      batch, as the loader does): what the graph engine and the driver cost for this lossless model on this
      machine, with no Redis, decoding, validation, rows, acknowledgements or hand-offs.
   ``ceiling_ratio`` = the median of the rounds' ratios (end-to-end records/s over graph-only records/s of the same
   round, ``ceiling_ratio_rounds``): each round's two runs share the machine's conditions of the moment, which on
   a shared machine swing from run to run; ``ceiling_ratio_of_medians`` is median over median. CPU microseconds
   per record of this process (the loader and the producer, or the writers) in each phase, and of server
   processes named with ``--cpu-pid neo4j=PID``, say where the difference goes; ``ceiling_ratio_cpu`` is the
   ratio of their sums (graph only over end to end): the ratio where CPU alone limits both.
2. latency: a producer sends one message every ``flush_interval_ms`` (capture's emitter period) at
   ``--latency-rate`` records/s for ``--latency-seconds``; the loader runs at its DEFAULT flush settings;
   latency = commit time - the message's send time (``ts``), p50 and p95 over messages.
3. baseline: ``--baseline-records`` records, one record per transaction (what older PROV-to-Neo4j tools do:
   a transaction per node or relation, with the same MERGE statements, no batching); records/s on that sample.

Tasks/s are records/s over the 10 records of a task (under both versions). ``--graph-url embedded`` runs everything against the embedded
engine (a fresh server in a temporary data directory, its Redis carrying the stream too).

Everything goes under a fresh namespace, stream and documents, and is deleted at the end (in batches).
The last line is one JSON object.

    python bench/load_throughput.py                      # 100k records
    python bench/load_throughput.py --records 20000      # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from capture import wire  # noqa: E402
from capture.settings import Settings  # noqa: E402

RECORDS_PER_TASK = 10


def task_records(prefix: str, run: str, index: int) -> list[dict]:
    """The 10 records capture writes for one task (ids under ``pgid:<prefix>...``)."""
    task = f"pgid:{prefix}task{index}"
    start = f"2026-03-01T10:{index // 60 % 60:02d}:{index % 60:02d}+00:00"
    inputs = [f"pgid:{prefix}in{index}_{k}" for k in range(2)]
    output = f"pgid:{prefix}out{index}"
    telemetry = f"pgid:{prefix}tel{index}"
    records = [
        wire.element(
            "activity",
            task,
            attrs=[
                ["prov:type", wire.qualified_name("pg:Task")],
                ["pg:name", f"step_{index % 50}"],
                ["pg:status", "FINISHED" if index % 97 else "ERROR"],
                ["pg:duration_s", 0.25 + index % 7],
            ],
            formal={"startTime": start, "endTime": start},
        ),
        *[
            wire.element("entity", ident, attrs=[["prov:value", index + k], ["pg:role", f"x{k}"]])
            for k, ident in enumerate(inputs)
        ],
        wire.element(
            "entity",
            output,
            attrs=[["prov:value", {"$": str(index * 3), "type": "xsd:long"}], ["pg:role", "out"]],
        ),
        wire.element(
            "entity",
            telemetry,
            attrs=[
                ["prov:type", wire.qualified_name("pg:Telemetry")],
                ["pg:phase", "end"],
                ["pg:cpu_percent", 12.5],
                ["pg:process_rss_bytes", 100_000_000 + index],
            ],
        ),
        *[
            wire.relation("used", activity=task, entity=ident, attrs=[["prov:role", f"x{k}"]], time=start)
            for k, ident in enumerate(inputs)
        ],
        wire.relation(
            "wasGeneratedBy", entity=output, activity=task, attrs=[["prov:role", "out"]], time=start
        ),
        wire.relation("wasGeneratedBy", entity=telemetry, activity=task),
        wire.relation("wasStartedBy", activity=task, starter=run),
    ]
    assert len(records) == RECORDS_PER_TASK
    return records


def workload(prefix: str, doc: str, records: int, per_message: int, start_task: int = 0) -> list[list[dict]]:
    """Messages (record lists) of about ``records`` records; the first declares the run and the machine."""
    run = f"pgid:{prefix}run"
    head = [
        wire.element(
            "activity",
            run,
            attrs=[["prov:type", wire.qualified_name("pg:WorkflowRun")], ["pg:name", "bench"]],
        ),
        wire.element(
            "agent", f"pgid:{prefix}machine", attrs=[["prov:type", wire.qualified_name("pg:Machine")]]
        ),
        wire.relation("wasAssociatedWith", activity=run, agent=f"pgid:{prefix}machine"),
    ]
    flat = list(head) if start_task == 0 else []
    index = start_task
    while len(flat) < records:
        flat.extend(task_records(prefix, run, index))
        index += 1
    return [flat[i : i + per_message] for i in range(0, len(flat), per_message)]


def workload_v2(prefix: str, doc: str, records: int, per_message: int, start_task: int = 0) -> list[list]:
    """The same run as compact events, what capture writes today (wire version 2, docs/wire-format.md): one event
    per task (template ``step_<n>``, two scalar inputs, one scalar output), each expanding on the store side to 10
    records (the activity, ``wasStartedBy`` the run, three value entities, two ``used``, a ``wasGeneratedBy`` and
    two ``wasDerivedFrom``); ``per_message // 10`` events per message, the first message opening with the run and
    the machine as plain records. Task and value ids: ``pgid:task_<prefix>_<n>``, ``pgid:val_<prefix>_<n>_*``."""
    run = f"pgid:{prefix}run"
    head = (
        [
            wire.element(
                "activity",
                run,
                attrs=[["prov:type", wire.qualified_name("pg:WorkflowRun")], ["pg:name", "bench"]],
            ),
            wire.element(
                "agent", f"pgid:{prefix}machine", attrs=[["prov:type", wire.qualified_name("pg:Machine")]]
            ),
            wire.relation("wasAssociatedWith", activity=run, agent=f"pgid:{prefix}machine"),
        ]
        if start_task == 0
        else []
    )
    base_ns = 1_772_359_200_000_000_000  # 2026-03-01T10:00:00Z
    events: list = list(head)
    count = len(head)
    index = start_task
    while count < records:
        start_ns = base_ns + index * 1_000_000_000
        events.append(
            [
                index % 50,
                index,
                run,
                start_ns,
                start_ns + 250_000_000 + index % 7 * 1_000_000_000,
                0,
                "FINISHED" if index % 97 else "ERROR",
                None,
                [[wire.SCALAR, "x0", index], [wire.SCALAR, "x1", index + 1]],
                [[wire.SCALAR, "out", index * 3]],
            ]
        )
        count += RECORDS_PER_TASK
        index += 1
    step = max(1, per_message // RECORDS_PER_TASK)
    return [events[i : i + step] for i in range(0, len(events), step)]


def payloads(
    wire_version: int, prefix: str, doc: str, records: int, per_message: int, start_task: int = 0
) -> tuple[list[bytes], int]:
    """The encoded messages of a run in the given wire version, and how many records they hold (expanded)."""
    if wire_version == 1:
        messages = workload(prefix, doc, records, per_message, start_task=start_task)
        return [wire.encode_message(doc, m) for m in messages], sum(len(m) for m in messages)
    templates = {n: wire.task_template(f"step_{n}") for n in range(50)}
    out, total = [], 0
    for entries in workload_v2(prefix, doc, records, per_message, start_task=start_task):
        used = {e[0] for e in entries if type(e) is list}
        out.append(wire.encode_compact_message(doc, entries, {n: templates[n] for n in sorted(used)}, prefix))
        total += sum(RECORDS_PER_TASK if type(e) is list else 1 for e in entries)
    return out, total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class CpuClock:
    """CPU seconds (user + system) of this process and of named server processes (``/proc/PID/stat``, Linux)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read(self) -> dict[str, float]:
        times = os.times()
        now = {"self": times.user + times.system}
        for name, pid in self.pids.items():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                now[name] = (int(fields[11]) + int(fields[12])) / self.tick
            except (OSError, IndexError, ValueError):
                pass
        return now

    @staticmethod
    def per_record(before: dict[str, float], after: dict[str, float], records: int) -> dict[str, float]:
        """Microseconds of CPU per record, per process, between two readings."""
        return {name: (after[name] - before[name]) / records * 1e6 for name in after if name in before}


def throughput_phase(
    settings: Settings,
    backend,
    client,
    encoded: tuple[list[bytes], int],
    loader_count: int = 1,
    clock: CpuClock | None = None,
) -> dict:
    from provgraph.loader import Loader

    messages, total = encoded
    started = {}

    def produce() -> None:
        started["t"] = time.time()
        pipe = client.pipeline(transaction=False)
        for i, payload in enumerate(messages):
            pipe.xadd(settings.stream, {wire.FIELD: payload})
            if i % 10 == 9:
                pipe.execute()
        pipe.execute()

    loaders = [
        Loader(settings, backend=backend, redis_client=client, consumer=f"bench-throughput-{i}")
        for i in range(loader_count)
    ]
    loaders[0].ensure_group()
    results: dict[int, object] = {}
    threads = [
        threading.Thread(
            target=lambda i=i, loader=loader: results.setdefault(i, loader.run(until_idle_s=1.0))
        )
        for i, loader in enumerate(loaders)
    ]
    producer = threading.Thread(target=produce)
    cpu_before = clock.read() if clock else {}
    producer.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    producer.join()
    cpu_after = clock.read() if clock else {}
    # first XADD -> last commit of any loader (the idle wait at the end is not counted)
    wall = max(loader.last_commit_at for loader in loaders) - started["t"]
    records = sum(stats.records for stats in results.values())
    elapsed = max(stats.seconds for stats in results.values())
    transactions = sum(stats.transactions for stats in results.values())
    assert records == total, (records, total)
    return {
        "records": total,
        "seconds": wall,
        "records_per_s": total / wall,
        "write_seconds": elapsed,
        "transactions": transactions,
        # includes the idle second at the end (the loader polling an empty stream: a few ms of CPU)
        "cpu_us_per_record": CpuClock.per_record(cpu_before, cpu_after, total),
    }


def graph_only_phase(
    settings: Settings,
    backend,
    prefix: str,
    doc: str,
    records: int,
    per_message: int,
    start_task: int,
    clock: CpuClock | None = None,
    wire_version: int = 1,
) -> dict:
    """The ceiling: the loader's final statements for the same batches, prepared beforehand, sent by `WRITERS`
    threads (each takes the next batch, as the loader's writers do); only the sending is timed."""
    from provgraph.digests import audit_statements
    from provgraph.graph.cypher import as_one_query
    from provgraph.graph.prefixes import property_prefixes
    from provgraph.loader import WRITERS, Batch, batch_statements, message_rows

    registry = property_prefixes(backend)
    batches, batch = [], Batch()
    for payload in payloads(wire_version, prefix, doc, records, per_message, start_task=start_task)[0]:
        message = wire.decode_message(payload)  # version 2: the events expanded, as the loader reads them
        message_rows(message, batch, prefixes=registry.claim_for([message]))  # as the loader builds them
        if batch.records >= settings.loader_batch_records:
            batches.append(batch)
            batch = Batch()
    if batch.records:
        batches.append(batch)
    prepared = []
    for item in batches:  # exactly what `write_batch` sends
        statements = batch_statements(backend, item) + audit_statements(backend, item)
        if backend.combines_writes and len(statements) > 1:
            statements = [as_one_query(statements)]
        prepared.append(statements)
    writers = WRITERS.get(backend.dialect, 1)
    queue = iter(prepared)
    lock = threading.Lock()

    def write() -> None:
        while True:
            with lock:
                statements = next(queue, None)
            if statements is None:
                return
            backend.write(statements, tag="bench/graph-only")

    threads = [threading.Thread(target=write) for _ in range(writers)]
    cpu_before = clock.read() if clock else {}
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    cpu_after = clock.read() if clock else {}
    total = sum(item.records for item in batches)
    return {
        "records": total,
        "seconds": seconds,
        "records_per_s": total / seconds,
        "writers": writers,
        "transactions": len(prepared),
        "cpu_us_per_record": CpuClock.per_record(cpu_before, cpu_after, total),
    }


def latency_phase(
    settings: Settings, backend, client, prefix: str, doc: str, rate: int, seconds: float
) -> dict:
    from provgraph.loader import Loader

    interval = settings.flush_interval_ms / 1000
    per_message = max(1, int(rate * interval))
    messages = workload(prefix, doc, int(rate * seconds), per_message, start_task=10_000_000)
    loader = Loader(settings, backend=backend, redis_client=client, consumer="bench-latency")
    loader.ensure_group()

    def produce() -> None:
        next_at = time.perf_counter()
        for records in messages:
            client.xadd(settings.stream, {wire.FIELD: wire.encode_message(doc, records)})
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))

    producer = threading.Thread(target=produce)
    producer.start()
    loader.run(until_idle_s=1.5)
    producer.join()
    lat = loader.latencies
    return {
        "messages": len(lat),
        "records_per_message": per_message,
        "p50_s": percentile(lat, 0.5),
        "p95_s": percentile(lat, 0.95),
        "max_s": max(lat),
        "mean_s": statistics.fmean(lat),
    }


def baseline_phase(backend, prefix: str, doc: str, records: int) -> dict:
    from provgraph.loader import batch_statements, message_rows

    flat = [r for message in workload(prefix, doc, records, records, start_task=20_000_000) for r in message][
        :records
    ]
    started = time.perf_counter()
    for record in flat:
        batch = message_rows(wire.Message(doc=doc, records=[record]))
        batch.documents.clear()
        batch.namespaces.clear()
        backend.write(batch_statements(backend, batch), tag="bench/baseline")  # one transaction per record
    seconds = time.perf_counter() - started
    return {"records": len(flat), "seconds": seconds, "records_per_s": len(flat) / seconds}


def cleanup(backend, key_prefixes: list[str], docs: list[str]) -> None:
    """Delete what the benchmark wrote, relationships first: the run node holds one relationship per task, too
    many for one transaction's memory when deleted with it."""
    for query in (
        "MATCH (n:Element)-[r]->() WHERE n.key STARTS WITH $prefix WITH r LIMIT 5000 DELETE r RETURN count(*) AS c",
        "MATCH (n:Element) WHERE n.key STARTS WITH $prefix WITH n LIMIT 5000 DETACH DELETE n RETURN count(*) AS c",
    ):
        for key_prefix in key_prefixes:
            while True:
                records, _, _ = backend.driver.execute_query(query, {"prefix": key_prefix})
                if not records or records[0]["c"] == 0:
                    break
    backend.driver.execute_query(
        "UNWIND $docs AS doc OPTIONAL MATCH (d:Document {id: doc}) DETACH DELETE d", {"docs": docs}
    )


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["records_per_s"])[len(runs) // 2]


def median_cpu(runs: list[dict]) -> dict[str, float]:
    names = set.intersection(*(set(r["cpu_us_per_record"]) for r in runs)) if runs else set()
    return {
        name: round(statistics.median(r["cpu_us_per_record"][name] for r in runs), 2)
        for name in sorted(names)
    }


def summarize(runs: list[dict], graph_runs: list[dict], ratios: list[float]) -> dict:
    """One wire version's figures: medians, ceiling ratios (of the rounds, of the medians, of CPU), tasks/s."""
    loader, graph_only = median_run(runs), median_run(graph_runs)
    # each round's two runs share the machine's conditions of the moment: the median of the rounds' ratios is
    # what a machine shared with other work (its load swinging from run to run) measures most steadily
    cpu_loader, cpu_graph = median_cpu(runs), median_cpu(graph_runs)
    # CPU per record, every measured process together: the ratio where CPU alone limits both runs
    cpu_ratio = sum(cpu_graph.values()) / sum(cpu_loader.values()) if cpu_loader else None
    return {
        "loader_records_per_s": round(loader["records_per_s"], 1),
        "loader_runs_records_per_s": [round(r["records_per_s"], 1) for r in runs],
        "graph_only_records_per_s": round(graph_only["records_per_s"], 1),
        "graph_only_runs_records_per_s": [round(r["records_per_s"], 1) for r in graph_runs],
        "ceiling_ratio": round(statistics.median(ratios), 3),
        "ceiling_ratio_rounds": [round(r, 3) for r in ratios],
        "ceiling_ratio_of_medians": round(loader["records_per_s"] / graph_only["records_per_s"], 3),
        "ceiling_ratio_cpu": round(cpu_ratio, 3) if cpu_ratio else None,
        "loader_tasks_per_s": round(loader["records_per_s"] / RECORDS_PER_TASK, 1),
        "graph_only_tasks_per_s": round(graph_only["records_per_s"] / RECORDS_PER_TASK, 1),
        "loader_cpu_us_per_record": cpu_loader,
        "graph_only_cpu_us_per_record": cpu_graph,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per throughput run")
    parser.add_argument("--message-records", type=int, default=1000, help="records per message (phase 1)")
    parser.add_argument("--baseline-records", type=int, default=1000)
    parser.add_argument("--loaders", type=int, default=1, help="loaders sharing the consumer group (phase 1)")
    parser.add_argument(
        "--warmup-records", type=int, default=100_000, help="loaded before measuring (phase 0)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of end-to-end and graph-only runs; medians are reported"
    )
    parser.add_argument(
        "--wire",
        choices=("1", "2", "both"),
        default="both",
        help="wire version of phase 1's messages: 1 (records), 2 (compact task events, what capture writes "
        "today; the loader expands them), or both in every round (default); the first is the top-level keys, "
        "version 2's also come as v2_*",
    )
    parser.add_argument("--latency-rate", type=int, default=2000, help="records/s offered in phase 2")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument(
        "--graph-url",
        default=os.environ.get("PROVGRAPH_GRAPH_URL", "bolt://127.0.0.1:7687"),
        help="Neo4j bolt:// URI, or 'embedded' (a fresh embedded server in a temporary directory)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("PROVGRAPH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="ignored with --graph-url embedded (the embedded server's Redis carries the stream)",
    )
    parser.add_argument(
        "--cpu-pid",
        action="append",
        default=[],
        metavar="NAME=PID",
        help="also report the CPU per record of this local server process (e.g. neo4j=1234, redis=5678)",
    )
    args = parser.parse_args()

    import shutil
    import tempfile

    from provgraph.graph import open_backend
    from provgraph.loader import _redis_client

    token = uuid.uuid4().hex[:10]
    prefix = f"bench_{token}_"
    key_prefix = wire.NAMESPACES["pgid"] + prefix
    embedded = args.graph_url == "embedded"
    home = tempfile.mkdtemp(prefix="provgraph-bench-") if embedded else None
    settings = Settings.load(
        graph_url=args.graph_url,
        redis_url="embedded" if embedded else args.redis_url,
        stream=f"provgraph:bench:{token}",
        dead_letter_stream=f"provgraph:bench:{token}:dead",
        consumer_group=f"bench-{token}",
        loader_progress_interval_s=3600.0,
        **({"home": home} if home else {}),
    )
    docs = [f"pgid:{prefix}doc", f"pgid:{prefix}latency", f"pgid:{prefix}baseline", f"pgid:{prefix}warmup"]
    streams = [settings.stream, settings.dead_letter_stream]
    backend = open_backend(settings)
    client = _redis_client(settings)
    backend.ensure_schema()
    pids = dict(item.split("=", 1) for item in args.cpu_pid)
    server = getattr(backend, "server", None)
    state = server.state() if server is not None else None
    if state and isinstance(state.get("pid"), int):
        pids.setdefault("embedded", state["pid"])
    clock = CpuClock({name: int(pid) for name, pid in pids.items()})
    load_before = os.getloadavg()
    try:
        if args.warmup_records:
            print(f"phase 0: warm-up, {args.warmup_records} records (not measured) ...", file=sys.stderr)
            warm = settings.replace(stream=f"{settings.stream}:warmup")
            streams.append(warm.stream)
            throughput_phase(warm, backend, client, payloads(1, prefix, docs[3], args.warmup_records, 1000))
        versions = (1, 2) if args.wire == "both" else (int(args.wire),)
        rounds: dict[int, tuple[list[dict], list[dict], list[float]]] = {v: ([], [], []) for v in versions}
        for run in range(args.repeat):
            order = ("loader", "graph") if run % 2 == 0 else ("graph", "loader")
            print(f"phase 1: round {run + 1}/{args.repeat}, {args.records} records each ...", file=sys.stderr)
            for version in versions:
                runs, graph_runs, ratios = rounds[version]
                offset = (run * 2 + version) * 1_000_000
                for what in order:
                    if what == "loader":
                        run_settings = settings.replace(stream=f"{settings.stream}:{run}:v{version}")
                        streams.append(run_settings.stream)
                        encoded = payloads(
                            version, prefix, docs[0], args.records, args.message_records, start_task=offset
                        )
                        runs.append(
                            throughput_phase(run_settings, backend, client, encoded, args.loaders, clock)
                        )
                        print(
                            f"  wire v{version} end to end: {runs[-1]['records_per_s']:,.0f} records/s "
                            f"({runs[-1]['records']} in {runs[-1]['seconds']:.1f} s; {runs[-1]['transactions']} "
                            "transactions); CPU us/record "
                            + ", ".join(f"{k} {v:.1f}" for k, v in runs[-1]["cpu_us_per_record"].items())
                        )
                    else:
                        graph_runs.append(
                            graph_only_phase(
                                settings,
                                backend,
                                prefix,
                                docs[0],
                                args.records,
                                args.message_records,
                                start_task=offset + 500_000_000,
                                clock=clock,
                                wire_version=version,
                            )
                        )
                        print(
                            f"  wire v{version} graph only: {graph_runs[-1]['records_per_s']:,.0f} records/s "
                            f"({graph_runs[-1]['writers']} writers, {graph_runs[-1]['transactions']} transactions); "
                            "CPU us/record "
                            + ", ".join(
                                f"{k} {v:.1f}" for k, v in graph_runs[-1]["cpu_us_per_record"].items()
                            )
                        )
                ratios.append(runs[-1]["records_per_s"] / graph_runs[-1]["records_per_s"])
        summaries = {version: summarize(*rounds[version]) for version in versions}
        for version, summary in summaries.items():
            print(
                f"  wire v{version} median: end to end {summary['loader_records_per_s']:,.0f} records/s "
                f"({summary['loader_tasks_per_s']:,.0f} tasks/s), graph only "
                f"{summary['graph_only_records_per_s']:,.0f}; ceiling ratio {summary['ceiling_ratio']:.2f} "
                "(median of the rounds: "
                + ", ".join(f"{r:.2f}" for r in summary["ceiling_ratio_rounds"])
                + f"; of the medians {summary['ceiling_ratio_of_medians']:.2f}"
                + (
                    f"; of CPU per record {summary['ceiling_ratio_cpu']:.2f}"
                    if summary["ceiling_ratio_cpu"]
                    else ""
                )
                + ")"
            )
        primary = summaries[versions[0]]
        loader = median_run(rounds[versions[0]][0])
        print(
            f"phase 2: latency at {args.latency_rate} records/s for {args.latency_seconds:.0f} s, default flush ...",
            file=sys.stderr,
        )
        client.delete(settings.stream)
        latency = latency_phase(
            settings, backend, client, prefix, docs[1], args.latency_rate, args.latency_seconds
        )
        print(
            f"  XADD -> commit: p50 {latency['p50_s'] * 1000:.0f} ms, p95 {latency['p95_s'] * 1000:.0f} ms, "
            f"max {latency['max_s'] * 1000:.0f} ms over {latency['messages']} messages of {latency['records_per_message']} records"
        )
        print(f"phase 3: baseline, {args.baseline_records} records one per transaction ...", file=sys.stderr)
        baseline = baseline_phase(backend, prefix, docs[2], args.baseline_records)
        print(
            f"  baseline: {baseline['records_per_s']:,.0f} records/s ({baseline['records']} in {baseline['seconds']:.1f} s)"
        )
        speedup = loader["records_per_s"] / baseline["records_per_s"]
        print(f"  speedup: {speedup:.1f}x")
    finally:
        print("cleaning up ...", file=sys.stderr)
        if not embedded:
            pgid = wire.NAMESPACES["pgid"]
            # wire v2's task and value ids: pgid:task_<prefix>_<n>, pgid:val_<prefix>_<n>_*
            cleanup(backend, [key_prefix, f"{pgid}task_{prefix}_", f"{pgid}val_{prefix}_"], docs)
            client.delete(*streams)
        client.close()
        backend.close()  # the embedded server it started stops
        if home:
            shutil.rmtree(home, ignore_errors=True)
    result = {
        "loader_records_per_s": primary["loader_records_per_s"],
        "baseline_records_per_s": round(baseline["records_per_s"], 1),
        "speedup": round(speedup, 1),
        "latency_p50_s": round(latency["p50_s"], 4),
        "latency_p95_s": round(latency["p95_s"], 4),
        "latency_max_s": round(latency["max_s"], 4),
        **{key: value for key, value in primary.items() if key != "loader_records_per_s"},
        "records_per_task": RECORDS_PER_TASK,
        "wire_version": versions[0],
        **{
            f"v{version}_{key}": value
            for version, summary in summaries.items()
            if version != versions[0]
            for key, value in summary.items()
        },
        "backend": backend.dialect,
        "run_id": token,
        "records": loader["records"],
        "warmup_records": args.warmup_records,
        "loaders": args.loaders,
        "baseline_records": baseline["records"],
        "latency_rate_records_per_s": args.latency_rate,
        "loader_batch_records": settings.loader_batch_records,
        "loader_flush_interval_ms": settings.loader_flush_interval_ms,
        "cpu_count": os.cpu_count(),
        "loadavg_1m_before": round(load_before[0], 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
