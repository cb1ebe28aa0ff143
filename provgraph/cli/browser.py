"""``provgraph browser``: Neo4j Browser's PROV style, guided tour and favourites, for any Neo4j.

A Neo4j started by ``provgraph services up`` applies the style and opens the guide by itself. For another Neo4j,
this command serves the files on 127.0.0.1 and prints the commands to paste into Browser.

Examples::

    provgraph browser                     # serve; paste the printed :style and :play commands
    provgraph browser --port 7480 --allow-origin http://127.0.0.1:7474
"""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    browser = subparsers.add_parser(
        "browser",
        help="style Neo4j Browser for PROV graphs and offer the guided tour",
        description=(
            "Serve provgraph's Neo4j Browser style sheet, guide (with ids from your graph) and favourites on "
            "127.0.0.1, and print the :style and :play commands to paste into Browser. See docs/browser.md."
        ),
    )
    browser.add_argument(
        "--port",
        type=int,
        metavar="P",
        help="port on 127.0.0.1 (default: PROVGRAPH_BROWSER_FILES_PORT, else any)",
    )
    browser.add_argument(
        "--allow-origin",
        action="append",
        metavar="URL",
        help="a Browser page origin that may load the files (default: http://127.0.0.1:<neo4j_http_port> and "
        "http://localhost:<neo4j_http_port>); repeatable",
    )
    browser.set_defaults(func=_browser)


def _browser(args: argparse.Namespace) -> int:
    from capture.settings import Settings
    from provgraph.services.browser import (
        FAVORITES_FILE,
        BrowserFilesServer,
        browser_settings,
        paste_commands,
    )

    settings = Settings.load(args.settings)
    port = settings.browser_files_port if args.port is None else args.port
    with BrowserFilesServer(settings, port, args.allow_origin) as server:
        base = server.base_url
        print(f"Serving Neo4j Browser files at {base} (127.0.0.1 only; Ctrl-C stops).")
        print("In Neo4j Browser, connected to your Neo4j, run:")
        for command in paste_commands(base):
            print(f"  {command}")
        print(f"Favourites: {base}/{FAVORITES_FILE} (drop it on Browser's Favorites drawer).")
        print(
            "To have your Neo4j do this after every connect, add to its neo4j.conf (and keep this running):"
        )
        for key, value in browser_settings(base).items():
            print(f"  {key}={value}")
        print(f"Browser pages allowed to load them: {', '.join(sorted(server.allowed_origins))}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped")
    return 0
