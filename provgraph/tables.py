"""Plain-text tables for the terminal: what ``provgraph query`` and ``provgraph demo`` print."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["format_bytes", "format_cell", "format_table", "plain"]

_CELL_WIDTH = 60


def format_cell(value: Any) -> str:
    """One value as table text: lists comma-separated, maps as k=v, long text shortened."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = f"{value:g}"
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        text = " ".join(
            f"{k}={format_cell(v)}" for k, v in dataclasses.asdict(value).items() if v is not None
        )
    elif isinstance(value, Mapping):
        text = " ".join(f"{k}={format_cell(v)}" for k, v in value.items() if v is not None)
    elif isinstance(value, list | tuple):
        text = ", ".join(format_cell(item) for item in value)
    else:
        text = str(value)
    text = " ".join(text.split())
    if len(text) > _CELL_WIDTH:
        text = text[: _CELL_WIDTH - 1] + "…"
    return text


def format_bytes(value: float) -> str:
    """A byte count as a person reads it: ``512 B``, ``3.4 MB``, ``1.21 GB`` (powers of 1000, as disks and
    ``top`` in SI mode count; negative for a shrink)."""
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.3g} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as an aligned text table with a header line; numbers right-aligned; ``*_bytes`` columns in kB, MB,
    GB (JSON output keeps the exact numbers)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())

    def cell(row: Mapping[str, Any], column: str) -> str:
        value = row.get(column)
        if column.endswith("_bytes") and isinstance(value, int | float) and not isinstance(value, bool):
            return format_bytes(value)
        return format_cell(value)

    cells = [[cell(row, column) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    numeric = [
        all(
            isinstance(row.get(c), int | float) and not isinstance(row.get(c), bool)
            for row in rows
            if row.get(c) is not None
        )
        for c in columns
    ]

    def line(values: Iterable[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out.extend(line(values) for values in cells)
    return "\n".join(out)


def plain(value: Any) -> Any:
    """Dataclasses (the client's answers) as dicts, recursively: what a table or JSON prints."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
