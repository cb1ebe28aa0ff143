"""provgraph's side of secret redaction: what the CLI prints and what provgraph logs never holds a credential.

The rules live in one module, `capture._redaction` (docs/security.md); this is where provgraph's output meets them.
`scrub` is the one function every failure line of the CLI passes through, `ScrubbingFilter` does the same for log
records (message, arguments and traceback), and every `provgraph.errors.ProvgraphError` scrubs its own message,
so the text of a driver quoted in an error (``Given URI: 'bolt://neo4j:pw@host'``) loses the password.

Example::

    from provgraph.redaction import install_log_scrubbing, scrub

    install_log_scrubbing()              # every handler of the root logger, and logging's last resort
    print(scrub(f"failed: {exc}"), file=sys.stderr)
"""

from __future__ import annotations

import logging
import traceback

from capture._redaction import redact_url, scrub

__all__ = ["ScrubbingFilter", "install_log_scrubbing", "redact_url", "scrub", "scrubbed_traceback"]


class ScrubbingFilter(logging.Filter):
    """A handler filter that scrubs a record's formatted message, its traceback and its stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is logging's problem, not ours
            return True
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_scrubbing(logger: logging.Logger | None = None) -> None:
    """Add a `ScrubbingFilter` to every handler of ``logger`` (default: the root logger) and to logging's last
    resort handler (what prints warnings when no handler is configured). Safe to call more than once."""
    target = logger if logger is not None else logging.getLogger()
    handlers = [*target.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(existing, ScrubbingFilter) for existing in handler.filters):
            handler.addFilter(ScrubbingFilter())


def scrubbed_traceback(exc: BaseException) -> str:
    """The traceback of an exception as text, scrubbed (for failures the CLI did not expect)."""
    return scrub("".join(traceback.format_exception(exc)))
