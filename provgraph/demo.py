"""The demo behind ``provgraph demo``: capture a realistic workflow, load it, ask lineage questions, export PROV.

Two workflow runs share a file. ``prepare_data`` generates a measurements CSV and validates it;
``train_model`` reads the same file (the same content hash, so the same PROV entity), computes statistics,
trains in a loop of epochs with telemetry, evaluates, and saves a model file. Records travel through a Redis
Stream (the embedded server's by default), the loader writes them into the graph, the query client answers,
and the training run is exported as PROV-JSON and Turtle.

On the embedded default the demo starts the server under ``settings.home`` and stops it at the end, so nothing
is left running; a second run adds its runs to the same graph (the shared file then links runs of both
invocations), ``fresh=True`` deletes the embedded data directory first.

Example::

    from capture.settings import Settings
    from provgraph.demo import run_demo

    run_demo(Settings.load())                      # files under $PROVGRAPH_HOME/demo
"""

from __future__ import annotations

import json
import logging
import math
import random
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import capture
from capture import wire
from capture.settings import Settings

__all__ = ["DemoResult", "run_demo", "run_workflows"]

logger = logging.getLogger(__name__)

_SENSORS = ("alpha", "beta", "gamma", "delta")


# --- the example workflow (plain Python functions with capture decorators) --------------------------------------


@capture.task(output_names="measurements")
def generate_measurements(path: str, rows: int, seed: int) -> Any:
    """Write a CSV of sensor readings (deterministic for a seed, so every demo run writes the same bytes)."""
    rng = random.Random(seed)
    with open(path, "w") as handle:
        handle.write("sensor,temperature,pressure\n")
        for _ in range(rows):
            temperature = round(rng.gauss(21.0, 4.0), 2) if rng.random() > 0.05 else float("nan")
            handle.write(f"{rng.choice(_SENSORS)},{temperature},{round(rng.uniform(980, 1040), 1)}\n")
    return capture.file(path)


def _temperatures(path: str) -> list[float]:
    with open(path) as handle:
        next(handle)
        values = [float(line.split(",")[1]) for line in handle]
    return [v for v in values if not math.isnan(v)]


@capture.task(output_names=["valid_rows", "rejected_rows"])
def validate(measurements: str) -> tuple[int, int]:
    """Count readings with and without a temperature."""
    with open(measurements) as handle:
        total = sum(1 for _ in handle) - 1
    valid = len(_temperatures(measurements))
    return valid, total - valid


@capture.task(output_names=["mean", "std"])
def compute_statistics(measurements: str) -> tuple[float, float]:
    """Mean and standard deviation of the temperatures."""
    values = _temperatures(measurements)
    mean = sum(values) / len(values)
    return round(mean, 4), round(math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)), 4)


@capture.telemetry_task(output_names="weight")
def train_epoch(epoch: int, weight: float, mean: float, std: float) -> float:
    """One gradient step towards the mean (with a little CPU work, so telemetry has something to see)."""
    total = 0.0
    for i in range(20_000):
        total += math.sin(i * std)
    return round(weight + 0.5 * (mean - weight) + total * 0.0, 6)


@capture.task(output_names="error")
def evaluate(weight: float, mean: float) -> float:
    """Absolute error of the trained weight."""
    return round(abs(mean - weight), 6)


@capture.task(output_names="model")
def save_model(weight: float, error: float, path: str) -> Any:
    """Write the model as JSON."""
    with open(path, "w") as handle:
        json.dump({"weight": weight, "error": error}, handle, sort_keys=True)
    return capture.file(path)


def run_workflows(work_dir: Path, epochs: int, settings: Settings) -> dict[str, str]:
    """Run the two example workflows under capture; returns their run ids and the shared paths."""
    from capture._values import file_entity_id

    work_dir.mkdir(parents=True, exist_ok=True)
    data_path = str(work_dir / "measurements.csv")
    model_path = str(work_dir / "model.json")
    with capture.Workflow("prepare_data", settings=settings) as prepare:
        measurements = generate_measurements(data_path, rows=500, seed=7)
        validate(measurements)
    with capture.Workflow("train_model", settings=settings) as train:
        data = capture.file(data_path)  # the same bytes: the same entity as prepare_data's output
        mean, std = compute_statistics(data)
        weight = 0.0
        loop = capture.Loop(range(epochs), loop_name="training", item_name="epoch")
        for epoch in loop:
            weight = train_epoch(epoch, weight, mean, std)
            loop.end_iter({"weight": weight})
        error = evaluate(weight, mean)
        model = save_model(weight, error, model_path)
    return {
        "prepare": prepare.id,
        "train": train.id,
        "data_file": file_entity_id(capture.file(data_path)) or "",
        "model_file": file_entity_id(capture.file(str(model))) or "",
        "flushed": str(bool(prepare.flushed is not False and train.flushed is not False)),
    }


# --- the demo ---------------------------------------------------------------------------------------------------


class DemoResult(dict[str, Any]):
    """What the demo did: run ids, record and message counts, export paths (a dict, for printing as JSON)."""


def run_demo(
    settings: Settings,
    *,
    out_dir: str | Path | None = None,
    fresh: bool = False,
    epochs: int = 5,
    echo: Callable[[str], None] = print,
) -> int:
    """Run the whole demo; returns the exit code (0).

    Its files (the workflow's data and model, the exports) go to ``out_dir``, by default ``<settings.home>/demo``:
    never into the current directory unless asked.

    Raises:
        provgraph.errors.ProvgraphError: a step failed (the message says which and what to do).
    """
    from provgraph.client import Client
    from provgraph.errors import ConfigurationError, StoreUnavailable
    from provgraph.graph import open_backend
    from provgraph.graph.backend import redact_url
    from provgraph.loader import load_messages
    from provgraph.prov.export import export
    from provgraph.services.embedded import EmbeddedServer

    started = time.perf_counter()
    out = (Path(settings.home).expanduser() / "demo" if out_dir is None else Path(out_dir)).resolve()
    embedded = settings.graph_url == "embedded" or settings.redis_url == "embedded"

    def step(text: str) -> None:
        echo(f"[{time.perf_counter() - started:5.1f}s] {text}")

    server: EmbeddedServer | None = None
    redis_url = settings.redis_url
    if embedded:
        candidate = EmbeddedServer(settings.home)
        if fresh:
            if candidate.running():
                raise ConfigurationError(
                    f"--fresh: an embedded server is running for {settings.home}; "
                    "stop it first (`provgraph embedded down`)"
                )
            shutil.rmtree(candidate.data_dir, ignore_errors=True)
            step(f"removed the embedded data directory {candidate.data_dir}")
        if candidate.start():
            server = candidate
            step(f"started the embedded server (data in {candidate.data_dir})")
        else:
            step(f"using the running embedded server of {settings.home}")
        state = candidate.state() or {}
        if redis_url == "embedded":
            redis_url = state.get("url", candidate.url)
    elif fresh:
        step("--fresh applies to the embedded data directory only; Neo4j and Redis are left as they are")

    backend = None
    try:
        import redis

        stream = f"provgraph:demo:{uuid.uuid4().hex[:12]}"
        # capture keeps redis_url as configured: "embedded" is found through <home>/embedded/url, as in any script
        # the demo loads its own stream itself (and shows it): no automatic loader for it
        capture_settings = settings.replace(
            stream=stream, sink="redis", capture_enabled=True, embedded_autoload=False
        )
        step(f"running two workflows with capture (records to stream {stream})")
        ids = run_workflows(out / "work", epochs, capture_settings)
        step(f"captured runs prepare_data ({ids['prepare']}) and train_model ({ids['train']})")

        transport = redis.Redis.from_url(redis_url, socket_timeout=60)
        try:
            entries = transport.xrange(stream)
        except redis.exceptions.RedisError as exc:
            raise StoreUnavailable(f"cannot read {stream} at {redact_url(redis_url)}: {exc}") from exc
        if not entries:
            raise ConfigurationError(
                f"no records reached {stream}: capture could not send them (run with --verbose to see why)"
            )
        messages = [wire.decode_message(fields[wire.FIELD.encode()]) for _, fields in entries if fields]

        backend = open_backend(settings)
        backend.ensure_schema()
        stats = load_messages(backend, messages)
        transport.delete(stream)
        transport.close()
        step(f"loaded {stats.records} records from {len(messages)} messages into the graph")

        client = Client(settings, backend=backend)
        _show(
            echo,
            "Recent workflow runs",
            client.runs(limit=6),
            ["id", "workflow", "status", "tasks", "failed"],
        )
        _show(
            echo,
            f"Where did model.json come from? (lineage of {ids['model_file'][:36]}...)",
            client.lineage(ids["model_file"], depth=12, limit=40),
            ["depth", "name", "labels", "relation", "value"],
        )
        _show(
            echo,
            "Which runs touched measurements.csv? (one entity, shared across runs)",
            client.entity_runs(ids["data_file"]),
            ["run", "workflow", "activity_name", "relation"],
        )
        _show(
            echo,
            "Slowest tasks of the training run",
            client.slowest_tasks(run=ids["train"], limit=5),  # tasks, not the loop iterations around them
            ["name", "duration_s", "status"],
        )
        peaks = [
            {
                "name": peak.name,
                "samples": peak.samples,
                "rss_growth_bytes": peak.rss_growth_bytes,  # what the task added
                "peak_rss_bytes": peak.peak_rss_bytes,  # the whole process
                "peak_cpu_percent": peak.peak_cpu_percent,
            }
            for peak in client.peak_resources(run=ids["train"], limit=5)
        ]
        if peaks:
            _show(echo, "Peak resources per task (telemetry)", peaks, list(peaks[0]))
        else:
            step("no telemetry in the graph (telemetry sampling is not available in this installation)")

        out.mkdir(parents=True, exist_ok=True)
        written = []
        for fmt, suffix in (("json", "json"), ("turtle", "ttl")):
            path = out / f"train_model.{suffix}"
            export(backend, fmt=fmt, out=path, run=ids["train"])
            written.append(path)
        step("exported the training run: " + ", ".join(str(p) for p in written))
        step(
            "done. Ask more: `provgraph lineage "
            + ids["model_file"]
            + "`, `provgraph query --list` (same settings, same graph)"
        )
        return 0
    finally:
        if backend is not None:
            backend.close()
        if server is not None:
            server.stop()
            step("stopped the embedded server (data kept; `provgraph demo --fresh` starts clean)")


def _show(echo: Callable[[str], None], title: str, rows: Sequence[Any], columns: Sequence[str]) -> None:
    from provgraph.tables import format_table, plain

    table = [plain(row) for row in rows]
    for row in table:
        if isinstance(row.get("labels"), list):
            row["labels"] = ",".join(sorted(row["labels"]))
    echo("")
    echo(f"== {title}")
    echo(format_table(table, columns))
    echo("")


QUERIES_GRAPH = "queries_graph.jsonl"
"""The example graph of docs/queries.md, as wire messages (the tests' known graph with the token ``demo``;
tests/provgraph/test_docs_run.py checks the file is exactly that graph)."""


def load_queries_graph(settings: Settings, echo: Callable[[str], None] = print) -> int:
    """Load the example graph of docs/queries.md into the graph ``settings`` names (``provgraph demo
    --queries-graph``), so every example there answers as shown. Idempotent: loading it twice changes nothing."""
    from importlib import resources

    from capture import wire
    from provgraph.graph import open_backend
    from provgraph.loader import load_messages

    text = resources.files("provgraph").joinpath("examples", QUERIES_GRAPH).read_bytes()
    messages = [wire.decode_message(line) for line in text.splitlines() if line.strip()]
    with open_backend(settings) as backend:
        backend.ensure_schema()
        stats = load_messages(backend, messages)
    echo(
        f"loaded the example graph of docs/queries.md: {stats.records} records "
        "(runs pgid:run_a_demo, pgid:run_b_demo, pgid:run_p_demo); try `provgraph runs --workflow train_demo`"
    )
    return 0
