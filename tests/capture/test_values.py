"""Value descriptions: scalars as prov:value, large data summarised, objects made safe."""

from __future__ import annotations

import math

from capture._values import value_attrs


def _attrs(value):
    return dict(value_attrs(value))


def test_scalars():
    assert _attrs(3)["prov:value"] == 3
    assert _attrs(2.5)["prov:value"] == 2.5
    assert _attrs("x")["prov:value"] == "x"
    assert _attrs(True)["prov:value"] is True
    assert _attrs(math.nan)["prov:value"] == {"$": "NaN", "type": "xsd:double"}
    assert _attrs(2**70)["prov:value"] == {"$": str(2**70), "type": "xsd:integer"}
    assert _attrs(None)["pg:repr"] == "None"


def test_large_values_are_summarised():
    big = list(range(100_000))
    attrs = _attrs(big)
    assert attrs["pg:length"] == 100_000 and "pg:fingerprint" in attrs
    assert len(attrs["pg:head"]) < 200
    assert _attrs(list(range(100_000)))["pg:fingerprint"] == attrs["pg:fingerprint"]
    long_text = "y" * 10_000
    assert _attrs(long_text)["pg:length"] == 10_000 and "prov:value" not in _attrs(long_text)
    assert _attrs(b"abc")["pg:size"] == 3


def test_small_containers_become_json():
    assert _attrs([1, "a", None])["pg:json"] == '[1,"a",null]'
    assert _attrs({"k": (1, 2)})["pg:json"] == '{"k":[1,2]}'


def test_objects_to_dict_dunder_dict_and_placeholder():
    class WithToDict:
        def to_dict(self):
            return {"a": 1}

    class Plain:
        def __init__(self):
            self.b = 2
            self._hidden = 3

    class Slotted:
        __slots__ = ("c",)

    assert _attrs(WithToDict())["pg:json"] == '{"a":1}'
    assert _attrs(Plain())["pg:json"] == '{"b":2}'
    placeholder = _attrs(Slotted())["pg:repr"]
    assert "Slotted #0x" in placeholder


def test_array_like_is_described_not_copied():
    class FakeTensor:
        shape = (3, 4)
        dtype = "float32"
        device = "cpu"

        def __iter__(self):  # pragma: no cover - must never be iterated
            raise AssertionError("data was read")

    attrs = _attrs(FakeTensor())
    assert attrs["pg:shape"] == "[3,4]" and attrs["pg:dtype"] == "float32" and attrs["pg:device"] == "cpu"
