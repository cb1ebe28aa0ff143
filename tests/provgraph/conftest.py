"""Fixtures of the provgraph tests: the known graph on each backend (tests/provgraph/_known_graph.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _known_graph import BACKENDS, KnownGraph, build, delete, load, open_test_backend


@pytest.fixture(scope="module", params=BACKENDS)
def graph_backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A backend on a real graph server, shared by one test module (embedded: the session's one server)."""
    home = str(request.getfixturevalue("embedded_server").home) if request.param == "embedded" else None
    backend = open_test_backend(request.param, home)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def known_graph(graph_backend: Any) -> Iterator[KnownGraph]:
    """The known graph, loaded once per module through the real loader, removed afterwards."""
    graph = build(uuid.uuid4().hex[:12])
    load(graph_backend, graph)
    yield graph
    delete(graph_backend, graph)
