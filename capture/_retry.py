"""One jittered exponential backoff, bounded in attempts and time, for transient errors only.

The emitter's sink and probe use it, and so may the loader: only the error types named as transient are retried;
anything else propagates at once.

Example::

    from capture._retry import Backoff, retry_call

    backoff = Backoff(base_s=0.05, cap_s=2.0)
    value = retry_call(client.ping, transient=(ConnectionError,), attempts=4, deadline_s=5.0, backoff=backoff)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["Backoff", "retry_call"]

T = TypeVar("T")


class Backoff:
    """Exponential delays with full jitter: attempt ``n`` waits ``uniform(0, min(cap_s, base_s * 2**n))``.

    Stateful use (a probe that backs off across calls): ``next_delay()`` grows the step, ``reset()`` starts over.
    Full jitter keeps many producers that lost the same server from reconnecting in lockstep.

    Args:
        base_s: first step, seconds.
        cap_s: largest delay, seconds.
        floor_s: smallest delay returned (keeps a probe from spinning), seconds.
    """

    __slots__ = ("base_s", "cap_s", "floor_s", "_attempt", "_random")

    def __init__(self, base_s: float = 0.05, cap_s: float = 5.0, floor_s: float = 0.0) -> None:
        if base_s <= 0 or cap_s < base_s or floor_s < 0:
            raise ValueError("Backoff needs 0 < base_s <= cap_s and floor_s >= 0")
        self.base_s = base_s
        self.cap_s = cap_s
        self.floor_s = floor_s
        self._attempt = 0
        self._random = random.Random()

    def delay(self, attempt: int) -> float:
        """The (jittered) delay before retry number ``attempt`` (0-based)."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(attempt, 62)))
        return max(self.floor_s, self._random.uniform(0.0, ceiling))

    def next_delay(self) -> float:
        """The next delay of a sequence, growing with each call until `reset`."""
        value = self.delay(self._attempt)
        self._attempt += 1
        return value

    def reset(self) -> None:
        """Start the sequence over (after a success)."""
        self._attempt = 0


def retry_call(
    function: Callable[[], T],
    *,
    transient: tuple[type[BaseException], ...],
    attempts: int = 3,
    deadline_s: float = 5.0,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``function``; on a ``transient`` error retry with backoff, at most ``attempts`` calls in ``deadline_s``.

    Args:
        function: the call to make, without arguments.
        transient: exception types worth retrying; any other exception propagates immediately.
        attempts: calls in total, at least 1.
        deadline_s: no retry starts after this many seconds from the first call (a delay is cut to fit).
        backoff: delays between calls (default: ``Backoff()``).
        sleep: the sleep function (tests pass a fake).

    Returns:
        What ``function`` returned.

    Raises:
        The last transient error once attempts or time run out; any non-transient error at once.
    """
    policy = backoff or Backoff()
    deadline = time.monotonic() + deadline_s
    for attempt in range(max(1, attempts)):
        try:
            return function()
        except transient:
            left = deadline - time.monotonic()
            if attempt + 1 >= attempts or left <= 0:
                raise
            sleep(min(policy.delay(attempt), left))
    raise AssertionError("unreachable")  # pragma: no cover
