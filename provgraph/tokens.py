"""Token accounting results: LLM tokens and cost rolled up per run, per task tree and along a lineage.

The sums are named queries (``cypher/token_usage.cypher``, ``token_usage_tasks``, ``token_usage_lineage``);
`provgraph.Client` runs them and returns these objects. What counts as a call, and how each provider's usage is
read, is in docs/tokens.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["StepUsage", "TokenTotals", "step_usage", "token_totals"]


@dataclass(frozen=True, slots=True)
class TokenTotals:
    """LLM usage summed over a scope: a run, a task and what it started, or everything upstream of a result.

    ``calls`` counts the activities with token or cost attributes; ``cost`` is ``None`` when none has one;
    ``activities`` is the number of upstream activities (lineage roll-up only, else ``None``).
    """

    id: str
    calls: int
    tokens_in: int
    tokens_out: int
    tokens_total: int
    cost: float | None
    models: tuple[str, ...]
    activities: int | None = None


@dataclass(frozen=True, slots=True)
class StepUsage:
    """One step of a run with the LLM usage of its subtree (``own_tokens_total``: recorded on the step itself)."""

    id: str
    name: str | None
    depth: int
    parent: str
    own_tokens_total: int | None
    calls: int
    tokens_in: int
    tokens_out: int
    tokens_total: int
    cost: float | None


def token_totals(row: Mapping[str, Any]) -> TokenTotals:
    return TokenTotals(
        id=row["id"],
        calls=row["calls"],
        tokens_in=row["tokens_in"],
        tokens_out=row["tokens_out"],
        tokens_total=row["tokens_total"],
        cost=row["cost"],
        models=tuple(row["models"] or ()),
        activities=row.get("activities"),
    )


def step_usage(row: Mapping[str, Any]) -> StepUsage:
    return StepUsage(**{name: row[name] for name in StepUsage.__dataclass_fields__})
