"""How the graph makes date-times queryable on both engines (docs/graph-model.md, "Date-times").

A date-time property (an activity's ``startTime``/``endTime``, a relation's ``time``, an attribute typed
``xsd:dateTime``/``xsd:dateTimeStamp``) keeps its exact lexical form. FalkorDB has no offset-keeping date-time
type, takes no temporal parameter, cannot set a property named at run time from a computed value, and its
``localdatetime`` drops fractions of a second (docs/embedded.md), so a native temporal value cannot be stored
there exactly. Instead the loader adds three integer companions beside ``P``, identical on both engines:

- ``_utc_P``: the instant, microseconds since 1970-01-01T00:00:00Z (a value without an offset is taken as UTC);
- ``_local_P``: the local wall clock as written (offset not applied), microseconds since 1970-01-01T00:00:00;
- ``_dow_P``: the local ISO day of the week, 1 = Monday .. 7 = Sunday.

Names starting with ``_`` belong to the model (an attribute never gets one), so a companion cannot collide.
"""

from __future__ import annotations

import datetime
import functools
import re
from typing import Any

__all__ = ["companion_names", "companions", "text_companions", "utc_microseconds"]

# XSD 1.1 dateTime lexical space, years 0001-9999 (what Python's datetime holds): date, time (24:00:00 allowed),
# any number of fraction digits, optional offset (Z or +-hh:mm, at most 14:00).
_XSD_DATETIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-](\d\d):(\d\d))?$")
_EPOCH = datetime.datetime(1970, 1, 1)
_DAY_US = 86_400_000_000
_MINUTE_US = 60_000_000


PARSED_CACHE_SIZE = 8192
"""Lexical forms whose parse (and companions, per property) are kept: a batch repeats each time many times (a task's
start time is its activity's, its usages' and its generations'), so the loader parses each once."""


@functools.lru_cache(maxsize=PARSED_CACHE_SIZE)
def _parse(lexical: str) -> tuple[int, int] | None:
    """(UTC microseconds, local wall-clock microseconds) of an xsd:dateTime lexical form, None if it is none."""
    match = _XSD_DATETIME.match(lexical.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone, zone_h, zone_m = match.groups()
    try:
        if hour == "24":  # end of the day: only 24:00:00 with no fraction
            if minute != "00" or second != "00" or (fraction and fraction.strip("0")):
                return None
            wall = datetime.datetime(int(year), int(month), int(day)) + datetime.timedelta(days=1)
        else:
            wall = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:  # month 13, February 30, minute 60, ...
        return None
    local = (wall - _EPOCH) // datetime.timedelta(microseconds=1)
    if fraction:
        local += int((fraction + "00000")[:6])  # microsecond precision: further digits are cut
    offset = 0
    if zone and zone != "Z":
        hours, minutes = int(zone_h), int(zone_m)
        if minutes > 59 or hours * 60 + minutes > 14 * 60:
            return None
        offset = (hours * 60 + minutes) * _MINUTE_US * (-1 if zone[0] == "-" else 1)
    return local - offset, local


@functools.lru_cache(maxsize=1024)
def companion_names(prop: str) -> tuple[str, str, str]:
    """The names of the three companions of date-time property ``prop``."""
    return f"_utc_{prop}", f"_local_{prop}", f"_dow_{prop}"


def companions(prop: str, value: Any) -> dict[str, Any]:
    """The companion properties of ``prop`` holding ``value`` (a lexical string, or a list of them for a
    multi-valued attribute: lists of companions); {} when a value is not an xsd:dateTime lexical form."""
    if isinstance(value, str):
        return dict(text_companions(prop, value))
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        each = [companions(prop, item) for item in value]
        if not all(each):
            return {}
        return {name: [item[name] for item in each] for name in each[0]}
    return {}


@functools.lru_cache(maxsize=PARSED_CACHE_SIZE)
def text_companions(prop: str, lexical: str) -> dict[str, int]:
    """`companions` of one lexical string, cached: the SAME dict for the same arguments, to be read, never
    modified (the loader's path: ``props.update(...)``, where a dict is merged faster than any other mapping)."""
    parsed = _parse(lexical)
    if parsed is None:
        return {}
    utc, local = parsed
    names = companion_names(prop)
    return {names[0]: utc, names[1]: local, names[2]: (local // _DAY_US + 3) % 7 + 1}


def utc_microseconds(lexical: str) -> int:
    """The instant of an xsd:dateTime lexical form as ``_utc_P`` holds it: the value to compare with in a query
    (``WHERE a._utc_startTime > $after``). Raises ValueError for anything else."""
    parsed = _parse(lexical)
    if parsed is None:
        raise ValueError(f"not an xsd:dateTime lexical form (e.g. 2026-03-02T20:00:00-06:00): {lexical!r}")
    return parsed[0]
