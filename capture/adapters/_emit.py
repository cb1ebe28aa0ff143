"""The adapters' one seam into capture's runtime: where records go and which activity is current.

Adapters build wire records (`capture.wire`) and hand them to the process emitter through `emit`, in the
document of the run they belong to; everything else they need from capture's internals is named here, so a change
in capture's layers touches this module only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from capture import _context, _handoff, _ids, _redaction
from capture._records import TaskSpec
from capture._tasks import disabled_by_environment, wrap_function
from capture._values import FileRef, content_records, file_generation, file_read

__all__ = [
    "FileEntity",
    "Position",
    "current_position",
    "current_run",
    "mint",
    "task_wrapper",
    "emit",
    "enabled",
    "content_records",
    "file_content",
    "file_copy",
    "file_entity",
    "file_generated",
    "iso",
    "new_activity_id",
    "redactor",
    "scrub_text",
]


def enabled() -> bool:
    """Whether capture is on in this process (settings resolved on first use)."""
    return bool(_context.STATE.on or (not _context.STATE.resolved and _context.resolve()))


class Position:
    """Where an adapter's records go: the run's document and the activity that new activities start from."""

    __slots__ = ("run_id", "parent_id")

    def __init__(self, run_id: str, parent_id: str) -> None:
        self.run_id = run_id
        self.parent_id = parent_id

    def __repr__(self) -> str:
        return f"Position(run_id={self.run_id!r}, parent_id={self.parent_id!r})"


def current_position() -> Position:
    """The current run and activity (the enclosing task, else the run); outside any workflow, the process's
    default run, as for a task called there."""
    context = _context.CURRENT.get() or _handoff.default_context()
    run, parent = context
    return Position(run.id, run.id if parent is None else _ids.task_id(parent))


def current_run() -> Any:
    """The run object (its ``id`` and ``lineage``: the value-to-entity registry of the run) records go to now."""
    context = _context.CURRENT.get() or _handoff.default_context()
    return context[0]


def mint(kind: str) -> str:
    """A new unique id ``pgid:<kind>_<process prefix>_<n>``."""
    return _ids.mint(kind)


def task_wrapper(
    function: Callable[..., Any],
    name: str,
    attrs: Sequence[tuple[str, Any]],
    receiver_role: str | None = None,
) -> Callable[..., Any] | None:
    """``function`` recording each call as a task named ``name`` with ``attrs`` (capture's own task wrapper: nesting,
    inputs, outputs, lineage); ``receiver_role`` records a method's first argument as an input of that name.
    ``None`` when capture is disabled by the environment."""
    if disabled_by_environment():
        return None
    spec = TaskSpec(function, name=name, attrs=attrs)
    if receiver_role and spec.positional and spec.skip_first:
        spec.positional = (receiver_role, *spec.positional[1:])
        spec.skip_first = False
        spec.fast_bind = spec.args_handler is None
    return wrap_function(function, spec)


def new_activity_id() -> str:
    """A fresh task id (``pgid:task_<process prefix>_<n>``), from the same counter as every captured task."""
    return _ids.task_id(next(_ids.COUNTER))


def iso(epoch_s: float | None = None) -> str:
    """xsd:dateTime lexical form of epoch seconds (default: now)."""
    return _ids.iso_from_ns(int(epoch_s * 1e9) if epoch_s is not None else time.time_ns())


class FileEntity(NamedTuple):
    """A file's entity as hashed now: its id, the content's SHA-256 and the records declaring it."""

    id: str
    sha256: str
    records: list[dict[str, Any]]


def file_content(path: str | FileRef) -> FileRef | None:
    """The file marked and hashed now, or ``None`` if it cannot be read."""
    return _hashed(path)


def _hashed(path: str | FileRef) -> FileRef | None:
    try:
        ref = path if type(path) is FileRef else FileRef(path)
        return ref if ref.sha256 else None
    except OSError:
        return None


def file_entity(path: str | FileRef) -> FileEntity | None:
    """The entity a read of the file refers to now (as `capture.file` finds it: the generation that wrote these
    bytes at this path in this process, else the content entity ``pgid:file_sha256_<hex>``), or ``None`` if the
    file cannot be read now. A `FileRef` given is used as hashed already."""
    ref = _hashed(path)
    read = file_read(ref) if ref is not None else None
    if ref is None or read is None:
        return None
    return FileEntity(read[0], ref.sha256 or "", read[1])


def file_generated(path: str | FileRef) -> FileEntity | None:
    """A new entity for a generation of the file as it is now (``pgid:file_<process>_<n>``, `specializationOf` its
    content entity; the caller adds the ``wasGeneratedBy``), or ``None`` if the file cannot be read now."""
    ref = _hashed(path)
    if ref is None:
        return None
    entity_id = _ids.mint("file")
    records = file_generation(ref, entity_id, scrub_text)
    if records is None:
        return None
    return FileEntity(entity_id, ref.sha256 or "", records)


def file_copy(entity: FileEntity) -> FileEntity:
    """A new entity for the copy of a content at one path (``pgid:file_<process>_<n>``, `specializationOf` the
    content entity ``entity`` stands for): what a deletion invalidates when no generation of it is known, never
    the content entity that other runs share."""
    entity_id = _ids.mint("file")
    declaration = [dict(record, id=entity_id) for record in entity.records if record.get("k") == "entity"][:1]
    return FileEntity(
        entity_id,
        entity.sha256,
        [*entity.records, *declaration, *content_records(entity_id, entity.sha256, None)],
    )


def emit(doc: str, records: Any) -> None:
    """Hand records (a list, or an object whose ``to_records()`` builds them on the emitter thread) to the
    process emitter; never raises."""
    _handoff.emit(doc, records)


def redactor() -> Any:
    """The process's secret redactor (capture's one redaction module), configured from capture's settings."""
    return _redaction.active(_context.STATE.settings)


def scrub_text(text: Any) -> str:
    """Text (an error message, a tool's output) with credentials replaced by redaction markers."""
    return str(redactor().scrub(text if isinstance(text, str) else str(text)))
