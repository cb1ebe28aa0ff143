"""provgraph's exceptions, one tree, rooted at `ProvgraphError`.

::

    ProvgraphError
     ├── ConfigurationError      a setting or argument cannot work (names the setting)
     ├── WireFormatError         a message is not valid wire format (carries stream and entry id); also a
     │                           capture.wire.WireFormatError, so one ``except`` catches producer and loader
     ├── StoreUnavailable        Neo4j, Redis or the embedded server cannot be reached (names the URL, never a password)
     ├── ServiceError            `provgraph services` could not start or stop a server (carries the log tail)
     ├── QueryError              a named query failed or does not exist (carries the query name)
     │    └── UnknownId          an id given to a query is not in the graph (carries it and close matches)
     └── ExportError             export or import of a PROV document failed

Foreign exceptions (``neo4j.exceptions``, ``redis.exceptions``) are translated where they cross into provgraph,
re-raised ``from`` the original. Every message is scrubbed of credentials when the error is made (URL passwords,
tokens, ``password=...`` pairs, secret environment values; docs/security.md), so a driver's text quoted in it
never prints a password.
"""

from __future__ import annotations

from typing import Any

from capture import wire
from capture._redaction import scrub

__all__ = [
    "AmbiguousId",
    "ConfigurationError",
    "ExportError",
    "ProvgraphError",
    "QueryError",
    "ServiceError",
    "StoreUnavailable",
    "UnknownId",
    "WireFormatError",
]


class ProvgraphError(Exception):
    """Root of every error provgraph raises on purpose; its message never holds a credential."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigurationError(ProvgraphError):
    """A setting or argument cannot work; the message names it and says what to do."""


class WireFormatError(ProvgraphError, wire.WireFormatError):
    """A stream entry is not a valid wire-format message.

    A subclass of capture's `capture.wire.WireFormatError` (the wire format's own error, raised by
    ``wire.decode_message`` and the ``validate_*`` checks), so ``except capture.wire.WireFormatError`` catches both.
    """

    def __init__(self, reason: str, stream: str | None = None, entry_id: str | None = None) -> None:
        where = f" (stream {stream}, entry {entry_id})" if stream or entry_id else ""
        super().__init__(f"{reason}{where}")
        self.reason = scrub(reason)
        self.stream = stream
        self.entry_id = entry_id


class StoreUnavailable(ProvgraphError):
    """A server cannot be reached; ``url`` has no password in it."""

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = scrub(url) if url else url


class ServiceError(ProvgraphError):
    """A managed server failed to start or stop; ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message + (f"\n--- log tail ---\n{log_tail}" if log_tail else ""))
        self.log_tail = scrub(log_tail)


class QueryError(ProvgraphError):
    """A named query is unknown or failed; ``query`` is its name."""

    def __init__(self, message: str, query: str | None = None) -> None:
        super().__init__(message)
        self.query = query


class UnknownId(QueryError):
    """An id (qualified name or URI) given to a query or command is not in the graph.

    ``ref`` is the id as given, ``parameter`` the argument it was given for, ``suggestions`` the closest ids that do
    exist (possibly none).
    """

    def __init__(
        self, ref: str, parameter: str, suggestions: tuple[str, ...] = (), query: str | None = None
    ) -> None:
        hint = (
            f"; did you mean {', '.join(suggestions)}?"
            if suggestions
            else "; `provgraph find` searches by name, path, role or value"
        )
        super().__init__(f"{ref!r} ({parameter}) is not in the graph{hint}", query)
        self.ref = ref
        self.parameter = parameter
        self.suggestions = suggestions


class AmbiguousId(QueryError):
    """An id given to a query or command names more than one element: the same qualified name declared at the top
    level and in a bundle, or in several bundles (each is its own node, docs/graph-model.md). ``keys`` lists some of
    their full keys (``<bundle URI> <element URI>`` inside a bundle), any of which names one element."""

    def __init__(
        self, ref: str, parameter: str, count: int, keys: tuple[str, ...], query: str | None = None
    ) -> None:
        shown = ", ".join(repr(key) for key in keys)
        more = f" and {count - len(keys)} more" if count > len(keys) else ""
        super().__init__(
            f"{ref!r} ({parameter}) names {count} elements (the same identifier at the top level and in a bundle, "
            f"or in several bundles); give the full key of one: {shown}{more}",
            query,
        )
        self.ref = ref
        self.parameter = parameter
        self.keys = keys


class ExportError(ProvgraphError):
    """A PROV document could not be exported or imported."""
