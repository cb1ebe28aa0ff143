"""The query client: lineage, impact, cross-workflow and run questions answered from the graph.

Every question is a named Cypher file in ``cypher/`` (readable and reusable in Neo4j Browser); the client runs it
with parameters only, bounds depth and result size, and returns plain frozen dataclasses.

Example::

    from provgraph import Client

    with Client() as client:                                   # settings from the environment / settings file
        for step in client.lineage("pgid:val_ab12_o0", depth=6):
            print(step.depth, step.name, step.relation)
        diff = client.diff("pgid:run_1", "pgid:run_2")
        print(diff.added, diff.removed, diff.changed)
        rows = client.run("slowest_tasks", run=None, limit=5)   # any file in cypher/, rows as dicts
        rows = client.cypher("MATCH (r:WorkflowRun) RETURN count(r) AS runs")   # read-only escape hatch

An element is named by its qualified name (``id``, e.g. ``pgid:run_...``) or its full URI (``key``).
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import IO, Any, TypeVar

from capture.settings import Settings, SettingsError
from provgraph.autoload import catch_up
from provgraph.diff import ActivityChange, InputValue, ParameterChange, RunDiff, compare_runs
from provgraph.errors import ConfigurationError, QueryError, UnknownId
from provgraph.graph import open_backend
from provgraph.graph.backend import GraphBackend
from provgraph.graph.cypher import QueryFile, catalogue, load
from provgraph.graph.lookup import require_ids, similar_ids
from provgraph.prov.importer import ImportResult
from provgraph.tail import TailEvent
from provgraph.tokens import StepUsage, TokenTotals, step_usage, token_totals

__all__ = [
    "DEFAULT_DEPTH",
    "DEFAULT_LIMIT",
    "MAX_DEPTH",
    "MAX_LIMIT",
    "ActivityChange",
    "Association",
    "ChainStep",
    "Client",
    "EntityUse",
    "FailedTask",
    "Found",
    "InputValue",
    "LineageStep",
    "ParameterChange",
    "Product",
    "QueryParameter",
    "ResourcePeak",
    "RunDiff",
    "RunSummary",
    "SharedEntity",
    "StepUsage",
    "TailEvent",
    "TaskDuration",
    "TaskInput",
    "TaskNode",
    "TokenTotals",
    "query_parameters",
]

logger = logging.getLogger(__name__)

MAX_DEPTH = 30
"""The deepest traversal any query makes: the fixed variable-length bound written in the ``cypher/`` files
(Cypher cannot take that bound from a parameter, so ``$depth`` filters within it)."""
DEFAULT_DEPTH = 10
MAX_LIMIT = 100_000
DEFAULT_LIMIT = 1000
DIFF_LIMIT = 20_000
"""At most this many steps of two runs together in `Client.diff` (a diff is never partial: more is an error)."""


# --- result objects ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineageStep:
    """One element of an upstream lineage, a downstream impact or a provenance cut off at a step.

    ``relation`` is the type of the last edge on a shortest path to it and ``via`` the element that edge comes
    from (``None`` for `Client.provenance_since`); ``cut`` is true for an activity where the walk stopped.
    """

    depth: int
    id: str
    key: str
    labels: tuple[str, ...]
    name: str
    value: Any = None
    relation: str | None = None
    via: str | None = None
    cut: bool = False


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One element of a derivation chain; ``relation`` is the edge to the next step (``None`` on the last)."""

    step: int
    id: str
    key: str
    labels: tuple[str, ...]
    name: str
    value: Any = None
    relation: str | None = None


@dataclass(frozen=True, slots=True)
class TaskNode:
    """One activity in a run's task tree; ``parent`` is the id of the activity (or run) that started it."""

    depth: int
    id: str
    key: str
    name: str | None
    labels: tuple[str, ...]
    status: str | None
    start_time: str | None
    end_time: str | None
    duration_s: float | None
    error: str | None
    parent: str


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A workflow run with the number of its activities by status."""

    id: str
    key: str
    workflow: str | None
    start_time: str | None
    end_time: str | None
    status: str | None
    tasks: int
    finished: int
    failed: int
    other: int
    kind: str = "activity"
    """``activity`` (a run activity), ``bundle`` or ``document`` (docs/graph-model.md, "Runs and steps")."""


@dataclass(frozen=True, slots=True)
class SharedEntity:
    """An entity a run shares with another run (the cross-workflow join)."""

    entity: str
    entity_key: str
    name: str
    labels: tuple[str, ...]
    relation: str
    other_run: str
    other_workflow: str | None
    other_relation: str


@dataclass(frozen=True, slots=True)
class EntityUse:
    """A run (and its activity) that used or generated an entity."""

    run: str
    workflow: str | None
    run_start: str | None
    activity: str
    activity_name: str | None
    relation: str
    role: str | None


@dataclass(frozen=True, slots=True)
class Product:
    """An entity generated by an activity of a campaign's run."""

    run: str
    workflow: str | None
    activity: str
    activity_name: str | None
    entity: str
    entity_key: str
    name: str
    labels: tuple[str, ...]
    value: Any
    role: str | None


@dataclass(frozen=True, slots=True)
class TaskInput:
    """An input of a failed task."""

    id: str
    role: str | None
    value: Any = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class FailedTask:
    """A task that ended in an error, with what it used."""

    id: str
    key: str
    name: str | None
    error: str | None
    start_time: str | None
    end_time: str | None
    run: str | None
    inputs: tuple[TaskInput, ...]


@dataclass(frozen=True, slots=True)
class TaskDuration:
    """A task and how long it took."""

    id: str
    key: str
    name: str | None
    duration_s: float
    status: str | None
    start_time: str | None
    end_time: str | None
    run: str | None
    kind: str = "task"
    """``task``, or ``iteration``: one pass of a ``capture.Loop``, a wrapper as long as the tasks run in it."""


@dataclass(frozen=True, slots=True)
class ResourcePeak:
    """The highest resource use a task's telemetry recorded (``None``: not measured).

    GPU figures are device-wide (what NVML or amdsmi report for the device), summed over devices for memory.
    """

    id: str
    key: str
    name: str | None
    run: str | None
    samples: int
    peak_rss_bytes: int | None
    peak_cpu_percent: float | None
    peak_gpu_memory_bytes: int | None
    peak_gpu_utilization_percent: float | None
    rss_growth_bytes: int | None = None
    """What the task added to the process's resident memory: its peak less the reading at its start
    (``peak_rss_bytes`` is the whole process's)."""


@dataclass(frozen=True, slots=True)
class Association:
    """An agent associated with a result, and how (see ``cypher/associations.cypher``)."""

    agent: str
    agent_key: str
    labels: tuple[str, ...]
    name: str
    how: str
    activity: str | None
    activity_name: str | None
    on_behalf_of: str | None


@dataclass(frozen=True, slots=True)
class Found:
    """An element `Client.find` found: its kind (most specific label), id to ask other questions with, and what
    identifies it to a person (name, role, path, value), with the runs (documents) that declared it."""

    kind: str
    id: str
    name: str | None
    role: str | None
    path: str | None
    value: Any
    runs: tuple[str, ...]
    labels: tuple[str, ...]
    key: str


@dataclass(frozen=True, slots=True)
class QueryParameter:
    """A parameter of a named query, as its header documents it."""

    name: str
    description: str
    optional: bool = field(default=False)

    @property
    def is_id(self) -> bool:
        """Whether it takes an element's id (its header names both "`id`" and "`key`", as in "qualified name (`id`)
        or full URI (`key`)"): such a value must name an element in the graph (`UnknownId` otherwise)."""
        return "`id`" in self.description and "`key`" in self.description


# --- query files ------------------------------------------------------------------------------------------------

_HEADER_PARAMETER = re.compile(r"^\$([A-Za-z_]\w*)\s+(.*)$")
_TEXT_PARAMETER = re.compile(r"\$([A-Za-z_]\w*)")


def query_parameters(query: QueryFile) -> list[QueryParameter]:
    """The parameters of a query: those its header documents (in order), then any others its text uses.

    A parameter is optional when its header line says what ``null`` means (``...; null: every run``).
    """
    documented: dict[str, list[str]] = {}
    current: str | None = None
    in_block = False
    for line in query.header.splitlines():
        stripped = line.strip()
        if stripped == "Parameters:":
            in_block = True
            continue
        if not in_block:
            continue
        if not stripped:  # the block ends at the first empty header line
            break
        match = _HEADER_PARAMETER.match(stripped)
        if match:
            current = match.group(1)
            documented[current] = [match.group(2)]
        elif current:
            documented[current].append(stripped)
    result = [
        QueryParameter(name, " ".join(parts), optional="null:" in " ".join(parts))
        for name, parts in documented.items()
    ]
    for name in dict.fromkeys(_TEXT_PARAMETER.findall(query.text)):
        if name not in documented:
            result.append(QueryParameter(name, ""))
    return result


def _check_bound(name: str, value: Any, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= highest:
        raise ConfigurationError(f"{name} must be a whole number from 1 to {highest}, not {value!r}")
    return value


_Result = TypeVar("_Result")


def _build(cls: type[_Result], row: Mapping[str, Any], renames: Mapping[str, str] | None = None) -> _Result:
    values: dict[str, Any] = {}
    renames = renames or {}
    for f in fields(cls):  # type: ignore[arg-type]
        column = renames.get(f.name, f.name)
        if column not in row and f.default is not MISSING:
            continue
        value = row.get(column)
        if f.name == "labels":
            value = tuple(sorted(value or ()))
        values[f.name] = value
    return cls(**values)


_TIMES = {"start_time": "startTime", "end_time": "endTime"}


# --- the client -------------------------------------------------------------------------------------------------


class Client:
    """Answers provenance questions from the graph ``settings.graph_url`` names.

    Args:
        settings: where the graph is; default `Settings.load()` (environment, then settings file).
        backend: an open `GraphBackend` to use instead (the client then does not close it).

    Raises:
        ConfigurationError: a setting from the environment or the settings file cannot work.
        StoreUnavailable: the graph cannot be reached.
    """

    def __init__(self, settings: Settings | None = None, *, backend: GraphBackend | None = None) -> None:
        if settings is None:
            try:
                settings = Settings.load()
            except (
                SettingsError
            ) as exc:  # capture's error for a bad value: provgraph's tree says ConfigurationError
                raise ConfigurationError(f"bad setting: {exc} (see docs/environment.md)") from exc
        self.settings = settings
        self._owns_backend = backend is None
        self.backend = backend if backend is not None else open_backend(self.settings)
        if backend is None:
            # the embedded default loads in the background: let it finish what the stream holds before answering.
            # After opening the backend, so that the server runs: an automatic loader that was killed took its
            # server with it, and the records it had not loaded wait in that server's file, unseen until a server
            # runs again (this client's own, then)
            catch_up(self.settings)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connection (if this client opened it)."""
        if self._owns_backend:
            self.backend.close()

    # --- generic ------------------------------------------------------------------------------------------------

    def queries(self) -> list[QueryFile]:
        """Every named query in ``cypher/`` (its name, header and text), sorted by name."""
        return catalogue(self.backend.dialect)

    def run(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        """Run the named query ``cypher/NAME.cypher`` and return its rows as dicts.

        Missing ``depth``/``limit`` get `DEFAULT_DEPTH`/`DEFAULT_LIMIT`; a missing optional parameter (one whose
        header says what null means) is null. Depth and limit are checked against `MAX_DEPTH`/`MAX_LIMIT`.

        Raises:
            QueryError: no such query, a required parameter is missing, an unknown one is given, or it failed.
            ConfigurationError: depth or limit out of range.
        """
        if "/" in name:
            raise QueryError(
                f"{name!r} is not a user-facing query; `provgraph query --list` shows them", name
            )
        query = load(name, self.backend.dialect)
        expected = query_parameters(query)
        known = {p.name for p in expected}
        unknown = sorted(set(params) - known)
        if unknown:
            raise QueryError(
                f"query {name!r} has no parameter {', '.join(unknown)}; it takes {', '.join(sorted(known)) or 'none'}",
                name,
            )
        values = dict(params)
        if "depth" in known:
            values["depth"] = _check_bound("depth", values.get("depth", DEFAULT_DEPTH), MAX_DEPTH)
        if "limit" in known:
            values["limit"] = _check_bound("limit", values.get("limit", DEFAULT_LIMIT), MAX_LIMIT)
        missing = []
        for parameter in expected:
            if parameter.name not in values:
                if parameter.optional:
                    values[parameter.name] = None
                else:
                    missing.append(parameter.name)
        if missing:
            raise QueryError(f"query {name!r} needs parameter {', '.join(missing)}", name)
        self._require_ids(
            {p.name: values[p.name] for p in expected if p.is_id and isinstance(values.get(p.name), str)},
            name,
        )
        logger.info("query %s %s", name, sorted(values))
        return self.backend.read(self.backend.render(name), values, tag=name)

    def _require_ids(self, refs: Mapping[str, str], query: str | None = None) -> None:
        """Raise `UnknownId` (with close matches) for the first of ``refs`` (parameter: id) not in the graph."""
        require_ids(self.backend, refs, query)

    def similar_ids(self, ref: str, n: int = 3) -> tuple[str, ...]:
        """Up to ``n`` ids in the graph closest to ``ref`` (a mistyped id): for "did you mean" suggestions."""
        return similar_ids(self.backend, ref, n)

    def cypher(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run a Cypher read query of your own, values as parameters; rows as dicts.

        It runs in a read transaction: Neo4j refuses writes there. Pass values as ``$parameters``, never by
        formatting them into the text.
        """
        return self.backend.read(query, params, tag="cypher")

    # --- finding ids --------------------------------------------------------------------------------------------

    def find(
        self,
        text: str | None = None,
        *,
        name: str | None = None,
        path: str | None = None,
        role: str | None = None,
        value: Any = None,
        run: str | None = None,
        kind: str | None = None,
        sha256: str | None = None,
        limit: int = 100,
    ) -> list[Found]:
        """Elements matching every condition given: files and runs first, then by name.

        Args:
            text: text anywhere in the id, name, label, role, path or value (case-insensitive).
            name: an activity's name (else its ``prov:label``), a value's role or a file's name (the end of its
                path), exactly.
            path: a file's path, or its end (``"model.pkl"`` matches ``/home/me/out/model.pkl``).
            role: the role a value was used or generated in.
            value: a value; numbers compare numerically (``8`` finds ``8.0``), anything else as text.
            run: only elements of this run: its steps, their inputs and outputs; a run activity, a bundle or a
                document, as docs/graph-model.md ("Runs and steps") defines them (id or URI, or a document's id;
                `UnknownId` if it is not in the graph).
            kind: ``entity``, ``activity``, ``agent``, ``file``, ``task``, ``run``, ``loop``, or any label of
                docs/graph-model.md (case-insensitive).
            sha256: a file's content hash (hex).
            limit: at most this many.

        Raises:
            ConfigurationError: an unknown kind.
            UnknownId: ``run`` is not in the graph.
        """
        label = _kind_label(kind) if kind is not None else None
        number: float | None = None
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            number, value = float(value), str(value)
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = None
        elif value is not None:
            raise ConfigurationError(f"find(value=...) takes a number or text, not {type(value).__name__}")
        rows = self.run(
            "find",
            text=text,
            name=name,
            path=path,
            role=role,
            value=value,
            number=number if number is not None and math.isfinite(number) else None,
            run=run,
            label=label,
            sha256=sha256,
            limit=limit,
        )
        return [
            _build(Found, {**row, "runs": tuple(row["runs"] or ()), "labels": tuple(row["labels"] or ())})
            for row in rows
        ]

    def file_ids(self, path: str | os.PathLike[str]) -> list[str]:
        """The ids of the file entities with the same content as the file at ``path`` (its SHA-256).

        Raises:
            ConfigurationError: ``path`` cannot be read.
            UnknownId: no file with that content is in the graph (suggests files with the same name).
        """
        import hashlib

        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise ConfigurationError(f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from exc
        found = self.find(sha256=digest.hexdigest(), kind="file")
        if not found:
            same_name = self.find(name=os.path.basename(os.fspath(path)), kind="file", limit=3)
            raise UnknownId(
                f"a file with the content of {os.fspath(path)} (sha256 {digest.hexdigest()[:16]}...)",
                "file",
                tuple(f.id for f in same_name),
            )
        return [f.id for f in found]

    # --- lineage ------------------------------------------------------------------------------------------------

    def lineage(self, ref: str, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_LIMIT) -> list[LineageStep]:
        """Everything that led to ``ref`` (upstream), nearest first, at most ``depth`` relationships back."""
        return [
            _build(LineageStep, row)
            for row in self.run("lineage_upstream", ref=ref, depth=depth, limit=limit)
        ]

    def impact(self, ref: str, depth: int = DEFAULT_DEPTH, limit: int = DEFAULT_LIMIT) -> list[LineageStep]:
        """Everything derived from ``ref`` (downstream), nearest first, at most ``depth`` relationships on."""
        return [
            _build(LineageStep, row)
            for row in self.run("impact_downstream", ref=ref, depth=depth, limit=limit)
        ]

    def derivation_chain(self, from_ref: str, to_ref: str, depth: int = MAX_DEPTH) -> list[ChainStep]:
        """The steps of a shortest chain from ``from_ref`` back to ``to_ref`` (either order); empty if none."""
        rows = self.run("derivation_chain", source=from_ref, target=to_ref, depth=depth)
        return [_build(ChainStep, row) for row in rows]

    def provenance_since(
        self, ref: str, activity: str, depth: int = MAX_DEPTH, limit: int = DEFAULT_LIMIT
    ) -> list[LineageStep]:
        """Upstream lineage of ``ref`` that stops at activities named (or typed) ``activity``, included."""
        rows = self.run("provenance_since", ref=ref, activity=activity, depth=depth, limit=limit)
        return [_build(LineageStep, row) for row in rows]

    # --- runs ---------------------------------------------------------------------------------------------------

    def runs(self, workflow: str | None = None, limit: int = 100) -> list[RunSummary]:
        """Runs, newest first, optionally of one workflow name, with step counts by status.

        What a run is (a run activity, a bundle or a document) is in docs/graph-model.md, "Runs and steps".
        """
        rows = self.run("runs", workflow=workflow, run=None, limit=limit)
        return self._with_producer_status([_build(RunSummary, row, _TIMES) for row in rows])

    def _with_producer_status(self, runs: list[RunSummary]) -> list[RunSummary]:
        """Runs with no end and no status get `RUNNING` or `ABANDONED` when their producer ran on this machine
        (`provgraph.producers`)."""
        import dataclasses

        from provgraph.producers import producer_status

        open_runs = [r for r in runs if r.kind == "activity" and not r.status and not r.end_time]
        if not open_runs:
            return runs
        rows = self.backend.read(
            self.backend.render("lookup/run_producers"), {"keys": [r.key for r in open_runs]}, tag="lookup"
        )
        producers = {row["key"]: (row["hostname"], row["pid"]) for row in rows}
        result = []
        for summary in runs:
            producer = producers.get(summary.key) if summary in open_runs else None
            status = producer_status(*producer, summary.start_time) if producer else None
            result.append(dataclasses.replace(summary, status=status) if status else summary)
        return result

    def run_summary(self, run: str) -> RunSummary:
        """The run ``run`` (id or key) with its step counts.

        Raises:
            QueryError: ``run`` is not a run (an unknown id, or an element that is no run activity, bundle or
                document holding steps): the run questions do not apply to it, and saying "nothing" would
                read as an answer.
        """
        rows = self.run("runs", workflow=None, run=run, limit=MAX_LIMIT)
        if not rows:
            raise QueryError(
                f"{run!r} is not a run: no run activity, bundle or document with steps has that id "
                '(runs are defined in docs/graph-model.md, "Runs and steps"; `provgraph runs` lists them)',
                "runs",
            )
        return self._with_producer_status([_build(RunSummary, rows[0], _TIMES)])[0]

    def task_tree(self, run: str, limit: int = DEFAULT_LIMIT) -> list[TaskNode]:
        """The steps of a run with their parents, in start order.

        Raises:
            QueryError: ``run`` is not a run (see `run_summary`).
        """
        self.run_summary(run)
        return [_build(TaskNode, row, _TIMES) for row in self.run("task_tree", run=run, limit=limit)]

    def diff(self, run_a: str, run_b: str, limit: int = DIFF_LIMIT) -> RunDiff:
        """What changed from ``run_a`` to ``run_b``: steps paired by what they did, causes and consequences.

        Steps pair by their place in the task tree and their inputs, never by start order alone; a change is a
        cause where a parameter or an outside input differs, a consequence where only inputs from changed steps
        do (`provgraph.diff` explains the rules).

        Raises:
            QueryError: either id is not a run, or the two runs have more than ``limit`` steps together (the
                answer would be partial).
        """
        self.run_summary(run_a)
        self.run_summary(run_b)
        rows = self.run("run_diff", run_a=run_a, run_b=run_b, limit=min(limit + 1, MAX_LIMIT))
        if len(rows) > limit:
            raise QueryError(
                f"runs {run_a!r} and {run_b!r} have more than {limit} steps together; pass a higher limit "
                "(the diff would otherwise be partial)",
                "run_diff",
            )
        return compare_runs(run_a, run_b, rows)

    def failed_tasks(self, run: str | None = None, limit: int = DEFAULT_LIMIT) -> list[FailedTask]:
        """Tasks that ended in an error (of one run, or all), newest first, with their inputs."""
        result = []
        for row in self.run("failed_tasks", run=run, limit=limit):
            inputs = tuple(
                sorted(
                    (TaskInput(i["id"], i.get("role"), i.get("value"), i.get("path")) for i in row["inputs"]),
                    key=lambda i: (i.role or "", i.id),
                )
            )
            result.append(_build(FailedTask, {**row, "inputs": inputs}, _TIMES))
        return result

    def slowest_tasks(
        self, run: str | None = None, limit: int = 10, kind: str | None = "task"
    ) -> list[TaskDuration]:
        """The longest tasks (of one run, or all), slowest first.

        Args:
            kind: ``task`` (the default: work itself), ``iteration`` (passes of a ``capture.Loop``, which last as
                long as the tasks inside them), or ``None`` for both (`TaskDuration.kind` tells them apart).
        """
        if kind not in ("task", "iteration", None):
            raise ConfigurationError(f"kind must be 'task', 'iteration' or None, not {kind!r}")
        rows = self.run("slowest_tasks", run=run, limit=limit, kind=kind)
        return [_build(TaskDuration, row, _TIMES) for row in rows]

    def peak_resources(self, run: str | None = None, limit: int = DEFAULT_LIMIT) -> list[ResourcePeak]:
        """Peak memory, GPU memory and CPU per task from its telemetry, highest memory first."""
        return [_build(ResourcePeak, row) for row in self.run("peak_resources", run=run, limit=limit)]

    # --- cross-workflow -----------------------------------------------------------------------------------------

    def shared_entities(self, run: str, limit: int = DEFAULT_LIMIT) -> list[SharedEntity]:
        """Entities this run used or generated that other runs (of any workflow) used or generated too.

        Raises:
            QueryError: ``run`` is not a run (see `run_summary`).
        """
        self.run_summary(run)
        return [_build(SharedEntity, row) for row in self.run("shared_entities", run=run, limit=limit)]

    def entity_runs(self, ref: str, limit: int = DEFAULT_LIMIT) -> list[EntityUse]:
        """Every run (and activity) that used or generated the entity ``ref``."""
        return [_build(EntityUse, row) for row in self.run("entity_runs", ref=ref, limit=limit)]

    def campaign_products(self, campaign: str, limit: int = DEFAULT_LIMIT) -> list[Product]:
        """Every entity generated by the runs of a campaign."""
        return [_build(Product, row) for row in self.run("campaign_products", campaign=campaign, limit=limit)]

    def associations(self, ref: str, limit: int = DEFAULT_LIMIT) -> list[Association]:
        """The agents (people, machines, software, organisations) associated with a result."""
        return [_build(Association, row) for row in self.run("associations", ref=ref, limit=limit)]

    # --- LLM token accounting (docs/tokens.md) -----------------------------------------------------------------

    def token_usage(self, ref: str) -> TokenTotals:
        """LLM tokens and cost of a run, or of a task and everything it started.

        Raises:
            QueryError: no element ``ref``.
        """
        rows = self.run("token_usage", ref=ref)
        if not rows:
            raise QueryError(f"no run or activity {ref!r} in the graph", "token_usage")
        return token_totals(rows[0])

    def token_usage_by_step(self, run: str, limit: int = DEFAULT_LIMIT) -> list[StepUsage]:
        """Each step of a run with the LLM tokens and cost of its subtree, most tokens first."""
        return [step_usage(row) for row in self.run("token_usage_tasks", run=run, limit=limit)]

    def token_usage_lineage(self, ref: str) -> TokenTotals:
        """What a result cost end to end: LLM tokens and cost of every activity upstream of ``ref``.

        Raises:
            QueryError: no element ``ref``.
        """
        rows = self.run("token_usage_lineage", ref=ref)
        if not rows:
            raise QueryError(f"no element {ref!r} in the graph", "token_usage_lineage")
        return token_totals(rows[0])

    # --- watching records arrive (docs/tail.md) -------------------------------------------------------------------

    def tail(
        self,
        *,
        run: str | None = None,
        workflow: str | None = None,
        campaign: str | None = None,
        kinds: Iterable[str] = (),
        status: str | None = None,
        since: str | None = None,
        follow: bool = True,
        start_id: str | None = None,
        idle_timeout_s: float | None = None,
    ) -> Iterator[TailEvent]:
        """Events as records arrive on the stream (read with XREAD: the loader's group is never touched), after
        those the graph holds since ``since`` (``10m``, ``2h``, an ISO time), filtered by run, workflow name,
        campaign, kind (``run``, ``task``, ``llm``, ``telemetry``) and task status. See `provgraph._tail.tail`.

        Raises:
            ConfigurationError: an unknown kind or an unreadable ``since``.
            StoreUnavailable: the stream cannot be reached.
        """
        from provgraph.tail import TailFilter, tail

        flt = TailFilter(run, workflow, campaign, frozenset(kinds), status)
        return tail(
            self.settings,
            self.backend,
            flt=flt,
            since=since,
            follow=follow,
            start_id=start_id,
            idle_timeout_s=idle_timeout_s,
        )

    # --- PROV documents -----------------------------------------------------------------------------------------

    def export(
        self,
        fmt: str = "json",
        out: str | os.PathLike[str] | IO[Any] | None = None,
        *,
        run: str | None = None,
        doc: str | None = None,
        campaign: str | None = None,
        lineage_of: str | None = None,
        everything: bool = False,
    ) -> str | None:
        """Export one scope as PROV (``json``, ``provn``, ``xml``, ``turtle``, ``trig`` or ``jsonld``).

        Args:
            fmt: the format.
            out: a path or text stream to write to; None returns the text.
            run, doc, campaign, lineage_of, everything: the scope, exactly one of them (see `docs/export.md`).

        Returns:
            The document's text when ``out`` is None, else None.

        Raises:
            ExportError: unknown format or scope, or nothing in that scope.
        """
        from provgraph.prov.export import export

        return export(
            self.backend,
            fmt=fmt,
            out=out,
            run=run,
            doc=doc,
            campaign=campaign,
            lineage_of=lineage_of,
            everything=everything,
        )

    def import_document(self, source: str | os.PathLike[str], fmt: str | None = None) -> ImportResult:
        """Import a PROV file into the graph through the loader's write path."""
        from provgraph.prov.importer import import_document

        return import_document(self.backend, source, fmt)


_KINDS = {
    "entity": "Entity",
    "activity": "Activity",
    "agent": "Agent",
    "file": "File",
    "task": "Task",
    "run": "WorkflowRun",
    "loop": "Loop",
    "campaign": "Campaign",
}


def _kind_label(kind: str) -> str:
    """The label a `Client.find` kind names, from the allow-list (it goes into the query as a parameter)."""
    from provgraph.graph.model import LABELS

    label = _KINDS.get(kind.lower()) or next((lb for lb in LABELS if lb.lower() == kind.lower()), None)
    if label is None:
        choices = sorted(set(_KINDS) | {lb.lower() for lb in LABELS})
        raise ConfigurationError(f"unknown kind {kind!r}; use one of {', '.join(choices)}")
    return label
