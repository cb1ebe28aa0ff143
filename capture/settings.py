"""Every provgraph setting in one place: name, environment variable, default and unit.

Resolution order for each setting: an explicit argument, then the ``PROVGRAPH_*`` environment variable, then the
settings file, then the default. The settings file is found by explicit path, then ``PROVGRAPH_SETTINGS``, then
``~/.config/provgraph/settings.yaml``; `provgraph init-settings` writes one. `docs/environment.md` lists them all.

Example::

    from capture.settings import Settings

    settings = Settings.load()                     # environment + settings file + defaults
    settings = Settings.load(redis_url="redis://127.0.0.1:6380/0")   # explicit wins
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

from capture.errors import CaptureError

__all__ = ["SETTINGS_FILE_ENV", "Settings", "SettingsError", "default_settings_path"]

logger = logging.getLogger(__name__)

SETTINGS_FILE_ENV = "PROVGRAPH_SETTINGS"

# Settings that changed name: an old name gets a pointer to the new one instead of a bare "unknown setting".
_RENAMED = {"redact_env_deny": "redact_deny", "redact_env_allow": "redact_allow"}


class SettingsError(CaptureError, ValueError):
    """A setting has a value that cannot be used; the message names the setting and its source."""


def default_settings_path() -> Path:
    """The per-user settings file: ``$XDG_CONFIG_HOME/provgraph/settings.yaml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "provgraph" / "settings.yaml"


def _default_home() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "provgraph")


def _setting(default: Any, env: str, doc: str, secret: bool = False) -> Any:
    meta = {"env": env, "doc": doc, "secret": secret}
    if isinstance(default, list | dict):
        return field(default_factory=functools.partial(type(default), default), metadata=meta)
    if callable(default):
        return field(default_factory=default, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """provgraph's settings; build with `Settings.load()` (or directly, in tests, with explicit values)."""

    # --- where things live ------------------------------------------------------------------------------------
    home: str = _setting(
        _default_home, "PROVGRAPH_HOME", "Data directory for the embedded server, spill files, services."
    )
    graph_url: str = _setting(
        "embedded",
        "PROVGRAPH_GRAPH_URL",
        "Graph store: 'embedded' (FalkorDB under PROVGRAPH_HOME) or a Neo4j URI (bolt://127.0.0.1:7687, neo4j://...).",
    )
    redis_url: str = _setting(
        "embedded",
        "PROVGRAPH_REDIS_URL",
        "Transport: 'embedded' (the same embedded server), a Redis URL passed to redis-py's from_url, or a Redis "
        "Cluster: redis-cluster://host:port,host:port[?partitions=N] (docs/scaling.md).",
    )
    neo4j_user: str = _setting("neo4j", "PROVGRAPH_NEO4J_USER", "Neo4j user name.")
    neo4j_password: str = _setting(
        "", "PROVGRAPH_NEO4J_PASSWORD", "Neo4j password; empty: auth off.", secret=True
    )
    neo4j_database: str = _setting("neo4j", "PROVGRAPH_NEO4J_DATABASE", "Neo4j database name.")
    query_timeout_s: float = _setting(30.0, "PROVGRAPH_QUERY_TIMEOUT_S", "Timeout of one query, seconds.")
    neo4j_notifications: str = _setting(
        "off",
        "PROVGRAPH_NEO4J_NOTIFICATIONS",
        "Neo4j server notifications logged: off, warning or information (deprecations, unknown property keys...).",
    )
    embedded_autoload: bool = _setting(
        True,
        "PROVGRAPH_EMBEDDED_AUTOLOAD",
        "With redis_url 'embedded': capture starts the embedded server and its loader by itself (docs/embedded.md).",
    )
    embedded_idle_s: float = _setting(
        30.0,
        "PROVGRAPH_EMBEDDED_IDLE_S",
        "The automatic loader (and the server it started) stop after this long with nothing to do, seconds.",
    )

    # --- transport --------------------------------------------------------------------------------------------
    stream: str = _setting("provgraph:records", "PROVGRAPH_STREAM", "Redis Stream that carries PROV records.")
    dead_letter_stream: str = _setting(
        "provgraph:dead-letters", "PROVGRAPH_DEAD_LETTER_STREAM", "Stream for messages that cannot be loaded."
    )
    consumer_group: str = _setting("provgraph-loader", "PROVGRAPH_CONSUMER_GROUP", "Loader consumer group.")

    # --- loader (provgraph load; docs/loader.md) --------------------------------------------------------------
    loader_batch_records: int = _setting(
        5000,
        "PROVGRAPH_LOADER_BATCH_RECORDS",
        "Records per loader transaction, at most (a message is never split).",
    )
    loader_flush_interval_ms: int = _setting(
        200,
        "PROVGRAPH_LOADER_FLUSH_INTERVAL_MS",
        "Longest wait to fill a batch before writing it, milliseconds.",
    )
    loader_block_ms: int = _setting(
        100, "PROVGRAPH_LOADER_BLOCK_MS", "XREADGROUP block timeout, milliseconds."
    )
    loader_claim_idle_ms: int = _setting(
        30_000,
        "PROVGRAPH_LOADER_CLAIM_IDLE_MS",
        "Pending entries idle this long are taken over (XAUTOCLAIM), ms.",
    )
    loader_max_deliveries: int = _setting(
        5,
        "PROVGRAPH_LOADER_MAX_DELIVERIES",
        "An entry delivered more often than this goes to the dead letters.",
    )
    loader_progress_interval_s: float = _setting(
        10.0, "PROVGRAPH_LOADER_PROGRESS_INTERVAL_S", "Seconds between progress lines of a running loader."
    )
    loader_retry_max_s: float = _setting(
        30.0,
        "PROVGRAPH_LOADER_RETRY_MAX_S",
        "Longest back-off between retries while the graph is unavailable, s.",
    )
    loader_keep_acknowledged_s: float = _setting(
        300.0,
        "PROVGRAPH_LOADER_KEEP_ACKNOWLEDGED_S",
        "Acknowledged stream entries younger than this stay in the stream; older ones are trimmed, s.",
    )

    # --- capture ----------------------------------------------------------------------------------------------
    capture_enabled: bool = _setting(
        True,
        "PROVGRAPH_CAPTURE_ENABLED",
        "Off: every decorator and loop is a plain call. PROVGRAPH_DISABLED=1 also turns it off.",
    )
    sink: str = _setting("redis", "PROVGRAPH_SINK", "Where capture sends records: redis, file or memory.")
    flush_interval_ms: int = _setting(
        100, "PROVGRAPH_FLUSH_INTERVAL_MS", "Emitter flush period, milliseconds."
    )
    flush_max_records: int = _setting(2000, "PROVGRAPH_FLUSH_MAX_RECORDS", "Records per message, at most.")
    wire_version: int = _setting(
        2,
        "PROVGRAPH_WIRE_VERSION",
        "Wire version capture writes: 2 sends tasks as compact events (docs/wire-format.md), 1 as records only "
        "(for a loader older than version 2).",
    )
    queue_max_records: int = _setting(
        200_000,
        "PROVGRAPH_QUEUE_MAX_RECORDS",
        "Capture items (a task's records, or one list of records) queued in memory; beyond it a capture call waits.",
    )
    queue_full_timeout_s: float = _setting(
        5.0,
        "PROVGRAPH_QUEUE_FULL_TIMEOUT_S",
        "Longest a capture call waits for room in a full queue; then it queues over the bound (never drops).",
    )
    stop_timeout_s: float = _setting(
        10.0, "PROVGRAPH_STOP_TIMEOUT_S", "Bounded wait for the flush on workflow stop."
    )
    buffer_path: str = _setting(
        "",
        "PROVGRAPH_BUFFER_PATH",
        "Directory of the file sink's JSON Lines files (one per process); empty: <home>/buffer.",
    )

    # --- telemetry --------------------------------------------------------------------------------------------
    telemetry: list[str] = _setting(
        ["cpu", "process", "memory", "disk", "network", "gpu", "machine"],
        "PROVGRAPH_TELEMETRY",
        "Telemetry types recorded by telemetry tasks (comma-separated in the environment).",
    )
    telemetry_interval_ms: int = _setting(
        500,
        "PROVGRAPH_TELEMETRY_INTERVAL_MS",
        "Period of the telemetry sampler (system-wide and expensive readings), milliseconds.",
    )
    # --- secrets (docs/security.md) ----------------------------------------------------------------------------
    redact_deny: list[str] = _setting(
        [],
        "PROVGRAPH_REDACT_DENY",
        "Extra secret name words (e.g. pin,x_custom), added to the built-in list of docs/security.md.",
    )
    redact_allow: list[str] = _setting(
        [],
        "PROVGRAPH_REDACT_ALLOW",
        "Names never redacted by name (exact, any case); their values are still scanned.",
    )
    redact_scan_values: bool = _setting(
        True,
        "PROVGRAPH_REDACT_SCAN_VALUES",
        "Scan text for credential formats and for the values of secret environment variables.",
    )
    redact_salt: str = _setting(
        "",
        "PROVGRAPH_REDACT_SALT",
        "Key of the hash in redaction markers; empty: random per process.",
        secret=True,
    )

    # --- retention (provgraph load applies it, docs/retention.md) ------------------------------------------
    retention_max_age: str = _setting(
        "",
        "PROVGRAPH_RETENTION_MAX_AGE",
        "`provgraph load` purges runs that ended longer ago than this (90d, 12h, 2w); empty: keep everything.",
    )
    retention_keep_lineage: bool = _setting(
        False,
        "PROVGRAPH_RETENTION_KEEP_LINEAGE",
        "The retention policy keeps old runs' lineage and drops only telemetry and long values.",
    )
    retention_interval_s: float = _setting(
        3600.0,
        "PROVGRAPH_RETENTION_INTERVAL_S",
        "How often `provgraph load` applies the retention policy, seconds.",
    )

    # --- audit (provgraph verify, docs/audit.md) -------------------------------------------------------------
    audit_digests: bool = _setting(
        False,
        "PROVGRAPH_AUDIT_DIGESTS",
        "The loader records each document's record digests (AuditBatch nodes) for `provgraph verify`.",
    )
    audit_signing_key: str = _setting(
        "",
        "PROVGRAPH_AUDIT_SIGNING_KEY",
        "Ed25519 private key (PEM file) that signs each audit batch; empty: unsigned.",
    )

    # --- services (provgraph services up) ---------------------------------------------------------------------
    neo4j_http_port: int = _setting(7474, "PROVGRAPH_NEO4J_HTTP_PORT", "Neo4j HTTP/Browser port (127.0.0.1).")
    neo4j_heap: str = _setting("1g", "PROVGRAPH_NEO4J_HEAP", "Neo4j JVM heap (-Xms/-Xmx).")
    neo4j_pagecache: str = _setting("512m", "PROVGRAPH_NEO4J_PAGECACHE", "Neo4j page cache size.")
    redis_aof: bool = _setting(
        True,
        "PROVGRAPH_REDIS_AOF",
        "Append-only file (fsync every second) for the managed Redis; off: a restart loses unloaded entries.",
    )
    browser_files_port: int = _setting(
        0,
        "PROVGRAPH_BROWSER_FILES_PORT",
        "Port (127.0.0.1) serving Neo4j Browser's style and guide; 0: any free port.",
    )

    # ---------------------------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                value = "***"
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
        """Resolve settings: explicit ``overrides``, then environment, then the settings file, then defaults.

        Raises `SettingsError` on the first value that cannot be used (see `load_trusted` for the forgiving form).
        """
        settings, _ignored = cls._resolve(path, overrides, strict=True)
        return settings

    @classmethod
    def load_trusted(
        cls, path: str | os.PathLike[str] | None = None, **overrides: Any
    ) -> tuple[Settings, list[str]]:
        """Like `load`, but a value that cannot be used (an unknown name, a typo'd value, a file that is not YAML)
        is left out, its default used instead; returns the settings and one line per thing ignored.

        capture loads its settings this way: a broken settings file never turns recording off.
        """
        return cls._resolve(path, overrides, strict=False)

    @classmethod
    def _resolve(
        cls, path: str | os.PathLike[str] | None, overrides: dict[str, Any], strict: bool
    ) -> tuple[Settings, list[str]]:
        ignored: list[str] = []

        def refuse(error: SettingsError) -> None:
            if strict:
                raise error
            ignored.append(str(error))

        known = {f.name: f for f in fields(cls)}
        unknown = set(overrides) - set(known)
        if unknown:
            hints = "".join(
                f" ({name} is now {_RENAMED[name]})" for name in sorted(unknown) if name in _RENAMED
            )
            raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}{hints}")
        try:
            file_values = _read_settings_file(path)
        except SettingsError as exc:
            refuse(exc)
            file_values = {}
        for name in file_values:
            if name not in known:
                renamed = f" (now {_RENAMED[name]!r})" if name in _RENAMED else ""
                refuse(
                    SettingsError(
                        f"unknown setting {name!r}{renamed} in the settings file; see docs/environment.md"
                    )
                )
        values: dict[str, Any] = {}
        given: set[str] = set()  # explicit overrides: never dropped
        for name, f in known.items():
            if name in overrides and overrides[name] is not None:
                values[name] = overrides[name]
                given.add(name)
                continue
            env = f.metadata["env"]
            raw = os.environ.get(env)
            try:
                if raw is not None and raw != "":
                    values[name] = _parse(f, raw, env)
                elif file_values.get(name) is not None:  # `name:` with no value in YAML means "the default"
                    values[name] = _parse(f, file_values[name], "the settings file")
            except SettingsError as exc:
                refuse(exc)
        if os.environ.get("PROVGRAPH_DISABLED", "").lower() in {"1", "true", "yes", "on"}:
            values["capture_enabled"] = False
            given.add("capture_enabled")
        settings = cls(**values)
        try:
            settings.validate()
        except SettingsError as exc:
            if strict:
                raise
            # Leave out the one environment or file value that makes them unusable, else all of them.
            for name in sorted(set(values) - given):
                trial = {k: v for k, v in values.items() if k != name}
                try:
                    candidate = cls(**trial)
                    candidate.validate()
                except SettingsError:
                    continue
                ignored.append(f"{exc} (the default {getattr(candidate, name)!r} is used for {name})")
                return candidate, ignored
            fallback = cls(**{k: v for k, v in values.items() if k in given})
            fallback.validate()
            ignored.append(
                f"{exc} (the defaults are used for every setting from the environment and the file)"
            )
            return fallback, ignored
        return settings, ignored

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Raise `SettingsError` on values that cannot work together."""
        if self.neo4j_notifications.lower() not in {"off", "warning", "information"}:
            raise SettingsError(
                f"PROVGRAPH_NEO4J_NOTIFICATIONS must be off, warning or information, not {self.neo4j_notifications!r}"
            )
        if self.sink not in {"redis", "file", "memory"}:
            raise SettingsError(f"PROVGRAPH_SINK must be redis, file or memory, not {self.sink!r}")
        if self.flush_interval_ms <= 0 or self.flush_max_records <= 0 or self.queue_max_records <= 0:
            raise SettingsError("flush_interval_ms, flush_max_records and queue_max_records must be positive")
        if self.wire_version not in (1, 2):
            raise SettingsError(f"PROVGRAPH_WIRE_VERSION must be 1 or 2, not {self.wire_version!r}")
        if min(self.loader_batch_records, self.loader_flush_interval_ms, self.loader_block_ms) <= 0:
            raise SettingsError(
                "loader_batch_records, loader_flush_interval_ms and loader_block_ms must be positive"
            )
        if self.loader_keep_acknowledged_s < 0:
            raise SettingsError("loader_keep_acknowledged_s must be 0 or more")
        if self.loader_max_deliveries <= 0 or self.loader_claim_idle_ms <= 0:
            raise SettingsError("loader_max_deliveries and loader_claim_idle_ms must be positive")

    @property
    def uses_embedded_graph(self) -> bool:
        return self.graph_url == "embedded"

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url == "embedded"

    @classmethod
    def describe(cls) -> list[tuple[str, str, Any, str]]:
        """(name, environment variable, default, description) for every setting, for docs and init-settings."""
        rows = []
        defaults = cls()
        for f in fields(cls):
            rows.append((f.name, f.metadata["env"], getattr(defaults, f.name), f.metadata["doc"]))
        return rows


def _parse(f: dataclasses.Field[Any], raw: Any, source: str) -> Any:
    if f.default is not dataclasses.MISSING:
        kind: type = type(f.default)
    else:
        kind = type(cast(Callable[[], Any], f.default_factory)())  # every setting has a default or a factory
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if kind is list:
            if isinstance(raw, list):
                return [str(x) for x in raw]
            return [part.strip() for part in str(raw).split(",") if part.strip()]
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"{f.name} from {source}: {exc}") from exc


def _read_settings_file(path: str | os.PathLike[str] | None) -> dict[str, Any]:
    candidates = [Path(path)] if path else []
    if not path and os.environ.get(SETTINGS_FILE_ENV):
        candidates.append(Path(os.environ[SETTINGS_FILE_ENV]))
    if not candidates:
        candidates.append(default_settings_path())
    for candidate in candidates:
        if candidate.is_file():
            import yaml  # lazily: capture's import stays light

            try:
                data = yaml.safe_load(candidate.read_text()) or {}
            except yaml.YAMLError as exc:
                raise SettingsError(f"settings file {candidate} is not valid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise SettingsError(f"settings file {candidate} must hold a mapping of setting: value")
            return data
        if path:
            raise SettingsError(f"settings file {candidate} does not exist")
    return {}
