"""The on/off switch and the current-position context variable."""

from __future__ import annotations

import capture
from capture import _context
from capture.settings import Settings


def test_settings_switch_capture_off_until_resolved_again(memory_emitter, monkeypatch, tmp_path):
    monkeypatch.setattr(_context.STATE, "resolved", False)
    monkeypatch.setattr(_context.STATE, "settings", Settings(home=str(tmp_path), capture_enabled=False))
    assert _context.resolve() is False

    @capture.task
    def f(x):
        return x

    assert f(2) == 2
    assert memory_emitter.items == []


def test_environment_disables_capture(monkeypatch, tmp_path):
    monkeypatch.setenv("PROVGRAPH_DISABLED", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(_context.STATE, "resolved", False)
    monkeypatch.setattr(_context.STATE, "settings", None)
    monkeypatch.setattr(_context.STATE, "on", False)
    assert _context.resolve() is False


def test_context_is_restored_after_tasks_and_workflows(memory_emitter):
    @capture.task
    def f():
        return _context.CURRENT.get()

    assert _context.CURRENT.get() is None
    with capture.Workflow() as run:
        inside = f()
        assert inside[0].id == run.id and isinstance(inside[1], int)
        assert _context.CURRENT.get()[1] is None
    assert _context.CURRENT.get() is None
