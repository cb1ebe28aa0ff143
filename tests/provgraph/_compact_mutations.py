"""Structure-aware mutations of wire-version-2 messages, for the compact-event fuzz tests.

Generic over the event kinds a message holds: an event is any JSON array among a message's ``records`` and a
template any value of its ``tpl``, so kinds added to the wire format later are mutated as soon as captured
messages contain them. Every mutation is drawn from one seeded `random.Random`, so a failure reproduces.

A mutation changes a message in one of three ways: a value somewhere inside one event or template (dropped,
replaced, retyped, made huge, negative, fractional, non-finite, deeply nested, a lone surrogate...), the
message's envelope (a template or the prefix missing, a version-2 message claiming version 1 and the other way
round, a template of another message), or the bytes of the encoded message (truncated, invalid UTF-8, a key
duplicated).
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from typing import Any

# hostile values a field may be replaced with (each is valid JSON once encoded with allow_nan)
_HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63 - 1,
    -(2**63),
    2**64,
    10**30,
    0.5,
    -0.0,
    1e308,
    float("nan"),
    float("inf"),
    float("-inf"),
    "",
    "x",
    "0",
    "pgid:",
    "nowhere:x",
    "a b",
    "\ud800",
    "é" * 3,
    "\x00",
    [],
    [[]],
    [None],
    {},
    {"$": "x"},
    {"$": 1, "type": "xsd:int"},
    [0, "r", 1],
    [[0, "r", 1]],
    [[1, "r", [["pg:x", 1]]]],
    [[2, "r", ["pgid:val_x_1_o0"]]],
]


def _deep(depth: int) -> Any:
    """Arrays nested ``depth`` deep, as a marker `Mutator.encode` writes out (json would recurse into them)."""
    return f"{_DEEP}{depth}"


_DEEP = "\x01deep:"
_DEEP_JSON = re.compile(r'"\\u0001deep:(\d+)"')


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


_NESTED = [_nested(2000), _nested(100_000)]
"""Lists nested deeper than any parser or `repr` goes (built once: shared, never changed)."""


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (itself included), lists by index and objects by key."""
    out = [path]
    if isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*path, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


@dataclass
class Mutant:
    """One mutated message: its payload, what was done, and the index of the entry changed (None: the envelope
    or the bytes)."""

    payload: bytes
    what: str
    entry: int | None


class Mutator:
    """Mutations of captured version-2 messages (decoded JSON objects), seeded."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    # -- values -----------------------------------------------------------------------------------------------

    def hostile(self) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return copy.deepcopy(rng.choice(_HOSTILE))
        if roll < 0.7:
            return "s" * rng.choice([1025, 9000, 70_000])
        if roll < 0.8:
            return _deep(rng.choice([7, 40, 63, 64, 65, 200, 1100]))
        if roll < 0.9:
            return rng.choice([-(10**9), -86_400, 86_399, 86_400, 10**20, 2**62, 1_764_000_000_000_000_000])
        return [self.hostile() for _ in range(rng.randint(0, 12))]

    def python_value(self) -> Any:
        """A value no JSON parser returns, for callers of `capture.wire.expand_events` with Python objects."""
        rng = self.rng
        choice = rng.randrange(8)
        if choice == 0:
            return 10**5000  # too long to turn into text
        if choice == 1:
            return rng.choice(_NESTED)
        if choice == 2:
            return (0, "r", 1)
        if choice == 3:
            return b"bytes"
        if choice == 4:
            return {"a", "b"}
        if choice == 5:
            return object()
        if choice == 6:
            return {1: "not a text key", (2, 3): "x"}
        return rng.choice([float("nan"), 1.5, -(10**30)])

    def mutate_objects(self, message: dict[str, Any]) -> dict[str, Any]:
        """A window of ``message`` with one value of an event or template replaced by one no parser returns."""
        raw = self.window(message)
        targets = [entry for entry in raw["records"] if isinstance(entry, list)] + list(
            raw.get("tpl", {}).values()
        )
        if targets:
            target = self.rng.choice(targets)
            path = self.rng.choice(_paths(target)[1:] or [()])
            if path:
                _get(target, path[:-1])[path[-1]] = self.python_value()
        return raw

    def retype(self, value: Any) -> Any:
        """``value`` as another JSON type with a related content."""
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return self.rng.choice(
                [str(value), float(value) if abs(value) < 2**53 else 0.5, [value], -value - 1]
            )
        if isinstance(value, float):
            return self.rng.choice([str(value), int(value) if value == value and abs(value) < 1e18 else 1])
        if isinstance(value, str):
            return self.rng.choice([[value], {"$": value}, len(value), value.encode("utf-8").hex()])
        if isinstance(value, list):
            return self.rng.choice([dict(enumerate(value)), tuple(value) and value[0], json.dumps(value)])
        if isinstance(value, dict):
            return list(value.items())
        return "null"

    def change_value(self, target: Any) -> tuple[Any, str]:
        """``target`` (an event or a template, a copy) with one value inside it changed."""
        rng = self.rng
        paths = _paths(target)
        path = rng.choice(paths)
        op = rng.choice(["drop", "replace", "replace", "retype", "append", "duplicate", "wrap", "truncate"])
        if not path:
            if op in ("drop", "replace"):
                return self.hostile(), f"{op} whole"
            path = ()
        parent = _get(target, path[:-1]) if path else None
        key = path[-1] if path else None
        value = _get(target, path)
        where = "/".join(map(str, path)) or "."
        if op == "drop" and parent is not None:
            del parent[key]
            return target, f"drop {where}"
        if op == "append" and isinstance(value, list):
            value.append(self.hostile())
            return target, f"append to {where}"
        if op == "append" and isinstance(value, dict):
            value[rng.choice(["zz", "n", "x", "ty", "0", ""])] = self.hostile()
            return target, f"add key to {where}"
        if op == "duplicate" and isinstance(value, list) and value:
            value.insert(rng.randrange(len(value)), copy.deepcopy(rng.choice(value)))
            return target, f"duplicate in {where}"
        if op == "truncate" and isinstance(value, list) and value:
            del value[rng.randrange(len(value)) :]
            return target, f"truncate {where}"
        new = self.retype(value) if op == "retype" else [value] if op == "wrap" else self.hostile()
        if parent is None:
            return new, f"{op} whole"
        parent[key] = new
        return target, f"{op} {where}"

    # -- messages ---------------------------------------------------------------------------------------------

    def window(self, message: dict[str, Any], most: int = 5) -> dict[str, Any]:
        """A copy of ``message`` holding a run of at most ``most`` of its entries (all its templates): a small
        seed, so that thousands of mutants stay cheap to read."""
        entries = message["records"]
        start = self.rng.randrange(len(entries))
        raw = {key: value for key, value in message.items() if key != "records"}
        raw["records"] = copy.deepcopy(entries[start : start + self.rng.randint(1, most)])
        return copy.deepcopy(raw)

    def mutate(self, message: dict[str, Any], others: list[dict[str, Any]]) -> Mutant:
        """A mutant of a window of ``message`` (left unchanged); ``others`` are the other captured messages
        (their templates may be borrowed)."""
        rng = self.rng
        raw = self.window(message)
        events = [i for i, entry in enumerate(raw["records"]) if isinstance(entry, list)]
        roll = rng.random()
        if roll < 0.55 and events:
            index = rng.choice(events)
            raw["records"][index], what = self.change_value(raw["records"][index])
            return Mutant(self.encode(raw), f"event {index}: {what}", index)
        if roll < 0.75 and raw.get("tpl"):
            key = rng.choice(sorted(raw["tpl"]))
            raw["tpl"][key], what = self.change_value(raw["tpl"][key])
            return Mutant(self.encode(raw), f"template {key}: {what}", None)
        if roll < 0.8:
            records = [i for i, entry in enumerate(raw["records"]) if isinstance(entry, dict)]
            if records:
                index = rng.choice(records)
                raw["records"][index], what = self.change_value(raw["records"][index])
                return Mutant(self.encode(raw), f"record {index}: {what}", index)
        if roll < 0.92:
            return Mutant(*self.envelope(raw, others), None)
        return Mutant(*self.bytes_of(raw), None)

    def envelope(self, raw: dict[str, Any], others: list[dict[str, Any]]) -> tuple[bytes, str]:
        rng = self.rng
        choice = rng.randrange(10)
        if choice == 9 and isinstance(raw.get("tpl"), dict) and raw["tpl"]:
            key = rng.choice(sorted(raw["tpl"]))
            if isinstance(raw["tpl"][key], dict):
                raw["tpl"][key]["x"] = [["pg:a", 1]] * rng.choice([990, 996, 997, 1001, 20_000])
                return self.encode(raw), f"template {key} of many attributes"
        if choice == 0 and raw.get("tpl"):
            key = rng.choice(sorted(raw["tpl"]))
            del raw["tpl"][key]
            return self.encode(raw), f"template {key} missing"
        if choice == 1:
            raw["v"] = 1
            return self.encode(raw), "version 2 claiming 1"
        if choice == 2:
            del raw[rng.choice(["p", "tpl"])]
            return self.encode(raw), "no prefix or templates"
        if choice == 3:
            raw["p"] = self.hostile()
            return self.encode(raw), "hostile prefix"
        if choice == 4:
            raw["tpl"] = self.hostile()
            return self.encode(raw), "hostile templates"
        if choice == 5:
            # a template of another message in place of this one's (template numbers are per process)
            other = rng.choice(others)
            if other.get("tpl") and raw.get("tpl"):
                key = rng.choice(sorted(raw["tpl"]))
                raw["tpl"][key] = copy.deepcopy(rng.choice(list(other["tpl"].values())))
                return self.encode(raw), f"template {key} from another message"
            raw["tpl"] = {}
            return self.encode(raw), "no templates"
        if choice == 6:
            raw["v"] = rng.choice([3, 0, -2, "2", 2.0, None])
            return self.encode(raw), "unknown version"
        if choice == 7:
            raw["records"] = raw["records"] * rng.choice([2, 3])  # every event twice: same statements
            return self.encode(raw), "entries repeated"
        raw["records"] = [copy.deepcopy(e) for e in raw["records"] if isinstance(e, list)][:3]
        raw["v"] = 1
        return self.encode(raw), "events in a version-1 message"

    def bytes_of(self, raw: dict[str, Any]) -> tuple[bytes, str]:
        rng = self.rng
        payload = self.encode(raw)
        choice = rng.randrange(5)
        if choice == 0:
            return payload[: rng.randrange(len(payload))], "truncated"
        if choice == 1:
            at = payload.find(b'"', rng.randrange(len(payload)))
            if at < 0:
                at = payload.find(b'"')
            bad = rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xf4\x90\x80\x80"])
            return payload[: at + 1] + bad + payload[at + 1 :], "invalid UTF-8"
        if choice == 2:
            # a duplicated key: the JSON parser keeps the last one, whatever the first said
            key = rng.choice(["v", "p", "tpl", "doc", "records"])
            first = json.dumps(self.hostile(), allow_nan=True)
            return b'{"' + key.encode() + b'":' + first.encode() + b"," + payload[1:], f"duplicated {key!r}"
        if choice == 3:
            key = rng.choice(["v", "p", "tpl"])
            body = json.dumps(raw.get(key), allow_nan=True)
            return payload[:-1] + b',"' + key.encode() + b'":' + body.encode() + b"}", f"{key!r} again"
        return payload.replace(b"[", b"[" * 70, 1).replace(b"]", b"]" * 70, 1), "nested too deep at the head"

    @staticmethod
    def encode(raw: dict[str, Any]) -> bytes:
        text = json.dumps(raw, allow_nan=True, separators=(",", ":"))
        text = _DEEP_JSON.sub(lambda m: "[" * int(m.group(1)) + "]" * int(m.group(1)), text)
        return text.encode("utf-8", "surrogatepass")
