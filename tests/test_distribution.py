"""The wheel is the product: built, installed into a fresh virtual environment, it answers queries.

One build (`python -m build`: the sdist, then the wheel from that sdist) gives both artifacts; each goes into its
own new venv with its dependencies (from the package index, through pip's cache), and the installed `provgraph`
command runs the demo on the embedded default, lists the query library and answers a lineage question, in a
temporary home and working directory, with no path back to this checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.embedded]

REPO = Path(__file__).resolve().parents[1]


def _run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)  # noqa: S603
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that could reach this checkout or its settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PROVGRAPH_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        env=_clean_env(),
        cwd=out,
    )
    (wheel,) = out.glob("provgraph-*.whl")
    (sdist,) = out.glob("provgraph-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installed_distribution_runs_the_demo_and_answers_queries(
    kind: str, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)  # pip runs from outside (--python): no bootstrap
    python = env_dir / "bin" / "python"
    _run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install",
            "--disable-pip-version-check", "--quiet", f"{artifacts[kind]}[embedded]",
        ],
        env=_clean_env(),
        cwd=tmp_path,
    )  # fmt: skip

    work = tmp_path / "work"
    work.mkdir()
    env = _clean_env(
        PATH=f"{env_dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        PROVGRAPH_HOME=str(tmp_path / "home"),
        PROVGRAPH_SETTINGS=str(tmp_path / "no-settings.yaml"),
    )
    provgraph = str(env_dir / "bin" / "provgraph")

    # the code and its shipped files come from the venv, not from this checkout
    where = _run(
        [
            str(python), "-c",
            "import provgraph; from provgraph.graph.cypher import cypher_dir; "
            "from provgraph.services.managed import _pom_path, neo4j_version; "
            "print(provgraph.__file__); print(cypher_dir()); print(_pom_path()); print(neo4j_version())",
        ],
        env=env,
        cwd=work,
    ).split()  # fmt: skip
    site = str(env_dir.resolve())
    assert all(path.startswith(site) for path in where[:3]), where
    assert where[1].endswith("/provgraph/cypher") and where[2].endswith("/provgraph/deployment/neo4j/pom.xml")
    assert re.fullmatch(r"\d+\.\d+\.\d+", where[3]), where

    demo = _run([provgraph, "demo"], env=env, cwd=work)
    assert "done." in demo
    ask = re.search(r"provgraph lineage (\S+?)`", demo)
    assert ask, demo

    listed = _run([provgraph, "query", "--list"], env=env, cwd=work)
    assert "lineage_upstream" in listed and "schema" not in listed.split()

    lineage = _run([provgraph, "lineage", ask.group(1), "--json"], env=env, cwd=work)
    assert "generate_measurements" in lineage, lineage
