"""Neo4j Browser for PROV graphs: the style, the guide and the favourites, and the real Browser in Chromium.

The Chromium test drives the real Neo4j Browser (served by the Neo4j that `bash .ci/test` started with
`provgraph services up`) in Debian's headless Chromium through Playwright, which uses that executable rather than
a browser of its own. It loads a captured example workflow (examples/quickstart.py, through Redis and the
loader), checks that Browser applied provgraph's style and opened the guide by itself after connecting, runs the
guide's lineage query for the workflow's final output, and checks the drawn graph. It saves the screenshots that
docs/browser.md shows.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import pytest

from capture import wire
from capture.settings import Settings
from provgraph.services.browser import (
    GUIDE_QUERIES,
    BrowserFilesServer,
    browser_settings,
    favorites_zip,
    guide_html,
    params_command,
    style_text,
)
from provgraph.services.managed import Services

ROOT = Path(__file__).resolve().parents[2]
NEO4J_URI = os.environ.get("PROVGRAPH_TEST_NEO4J_URI", "bolt://127.0.0.1:7687")
NEO4J_HTTP = os.environ.get("PROVGRAPH_TEST_NEO4J_HTTP", "http://127.0.0.1:7474")
REDIS_URL = os.environ.get("PROVGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Screenshots refresh the docs' images only when asked (PROVGRAPH_UPDATE_DOC_IMAGES=1); otherwise they go to a
# temporary folder, so a test run leaves the working tree clean.
IMAGES = (
    ROOT / "docs" / "images"
    if os.environ.get("PROVGRAPH_UPDATE_DOC_IMAGES") == "1"
    else Path(tempfile.mkdtemp(prefix="provgraph-browser-shots-"))
)
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1"}


def _grass_rules(text: str) -> dict[str, dict[str, str]]:
    """Selector -> properties, parsed as Neo4j Browser parses GraSS (braces inside quotes are text)."""
    rules: dict[str, dict[str, str]] = {}
    selector, body, in_quotes, in_rule = "", "", False, False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        elif char == "{" and not in_quotes and not in_rule:
            in_rule = True
        elif char == "}" and not in_quotes and in_rule:
            props = {}
            for part in body.split(";"):
                if part.count(":") == 1:
                    key, value = part.split(":")
                    props[key.strip()] = value.strip()
            rules[selector] = props
            selector, body, in_rule = "", "", False
        elif in_rule:
            body += char
        elif not char.isspace():
            selector += char
    return rules


# --- the files ---------------------------------------------------------------------------------------------------


def test_style_covers_prov_kinds_and_subtypes_with_names_as_captions() -> None:
    rules = _grass_rules(style_text())
    for label in (
        "Entity",
        "Activity",
        "Agent",
        "WorkflowRun",
        "Task",
        "File",
        "Machine",
        "Person",
        "Telemetry",
    ):
        assert f"node.{label}" in rules, label
        assert "<id>" not in rules[f"node.{label}"].get("caption", ""), label
    colours = {
        label: rules[f"node.{label}"]["color"] for label in ("Entity", "Activity", "Agent", "Telemetry")
    }
    assert len(set(colours.values())) == 4, colours
    assert rules["node.Task"]["caption"] == "{name}"
    assert rules["node.WorkflowRun"]["caption"] == "{name}"
    assert rules["node.File"]["caption"] == "{name}"  # the file's name: paths all start alike
    assert rules["relationship"]["caption"] == "<type>"
    # Telemetry is quiet: smaller than any other node, grey, small text.
    sizes = {
        selector: int(props["diameter"].rstrip("px"))
        for selector, props in rules.items()
        if "diameter" in props
    }
    assert sizes["node.Telemetry"] == min(sizes.values())
    # Subtype rules come after their kind, so they win in Browser (later rules override earlier ones).
    order = list(rules)
    assert order.index("node.Entity") < order.index("node.File") < order.index("node.Telemetry")
    assert order.index("node.Activity") < order.index("node.Task")


def test_guide_has_a_slide_per_question_with_ids_and_runnable_queries() -> None:
    ids = {"output": "pgid:val_x'1_o0", "input": "pgid:in", "run": "pgid:run_1", "shared_run": None}
    text = guide_html(ids, "http://localhost:7000")
    slides = re.findall(r"<slide\b.*?</slide>", text, flags=re.S)
    assert len(slides) == 2 + len(GUIDE_QUERIES)
    for question in GUIDE_QUERIES:
        assert f"<h3>{question.title}</h3>" in text
    assert text.count('<pre class="runnable">') == 2 * len(GUIDE_QUERIES)
    # The id is quoted safely for Cypher, and html-escaped.
    assert params_command(GUIDE_QUERIES[0], ids) == ":params {ref: 'pgid:val_x\\'1_o0'}"
    assert "REPLACE-WITH-AN-ID" in params_command(GUIDE_QUERIES[3], ids)  # no shared run known
    assert params_command(GUIDE_QUERIES[4], ids) == ":params {run: 'pgid:run_1', limit: 10, kind: 'task'}"
    assert "{{" not in text


def test_favorites_zip_holds_each_query_with_its_parameters() -> None:
    archive = zipfile.ZipFile(io.BytesIO(favorites_zip({"output": "pgid:o"})))
    names = archive.namelist()
    assert len(names) == len(GUIDE_QUERIES)
    lineage = archive.read(names[0]).decode()
    assert lineage.startswith(
        "// provgraph: Lineage of an output\n// set the parameters first: :params {ref: 'pgid:o'}"
    )
    assert "MATCH (start:Element)" in lineage


def test_style_guide_and_settings_name_no_address_but_loopback(tmp_path: Path) -> None:
    settings = Settings(home=str(tmp_path))
    texts = {
        "provgraph.grass": style_text(),
        "guide.template.html": (ROOT / "provgraph" / "browser" / "guide.template.html").read_text(),
        "guide.html": guide_html({"output": "pgid:o"}, "http://localhost:7000"),
        "browser settings": json.dumps(browser_settings("http://localhost:7000")),
        "neo4j.conf": json.dumps(Services(settings).neo4j_config(tmp_path, tmp_path)),
    }
    for name, text in texts.items():
        hosts = set(re.findall(r"[a-z][a-z0-9+.-]*://([^/:'\"\s<>;]+)", text))
        assert hosts <= _LOOPBACK_HOSTS, (name, hosts)
        addresses = set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", text))
        assert addresses <= {"127.0.0.1"}, (name, addresses)
    assert (
        browser_settings("http://localhost:7000")["browser.remote_content_hostname_whitelist"] == "localhost"
    )


@pytest.mark.services
def test_files_server_serves_only_to_the_browser_origins(tmp_path: Path) -> None:
    settings = Settings(home=str(tmp_path), graph_url=NEO4J_URI, neo4j_http_port=7999)
    import threading

    with BrowserFilesServer(settings, port=0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            assert server.server_address[0] == "127.0.0.1"

            def get(path: str, origin: str) -> tuple[int, dict[str, str], bytes]:
                request = urllib.request.Request(f"{server.base_url}{path}", headers={"Origin": origin})
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                        return response.status, dict(response.headers), response.read()
                except urllib.error.HTTPError as exc:
                    return exc.code, dict(exc.headers), b""

            status, headers, body = get("/provgraph.grass", "http://127.0.0.1:7999")
            assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:7999"
            assert body.decode() == style_text()
            status, headers, body = get("/guide.html", "http://attacker.example")
            assert status == 200 and "Access-Control-Allow-Origin" not in headers
            assert b"<slide" in body
            assert get("/etc/passwd", "http://127.0.0.1:7999")[0] == 404
        finally:
            server.shutdown()


# --- the real Browser --------------------------------------------------------------------------------------------


def _assert_loopback_only(port: int) -> None:
    """The process listening on ``port`` has sockets on loopback addresses only."""
    import ipaddress

    import psutil

    [pid] = {c.pid for c in psutil.net_connections("inet") if c.laddr.port == port and c.status == "LISTEN"}
    for conn in psutil.Process(pid).net_connections("inet"):
        address = ipaddress.ip_address(conn.laddr.ip)
        address = getattr(address, "ipv4_mapped", None) or address
        assert address.is_loopback, (pid, conn)


def _capture_and_load_quickstart(redis_client, neo4j_backend, stream: str, tmp_path: Path) -> str:
    """Run examples/quickstart.py with capture on, load its stream into Neo4j; the run's id."""
    from provgraph.loader import load_messages

    env = {
        **os.environ,
        "PROVGRAPH_REDIS_URL": REDIS_URL,
        "PROVGRAPH_SINK": "redis",
        "PROVGRAPH_STREAM": stream,
        "PROVGRAPH_HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("PROVGRAPH_DISABLED", None)
    env.pop("PROVGRAPH_SETTINGS", None)
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [run] = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("run: ")]
    messages = [wire.decode_message(fields[wire.FIELD.encode()]) for _, fields in redis_client.xrange(stream)]
    assert messages, f"nothing reached {stream}"
    load_messages(neo4j_backend, messages)
    return run


@pytest.mark.services
def test_every_guide_query_runs_on_a_captured_run(
    redis_client, neo4j_backend, neo4j_settings, unique, tmp_path
):
    from provgraph.services.browser import example_ids, runnable_query

    stream = f"provgraph:test:{unique}:guide"
    try:
        run = _capture_and_load_quickstart(redis_client, neo4j_backend, stream, tmp_path)
    finally:
        redis_client.delete(stream)
    [ids] = neo4j_backend.read(
        "MATCH (run:WorkflowRun {id: $run})<-[:wasStartedBy]-(:Task)-[:used]->(input:Entity {role: 'i1'}) "
        "MATCH (run)<-[:wasStartedBy]-(:Task)<-[:wasGeneratedBy]-(output:Entity {role: 'o2'}) "
        "RETURN run.id AS run, input.id AS input, output.id AS output, run.id AS shared_run",
        {"run": run},
    )
    expected_nodes = {
        "lineage": 5,
        "impact": 5,
        "task_tree": 3,
    }  # o2<-mult_two<-o1<-sum_one<-i1; run + 2 tasks
    for question in GUIDE_QUERIES:
        params = {question.parameter: ids[question.example], **question.fixed}
        rows = neo4j_backend.read(runnable_query(question), params)
        if question.slug in expected_nodes:
            [row] = rows
            assert len(row["nodes"]) == expected_nodes[question.slug], question.slug
            assert row["relationships"], question.slug
        elif question.slug == "slowest":
            assert [r["name"] for r in rows] and {r["name"] for r in rows} == {"sum_one", "mult_two"}
        else:  # quickstart shares nothing with other runs: the join is empty, but it runs
            assert rows == [], question.slug
    # The guide's own pick of ids answers with ids that exist.
    picked = example_ids(neo4j_settings)
    assert set(picked) == {"run", "run_name", "output", "input", "shared_run"}
    assert picked["run"] and picked["output"]


@pytest.mark.services
@pytest.mark.browser
@pytest.mark.slow
def test_browser_in_chromium_is_styled_offers_the_guide_and_draws_lineage(
    redis_client, neo4j_backend, unique: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    # The Neo4j under test must be one provgraph started: it tells Browser to apply the style and play the guide.
    [setting] = neo4j_backend.read("SHOW SETTINGS YIELD name, value WHERE name = 'browser.post_connect_cmd'")
    assert "provgraph.grass" in setting["value"] and "guide.html" in setting["value"], (
        f"{NEO4J_URI} was not started by `provgraph services up`; run this test with `bash .ci/test`"
    )
    files_port = int(re.search(r"localhost:(\d+)/", setting["value"]).group(1))
    _assert_loopback_only(files_port)

    stream = f"provgraph:test:{unique}:browser"
    try:
        run = _capture_and_load_quickstart(redis_client, neo4j_backend, stream, tmp_path)
    finally:
        redis_client.delete(stream)
    [row] = neo4j_backend.read(
        "MATCH (output:Entity {role: 'o2'})-[:wasGeneratedBy]->(:Task)-[:wasStartedBy]->(:WorkflowRun {id: $run}) "
        "RETURN output.id AS id",
        {"run": run},
    )
    output_id = row["id"]
    rules = _grass_rules(style_text())
    IMAGES.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(f"{NEO4J_HTTP}/browser/?connectURL={NEO4J_URI}&preselectAuthMethod=NO_AUTH")

            # After connecting, Browser ran the post-connect commands by itself: the guide is open ...
            page.wait_for_selector("text=Each next slide asks one question", timeout=90_000)
            assert page.locator(f"text=:style http://localhost:{files_port}/provgraph.grass").count() >= 1
            guide_frame = (
                page.locator("[data-testid='frame']").filter(has_text="your workflows' provenance").first
            )
            page.wait_for_timeout(1500)  # frames slide in
            guide_frame.screenshot(path=str(IMAGES / "browser-guide.png"))

            # ... its lineage slide holds the query; set the parameter to this test's output and run it.
            page.click("[data-testid='nextSlide']")
            page.wait_for_selector("text=Lineage of an output")
            lineage_blocks = page.locator("pre.runnable")
            assert lineage_blocks.nth(0).inner_text().strip().startswith(":params {ref: ")
            assert "wasDerivedFrom" in lineage_blocks.nth(1).inner_text()
            page.click("[data-testid='activeEditor']")
            page.keyboard.insert_text(f":params {{ref: '{output_id}'}}")
            page.click("[data-testid='editor-Run']")
            page.wait_for_selector(f"text={output_id}", timeout=30_000)
            lineage_blocks.nth(1).click()  # the guide's query goes into the editor
            page.click("[data-testid='editor-Run']")

            # The graph view: quickstart's lineage of o2 is o2 <- mult_two <- o1 <- sum_one <- i1.
            nodes = page.locator("svg g.node")
            expect(nodes).to_have_count(5, timeout=60_000)  # Browser's CSP forbids wait_for_function's eval
            page.wait_for_timeout(3000)  # let the force layout settle for the screenshot
            assert nodes.count() == 5
            drawn = {}
            for index in range(nodes.count()):
                node = nodes.nth(index)
                caption = node.locator("text.caption").all_text_contents()
                drawn[" ".join(part.strip() for part in caption).strip()] = node.locator(
                    "circle.b-outline"
                ).get_attribute("fill")
            assert set(drawn) == {"o2", "mult_two", "o1", "sum_one", "i1"}, drawn
            assert not any(caption.startswith("pgid:") or caption.isdigit() for caption in drawn)
            # Styled: entities and tasks in the style sheet's colours, not Browser's defaults.
            assert drawn["o2"].upper() == rules["node.Entity"]["color"].upper()
            assert drawn["i1"].upper() == rules["node.Entity"]["color"].upper()
            assert drawn["mult_two"].upper() == rules["node.Task"]["color"].upper()
            relationship_captions = set(page.locator("svg g.relationship text").all_text_contents())
            assert {"used", "wasGeneratedBy", "wasDerivedFrom"} <= {c.strip() for c in relationship_captions}
            graph_frame = page.locator("[data-testid='frame']").filter(has=page.locator("svg g.node")).first
            graph_frame.screenshot(path=str(IMAGES / "browser-lineage.png"))
        finally:
            context.close()


THIRD_PARTY = """document
  prefix ex <http://example.org/{token}/>
  prefix fpc <http://example.org/fpc-terms#>
  entity(ex:anatomy, [prov:label="anatomy.img"])
  activity(ex:run1, 2099-01-01T08:00:00-06:00, 2099-01-01T09:00:00-06:00, [prov:type='fpc:WorkflowExecution', prov:label="atlas run 1"])
  activity(ex:r1_warp, 2099-01-01T08:00:00-06:00, 2099-01-01T08:10:00-06:00, [prov:label="align_warp"])
  wasInformedBy(ex:r1_warp, ex:run1)
  used(ex:r1_warp, ex:anatomy, -)
  wasGeneratedBy(ex:r1_params, ex:r1_warp, -)
  wasDerivedFrom(ex:r1_params, ex:anatomy)
  activity(ex:run2, 2099-01-02T08:00:00-06:00, 2099-01-02T09:00:00-06:00, [prov:type='fpc:WorkflowExecution', prov:label="atlas run 2"])
  activity(ex:r2_warp, 2099-01-02T08:00:00-06:00, 2099-01-02T08:10:00-06:00, [prov:label="align_warp"])
  wasInformedBy(ex:r2_warp, ex:run2)
  used(ex:r2_warp, ex:anatomy, -)
  wasGeneratedBy(ex:r2_params, ex:r2_warp, -)
  wasDerivedFrom(ex:r2_params, ex:anatomy)
  activity(ex:r2_slice, 2099-01-02T08:11:00-06:00, 2099-01-02T08:20:00-06:00, [prov:label="reslice"])
  wasInformedBy(ex:r2_slice, ex:run2)
  wasInformedBy(ex:r2_slice, ex:r2_warp)
  used(ex:r2_slice, ex:r2_params, -)
  wasGeneratedBy(ex:r2_sliced, ex:r2_slice, -)
  wasDerivedFrom(ex:r2_sliced, ex:r2_params)
endDocument
"""


@pytest.mark.services
def test_the_guide_works_on_prov_another_tool_wrote(neo4j_backend, neo4j_settings, unique):
    """A third-party document (runs as activities their steps point to with wasInformedBy, no capture labels,
    dated after anything else in the shared test graph so the guide picks it): the guide's ids come from it and
    each of its questions draws a graph."""
    from provgraph.prov.compare import parse_text
    from provgraph.prov.importer import import_document
    from provgraph.services.browser import example_ids, runnable_query

    namespace = f"http://example.org/{unique}/"
    document = parse_text(THIRD_PARTY.replace("{token}", unique), "provn")
    stored = import_document(neo4j_backend, document, doc=f"test:{unique}:guide").doc
    try:
        ids = example_ids(neo4j_settings)

        def local(qualified: str) -> str:  # the graph may give the namespace another prefix than ex
            return qualified.split(":", 1)[1]

        assert {key: local(value) if key != "run_name" else value for key, value in ids.items()} == {
            "run": "run2",
            "run_name": "atlas run 2",
            "output": "r2_sliced",
            "input": "anatomy",
            "shared_run": "run2",  # it shares the anatomy image with run 1
        }
        nodes = {}
        for question in GUIDE_QUERIES:
            params = {question.parameter: namespace + local(ids[question.example]), **question.fixed}
            rows = neo4j_backend.read(runnable_query(question), params)
            if question.slug == "slowest":
                assert rows == [], "no step of another tool records duration_s: nothing to rank, no error"
            elif question.slug == "shared":
                assert {local(row["other_run"]["id"]) for row in rows} == {"run1"}
            else:
                [row] = rows
                nodes[question.slug] = sorted(local(node["id"]) for node in row["nodes"])
        assert nodes == {
            "lineage": ["anatomy", "r2_params", "r2_slice", "r2_sliced", "r2_warp"],
            "impact": sorted(
                ["anatomy", "r1_warp", "r1_params", "r2_warp", "r2_params", "r2_slice", "r2_sliced"]
            ),
            "task_tree": ["r2_slice", "r2_warp", "run2"],
        }
    finally:
        neo4j_backend.write(
            [
                ("MATCH (n:Element) WHERE n.key STARTS WITH $ns DETACH DELETE n", {"ns": namespace}),
                ("MATCH (n:Namespace) WHERE n.doc = $doc DETACH DELETE n", {"doc": stored}),
                ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": stored}),
            ]
        )
