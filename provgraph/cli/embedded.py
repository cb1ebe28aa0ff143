"""``provgraph embedded up|down|status``: the shared, long-lived embedded server (see docs/embedded.md).

Short-lived commands (``provgraph demo``, the loader, queries) start the embedded server on demand and stop it when
they end. When a workflow (capture, ``PROVGRAPH_REDIS_URL=embedded``) and the loader run as separate processes,
they need one server that outlives both: ``provgraph embedded up`` starts it detached, ``down`` stops it.

Examples::

    provgraph embedded up            # start (or find) the server of $PROVGRAPH_HOME; prints its URL
    python my_workflow.py            # capture sends to it
    provgraph embedded status        # also says whether the automatic loader runs
    provgraph embedded serve         # the automatic loader in the foreground (capture starts it by itself)
    provgraph embedded down          # stops the automatic loader, then SHUTDOWN: data written, process gone
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    embedded = subparsers.add_parser(
        "embedded",
        help="start, stop or inspect the shared embedded server (redis-server + FalkorDB)",
        description="Manage the embedded server of $PROVGRAPH_HOME: one redis-server with the FalkorDB module.",
    )
    verbs = embedded.add_subparsers(dest="embedded_command", metavar="ACTION")
    up = verbs.add_parser("up", help="start the server detached (it keeps running until `down`)")
    up.set_defaults(func=_up)
    down = verbs.add_parser("down", help="stop the server cleanly (SHUTDOWN writes its data first)")
    down.set_defaults(func=_down)
    serve = verbs.add_parser(
        "serve",
        help="run the server and the automatic loader in the foreground until idle (what capture starts)",
        description=(
            "Start (or attach to) the embedded server and load the stream into the graph as records arrive; stop, "
            "with the server if this started it, after PROVGRAPH_EMBEDDED_IDLE_S seconds with no capture or "
            "store-side client connected and nothing to load, or on SIGTERM/Ctrl-C. Capture starts it by itself."
        ),
    )
    serve.add_argument("--idle", type=float, metavar="SECONDS", help="idle time before it stops")
    serve.set_defaults(func=_serve)
    status = verbs.add_parser("status", help="is it running, where, how much data")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=_status)
    embedded.set_defaults(func=lambda args: embedded.print_help() or 2)


def _server(args: argparse.Namespace) -> Any:
    from capture.settings import Settings
    from provgraph.services.embedded import EmbeddedServer

    return EmbeddedServer(Settings.load(getattr(args, "settings", None)).home)


def _up(args: argparse.Namespace) -> int:
    server = _server(args)
    started = server.start(shared=True)
    state = server.state() or {}
    verb = "started" if started else f"already running ({state.get('mode', '?')})"
    print(
        f"embedded server {verb}: {state.get('url', server.url)} (pid {state.get('pid')}, data {server.data_dir})"
    )
    if not started and state.get("mode") == "owned":
        print("note: that server belongs to a running command and stops with it")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import time

    from capture.settings import Settings
    from provgraph.autoload import serve

    settings = Settings.load(getattr(args, "settings", None), embedded_idle_s=args.idle)

    def say(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} provgraph embedded serve: {line}", flush=True)

    return serve(settings, progress=say)


def _down(args: argparse.Namespace) -> int:
    from capture.settings import Settings
    from provgraph.autoload import stop_autoloader

    server = _server(args)
    was_running = server.state() is not None
    pid = stop_autoloader(Settings.load(getattr(args, "settings", None)))
    if pid is not None:
        print(f"automatic loader stopped (pid {pid})")
    if server.stop() or was_running:  # the automatic loader stops the server it started itself
        print(f"embedded server stopped (data kept in {server.data_dir})")
    else:
        print("no embedded server was running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from capture.settings import Settings
    from provgraph.autoload import autoloader_state

    status = _server(args).status()
    status["autoloader"] = autoloader_state(Settings.load(getattr(args, "settings", None)))
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        state = "running" if status["running"] else "not running"
        print(f"embedded server: {state}")
        for key in ("pid", "url", "mode", "data_dir"):
            if status[key] is not None:
                print(f"  {key}: {status[key]}")
        print(f"  data on disk: {status['data_bytes'] / 1e6:.1f} MB")
        loader = status["autoloader"]
        print(
            f"automatic loader: running (pid {loader.get('pid')}, stream {loader.get('stream')})"
            if loader
            else "automatic loader: not running"
        )
    return 0 if status["running"] else 3
