"""The ``provgraph`` command line: one subcommand per verb, each registered by its own module.

Every command exits non-zero with one line and a hint on failure; ``--verbose`` turns on logging.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from capture.settings import SettingsError
from provgraph.errors import ProvgraphError
from provgraph.redaction import install_log_scrubbing, scrub, scrubbed_traceback

# Each module defines ``register(subparsers)``, adding its verbs with ``set_defaults(func=handler)``; a handler
# takes the parsed arguments and returns an exit code. Heavy imports stay inside the handlers.
COMMAND_MODULES = [
    "provgraph.cli.services",
    "provgraph.cli.export",
    "provgraph.cli.query",
    "provgraph.cli.load",
    "provgraph.cli.embedded",
    "provgraph.cli.demo",
    "provgraph.cli.capture",
    "provgraph.cli.browser",
    "provgraph.cli.tokens",
    "provgraph.cli.tail",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provgraph",
        description="Provenance store for Python workflows: W3C PROV in a graph you can query with Cypher.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what provgraph does (to stderr)")
    parser.add_argument(
        "--settings",
        metavar="FILE",
        help="settings file (default: $PROVGRAPH_SETTINGS, then ~/.config/provgraph/settings.yaml)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    install_log_scrubbing()  # no log line prints a credential, whatever a driver put in it
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ProvgraphError as exc:
        print(f"provgraph: {scrub(str(exc))}", file=sys.stderr)
        return 1
    except SettingsError as exc:
        print(f"provgraph: bad setting: {scrub(str(exc))} (see docs/environment.md)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("provgraph: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - unexpected: the traceback is printed, scrubbed of credentials
        print(scrubbed_traceback(exc), file=sys.stderr, end="")
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
