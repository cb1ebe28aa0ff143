"""Helpers of the capture unit tests: an in-memory stand-in for the process emitter, record lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from capture import wire


class MemoryEmitter:
    """Keeps what capture hands over and, like the real emitter's thread, expands items in order, at the latest
    on `flush` (``to_records`` is called once per item)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self._expanded: list[tuple[str, list[dict[str, Any]]]] = []

    def emit(self, doc: str, item: Any) -> None:
        self.items.append((doc, item))

    def _expand(self) -> None:
        for item_doc, item in self.items[len(self._expanded) :]:
            self._expanded.append((item_doc, item if isinstance(item, list) else item.to_records()))

    def flush(self, timeout_s: float) -> bool:
        self._expand()
        return True

    def pending(self) -> int:
        return len(self.items) - len(self._expanded)

    def shutdown(self, timeout_s: float) -> None:
        self._expand()

    def records(self, doc: str | None = None) -> list[dict[str, Any]]:
        """Every record (expanded in emission order, as the emitter thread does), each validated."""
        self._expand()
        out: list[dict[str, Any]] = []
        for item_doc, expanded in self._expanded:
            if doc is not None and item_doc != doc:
                continue
            for index, record in enumerate(expanded):
                wire.validate_record(record, index)
            out.extend(expanded)
        return out


def of_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["k"] == kind]


def attr(record: dict[str, Any], name: str) -> Any:
    values = [v for k, v in record.get("a", []) if k == name]
    return values[0] if len(values) == 1 else (values or None)


def run_with_emitter(
    home: Any, version: int, workload: Callable[[], None]
) -> tuple[list[dict[str, Any]], Any]:
    """Run ``workload`` with capture on and the real `Emitter` (in-memory sink, wire ``version``): the emitter
    thread's compact paths run as in production. Returns every record of the messages sent, and the emitter."""
    import capture
    from capture import _context, _handoff
    from capture._emitter import Emitter
    from capture.settings import Settings

    settings = Settings(home=str(home), sink="memory", wire_version=version)
    saved = (_context.STATE.on, _context.STATE.resolved, _context.STATE.settings, _context.STATE.emitter)
    saved_emit = _context.STATE.emit
    _context.set_enabled(True, settings)
    emitter = Emitter(settings)
    _context.use_emitter(emitter)
    _handoff.LIGHT_QUEUE.clear()
    try:
        workload()
        assert capture.flush(10)
    finally:
        emitter.shutdown(10)
        _context.STATE.on, _context.STATE.resolved, _context.STATE.settings, _context.STATE.emitter = saved
        _context.STATE.emit = saved_emit
    records = [r for payload in emitter.sink.payloads for r in wire.decode_message(payload).records]
    return records, emitter
