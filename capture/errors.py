"""capture's exceptions, one tree rooted at `CaptureError`.

::

    CaptureError
     ├── SettingsError              a setting has a value that cannot be used (also a ValueError)
     ├── WireFormatError            a message or record does not follow the wire format (also a ValueError)
     └── EmbeddedServerNotRunning   ``redis_url = embedded`` and no embedded server runs (also a ConnectionError)

Each class lives in the module whose contract it guards (`capture.settings`, `capture.wire`,
`capture._embedded_url`) and keeps its built-in base, so code written against ``ValueError`` or
``ConnectionError`` still catches it. provgraph's `provgraph.errors.WireFormatError` subclasses
`capture.wire.WireFormatError`: ``except capture.wire.WireFormatError`` catches the producer's and the loader's.
Mistakes in calling capture (a wrong argument type, a workflow started twice) raise Python's own ``TypeError`` or
``RuntimeError``, as the standard library does. docs/errors.md lists every error and whether retrying helps.

This module imports nothing, so every layer of capture can use it.
"""

from __future__ import annotations

__all__ = ["CaptureError"]


class CaptureError(Exception):
    """Root of every error capture raises on purpose."""
