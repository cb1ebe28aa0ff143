"""provgraph's errors, CLI failure lines and logs never print a credential, including driver text."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from provgraph.errors import ServiceError, StoreUnavailable, WireFormatError
from provgraph.redaction import ScrubbingFilter, install_log_scrubbing

NEO4J_HOSTPORT = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687").split("://", 1)[1]
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
GITHUB = "ghp_" + "k3Jd9sQpLm2Xv7RtYw8ZaBc4EfGh6Ij1Nn0O"


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provgraph", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.services  # the Neo4j driver's own error text
@pytest.mark.parametrize("verb", [["status"], ["load", "--once", "--quiet"]])
def test_graph_url_password_never_printed_even_from_the_driver(verb, unique):
    """The issue's case: the Neo4j driver repeats the URL (with its password) in its error text."""
    password = f"Gr4ph-Pw-{unique}"
    result = _cli(
        ["-v", *verb],
        {
            "PROVGRAPH_GRAPH_URL": f"bolt://neo4j:{password}@{NEO4J_HOSTPORT}",
            "PROVGRAPH_REDIS_URL": REDIS_URL,
            "PROVGRAPH_STREAM": f"provgraph:test:{unique}:records",
            "PROVGRAPH_DEAD_LETTER_STREAM": f"provgraph:test:{unique}:dead",
            "PROVGRAPH_CONSUMER_GROUP": f"loader-{unique}",
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Neo4j" in output and "[REDACTED:" in output, output
    assert password not in output


def test_redis_url_password_never_printed(unique):
    password = f"R3dis-Pw-{unique}"
    result = _cli(
        ["-v", "status", "--no-graph"], {"PROVGRAPH_REDIS_URL": f"redis://:{password}@127.0.0.1:1/0"}
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert password not in output


def test_errors_scrub_their_own_message():
    url = "bolt://neo4j:Err-Pw-1234@h:7687"
    for error in (
        StoreUnavailable(f"driver said: Given URI: '{url}'", url),
        WireFormatError(f"bad entry with token {GITHUB}"),
        ServiceError("redis failed", log_tail=f"requirepass {GITHUB} ... {url}"),
    ):
        text = str(error) + repr(error.args) + str(getattr(error, "url", "")) + getattr(error, "log_tail", "")
        assert "Err-Pw-1234" not in text and GITHUB not in text, text


def test_log_records_are_scrubbed(caplog):
    logger = logging.getLogger("provgraph.test_scrubbing")
    handler = logging.StreamHandler()
    records: list[str] = []
    handler.emit = lambda record: records.append(handler.format(record))  # type: ignore[method-assign]
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_scrubbing()
        assert any(isinstance(f, ScrubbingFilter) for f in handler.filters)
        try:
            raise RuntimeError("connect failed: redis://:Log-Pw-5678@h:6379/0")
        except RuntimeError:
            logger.error("retrying %s with %s", "bolt://u:Log-Pw-9999@h", GITHUB, exc_info=True)
    finally:
        root.removeHandler(handler)
    text = "\n".join(records)
    assert "retrying" in text and "RuntimeError" in text
    assert "Log-Pw-5678" not in text and "Log-Pw-9999" not in text and GITHUB not in text, text
