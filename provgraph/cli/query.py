"""``provgraph query``, ``find``, ``lineage``, ``impact``, ``runs`` and ``diff``: provenance questions from the shell.

Examples::

    provgraph query --list                                       # the named queries in cypher/
    provgraph query task_tree --param run=pgid:run_1234          # any named query, rows as a table
    provgraph query runs --param workflow=train --json           # ... or as JSON
    provgraph query run_diff --show                              # print its Cypher (for Neo4j Browser)
    provgraph lineage pgid:val_ab12_o0 --depth 6
    provgraph impact pgid:file_sha256_9f86 --limit 50
    provgraph runs --workflow train
    provgraph find --path model.pkl                               # ids of files, values, tasks by what they are
    provgraph lineage --file out/model.pkl                        # the file entity with this file's content
    provgraph show pgid:run_1234                                  # a run's tasks, files and values with ids
    provgraph diff pgid:run_1 pgid:run_2
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from provgraph.tables import format_cell, format_table, plain

_INTEGER_PARAMETERS = ("depth", "limit")


def register(subparsers: Any) -> None:
    query = subparsers.add_parser(
        "query",
        help="run a named query from cypher/ (see --list)",
        description="Run a named, parameterised Cypher query from the query library; values are parameters.",
    )
    query.add_argument("name", nargs="?", help="query name (a file cypher/NAME.cypher)")
    query.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="K=V",
        help="a parameter: K=V (text; 'null' for none; depth and limit are numbers) or K:=JSON; repeatable",
    )
    query.add_argument("--list", action="store_true", help="list the named queries and what they answer")
    query.add_argument(
        "--show", action="store_true", help="print the query's Cypher and its header, run nothing"
    )
    _add_output(query)
    query.set_defaults(func=_query)

    for verb, help_text in (
        ("lineage", "everything that led to an element (upstream), nearest first"),
        ("impact", "everything derived from an element (downstream), nearest first"),
    ):
        parser = subparsers.add_parser(
            verb, help=help_text, description=help_text[0].upper() + help_text[1:] + "."
        )
        parser.add_argument(
            "id", metavar="ID", nargs="?", help="the element's qualified name (pgid:...) or full URI"
        )
        parser.add_argument(
            "--file",
            metavar="PATH",
            help="instead of ID: the file entity with this file's content (found by its SHA-256)",
        )
        parser.add_argument(
            "--depth", type=int, default=10, help="relationships to follow, 1-30 (default 10)"
        )
        parser.add_argument("--limit", type=int, default=1000, help="at most this many rows (default 1000)")
        _add_output(parser)
        parser.set_defaults(func=_traverse, verb=verb)

    find = subparsers.add_parser(
        "find",
        help="find elements (values, files, tasks, runs, agents) and their ids by name, path, role or value",
        description=(
            "List elements matching every condition given, files and runs first: the ids to pass to lineage, "
            "impact and the other questions. TEXT matches anywhere in the id, name, label, role, path or value."
        ),
    )
    find.add_argument("text", metavar="TEXT", nargs="?", help="text to look for (case-insensitive)")
    find.add_argument(
        "--name", help="an activity's name (else its label), a value's role or a file's name, exactly"
    )
    find.add_argument("--path", help="a file's path, or its end (model.pkl)")
    find.add_argument("--role", help="the role a value was used or generated in")
    find.add_argument("--value", help="a value (numbers compare numerically)")
    find.add_argument(
        "--run",
        metavar="RUN",
        help="only elements of this run: a run activity, bundle or document (id or URI)",
    )
    find.add_argument(
        "--kind",
        help="entity, activity, agent, file, task, run, loop, campaign or any label of the graph model",
    )
    find.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    _add_output(find)
    find.set_defaults(func=_find)

    show = subparsers.add_parser(
        "show",
        help="one run: its tasks, and the files and values it used and generated, with their ids",
        description=(
            "A run's summary, its task tree, then the files and values its tasks used or generated, each with "
            "the id to ask lineage, impact or entity_runs with."
        ),
    )
    show.add_argument("run", metavar="RUN", help="the run's id or URI (`provgraph runs` lists them)")
    show.add_argument("--limit", type=int, default=1000, help="at most this many rows per section")
    _add_output(show)
    show.set_defaults(func=_show)

    runs = subparsers.add_parser(
        "runs", help="list workflow runs with task counts", description="Workflow runs, newest first."
    )
    runs.add_argument("--workflow", metavar="NAME", help="only runs of this workflow name")
    runs.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    _add_output(runs)
    runs.set_defaults(func=_runs)

    diff = subparsers.add_parser(
        "diff",
        help="steps added, removed or changed between two runs, causes told from consequences",
        description=(
            "Compare two runs: steps are paired by what they did (their place in the task tree and their "
            "inputs), not by start order; each change is a cause (a parameter or an outside input differs) or a "
            "consequence of changed steps upstream (see docs/queries.md)."
        ),
    )
    diff.add_argument("run_a", metavar="RUN_A", help="the baseline run (id or URI)")
    diff.add_argument("run_b", metavar="RUN_B", help="the run to compare with it")
    diff.add_argument(
        "--limit",
        type=int,
        default=20_000,
        help="at most this many steps in the two runs together (default 20000; more is an error, never a partial diff)",
    )
    _add_output(diff)
    diff.set_defaults(func=_diff)


def _add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--wide", action="store_true", help="show every column (tables hide full URIs: *key)")


def _print(rows: Sequence[Any], args: argparse.Namespace, columns: Sequence[str] | None = None) -> None:
    table = [plain(row) for row in rows]
    if args.json:
        print(json.dumps(table, indent=2, ensure_ascii=False, default=str))
        return
    if columns is None and table and not args.wide:
        # an element's full URI repeats its qualified name at twice the width: left to --wide and --json
        columns = [c for c in table[0] if c != "key" and not c.endswith("_key")]
    print(format_table(table, columns))


def _count(rows: Sequence[Any], noun: str = "row") -> str:
    return f"({len(rows)} {noun}{'' if len(rows) == 1 else 's'})"


# --- handlers ---------------------------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    from capture.settings import Settings
    from provgraph.client import Client

    # Neo4j's notifications are off unless PROVGRAPH_NEO4J_NOTIFICATIONS asks for them (the backend's driver)
    return Client(Settings.load(args.settings))


def parse_param(text: str) -> tuple[str, Any]:
    """``K=V`` (text; ``null`` is None; depth and limit as whole numbers) or ``K:=JSON``."""
    from provgraph.errors import ConfigurationError

    key, separator, value = text.partition("=")
    if not separator:
        raise ConfigurationError(f"--param {text!r} is not K=V (or K:=JSON)")
    if key.endswith(":"):
        key = key[:-1].strip()
        try:
            return key, json.loads(value)
        except ValueError as exc:
            raise ConfigurationError(f"--param {key}:= needs JSON ({exc})") from exc
    key = key.strip()
    if value == "null":
        return key, None
    if key in _INTEGER_PARAMETERS:
        try:
            return key, int(value)
        except ValueError as exc:
            raise ConfigurationError(f"--param {key} must be a whole number, not {value!r}") from exc
    return key, value


def _query(args: argparse.Namespace) -> int:
    from provgraph.client import query_parameters
    from provgraph.errors import ConfigurationError
    from provgraph.graph.cypher import catalogue, cypher_dir, load

    if args.list:
        rows: list[dict[str, Any]] = []
        for query in catalogue():
            purpose = query.header.splitlines()[0] if query.header else ""
            purpose = purpose.split(":", 1)[1].strip() if purpose.startswith(query.name + ":") else purpose
            rows.append(
                {
                    "name": query.name,
                    "parameters": [p.name for p in query_parameters(query)],
                    "answers": purpose,
                }
            )
        if args.json:
            _print(rows, args)
        else:
            widths = max(len(r["name"]) for r in rows)
            for row in rows:
                names = " ".join(f"${p}" for p in row["parameters"])
                print(f"{row['name'].ljust(widths)}  {row['answers']}\n{'':{widths}}  params: {names}")
        return 0
    if not args.name:
        raise ConfigurationError("provgraph query needs a query NAME (or --list)")
    if args.show:
        load(args.name)  # checks the name
        print((cypher_dir() / f"{args.name}.cypher").read_text().rstrip())
        return 0
    params = dict(parse_param(p) for p in args.param)
    with _client(args) as client:
        rows = client.run(args.name, **params)
    _print(rows, args)
    if not args.json:
        print(_count(rows), file=sys.stderr)
    return 0


def _find(args: argparse.Namespace) -> int:
    with _client(args) as client:
        found = client.find(
            args.text,
            name=args.name,
            path=args.path,
            role=args.role,
            value=args.value,
            run=args.run,
            kind=args.kind,
            limit=args.limit,
        )
    _print(found, args, ["kind", "name", "role", "value", "path", "runs", "id"])
    if not args.json:
        print(_count(found, "element"), file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from provgraph.client import Found

    with _client(args) as client:
        elements = client.find(run=args.run, limit=args.limit)
        tasks = client.task_tree(args.run, limit=args.limit)
        summary = [e for e in elements if e.id == args.run or e.key == args.run]
        if not summary:  # a document is a run with no element of its own (an imported file)
            run = client.run_summary(args.run)
            summary = [
                Found("Document", run.id, run.workflow, None, None, None, (run.id,), ("Document",), run.key)
            ]
    files = [e for e in elements if e.kind == "File"]
    values = [e for e in elements if "Entity" in e.labels and e.kind != "File"]
    if args.json:
        print(
            json.dumps(
                plain({"run": summary, "tasks": tasks, "files": files, "values": values}),
                indent=2,
                ensure_ascii=False,
                default=str,
            )
        )
        return 0
    for title, rows, columns in (
        ("run", summary, ["kind", "name", "runs", "id"]),
        ("tasks", tasks, ["depth", "name", "status", "duration_s", "id"]),
        ("files", files, ["name", "path", "id"]),
        ("values", values, ["role", "value", "kind", "id"]),
    ):
        print(f"== {title}")
        _print(rows, args, columns)
        print()
    return 0


def _traverse(args: argparse.Namespace) -> int:
    from provgraph.errors import ConfigurationError

    if (args.id is None) == (args.file is None):
        raise ConfigurationError(f"provgraph {args.verb} needs an ID or --file PATH (one of them)")
    with _client(args) as client:
        ref = args.id if args.file is None else client.file_ids(args.file)[0]
        method = client.lineage if args.verb == "lineage" else client.impact
        steps = method(ref, depth=args.depth, limit=args.limit)
    columns = ["depth", "name", "labels", "value", "relation", "via", "id"]
    _print(steps, args, columns)
    if not args.json:
        print(f"{_count(steps, 'element')[:-1]} within {args.depth} relationships)", file=sys.stderr)
    return 0


def _runs(args: argparse.Namespace) -> int:
    with _client(args) as client:
        runs = client.runs(workflow=args.workflow, limit=args.limit)
    columns = ["workflow", "start_time", "status", "tasks", "finished", "failed", "other", "id"]
    _print(runs, args, columns)
    return 0


def _input_cell(value: Any) -> str:
    """An input of a diff's step: ``role=value``, or the value alone where it was used without a role."""
    return f"{value.role}={format_cell(value.value)}" if value.role else format_cell(value.value)


def _diff(args: argparse.Namespace) -> int:
    with _client(args) as client:
        diff = client.diff(args.run_a, args.run_b, limit=args.limit)
    if args.json:
        print(json.dumps(plain(diff), indent=2, ensure_ascii=False, default=str))
        return 0
    rows = [
        {
            "change": change.change,
            "kind": "cause" if change.cause else "consequence",
            # another tool's step may have no name (nor label): its place, not "None"
            "activity": f"{'(no name)' if change.name is None else change.name}#{change.ordinal}",
            "parameters": [
                f"{p.name}: {format_cell(p.value_a)} -> {format_cell(p.value_b)}" for p in change.parameters
            ],
            "removed inputs": [_input_cell(i) for i in change.removed_inputs],
            "added inputs": [_input_cell(i) for i in change.added_inputs],
            "because of": list(change.because),
            "in A": change.activity_a,
            "in B": change.activity_b,
        }
        for change in diff.changes
    ]
    print(format_table(rows))
    print(
        f"({len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed; "
        f"{len(diff.causes)} causes, {len(diff.consequences)} consequences)",
        file=sys.stderr,
    )
    return 0
