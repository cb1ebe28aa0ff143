"""The external PROV corpora the round-trip tests use: documents nobody on this project wrote.

- the PROV-JSON test documents shipped inside the installed ``prov`` package (``prov/tests/json/``) and the
  documents built by ``prov``'s own ``tests/examples.py``;
- the PROV-N documents shipped with it (``prov/tests/provn/``): PROV-N that ProvToolbox, the Java reference
  implementation, wrote (``provtoolbox-corpus/``), ProvToolbox's own PROV-N test documents (``provtoolbox/``) and
  the examples of the PROV-N and PROV-DM Recommendations (``spec/``), each file that ``prov`` parses.
"""

from __future__ import annotations

import functools
import pathlib
import warnings

import prov
from prov.model import ProvDocument


def corpus_dir() -> pathlib.Path:
    return pathlib.Path(prov.__file__).parent / "tests" / "json"


def provn_dir() -> pathlib.Path:
    return pathlib.Path(prov.__file__).parent / "tests" / "provn"


def corpus() -> list[tuple[str, ProvDocument]]:
    """(name, document) for every PROV-JSON corpus document and ``prov``'s examples, in a stable order."""
    from prov.tests import examples

    documents = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scruffy documents are part of the point
        for path in sorted(corpus_dir().glob("*.json")):
            documents.append((path.name, ProvDocument.deserialize(str(path), format="json")))
    documents.extend((f"examples.{name}", build()) for name, build in examples.tests)
    return documents


@functools.cache
def _provn_paths() -> tuple[pathlib.Path, ...]:
    return tuple(sorted(provn_dir().rglob("*.provn")))


def provn_corpus() -> list[tuple[str, ProvDocument]]:
    """(name, document) for every PROV-N file of the corpus that ``prov`` parses (names relative to
    ``prov/tests/provn/``); the files it refuses are the ones its own tests list as not PROV-N."""
    documents = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in _provn_paths():
            try:
                document = ProvDocument.deserialize(str(path), format="provn")
            except Exception:  # prov's own corpus lists these as incomplete or unsupported statements
                continue
            documents.append((str(path.relative_to(provn_dir())), document))
    return documents


def all_documents() -> list[tuple[str, ProvDocument]]:
    """Both corpora."""
    return corpus() + provn_corpus()
