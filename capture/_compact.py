"""Tasks as compact events (wire version 2, `capture.wire`): the emitter's cheap path.

An activity whose records follow the task shape (activity, start, input entities and usages, output entities,
generations and derivations) is sent as an event bound to a template instead of as records. Everything that
decides *what* is recorded still happens here, in the producer, exactly as for records: lineage by identity
(`capture._lineage`), value description (`capture._values`) and redaction (`capture._redaction`), so no secret is
ever on the stream. Only the formatting of ids and times and the building of the record objects move to the
reader, which expands each event into the records `capture._records.activity_records` would have built.

The work per task is what a flat event costs: a template looked up by key (built, checked against the wire limits
and numbered once per key and process), and each input and output described as a scalar binding (``int``,
``float``, ``bool``, short ``str``: the value itself) or by its attributes (any other value). `add_scalar_task`
writes the commonest shape out in one function; `add_activity` handles any task-shaped activity; activities with
files, agents or telemetry stay records (`capture._records`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from capture import _ids, wire
from capture._redaction import Redactor
from capture._values import MAX_JSON_CHARS, value_attrs

__all__ = [
    "SCANNED_ROLE",
    "TEMPLATES",
    "add_activity",
    "add_scalar_task",
    "describe",
    "role_text",
    "template_number",
]

_MAX_INT = 2**63 - 1
_SCALAR, _DESCRIBED, _KNOWN = wire.SCALAR, wire.DESCRIBED, wire.KNOWN

utc_offsets = _ids.utc_offsets
current_prefix = _ids.current_prefix

# Types `Lineage.register_input` never registers: no entity id needs formatting for them.
_NOT_REGISTERED_AS_INPUT = frozenset({int, float, str, bytes, bool, type(None), tuple})

TEMPLATES: list[dict[str, Any]] = []
"""Template bodies of this process, by number (numbers are only ever meaningful within one message)."""
_NUMBERS: dict[Any, int | None] = {}
"""Template key -> its number, or ``None`` when its records break a wire limit (then its activities are sent as
records, which the emitter checks and dead-letters one by one, as for any record)."""
_LOCK = threading.Lock()


def template_number(key: Any, build: Callable[..., dict[str, Any]], *args: Any) -> int | None:
    """The number of the template ``key`` names, building it with ``build(*args)`` the first time."""
    number = _NUMBERS.get(key, -1)
    if number != -1:
        return number
    with _LOCK:
        if key in _NUMBERS:
            return _NUMBERS[key]
        body = build(*args)
        number = len(TEMPLATES) if _template_fits(body) else None
        if number is not None:
            TEMPLATES.append(body)
        _NUMBERS[key] = number
        return number


def _template_fits(body: dict[str, Any]) -> bool:
    """Whether the records of a task bound to this template pass the wire checks (its fixed parts do not change)."""
    sample: list[Any] = [0, 1, None, 0, 1, 0, "FINISHED", None, [], []]  # an event as a reader decodes it
    slots = sum(1 for pair in body.get("x", ()) if len(pair) == 1)
    if slots:
        sample.append([0] * slots)
    raw = {"doc": "pgid:run_check", "p": "0", "tpl": {"0": body}}
    try:
        records, faults = wire.expand_events(raw, [sample])
        if faults:
            return False
        for record in records:
            wire.validate_record(record)
        wire.encode_compact_message("pgid:run_check", [sample], {0: body}, prefix="0")
    except wire.WireFormatError:
        return False
    return True


def describe(value: Any, role: str, secret: bool, redactor: Redactor) -> tuple[Any, ...]:
    """The binding of a new entity for ``value``: the attributes `capture._records` gives it, as a scalar binding
    where the value itself says it all.

    Events and bindings are tuples (JSON arrays on the wire; records are dicts): the garbage collector stops
    tracking a tuple of plain values the first time it sees one, so a batch of events the emitter holds until it is
    sent does not make later collections, on the user's threads too, scan it again."""
    kind = type(value)
    if secret:  # the value's shape (type, length, salted hash), never the value (docs/security.md)
        return (
            _DESCRIBED,
            role,
            [
                ["pg:redacted", True],
                ["pg:python_type", kind.__qualname__],
                ["prov:value", redactor.marker(value, role)],
            ],
        )
    if kind is int:
        if -_MAX_INT <= value <= _MAX_INT:
            return (_SCALAR, role, value)
    elif kind is float:
        if value - value == 0.0:  # finite
            return (_SCALAR, role, value)
    elif kind is str:
        if len(value) <= MAX_JSON_CHARS:
            return (_SCALAR, role, redactor.scrub(value))
    elif kind is bool:
        return (_SCALAR, role, value)
    return (_DESCRIBED, role, [[name, item] for name, item in value_attrs(value, redactor)])


def add_activity(
    entries: list[Any],
    weights: list[int],
    template: int,
    run: Any,
    number: int,
    parent: int | str | None,
    start_ns: int,
    end_ns: int | None,
    status: str,
    error: str | None,
    inputs: Sequence[tuple[str, Any]],
    outputs: Sequence[tuple[str, Any]],
    whole_result: Any,
    slots: list[Any] | None,
    redactor: Redactor,
) -> None:
    """Append the event of one activity to ``entries`` (and the number of records it stands for to ``weights``),
    resolving its lineage as `capture._records.activity_records` does, in the same order.

    This runs once per task on the emitter thread, so the common cases are written out inline (positional
    arguments, scalar bindings built here rather than through `describe`)."""
    first, prefix = current_prefix()
    if number >= first:
        task: int | str = number
        base = f"pgid:val_{prefix}_{number}"
    else:  # minted before a fork, under an earlier prefix
        task = _ids.task_id(number)
        base = _ids.value_base(number)
    lineage = run.lineage
    lookup = lineage.lookup
    secret_name = redactor.secret_name
    bound_inputs: list[Any] = []
    used = 0
    new = 0
    index = 0
    for role, value in inputs:
        if type(role) is not str:  # a dict key or `end_iter` key that is not text: its str, as a name
            role = role_text(role)
        secret = secret_name(role)
        if len(role) >= SCANNED_ROLE:  # a key or keyword argument may be a token itself: scanned like text
            role = redactor.scrub(role)
        if secret:
            bound_inputs.append(describe(value, role, True, redactor))
            new += 1
            used += 1
        else:
            known = lookup(value)
            if known is None:
                kind = type(value)
                if kind is int and -_MAX_INT <= value <= _MAX_INT:
                    bound_inputs.append((_SCALAR, role, value))
                else:
                    bound_inputs.append(describe(value, role, False, redactor))
                    if kind not in _NOT_REGISTERED_AS_INPUT:
                        lineage.register_input(value, (f"{base}_i{index}",))
                new += 1
                used += 1
            else:
                bound_inputs.append((_KNOWN, role, known))
                used += len(known)
        index += 1
    bound_outputs: list[Any] = []
    generated: list[str] = []
    register_output = lineage.register_output
    index = 0
    for role, value in outputs:
        entity_id = f"{base}_o{index}"
        generated.append(entity_id)
        if type(role) is not str:
            role = role_text(role)
        secret = secret_name(role)
        if len(role) >= SCANNED_ROLE:
            role = redactor.scrub(role)
        if secret:
            bound_outputs.append(describe(value, role, True, redactor))
        else:
            if type(value) is int and -_MAX_INT <= value <= _MAX_INT:
                bound_outputs.append((_SCALAR, role, value))
            else:
                bound_outputs.append(describe(value, role, False, redactor))
            register_output(value, (entity_id,))
        index += 1
    if whole_result is not None and index > 1:
        register_output(whole_result, tuple(generated))
    if type(parent) is int and parent < first:
        parent = _ids.task_id(parent)
    # times are written at the producer's local UTC offset(s)
    event: tuple[Any, ...] = (
        template,
        task,
        parent,
        start_ns,
        end_ns,
        utc_offsets(start_ns, end_ns),
        status,
        error,
        tuple(bound_inputs),
        tuple(bound_outputs),
    )
    if slots is not None:
        event += (tuple(slots),)
    entries.append(event)
    # activity + start, each new input entity and each usage, each output's entity, generation and derivations
    weights.append(2 + new + used + index * (2 + used))


SCANNED_ROLE = 16
"""Roles (keyword argument names, keys of a returned dict or of ``end_iter`` values, ``item_name``) this long are
scanned for credentials like dict keys inside values (shorter ones hold no known format)."""


def role_text(role: Any) -> str:
    """A role that is not a ``str`` (``end_iter({1: x})``, ``used={(2, 3): y}``) as text: its ``str``, or its type
    when that fails. Roles are names on the wire (a reader refuses a binding whose role is not text)."""
    try:
        text = str(role)
    except Exception:  # noqa: BLE001 - a key's __str__ may raise
        return f"<{type(role).__qualname__}>"
    return text if type(text) is str else f"<{type(role).__qualname__}>"


_SCALARS = frozenset({int, float, str, bool, type(None)})
"""Values whose description is the value itself (or its summary): no file, no namespace, no mapping inside."""

_MIN_INT = -_MAX_INT
_PREFIXES = _ids.PREFIX_HISTORY
_OFFSET = _ids.OFFSET_SPAN


def add_scalar_task(
    entries: list[Any],
    weights: list[int],
    template: int,
    lineage: Any,
    number: int,
    parent: int | str | None,
    start_ns: int,
    end_ns: int,
    names: tuple[str, ...],
    args: tuple[Any, ...],
    result: Any,
    redactor: Redactor,
    output_role: str = "return",
    status: str = "FINISHED",
    slots: list[Any] | None = None,
) -> bool:
    """`add_activity` for the most common task (or loop iteration), written out in one function: inputs given by
    position (``names``, ``args``), every input and the result a scalar (``int``, ``float``, ``str``, ``bool``,
    ``None``), the result one output named ``output_role``, no secret-named role (the caller checks the names).
    Returns ``False``, having done nothing, for any other task.

    This is most of the emitter's work per task, so it is written for the interpreter: no call it can do without
    (the lineage's scalar tables, the cached UTC offset), one pass over the inputs, tuples only."""
    kind = type(result)
    if kind not in _SCALARS:
        return False
    first, prefix = _PREFIXES[-1]
    if number < first or (parent.__class__ is int and parent < first):
        return False  # minted before a fork: `add_activity` finds their prefixes
    bound_inputs: tuple[Any, ...] = ()
    used = 0
    new = 0
    if args:
        lookup = lineage.lookup
        index = 0
        for value in args:
            value_kind = type(value)
            if value_kind not in _SCALARS:
                return False  # nothing registered yet: no side effect to undo
            known = lookup(value)
            if known is None:
                if value_kind is str:
                    if len(value) <= MAX_JSON_CHARS:
                        binding = (_SCALAR, names[index], redactor.scrub(value))
                    else:
                        binding = describe(value, names[index], False, redactor)
                elif (
                    (value_kind is int and _MIN_INT <= value <= _MAX_INT)
                    or value_kind is bool
                    or (value_kind is float and value - value == 0.0)  # finite
                ):
                    binding = (_SCALAR, names[index], value)
                else:  # a huge int, NaN or an infinity, None: described
                    binding = describe(value, names[index], False, redactor)
                new += 1
                used += 1
            else:
                binding = (_KNOWN, names[index], known)
                used += len(known)
            bound_inputs += (binding,)
            index += 1
    if kind is int and _MIN_INT <= result <= _MAX_INT:
        bound_outputs: tuple[Any, ...] = ((_SCALAR, output_role, result),)
        # held as the task's number; its id, pgid:val_<prefix>_<number>_o0, is formatted if it is ever looked up
        lineage.register_scalar_output(result, number)
        records = 4 + new + 2 * used
    elif result is None:
        bound_outputs = ()
        records = 2 + new + used
    else:
        if kind is bool:
            bound_outputs = ((_SCALAR, output_role, result),)
        elif kind is str and len(result) <= MAX_JSON_CHARS:
            bound_outputs = ((_SCALAR, output_role, redactor.scrub(result)),)
        else:
            bound_outputs = (describe(result, output_role, False, redactor),)
        lineage.register_output(result, (f"pgid:val_{prefix}_{number}_o0",))
        records = 4 + new + 2 * used
    # times are written at the producer's local UTC offset(s)
    cached = _OFFSET[0]
    if cached[0] <= start_ns and end_ns < cached[1]:
        offset: int | list[int] = cached[2]
    else:
        offset = utc_offsets(start_ns, end_ns)
    if slots is None:
        entries.append(
            (template, number, parent, start_ns, end_ns, offset, status, None, bound_inputs, bound_outputs)
        )
    else:
        entries.append(
            (
                template,
                number,
                parent,
                start_ns,
                end_ns,
                offset,
                status,
                None,
                bound_inputs,
                bound_outputs,
                tuple(slots),
            )
        )
    weights.append(records)
    return True
