"""Neo4j Browser for PROV graphs: a style sheet, a guided tour and favourites, served from 127.0.0.1.

The files live in ``provgraph/browser/`` (package data). A small HTTP server (`BrowserFilesServer`) serves them on
127.0.0.1 to the Browser pages it is told about (CORS), and fills the guide's queries with ids from the user's own
graph (`cypher/browser/examples.cypher`) on every request. `provgraph services up` starts it next to its Neo4j
and sets ``browser.post_connect_cmd`` so that Browser applies the style and opens the guide after connecting;
`provgraph browser` serves it for a Neo4j provgraph did not start and prints the commands to paste.

Example::

    from capture.settings import Settings
    from provgraph.services.browser import BrowserFilesServer, paste_commands

    with BrowserFilesServer(Settings.load(), port=0) as server:     # port 0: any free port
        print(paste_commands(server.base_url))                     # :style ... and :play ...
        server.serve_forever()
"""

from __future__ import annotations

import argparse
import html
import io
import json
import logging
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from capture.settings import Settings

__all__ = [
    "FAVORITES_FILE",
    "GUIDE_FILE",
    "GUIDE_QUERIES",
    "STYLE_FILE",
    "BrowserFilesServer",
    "GuideQuery",
    "browser_settings",
    "example_ids",
    "favorites_zip",
    "guide_html",
    "paste_commands",
    "params_command",
    "runnable_query",
    "style_text",
]

logger = logging.getLogger(__name__)

STYLE_FILE = "provgraph.grass"
GUIDE_FILE = "guide.html"
FAVORITES_FILE = "provgraph-favorites.zip"
_GUIDE_TEMPLATE = "guide.template.html"
# The host name Browser loads the files from: its default allow-list already holds `localhost`, so this works
# for a Neo4j that provgraph did not configure too.
_HOST = "localhost"
_EXAMPLES_TTL_S = 30.0


@dataclass(frozen=True)
class GuideQuery:
    """One question of the guided tour (and one favourite).

    Attributes:
        slug: the guide's placeholder name and the favourite's file name.
        title: the slide's and the favourite's title.
        query: the named query in ``cypher/`` it runs.
        parameter: the query parameter that takes an id (``ref`` or ``run``).
        example: which id of `example_ids` fills it (``output``, ``input``, ``run``, ``shared_run``).
        fixed: other parameters with constant values.
    """

    slug: str
    title: str
    query: str
    parameter: str
    example: str
    fixed: dict[str, Any] = field(default_factory=dict)


GUIDE_QUERIES = (
    GuideQuery("lineage", "Lineage of an output", "browser/lineage_graph", "ref", "output"),
    GuideQuery("impact", "Impact of an input", "browser/impact_graph", "ref", "input"),
    GuideQuery("task_tree", "A run's task tree", "browser/task_tree_graph", "run", "run"),
    GuideQuery("shared", "Cross-workflow joins", "browser/shared_entities_graph", "run", "shared_run"),
    GuideQuery("slowest", "Slowest tasks", "slowest_tasks", "run", "run", {"limit": 10, "kind": "task"}),
)


def _read(name: str) -> str:
    return resources.files("provgraph").joinpath("browser", name).read_text(encoding="utf-8")


def style_text() -> str:
    """The GraSS style sheet."""
    return _read(STYLE_FILE)


def _cypher_literal(value: Any) -> str:
    """A Cypher literal for a ``:param`` line: JSON strings and numbers are valid Cypher literals."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def params_command(question: GuideQuery, ids: dict[str, str | None]) -> str:
    """The Browser command that sets the question's parameters, with an id from the graph when one is known."""
    values: dict[str, Any] = {question.parameter: ids.get(question.example) or "REPLACE-WITH-AN-ID"}
    values.update(question.fixed)
    return (
        ":params {" + ", ".join(f"{name}: {_cypher_literal(value)}" for name, value in values.items()) + "}"
    )


def runnable_query(question: GuideQuery) -> str:
    """The question's Cypher (from ``cypher/``), run after `params_command`."""
    from provgraph.graph.cypher import render

    return render(question.query)


def example_ids(settings: Settings) -> dict[str, str | None]:
    """Ids from the user's graph for the guide (`cypher/browser/examples.cypher`); empty when unreachable."""
    from provgraph.errors import ProvgraphError
    from provgraph.graph.backend import Neo4jBackend
    from provgraph.graph.cypher import render

    try:
        with Neo4jBackend(settings) as graph:
            rows = graph.read(render("browser/examples"), tag="browser/examples")
    except ProvgraphError as exc:
        logger.warning("guide without ids from the graph: %s", exc)
        return {}
    return dict(rows[0]) if rows else {}


def guide_html(ids: dict[str, str | None], base_url: str) -> str:
    """The Browser guide (HTML slides), its queries filled with ``ids``; links point at ``base_url``."""
    text = _read(_GUIDE_TEMPLATE).replace("{{base_url}}", html.escape(base_url))
    for question in GUIDE_QUERIES:
        text = text.replace("{{" + question.slug + "_params}}", html.escape(params_command(question, ids)))
        text = text.replace("{{" + question.slug + "}}", html.escape(runnable_query(question)))
    known = ", ".join(f"{key} <code>{html.escape(str(value))}</code>" for key, value in ids.items() if value)
    text = text.replace(
        "{{examples}}",
        f"Filled in from your graph: {known}." if known else "No workflow run found yet: replace the ids.",
    )
    return text


def favorites_zip(ids: dict[str, str | None]) -> bytes:
    """The guide's queries as Browser favourites: a zip of ``.cypher`` files to drop on the Favorites drawer."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, question in enumerate(GUIDE_QUERIES, 1):
            body = (
                f"// provgraph: {question.title}\n// set the parameters first: {params_command(question, ids)}\n"
                f"{runnable_query(question)}\n"
            )
            archive.writestr(f"provgraph/{number}-{question.slug}.cypher", body)
    return buffer.getvalue()


def paste_commands(base_url: str) -> list[str]:
    """The Browser commands that apply the style and open the guide served at ``base_url``."""
    return [f":style {base_url}/{STYLE_FILE}", f":play {base_url}/{GUIDE_FILE}"]


def browser_settings(base_url: str) -> dict[str, str]:
    """``neo4j.conf`` entries that make Browser apply the style and offer the guide after it connects."""
    return {
        "browser.post_connect_cmd": "; ".join(command.lstrip(":") for command in paste_commands(base_url)),
        # Remote guides and styles only from this machine (Neo4j 5.26 still spells this setting "whitelist").
        "browser.remote_content_hostname_whitelist": _HOST,
        # Browser's own usage reporting to Neo4j's servers: off, like the server's.
        "client.allow_telemetry": "false",
    }


class _Handler(BaseHTTPRequestHandler):
    server: BrowserFilesServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == f"/{STYLE_FILE}":
            self._send(style_text().encode(), "text/plain; charset=utf-8")
        elif path in {f"/{GUIDE_FILE}", "/"}:
            self._send(
                guide_html(self.server.ids(), self.server.base_url).encode(), "text/html; charset=utf-8"
            )
        elif path == f"/{FAVORITES_FILE}":
            self._send(favorites_zip(self.server.ids()), "application/zip")
        else:
            self._send(b"not found\n", "text/plain; charset=utf-8", status=404)

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._send(b"", "text/plain", status=204)

    def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        origin = self.headers.get("Origin")
        # Only the Browser pages we were told about may read the guide (it holds ids from the user's graph).
        if origin and origin in self.server.allowed_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Headers", "*")
            self.send_header("Vary", "Origin")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        logger.info("%s " + format, self.address_string(), *args)


class BrowserFilesServer(ThreadingHTTPServer):
    """Serves the style, the guide and the favourites on 127.0.0.1.

    Args:
        settings: the graph to take example ids from (``graph_url``, credentials).
        port: the port; 0 picks a free one (see ``base_url``).
        allowed_origins: Browser page origins allowed to read the files cross-origin; by default Neo4j's own
            Browser at ``http://127.0.0.1:<neo4j_http_port>`` and ``http://localhost:<neo4j_http_port>``.
    """

    daemon_threads = True

    def __init__(self, settings: Settings, port: int = 0, allowed_origins: list[str] | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.settings = settings
        http_port = settings.neo4j_http_port
        self.allowed_origins = set(
            allowed_origins or [f"http://127.0.0.1:{http_port}", f"http://localhost:{http_port}"]
        )
        self._ids: dict[str, str | None] = {}
        self._ids_at = 0.0
        self._ids_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    def ids(self) -> dict[str, str | None]:
        """Example ids from the graph, cached for a few seconds (the guide is fetched once per connect)."""
        with self._ids_lock:
            if time.monotonic() - self._ids_at > _EXAMPLES_TTL_S or not self._ids:
                self._ids = example_ids(self.settings)
                self._ids_at = time.monotonic()
            return self._ids


def main(argv: list[str] | None = None) -> int:
    """``python -m provgraph.services.browser --port P``: the file server `provgraph services` runs next to Neo4j."""
    parser = argparse.ArgumentParser(
        description="Serve provgraph's Neo4j Browser style and guide on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--graph-url", help="the Neo4j to take example ids from (default: settings)")
    parser.add_argument("--http-port", type=int, help="Neo4j's HTTP port, whose Browser may read the files")
    parser.add_argument("--allow-origin", action="append", help="a Browser origin allowed to read the files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("neo4j").setLevel(logging.ERROR)  # schema hints on an empty graph are not news
    overrides: dict[str, Any] = {"graph_url": args.graph_url, "neo4j_http_port": args.http_port}
    settings = Settings.load(**overrides)
    with BrowserFilesServer(settings, args.port, args.allow_origin) as server:
        logger.info("serving Neo4j Browser files at %s", server.base_url)
        server.serve_forever()
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
