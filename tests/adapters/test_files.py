"""`capture.watch` on the real watchdog observer: files created, modified and deleted in a watched folder during a
run become File entities of the run (content hashes), with the exact relations docs/adapters.md describes."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from _adapter_helpers import edges, run_captured

pytestmark = [pytest.mark.adapters, pytest.mark.services]

WORKLOAD = r"""
import json, os, sys, time
import capture

folder, token = sys.argv[1], sys.argv[2]  # the token makes this run's contents its own (content-hashed ids)
os.makedirs(os.path.join(folder, "sub"))
for name, text in (("kept.txt", "kept"), ("old.txt", "old")):
    with open(os.path.join(folder, name), "w") as handle:
        handle.write(text + token)


def write(name, text):
    with open(os.path.join(folder, name), "w") as handle:
        handle.write(text + token)


def wait_for(watch, count):
    deadline = time.monotonic() + 20
    while len(watch.changes) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(watch.changes) >= count, watch.changes


with capture.Workflow("watch_test") as run:
    with capture.watch(folder, ignore_patterns=["*.tmp"]) as watch:
        write("a.txt", "one")
        wait_for(watch, 1)
        write("a.txt", "two")
        wait_for(watch, 2)
        os.remove(os.path.join(folder, "old.txt"))
        wait_for(watch, 3)
        write("note.tmp", "ignored")
        write("sub/b.txt", "bee")       # recorded by its event, or at the latest by stop()'s look at the folder
    print("run:", run.id)
    print("changes:", json.dumps([[c.event, os.path.relpath(c.path, folder)] for c in watch.changes]))
"""


TOKEN = uuid.uuid4().hex


def _file(text: str) -> str:
    return "pgid:file_sha256_" + hashlib.sha256((text + TOKEN).encode()).hexdigest()


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("watch")
    lines, messages = run_captured(WORKLOAD, tmp, str(tmp / "watched"), TOKEN)
    return lines, messages


def test_watched_folder_changes_are_file_entities_of_the_run(captured, load, any_backend):
    lines, messages = captured
    run = lines["run"]
    assert json.loads(lines["changes"]) == [
        ["created", "a.txt"],
        ["modified", "a.txt"],
        ["deleted", "old.txt"],
        ["created", "sub/b.txt"],
    ]
    load(messages)
    rows = [row for row in edges(any_backend, run) if "File" in row["s_labels"] or "File" in row["t_labels"]]
    one, two, old, bee = _file("one"), _file("two"), _file("old"), _file("bee")
    # each generation (and the copy a deletion invalidates) is its own entity, a specialisation of its content's
    specific = {row["s"]: row["t"] for row in rows if row["type"] == "specializationOf"}
    contents = {one: "one", two: "two", old: "old", bee: "bee"}

    def name(node: str) -> str:
        return contents[specific[node]] + "'" if node in specific else contents.get(node, node)

    files = {
        (
            row["type"],
            name(row["s"]),
            name(row["t"]),
            row["props"].get("event"),
            row["props"].get("role"),
            tuple(row["props"].get("types") or ()),
        )
        for row in rows
    }
    assert files == {
        ("wasGeneratedBy", "one'", run, "created", "a.txt", ()),
        ("wasGeneratedBy", "two'", run, "modified", "a.txt", ()),
        ("wasDerivedFrom", "two'", "one'", None, None, ("prov:Revision",)),
        (
            "wasInvalidatedBy",
            "old'",
            run,
            "deleted",
            "old.txt",
            (),
        ),  # a copy, never the shared content entity
        ("wasGeneratedBy", "bee'", run, "created", "sub/b.txt", ()),
        *(("specializationOf", f"{c}'", c, None, None, ()) for c in ("one", "two", "old", "bee")),
    }
    assert len(specific) == 4 and not set(specific) & set(contents)
    nodes = any_backend.read(
        "MATCH (f:File) WHERE f.id IN $ids RETURN f.id AS id, f.sha256 AS sha, f.size AS size, f.path AS path",
        {"ids": [one, two, old, bee, *specific]},
    )
    by_id = {row["id"]: row for row in nodes}
    assert set(by_id) == {one, two, old, bee, *specific}
    assert by_id[bee]["sha"] == hashlib.sha256(f"bee{TOKEN}".encode()).hexdigest()
    assert by_id[bee]["size"] == 3 + len(TOKEN)
    (bee_written,) = [node for node, content in specific.items() if content == bee]
    assert by_id[bee_written]["path"].endswith("/watched/sub/b.txt")
