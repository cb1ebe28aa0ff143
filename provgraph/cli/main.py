"""The ``provgraph`` command line: one subcommand per verb, each registered by its own module.

Every command exits non-zero with one line and a hint on failure (no traceback for a known problem, SIGTERM,
Ctrl-C or a closed pipe: exit 143, 130, 141); ``--verbose`` turns on logging, otherwise warnings print as one
``provgraph: ...`` line each.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from typing import Any

import provgraph
from capture.settings import SettingsError
from provgraph.errors import ProvgraphError, ServiceError
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
    "provgraph.cli.purge",
    "provgraph.cli.verify",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="provgraph",
        description="Provenance store for Python workflows: W3C PROV in a graph you can query with Cypher.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what provgraph does (to stderr)")
    parser.add_argument("--version", action="version", version=f"provgraph {provgraph.__version__}")
    parser.add_argument(
        "--settings",
        metavar="FILE",
        help="settings file (default: $PROVGRAPH_SETTINGS, then ~/.config/provgraph/settings.yaml)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _one_line(text: str) -> str:
    """A message as one line: drivers put line breaks in theirs."""
    return " ".join(text.split())


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C (``finally`` blocks stop what the command started), no traceback."""


def _terminate(signum: int, _frame: Any) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    else:
        # warnings as one plain line each ("provgraph: ..."), not the logging module's bare fallback
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("provgraph: %(message)s"))
        handler.setLevel(logging.WARNING)
        logging.getLogger("provgraph").addHandler(handler)
    install_log_scrubbing()  # no log line prints a credential, whatever a driver put in it
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous_term = signal.signal(signal.SIGTERM, _terminate)  # a verb may install its own (`load`)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`provgraph query NAME --show | head`): nothing more to say, and nowhere to say it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Terminated:
        print("provgraph: terminated", file=sys.stderr)
        return 143
    except ServiceError as exc:  # its message ends with the server's log tail, worth its lines
        print(f"provgraph: {scrub(str(exc))}", file=sys.stderr)
        return 1
    except ProvgraphError as exc:
        print(f"provgraph: {_one_line(scrub(str(exc)))}", file=sys.stderr)
        return 1
    except SettingsError as exc:
        print(f"provgraph: bad setting: {scrub(str(exc))} (see docs/environment.md)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("provgraph: interrupted", file=sys.stderr)
        return 130
    except ConnectionError as exc:  # capture's "no embedded server" and the OS's refusals
        print(f"provgraph: {_one_line(scrub(str(exc)))}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - unexpected: the traceback is printed, scrubbed of credentials
        if type(exc).__module__.startswith("redis") and type(exc).__name__ in {
            "ConnectionError",
            "TimeoutError",
        }:
            # a Redis call outside the translated paths: a wrong URL or a server that is down is not a bug
            print(
                f"provgraph: cannot reach Redis: {_one_line(scrub(str(exc)))} (PROVGRAPH_REDIS_URL)",
                file=sys.stderr,
            )
            return 1
        print(scrubbed_traceback(exc), file=sys.stderr, end="")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
