"""Spill files and replay: messages that could not be sent wait on disk, then go out exactly once on purpose.

A spill file is JSON Lines (one encoded message per line) under ``<home>/spill/<stream>/``, one per process,
locked (``flock``) while its process may still write to it. Replay sends a file's lines in order, records its
progress in ``<file>.progress`` after each chunk (so an interrupted replay resumes where it stopped), and renames
the file ``<file>.replayed`` when done, so nothing is replayed twice on purpose. Lines that are not valid messages
(say, a line cut short by a crash) go to ``<file>.rejected`` with the reason and line number.

Example::

    from capture import replay
    from capture.settings import Settings

    result = replay(settings=Settings.load())    # every finished spill file of settings.stream, into Redis
    print(result.messages, "messages sent")
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capture import wire
from capture._sinks import Sink, _LineFile, buffer_files, make_sink, process_file_name
from capture.settings import Settings

__all__ = ["ReplayResult", "SpillFile", "replay", "replay_file", "spill_directory"]

logger = logging.getLogger(__name__)

REPLAY_CHUNK_MESSAGES = 64
"""Messages per export call while replaying."""


def spill_directory(home: str | os.PathLike[str], stream: str) -> Path:
    """Where spill files of ``stream`` live: ``<home>/spill/<stream, percent-encoded>``."""
    return Path(home).expanduser() / "spill" / urllib.parse.quote(stream, safe="")


@dataclass
class ReplayResult:
    """What a replay did: files finished, messages and records sent, lines rejected, files left alone."""

    files: list[str] = field(default_factory=list)
    messages: int = 0
    records: int = 0
    rejected: int = 0
    in_use: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """``True`` if every file was replayed to the end."""
        return not self.failed


def _read_progress(path: Path) -> int:
    try:
        return int(Path(f"{path}.progress").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _write_progress(path: Path, offset: int) -> None:
    progress = Path(f"{path}.progress")
    temporary = progress.with_name(progress.name + ".tmp")
    temporary.write_text(str(offset))
    os.replace(temporary, progress)


def _reject(path: Path, offset: int, reason: str, line: bytes) -> None:
    entry = {
        "file": str(path),
        "offset": offset,
        "reason": reason,
        "payload": line.decode("utf-8", "replace"),
    }
    with open(f"{path}.rejected", "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    logger.error(
        "provgraph replay: %s, line at byte %d, is not a valid message (%s); kept in %s.rejected",
        path,
        offset,
        reason,
        path,
    )


def _send(sink: Sink, chunk: list[bytes], records: int, result: ReplayResult, path: Path) -> bool:
    if not sink.export(chunk):
        result.failed.append(str(path))
        return False
    result.messages += len(chunk)
    result.records += records
    return True


def replay_file(path: Path, sink: Sink, result: ReplayResult | None = None, *, locked: bool = False) -> bool:
    """Send one JSON Lines file to ``sink`` from its recorded progress; rename it ``.replayed`` when done.

    Args:
        path: the file.
        sink: where the messages go.
        result: counts are added here.
        locked: the caller holds the file's lock already (the emitter replaying its own spill file).

    Returns:
        ``True`` if the file was sent to the end (and renamed), ``False`` if the sink refused a chunk (the progress
        file says how far it got) or another process holds the file.
    """
    result = result if result is not None else ReplayResult()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in finally
    except FileNotFoundError:
        return False  # replayed (and renamed) by another process in the meantime
    try:
        if not locked:
            import fcntl

            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                result.in_use.append(str(path))
                return False
            try:
                if os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
                    return False
            except FileNotFoundError:
                return False  # another process finished it between our open and our lock
        position = _read_progress(path)
        handle.seek(position)
        chunk: list[bytes] = []
        chunk_records = 0
        for line in iter(handle.readline, b""):
            line_start = position
            position += len(line)
            if not line.endswith(b"\n"):
                # Complete lines always end with a newline: this one was cut short by a crash.
                _reject(path, line_start, "incomplete last line", line)
                result.rejected += 1
                continue
            payload = line[:-1]
            if not payload.strip():
                continue
            try:
                message = wire.decode_message(payload)
            except wire.WireFormatError as exc:
                _reject(path, line_start, exc.reason, payload)
                result.rejected += 1
                continue
            chunk.append(payload)
            chunk_records += len(message.records)
            if len(chunk) >= REPLAY_CHUNK_MESSAGES:
                if not _send(sink, chunk, chunk_records, result, path):
                    return False
                _write_progress(path, position)
                chunk, chunk_records = [], 0
        if chunk and not _send(sink, chunk, chunk_records, result, path):
            return False
        os.replace(path, f"{path}.replayed")
        try:
            os.unlink(f"{path}.progress")
        except FileNotFoundError:
            pass
        result.files.append(str(path))
        return True
    finally:
        handle.close()


def replay(
    path: str | os.PathLike[str] | None = None,
    *,
    settings: Any = None,
    sink: Sink | None = None,
) -> ReplayResult:
    """Replay spill or buffer files into the transport, each file once (renamed ``.replayed`` when done).

    Args:
        path: a ``.jsonl`` file or a directory of them (default: the spill directory of ``settings.stream``).
        settings: `capture.settings.Settings` (default: ``Settings.load()``); names the Redis URL and stream.
        sink: send here instead of the Redis stream of ``settings`` (tests).

    Returns:
        A `ReplayResult`; files that a running process still holds are listed in ``in_use`` and left alone.
    """
    if settings is None:
        settings = Settings.load()
    target = Path(path) if path is not None else spill_directory(settings.home, settings.stream)
    result = ReplayResult()
    if path is None and not target.exists():
        return result
    files = buffer_files(target)
    own_sink = sink is None
    if sink is None:
        sink = make_sink(settings.replace(sink="redis"))
    try:
        for file in files:
            replay_file(file, sink, result)
    finally:
        if own_sink:
            sink.close()
    return result


class SpillFile:
    """This process's spill file: messages the sink refused, appended in order, replayed when it is back."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._out: _LineFile | None = None
        self.pending_records = 0
        self.pending_messages = 0

    @property
    def path(self) -> Path | None:
        return self._out.path if self._out is not None else None

    def append(self, messages: list[bytes], records: int) -> None:
        """Write messages to the file (raises ``OSError`` if the disk refuses)."""
        if self._out is None:
            self._out = _LineFile(self.directory / process_file_name("spill"), lock=True)
        self._out.append(messages)
        self.pending_records += records
        self.pending_messages += len(messages)

    def replay(self, sink: Sink, result: ReplayResult) -> bool:
        """Send everything spilled so far to ``sink``; on success start a new file next time."""
        if self._out is None or not self._out.is_open:
            return True
        done = replay_file(self._out.path, sink, result, locked=True)
        if done:
            self._out.close()  # releases the lock of the (renamed) file
            self._out = None
            self.pending_records = 0
            self.pending_messages = 0
        return done

    def close(self) -> None:
        if self._out is not None:
            self._out.close()

    def forget(self) -> None:
        if self._out is not None:
            self._out.forget()
            self._out = None
        self.pending_records = 0
        self.pending_messages = 0
