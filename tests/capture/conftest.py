"""Capture unit tests: an in-memory stand-in for the process emitter (integration tests use the real one)."""

from __future__ import annotations

import pytest
from _capture_helpers import MemoryEmitter

from capture import _context, _handoff
from capture.settings import Settings


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
    _handoff.LIGHT_QUEUE.clear()
    yield emitter
    _handoff.LIGHT_QUEUE.clear()
    (
        _context.STATE.on,
        _context.STATE.resolved,
        _context.STATE.settings,
        _context.STATE.emitter,
        _context.STATE.emit,
    ) = saved
