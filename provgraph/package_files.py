"""Where the files provgraph ships beside its code are: the query library and the Neo4j deployment files.

In a source checkout they sit at the repository root (``cypher/``, ``deployment/neo4j/``), where people read and
edit them. The wheel and the sdist carry copies inside the package (``provgraph/cypher/``,
``provgraph/deployment/neo4j/``; see ``[tool.hatch.build]`` in pyproject.toml). `package_path` answers with the
installed copy when there is one, else with the checkout's.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["package_path"]

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def package_path(relative: str) -> Path:
    """The shipped file or folder ``relative`` (``"cypher"``, ``"deployment/neo4j/pom.xml"``).

    The copy inside the installed package comes first; a source checkout has none, so its root answers. The
    path may not exist (a checkout without the folder): callers say what is missing.
    """
    installed = _PACKAGE / relative
    if installed.exists():
        return installed
    return _CHECKOUT / relative
