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


def _parent_of(records, name):
    (task,) = [
        r
        for r in records
        if r["k"] == "activity" and dict(map(tuple, r.get("a", []))).get("pg:name", "").endswith(name)
    ]
    return dict(map(tuple, task["a"]))["pg:started_by"], task["id"]


def test_a_thread_and_a_thread_pool_task_inside_a_task_have_that_task_as_parent(memory_emitter):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    @capture.task
    def in_thread():
        return 1

    @capture.task
    def in_pool():
        return 2

    @capture.task
    def outer():
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join()
        with ThreadPoolExecutor(2) as pool:
            assert pool.submit(in_pool).result() == 2

    with capture.Workflow() as run:
        outer()
    records = memory_emitter.records(run.id)
    _, outer_id = _parent_of(records, "outer")
    assert _parent_of(records, "in_thread")[0] == outer_id
    assert _parent_of(records, "in_pool")[0] == outer_id


def test_a_process_pool_task_inside_a_task_carries_the_run_and_the_task(memory_emitter):
    from concurrent.futures import ProcessPoolExecutor

    with capture.Workflow(workflow_id="pool-run") as run:
        with ProcessPoolExecutor(1) as pool:
            token = _context.CURRENT.set((_context.current_run(), "pgid:task_0123456789ab_5"))
            try:
                seen = pool.submit(_position).result()
            finally:
                _context.CURRENT.reset(token)
    assert seen == (run.id, "pgid:task_0123456789ab_5")


def _position():
    run, parent = _context.CURRENT.get()
    return run.id, parent


def test_an_async_workflow_holds_its_tasks(memory_emitter):
    import asyncio

    @capture.task
    async def step(x):
        await asyncio.sleep(0)
        return x + 1

    @capture.workflow(name="async_main")
    async def main():
        return await asyncio.gather(step(1), step(2))

    assert asyncio.run(main()) == [2, 3]
    runs = [doc for doc, _ in memory_emitter.items]
    records = memory_emitter.records(runs[0])
    names = [dict(map(tuple, r["a"])).get("pg:name") for r in records if r["k"] == "activity"]
    assert names.count("test_an_async_workflow_holds_its_tasks.<locals>.step") == 2
    assert "async_main" in names
    assert set(runs) == {runs[0]}  # every record in the workflow's own run


def test_a_broken_settings_file_keeps_recording_and_says_what_it_ignored(monkeypatch, tmp_path, caplog):
    settings_file = tmp_path / "settings.yaml"
    settings_file.write_text("sinkk: file\nflush_interval_ms: fast\nstream: my:stream\n")
    monkeypatch.setenv("PROVGRAPH_SETTINGS", str(settings_file))
    monkeypatch.setenv("PROVGRAPH_HOME", str(tmp_path / "home"))
    settings, ignored = Settings.load_trusted()
    assert settings.stream == "my:stream" and settings.flush_interval_ms == Settings().flush_interval_ms
    assert any("sinkk" in line for line in ignored) and any("flush_interval_ms" in line for line in ignored)
    settings_file.write_text("sink: carrier-pigeon\n")
    settings, ignored = Settings.load_trusted()
    assert settings.sink == Settings().sink and any("carrier-pigeon" in line for line in ignored)
    settings_file.write_text("[not: a mapping")
    settings, ignored = Settings.load_trusted()
    assert settings.capture_enabled and ignored
    monkeypatch.setattr(_context.STATE, "resolved", False)
    monkeypatch.setattr(_context.STATE, "settings", None)
    monkeypatch.setattr(_context.STATE, "on", False)
    monkeypatch.setattr(
        _context.STATE, "emitter", object()
    )  # resolve() must not build the process emitter here
    monkeypatch.setattr(_context.STATE, "emit", print)
    settings_file.write_text("sinkk: file\n")
    with caplog.at_level("WARNING", logger="capture._context"):
        assert _context.resolve() is True
    assert "sinkk" in caplog.text
