"""Watching provenance arrive: the record stream followed live, and what the graph already holds.

`tail` reads the Redis Stream with plain ``XREAD`` from a stream id (never ``XREADGROUP``): it is not a consumer
of the loader's group, so it acknowledges, claims and delays nothing, and any number of tails can watch while
loaders load. With ``since``, it first replays the events the graph already holds from that time on (a named
query, ``cypher/tail_since.cypher``), then follows the stream from the entry that was last when it started (on a
Redis Cluster: every partition stream of it, `capture._streams`).

Each PROV message becomes a few events, one line each:

====================  ============================================================================
event                 from
====================  ============================================================================
``run_started``       a ``pg:WorkflowRun`` activity with a start and no end
``run_finished``      a ``pg:WorkflowRun`` activity with an end (its status, its duration)
``task_finished``     a task (any other activity) with status FINISHED: duration, inputs, outputs
``task_failed``       a task with status ERROR: its error
``task_running``      a task published before it ended (``CustomTask.send``)
``llm_call``          an activity with token usage (``capture.record_llm_call``, ``agent_task``)
``telemetry``         a task's telemetry entities: peak memory, CPU and GPU memory
====================  ============================================================================

Example::

    from provgraph import Client

    with Client() as client:
        for event in client.tail(workflow="train", kinds={"task"}, status="ERROR"):
            print(event.line())
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from capture import wire
from capture._streams import discover_stream_keys, is_cluster_url, parse_cluster_url
from provgraph.errors import ConfigurationError, StoreUnavailable
from provgraph.graph.backend import GraphBackend
from provgraph.graph.times import utc_microseconds
from provgraph.loader import _redis_client
from provgraph.redaction import redact_url

__all__ = ["KINDS", "TailEvent", "TailFilter", "events_of_message", "parse_since", "tail"]

KINDS = ("run", "task", "llm", "telemetry")
"""What ``kinds`` filters on: run events, task events, LLM calls, telemetry peaks."""

_EVENT_KIND = {
    "run_started": "run",
    "run_finished": "run",
    "task_finished": "task",
    "task_failed": "task",
    "task_running": "task",
    "llm_call": "llm",
    "telemetry": "telemetry",
}
_MAX_VALUE_CHARS = 40
_KNOWN_VALUES = 20_000
"""Entity values remembered across messages (a task's input was often declared by the message before)."""


@dataclass(frozen=True, slots=True)
class TailEvent:
    """One thing that happened, as `tail` reports it; ``source`` is ``stream`` (live) or ``graph`` (``since``)."""

    event: str
    time: str | None
    run: str
    id: str
    name: str | None = None
    workflow: str | None = None
    campaign: str | None = None
    status: str | None = None
    duration_s: float | None = None
    error: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    source: str = "stream"
    entry_id: str | None = None

    @property
    def kind(self) -> str:
        """``run``, ``task``, ``llm`` or ``telemetry``."""
        return _EVENT_KIND[self.event]

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (``kind`` included)."""
        return {"kind": self.kind, **asdict(self)}

    def line(self) -> str:
        """One readable line: time, workflow, what happened."""
        clock = _clock(self.time)
        who = self.workflow or self.run
        name = self.name or self.id
        if self.event == "run_started":
            text = f"run started     {self.run}" + (f" (campaign {self.campaign})" if self.campaign else "")
        elif self.event == "run_finished":
            text = f"run finished    {self.run}{_took(self.duration_s, 'in')} ({self.status or 'FINISHED'})"
        elif self.event == "task_finished":
            text = f"task finished   {name}{_took(self.duration_s, 'in')}{_flow(self.inputs, self.outputs)}"
        elif self.event == "task_failed":
            text = f"task FAILED     {name}{_took(self.duration_s, 'after')}: {self.error or 'error'}"
            text += _flow(self.inputs, {})
        elif self.event == "task_running":
            text = f"task running    {name}{_flow(self.inputs, {})}"
        elif self.event == "llm_call":
            text = f"llm call        {name}: {_tokens(self.details)}"
        else:
            text = f"telemetry       {name}: {_peaks(self.details)}"
        return f"{clock}  {who}  {text}"


@dataclass(frozen=True, slots=True)
class TailFilter:
    """What to show; ``None`` (or empty) lets everything through."""

    run: str | None = None
    workflow: str | None = None
    campaign: str | None = None
    kinds: frozenset[str] = frozenset()
    status: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ConfigurationError(
                f"unknown event kind {', '.join(sorted(unknown))}; use {', '.join(KINDS)}"
            )

    def campaign_ids(self) -> list[str]:
        """The campaign as given and as capture names it (``experiment_42`` -> ``pgid:campaign_experiment_42``)."""
        if self.campaign is None:
            return []
        if ":" in self.campaign:
            return [self.campaign]
        return [self.campaign, "pgid:campaign_" + re.sub(r"[^A-Za-z0-9_.-]", "_", self.campaign)]

    def admits(self, event: TailEvent) -> bool:
        if self.run is not None and event.run != self.run:
            return False
        if self.workflow is not None and event.workflow != self.workflow:
            return False
        if self.campaign is not None and event.campaign not in self.campaign_ids():
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        if self.status is not None and (event.status or "").upper() != self.status.upper():
            return False
        return True


# --- text -------------------------------------------------------------------------------------------------------


def _clock(moment: str | None) -> str:
    if not moment:
        return "--:--:--.---"
    match = re.search(r"T(\d\d:\d\d:\d\d)(\.\d{1,3})?", moment)
    if not match:
        return moment[:12]
    return match.group(1) + (match.group(2) or ".000").ljust(4, "0")


def _took(seconds: float | None, word: str) -> str:
    if seconds is None:
        return ""
    return f" {word} {seconds:.3g} s" if seconds < 10 else f" {word} {seconds:,.1f} s"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, str):
        text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "…"


def _flow(inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> str:
    parts = []
    if inputs:
        parts.append("inputs " + ", ".join(f"{k}={_short(v)}" for k, v in inputs.items()))
    if outputs:
        parts.append("outputs " + ", ".join(f"{k}={_short(v)}" for k, v in outputs.items()))
    return ("  " + " -> ".join(parts)) if parts else ""


def _bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover - the loop returns


def _tokens(details: Mapping[str, Any]) -> str:
    parts = []
    if details.get("tokens_total") is not None:
        parts.append(f"{details['tokens_total']} tokens")
    split = [f"{details[k]} {k[7:]}" for k in ("tokens_in", "tokens_out") if details.get(k) is not None]
    if split:
        parts.append("(" + ", ".join(split) + ")")
    if details.get("cost") is not None:
        parts.append(f"cost {details['cost']:g}")
    if details.get("model"):
        parts.append(f"model {details['model']}")
    return " ".join(parts) or "no usage reported"


def _peaks(details: Mapping[str, Any]) -> str:
    parts = []
    if details.get("peak_rss_bytes") is not None:
        parts.append(f"peak RSS {_bytes(details['peak_rss_bytes'])}")
    if details.get("peak_cpu_percent") is not None:
        parts.append(f"CPU {details['peak_cpu_percent']:.0f}%")
    if details.get("peak_gpu_memory_bytes") is not None:
        parts.append(f"GPU memory {_bytes(details['peak_gpu_memory_bytes'])}")
    return ", ".join(parts) or f"{details.get('samples', 0)} samples"


# --- messages -> events -----------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dict) and "$" in value:
        return value["$"]
    return value


def _attrs(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's attributes by local name (``pg:name`` -> ``name``); a repeated attribute keeps its first value."""
    found: dict[str, Any] = {}
    for pair in record.get("a") or ():
        name = str(pair[0])
        local = name.split(":", 1)[1] if name.startswith(("pg:", "prov:")) else name
        found.setdefault(local, _plain(pair[1]))
    return found


def _types(record: Mapping[str, Any]) -> set[str]:
    return {str(_plain(pair[1])) for pair in record.get("a") or () if pair[0] == "prov:type"}


def _entity_value(attrs: Mapping[str, Any]) -> Any:
    for name in ("value", "path", "head", "repr", "summary"):
        if name in attrs:
            return attrs[name]
    if attrs.get("redacted"):
        return "[REDACTED]"
    return attrs.get("python_type")


def _seconds_between(start: str | None, end: str | None) -> float | None:
    try:
        if start and end:
            parse = _dt.datetime.fromisoformat
            return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()
    except ValueError:
        return None
    return None


def _peak_details(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    def peak(name: str) -> Any:
        values = [s[name] for s in samples if isinstance(s.get(name), int | float)]
        return max(values) if values else None

    gpu = [
        sum(
            v
            for k, v in s.items()
            if k.startswith("gpu_") and k.endswith("_used_bytes") and isinstance(v, int)
        )
        for s in samples
        if any(k.startswith("gpu_") and k.endswith("_used_bytes") for k in s)
    ]
    return {
        "samples": len(samples),
        "peak_rss_bytes": peak("process_rss_bytes"),
        "peak_cpu_percent": peak("process_cpu_percent")
        if peak("process_cpu_percent") is not None
        else peak("cpu_percent"),
        "peak_gpu_memory_bytes": max(gpu) if gpu else None,
    }


class _Context:
    """What one tail remembers across messages: entity values, and each run's workflow name and campaign."""

    def __init__(self, lookup_run: Callable[[str], tuple[str | None, str | None]] | None) -> None:
        self.values: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self.runs: dict[str, tuple[str | None, str | None]] = {}
        self.lookup_run = lookup_run

    def remember(self, entity_id: str, value: Any) -> None:
        self.values[entity_id] = value
        if len(self.values) > _KNOWN_VALUES:
            self.values.popitem(last=False)

    def run_info(self, doc: str) -> tuple[str | None, str | None]:
        info = self.runs.get(doc)
        if info is None:
            info = (None, None)
            if self.lookup_run is not None:
                try:
                    info = self.lookup_run(doc)
                except Exception:  # noqa: BLE001 - the graph is optional for a live tail
                    info = (None, None)
            self.runs[doc] = info
        return info


def events_of_message(
    message: wire.Message, context: _Context | None = None, entry_id: str | None = None
) -> list[TailEvent]:
    """The events one PROV message carries, in record order (runs first, then tasks, calls, telemetry)."""
    context = context or _Context(None)
    activities: list[tuple[dict[str, Any], dict[str, Any], set[str]]] = []
    used: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    generated: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    telemetry: dict[str, dict[str, Any]] = {}
    for record in message.records:
        kind = record.get("k")
        if kind == "entity":
            attrs = _attrs(record)
            types = _types(record)
            if "pg:Telemetry" in types:
                telemetry[record.get("id", "")] = attrs
            else:
                context.remember(record.get("id", ""), _entity_value(attrs))
        elif kind == "activity":
            activities.append((record, _attrs(record), _types(record)))
        elif kind in ("used", "wasGeneratedBy"):
            formal = record.get("f") or {}
            role = str(_attrs(record).get("role") or formal.get("entity", "?"))
            if kind == "used" and formal.get("activity") and formal.get("entity"):
                used[formal["activity"]].append((role, formal["entity"]))
            elif kind == "wasGeneratedBy" and formal.get("activity") and formal.get("entity"):
                generated[formal["activity"]].append((role, formal["entity"]))
    for record, attrs, types in activities:  # a run declared in this message names the workflow for the rest
        if "pg:WorkflowRun" in types:
            context.runs[record.get("id", "")] = (attrs.get("name"), attrs.get("campaign"))
    workflow, run_campaign = context.run_info(message.doc)
    samples_of: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for activity_id, pairs in generated.items():
        for _role, entity in pairs:
            if entity in telemetry:
                samples_of[activity_id].append(telemetry[entity])
    events: list[TailEvent] = []
    for record, attrs, types in activities:
        activity_id = record.get("id", "")
        formal = record.get("f") or {}
        start, end = formal.get("startTime"), formal.get("endTime")
        common = {
            "run": message.doc,
            "id": activity_id,
            "name": attrs.get("name"),
            "workflow": workflow,
            "campaign": attrs.get("campaign") or run_campaign,
            "status": attrs.get("status"),
            "source": "stream",
            "entry_id": entry_id,
        }
        if "pg:WorkflowRun" in types:
            if end:
                duration = _seconds_between(start, end)
                status = attrs.get("status") or "FINISHED"
                events.append(
                    TailEvent("run_finished", end, duration_s=duration, **{**common, "status": status})
                )
            else:
                events.append(TailEvent("run_started", start, **common))
            continue
        if "pg:Campaign" in types:
            continue
        inputs = {role: context.values.get(entity, entity) for role, entity in used.get(activity_id, ())}
        outputs = {}
        for role, entity in generated.get(activity_id, ()):
            if entity not in telemetry:
                outputs[role] = context.values.get(entity, entity)
        status = str(attrs.get("status") or "")
        duration = attrs.get("duration_s")
        if not isinstance(duration, int | float):
            duration = _seconds_between(start, end)
        usage = {k: attrs.get(k) for k in ("tokens_in", "tokens_out", "tokens_total", "cost")}
        if attrs.get("kind") == "llm_call" or any(v is not None for v in usage.values()):
            details = {**usage, "model": attrs.get("llm_model")}
            if attrs.get("kind") == "llm_call":
                events.append(
                    TailEvent("llm_call", end or start, duration_s=duration, details=details, **common)
                )
                continue
        if status == "ERROR":
            error = attrs.get("error")
            events.append(
                TailEvent(
                    "task_failed", end or start, duration_s=duration, error=error, inputs=inputs, **common
                )
            )
        elif status == "RUNNING" or not end:
            events.append(TailEvent("task_running", start, inputs=inputs, **common))
        else:
            events.append(
                TailEvent("task_finished", end, duration_s=duration, inputs=inputs, outputs=outputs, **common)
            )
        if any(v is not None for v in usage.values()):  # an agent call: its usage as its own event too
            events.append(TailEvent("llm_call", end or start, duration_s=duration, details=details, **common))
        if activity_id in samples_of:
            peaks = _peak_details(samples_of[activity_id])
            events.append(TailEvent("telemetry", end or start, details=peaks, **{**common, "status": None}))
    return events


# --- since: what the graph holds ---------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> str:
    """``30s``, ``10m``, ``2h``, ``7d``, ``1w`` ago, or an ISO 8601 time: the ISO UTC lexical form to compare with
    the graph's ``startTime`` values (which capture writes as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``)."""
    match = _RELATIVE.match(text)
    if match:
        moment = (now if now is not None else time.time()) - float(match.group(1)) * _UNIT_S[match.group(2)]
        when = _dt.datetime.fromtimestamp(moment, _dt.UTC)
    else:
        try:
            when = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ConfigurationError(
                f"--since {text!r} is neither a duration (30s, 10m, 2h, 7d, 1w) nor an ISO 8601 time"
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def graph_events(backend: GraphBackend, since: str, flt: TailFilter, limit: int) -> list[TailEvent]:
    """The events of activities the graph holds that started at or after ``since``, oldest first."""
    rows = backend.read(
        backend.render("tail/since"),
        {
            "since": since,
            "since_us": utc_microseconds(since),
            "run": flt.run,
            "workflow": flt.workflow,
            "campaigns": flt.campaign_ids() or None,
            "limit": limit,
        },
        tag="tail_since",
    )
    events: list[TailEvent] = []
    for row in rows:
        labels = set(row["labels"] or ())
        common = {
            "run": row["run"] or row["id"],
            "id": row["id"],
            "name": row["name"],
            "workflow": row["workflow"],
            "campaign": row["campaign"],
            "status": row["status"],
            "source": "graph",
        }
        start, end = row["startTime"], row["endTime"]
        duration = row["duration_s"] if row["duration_s"] is not None else _seconds_between(start, end)
        if "WorkflowRun" in labels:
            events.append(TailEvent("run_started", start, **common))
            if end:
                events.append(
                    TailEvent(
                        "run_finished",
                        end,
                        duration_s=duration,
                        **{**common, "status": row["status"] or "FINISHED"},
                    )
                )
            continue
        usage = {k: row[k] for k in ("tokens_in", "tokens_out", "tokens_total", "cost")}
        details = {**usage, "model": row["llm_model"]}
        if row["kind"] == "llm_call":
            events.append(TailEvent("llm_call", end or start, duration_s=duration, details=details, **common))
            continue
        inputs = {i["role"] or i["id"]: _graph_value(i) for i in row["inputs"] or ()}
        outputs = {o["role"] or o["id"]: _graph_value(o) for o in row["outputs"] or ()}
        if row["status"] == "ERROR":
            events.append(
                TailEvent(
                    "task_failed",
                    end or start,
                    duration_s=duration,
                    error=row["error"],
                    inputs=inputs,
                    **common,
                )
            )
        elif row["status"] == "RUNNING" or not end:
            events.append(TailEvent("task_running", start, inputs=inputs, **common))
        else:
            events.append(
                TailEvent("task_finished", end, duration_s=duration, inputs=inputs, outputs=outputs, **common)
            )
        if any(v is not None for v in usage.values()):
            events.append(TailEvent("llm_call", end or start, duration_s=duration, details=details, **common))
        if row["samples"]:
            peaks = {
                "samples": row["samples"],
                "peak_rss_bytes": row["peak_rss_bytes"],
                "peak_cpu_percent": row["peak_cpu_percent"],
                "peak_gpu_memory_bytes": None,
            }
            events.append(TailEvent("telemetry", end or start, details=peaks, **common))
    events.sort(key=lambda e: (e.time or "", e.event != "run_started"))
    return [e for e in events if flt.admits(e)]


def _graph_value(item: Mapping[str, Any]) -> Any:
    for name in ("value", "path"):
        if item.get(name) is not None:
            return item[name]
    return item.get("id")


# --- the tail ---------------------------------------------------------------------------------------------------


def tail(
    settings: Any,
    backend: GraphBackend | None,
    *,
    flt: TailFilter,
    since: str | None = None,
    follow: bool = True,
    start_id: str | None = None,
    idle_timeout_s: float | None = None,
    block_ms: int = 1000,
    limit: int = 10_000,
    redis_client: Any = None,
) -> Iterator[TailEvent]:
    """Events from the graph (with ``since``) and then from the stream, live, filtered by ``flt``.

    Args:
        settings: where the stream is (``redis_url``, ``stream``).
        backend: the graph, for ``since`` and for naming the workflow of runs announced before the tail started
            (``None``: stream only).
        since: replay what the graph holds from this time (`parse_since` forms) before following.
        follow: follow the stream (else stop after the graph's events).
        start_id: follow from this stream entry id (exclusive; ``0``: the whole stream); default: the entry that
            is last when the tail starts.
        idle_timeout_s: stop after this long with no new stream entry (``None``: never).
        block_ms: how long one read waits for new entries.
        limit: at most this many events from the graph.
    """
    import redis

    owns_redis = redis_client is None
    if owns_redis:
        redis_client = _redis_client(settings)
    cursors: _Cursors | None = None
    if follow:
        # Fixed now, not at the first iteration: whatever is added after `tail` returns is reported.
        try:
            cursors = _Cursors.start(redis_client, settings, start_id)
        except redis.exceptions.ConnectionError as exc:
            if owns_redis:
                redis_client.close()
            raise StoreUnavailable(f"cannot reach the record stream at {_safe(settings)}: {exc}") from exc
    if since is not None and backend is None:
        raise ConfigurationError("--since reads the graph; no graph backend was given")
    since_iso = parse_since(since) if since is not None else None
    return _events(
        settings,
        backend,
        redis_client,
        owns_redis,
        flt,
        since_iso,
        cursors,
        idle_timeout_s,
        block_ms,
        limit,
    )


def _events(
    settings: Any,
    backend: GraphBackend | None,
    redis_client: Any,
    owns_redis: bool,
    flt: TailFilter,
    since_iso: str | None,
    cursors: _Cursors | None,
    idle_timeout_s: float | None,
    block_ms: int,
    limit: int,
) -> Iterator[TailEvent]:
    import redis

    try:
        if since_iso is not None and backend is not None:
            yield from graph_events(backend, since_iso, flt, limit)
        if cursors is None:
            return
        context = _Context(_run_lookup(backend) if backend is not None else None)
        idle_since = time.monotonic()
        while True:
            try:
                response = cursors.read(redis_client, block_ms)
            except redis.exceptions.ConnectionError as exc:
                raise StoreUnavailable(f"lost the record stream at {_safe(settings)}: {exc}") from exc
            if not response:
                if idle_timeout_s is not None and time.monotonic() - idle_since >= idle_timeout_s:
                    return
                continue
            idle_since = time.monotonic()
            for stream, entries in response:
                for raw_id, fields in entries:
                    entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    cursors.advance(stream, entry_id)
                    payload = fields.get(wire.FIELD.encode())
                    if payload is None:
                        continue
                    try:
                        message = wire.decode_message(payload)
                    except wire.WireFormatError:
                        continue  # the loader dead-letters it; a tail shows what loads
                    for event in events_of_message(message, context, entry_id):
                        if flt.admits(event):
                            yield event
    finally:
        if owns_redis:
            redis_client.close()


class _Cursors:
    """Where the tail is in each stream it follows: ``settings.stream`` on one server; on a Redis Cluster every
    partition stream of it (`capture._streams`), found again every `REDISCOVER_S` as runs create new ones."""

    REDISCOVER_S = 5.0
    CLUSTER_POLL_S = 0.2

    def __init__(self, settings: Any, positions: dict[str, str], start_id: str | None) -> None:
        self._settings = settings
        self._positions = positions
        self._start_id = start_id
        self._cluster = is_cluster_url(str(settings.redis_url))
        self._discovered = time.monotonic()

    @classmethod
    def start(cls, client: Any, settings: Any, start_id: str | None) -> _Cursors:
        cursors = cls(settings, {}, start_id)
        for key in cursors._keys(client):
            cursors._positions[key] = cursors._first_position(client, key)
        return cursors

    def _keys(self, client: Any) -> list[str]:
        if not self._cluster:
            return [str(self._settings.stream)]
        partitions = parse_cluster_url(str(self._settings.redis_url)).partitions
        return discover_stream_keys(client, str(self._settings.stream), partitions)

    def _first_position(self, client: Any, key: str) -> str:
        if self._start_id is not None:
            return self._start_id
        last = client.xrevrange(key, count=1)
        return str(last[0][0].decode() if isinstance(last[0][0], bytes) else last[0][0]) if last else "0-0"

    def read(self, client: Any, block_ms: int) -> list[tuple[Any, list[Any]]]:
        """The next entries (up to 100 per stream), waiting up to ``block_ms`` when there are none."""
        if not self._cluster:
            return list(client.xread(dict(self._positions), count=100, block=block_ms) or [])
        # A cluster answers one XREAD per slot: each stream is read on its own, without blocking, and the
        # tail sleeps a little when none had anything. Streams that appeared since are followed from their start.
        if time.monotonic() - self._discovered >= self.REDISCOVER_S:
            self._discovered = time.monotonic()
            for key in self._keys(client):
                self._positions.setdefault(key, "0-0" if self._start_id is None else self._start_id)
        response = []
        for key, position in list(self._positions.items()):
            found = client.xread({key: position}, count=100)
            if found:
                response.extend(found)
        if not response:
            time.sleep(min(block_ms / 1000, self.CLUSTER_POLL_S))
        return response

    def advance(self, stream: Any, entry_id: str) -> None:
        key = stream.decode() if isinstance(stream, bytes) else str(stream)
        self._positions[key] = entry_id


def _safe(settings: Any) -> str:
    return redact_url(str(settings.redis_url))


def _run_lookup(backend: GraphBackend) -> Callable[[str], tuple[str | None, str | None]]:
    def lookup(doc: str) -> tuple[str | None, str | None]:
        rows = backend.read(backend.render("tail/run_info"), {"run": doc}, tag="tail_run_info")
        if not rows:
            return (None, None)
        return (rows[0]["workflow"], rows[0]["campaign"])

    return lookup


def as_json_lines(events: Iterable[TailEvent]) -> Iterator[str]:
    """``--json``: one JSON object per event."""
    for event in events:
        yield json.dumps(event.to_json(), default=str, ensure_ascii=False, sort_keys=True)
