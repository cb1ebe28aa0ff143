"""File observer: files created, modified and deleted in watched folders during a run join the lineage.

Work done by non-Python tools (a shell step, a compiler, a simulation writing its output folder) leaves no task
record; watching its folders records what it produced anyway::

    with capture.Workflow("pipeline"):
        with capture.watch("results/"):
            subprocess.run(["simulate", "--out", "results/"], check=True)

What one change becomes (docs/adapters.md, "File observer"): a new ``pg:File`` entity for the generation
(``pgid:file_<process>_<n>``), a `specializationOf` the content entity ``pgid:file_sha256_<hex>`` that equal bytes
share, ``wasGeneratedBy`` the activity that was current when the watch started (the run, or the enclosing task),
with ``pg:event`` ``created`` or ``modified`` and the path relative to the watched folder as ``prov:role``; a
modification is also ``wasRevisionOf`` the previous generation; a deletion ``wasInvalidatedBy`` the same activity.
A later task reading the file with `capture.file` in this process uses the generation, continuing the lineage.

Events are coalesced per path: a file is hashed once it has been quiet for ``settle_s`` (a tool writing in many
small chunks costs one hash), and `FolderWatch.stop` compares the folders with what was recorded, so a change the
operating system reported late, or not at all, is still recorded. ``watchdog`` is imported by `FolderWatch.start`.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from capture import wire
from capture.adapters._emit import (
    FileEntity,
    Position,
    current_position,
    emit,
    enabled,
    file_content,
    file_copy,
    file_entity,
    file_generated,
    iso,
)

__all__ = ["Change", "FolderWatch", "watch"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change: ``event`` is ``created``, ``modified`` or ``deleted``; ``entity_id`` the content's
    entity (for a deletion, the content that was deleted)."""

    event: str
    path: str
    entity_id: str


@dataclass(slots=True)
class _Known:
    entity: FileEntity  # a generation recorded by the watch, or (snapshot) what a read of the file refers to
    size: int
    mtime_ns: int
    generated: bool  # whether the watch recorded the generation (else a deletion invalidates a copy of it)


def _stat(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


class FolderWatch:
    """Watches folders during a run and records every file change as PROV (see the module docstring).

    A context manager, or `start`/`stop`. Build one with `capture.watch`.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        recursive: bool = True,
        patterns: Iterable[str] | None = None,
        ignore_patterns: Iterable[str] | None = None,
        snapshot: bool = True,
        settle_s: float = 0.2,
    ) -> None:
        if not paths:
            raise ValueError("capture.watch needs at least one folder")
        self.roots = [os.path.abspath(os.fspath(p)) for p in paths]
        for root in self.roots:
            if not os.path.isdir(root):
                raise ValueError(f"capture.watch: {root} is not a folder")
        self.recursive = recursive
        self.patterns = tuple(patterns) if patterns else ("*",)
        self.ignore_patterns = tuple(ignore_patterns or ())
        self.snapshot = snapshot
        self.settle_s = float(settle_s)
        self.changes: list[Change] = []
        """Every change recorded so far, in order."""
        self._known: dict[str, _Known] = {}
        self._pending: dict[str, tuple[float, str]] = {}  # path -> (time of last event, first event kind)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._observer: Any = None
        self._worker: threading.Thread | None = None
        self._position: Position | None = None

    # --- what is watched -----------------------------------------------------------------------------------------

    def _root_of(self, path: str) -> str | None:
        for root in self.roots:
            if path == root or path.startswith(root + os.sep):
                if not self.recursive and os.path.dirname(path) != root:
                    return None
                return root
        return None

    def _wanted(self, path: str) -> bool:
        if self._root_of(path) is None:
            return False
        name = os.path.basename(path)
        if not any(fnmatch.fnmatch(name, p) for p in self.patterns):
            return False
        return not any(fnmatch.fnmatch(name, p) for p in self.ignore_patterns)

    def _files_now(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for root in self.roots:
            for folder, dirs, names in os.walk(root):
                if not self.recursive:
                    dirs.clear()
                for name in names:
                    path = os.path.join(folder, name)
                    if self._wanted(path) and os.path.isfile(path):
                        stat = _stat(path)
                        if stat is not None:
                            found[path] = stat
        return found

    # --- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> FolderWatch:
        """Hash what is there now (if ``snapshot``), then record every change until `stop`."""
        if self._position is not None:
            raise RuntimeError("this watch is already started")
        if not enabled():
            return self
        try:
            from watchdog.events import FileSystemEvent, FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as exc:
            raise ImportError(
                "capture.watch needs watchdog: pip install 'provgraph[adapters]' (or pip install watchdog)"
            ) from exc
        self._position = current_position()
        if self.snapshot:
            for path, (size, mtime_ns) in self._files_now().items():
                entity = file_entity(path)
                if entity is not None:
                    self._known[path] = _Known(entity, size, mtime_ns, generated=False)

        watch = self

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory:
                    return
                kind = event.event_type
                if kind == "moved":
                    watch._note(os.fsdecode(event.src_path), "deleted")
                    watch._note(os.fsdecode(event.dest_path), "created")
                elif kind in ("created", "modified", "deleted", "closed"):
                    watch._note(os.fsdecode(event.src_path), kind)

        observer = Observer()
        for root in self.roots:
            observer.schedule(_Handler(), root, recursive=self.recursive)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._worker = threading.Thread(target=self._settle_loop, name="provgraph-watch", daemon=True)
        self._worker.start()
        return self

    def stop(self) -> list[Change]:
        """Stop watching, record what is still pending and anything the folders show that no event reported;
        return every change recorded."""
        if self._position is None:
            return self.changes
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=30)
        with self._lock:
            pending = dict(self._pending)
            self._pending.clear()
        now = self._files_now()
        for path in sorted(set(now) | set(self._known) | set(pending)):
            known = self._known.get(path)
            current = now.get(path)
            if path in pending or known is None or current != (known.size, known.mtime_ns):
                when, first = pending.get(path, (time.time(), "created" if known is None else "modified"))
                self._record(path, first, when)
        self._position = None
        return self.changes

    def __enter__(self) -> FolderWatch:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- events --------------------------------------------------------------------------------------------------

    def _note(self, path: str, kind: str) -> None:
        if not self._wanted(path):
            return
        with self._lock:
            first = self._pending.get(path, (0.0, kind))[1]
            self._pending[path] = (time.time(), first)
        self._wake.set()

    def _settle_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.settle_s / 2 if self._pending else None)
            self._wake.clear()
            if self._stopping.is_set():
                return
            quiet_since = time.time() - self.settle_s
            with self._lock:
                ready = [(p, v) for p, v in self._pending.items() if v[0] <= quiet_since]
                for path, _ in ready:
                    del self._pending[path]
            for path, (when, first) in ready:
                try:
                    self._record(path, first, when)
                except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the watch
                    logger.error("provgraph capture.watch could not record %s: %s", path, exc)

    def _record(self, path: str, first_event: str, when: float) -> None:
        position = self._position
        if position is None:
            return
        root = self._root_of(path) or os.path.dirname(path)
        role = os.path.relpath(path, root)
        known = self._known.get(path)
        stat = _stat(path) if os.path.isfile(path) else None
        records: list[dict[str, Any]] = []
        if stat is None:
            if known is None:
                return  # created and deleted between two looks, or never readable: nothing to describe
            del self._known[path]
            # the generation the watch recorded, or a copy of the content it saw: never the shared content entity
            gone = known.entity if known.generated else file_copy(known.entity)
            records.extend(gone.records)
            records.append(
                wire.relation(
                    "wasInvalidatedBy",
                    attrs=[("prov:role", role), ("pg:event", "deleted")],
                    entity=gone.id,
                    activity=position.parent_id,
                    time=iso(when),
                )
            )
            self.changes.append(Change("deleted", path, gone.id))
            emit(position.run_id, records)
            return
        current = file_content(path)
        if current is None:
            logger.warning("provgraph capture.watch: %s changed but cannot be read; not recorded", path)
            return
        if known is not None and known.entity.sha256 == current.sha256:
            known.size, known.mtime_ns = stat  # touched, or written back unchanged: the same content
            return
        entity = file_generated(current)  # each generation its own entity, specialising the content entity
        if entity is None:
            logger.warning("provgraph capture.watch: %s changed but cannot be read; not recorded", path)
            return
        if known is not None:
            event = "modified"
        else:  # without a snapshot, a first "modified" is a file that existed before the watch
            event = "modified" if first_event == "modified" and not self.snapshot else "created"
        records.extend(entity.records)
        records.append(
            wire.relation(
                "wasGeneratedBy",
                attrs=[("prov:role", role), ("pg:event", event)],
                entity=entity.id,
                activity=position.parent_id,
                time=iso(when),
            )
        )
        if known is not None:
            records.extend(known.entity.records)
            records.append(
                wire.relation(
                    "wasRevisionOf",
                    generatedEntity=entity.id,
                    usedEntity=known.entity.id,
                    activity=position.parent_id,
                )
            )
        self._known[path] = _Known(entity, stat[0], stat[1], generated=True)
        self.changes.append(Change(event, path, entity.id))
        emit(position.run_id, records)


def watch(
    *paths: str | os.PathLike[str],
    recursive: bool = True,
    patterns: Iterable[str] | None = None,
    ignore_patterns: Iterable[str] | None = None,
    snapshot: bool = True,
    settle_s: float = 0.2,
) -> FolderWatch:
    """Record files created, modified and deleted in ``paths`` (folders) while the watch runs, as entities of the
    current run (or task) identified by their content hash; a context manager (or `FolderWatch.start`/``stop``).

    Args:
        paths: folders to watch.
        recursive: watch sub-folders too (default).
        patterns, ignore_patterns: shell patterns on file names (``"*.csv"``) to keep / to leave out.
        snapshot: hash the files present at start, so a later modification is a revision of that content and a
            deletion names what was deleted (default). Without it, start is instant and files present before are
            recorded only when they change.
        settle_s: a file is hashed once no event touched it for this long (coalesces a tool's many writes).

    Example::

        with capture.Workflow("pipeline"):
            with capture.watch("results", patterns=["*.csv"]) as watch:
                subprocess.run(["./simulate", "results"], check=True)
        print(watch.changes)    # [Change(event='created', path='.../results/out.csv', entity_id='pgid:file_...')]
    """
    return FolderWatch(
        paths,
        recursive=recursive,
        patterns=patterns,
        ignore_patterns=ignore_patterns,
        snapshot=snapshot,
        settle_s=settle_s,
    )
