"""The external PROV corpus the round-trip tests use: documents nobody on this project wrote.

The PROV-JSON test documents shipped inside the installed ``prov`` package (``prov/tests/json/``) and the
documents built by ``prov``'s own ``tests/examples.py``.
"""

from __future__ import annotations

import pathlib
import warnings

import prov
from prov.model import ProvDocument


def corpus_dir() -> pathlib.Path:
    return pathlib.Path(prov.__file__).parent / "tests" / "json"


def corpus() -> list[tuple[str, ProvDocument]]:
    """(name, document) for every corpus document, in a stable order."""
    from prov.tests import examples

    documents = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scruffy documents are part of the point
        for path in sorted(corpus_dir().glob("*.json")):
            documents.append((path.name, ProvDocument.deserialize(str(path), format="json")))
    documents.extend((f"examples.{name}", build()) for name, build in examples.tests)
    return documents
