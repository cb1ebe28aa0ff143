"""The public API: every exported name reports its public module, and every type a public function returns (and
every type inside it) can be imported from the package."""

from __future__ import annotations

import dataclasses
import inspect
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest

import capture
import provgraph


def _exported(package: types.ModuleType) -> Iterator[tuple[str, Any]]:
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            yield name, value


@pytest.mark.parametrize("package", [capture, provgraph], ids=lambda p: p.__name__)
def test_exported_members_report_the_public_module(package: types.ModuleType) -> None:
    wrong = {
        name: value.__module__ for name, value in _exported(package) if value.__module__ != package.__name__
    }
    assert wrong == {}


def _project_types(annotation: Any, package: str, seen: set[type]) -> None:
    """Every class of ``package`` inside ``annotation``, and inside those classes' dataclass fields."""
    for argument in typing.get_args(annotation):
        _project_types(argument, package, seen)
    origin = typing.get_origin(annotation)
    if origin is not None:
        _project_types(origin, package, seen)
    if not inspect.isclass(annotation) or annotation in seen:
        return
    if annotation.__module__.split(".")[0] != package:
        return
    seen.add(annotation)
    if dataclasses.is_dataclass(annotation):
        for hint in typing.get_type_hints(annotation).values():
            _project_types(hint, package, seen)


def _returned_types(package: types.ModuleType) -> set[type]:
    seen: set[type] = set()
    callables: list[Any] = []
    for _, value in _exported(package):
        callables.append(value)
        if inspect.isclass(value):
            callables += [
                m for n, m in inspect.getmembers(value, inspect.isfunction) if not n.startswith("_")
            ]
    for function in callables:
        hints = typing.get_type_hints(function)
        if "return" in hints:
            _project_types(hints["return"], package.__name__, seen)
    return seen


# Public modules besides the package itself: a type may live there (docs name them as the place to import from).
PUBLIC_MODULES = {
    "capture.wire",
    "capture.settings",
    "capture.errors",
    "capture.adapters.files",
    "provgraph.errors",
}


def _importable(cls: type, package: types.ModuleType) -> bool:
    if cls.__name__ in package.__all__ and getattr(package, cls.__name__) is cls:
        return True
    module = sys.modules.get(cls.__module__)
    return cls.__module__ in PUBLIC_MODULES and getattr(module, cls.__qualname__, None) is cls


@pytest.mark.parametrize("package", [capture, provgraph], ids=lambda p: p.__name__)
def test_every_returned_type_is_importable_from_the_package(package: types.ModuleType) -> None:
    returned = _returned_types(package)
    assert returned, "no public function returns a type of the package: the walk found nothing"
    missing = sorted(
        f"{cls.__module__}.{cls.__qualname__}" for cls in returned if not _importable(cls, package)
    )
    assert missing == []


def test_public_classes_keep_their_type_hints() -> None:
    # rewriting __module__ must not break typing.get_type_hints (dataclass tools, pydantic, docs generators)
    assert typing.get_type_hints(provgraph.LineageStep)["labels"] == tuple[str, ...]


def test_client_answers_are_public_types() -> None:
    returned = _returned_types(provgraph)
    assert {provgraph.LineageStep, provgraph.RunDiff, provgraph.ImportResult, provgraph.TailEvent} <= returned
