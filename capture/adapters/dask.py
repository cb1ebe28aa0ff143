"""Dask adapter: every task a Dask scheduler runs, with its data dependencies, as PROV in the current run.

A scheduler plugin (``distributed.diagnostics.plugin.SchedulerPlugin``) sees each task finish on a worker: its
key, function, worker, compute start and stop, status, and the tasks it depends on. No change to the tasks::

    from dask.distributed import Client, LocalCluster
    import capture
    from capture.adapters.dask import instrument

    with capture.Workflow("analysis"), LocalCluster(processes=False) as cluster, Client(cluster) as client:
        instrument(client)                      # every task computed from here on is recorded in this run
        total = client.submit(sum, client.map(square, range(10))).result()

What one task becomes (docs/adapters.md, "Dask"): an activity (``pg:Task``, ``pg:kind = "dask_task"``,
``name`` = the key's prefix, ``dask_key``, ``function``, ``worker``, ``status``, compute start/end and
``duration_s``) started by the activity that was current at `instrument`; ``wasAssociatedWith`` its worker (a
``prov:SoftwareAgent``); its result an entity (``dask_key``, ``nbytes``, ``python_type``) ``wasGeneratedBy`` it; and for
each dependency, ``used`` the dependency's result and the result ``wasDerivedFrom`` it. A task that failed is
``status = "ERROR"`` with its exception text and generates nothing; tasks that never ran because a dependency
failed are not recorded.

The plugin runs inside the scheduler. With a ``LocalCluster`` the scheduler lives in the client's process (also
with ``processes=True``: only workers are separate processes), so its records go through this process's emitter.
On the scheduler's thread it only hands a tuple to the emitter; records are built on the emitter thread.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

from distributed.diagnostics.plugin import SchedulerPlugin

from capture import wire
from capture.adapters._emit import Position, current_position, emit, enabled, iso, new_activity_id, scrub_text

__all__ = ["ProvenancePlugin", "instrument"]

_QN_TASK = wire.qualified_name("pg:Task")
_QN_AGENT = wire.qualified_name("prov:SoftwareAgent")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_MAX_ERROR_CHARS = 2000


def _function_name(run_spec: Any) -> str | None:
    function = getattr(run_spec, "func", None)
    if function is None:
        return None
    inner = getattr(function, "func", None)  # functools.partial and dask's wrappers
    target = function if hasattr(function, "__qualname__") or inner is None else inner
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if name is None:
        return type(target).__qualname__
    module = getattr(target, "__module__", None)
    return f"{module}.{name}" if module else str(name)


def _external_entity(run_id: str, key: str) -> str:
    """The entity of data a recorded task used but no recorded task produced (scattered, computed earlier)."""
    digest = hashlib.sha256(f"{run_id}|{key}".encode()).hexdigest()[:24]
    return f"pgid:dask_data_{digest}"


class _DaskTaskItem(tuple[Any, ...]):
    """``(position, activity_id, key, name, function, worker, start_s, stop_s, status, error, inputs, output,
    nbytes, typename, transfer_s)``; ``inputs`` is ``[(key, entity id, known)]``; built into records on the
    emitter thread."""

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        (
            position,
            activity_id,
            key,
            name,
            function,
            worker,
            start_s,
            stop_s,
            status,
            error,
            inputs,
            output,
            nbytes,
            typename,
            transfer_s,
        ) = self
        start, end = iso(start_s), iso(stop_s)
        attrs: list[tuple[str, Any]] = [
            ("prov:type", _QN_TASK),
            ("pg:name", name),
            ("pg:kind", "dask_task"),
            ("pg:dask_key", key),
            ("pg:status", status),
            ("pg:duration_s", max(0.0, stop_s - start_s)),
            ("pg:started_by", position.parent_id),
        ]
        if function:
            attrs.append(("pg:function", function))
        if worker:
            attrs.append(("pg:worker", worker))
        if transfer_s:
            attrs.append(("pg:transfer_s", transfer_s))
        if error:
            attrs.append(("pg:error", scrub_text(error)[:_MAX_ERROR_CHARS]))
        records = [
            wire.element("activity", activity_id, attrs, formal={"startTime": start, "endTime": end}),
            wire.relation("wasStartedBy", activity=activity_id, starter=position.parent_id, time=start),
        ]
        if worker:
            agent_id = f"pgid:dask_worker_{_UNSAFE.sub('_', worker)}"
            records.append(
                wire.element("agent", agent_id, [("prov:type", _QN_AGENT), ("pg:dask_worker", worker)])
            )
            records.append(wire.relation("wasAssociatedWith", activity=activity_id, agent=agent_id))
        for dep_key, entity_id, known in inputs:
            if not known:
                records.append(wire.element("entity", entity_id, [("pg:dask_key", dep_key)]))
            records.append(
                wire.relation(
                    "used", attrs=[("prov:role", dep_key)], activity=activity_id, entity=entity_id, time=start
                )
            )
        if output is not None:
            out_attrs: list[tuple[str, Any]] = [("pg:dask_key", key), ("pg:role", "result")]
            if typename:
                out_attrs.append(("pg:python_type", typename))
            if nbytes is not None and nbytes >= 0:
                out_attrs.append(("pg:nbytes", int(nbytes)))
            records.append(wire.element("entity", output, out_attrs))
            records.append(
                wire.relation(
                    "wasGeneratedBy",
                    attrs=[("prov:role", "result")],
                    entity=output,
                    activity=activity_id,
                    time=end,
                )
            )
            for _dep_key, entity_id, _known in inputs:
                records.append(
                    wire.relation(
                        "wasDerivedFrom", generatedEntity=output, usedEntity=entity_id, activity=activity_id
                    )
                )
        return records


class ProvenancePlugin(SchedulerPlugin):
    """A scheduler plugin recording every task that finishes or fails into one run (see the module docstring).

    Register it with `instrument`, or ``client.register_plugin(ProvenancePlugin(...))``. It is pickled to the
    scheduler; there, records go to that process's emitter, in the run's document.
    """

    name = "provgraph"
    idempotent = False

    def __init__(self, position: Position) -> None:
        self.position = position
        self.scheduler: Any = None
        self.outputs: dict[Any, str] = {}  # key -> entity of its latest result (forgotten keys removed)
        self.recorded = 0

    def __getstate__(self) -> dict[str, Any]:
        return {"position": (self.position.run_id, self.position.parent_id)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.position = Position(*state["position"])
        self.scheduler = None
        self.outputs = {}
        self.recorded = 0

    async def start(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish == "forgotten":
            self.outputs.pop(key, None)
            return
        if start != "processing" or finish not in ("memory", "erred"):
            return
        task = self.scheduler.tasks.get(key) if self.scheduler is not None else None
        now = time.time()
        compute_start = compute_stop = None
        transfer_s = 0.0
        for startstop in kwargs.get("startstops") or ():
            action = startstop.get("action")
            if action == "compute":
                compute_start, compute_stop = startstop["start"], startstop["stop"]
            elif action == "transfer":
                transfer_s += startstop["stop"] - startstop["start"]
        if compute_start is None:
            compute_start = compute_stop = now
        activity_id = new_activity_id()
        inputs = []
        if task is not None:
            for dependency in task.dependencies:
                known = self.outputs.get(dependency.key)
                text = str(dependency.key)
                inputs.append(
                    (text, known or _external_entity(self.position.run_id, text), known is not None)
                )
        output = None
        if finish == "memory":
            output = "pgid:val_" + activity_id.split("_", 1)[1] + "_o0"
            self.outputs[key] = output
        error = None
        if finish == "erred":
            error = kwargs.get("exception_text") or getattr(task, "exception_text", None) or "task failed"
        self.recorded += 1
        emit(
            self.position.run_id,
            _DaskTaskItem(
                (
                    self.position,
                    activity_id,
                    str(key),
                    task.prefix.name if task is not None else str(key),
                    _function_name(task.run_spec) if task is not None else None,
                    kwargs.get("worker"),
                    compute_start,
                    compute_stop,
                    "FINISHED" if finish == "memory" else "ERROR",
                    error,
                    inputs,
                    output,
                    kwargs.get("nbytes"),
                    kwargs.get("typename"),
                    transfer_s,
                )
            ),
        )


def instrument(client: Any, *, name: str = "provgraph") -> ProvenancePlugin | None:
    """Record every task ``client``'s scheduler runs from now on, in the current run (or task).

    Registers a `ProvenancePlugin` named ``name`` on the scheduler (a plugin of the same name is replaced) and
    returns it (``None`` when capture is off). Tasks already finished are not recorded; data they produced shows
    up as an entity named after its key when a recorded task uses it.
    """
    if not enabled():
        return None
    plugin = ProvenancePlugin(current_position())
    plugin.name = name
    client.register_plugin(plugin, name=name)
    return plugin
