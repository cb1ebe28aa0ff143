"""``provgraph services up|down|status|run``: the managed Redis and Neo4j on 127.0.0.1 (no Docker).

Examples::

    provgraph services up                      # Redis + Neo4j; prints their URLs
    provgraph services up --only redis         # just Redis
    provgraph services status
    provgraph services run -- python -m pytest # up, run the command, down (even when it fails)
    provgraph services down
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from typing import Any

_EXIT_NOT_RUNNING = 3


def register(subparsers: Any) -> None:
    services = subparsers.add_parser(
        "services",
        help="run Redis and Neo4j on 127.0.0.1 without Docker",
        description=(
            "Start, stop and inspect a local Redis (redis-server) and Neo4j 5.26 Community (Maven jars on Java 17). "
            "Ports come from PROVGRAPH_REDIS_URL, PROVGRAPH_GRAPH_URL and PROVGRAPH_NEO4J_HTTP_PORT; data and pid "
            "files live under PROVGRAPH_HOME/services. See docs/services.md."
        ),
    )
    verbs = services.add_subparsers(dest="services_command", metavar="VERB", required=True)

    def add(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--only",
            action="append",
            choices=("redis", "neo4j"),
            metavar="NAME",
            help="only this server (redis or neo4j); repeatable; default: both",
        )
        parser.set_defaults(func=handler)
        return parser

    up = add("up", "start the servers that are not running (running ones are reported, not restarted)", _up)
    up.add_argument("--timeout", type=float, default=120.0, metavar="S", help="wait this long for each (120)")
    add("down", "stop the servers provgraph started (SIGTERM, then wait until they are gone)", _down)
    add("status", "show what runs and where it listens (exit 3 when something is not running)", _status)
    run = add("run", "start the servers, run a command, stop what this call started (also on failure)", _run)
    run.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="wait this long for each (120)"
    )
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")


def _services(args: argparse.Namespace, progress: bool = True) -> Any:
    from capture.settings import Settings
    from provgraph.services.managed import Services

    settings = Settings.load(args.settings)
    timeout = getattr(args, "timeout", 120.0)
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if progress else None
    return Services(settings, progress=say, start_timeout_s=timeout)


def _names(args: argparse.Namespace) -> tuple[str, ...]:
    from provgraph.services.managed import SERVICE_NAMES

    return tuple(args.only) if args.only else SERVICE_NAMES


def _up(args: argparse.Namespace) -> int:
    services = _services(args)
    for status in services.up(_names(args)):
        print(status.describe())
    for key, value in services.client_environment(_names(args)).items():
        print(f"export {key}={value}")
    return 0


def _down(args: argparse.Namespace) -> int:
    for status in _services(args).down(_names(args)):
        print(status.describe())
    return 0


def _status(args: argparse.Namespace) -> int:
    statuses = _services(args, progress=False).status(_names(args))
    for status in statuses:
        print(status.describe())
    return 0 if all(status.running for status in statuses) else _EXIT_NOT_RUNNING


def _run(args: argparse.Namespace) -> int:
    from provgraph.errors import ConfigurationError

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ConfigurationError("nothing to run: provgraph services run -- COMMAND [ARGS...]")
    services = _services(args)
    names = _names(args)
    started = [status.name for status in services.up(names) if status.state == "started"]

    def terminate(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        env = {**os.environ, **services.client_environment(names)}
        return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - the user's own command
    except FileNotFoundError:
        print(f"provgraph: command not found: {command[0]}", file=sys.stderr)
        return 127
    finally:
        signal.signal(signal.SIGTERM, previous)
        if started:
            services.down(started)
