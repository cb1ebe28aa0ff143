"""The Neo4j backend's parameters: row lists whose repr is short, packed exactly as plain lists (no server)."""

from __future__ import annotations

from typing import Any

from neo4j._codec.packstream.v1 import Packer

from provgraph.graph.backend import _unprinted


class _Buffer:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


def _packed(value: Any) -> bytes:
    buffer = _Buffer()
    Packer(buffer).pack(value)
    return buffer.data


def _rows() -> dict[str, Any]:
    rows = [
        {
            "key": f"https://example.org/e{i}",
            "sk": f"2-{i:032x}",
            "props": {"n": i, "x": 0.5, "tags": ["a", "b"]},
        }
        for i in range(50)
    ]
    return {"s0_rows": rows, "s1_ids": ["d1", "d2"], "s2_limit": 3}


def test_row_lists_have_a_short_repr() -> None:
    params = _unprinted(_rows())
    assert repr(params["s0_rows"]) == "[... 50 items]"
    assert len(repr(params)) < 100  # what the driver formats for its DEBUG line, on or off
    assert params["s2_limit"] == 3


def test_packed_exactly_as_plain_lists() -> None:
    params = _rows()
    assert _packed(_unprinted(params)) == _packed(params)
    assert _unprinted(params)["s0_rows"] == params["s0_rows"]
