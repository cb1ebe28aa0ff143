"""Capture items and their expansion into PROV wire records (``to_records`` runs on the emitter thread).

The user's thread builds one item (`TaskItem`, `LightCall`, `IterationItem`, ...: named tuples holding references
to the call's arguments and result, nothing copied or formatted); the emitter calls ``to_records()`` later, in
emission order, and only then are ids formatted, values described (`capture._values`) and lineage resolved
(`capture._lineage`). Every record capture writes is built here, except agents' (`capture._agents`).

What one task becomes (see docs/capture.md, "What capture writes")::

    activity  pgid:task_P_N   prov:type pg:Task, pg:name, pg:status, pg:duration_s, [pg:error], [pg:tags]...
    wasStartedBy(task, -, parent, start)               parent: the run, a loop, or the enclosing task
    entity    input (new, or the entity the value already is)  + used(task, input, start, prov:role=name)
    entity    output (always new)                      + wasGeneratedBy(output, task, end, prov:role=name)
    wasDerivedFrom(output, input, activity=task)       for each output and each input
"""

from __future__ import annotations

import datetime as _dt
import inspect
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, Protocol

from capture import _compact, _ids, _redaction, wire
from capture._agents import machine_agent_records, run_agent_records, software_agent_records
from capture._context import STATE as _STATE
from capture._context import Context, Run
from capture._emitter import carries_its_document
from capture._redaction import Redactor
from capture._values import FileRef, file_generation, file_read, value_attrs

__all__ = [
    "TASK_OWN_ATTRIBUTES",
    "BatchItem",
    "CustomItem",
    "IterationItem",
    "LightBatch",
    "LightCall",
    "LlmCallItem",
    "LoopBoundary",
    "TaskItem",
    "TaskSpec",
    "activity_records",
    "run_attrs",
    "run_records",
    "error_text",
    "exception_text",
    "safe_json",
]

logger = logging.getLogger(__name__)

QN_TASK = wire.qualified_name("pg:Task")
QN_LOOP = wire.qualified_name("pg:Loop")
QN_TELEMETRY = wire.qualified_name("pg:Telemetry")

_element = wire.element
_relation = wire.relation
_iso = _ids.iso_from_ns
_SCANNED_ROLE = _compact.SCANNED_ROLE

_MAX_ERROR_CHARS = 2000

TASK_OWN_ATTRIBUTES = frozenset(
    {
        "name",
        "status",
        "duration_s",
        "error",
        "started_by",
        "tags",
        "custom_metadata",
        "campaign",
        "iteration",
        "loop",
    }
)
"""Attributes capture records on every activity itself: a user attribute of the same name is refused."""


def safe_json(value: Any) -> str:
    """Compact JSON text of a value, with anything unusual shown as its ``str``."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str, sort_keys=True)
    except Exception:  # noqa: BLE001 - unsortable keys, a cycle, a str() that raises
        try:
            return json.dumps(str(value))
        except Exception:  # noqa: BLE001
            kind = type(value)
            return json.dumps(f"<{kind.__module__}.{kind.__qualname__} #{id(value):#x}>")


def exception_text(exc: BaseException) -> str:
    """``"ValueError: message"``, never raising: an exception whose ``__str__`` raises or returns no ``str`` is
    named by its type with a note instead of its message (the user's own exception is what propagates)."""
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a user's __str__ failing must not replace the user's exception
        message = "<its message could not be read: str() failed>"
    return f"{type(exc).__name__}: {message}"


def error_text(error: BaseException | str, redactor: Redactor | None = None) -> str:
    """``"ValueError: message"`` (or the text given), scrubbed of secrets, then cut to a bounded length."""
    text = error if isinstance(error, str) else exception_text(error)
    return (redactor or _redaction.active(_STATE.settings)).scrub(text)[:_MAX_ERROR_CHARS]


_PLAIN_ARGUMENTS = frozenset({int, float, str, bool, bytes, list, tuple, dict, type(None)})
"""Argument types `TaskSpec.bind` never flattens (an ``argparse.Namespace`` is flattened into its items)."""


class TaskSpec:
    """Everything fixed about a decorated function: its name, parameters, outputs and options."""

    __slots__ = (
        "name",
        "positional",
        "varargs",
        "defaults",
        "output_names",
        "tags",
        "custom_metadata",
        "campaign_id",
        "run_override",
        "args_handler",
        "telemetry",
        "agent",
        "attrs",
        "skip_first",
        "fast_bind",
        "compact",
    )

    def __init__(
        self,
        function: Callable[..., Any] | None,
        name: str | None = None,
        output_names: str | Sequence[str] | None = None,
        tags: str | Sequence[str] | None = None,
        custom_metadata: dict[str, Any] | None = None,
        campaign_id: str | None = None,
        run_override: Any = None,
        args_handler: Callable[..., dict[str, Any]] | None = None,
        telemetry: bool = False,
        agent: Any = None,
        attrs: Sequence[tuple[str, Any]] = (),
    ) -> None:
        self.name: str = name or str(
            getattr(function, "__qualname__", None) or getattr(function, "__name__", "task")
        )
        if isinstance(output_names, str):
            output_names = (output_names,)
        self.output_names = tuple(output_names) if output_names else None
        if isinstance(tags, str):
            tags = (tags,)
        self.tags = tuple(str(t) for t in tags) if tags else ()
        self.custom_metadata = dict(custom_metadata) if custom_metadata else None
        self.campaign_id = campaign_id
        self.run_override = run_override
        self.args_handler = args_handler
        self.telemetry = telemetry
        self.agent = agent
        self.attrs = tuple(attrs)
        self.positional: tuple[str, ...] = ()
        self.varargs = "args"
        self.defaults: dict[str, Any] = {}
        self.skip_first = False
        if function is not None:
            self._read_signature(function)
        self.fast_bind = self.args_handler is None and not self.skip_first
        self.compact: tuple[Any, Any, int | None, tuple[str, ...] | None, Any] | None = None
        """(campaign, redactor, template number, the input roles when the scalar fast path applies, else ``None``,
        the settings the redactor came from) of the last compact event built (`_compact_form`)."""

    def _read_signature(self, function: Callable[..., Any]) -> None:
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            return
        positional = []
        for parameter in signature.parameters.values():
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                positional.append(parameter.name)
            elif parameter.kind is parameter.VAR_POSITIONAL:
                self.varargs = parameter.name
            if parameter.default is not parameter.empty and parameter.kind is not parameter.VAR_KEYWORD:
                self.defaults[parameter.name] = parameter.default
        self.positional = tuple(positional)
        # A method's `self`/`cls` is the receiver, not an input of the computation.
        self.skip_first = bool(positional) and positional[0] in ("self", "cls")

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
        """(parameter name, value) pairs of one call; ``argparse.Namespace`` arguments are flattened."""
        if self.args_handler is not None:
            try:
                handled = self.args_handler(*args, **kwargs)
                return [(str(k), v) for k, v in dict(handled).items()]
            except Exception as exc:  # noqa: BLE001 - fall back to the default binding
                logger.warning(
                    "args_handler of task %r failed (%s); recording the arguments as bound",
                    _redaction.scrub(self.name),
                    _redaction.scrub(exc),
                )
        names = self.positional
        count = len(names)
        if self.fast_bind and not kwargs and len(args) == count:
            # the common call: every parameter given by position, none an argparse namespace to flatten
            for value in args:
                if type(value) not in _PLAIN_ARGUMENTS and type(value).__name__ == "Namespace":
                    break
            else:
                return list(zip(names, args, strict=False))  # lengths checked above
        pairs = []
        for index, value in enumerate(args):
            if index == 0 and self.skip_first:
                continue
            pairs.append((names[index] if index < count else f"{self.varargs}[{index - count}]", value))
        if kwargs:
            pairs.extend(kwargs.items())
        if self.defaults:
            given = len(args)
            for name, default in self.defaults.items():
                if name not in kwargs and (name not in names or names.index(name) >= given):
                    pairs.append((name, default))
        flattened: list[tuple[str, Any]] = []
        for name, value in pairs:
            if type(value).__name__ == "Namespace" and type(value).__module__ == "argparse":
                flattened.extend(vars(value).items())
            else:
                flattened.append((name, value))
        return flattened

    def outputs(self, result: Any) -> list[tuple[str, Any]]:
        """(output name, value) pairs of a result: ``output_names`` by position, a dict passed through.

        A result that cannot be taken apart (its ``__len__``, ``items`` or a key's ``__str__`` raise) is the one
        output ``return``."""
        try:
            return self._outputs(result)
        except Exception:  # noqa: BLE001 - user code (len, items, str of a key) runs here
            return [("return", result)]

    def _outputs(self, result: Any) -> list[tuple[str, Any]]:
        names = self.output_names
        if names is None:
            if result is None:
                return []
            if type(result) is dict:
                return [(k if type(k) is str else _compact.role_text(k), v) for k, v in result.items()]
            return [("return", result)]
        if len(names) == 1:
            return [(names[0], result)]
        if isinstance(result, tuple | list) and len(result) == len(names):
            return list(zip(names, result, strict=True))
        if isinstance(result, dict):
            return [(k if type(k) is str else _compact.role_text(k), v) for k, v in result.items()]
        return [("return", result)]


def _entity_base(activity_id: str) -> str:
    # pgid:task_P_N -> pgid:val_P_N (ids of a task's values share its unique suffix)
    return "pgid:val_" + activity_id.split("_", 1)[1]


def _value_entity(
    records: list[dict[str, Any]],
    entity_id: str,
    value: Any,
    role: str,
    secret: bool,
    redactor: Redactor,
    generated: bool = False,
) -> str:
    if type(value) is FileRef:
        if (
            generated
        ):  # each generation its own entity, pgid:file_<task>_o<N>, specialising the content entity
            file_id = "pgid:file_" + entity_id.split("_", 1)[1]
            file_records = file_generation(value, file_id, redactor.scrub)
            if file_records is not None:
                records.extend(file_records)
                return file_id
        else:
            read = file_read(value, redactor.scrub)
            if read is not None:
                records.extend(read[1])
                return read[0]
    if secret:  # the value's shape (type, length, salted hash), never the value (docs/security.md)
        attrs: list[Any] = [
            ["pg:role", role],
            ["pg:redacted", True],
            ["pg:python_type", type(value).__qualname__],
            ["prov:value", redactor.marker(value, role)],
        ]
    else:
        attrs = [["pg:role", role]]
        attrs += [[name, item] for name, item in value_attrs(value, redactor)]
    records.append({"k": "entity", "id": entity_id, "a": attrs})
    return entity_id


def activity_records(
    *,
    run: Run,
    activity_id: str,
    parent_id: str,
    name: str,
    type_qn: dict[str, str] = QN_TASK,
    start_ns: int,
    end_ns: int | None,
    status: str,
    error: BaseException | str | None = None,
    inputs: Iterable[tuple[str, Any]] = (),
    outputs: Iterable[tuple[str, Any]] = (),
    whole_result: Any = None,
    tags: Sequence[str] = (),
    custom_metadata: dict[str, Any] | None = None,
    campaign_id: str | None = None,
    extra_attrs: Iterable[tuple[str, Any]] = (),
    telemetry: tuple[Any, Any] | None = None,
    agents: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """All records of one activity (task, iteration, custom task, agent call), lineage resolved."""
    # Records are built by wire's activity builders (plain dicts, not wire.element/relation), the ones a reader uses
    # to expand a compact event (wire version 2), so both forms give the same records.
    start = _iso(start_ns)
    end = _iso(end_ns) if end_ns is not None else None
    redactor = _redaction.active(_STATE.settings)
    scrub = redactor.scrub
    records = wire.activity_head(
        activity_id,
        parent_id,
        type_qn,
        scrub(name) if type(name) is str else name,
        status,
        start,
        end,
        (end_ns - start_ns) / 1e9 if end_ns is not None else None,
        error_text(error, redactor) if error is not None else None,
        [scrub(tag) if type(tag) is str else tag for tag in tags],
        safe_json(redactor.redact(custom_metadata)) if custom_metadata else None,
        str(campaign_id) if campaign_id else None,
        # prompts, responses, streams, names: text is scanned like any value
        [[pair[0], scrub(pair[1]) if type(pair[1]) is str else pair[1]] for pair in extra_attrs],
    )
    append = records.append
    for agent_id in agents:
        append({"k": "wasAssociatedWith", "f": {"activity": activity_id, "agent": agent_id}})

    lineage = run.lineage
    base = _entity_base(activity_id)
    used_ids: list[str] = []
    secret_name = redactor.secret_name
    for index, (role, value) in enumerate(inputs):
        if type(role) is not str:  # a key that is not text: its str, as a name
            role = _compact.role_text(role)
        secret = secret_name(role)
        if len(role) >= _SCANNED_ROLE:  # a key or keyword argument may be a token itself
            role = scrub(role)
        known = None if secret else lineage.lookup(value)
        if known is None:
            entity_id = _value_entity(records, f"{base}_i{index}", value, role, secret, redactor)
            known = (entity_id,)
            if not secret:
                lineage.register_input(value, known)
        for entity_id in known:
            append(wire.usage(activity_id, entity_id, start, role))
            used_ids.append(entity_id)

    generated: list[str] = []
    when = end or start
    for index, (role, value) in enumerate(outputs):
        if type(role) is not str:
            role = _compact.role_text(role)
        secret = secret_name(role)
        if len(role) >= _SCANNED_ROLE:
            role = scrub(role)
        entity_id = _value_entity(records, f"{base}_o{index}", value, role, secret, redactor, generated=True)
        append(wire.generation(entity_id, activity_id, when, role))
        for used_id in used_ids:
            if used_id != entity_id:
                append(wire.derivation(entity_id, used_id, activity_id))
        generated.append(entity_id)
        if not secret:
            lineage.register_output(value, (entity_id,))
    if whole_result is not None and len(generated) > 1:
        lineage.register_output(whole_result, tuple(generated))

    if telemetry is not None:
        records.extend(_telemetry_records(run, activity_id, base, telemetry, start, end))
    return records


def _telemetry_records(
    run: Run, activity_id: str, base: str, telemetry: tuple[Any, Any], start: str, end: str | None
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    machine_records, machine_id = machine_agent_records(run)
    records.extend(machine_records)
    if machine_id:
        records.append(_relation("wasAssociatedWith", activity=activity_id, agent=machine_id))
    for phase, pairs, when in (("start", telemetry[0], start), ("end", telemetry[1], end)):
        if pairs is None:
            continue
        entity_id = f"{base}_telemetry_{phase}"
        attrs = [("prov:type", QN_TELEMETRY), ("pg:phase", phase), *pairs]
        records.append(_element("entity", entity_id, attrs))
        records.append(
            _relation("wasGeneratedBy", entity=entity_id, activity=activity_id, time=when or start)
        )
    return records


class CallAgent(Protocol):
    """The agent a decorated call belongs to (`capture.agent_task`): its id, declaration and call attributes."""

    agent_id: str
    declaration: list[dict[str, Any]]

    def call_attrs(
        self, spec: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> list[tuple[str, Any]]: ...


Telemetry = tuple[list[tuple[str, Any]] | None, list[tuple[str, Any]] | None]
"""(readings at the start, readings at the end) of one task; either may be missing."""


def _as_entries(records: list[dict[str, Any]], entries: list[Any], weights: list[int]) -> None:
    entries.extend(records)
    weights.extend([1] * len(records))


def _has_file(pairs: Iterable[tuple[str, Any]]) -> bool:
    for pair in pairs:
        if type(pair[1]) is FileRef:
            return True
    return False


def _task_template(spec: TaskSpec, campaign: Any, redactor: Redactor) -> dict[str, Any]:
    scrub = redactor.scrub
    return wire.task_template(
        scrub(spec.name) if type(spec.name) is str else spec.name,
        tags=[scrub(tag) for tag in spec.tags],
        custom_metadata=safe_json(redactor.redact(spec.custom_metadata)) if spec.custom_metadata else None,
        campaign=str(campaign) if campaign else None,
        extra=[[name, scrub(value) if type(value) is str else value] for name, value in spec.attrs],
    )


def _compact_form(
    spec: TaskSpec, campaign: Any, redactor: Redactor
) -> tuple[Any, Redactor, int | None, tuple[str, ...] | None, Any]:
    """`TaskSpec.compact` for this campaign and redactor: the template's number and whether the common shape's fast
    path (`capture._compact.add_scalar_task`) may be taken: inputs by position, one output "return", no role
    secret-named, no agent. Kept with the settings object the redactor came from: the redactor changes only with
    the settings (`capture._redaction.active`), so while they are the same object it need not be asked for."""
    template = _compact.template_number((spec, campaign, redactor), _task_template, spec, campaign, redactor)
    simple = (
        template is not None
        and spec.fast_bind
        and spec.output_names is None
        and spec.agent is None
        and not any(map(redactor.secret_name, (*spec.positional, "return")))
    )
    cached = spec.compact = (
        campaign,
        redactor,
        template,
        spec.positional if simple else None,
        _STATE.settings,
    )
    return cached


def _task_entries(item: TaskItem, entries: list[Any], weights: list[int]) -> None:
    _, spec, number, context, args, kwargs, start_ns, end_ns, result, error, telemetry = item
    run, parent = context
    campaign = spec.campaign_id or run.campaign
    cached = spec.compact
    if cached is None or cached[0] is not campaign or cached[4] is not _STATE.settings:
        cached = _compact_form(spec, campaign, _redaction.active(_STATE.settings))
    redactor = cached[1]
    template, names = cached[2], cached[3]
    if (
        names is not None
        and template is not None
        and error is None
        and telemetry is None
        and not kwargs
        and len(args) == len(names)
        and _compact.add_scalar_task(
            entries,
            weights,
            template,
            run.lineage,
            number,
            parent,
            start_ns,
            end_ns,
            names,
            args,
            result,
            redactor,
        )
    ):
        return
    if spec.agent is not None or telemetry is not None:  # agents' and telemetry records: records
        _as_entries(_task_records(item), entries, weights)
        return
    inputs = spec.bind(args, kwargs)
    outputs = spec.outputs(result) if error is None else []
    if template is None or _has_file(inputs) or _has_file(outputs):  # files: entities of their own
        _as_entries(_task_records(item, inputs, outputs), entries, weights)
        return
    _compact.add_activity(
        entries,
        weights,
        template,
        run,
        number,
        parent,
        start_ns,
        end_ns,
        "FINISHED" if error is None else "ERROR",
        None if error is None else error_text(error, redactor),
        inputs,
        outputs,
        result,
        None,
        redactor,
    )


class TaskFields(NamedTuple):
    """The fields of a `TaskItem`."""

    doc: str
    """The document (run id) it is emitted to: first, so the emitter queues the item as it is
    (`capture._emitter.carries_its_document`)."""
    spec: TaskSpec
    number: int
    """The task's counter value; its id is formatted later (`capture._ids.task_id`)."""
    context: Context
    """``(run, parent)`` when the call began."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    start_ns: int
    end_ns: int
    result: Any
    error: str | None
    """``None``, or the one-line error the call raised."""
    telemetry: Telemetry | None


class TaskItem(TaskFields):
    """One finished call of a decorated function, as captured on the user's thread (references only); queued as it
    is, its document first (`capture._emitter.carries_its_document`).

    The wrappers build it with ``tuple.__new__(TaskItem, fields)``: as cheap as a plain tuple, where a named
    tuple's own constructor costs twice as much (measured in bench/capture_overhead.py).
    """

    __slots__ = ()

    def to_records(self) -> list[dict[str, Any]]:
        return _task_records(self)

    add_entries = _task_entries
    """Append this task to a message's entries, as a compact event where it can be (`capture._compact`): the
    function itself, not a method calling it, as the emitter calls it once per task."""


carries_its_document(TaskItem)


def _task_records(
    item: TaskItem,
    inputs: list[tuple[str, Any]] | None = None,
    outputs: list[tuple[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The records of one task (its inputs and outputs bound already, when given)."""
    spec = item.spec
    run, parent = item.context
    agent: CallAgent | None = spec.agent
    extra: Sequence[tuple[str, Any]] = spec.attrs
    declarations: list[dict[str, Any]] = []
    if agent is not None:
        extra = [*extra, *agent.call_attrs(spec, item.args, item.kwargs, item.result)]
        declarations = agent.declaration
    error = item.error
    records = activity_records(
        run=run,
        activity_id=_ids.task_id(item.number),
        parent_id=run.id if parent is None else _ids.task_id(parent),
        name=spec.name,
        start_ns=item.start_ns,
        end_ns=item.end_ns,
        status="FINISHED" if error is None else "ERROR",
        error=error,
        inputs=spec.bind(item.args, item.kwargs) if inputs is None else inputs,
        outputs=(spec.outputs(item.result) if error is None else ()) if outputs is None else outputs,
        whole_result=item.result,
        tags=spec.tags,
        custom_metadata=spec.custom_metadata,
        campaign_id=spec.campaign_id or run.campaign,
        extra_attrs=extra,
        telemetry=item.telemetry,
        agents=(agent.agent_id,) if agent is not None else (),
    )
    return declarations + records if declarations else records


LightCall = tuple[TaskSpec, Context, tuple[Any, ...], dict[str, Any], int, int, Any, str | None]
"""One finished call of a `capture.light_task` function: ``(spec, context, args, kwargs, start_ns, end_ns, result,
error)``. A plain tuple: a named one costs the light task a third more (measured); its counter value is taken when
it is expanded (`LightBatch`)."""


class LightBatch:
    """Many light-task calls of one run, handed to the emitter at once."""

    __slots__ = ("items",)

    def __init__(self, items: list[LightCall]) -> None:
        self.items = items

    def to_records(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        counter = _ids.COUNTER
        for spec, context, args, kwargs, start_ns, end_ns, result, error in self.items:
            try:
                # A light task gets its number here, on the emitter thread: nothing refers to it before.
                item = TaskItem(
                    "", spec, next(counter), context, args, kwargs, start_ns, end_ns, result, error, None
                )
                records.extend(_task_records(item))
            except Exception as exc:  # noqa: BLE001 - one bad value must not lose the batch
                logger.error("provgraph capture could not describe a light task: %s", _redaction.scrub(exc))
        return records

    def add_entries(self, entries: list[Any], weights: list[int]) -> None:
        counter = _ids.COUNTER
        new_item = tuple.__new__
        add_scalar_task = _compact.add_scalar_task
        state = _STATE
        for spec, context, args, kwargs, start_ns, end_ns, result, error in self.items:
            size = len(entries)
            try:
                number = next(counter)
                # `_task_entries`'s first case written out in place (no TaskItem built, one call less per call);
                # anything else, or a spec whose compact form is not cached yet, goes through `_task_entries`.
                # `add_scalar_task` does nothing when it returns False, so `_task_entries` may try it again.
                if error is None and not kwargs:
                    run, parent = context
                    cached = spec.compact
                    if (
                        cached is not None
                        and cached[0] is (spec.campaign_id or run.campaign)
                        and cached[4] is state.settings
                        and cached[3] is not None
                        and cached[2] is not None
                        and len(args) == len(cached[3])
                        and add_scalar_task(
                            entries,
                            weights,
                            cached[2],
                            run.lineage,
                            number,
                            parent,
                            start_ns,
                            end_ns,
                            cached[3],
                            args,
                            result,
                            cached[1],
                        )
                    ):
                        continue
                item = new_item(
                    TaskItem,
                    ("", spec, number, context, args, kwargs, start_ns, end_ns, result, error, None),
                )
                _task_entries(item, entries, weights)
            except Exception as exc:  # noqa: BLE001 - one bad value must not lose the batch
                del entries[size:], weights[size:]
                logger.error("provgraph capture could not describe a light task: %s", _redaction.scrub(exc))

    def __len__(self) -> int:
        return len(self.items)


# --- runs -------------------------------------------------------------------------------------------------------

QN_RUN = wire.qualified_name("pg:WorkflowRun")
QN_CAMPAIGN = wire.qualified_name("pg:Campaign")


def run_attrs(run: Run, subtype: str | None, args: Any, status: str | None) -> list[tuple[str, Any]]:
    """Attributes of a run activity (at its start, ``status`` is ``None``)."""
    scrub = _redaction.active(_STATE.settings).scrub
    attrs: list[tuple[str, Any]] = [
        ("prov:type", QN_RUN),
        ("pg:name", scrub(run.name) if type(run.name) is str else run.name),
    ]
    if subtype:
        attrs.append(("pg:subtype", scrub(str(subtype))))
    if args is not None:
        # names and values redacted at any depth (docs/security.md)
        attrs.append(("pg:args", safe_json(_redaction.active(_STATE.settings).redact(args))))
    if run.given_id is not None:
        attrs.append(("pg:workflow_id", run.given_id))
    if run.campaign:
        attrs.append(("pg:campaign", run.campaign))
    if status:
        attrs.append(("pg:status", status))
    return attrs


def run_records(
    run: Run, subtype: str | None, args: Any, campaign_id: str | None, start_ns: int
) -> list[dict[str, Any]]:
    """The records announcing a run: its activity, its campaign and its person/process agents."""
    records = [
        wire.element(
            "activity",
            run.id,
            run_attrs(run, subtype, args, None),
            formal={"startTime": _iso(start_ns)},
        )
    ]
    if campaign_id:
        campaign = _ids.campaign_id_from_user(campaign_id)
        records.append(
            wire.element(
                "activity",
                campaign,
                [("prov:type", QN_CAMPAIGN), ("pg:campaign_id", _ids.given_text(campaign_id))],
            )
        )
        records.append(wire.relation("wasInfluencedBy", influencee=run.id, influencer=campaign))
    records.extend(run_agent_records(run.id))
    return records


# --- loops ------------------------------------------------------------------------------------------------------


class LoopEnd(NamedTuple):
    end_ns: int
    status: str
    iterations: int


class LoopBoundary(NamedTuple):
    """Start (``end`` is ``None``) or end of a loop activity."""

    run: Run
    number: int
    parent: int | str | None
    name: str
    length: int | None
    start_ns: int
    end: LoopEnd | None

    def to_records(self) -> list[dict[str, Any]]:
        run = self.run
        loop_id = _ids.task_id(self.number)
        parent_id = run.id if self.parent is None else _ids.task_id(self.parent)
        start = _iso(self.start_ns)
        attrs: list[tuple[str, Any]] = [
            ("prov:type", QN_LOOP),
            (
                "pg:name",
                _redaction.active(_STATE.settings).scrub(self.name) if type(self.name) is str else self.name,
            ),
            ("pg:started_by", parent_id),
        ]
        if self.length is not None:
            attrs.append(("pg:items_length", self.length))
        formal = {"startTime": start}
        end = self.end
        if end is None:
            attrs.append(("pg:status", "RUNNING"))
        else:
            formal["endTime"] = _iso(end.end_ns)
            attrs += [
                ("pg:status", end.status),
                ("pg:iterations", end.iterations),
                ("pg:duration_s", (end.end_ns - self.start_ns) / 1e9),
            ]
        return [
            wire.element("activity", loop_id, attrs, formal=formal),
            wire.relation("wasStartedBy", activity=loop_id, starter=parent_id, time=start),
        ]


Iteration = tuple[int, int, Any, int, int, Any, str, "Telemetry | None"]
"""One iteration of a `capture.BatchedLoop`: ``(number, position, value, start_ns, end_ns, values, status,
telemetry)``, the fields of `IterationItem` after the loop's own. A plain tuple: a named one costs the batched loop
two thirds more per iteration (measured)."""


def _iteration_records(
    run: Run,
    loop_number: int,
    loop_name: str,
    item_name: str,
    iteration: Iteration | IterationItem,
) -> list[dict[str, Any]]:
    number, position, value, start_ns, end_ns, values, status, telemetry = iteration[-8:]
    outputs = (
        list(values.items())
        if isinstance(values, dict)
        else ([("value", values)] if values is not None else [])
    )
    return activity_records(
        run=run,
        activity_id=_ids.task_id(number),
        parent_id=_ids.task_id(loop_number),
        name=f"{loop_name}.iteration",
        start_ns=start_ns,
        end_ns=end_ns,
        status=status,
        inputs=[(item_name, value)],
        outputs=outputs,
        whole_result=values,
        extra_attrs=[("pg:iteration", position), ("pg:loop", loop_name)],
        campaign_id=run.campaign,
        telemetry=telemetry,
    )


def _shown_item_name(item_name: Any, redactor: Redactor) -> str:
    """A loop's ``item_name`` as its iterations' input role: text, scanned like a dict key when long."""
    if type(item_name) is not str:
        item_name = _compact.role_text(item_name)
    return redactor.scrub(item_name) if len(item_name) >= _SCANNED_ROLE else item_name


def _iteration_template(loop_name: str, campaign: Any, redactor: Redactor) -> dict[str, Any]:
    return wire.task_template(
        redactor.scrub(f"{loop_name}.iteration"),
        campaign=str(campaign) if campaign else None,
        extra=[
            ["pg:iteration"],
            ["pg:loop", redactor.scrub(loop_name) if type(loop_name) is str else loop_name],
        ],
    )


def _iteration_entries(
    run: Run,
    loop_number: int,
    loop_name: str,
    item_name: str,
    iteration: Iteration | IterationItem,
    entries: list[Any],
    weights: list[int],
) -> None:
    number, position, value, start_ns, end_ns, values, status, telemetry = iteration[-8:]
    redactor = _redaction.active(_STATE.settings)
    template = _compact.template_number(
        ("iteration", loop_name, run.campaign, redactor),
        _iteration_template,
        loop_name,
        run.campaign,
        redactor,
    )
    if template is None or telemetry is not None:
        _as_entries(_iteration_records(run, loop_number, loop_name, item_name, iteration), entries, weights)
        return
    secret_name = redactor.secret_name
    if (
        type(values) is not dict
        and not secret_name(item_name)
        and not secret_name("value")
        and _compact.add_scalar_task(
            entries,
            weights,
            template,
            run.lineage,
            number,
            loop_number,
            start_ns,
            end_ns,
            (
                item_name
                if type(item_name) is str and len(item_name) < _SCANNED_ROLE
                else _shown_item_name(item_name, redactor),
            ),
            (value,),
            values,
            redactor,
            "value",
            status,
            [position],
        )
    ):
        return
    outputs = (
        list(values.items()) if type(values) is dict else ([("value", values)] if values is not None else [])
    )
    if (
        type(value) is FileRef
        or _has_file(outputs)
        or (type(values) is not dict and isinstance(values, dict))
    ):
        _as_entries(_iteration_records(run, loop_number, loop_name, item_name, iteration), entries, weights)
        return
    _compact.add_activity(
        entries,
        weights,
        template,
        run,
        number,
        loop_number,
        start_ns,
        end_ns,
        status,
        None,
        [(item_name, value)],
        outputs,
        values,
        [position],
        redactor,
    )


class IterationItem(NamedTuple):
    """One finished iteration of a `capture.Loop`, streamed as it ends: its loop, then the iteration's fields
    (`Iteration`; flat: one tuple per iteration on the loop's hot path)."""

    run: Run
    loop_number: int
    loop_name: str
    item_name: str
    number: int
    position: int
    value: Any
    start_ns: int
    end_ns: int
    values: Any
    status: str
    telemetry: Telemetry | None

    def to_records(self) -> list[dict[str, Any]]:
        return _iteration_records(self.run, self.loop_number, self.loop_name, self.item_name, self)

    def add_entries(self, entries: list[Any], weights: list[int]) -> None:
        _iteration_entries(self.run, self.loop_number, self.loop_name, self.item_name, self, entries, weights)


class BatchItem(NamedTuple):
    """A whole `capture.BatchedLoop`: its end boundary and its first ``done`` iterations (the list is
    preallocated: entries past ``done`` are unused)."""

    boundary: LoopBoundary
    iterations: list[Iteration]
    item_name: str
    done: int

    def to_records(self) -> list[dict[str, Any]]:
        boundary = self.boundary
        records = boundary.to_records()
        for iteration in self.iterations[: self.done]:
            records.extend(
                _iteration_records(boundary.run, boundary.number, boundary.name, self.item_name, iteration)
            )
        return records

    def add_entries(self, entries: list[Any], weights: list[int]) -> None:
        boundary = self.boundary
        _as_entries(boundary.to_records(), entries, weights)
        run, number, name, item_name = boundary.run, boundary.number, boundary.name, self.item_name
        # `_iteration_entries`'s common case with what is the same for the whole batch (redactor, template, the
        # role names' secrecy) looked up once; anything else goes through `_iteration_entries` (`add_scalar_task`
        # does nothing when it returns False, so it may be tried again there).
        state = _STATE
        settings = state.settings
        redactor = _redaction.active(settings)
        template = _compact.template_number(
            ("iteration", name, run.campaign, redactor), _iteration_template, name, run.campaign, redactor
        )
        fast = (
            template is not None and not redactor.secret_name(item_name) and not redactor.secret_name("value")
        )
        add_scalar_task = _compact.add_scalar_task
        lineage = run.lineage
        names = (
            item_name
            if type(item_name) is str and len(item_name) < _SCANNED_ROLE
            else _shown_item_name(item_name, redactor),
        )
        for iteration in self.iterations[: self.done]:
            if fast and template is not None and state.settings is settings:
                iteration_number, position, value, start_ns, end_ns, values, status, telemetry = iteration[
                    -8:
                ]
                if (
                    telemetry is None
                    and type(values) is not dict
                    and add_scalar_task(
                        entries,
                        weights,
                        template,
                        lineage,
                        iteration_number,
                        number,
                        start_ns,
                        end_ns,
                        names,
                        (value,),
                        values,
                        redactor,
                        "value",
                        status,
                        [position],
                    )
                ):
                    continue
            _iteration_entries(run, number, name, item_name, iteration, entries, weights)


# --- custom tasks -----------------------------------------------------------------------------------------------

_MAX_STREAM_CHARS = 4000


class CustomTaskFields(Protocol):
    """What a `capture.CustomTask` holds that its records need."""

    name: str
    number: int
    run: Run | None
    parent: int | str | None
    start_ns: int
    used: dict[str, Any]
    tags: tuple[str, ...]
    custom_metadata: dict[str, Any] | None
    agent_id: Any
    stdout: str | None
    stderr: str | None
    data: bytes | None


class CustomItem(NamedTuple):
    """A `capture.CustomTask` as published: at its end, or (``send``) while it runs (``end_ns`` is ``None``)."""

    task: CustomTaskFields
    end_ns: int | None
    status: str
    generated: Any
    error: str | None
    telemetry: Telemetry | None

    def to_records(self) -> list[dict[str, Any]]:
        task = self.task
        run = task.run
        if run is None:
            return []
        records: list[dict[str, Any]] = []
        agents: tuple[str, ...] = ()
        if task.agent_id is not None:
            agent_id, declaration = software_agent_records(task.agent_id)
            records.extend(declaration)
            agents = (agent_id,)
        extra: list[tuple[str, Any]] = []
        scrub = _redaction.active(_STATE.settings).scrub
        if task.stdout:
            extra.append(("pg:stdout", scrub(str(task.stdout))[-_MAX_STREAM_CHARS:]))
        if task.stderr:
            extra.append(("pg:stderr", scrub(str(task.stderr))[-_MAX_STREAM_CHARS:]))
        generated = self.generated
        outputs = (
            list(generated.items())
            if isinstance(generated, dict)
            else ([("return", generated)] if generated is not None else [])
        )
        if task.data is not None:
            outputs.append(("data", task.data))
        records.extend(
            activity_records(
                run=run,
                activity_id=_ids.task_id(task.number),
                parent_id=run.id if task.parent is None else _ids.task_id(task.parent),
                name=task.name,
                start_ns=task.start_ns,
                end_ns=self.end_ns,
                status=self.status,
                error=self.error,
                inputs=list(task.used.items()),
                outputs=outputs,
                whole_result=generated,
                tags=task.tags,
                custom_metadata=task.custom_metadata,
                campaign_id=run.campaign,
                extra_attrs=extra,
                telemetry=self.telemetry,
                agents=agents,
            )
        )
        return records


# --- LLM calls --------------------------------------------------------------------------------------------------


class LlmCallItem(NamedTuple):
    """One call recorded by `capture.record_llm_call`."""

    run: Run
    parent: int | str | None
    number: int
    name: str
    start_ns: int
    end_ns: int
    status: str
    error: str | BaseException | None
    attrs: list[tuple[str, Any]]
    agent: str | None

    def to_records(self) -> list[dict[str, Any]]:
        run = self.run
        records: list[dict[str, Any]] = []
        agents: tuple[str, ...] = ()
        if self.agent is not None:
            agent_id, declaration = software_agent_records(self.agent)
            records.extend(declaration)
            agents = (agent_id,)
        records.extend(
            activity_records(
                run=run,
                activity_id=_ids.task_id(self.number),
                parent_id=run.id if self.parent is None else _ids.task_id(self.parent),
                name=self.name,
                start_ns=self.start_ns,
                end_ns=self.end_ns,
                status=self.status,
                error=self.error,
                campaign_id=run.campaign,
                extra_attrs=self.attrs,
                agents=agents,
            )
        )
        return records


def epoch_ns(moment: float | _dt.datetime) -> int:
    """Nanoseconds since the epoch of a user-given time (epoch seconds or a datetime).

    Raises:
        ValueError: a time that is not a number, or that no record can hold (NaN, outside years 1-9999): refused
            where it is given, not lost later on the emitter thread.
    """
    if isinstance(moment, _dt.datetime):
        return int(moment.timestamp() * 1e9)
    try:
        ns = int(float(moment) * 1e9)
        _iso(ns)  # the form every record writes it in
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(
            f"capture: {moment!r} is not a time a record can hold (epoch seconds, years 1-9999)"
        ) from exc
    return ns
