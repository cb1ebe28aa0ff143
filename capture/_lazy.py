"""Fork-safe lazy imports: third-party modules capture loads on first use, never half-imported in a child.

capture imports redis-py, psutil and pynvml on first use, often on its own threads (the emitter, the telemetry
sampler). A fork while another thread is importing leaves the child a half-initialised module that fails there
for good. Every such import runs inside `guard`, and a fork waits for a guarded import in progress to finish
(`os.register_at_fork`), so a child always sees a module either fully imported or not imported at all.

Example::

    from capture._lazy import guard

    with guard():
        import redis
"""

from __future__ import annotations

import os
import threading

__all__ = ["guard"]

_lock = threading.RLock()


def guard() -> threading.RLock:
    """The lock to hold while importing a third-party module lazily (``with guard(): import redis``)."""
    return _lock


def _before_fork() -> None:
    _lock.acquire()


def _after_fork_in_parent() -> None:
    _lock.release()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # the parent's lock, held by the forking thread, is not ours to release


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
)
