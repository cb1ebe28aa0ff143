"""provgraph/package_files.py: the shipped files are found inside an installed package, else in the checkout.
(tests/test_distribution.py proves the installed case on a real wheel and sdist.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from provgraph import package_files


def test_a_checkout_answers_from_its_root() -> None:
    root = Path(package_files.__file__).resolve().parents[1]
    assert package_files.package_path("cypher") == root / "cypher"
    assert package_files.package_path("deployment/neo4j/pom.xml").is_file()


def test_the_copy_inside_the_package_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package, checkout = tmp_path / "site" / "provgraph", tmp_path / "repo"
    (package / "cypher").mkdir(parents=True)
    (checkout / "cypher").mkdir(parents=True)
    monkeypatch.setattr(package_files, "_PACKAGE", package)
    monkeypatch.setattr(package_files, "_CHECKOUT", checkout)
    assert package_files.package_path("cypher") == package / "cypher"
    assert package_files.package_path("deployment/neo4j/pom.xml") == checkout / "deployment/neo4j/pom.xml"
