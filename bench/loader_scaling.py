"""End-to-end records/s with 1, 2 and 4 loader processes sharing the work, through a Redis Cluster and one Redis.

What docs/scaling.md reports. Per configuration (transport x loader count) and repetition:

1. N ``provgraph load`` processes start (each a real loader process, as on N machines: ``--consumer bench-<i>``,
   graph through ``neo4j://``) and the bench waits until every one has joined its consumer groups.
2. A producer sends ``--records`` capture-shaped records (the workload of bench/load_throughput.py) of ``--runs``
   workflow runs through capture's own `RedisStreamSink` (on the cluster: each run in its partition stream).
3. records/s = records / (first XADD -> the moment every stream's group has nothing pending and nothing left to
   read), polled every 20 ms; the loaders then get SIGTERM and must exit 0.

Transports: ``cluster`` (a three-primary Redis Cluster of Debian's ``redis-server`` the bench starts on
127.0.0.1 and stops) and ``single`` (the Redis of ``PROVGRAPH_REDIS_URL``). Configurations run interleaved
(1, 2, 4, 4, 2, 1, ...) after an unmeasured warm-up, ``--repeat`` times each; the figure is the median. Also
reported: the CPU the loader processes used per record, and how busy the whole machine was (all cores) during
the measured runs, since other work on the machine shares the cores with Neo4j and the loaders.

Everything written goes under a fresh id prefix and stream names and is deleted at the end. The last line is one
JSON object.

    python bench/loader_scaling.py                              # 40,000 records per run, 3 repetitions
    python bench/loader_scaling.py --records 5000 --repeat 1    # quick
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench._redis_cluster import LocalRedisCluster  # noqa: E402
from bench.load_throughput import cleanup, workload  # noqa: E402
from capture import wire  # noqa: E402
from capture._sinks import RedisStreamSink  # noqa: E402
from capture._streams import StreamPlacement, connect, is_cluster_url, parse_cluster_url  # noqa: E402
from capture.settings import Settings  # noqa: E402


def _streams(settings: Settings) -> list[str]:
    if is_cluster_url(settings.redis_url):
        from capture._streams import discover_stream_keys

        with_client = connect(settings.redis_url)
        try:
            return discover_stream_keys(
                with_client, settings.stream, parse_cluster_url(settings.redis_url).partitions
            )
        finally:
            with_client.close()
    return [settings.stream]


def _env(settings: Settings, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PROVGRAPH_SETTINGS=str(home / "no-settings-file.yaml"),
        PROVGRAPH_HOME=str(home),
        PROVGRAPH_REDIS_URL=settings.redis_url,
        PROVGRAPH_GRAPH_URL=settings.graph_url,
        PROVGRAPH_STREAM=settings.stream,
        PROVGRAPH_DEAD_LETTER_STREAM=settings.dead_letter_stream,
        PROVGRAPH_CONSUMER_GROUP=settings.consumer_group,
        PROVGRAPH_LOADER_PROGRESS_INTERVAL_S="3600",
        PYTHONPATH=str(ROOT),
    )
    return env


def _listener(port: int) -> psutil.Process | None:
    """The process listening on 127.0.0.1:``port`` (Neo4j's Bolt port), when this user may see it."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return psutil.Process(conn.pid)
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        pass
    return None


def _cpu(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``processes`` (their threads included) so far."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _joined(client: Any, streams: list[str], group: str, consumers: set[str]) -> bool:
    """Whether every loader process has read every stream once (its consumer exists in each group)."""
    import redis

    for stream in streams:
        try:
            names = {
                (c["name"].decode() if isinstance(c["name"], bytes) else c["name"])
                for c in client.xinfo_consumers(stream, group)
            }
        except redis.exceptions.ResponseError:  # the group is not created yet
            return False
        if not consumers <= names:
            return False
    return True


def _drained(client: Any, streams: list[str], group: str) -> bool:
    """Whether the group has delivered every entry of every stream and has nothing pending (all acknowledged)."""
    for stream in streams:
        last = client.xinfo_stream(stream)["last-generated-id"]
        for info in client.xinfo_groups(stream):
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            if name == group and (info["pending"] or info["last-delivered-id"] != last):
                return False
    return True


def one_run(
    settings: Settings,
    loaders: int,
    messages: list[tuple[str, list[dict]]],
    home: Path,
    tag: str,
    servers: dict[str, list[psutil.Process]],
) -> dict[str, Any]:
    """Start ``loaders`` loader processes, send ``messages`` through capture's sink, time until all is loaded."""
    run_settings = settings.replace(consumer_group=f"{settings.consumer_group}-{tag}")
    streams = StreamPlacement(run_settings.stream, run_settings.redis_url).keys()
    if is_cluster_url(run_settings.redis_url):
        streams = [run_settings.stream, *streams]
    client = connect(run_settings.redis_url)
    names = {f"bench-{tag}-{i}" for i in range(loaders)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "provgraph", "load", "--quiet", "--consumer", name],
            env=_env(run_settings, home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in sorted(names)
    ]
    try:
        deadline = time.monotonic() + 120
        while not _joined(client, streams, run_settings.consumer_group, names):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                errors = [p.stderr.read() if p.poll() is not None and p.stderr else "" for p in processes]
                raise RuntimeError(f"loaders did not start: {errors}")
            time.sleep(0.05)
        payloads = [wire.encode_message(doc, records) for doc, records in messages]
        total = sum(len(records) for _, records in messages)
        sink = RedisStreamSink(run_settings.redis_url, run_settings.stream)
        loader_processes = [psutil.Process(p.pid) for p in processes]
        loader_cpu_before = _cpu(loader_processes)
        server_cpu_before = {name: _cpu(group) for name, group in servers.items()}
        machine_before = psutil.cpu_times()
        started = time.time()
        for start in range(0, len(payloads), 32):  # the emitter's batch of messages per pipeline
            if not sink.export(payloads[start : start + 32]):
                raise RuntimeError("the sink refused a batch")
        sink.close()
        sent = time.time()
        while not _drained(client, streams, run_settings.consumer_group):
            if any(p.poll() is not None for p in processes):
                raise RuntimeError(f"a loader exited: {[p.stderr.read() for p in processes if p.stderr]}")
            time.sleep(0.02)
        done = time.time()
        machine_after = psutil.cpu_times()
        loader_cpu = _cpu(loader_processes) - loader_cpu_before
        server_cpu = {name: _cpu(group) - server_cpu_before[name] for name, group in servers.items()}
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in processes]
        client.close()
    if any(codes):
        raise RuntimeError(f"a loader exited with {codes}")
    busy = (sum(machine_after) - machine_after.idle) - (sum(machine_before) - machine_before.idle)
    wall_cpu = sum(machine_after) - sum(machine_before)
    return {
        "loaders": loaders,
        "records": total,
        "seconds": done - started,
        "send_seconds": sent - started,
        "records_per_s": total / (done - started),
        "loader_cpu_us_per_record": loader_cpu / total * 1e6,
        **{f"{name}_cpu_us_per_record": cpu / total * 1e6 for name, cpu in server_cpu.items()},
        "machine_busy": busy / wall_cpu if wall_cpu else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=40_000, help="records per measured run")
    parser.add_argument(
        "--runs", type=int, default=12, help="workflow runs (documents) the records belong to"
    )
    parser.add_argument("--message-records", type=int, default=1000, help="records per message")
    parser.add_argument("--loaders", default="1,2,4", help="loader process counts to measure")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per configuration; the median is reported"
    )
    parser.add_argument("--warmup-records", type=int, default=40_000, help="loaded first, not measured")
    parser.add_argument("--transports", default="cluster,single", help="cluster, single or both")
    args = parser.parse_args()
    counts = [int(n) for n in args.loaders.split(",")]
    transports = args.transports.split(",")

    from provgraph.graph.backend import Neo4jBackend

    token = uuid.uuid4().hex[:10]
    prefix = f"bench_{token}_"
    key_prefix = wire.NAMESPACES["pgid"] + prefix
    bolt = os.environ.get("PROVGRAPH_GRAPH_URL", "bolt://127.0.0.1:7687")
    base = Settings.load(
        graph_url="neo4j://" + bolt.split("://", 1)[1],
        redis_url=os.environ.get("PROVGRAPH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        stream=f"provgraph:bench:{token}",
        dead_letter_stream=f"provgraph:bench:{token}:dead",
        consumer_group=f"bench-{token}",
    )
    docs: list[str] = []
    batch_counter = [0]

    def make_messages(records: int) -> list[tuple[str, list[dict]]]:
        batch_counter[0] += 1
        out: list[tuple[str, list[dict]]] = []
        for run in range(args.runs):
            run_prefix = f"{prefix}b{batch_counter[0]}r{run}_"
            doc = f"pgid:{run_prefix}doc"
            docs.append(doc)
            out += [(doc, m) for m in workload(run_prefix, doc, records // args.runs, args.message_records)]
        # interleave the runs, as concurrent workflows send them
        return [
            m for group in zip(*[out[i :: args.runs] for i in range(args.runs)], strict=False) for m in group
        ]

    backend = Neo4jBackend(base)
    backend.ensure_schema()
    home = Path(tempfile.mkdtemp(prefix="pg-scaling-"))
    cluster = LocalRedisCluster(home / "cluster")
    used_streams: list[tuple[str, list[str]]] = []
    results: dict[str, dict[int, list[dict[str, Any]]]] = {t: {n: [] for n in counts} for t in transports}
    load_before = os.getloadavg()
    try:
        if "cluster" in transports:
            cluster.start()
        neo4j = _listener(int(bolt.rsplit(":", 1)[1].split("/")[0]))
        servers_of = {
            "cluster": {"redis": [psutil.Process(pid) for pid in cluster.pids]},
            "single": {},
        }
        single_port = base.redis_url.rsplit(":", 1)[1].split("/")[0]
        single = _listener(int(single_port)) if single_port.isdigit() else None
        if single is not None:
            servers_of["single"]["redis"] = [single]
        if neo4j is not None:
            for group in servers_of.values():
                group["neo4j"] = [neo4j]
        settings_of = {
            "cluster": base.replace(redis_url=cluster.url) if "cluster" in transports else base,
            "single": base,
        }
        for transport in transports:
            settings = settings_of[transport]
            servers = servers_of[transport]
            if args.warmup_records:
                print(f"{transport}: warm-up, {args.warmup_records} records ...", file=sys.stderr)
                one_run(settings, 1, make_messages(args.warmup_records), home, f"{transport}-warm", servers)
            order = []
            for repetition in range(args.repeat):
                order += counts if repetition % 2 == 0 else counts[::-1]
            for index, loaders in enumerate(order):
                result = one_run(
                    settings, loaders, make_messages(args.records), home, f"{transport}-{index}", servers
                )
                results[transport][loaders].append(result)
                print(
                    f"  {transport}, {loaders} loader(s): {result['records_per_s']:,.0f} records/s "
                    f"({result['records']} in {result['seconds']:.1f} s; loaders' CPU "
                    f"{result['loader_cpu_us_per_record']:.0f} us/record, Neo4j's "
                    f"{result.get('neo4j_cpu_us_per_record', float('nan')):.0f}, Redis's "
                    f"{result.get('redis_cpu_us_per_record', float('nan')):.0f}; machine busy "
                    f"{result['machine_busy']:.0%})",
                    file=sys.stderr,
                )
            used_streams.append((settings.redis_url, _streams(settings)))
    finally:
        print("cleaning up ...", file=sys.stderr)
        cleanup(backend, key_prefix, docs)
        for url, streams in used_streams:
            if not is_cluster_url(url):
                client = connect(url)
                client.delete(*streams, base.dead_letter_stream)
                client.close()
        cluster.stop()  # its streams go with it
        backend.close()

    def median(transport: str, loaders: int, key: str) -> float:
        return round(statistics.median(r[key] for r in results[transport][loaders]), 3)

    summary: dict[str, Any] = {}
    for transport in transports:
        curve = {str(n): round(median(transport, n, "records_per_s"), 1) for n in counts}
        summary[f"{transport}_records_per_s"] = curve
        summary[f"{transport}_runs_records_per_s"] = {
            str(n): [round(r["records_per_s"], 1) for r in results[transport][n]] for n in counts
        }
        summary[f"{transport}_speedup"] = {
            str(n): round(curve[str(n)] / curve[str(counts[0])], 2) for n in counts
        }
        summary[f"{transport}_loader_cpu_us_per_record"] = {
            str(n): median(transport, n, "loader_cpu_us_per_record") for n in counts
        }
        summary[f"{transport}_machine_busy"] = {str(n): median(transport, n, "machine_busy") for n in counts}
        for server in ("neo4j", "redis"):
            if all(f"{server}_cpu_us_per_record" in r for n in counts for r in results[transport][n]):
                summary[f"{transport}_{server}_cpu_us_per_record"] = {
                    str(n): median(transport, n, f"{server}_cpu_us_per_record") for n in counts
                }
    summary.update(
        token=token,  # the id prefix bench_<token>_ of everything it wrote (and deleted)
        records=args.records,
        runs=args.runs,
        repeat=args.repeat,
        partitions=parse_cluster_url(cluster.url).partitions if "cluster" in transports else None,
        cpu_count=os.cpu_count(),
        loadavg_1m_before=round(load_before[0], 2),
        loadavg_1m_after=round(os.getloadavg()[0], 2),
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
