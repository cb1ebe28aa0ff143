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

__all__ = ["machine_agent_record", "machine_agent_records", "run_agent_records", "software_agent_records"]

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


def machine_agent_record(settings: Settings | None = None) -> dict[str, Any]:
    """The wire record of this machine's agent, ``pgid:machine_<host id>`` of type ``pg:Machine``."""
    info = _telemetry.machine_info(settings)
    attrs: list[tuple[str, Any]] = [("prov:type", _QN_MACHINE)]
    attrs += [(f"pg:{name}", value) for name, value in info.items() if value is not None]
    return wire.element("agent", f"pgid:machine_{info['host_id']}", attrs)


_machine_record: dict[str, Any] | None = None  # read once per process: the machine does not change


def machine_agent_records(run: Run) -> tuple[list[dict[str, Any]], str | None]:
    """The machine agent and the run's association with it, the first time a run asks (``[]`` after that), and
    the machine's id; ``([], None)`` if the machine cannot be described."""
    global _machine_record
    if _machine_record is None:
        try:
            _machine_record = machine_agent_record(_context.settings())
        except Exception as exc:  # noqa: BLE001 - a machine that cannot be read must not break a task
            logger.warning("machine description unavailable: %s", exc)
            return [], None
    record = _machine_record
    machine_id: str = record["id"]
    if run.machine_declared:
        return [], machine_id
    run.machine_declared = True
    return [record, wire.relation("wasAssociatedWith", activity=run.id, agent=machine_id)], machine_id


def _forget_machine_in_child() -> None:
    global _machine_record
    _machine_record = None  # the child's pid and process readings are its own


os.register_at_fork(after_in_child=_forget_machine_in_child)
