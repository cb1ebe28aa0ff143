"""Capture unit tests: an in-memory stand-in for the process emitter (integration tests use the real one)."""

from __future__ import annotations

from typing import Any

import pytest

from capture import _context, wire
from capture.settings import Settings


class MemoryEmitter:
    """Keeps what capture hands over; expands items with ``to_records`` like the real emitter's thread."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def emit(self, doc: str, item: Any) -> None:
        self.items.append((doc, item))

    def flush(self, timeout_s: float) -> bool:
        return True

    def pending(self) -> int:
        return 0

    def shutdown(self, timeout_s: float) -> None:
        pass

    def records(self, doc: str | None = None) -> list[dict[str, Any]]:
        """Every record (expanded in emission order, as the emitter thread does), each validated."""
        out: list[dict[str, Any]] = []
        for item_doc, item in self.items:
            if doc is not None and item_doc != doc:
                continue
            expanded = item if isinstance(item, list) else item.to_records()
            for index, record in enumerate(expanded):
                wire.validate_record(record, index)
            out.extend(expanded)
        return out


@pytest.fixture
def memory_emitter(tmp_path):
    """Capture switched on with an in-memory emitter, restored afterwards."""
    emitter = MemoryEmitter()
    saved = (
        _context.STATE.on,
        _context.STATE.resolved,
        _context.STATE.settings,
        _context.STATE.emitter,
        _context.STATE.emit,
    )
    _context.set_enabled(True, Settings(home=str(tmp_path), sink="memory"))
    _context.use_emitter(emitter)
    _context.LIGHT_QUEUE.clear()
    yield emitter
    _context.LIGHT_QUEUE.clear()
    (
        _context.STATE.on,
        _context.STATE.resolved,
        _context.STATE.settings,
        _context.STATE.emitter,
        _context.STATE.emit,
    ) = saved


def of_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["k"] == kind]


def attr(record: dict[str, Any], name: str) -> Any:
    values = [v for k, v in record.get("a", []) if k == name]
    return values[0] if len(values) == 1 else (values or None)
