"""``provgraph init-settings`` and ``provgraph replay``: the capture side's settings file and spilled records.

Examples::

    provgraph init-settings                      # ~/.config/provgraph/settings.yaml, the common settings
    provgraph init-settings ./pg.yaml --full     # every setting, commented, with its variable and default
    provgraph replay                             # this machine's spill files of the configured stream
    provgraph replay ./buffer                    # an offline buffer (PROVGRAPH_SINK=file) into Redis

``python -m provgraph.cli.capture`` prints ``docs/environment.md`` (generated from `Settings.describe`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from provgraph.errors import ConfigurationError, StoreUnavailable

MINIMAL_SETTINGS = ("graph_url", "redis_url", "stream", "sink", "capture_enabled")
"""Settings written, active, by ``init-settings`` without ``--full``."""


def register(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "init-settings",
        help="write a settings file (YAML)",
        description=(
            "Write a YAML settings file: the common settings with their defaults, or with --full every setting, "
            "commented, with its environment variable, default and meaning. Files are found by --settings, then "
            "$PROVGRAPH_SETTINGS, then ~/.config/provgraph/settings.yaml; environment variables override them."
        ),
    )
    init.add_argument("path", nargs="?", metavar="PATH", help="where to write (default: the per-user file)")
    init.add_argument("--full", action="store_true", help="every setting, commented, with its description")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=_init_settings)

    replay = subparsers.add_parser(
        "replay",
        help="send spilled or buffered records to the Redis stream",
        description=(
            "Send JSON Lines files of records (the spill files written while Redis was unreachable, or an offline "
            "buffer) to the Redis stream, each file once: a replayed file is renamed *.replayed, an interrupted "
            "replay resumes where it stopped, and files a running process still writes are left alone."
        ),
    )
    replay.add_argument(
        "path", nargs="?", metavar="PATH", help="a .jsonl file or a directory (default: the spill directory)"
    )
    replay.add_argument("--stream", help="target stream (default: the stream setting)")
    replay.add_argument("--redis-url", help="target Redis (default: the redis_url setting)")
    replay.set_defaults(func=_replay)


def _load_settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from capture.settings import Settings, SettingsError

    try:
        return Settings.load(getattr(args, "settings", None), **overrides)
    except SettingsError as exc:
        raise ConfigurationError(f"{exc} (see docs/environment.md)") from exc


def _yaml_value(name: str, value: Any) -> str:
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=1000)
    return f"{name}: {text.removesuffix(chr(10)).removesuffix('...').strip()}"


def _shown_default(value: Any) -> Any:
    home = str(Path.home())
    if isinstance(value, str) and value.startswith(home + "/"):
        return "~" + value[len(home) :]
    return value


def settings_yaml(full: bool) -> str:
    """The text ``init-settings`` writes: the common settings, or (``full``) every one, commented."""
    from capture.settings import Settings

    secret = {f.name for f in Settings.__dataclass_fields__.values() if f.metadata.get("secret")}
    lines = [
        "# provgraph settings (YAML). Environment variables (PROVGRAPH_*) override what is here.",
        "# Found by --settings, then $PROVGRAPH_SETTINGS, then ~/.config/provgraph/settings.yaml.",
        "# Every setting: `provgraph init-settings --full` or docs/environment.md.",
    ]
    for name, env, default, doc in Settings.describe():
        if not full and name not in MINIMAL_SETTINGS:
            continue
        lines.append("")
        lines.append(f"# {doc}")
        lines.append(f"# env: {env}   default: {_shown_default(default)!r}")
        if name in secret:
            lines.append(f"# {name}: ''   # prefer the environment variable {env} for secrets")
        elif full:
            lines.append(f"# {_yaml_value(name, _shown_default(default))}")
        else:
            lines.append(_yaml_value(name, default))
    return "\n".join(lines) + "\n"


def _init_settings(args: argparse.Namespace) -> int:
    from capture.settings import default_settings_path

    path = Path(args.path).expanduser() if args.path else default_settings_path()
    if path.exists() and not args.force:
        raise ConfigurationError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings_yaml(args.full))
    print(
        f"wrote {path} ({'every setting' if args.full else 'common settings'}); edit it, or set PROVGRAPH_* variables"
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    from capture._sinks import make_sink
    from capture._spill import replay, spill_directory

    overrides = {"stream": args.stream, "redis_url": args.redis_url}
    settings = _load_settings(args, **{k: v for k, v in overrides.items() if v})
    target = Path(args.path).expanduser() if args.path else spill_directory(settings.home, settings.stream)
    if not target.exists():
        if args.path:
            raise ConfigurationError(f"nothing to replay at {target}")
        print(f"nothing to replay: no spill directory {target}")
        return 0
    sink = make_sink(settings.replace(sink="redis"))
    try:
        if not sink.probe():
            from provgraph.graph.backend import redact_url

            raise StoreUnavailable(
                f"cannot reach Redis at {redact_url(settings.redis_url)}; start it (provgraph services up / "
                "provgraph embedded up) or pass --redis-url; nothing was replayed",
                redact_url(settings.redis_url),
            )
        print(f"replaying {target} into stream {settings.stream!r} ...", file=sys.stderr)
        result = replay(target, settings=settings, sink=sink)
    finally:
        sink.close()
    print(
        f"replayed {result.messages} messages ({result.records} records) from {len(result.files)} file(s) into "
        f"{settings.stream!r}"
    )
    if result.rejected:
        print(
            f"{result.rejected} invalid line(s) kept in *.rejected files beside their source", file=sys.stderr
        )
    if result.in_use:
        print(
            f"{len(result.in_use)} file(s) skipped: a running process still writes them and replays them itself",
            file=sys.stderr,
        )
    if result.failed:
        print(
            f"provgraph: Redis refused part of {len(result.failed)} file(s); run `provgraph replay` again to "
            "resume where it stopped",
            file=sys.stderr,
        )
        return 1
    return 0


def environment_doc() -> str:
    """``docs/environment.md``, generated from `Settings.describe` (a test keeps the file current)."""
    from capture.settings import SETTINGS_FILE_ENV, Settings

    lines = [
        "# Environment variables and settings",
        "",
        "<!-- Generated by `python -m provgraph.cli.capture > docs/environment.md`; "
        "tests/capture/test_settings_file.py checks it is current. -->",
        "",
        "Every provgraph setting, its `PROVGRAPH_*` environment variable, default and meaning. Each value comes "
        "from, in order: an explicit argument (`Settings.load(name=...)`, `Workflow(settings=...)`, a CLI flag), "
        "the environment variable, the settings file, the default.",
        "",
        f"The settings file is YAML (`setting: value`), found by `--settings PATH`, then `${SETTINGS_FILE_ENV}`, "
        "then `~/.config/provgraph/settings.yaml` (`$XDG_CONFIG_HOME` if set). `provgraph init-settings [PATH]` "
        "writes one with the common settings; `--full` writes every setting, commented, with this table's text. "
        "`PROVGRAPH_DISABLED=1` turns capture off (every decorator becomes a plain call). Lists are "
        "comma-separated in the environment. Passwords are never shown in logs or reprs; prefer the environment "
        "for them.",
        "",
        "| Setting | Environment variable | Default | Meaning |",
        "|---|---|---|---|",
    ]
    for name, env, default, doc in Settings.describe():
        shown = _shown_default(default)
        if isinstance(shown, list):
            shown = ",".join(shown)
        cell = f"`{shown}`" if shown != "" else "(empty)"
        lines.append(f"| `{name}` | `{env}` | {cell} | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(environment_doc())
