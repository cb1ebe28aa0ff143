"""provgraph's one error tree: every exception it defines is a `ProvgraphError`; the wire error is shared with
capture; settings and driver errors are translated where they cross into provgraph."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import provgraph
from capture import wire
from capture.errors import CaptureError
from capture.settings import Settings
from provgraph.errors import ConfigurationError, ProvgraphError, StoreUnavailable, WireFormatError
from provgraph.graph.backend import GraphBackend


def _exception_classes(package: str) -> dict[str, type[BaseException]]:
    root = importlib.import_module(package)
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            # public classes report the package itself as their module (provgraph/__init__.py)
            home = getattr(value, "__module__", "")
            if inspect.isclass(value) and issubclass(value, BaseException) and home.split(".")[0] == package:
                found[f"{home}.{value.__qualname__}"] = value
    return found


def test_every_provgraph_exception_is_a_provgraph_error() -> None:
    classes = _exception_classes("provgraph")
    assert "provgraph.UnknownId" in classes
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, ProvgraphError))
    assert outside == []


def test_every_capture_exception_is_a_capture_error() -> None:
    classes = _exception_classes("capture")
    assert {"capture.wire.WireFormatError", "capture.settings.SettingsError"} <= set(classes)
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, CaptureError))
    assert outside == []


def test_one_except_catches_the_producers_and_the_loaders_wire_error() -> None:
    caught = []
    for error in (wire.WireFormatError("from capture"), WireFormatError("from the loader", "s", "1-0")):
        try:
            raise error
        except wire.WireFormatError as exc:
            caught.append(exc.reason)
    assert caught == ["from capture", "from the loader"]
    assert issubclass(WireFormatError, ProvgraphError) and issubclass(WireFormatError, ValueError)
    with pytest.raises(wire.WireFormatError):
        wire.decode_message(b"not json")


def test_client_with_a_bad_setting_raises_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVGRAPH_QUERY_TIMEOUT_S", "soon")
    with pytest.raises(ConfigurationError, match="PROVGRAPH_QUERY_TIMEOUT_S") as caught:
        provgraph.Client()
    assert isinstance(caught.value.__cause__, CaptureError)


def test_graph_url_redis_cannot_parse_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="PROVGRAPH_GRAPH_URL"):
        provgraph.Client(Settings(graph_url="redis://127.0.0.1:notaport/0"))


def test_unreachable_falkordb_is_store_unavailable(tmp_path) -> None:
    with pytest.raises(StoreUnavailable):
        provgraph.Client(Settings(graph_url=f"unix://{tmp_path}/no-server.sock"))


def test_backends_have_no_unused_stream_method() -> None:
    assert not hasattr(GraphBackend, "stream")


@pytest.mark.services
def test_neo4j_value_the_driver_cannot_pack_is_a_query_error(neo4j_backend) -> None:
    from provgraph.errors import QueryError

    with pytest.raises(QueryError, match="cannot take"):
        neo4j_backend.read("RETURN $x AS x", {"x": object()}, tag="probe")
    with pytest.raises(QueryError, match="probe"):
        neo4j_backend.read(
            "RETURN $x +", {"x": 1}, tag="probe"
        )  # a syntax error: the query's fault, not retried
