"""capture: record what a Python workflow did, as W3C PROV, with minimal code changes.

This package is the light producer side: importing it loads only the standard library; redis-py and psutil are
imported on first use; it never imports neo4j, prov, rdflib or the store package `provgraph`.
"""

from __future__ import annotations

__all__: list[str] = []
