"""Plain-text tables for the terminal: what ``provgraph query`` and ``provgraph demo`` print."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["format_cell", "format_table", "plain"]

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


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as an aligned text table with a header line; numbers right-aligned."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0].keys())
    cells = [[format_cell(row.get(column)) for column in columns] for row in rows]
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
