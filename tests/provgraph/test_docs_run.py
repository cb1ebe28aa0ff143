"""Docs that run: every `provgraph` command in README.md and docs/*.md, run against the graph the docs describe.

The graph is what a reader gets with the documented commands, in a fresh PROVGRAPH_HOME on the embedded default
with no server started by hand: the README quickstart (`python quickstart.py`), `provgraph demo --queries-graph`
(the example graph of docs/queries.md) and `provgraph demo`. Commands are the lines of fenced blocks that start
with `provgraph` (or `$ provgraph`, a transcript); a trailing `# comment` is dropped. Each must exit 0 without a
traceback, and a transcript command must not answer "(no rows)".

A command is not run only when it is in `SKIP` (each with its reason) or is a synopsis (`[...]`, `a|b`, `...`:
syntax, not a command). Placeholders a reader replaces (`<run id>`, `RUN_ID`) are replaced by ids of that graph
(`PLACEHOLDERS`). `test_skip_list_is_current` keeps the skip list honest: every entry still matches a command.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_COMMENT = re.compile(r"\s+#\s.*$")

SKIP = {
    "provgraph services up": "starts Neo4j and Redis on the standard ports; tests use their own servers",
    "provgraph services status": "reports the standard-port servers, which tests do not start",
    "provgraph services down": "stops the standard-port servers, which tests do not start",
    "provgraph load": "runs until Ctrl-C; the bounded form (`load --until-idle 1`, docs/loader.md) runs",
    "provgraph browser": "serves Neo4j Browser's files until Ctrl-C and needs Neo4j",
    "provgraph tail": "follows the stream until Ctrl-C; the bounded forms run",
    "provgraph tail --workflow train": "follows the stream until Ctrl-C",
    "provgraph tail --kind task --kind llm": "follows the stream until Ctrl-C",
    "provgraph tail --status ERROR": "follows the stream until Ctrl-C",
    "provgraph tail --since 1h": "shows history, then follows the stream until Ctrl-C",
    "provgraph tail --from-id 0": "shows the stream, then follows it until Ctrl-C",
    "provgraph tail --json": "follows the stream until Ctrl-C",
    "provgraph tail --idle-exit 30": "waits 30 s for a stream entry by design",
    "provgraph import trace.provx other.json": "imports the reader's own files",
    "provgraph import trace.json --doc pgid:my_trace": "imports the reader's own file",
    "provgraph import ./traces": "imports the reader's own directory (tests/provgraph/test_third_party_prov.py)",
    "provgraph import trace.json --via-stream": "imports the reader's own file (tests/provgraph/test_cli_failures.py "
    "runs --via-stream on the embedded default)",
    "provgraph roundtrip ./my-prov-files --format xml --verbose": "round-trips the reader's own files",
    "provgraph replay ./buffer --stream provgraph:records --redis-url redis://127.0.0.1:6379/0": "sends to the Redis "
    "on the standard port, which tests do not start",
    "provgraph verify --run RUN_ID --public-key audit.pem.pub": "needs a run loaded with PROVGRAPH_AUDIT_DIGESTS and "
    "a signing key (tests/provgraph/test_audit*.py)",
    "provgraph verify --run RUN_ID": "shows a tampered run (tests/provgraph/test_audit*.py tamper with one)",
    "provgraph verify --run RUN_ID --evidence-out run.audit.json": "needs a run loaded with audit digests "
    "(PROVGRAPH_AUDIT_DIGESTS=1); tests/provgraph/test_audit*.py make one",
    "provgraph verify --evidence run.audit.json --export run.json --public-key audit.pem.pub": "needs the evidence "
    "of a signed load (the command above); tests/provgraph/test_audit*.py make one",
    "provgraph verify --run <run id>": "answers for a run loaded with PROVGRAPH_AUDIT_DIGESTS=1 (docs/audit.md); "
    "the documented graph is loaded without it, so verify rightly reports that (exit 1)",
}
"""Commands not run, each with why. Keys are the commands as the docs write them (comment dropped)."""

PLACEHOLDERS = {
    "<entity id>": "o2",  # the quickstart's result, found with `provgraph find --role o2`
    "<run A>": "pgid:run_a_demo",
    "<run B>": "pgid:run_b_demo",
    "<run id>": "pgid:run_a_demo",
    "RUN_ID": "pgid:run_b_demo",
    "TASK_ID": "pgid:b_train_demo",
    "RESULT_ID": "pgid:b_model_demo",
    "--run ID": "--run quickstart",  # purge: the quickstart's run, the one a reader can spare
    "--doc ID": "--doc quickstart",  # purge: the quickstart run's document (its id, set in the fixture)
    "model.pkl": "model",  # README: the demo's model file stands in for the reader's (`demo` writes model.json)
    "--file PATH": "--file model",  # the same file
    "query NAME --show": "query runs --show",
    "show RUN": "show pgid:run_a_demo",
    "RUN_A": "pgid:run_a_demo",
    "RUN_B": "pgid:run_b_demo",
}
"""Placeholders and the reader's own names, replaced by ids and files of the graph the docs describe."""


@dataclass(frozen=True)
class DocCommand:
    path: Path
    line: int
    text: str
    transcript: bool

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text}"


def doc_commands(path: Path) -> list[DocCommand]:
    text = path.read_text()
    found = []
    for block in _FENCE.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        for offset, raw in enumerate(block.group(1).splitlines()):
            line = raw.strip()
            transcript = line.startswith("$ ")
            line = line[2:] if transcript else line
            if line == "provgraph" or line.startswith("provgraph "):
                found.append(DocCommand(path, first_line + offset, _COMMENT.sub("", line), transcript))
    return found


def is_synopsis(command: str) -> bool:
    return "[" in command or "|" in command or "..." in command


def test_skip_list_is_current():
    commands = {c.text for path in DOCS for c in doc_commands(path)}
    stale = sorted(set(SKIP) - commands)
    assert not stale, f"skip entries that match no command in the docs any more: {stale}"
    assert len(commands) > 60  # the extraction still finds the docs' commands


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """A reader's shell: fresh PROVGRAPH_HOME on the embedded default, the documented graph loaded."""
    home = tmp_path_factory.mktemp("reader-home")
    cwd = tmp_path_factory.mktemp("reader-cwd")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVGRAPH_")}
    env.update(
        PYTHONPATH=str(ROOT),
        PROVGRAPH_HOME=str(home),
        PROVGRAPH_SETTINGS=str(home / "no-settings.yaml"),
        PROVGRAPH_EMBEDDED_IDLE_S="5",
        XDG_CONFIG_HOME=str(home / "config"),  # `init-settings` writes the reader's settings file here
    )
    from test_first_run import readme_quickstart

    (cwd / "quickstart.py").write_text(readme_quickstart())
    for step in (
        [sys.executable, "quickstart.py"],
        [sys.executable, "-m", "provgraph", "demo", "--queries-graph"],
        [sys.executable, "-m", "provgraph", "demo", "--epochs", "2"],
    ):
        done = subprocess.run(step, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (step, done.stderr)
    found = subprocess.run(
        [sys.executable, "-m", "provgraph", "find", "--role", "o2", "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    model = str(home / "demo" / "work" / "model.json")
    values = {
        **PLACEHOLDERS,
        "<entity id>": json.loads(found.stdout)[0]["id"],
        "model.pkl": model,
        "--file PATH": f"--file {model}",
    }
    quickstart_run = json.loads(
        subprocess.run(
            [sys.executable, "-m", "provgraph", "runs", "--workflow", "quickstart", "--json"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    )[0]["id"]
    values["--run ID"] = f"--run {quickstart_run}"
    values["--doc ID"] = f"--doc {quickstart_run}"  # capture names a run's document after the run
    (cwd / "buffer").mkdir()  # `provgraph replay ./buffer`: an (empty) offline buffer directory
    yield cwd, env, values
    subprocess.run(
        [sys.executable, "-m", "provgraph", "embedded", "down"], env=env, capture_output=True, timeout=120
    )


@pytest.mark.parametrize("path", [p for p in DOCS if doc_commands(p)], ids=lambda p: p.name)
def test_every_command_in_the_docs_runs(path, reader):
    cwd, env, values = reader
    failures = []
    ran = 0
    for command in doc_commands(path):
        if command.text in SKIP or is_synopsis(command.text):
            continue
        text = command.text
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        argv = shlex.split(text)
        done = subprocess.run(
            [sys.executable, "-m", "provgraph", *argv[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        ran += 1
        output = done.stdout + done.stderr
        if done.returncode not in (0, 3) or "Traceback" in output:  # 3: `status` verbs saying "not running"
            failures.append(f"{command}\n    exit {done.returncode}: {output.strip()[-800:]}")
        elif command.transcript and "(no rows)" in output:
            failures.append(f"{command}\n    answered (no rows), unlike the docs")
    assert not failures, "\n".join(failures)
    if not ran:  # reported as skipped, never as a pass
        pytest.skip(f"every command of {path.name} is on the skip list (reasons in SKIP)")


def test_the_shipped_queries_graph_is_the_tests_known_graph():
    """`provgraph demo --queries-graph` loads exactly the graph the query tests (and docs/queries.md) use."""
    from _known_graph import build

    from capture import wire
    from provgraph.demo import QUERIES_GRAPH

    shipped = [
        wire.decode_message(line)
        for line in (ROOT / "provgraph" / "examples" / QUERIES_GRAPH).read_bytes().splitlines()
    ]
    expected = build("demo").messages
    # what the graph holds: documents, records, prefixes (not which process encoded them, or when)
    assert [(m.doc, m.records, m.namespaces) for m in shipped] == [
        (m.doc, m.records, m.namespaces) for m in expected
    ], "regenerate provgraph/examples/queries_graph.jsonl from tests/provgraph/_known_graph.build('demo')"
