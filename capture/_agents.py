"""The PROV agents capture declares, in one place: the person and the process behind a run, agents users name
(AI agents, services), and the machine (a ``pg:Machine`` agent per host).

Each function returns wire records; nothing here emits. The machine agent holds what is stable for the host
(platform, CPU, memory size, host id); what changes from process to process is not the machine's.
"""

from __future__ import annotations

import getpass
import logging
import os
import platform
import socket
import sys
from typing import Any

from capture import _context, _ids, _telemetry, wire
from capture._context import Run
from capture.settings import Settings

__all__ = [
    "is_host_fact",
    "machine_agent_record",
    "machine_agent_records",
    "run_agent_records",
    "run_snapshot_records",
    "software_agent_records",
]

logger = logging.getLogger(__name__)

_QN_PERSON = wire.qualified_name("prov:Person")
_QN_SOFTWARE_AGENT = wire.qualified_name("prov:SoftwareAgent")
_QN_MACHINE = wire.qualified_name("pg:Machine")


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still a person agent
        return "unknown"


def run_agent_records(run_id: str) -> list[dict[str, Any]]:
    """The person who started the run and this process (a ``prov:SoftwareAgent`` acting on their behalf), both
    associated with the run."""
    login = _login()
    person = _ids.person_id(login)
    host = socket.gethostname()
    process = _ids.process_agent_id(host, os.getpid())
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return [
        wire.element("agent", person, [("prov:type", _QN_PERSON), ("pg:login", login)]),
        wire.element(
            "agent",
            process,
            [
                ("prov:type", _QN_SOFTWARE_AGENT),
                ("pg:hostname", host),
                ("pg:pid", os.getpid()),
                ("pg:python", platform.python_version()),
                ("pg:program", script),
            ],
        ),
        wire.relation("actedOnBehalfOf", delegate=process, responsible=person),
        wire.relation("wasAssociatedWith", activity=run_id, agent=process),
        wire.relation("wasAssociatedWith", activity=run_id, agent=person),
    ]


def software_agent_records(agent: object) -> tuple[str, list[dict[str, Any]]]:
    """The id of a user-named agent (an AI agent, a service) and its declaration (a ``prov:SoftwareAgent``)."""
    qualified = _ids.agent_id_from_user(agent)
    record = wire.element(
        "agent", qualified, [("prov:type", _QN_SOFTWARE_AGENT), ("pg:agent_id", _ids.given_text(agent))]
    )
    return qualified, [record]


_QN_SNAPSHOT = wire.qualified_name("pg:RunSnapshot")
_HOST_FACTS = frozenset(
    {"host_id", "hostname", "memory_virtual_total_bytes", "memory_swap_total_bytes", "disk_usage_total_bytes"}
)


def is_host_fact(name: str) -> bool:
    """Whether a `capture._telemetry.machine_info` key describes the host (the same for every process on it):
    platform, CPU, total memory, swap and disk, network addresses. Everything else (environment, process,
    memory in use, GPUs visible) belongs to one run in one process."""
    return name in _HOST_FACTS or name.startswith(("platform", "cpu_", "network_"))


def machine_agent_record(settings: Settings | None = None) -> dict[str, Any]:
    """The wire record of this machine's agent, ``pgid:machine_<host id>`` of type ``pg:Machine``: what is stable
    for the host, so every process writes the same values."""
    info = _telemetry.machine_info(settings)
    attrs: list[tuple[str, Any]] = [("prov:type", _QN_MACHINE)]
    attrs += [
        (f"pg:{name}", value) for name, value in info.items() if value is not None and is_host_fact(name)
    ]
    return wire.element("agent", f"pgid:machine_{info['host_id']}", attrs)


def run_snapshot_records(run: Run, machine_id: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """This process's own facts for ``run``: an entity ``pg:RunSnapshot`` (environment after redaction, pid,
    command line, memory, visible GPUs, or why none was read) that the run used, attributed to the machine."""
    info = dict(_telemetry.machine_info(settings))
    if "environment" in info:  # the machine snapshot is on (setting telemetry lists "machine")
        info.update(
            _telemetry.process_facts(settings)
        )  # this run's own values, not the process's first reading
    snapshot = _ids.mint("snapshot")
    attrs: list[tuple[str, Any]] = [("prov:type", _QN_SNAPSHOT)]
    attrs += [
        (f"pg:{name}", value) for name, value in info.items() if value is not None and not is_host_fact(name)
    ]
    return [
        wire.element("entity", snapshot, attrs),
        wire.relation("used", activity=run.id, entity=snapshot, attrs=[("prov:role", "pg:environment")]),
        wire.relation("wasAttributedTo", entity=snapshot, agent=machine_id),
    ]


_machine_record: dict[str, Any] | None = None  # read once per process: the machine does not change


def machine_agent_records(run: Run) -> tuple[list[dict[str, Any]], str | None]:
    """The first time a run asks in this process: the machine agent, the run's association with it and this
    process's snapshot for the run (``[]`` after that); and the machine's id. ``([], None)`` if the machine cannot
    be described."""
    global _machine_record
    settings = _context.settings()
    if _machine_record is None:
        try:
            _machine_record = machine_agent_record(settings)
        except Exception as exc:  # noqa: BLE001 - a machine that cannot be read must not break a task
            logger.warning("machine description unavailable: %s", exc)
            return [], None
    record = _machine_record
    machine_id: str = record["id"]
    if run.machine_declared == os.getpid():
        return [], machine_id
    run.machine_declared = os.getpid()  # per process: a forked child declares its own snapshot
    records = [record, wire.relation("wasAssociatedWith", activity=run.id, agent=machine_id)]
    try:
        records += run_snapshot_records(run, machine_id, settings)
    except Exception as exc:  # noqa: BLE001
        logger.warning("run snapshot unavailable: %s", exc)
    return records, machine_id


def _forget_machine_in_child() -> None:
    global _machine_record
    _machine_record = None  # the child's pid and process readings are its own


os.register_at_fork(after_in_child=_forget_machine_in_child)
