"""Settings files (`provgraph init-settings`), their resolution order, docs/environment.md, `provgraph replay`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from capture import wire
from capture._spill import spill_directory
from capture.settings import Settings, SettingsError
from provgraph.cli.capture import environment_doc
from provgraph.cli.main import main

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("PROVGRAPH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return monkeypatch


def test_environment_doc_is_current():
    current = (REPO / "docs" / "environment.md").read_text()
    assert current == environment_doc(), "regenerate: python -m provgraph.cli.capture > docs/environment.md"
    for name, env, _default, _doc in Settings.describe():
        assert f"`{env}`" in current and f"`{name}`" in current


def test_full_settings_file_lists_every_setting_commented_and_loads_as_the_defaults(tmp_path, clean_env):
    path = tmp_path / "full.yaml"
    assert main(["init-settings", str(path), "--full"]) == 0
    text = path.read_text()
    for name, env, _default, doc in Settings.describe():
        assert f"# env: {env}" in text and doc in text
        assert f"\n# {name}: " in text  # commented out: the file documents without pinning values
    assert Settings.load(path) == Settings.load()
    # Uncomment one line: the file now sets it.
    path.write_text(text.replace("# flush_max_records: 2000", "flush_max_records: 77"))
    assert Settings.load(path).flush_max_records == 77


def test_minimal_settings_file_is_found_by_env_then_per_user_path(tmp_path, clean_env, capsys):
    user_file = tmp_path / "config" / "provgraph" / "settings.yaml"
    assert main(["init-settings"]) == 0  # the per-user file by default
    assert user_file.is_file() and "wrote" in capsys.readouterr().out
    assert main(["init-settings"]) == 1  # refuses to overwrite
    assert "--force" in capsys.readouterr().err
    user_file.write_text(user_file.read_text().replace("stream: provgraph:records", "stream: from-user-file"))
    assert Settings.load().stream == "from-user-file"
    other = tmp_path / "other.yaml"
    other.write_text("stream: from-env-file\nbuffer_path:\n")
    clean_env.setenv("PROVGRAPH_SETTINGS", str(other))
    assert Settings.load().stream == "from-env-file"
    assert Settings.load().buffer_path == ""  # an empty YAML value means the default, not "None"
    clean_env.setenv("PROVGRAPH_STREAM", "from-variable")
    assert Settings.load().stream == "from-variable"
    assert Settings.load(stream="explicit").stream == "explicit"


def test_a_bad_settings_file_is_refused_with_the_setting_named(tmp_path, clean_env, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("flush_max_record: 5\n")
    with pytest.raises(SettingsError, match="flush_max_record"):
        Settings.load(path)
    assert main(["--settings", str(path), "replay", str(tmp_path)]) == 1
    assert "flush_max_record" in capsys.readouterr().err


def test_replay_command_sends_spill_files_once(tmp_path, clean_env, redis_client, unique, capsys):
    stream = f"provgraph:test:{unique}:replay"
    home = tmp_path / "home"
    directory = spill_directory(home, stream)
    directory.mkdir(parents=True)
    lines = [wire.encode_message("pgid:run_r", [wire.element("entity", f"pgid:e{i}")]) for i in range(3)]
    (directory / "spill-a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    clean_env.setenv("PROVGRAPH_HOME", str(home))
    clean_env.setenv("PROVGRAPH_REDIS_URL", REDIS_URL)
    clean_env.setenv("PROVGRAPH_STREAM", stream)
    try:
        assert main(["replay"]) == 0
        assert "replayed 3 messages (3 records) from 1 file(s)" in capsys.readouterr().out
        assert redis_client.xlen(stream) == 3
        assert main(["replay"]) == 0  # already replayed: nothing sent twice
        assert redis_client.xlen(stream) == 3
        assert (directory / "spill-a.jsonl.replayed").is_file()
    finally:
        redis_client.delete(stream)


def test_replay_command_with_redis_down_says_so_and_keeps_the_files(tmp_path, clean_env, capsys):
    path = tmp_path / "buffer.jsonl"
    path.write_bytes(wire.encode_message("pgid:run_r", [wire.element("entity", "pgid:e")]) + b"\n")
    assert main(["replay", str(path), "--redis-url", "redis://127.0.0.1:1/0"]) == 1
    assert "cannot reach Redis" in capsys.readouterr().err
    assert path.is_file()
