"""``provgraph export``, ``provgraph import`` and ``provgraph roundtrip``: PROV documents in and out of the graph.

Examples::

    provgraph export --run pgid:run_1234 --format turtle -o run.ttl
    provgraph export --lineage pgid:file_sha256_ab12 --format provn
    provgraph import trace.provx                       # format from the suffix
    provgraph import ./traces                          # every PROV file in the directory
    provgraph import mlflow --tracking-uri sqlite:///mlflow.db   # MLflow runs (docs/adapters.md)
    provgraph roundtrip ./my-prov-files --format xml   # last line: N/M identical
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any

from provgraph.prov.export import EXPORT_FORMATS

_INPUT_SUFFIXES = (".json", ".provn", ".pn", ".xml", ".provx", ".ttl", ".turtle", ".trig", ".jsonld")


def register(subparsers: Any) -> None:
    export = subparsers.add_parser(
        "export",
        help="export a run, document, campaign, lineage or everything as PROV",
        description="Export PROV from the graph: PROV-JSON, PROV-N, PROV-XML, Turtle, TriG or PROV-JSONLD.",
    )
    scope = export.add_mutually_exclusive_group(required=True)
    scope.add_argument("--run", metavar="ID", help="a workflow run (its document)")
    scope.add_argument("--doc", metavar="ID", help="a stored document (a run or an imported file)")
    scope.add_argument("--campaign", metavar="ID", help="a campaign: its runs' documents")
    scope.add_argument("--lineage", metavar="ID", help="the upstream lineage of an entity (or any element)")
    scope.add_argument("--all", action="store_true", help="every document in the graph")
    export.add_argument("--format", "-f", choices=EXPORT_FORMATS, default="json", help="output format (json)")
    export.add_argument("-o", "--output", metavar="FILE", default="-", help="output file (default: stdout)")
    export.add_argument(
        "--rdf-direct",
        action="store_true",
        help="turtle/trig: also write prov:used, prov:wasGeneratedBy, ... beside each qualified influence "
        "(PROV readers then read one more record per influence)",
    )
    export.set_defaults(func=_export)

    importer = subparsers.add_parser(
        "import",
        help="import PROV documents into the graph",
        description="Import PROV documents through the loader's write path, so they answer the same Cypher.",
    )
    importer.add_argument(
        "files", nargs="+", metavar="FILE", help="PROV files, or directories: their PROV files (by suffix)"
    )
    importer.add_argument(
        "--format", "-f", choices=EXPORT_FORMATS, help="input format (default: from the suffix)"
    )
    importer.add_argument(
        "--doc", metavar="ID", help="document id (one file only; default: from its content hash)"
    )
    importer.add_argument(
        "--via-stream", action="store_true", help="append to the Redis stream for a running loader instead"
    )
    mlflow = importer.add_argument_group("MLflow runs (`provgraph import mlflow --tracking-uri URI`)")
    mlflow.add_argument(
        "--tracking-uri", metavar="URI", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI)"
    )
    mlflow.add_argument(
        "--experiment", action="append", metavar="NAME_OR_ID", help="only this experiment (repeatable)"
    )
    mlflow.add_argument("--run-id", action="append", metavar="ID", help="only this MLflow run (repeatable)")
    importer.set_defaults(func=_import)

    roundtrip = subparsers.add_parser(
        "roundtrip",
        help="import PROV files, export them again and compare",
        description=(
            "Import each document into the graph under a fresh document id, export it as --format, read that "
            "back with prov and compare it with the original strictly (every record as often as written, exact "
            "lexical forms, time-zone offsets, prefixes, namespace declarations), and by prov's == beside. The "
            "last line is 'N/M identical'. A document prov itself changes through the format is held to what "
            "prov alone keeps; one prov cannot round-trip at all is not counted. The imported documents are "
            "removed from the graph at the end unless --keep."
        ),
    )
    roundtrip.add_argument("paths", nargs="+", metavar="DIR_OR_FILE")
    roundtrip.add_argument(
        "--format", "-f", choices=EXPORT_FORMATS, default="json", help="format to compare in"
    )
    roundtrip.add_argument(
        "--input-format", choices=EXPORT_FORMATS, help="format of the files (default: suffix)"
    )
    roundtrip.add_argument(
        "--verbose", dest="show_differences", action="store_true", help="list the differences found"
    )
    roundtrip.add_argument(
        "--keep", action="store_true", help="leave the imported documents in the graph (ids on stderr)"
    )
    roundtrip.set_defaults(func=_roundtrip)


def _settings(args: argparse.Namespace) -> Any:
    from capture.settings import Settings

    return Settings.load(args.settings)


def _progress(count: int) -> None:
    print(f"  {count} records read", file=sys.stderr, flush=True)


def _export(args: argparse.Namespace) -> int:
    from provgraph.graph import open_backend
    from provgraph.prov.export import export

    with open_backend(_settings(args)) as backend:
        text = export(
            backend,
            fmt=args.format,
            out=None if args.output == "-" else args.output,
            doc=args.doc,
            run=args.run,
            campaign=args.campaign,
            lineage_of=args.lineage,
            everything=args.all,
            progress=_progress,
            rdf_direct=args.rdf_direct,
        )
    if text is not None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    if args.output != "-":
        print(f"wrote {args.output} ({args.format})", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    from provgraph.errors import ConfigurationError, ProvgraphError, StoreUnavailable
    from provgraph.graph import open_backend
    from provgraph.prov.importer import import_document

    if args.files == ["mlflow"]:
        from provgraph.cli.adapters import import_mlflow_command

        return import_mlflow_command(args, _settings(args))
    if args.tracking_uri or args.experiment or args.run_id:
        raise ConfigurationError(
            "--tracking-uri, --experiment and --run-id are for `provgraph import mlflow`"
        )
    refused: dict[str, str] = {}
    files: list[str] = []
    for raw in args.files:  # a directory: its PROV files (by suffix), in name order
        path = Path(raw)
        if not path.is_dir():
            files.append(raw)
            continue
        found = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix.lower() in _INPUT_SUFFIXES)
        if not found:
            refused[raw] = f"no PROV files ({', '.join(_INPUT_SUFFIXES)}) in the directory"
            print(f"{raw}: refused: {refused[raw]}", file=sys.stderr)
        files.extend(found)
    if args.doc and len(files) > 1:
        raise ConfigurationError("--doc names one document; give one file with it")
    settings = _settings(args)

    def each_file(store: Any, **options: Any) -> None:
        # every file is tried: one that cannot be read or stored is named with its reason, the rest still go in
        for path in files:
            try:
                result = import_document(store, path, args.format, doc=args.doc, **options)
            except StoreUnavailable:  # no file can go in: the command's one error
                raise
            except ProvgraphError as exc:  # unreadable, or a value the store cannot keep: this file only
                refused[path] = _one_line(str(exc))
                print(f"{path}: refused: {refused[path]}", file=sys.stderr)
                continue
            where = "queued on the stream" if options.get("via_stream") else "stored"
            print(f"{path}: {result.records} records {where} as document {result.doc}")

    if args.via_stream:  # the stream only: a loader (on the embedded default, the automatic one) loads it
        each_file(settings, via_stream=True)
    else:
        with open_backend(settings) as backend:
            backend.ensure_schema()
            each_file(backend, settings=settings)
    if refused:
        given = len(files) + sum(1 for name in refused if name not in files)  # empty directories count once
        print(f"{len(refused)} of {given} files refused", file=sys.stderr)
        return 1
    return 0


def _one_line(text: str, limit: int = 2000) -> str:
    """An error as one line of about ``limit`` characters at most (a store's message may quote a whole value): its
    start and its end, where a driver puts the reason."""
    line = " ".join(text.split())
    return line if len(line) <= limit else f"{line[: limit // 2]} ... {line[-(limit // 2) :]}"


def _input_files(paths: list[str]) -> list[Path]:
    from provgraph.errors import ConfigurationError

    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _INPUT_SUFFIXES)
            )
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigurationError(f"{raw}: no such file or directory")
    if not files:
        raise ConfigurationError(f"no PROV files ({', '.join(_INPUT_SUFFIXES)}) in {', '.join(paths)}")
    return files


def _roundtrip(args: argparse.Namespace) -> int:
    from provgraph.errors import ExportError
    from provgraph.graph import open_backend
    from provgraph.prov.compare import roundtrip
    from provgraph.prov.importer import read_document

    documents = []
    unreadable: dict[str, str] = {}
    for path in _input_files(args.paths):
        try:
            documents.append((str(path), read_document(path, args.input_format)))
        except ExportError as exc:  # named with its reason; the other files still go round
            unreadable[str(path)] = str(exc)
            print(f"{path}: not read: {exc}", file=sys.stderr)
    prefix = f"pgid:roundtrip_{uuid.uuid4().hex[:12]}_"
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 - progress lines
    with open_backend(_settings(args)) as backend:
        backend.ensure_schema()
        (result,) = roundtrip(
            backend, documents, [args.format], doc_prefix=prefix, progress=say, keep=args.keep
        )
    for name, diffs in result.different.items():
        print(f"DIFFERENT {name}")
        if args.show_differences:
            for line in diffs:
                print(f"    {line}")
    if result.loose:
        print(
            f"{len(result.loose)} documents compared by prov's == only: prov itself changes them through "
            f"{args.format}" + (": " + ", ".join(result.loose) if args.show_differences else "")
        )
    if result.merged:
        print(
            f"{len(result.merged)} documents declare an element more than once: PROV-JSON gives each element once "
            "with the attributes of all its declarations; compared with the original merged the same way"
            + (": " + ", ".join(result.merged) if args.show_differences else "")
        )
    if result.inexpressible:
        print(
            f"{len(result.inexpressible)} documents not counted: prov itself cannot round-trip them "
            f"through {args.format}"
            + (": " + ", ".join(result.inexpressible) if args.show_differences else "")
        )
    if args.keep:
        print(f"documents kept in the graph as {prefix}0..{len(documents) - 1}", file=sys.stderr)
    counted = result.counted + len(unreadable)
    print(f"{result.prov_equal}/{result.counted} equal by prov's ==")
    print(f"{len(result.identical)}/{counted} identical")
    return 0 if len(result.identical) == counted else 1
