"""Turn Python values into PROV entity attributes, safely and without copying large data.

Runs on the emitter thread (from ``to_records``), never on the user's hot path, except `file` which hashes a file
the user explicitly marked. Rules, in order:

- ``bool``/``int``/``str``/finite ``float``: ``prov:value`` as is (huge ints and long strings are summarised).
- ``None``, NaN and infinities: a typed literal (``xsd:double``) or ``pg:repr``.
- `FileRef` (from `file`): a ``pg:File`` entity; each generation of a file is its own entity, a
  `specializationOf` the content entity identified by the SHA-256 (see `file_generation`, `file_read`).
- ``bytes``: size and SHA-256, never the bytes themselves.
- arrays and tensors (anything with ``shape`` and ``dtype``): shape, dtype, device; never the data.
- small JSON-safe lists, tuples and dicts: ``pg:json`` (compact JSON text) plus ``pg:length``;
  large ones: ``pg:length``, a fingerprint of a bounded sample and the first items.
- objects with ``to_dict()`` or a ``__dict__``: that mapping, made safe the same way.
- anything else: a type-and-identity placeholder ``pg:repr = "<module.Class #0x7f...>"``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from capture import _redaction, wire
from capture._redaction import Redactor

__all__ = [
    "MAX_JSON_CHARS",
    "FileRef",
    "content_entity_id",
    "content_records",
    "file",
    "file_attrs",
    "file_entity_id",
    "file_generation",
    "file_read",
    "model_attrs",
    "user_attrs",
    "value_attrs",
]

MAX_JSON_CHARS = 2048
"""Longest JSON text or string kept whole in a value attribute; longer ones are summarised."""

_MAX_ITEMS = 64
_SAMPLE_ITEMS = 8
_MAX_INT = 2**63 - 1
_HASH_CHUNK = 1 << 20
_MIN_SCANNED_KEY = 16
"""Dict keys this long are scanned for credentials too (shorter ones hold no known format)."""
_HEAD_WINDOW = 1024
"""Characters of a long string scrubbed before its 256-character head is cut from them."""


class FileRef(str):
    """A path marked as a file: a ``str`` (usable with ``open``) recorded as a file entity (see `file`).

    Build one with `capture.file`. The SHA-256 is taken when the marker is created if the file exists then
    (mark an input before the task changes it, an output after writing it); otherwise when the record is built.
    """

    __slots__ = ("_sha256", "_size", "attrs")

    _sha256: str | None
    _size: int | None
    attrs: tuple[tuple[str, Any], ...]
    """The attributes and types the user gave (`user_attrs`), recorded on the file's entity."""

    def __new__(
        cls,
        path: str | os.PathLike[str],
        attributes: Mapping[str, Any] | None = None,
        types: str | Iterable[str] = (),
    ) -> FileRef:
        ref = super().__new__(cls, os.fspath(path))
        ref._sha256 = None
        ref._size = None
        ref.attrs = user_attrs(attributes, types, _FILE_OWN) if attributes or types else ()
        if os.path.isfile(ref):
            ref._hash()
        return ref

    def _hash(self) -> None:
        digest = hashlib.sha256()
        size = 0
        with open(self, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        self._sha256 = digest.hexdigest()
        self._size = size

    @property
    def sha256(self) -> str | None:
        """Hex SHA-256 of the content (``None`` if the file did not exist when asked)."""
        if self._sha256 is None and os.path.isfile(self):
            self._hash()
        return self._sha256

    @property
    def size(self) -> int | None:
        """Size in bytes, known once hashed."""
        return self._size


def file(
    path: str | os.PathLike[str],
    *,
    attributes: Mapping[str, Any] | None = None,
    types: str | Iterable[str] = (),
) -> FileRef:
    """Mark a path (task argument or return value) as a file entity.

    Returned by a task (written): a new entity for this generation, ``pgid:file_<task>_o<N>``, `specializationOf`
    the content entity ``pgid:file_sha256_<hex>`` that every file with the same bytes specialises (no entity is
    generated twice, even when a rerun writes identical bytes). Passed to a task (read): the entity of the
    generation that wrote these bytes at this path earlier in this process, else the content entity.

    Args:
        path: the file.
        attributes: more attributes of the file's entity (``{"instrument": "UV-3", "max": 4095}``): a plain name
            is recorded in provgraph's namespace (``pg:instrument``, graph property ``instrument``), ``prov:label``
            and ``prov:location`` as they are; values are ``str``, ``int``, ``float``, ``bool``, ``datetime``,
            ``date``, or a list of them (a repeated attribute).
        types: extra ``prov:type`` values (``"Image"`` is ``pg:Image``; ``prov:...`` and ``pg:...`` names as given).

    Example::

        @capture.task(output_names="table")
        def clean(source):
            ...
            return capture.file("clean.csv", attributes={"rows": 120}, types="Table")

        clean(capture.file("raw.csv"))
    """
    return FileRef(path, attributes, types)


# --- user attributes and types ------------------------------------------------------------------------------------

_LOCAL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,199}")
_PROV_ATTRIBUTES = frozenset({"prov:label", "prov:location"})
_FILE_OWN = frozenset({"path", "name", "sha256", "size"})
"""capture's own attributes of a file entity: a user attribute of the same name is refused."""


def _qualified(name: str, what: str) -> str:
    if ":" in name:
        prefix, _, local = name.partition(":")
        if prefix in ("pg", "prov") and _LOCAL_NAME.fullmatch(local):
            return name
        raise ValueError(
            f"capture: {what} {name!r}: capture declares no namespace {prefix!r}; use a plain name "
            "(recorded as pg:NAME) or a prov:/pg: name"
        )
    if not _LOCAL_NAME.fullmatch(name):
        raise ValueError(
            f"capture: {what} {name!r} is not a name (letters, digits, _ . -; a letter or _ first)"
        )
    return f"pg:{name}"


def _attribute_value(value: Any, name: str) -> Any:
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        return value if -(2**63) < value < 2**63 else wire.typed_literal(str(value), "xsd:integer")
    if kind is float:
        if math.isfinite(value):
            return value
        return wire.typed_literal(
            "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF"), "xsd:double"
        )
    if isinstance(value, _dt.datetime):  # a naive time is local time: it gets this machine's offset
        moment = value if value.tzinfo is not None else value.astimezone()
        return wire.typed_literal(moment.isoformat(), "xsd:dateTime")
    if isinstance(value, _dt.date):
        return wire.typed_literal(value.isoformat(), "xsd:date")
    raise TypeError(
        f"capture: attribute {name!r}: {kind.__qualname__} is not an attribute value "
        "(str, int, float, bool, datetime, date, or a list of them)"
    )


def user_attrs(
    attributes: Mapping[str, Any] | None, types: str | Iterable[str], own: frozenset[str] = frozenset()
) -> tuple[tuple[str, Any], ...]:
    """The (name, value) pairs of attributes and ``prov:type`` values a user gives a file or a task, checked now
    (a wrong name or value raises where it was written, not later on the emitter thread).

    Raises:
        ValueError: a name that is not a name, has an undeclared prefix, or is one of capture's own (``own``).
        TypeError: a value that is not an attribute value.
    """
    pairs: list[tuple[str, Any]] = []
    for type_name in (types,) if isinstance(types, str) else types:
        if not isinstance(type_name, str):
            raise TypeError(f"capture: a prov:type is a name, not {type(type_name).__qualname__}")
        pairs.append(("prov:type", wire.qualified_name(_qualified(type_name, "type"))))
    for name, value in (attributes or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"capture: attribute names are str, not {type(name).__qualname__}")
        qualified = _qualified(name, "attribute")
        if qualified == "prov:type":
            raise ValueError("capture: give prov:type values with types=..., not as an attribute")
        if qualified.startswith("prov:") and qualified not in _PROV_ATTRIBUTES:
            raise ValueError(f"capture: attribute {name!r}: only prov:label and prov:location can be given")
        if qualified[3:] in own and qualified.startswith("pg:"):
            raise ValueError(f"capture: attribute {name!r} is one capture records itself")
        for item in value if isinstance(value, list | tuple) else (value,):
            pairs.append((qualified, _attribute_value(item, name)))
    return tuple(pairs)


# --- file entities ------------------------------------------------------------------------------------------------

_QN_FILE = wire.qualified_name("pg:File")
_QN_CONTENT = wire.qualified_name("pg:FileContent")
_MAX_GENERATIONS = 100_000
_generations: dict[tuple[str, str], str] = {}
"""(absolute path, SHA-256) -> the entity of the latest generation in this process that wrote those bytes there, so
a later read of the file links to it (oldest forgotten first past `_MAX_GENERATIONS`)."""


def content_entity_id(sha256: str) -> str:
    """``pgid:file_sha256_<hex>``: the entity of a content, which every generation of those bytes specialises."""
    return f"pgid:file_sha256_{sha256}"


def file_entity_id(ref: FileRef) -> str | None:
    """The entity a read of the file refers to now: the latest generation of these bytes at this path in this
    process, else the content entity; ``None`` if the file cannot be read."""
    sha = _readable_sha(ref)
    if sha is None:
        return None
    return _generations.get((os.path.abspath(ref), sha)) or content_entity_id(sha)


def _readable_sha(ref: FileRef) -> str | None:
    """The file's SHA-256, or ``None`` if it cannot be read (missing, or an error while hashing)."""
    try:
        return ref.sha256 or None
    except OSError:
        return None


def file_attrs(ref: FileRef, scrub: Any = None) -> list[tuple[str, Any]]:
    """Attributes of a file entity: its type, path, name (the last part of the path: what a person recognises it
    by, e.g. in Neo4j Browser's captions, where paths all start alike), content hash, size, and the user's
    attributes (path, name and text scrubbed by ``scrub`` when given)."""
    path = os.path.abspath(ref)
    name = os.path.basename(path)
    if scrub is not None:  # a token in a file's name or path is redacted like any text
        path, name = scrub(path), scrub(name)
    attrs: list[tuple[str, Any]] = [
        ("prov:type", _QN_FILE),
        ("pg:path", path),
        ("pg:name", name),
    ]
    if ref.sha256:
        attrs.append(("pg:sha256", ref.sha256))
    if ref.size is not None:
        attrs.append(("pg:size", ref.size))
    for name, value in ref.attrs:
        attrs.append((name, scrub(value) if scrub is not None and type(value) is str else value))
    return attrs


def file_read(ref: FileRef, scrub: Any = None) -> tuple[str, list[dict[str, Any]]] | None:
    """The entity a read of the file uses (`file_entity_id`) and the records declaring it (none for a generation
    when the read adds no attributes), or ``None`` if the file cannot be read."""
    entity_id = file_entity_id(ref)
    if entity_id is None:
        return None
    if not ref.attrs and not entity_id.startswith("pgid:file_sha256_"):
        return (
            entity_id,
            [],
        )  # a generation, declared where it was generated (declaring it again would replace it)
    return entity_id, [wire.element("entity", entity_id, file_attrs(ref, scrub))]


def file_generation(ref: FileRef, entity_id: str, scrub: Any = None) -> list[dict[str, Any]] | None:
    """The records of one generation of the file as ``entity_id`` (its entity, `specializationOf` the content
    entity, and that content entity), remembered so a later read in this process links to it; ``None`` if the file
    cannot be read. The caller adds the ``wasGeneratedBy``."""
    sha = _readable_sha(ref)
    if sha is None:
        return None
    key = (os.path.abspath(ref), sha)
    _generations.pop(key, None)  # re-inserted last: the dict's order is the forgetting order
    _generations[key] = entity_id
    if len(_generations) > _MAX_GENERATIONS:
        del _generations[next(iter(_generations))]
    return [
        wire.element("entity", entity_id, file_attrs(ref, scrub)),
        *content_records(entity_id, sha, ref.size),
    ]


def content_records(specific_id: str, sha256: str, size: int | None) -> list[dict[str, Any]]:
    """The content entity of some bytes (``pgid:file_sha256_<hex>``, `pg:File` and `pg:FileContent`) and the
    `specializationOf` linking ``specific_id`` (a generation, a copy) to it: how equal content is linked."""
    content_id = content_entity_id(sha256)
    attrs: list[tuple[str, Any]] = [
        ("prov:type", _QN_FILE),
        ("prov:type", _QN_CONTENT),
        ("pg:sha256", sha256),
    ]
    if size is not None:
        attrs.append(("pg:size", size))
    return [
        wire.element("entity", content_id, attrs),
        wire.relation("specializationOf", specificEntity=specific_id, generalEntity=content_id),
    ]


def model_attrs(model: Any) -> list[tuple[str, Any]]:
    """Attributes of a model entity (see `capture.instrument_model`): class, parameter count (if it has
    ``parameters()``), training flag; torch is never imported."""
    cls = type(model)
    attrs: list[tuple[str, Any]] = [
        ("prov:type", wire.qualified_name("pg:Model")),
        ("pg:class", f"{cls.__module__}.{cls.__qualname__}"),
    ]
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        try:
            attrs.append(("pg:parameters", int(sum(p.numel() for p in parameters()))))
        except Exception:  # noqa: BLE001 - not torch-like after all
            pass
    training = getattr(model, "training", None)
    if isinstance(training, bool):
        attrs.append(("pg:training", training))
    return attrs


def _fingerprint(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=12).hexdigest()


def _placeholder(value: Any) -> str:
    cls = type(value)
    return f"<{cls.__module__}.{cls.__qualname__} #{id(value):#x}>"


def _is_json_scalar(value: Any) -> bool:
    return value is None or type(value) in (bool, int, str) or (type(value) is float and math.isfinite(value))


def _jsonable(value: Any, redactor: Redactor, depth: int = 0) -> Any:
    """A JSON-safe, redacted version of a small structure, or raise ``ValueError`` if it is not small or not safe.

    Redaction rides on this one walk (docs/security.md): a value under a secret-named key becomes a marker, text is
    scanned for credentials; nothing of a structure is walked twice.
    """
    kind = type(value)
    if kind is str:
        return redactor.scrub(value)
    if _is_json_scalar(value):
        if kind is int and not -_MAX_INT <= value <= _MAX_INT:
            return str(value)
        return value
    if depth > 4:
        raise ValueError("too deep")
    if isinstance(value, list | tuple):
        if len(value) > _MAX_ITEMS:
            raise ValueError("too long")
        fields = getattr(kind, "_fields", None)
        if fields is not None:  # a named tuple stays a list; a field with a secret name is redacted
            return [
                redactor.marker(item, field)
                if redactor.secret_name(field)
                else _jsonable(item, redactor, depth + 1)
                for field, item in zip(fields, value, strict=False)
            ]
        return [_jsonable(item, redactor, depth + 1) for item in value]
    if isinstance(value, dict):
        if len(value) > _MAX_ITEMS:
            raise ValueError("too long")
        if depth and redactor.is_environment(value):  # the top level was tested by value_attrs
            return redactor.marker(value, "environment")
        secret_name = redactor.secret_name
        out = {}
        for key, item in value.items():
            text = key if type(key) is str else str(key)
            if secret_name(text):
                out[text] = redactor.marker(item, text)
                continue
            if len(text) >= _MIN_SCANNED_KEY:
                text = redactor.scrub(text)
            out[text] = _jsonable(item, redactor, depth + 1)
        return out
    raise ValueError("not JSON")


def _as_mapping(value: Any) -> dict[str, Any] | None:
    to_dict = getattr(type(value), "to_dict", None)
    if callable(to_dict):
        try:
            mapping = value.to_dict()
        except Exception:  # noqa: BLE001 - a user's to_dict failing must not break capture
            return None
        return mapping if isinstance(mapping, dict) else None
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict) and not callable(value):
        return {key: item for key, item in attributes.items() if not key.startswith("_")}
    return None


def _summarise_sequence(value: Any, redactor: Redactor) -> list[tuple[str, Any]]:
    length = len(value)
    attrs: list[tuple[str, Any]] = [("pg:length", length)]
    if isinstance(value, dict):
        sample = list(value.items())[:_SAMPLE_ITEMS]
        secret_name = redactor.secret_name
        head = [
            [str(k), redactor.marker(v, k) if type(k) is str and secret_name(k) else v] for k, v in sample
        ]
    else:
        head = list(value[:_SAMPLE_ITEMS]) if isinstance(value, list | tuple) else []
    try:
        head_json = json.dumps(_jsonable(head, redactor), separators=(",", ":"))
    except (ValueError, TypeError):
        head_json = json.dumps([_placeholder(item) for item in head])
    attrs.append(("pg:head", head_json[:MAX_JSON_CHARS]))
    # A fingerprint of a bounded sample (first, middle and last items plus the length) keeps this O(1) in size.
    if isinstance(value, list | tuple) and length:
        picks = [*value[:16], *value[length // 2 : length // 2 + 16], *value[-16:]]
        attrs.append(("pg:fingerprint", _fingerprint(f"{length}|{picks!r}")))
    return attrs


def value_attrs(value: Any, redactor: Redactor | None = None) -> list[tuple[str, Any]]:
    """PROV attributes describing ``value`` (``prov:value``, ``pg:python_type``, summaries...), secrets redacted
    by ``redactor`` (default: the process's, `capture._redaction.active`).

    A value that cannot be described (its ``__len__``, ``__iter__``, ``__repr__``, ``items`` or attributes raise,
    or it nests past the interpreter's recursion limit) is the type-and-identity placeholder ``pg:repr``: it costs
    only its own description, never the record of the call that used it."""
    if redactor is None:
        redactor = _redaction.active()
    try:
        return _value_attrs(value, redactor)
    except Exception:  # noqa: BLE001 - any user code may run here (repr, len, iter, properties)
        return [("pg:python_type", type(value).__qualname__), ("pg:repr", _placeholder(value))]


def _value_attrs(value: Any, redactor: Redactor) -> list[tuple[str, Any]]:
    kind = type(value)
    attrs: list[tuple[str, Any]] = [("pg:python_type", kind.__qualname__)]
    if kind is bool or kind is int:
        if -_MAX_INT <= value <= _MAX_INT:
            attrs.append(("prov:value", value))
        else:
            attrs.append(("prov:value", wire.typed_literal(str(value), "xsd:integer")))
        return attrs
    if kind is float:
        if math.isfinite(value):
            attrs.append(("prov:value", value))
        else:
            lexical = "NaN" if math.isnan(value) else ("INF" if value > 0 else "-INF")
            attrs.append(("prov:value", wire.typed_literal(lexical, "xsd:double")))
        return attrs
    if kind is str:
        if len(value) <= MAX_JSON_CHARS:
            attrs.append(("prov:value", redactor.scrub(value)))
        else:  # the head is cut from a scrubbed window, so a secret across the cut is still found whole
            attrs += [
                ("pg:length", len(value)),
                ("pg:head", redactor.scrub(value[:_HEAD_WINDOW])[:256]),
                ("pg:fingerprint", _fingerprint(value)),
            ]
        return attrs
    if value is None:
        attrs.append(("pg:repr", "None"))
        return attrs
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        attrs += [("pg:size", len(data)), ("pg:sha256", hashlib.sha256(data).hexdigest())]
        return attrs
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        try:
            attrs.append(("pg:shape", json.dumps([int(x) for x in shape], separators=(",", ":"))))
        except (TypeError, ValueError):
            attrs.append(("pg:shape", str(shape)))
        attrs.append(("pg:dtype", str(value.dtype)))
        device = getattr(value, "device", None)
        if device is not None:
            attrs.append(("pg:device", str(device)))
        return attrs
    if (kind is dict or (kind is not list and kind is not tuple and isinstance(value, Mapping))) and (
        redactor.is_environment(value)
    ):  # the process environment (or most of it): recorded as redacted, never copied
        attrs += [("pg:redacted", True), ("prov:value", redactor.marker(dict(value), "environment"))]
        return attrs
    if isinstance(value, list | tuple | dict | set | frozenset):
        container = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        try:
            text = json.dumps(_jsonable(container, redactor), separators=(",", ":"))
        except (ValueError, TypeError):
            text = None
        if text is not None and len(text) <= MAX_JSON_CHARS:
            attrs += [("pg:json", text), ("pg:length", len(value))]
        else:
            attrs += _summarise_sequence(container, redactor)
        return attrs
    if getattr(value, "__provgraph_model__", False):
        return attrs + model_attrs(value)
    mapping = _as_mapping(value)
    if mapping is not None:
        try:
            text = json.dumps(_jsonable(mapping, redactor), separators=(",", ":"))
        except (ValueError, TypeError):
            safe = {
                str(k): redactor.redact(v, str(k)) if _is_json_scalar(v) else _placeholder(v)
                for k, v in list(mapping.items())[:_MAX_ITEMS]
            }
            text = json.dumps(safe, separators=(",", ":"), default=str)
        attrs.append(("pg:json", text[:MAX_JSON_CHARS]))
    attrs.append(("pg:repr", _placeholder(value)))
    return attrs
