"""Identifiers and timestamps for capture: unique across threads, processes and hosts, cheap on the hot path.

An id is ``pgid:<kind>_<process prefix>_<counter>``. The prefix is 12 random hex digits drawn once per process
(and again in a forked child, whose counter keeps counting), so two processes or hosts never mint the same id,
even when they start in the same microsecond. The hot path only calls ``next(COUNTER)``; the string is built
later, on the emitter thread, by `task_id`.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import time
from urllib.parse import quote, unquote_to_bytes

from capture import wire

__all__ = [
    "COUNTER",
    "agent_id_from_user",
    "campaign_id_from_user",
    "decode_local",
    "encode_local",
    "given_text",
    "iso_from_ns",
    "known_task",
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
PREFIX_HISTORY = _prefix_history
"""(first counter value, prefix) pairs, newest last (read, never changed, by `capture._compact`'s fast path)."""


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


def current_prefix() -> tuple[int, str]:
    """(the first counter value minted under the current prefix, the prefix): smaller values were minted before a
    fork, under an earlier prefix."""
    return _prefix_history[-1]


def value_base(number: int | str) -> str:
    """``pgid:val_<prefix>_<number>``: the start of the ids of a task's value entities (they share its suffix)."""
    if type(number) is int and number >= _prefix_history[-1][0]:
        return f"pgid:val_{_prefix}_{number}"
    return "pgid:val_" + task_id(number).split("_", 1)[1]


_second_cache: tuple[int, int, str] = (-1, 0, "")


def utc_offset_s(epoch_ns: int) -> int:
    """This machine's UTC offset, in seconds, at an instant (``time.time_ns()``), as `iso_from_ns` writes it."""
    seconds = epoch_ns // 1_000_000_000
    cached = _second_cache
    if cached[0] == seconds:
        return cached[1]
    return _second(seconds)[1]


def utc_offsets(start_ns: int, end_ns: int | None) -> int | list[int]:
    """The UTC offset in seconds at both ends of a task, or ``[at start, at end]`` when the clock changed during it
    (daylight saving time)."""
    cached = _second_cache
    seconds = start_ns // 1_000_000_000
    start = cached[1] if cached[0] == seconds else _second(seconds)[1]
    if end_ns is None:
        return start
    seconds = end_ns // 1_000_000_000
    cached = _second_cache
    end = cached[1] if cached[0] == seconds else _second(seconds)[1]
    return start if end == start else [start, end]


OFFSET_SPAN: list[tuple[int, int, int]] = [(0, 0, 0)]
"""``[(from_ns, to_ns, offset)]``: the UTC offset, in seconds, of every instant in ``[from_ns, to_ns)`` (the second
`utc_offsets` and `iso_from_ns` last looked up), so a task within it needs no call to find its offset."""


def _second(seconds: int) -> tuple[int, int, str]:
    global _second_cache
    offset = time.localtime(seconds).tm_gmtoff
    _second_cache = (seconds, offset, wire.second_text(seconds, offset))
    OFFSET_SPAN[0] = (seconds * 1_000_000_000, (seconds + 1) * 1_000_000_000, offset)
    return _second_cache


def iso_from_ns(epoch_ns: int) -> str:
    """ISO 8601 lexical form in local time with its UTC offset and microseconds
    (``2026-01-01T09:00:00.000001+09:00``) of a ``time.time_ns()``: the same instant as UTC, and the local clock
    time and offset a question like "which step ran on a Monday morning" needs (`capture.wire.iso_from_ns` writes
    it from the instant and the offset)."""
    seconds, rest = divmod(epoch_ns, 1_000_000_000)
    cached = _second_cache
    if cached[0] != seconds:
        cached = _second(seconds)
    return cached[2] % (rest // 1000)


# --- ids from names users give ----------------------------------------------------------------------------------
#
# Any text a user gives as a run, campaign or agent id becomes a qualified name in provgraph's id namespace by a
# reversible encoding (docs/capture.md, "Identifiers"): the UTF-8 bytes of every character other than ASCII letters,
# digits, "_" and "-" are written as %XX (upper-case hex), so distinct texts give distinct ids and `decode_local`
# gives the text back. Two kinds of text are kept as they are: a full absolute URI given on purpose
# (``https://...``, ``urn:...``, no spaces) and an id capture itself made (``pgid:run_...``, passed on so another
# process records into the same run).

_KEEP_LOCAL = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9_.-]|%[0-9A-F]{2})*(?<!\.)")
_URI = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://|urn:)[^\s<>\"{}|\\^`\x00-\x1f\x7f]+")
_BUILT_IN_PREFIXES = ("prov:", "xsd:", "pg:", "pgid:")
MAX_ENCODED_BYTES = 900
"""Longest encoded local part kept whole; a longer one keeps its first part and a hash of the whole text (the text
itself stays in an attribute). Ids are at most ``wire.MAX_ID_BYTES`` (1,024) bytes."""


def encode_local(text: str) -> str:
    """The reversible local-part encoding of ``text`` (see above); lone surrogates are encoded too."""
    encoded = quote(text.encode("utf-8", "surrogatepass"), safe="").replace(".", "%2E").replace("~", "%7E")
    if len(encoded) > MAX_ENCODED_BYTES:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        head = encoded[: MAX_ENCODED_BYTES - 40]
        head = head[: head.rfind("%")] if "%" in head[-2:] else head  # never cut an escape in two
        encoded = f"{head}--sha256-{digest}"
    return encoded


def decode_local(local: str) -> str:
    """The text `encode_local` encoded (for texts up to `MAX_ENCODED_BYTES` once encoded)."""
    return unquote_to_bytes(local).decode("utf-8", "surrogatepass")


def _user_id(kind: str, given: object) -> str:
    text = str(given)
    if text.startswith("pgid:") and _KEEP_LOCAL.fullmatch(text, 5) and len(text) <= MAX_ENCODED_BYTES:
        return text  # an id capture made: the same run, campaign or agent
    if _URI.fullmatch(text) and not text.startswith(_BUILT_IN_PREFIXES) and len(text.encode()) <= 1024:
        return text
    return f"pgid:{kind}_{encode_local(text)}"


def given_text(given: object) -> str:
    """The text a user gave, as an attribute value can hold it (a lone surrogate is shown as ``\\udxxx``)."""
    return str(given).encode("utf-8", "backslashreplace").decode("utf-8")


def run_id_from_user(workflow_id: object) -> str:
    """The run id of a user-given workflow id."""
    return _user_id("run", workflow_id)


def campaign_id_from_user(campaign_id: object) -> str:
    """The campaign activity id of a user-given campaign id."""
    return _user_id("campaign", campaign_id)


def agent_id_from_user(agent: object) -> str:
    """The agent id of a user-named agent."""
    return _user_id("agent", agent)


def person_id(login: str) -> str:
    """The id of the person agent of a login name."""
    return f"pgid:person_{encode_local(login)}"


def process_agent_id(host: str, pid: int) -> str:
    """The id of this process's software agent (unique: the process prefix changes in a forked child)."""
    return f"pgid:process_{encode_local(host)}_{pid}_{_prefix}"


# --- task ids users pass back -----------------------------------------------------------------------------------

_TASK_ID = re.compile(r"pgid:task_([0-9a-f]{12})_([0-9]+)")


def known_task(parent: object) -> int | str:
    """The counter value or id of a task given as a parent (a task object, or the id of a task capture made);
    `ValueError` for anything else, so a wrong parent fails where it is given."""
    if isinstance(parent, bool):
        raise ValueError(f"parent_task must be a task or a task id, not {parent!r}")
    if isinstance(parent, int):
        if 0 < parent < _next_number():
            return parent
        raise ValueError(f"parent_task {parent!r} is not a task counter of this process")
    identifier = parent if isinstance(parent, str) else getattr(parent, "id", None)
    if identifier is None and not isinstance(parent, str):
        raise ValueError(
            f"parent_task must be a task (an object with an .id, such as a CustomTask or a started Loop) or a "
            f"task id such as 'pgid:task_3fa1c2d4e5f6_7', not {type(parent).__name__}"
        )
    match = _TASK_ID.fullmatch(str(identifier))
    if match is None:
        raise ValueError(
            f"parent_task {identifier!r} is not the id of a task capture made (ids look like "
            f"'pgid:task_3fa1c2d4e5f6_7'; pass the task object or its .id)"
        )
    prefix, number = match.group(1), int(match.group(2))
    if any(prefix == known for _, known in _prefix_history) and number >= _next_number():
        raise ValueError(f"parent_task {identifier!r}: no such task has started in this process")
    return str(identifier)


def _next_number() -> int:
    # The counter's next value without taking it (itertools.count pickles as (count, (next,))).
    state = COUNTER.__reduce__()
    return int(state[1][0])
