"""The lineage registry of a run: which entity a value passed to a task already is.

Rules (see docs/capture.md, "Lineage semantics"):

- Every task output becomes a NEW entity and is registered: by object identity, and, for immutable scalars
  (``int``, ``float``, ``str``, ``bytes``; not ``bool`` or ``None``, which are too common to mean anything), also by
  value. A later input that is the same object, or an equal immutable scalar, resolves to that entity.
- An input that is not a known output becomes a new entity; if it is a mutable object (a list, a dict, an object)
  it is registered by identity, so passing the same object to two tasks shows one entity used twice. Scalar
  literals are never registered as inputs, so equal literals from unrelated places are never joined.
- A result split into several outputs (a tuple mapped by ``output_names``, a returned dict) is registered as a
  whole too: passing the whole object later uses all of its output entities.

Identity entries keep a weak reference where the type allows it, else the object itself (so an ``id()`` is never
reused while registered); the registry holds at most `MAX_ENTRIES` entries, of which at most `MAX_STRONG_ENTRIES`
keep their object alive, dropping the oldest first.
Lookups and registrations run on the emitter thread, in emission order, under a lock.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["MAX_ENTRIES", "Lineage"]

MAX_ENTRIES = 100_000
MAX_STRONG_ENTRIES = 10_000
"""Objects that cannot be weakly referenced (lists, dicts) are kept alive by the registry: fewer of them."""

_VALUE_KEYED = (int, float, str, bytes)


class Lineage:
    """Value-to-entity registry of one run."""

    __slots__ = ("_by_identity", "_by_value", "_lock", "_strong")

    def __init__(self) -> None:
        # id(obj) -> (entity ids, obj or weakref to it)
        self._by_identity: dict[int, tuple[tuple[str, ...], Any]] = {}
        # ids of the entries above that hold the object itself, oldest first
        self._strong: dict[int, None] = {}
        # (type, value) -> entity ids
        self._by_value: dict[tuple[type, Any], tuple[str, ...]] = {}
        self._lock = threading.RLock()  # re-entrant: a weakref callback may fire while it is held

    def lookup(self, value: Any) -> tuple[str, ...] | None:
        """Entity ids ``value`` already is in this run, or ``None``."""
        # Read-only, single dict lookups (atomic under the GIL): no lock needed on this, the most frequent path.
        kind = type(value)
        if kind in _VALUE_KEYED:
            found = self._by_value.get((kind, value))
            if found is not None:
                return found
        entry = self._by_identity.get(id(value))
        if entry is None:
            return None
        ids, holder = entry
        target = holder() if type(holder) is weakref.ref else holder
        return ids if target is value else None

    def register_output(self, value: Any, entity_ids: tuple[str, ...]) -> None:
        """Record that ``value`` is (was generated as) ``entity_ids``; the latest generation wins."""
        kind = type(value)
        if value is None or kind is bool:
            return
        if kind in _VALUE_KEYED:
            # One dict store (atomic under the GIL); only the identity table needs the lock (weakref callbacks).
            table = self._by_value
            table[(kind, value)] = entity_ids
            if len(table) > MAX_ENTRIES:
                with self._lock:
                    self._trim(table)
            return
        with self._lock:
            self._register_identity(value, entity_ids)

    def register_input(self, value: Any, entity_ids: tuple[str, ...]) -> None:
        """Remember a new input entity of a mutable object (scalars are never registered as inputs)."""
        kind = type(value)
        if value is None or kind is bool or kind in _VALUE_KEYED or kind is tuple:
            return
        with self._lock:
            self._register_identity(value, entity_ids)

    def _register_identity(self, value: Any, entity_ids: tuple[str, ...]) -> None:
        key = id(value)

        def forget(ref: weakref.ref[Any], key: int = key) -> None:
            self._forget(key, ref)

        try:
            holder: Any = weakref.ref(value, forget)
        except TypeError:
            holder = value
        self._by_identity.pop(key, None)  # re-insert at the end: eviction drops the oldest first
        self._by_identity[key] = (entity_ids, holder)
        self._strong.pop(key, None)
        if holder is value:
            self._strong[key] = None
            while len(self._strong) > MAX_STRONG_ENTRIES:
                oldest = next(iter(self._strong))
                del self._strong[oldest]
                self._by_identity.pop(oldest, None)
        self._trim(self._by_identity)

    def _forget(self, key: int, ref: weakref.ref[Any]) -> None:
        with self._lock:
            entry = self._by_identity.get(key)
            if entry is not None and entry[1] is ref:
                del self._by_identity[key]

    @staticmethod
    def _trim(table: dict[Any, Any]) -> None:
        while len(table) > MAX_ENTRIES:
            del table[next(iter(table))]  # (a stale id left in _strong is harmless: popping it finds nothing)

    def __len__(self) -> int:
        return len(self._by_identity) + len(self._by_value)
