"""Helpers of the capture unit tests: an in-memory stand-in for the process emitter, record lookups."""

from __future__ import annotations

from typing import Any

from capture import wire


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


def of_kind(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["k"] == kind]


def attr(record: dict[str, Any], name: str) -> Any:
    values = [v for k, v in record.get("a", []) if k == name]
    return values[0] if len(values) == 1 else (values or None)
