"""Identifiers and timestamps for capture: unique across threads, processes and hosts, cheap on the hot path.

An id is ``pgid:<kind>_<process prefix>_<counter>``. The prefix is 12 random hex digits drawn once per process
(and again in a forked child, whose counter keeps counting), so two processes or hosts never mint the same id,
even when they start in the same microsecond. The hot path only calls ``next(COUNTER)``; the string is built
later, on the emitter thread, by `task_id`.
"""

from __future__ import annotations

import itertools
import os
import re
import time

__all__ = [
    "COUNTER",
    "agent_id_from_user",
    "campaign_id_from_user",
    "iso_from_ns",
    "mint",
    "person_id",
    "process_agent_id",
    "process_prefix",
    "run_id_from_user",
    "task_id",
]

COUNTER = itertools.count(1)
"""The process-wide counter; ``next(COUNTER)`` is atomic under the GIL."""

_prefix = os.urandom(6).hex()
# (first counter value, prefix) of this process and of its fork ancestors, newest last: a counter value minted
# before a fork (say, the enclosing task of code that forked) keeps the prefix it was minted under.
_prefix_history: list[tuple[int, str]] = [(0, _prefix)]


def _new_prefix_after_fork() -> None:
    global _prefix
    _prefix = os.urandom(6).hex()
    _prefix_history.append((next(COUNTER), _prefix))


os.register_at_fork(after_in_child=_new_prefix_after_fork)


def process_prefix() -> str:
    """This process's random id prefix (changes in a forked child)."""
    return _prefix


def mint(kind: str) -> str:
    """A new unique id such as ``pgid:run_3fa1c2d4e5f6_7``."""
    return f"pgid:{kind}_{_prefix}_{next(COUNTER)}"


def task_id(number: int | str, prefix: str | None = None) -> str:
    """The activity id of a task counter value (a string passes through: it is already an id)."""
    if isinstance(number, str):
        return number
    if prefix is None:
        prefix = _prefix
        if number < _prefix_history[-1][0]:
            prefix = next(p for first, p in reversed(_prefix_history) if number >= first)
    return f"pgid:task_{prefix}_{number}"


_second_cache: tuple[int, str] = (-1, "")


def iso_from_ns(epoch_ns: int) -> str:
    """ISO 8601 UTC lexical form with microseconds (``2026-01-01T00:00:00.000001Z``) of a ``time.time_ns()``."""
    global _second_cache
    seconds, rest = divmod(epoch_ns, 1_000_000_000)
    cached_second, text = _second_cache
    if cached_second != seconds:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache = (seconds, text)
    return f"{text}.{rest // 1000:06d}Z"


# --- ids from names users give ----------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _local(text: str) -> str:
    return _UNSAFE.sub("_", text)


def _user_id(kind: str, given: object) -> str:
    text = str(given)
    return text if ":" in text else f"pgid:{kind}_{_local(text)}"


def run_id_from_user(workflow_id: object) -> str:
    """The run id of a user-given workflow id: a qualified name as is, else ``pgid:run_<id>``."""
    return _user_id("run", workflow_id)


def campaign_id_from_user(campaign_id: object) -> str:
    """The campaign activity id of a user-given campaign id: a qualified name as is, else ``pgid:campaign_<id>``."""
    return _user_id("campaign", campaign_id)


def agent_id_from_user(agent: object) -> str:
    """The agent id of a user-named agent: a qualified name as is, else ``pgid:agent_<name>``."""
    return _user_id("agent", agent)


def person_id(login: str) -> str:
    """The id of the person agent of a login name."""
    return f"pgid:person_{_local(login)}"


def process_agent_id(host: str, pid: int) -> str:
    """The id of this process's software agent (unique: the process prefix changes in a forked child)."""
    return f"pgid:process_{_local(host)}_{pid}_{_prefix}"
