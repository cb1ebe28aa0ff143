"""The retention policy: `provgraph load` purges runs past their age on a schedule (settings ``retention_*``).

With ``retention_max_age`` set (``90d``, ``12h``, ``2w``), a background thread of the loading command purges, every
``retention_interval_s`` seconds, the runs that **ended** before that age (a run that never ended is left alone:
it may still be loading), in lineage mode when ``retention_keep_lineage`` is on (docs/retention.md). It uses its
own graph connection, so loading never waits for it.

Example::

    from provgraph.retention import RetentionPolicy

    policy = RetentionPolicy.from_settings(settings)
    if policy is not None:
        result = policy.apply(backend, progress=print)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from provgraph.graph import open_backend
from provgraph.graph.backend import GraphBackend
from provgraph.purge import PurgeResult, purge, select
from provgraph.tail import parse_since

__all__ = ["RetentionPolicy", "start_schedule"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Purge runs that ended more than ``max_age`` ago (``keep_lineage``: only their payloads)."""

    max_age: str
    keep_lineage: bool = False
    interval_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Any) -> RetentionPolicy | None:
        """The policy the settings ask for; ``None`` when ``retention_max_age`` is empty.

        Raises:
            ConfigurationError: an unreadable age.
        """
        age = str(getattr(settings, "retention_max_age", "") or "").strip()
        if not age:
            return None
        parse_since(age)  # refuses a bad value now, not at the first run of the schedule
        return cls(
            age,
            bool(getattr(settings, "retention_keep_lineage", False)),
            float(getattr(settings, "retention_interval_s", 3600.0)),
        )

    def apply(self, backend: GraphBackend, progress: Callable[[str], None] | None = None) -> PurgeResult:
        """Purge what the policy says now; the runs that never ended are kept."""
        chosen = [item for item in select(backend, older_than=self.max_age) if item.end_time is not None]
        return purge(backend, chosen, keep_lineage=self.keep_lineage, progress=progress)


def start_schedule(
    settings: Any, stop: threading.Event, progress: Callable[[str], None] | None = None
) -> threading.Thread | None:
    """Apply the settings' policy now and then every interval until ``stop`` is set, in a daemon thread;
    ``None`` (and no thread) when no policy is set."""
    policy = RetentionPolicy.from_settings(settings)
    if policy is None:
        return None

    def loop() -> None:
        while not stop.is_set():
            try:
                with open_backend(settings) as backend:
                    result = policy.apply(backend, progress)
                if progress is not None and result.documents:
                    what = "the payloads of " if policy.keep_lineage else ""
                    progress(f"retention: purged {what}{len(result.documents)} run(s) past {policy.max_age}")
            except Exception as exc:  # noqa: BLE001 - retention must never stop loading; it tries again later
                logger.error("retention policy failed (will retry in %.0f s): %s", policy.interval_s, exc)
                if progress is not None:
                    progress(f"retention failed, retrying in {policy.interval_s:.0f} s: {exc}")
            stop.wait(policy.interval_s)

    thread = threading.Thread(target=loop, name="provgraph-retention", daemon=True)
    thread.start()
    return thread
