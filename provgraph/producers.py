"""Whether the process that produced a run still runs: tells a run in progress from one whose producer died
before ending it.

Capture records the producing process as an agent of its run (``pg:hostname``, ``pg:pid``) and writes the run's
end (``endTime``, ``pg:status``) when it stops. A run with no end is therefore either still running or abandoned
(the process was killed, or the machine went down). On the machine that produced it the two can be told apart:
the process is gone, or its pid now belongs to a process that started after the run did. Elsewhere nothing can be
said, and the status stays unknown.

Example::

    from provgraph.producers import RUNNING, producer_status

    producer_status("node7", 3141, "2026-01-01T00:00:00Z")   # RUNNING, ABANDONED, or None (another machine)
"""

from __future__ import annotations

import datetime
import os
import socket
from pathlib import Path

__all__ = ["ABANDONED", "RUNNING", "producer_status"]

RUNNING = "RUNNING"
"""The run has no end and its producing process still runs (on this machine)."""

ABANDONED = "ABANDONED"
"""The run has no end and its producing process, on this machine, is gone: it will never end."""


def producer_status(hostname: str, pid: int, started: str | None) -> str | None:
    """`RUNNING` or `ABANDONED` for a run without an end whose producer was ``pid`` on ``hostname``, started at
    ``started`` (ISO 8601); None when the producer ran on another machine (nothing can be said from here)."""
    if hostname != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return None
    process_start = _process_start(pid)
    if process_start is None:
        return ABANDONED
    run_start = _epoch(started)
    if run_start is not None and process_start > run_start + 2.0:  # the pid was reused by a later process
        return ABANDONED
    return RUNNING


def _process_start(pid: int) -> float | None:
    """Start time (epoch seconds) of a live process, or None when there is none with that pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, IndexError, ValueError):  # no /proc (macOS): alive is all we know
        return 0.0


def _epoch(timestamp: str | None) -> float | None:
    if not timestamp:
        return None
    try:
        moment = datetime.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
