"""Adapter tests: a real workload on the real library runs in a subprocess with the file sink; its messages are
loaded through the loader library into Neo4j and into the embedded engine (`any_backend`), and the graph of the
run is compared with the exact graph the adapter must have produced. Each test removes the documents it loaded."""

from __future__ import annotations

import pytest

from capture import wire


@pytest.fixture
def load(any_backend):
    """``load(messages)`` into `any_backend`; the documents loaded are deleted at teardown."""
    from provgraph.loader import load_messages

    docs: set[str] = set()

    def _load(messages: list[wire.Message]) -> None:
        any_backend.ensure_schema()
        docs.update(message.doc for message in messages)
        load_messages(any_backend, messages)

    _load.docs = docs  # type: ignore[attr-defined] - a test adds documents written by other means
    yield _load
    if docs:
        from provgraph.purge import purge, select

        # purge, not DETACH DELETE: shared nodes (the person, content-hashed files) keep other runs' relationships
        purge(any_backend, select(any_backend, docs=sorted(docs)))
