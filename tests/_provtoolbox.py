"""ProvToolbox 2.2.1, the Java reference implementation of W3C PROV, as the tests' independent PROV reader and
PROV-CONSTRAINTS validator.

The jars come from Maven Central the way the managed Neo4j's do (`provgraph.services.managed`): Maven's
``copy-dependencies`` of tests/provtoolbox/pom.xml, once, into ``<services home>/provtoolbox-2.2.1/lib``
(``$PROVGRAPH_TEST_SERVICES_HOME``, which CI keeps between runs; else ``~/.cache/provgraph``); ~/.m2 caches the
downloads too. tests/provtoolbox/ProvCheck.java is compiled there once per version of its source. Every call runs
ONE JVM for a whole batch of files (a JVM start costs about a second and a half):

    results = validate([path1, path2])       # PROV-CONSTRAINTS: [{"file", "ok", "error", "counts"}, ...]
    results = read([path1, path2], out_dir)  # read by extension, written back as PROV-N: [{"file", "ok", "provn", "counts"}, ...]

ProvToolbox 2.2.1 reads PROV-N (.provn), PROV-JSON (.json), PROV-XML (.provx) and JSON-LD (.jsonld); it has no RDF
reader (Turtle, TriG) in this release.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

VERSION = "2.2.1"
SOURCES = Path(__file__).resolve().parent / "provtoolbox"
_MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_REQUIRED_JARS = (f"prov-interop-{VERSION}.jar", f"prov-validation-{VERSION}.jar", f"prov-n-{VERSION}.jar")

KIND_NAMES = {
    "PROV_ENTITY": "entity",
    "PROV_ACTIVITY": "activity",
    "PROV_AGENT": "agent",
    "PROV_USAGE": "used",
    "PROV_GENERATION": "wasGeneratedBy",
    "PROV_INVALIDATION": "wasInvalidatedBy",
    "PROV_START": "wasStartedBy",
    "PROV_END": "wasEndedBy",
    "PROV_COMMUNICATION": "wasInformedBy",
    "PROV_DERIVATION": "wasDerivedFrom",
    "PROV_ATTRIBUTION": "wasAttributedTo",
    "PROV_ASSOCIATION": "wasAssociatedWith",
    "PROV_DELEGATION": "actedOnBehalfOf",
    "PROV_INFLUENCE": "wasInfluencedBy",
    "PROV_SPECIALIZATION": "specializationOf",
    "PROV_ALTERNATE": "alternateOf",
    "PROV_MEMBERSHIP": "hadMember",
    "PROV_MENTION": "mentionOf",
    "PROV_BUNDLE": "bundle",
}
"""ProvToolbox's statement kinds by the names PROV-N (and provgraph's wire format) give them."""


class Unavailable(RuntimeError):
    """ProvToolbox cannot run here: what is missing and how to get it."""


def home() -> Path:
    """The folder the jars and the compiled checker are cached in."""
    base = os.environ.get("PROVGRAPH_TEST_SERVICES_HOME")
    if base:
        return Path(base) / f"provtoolbox-{VERSION}"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "provgraph" / f"provtoolbox-{VERSION}"


def _program(name: str, hint: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    program = str(Path(java_home) / "bin" / name) if java_home else shutil.which(name)
    if not program or not Path(program).exists():
        raise Unavailable(f"ProvToolbox needs {name}: {hint}")
    return program


def _lib_complete(lib: Path) -> bool:
    return all((lib / jar).is_file() for jar in _REQUIRED_JARS)


def ensure() -> list[str]:
    """The ``java`` command line up to the checker's arguments, fetching the jars and compiling the checker the
    first time (under a lock: several test processes may ask at once).

    Raises:
        Unavailable: Java 17 (with javac), or Maven, is missing; Maven could not fetch the jars.
    """
    java = _program("java", "apt-get install openjdk-17-jdk-headless")
    root = home()
    root.mkdir(parents=True, exist_ok=True)
    lib = root / "lib"
    source = SOURCES / "ProvCheck.java"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    classes = root / f"classes-{digest}"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _lib_complete(lib):
            _fetch(lib)
        if not (classes / "ProvCheck.class").is_file():
            _compile(source, lib, classes)
    return [java, "-Xss8m", "-cp", f"{lib}/*{os.pathsep}{classes}", "ProvCheck"]


def _fetch(lib: Path) -> None:
    mvn = _program("mvn", "apt-get install maven")
    staging = Path(tempfile.mkdtemp(prefix="lib-", dir=lib.parent))
    command = [
        mvn, "-B", "-q", "-f", str(SOURCES / "pom.xml"),
        f"{_MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
    if done.returncode != 0 or not _lib_complete(staging):
        shutil.rmtree(staging, ignore_errors=True)
        raise Unavailable(
            f"Maven could not fetch ProvToolbox {VERSION} (exit {done.returncode}): "
            f"{(done.stdout + done.stderr)[-2000:]}"
        )
    if lib.exists():
        shutil.rmtree(lib)
    staging.rename(lib)


def _compile(source: Path, lib: Path, classes: Path) -> None:
    javac = _program("javac", "the checker is compiled once: apt-get install openjdk-17-jdk-headless")
    staging = Path(tempfile.mkdtemp(prefix="classes-", dir=classes.parent))
    done = subprocess.run(  # noqa: S603
        [javac, "-nowarn", "-encoding", "UTF-8", "-d", str(staging), "-cp", f"{lib}/*", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise Unavailable(f"javac could not compile {source.name}: {done.stderr[-2000:]}")
    staging.rename(classes)


def _run(arguments: Sequence[str], count: int) -> list[dict[str, Any]]:
    command = [*ensure(), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or len(results) != count:
        raise AssertionError(
            f"ProvToolbox exited {done.returncode} with {len(results)} of {count} results: {done.stderr[-3000:]}"
        )
    for result in results:
        result["counts"] = {
            " ".join(KIND_NAMES.get(part, part) for part in key.split(" ")): number
            for key, number in result.get("counts", {}).items()
        }
    return results


def validate(files: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """Each file (PROV-N, PROV-JSON, PROV-XML, by extension) read and checked against PROV-CONSTRAINTS by
    ProvToolbox, in one JVM: per file ``{"file", "ok", "error", "counts"}`` (``error`` says what failed)."""
    if not files:
        return []
    return _run(["validate", *map(os.fspath, files)], len(files))


def read(files: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Each file read by ProvToolbox (by extension) and written back as PROV-N into ``out_dir``, in one JVM: per
    file ``{"file", "ok", "error", "counts", "provn"}``; ``counts`` are records by kind (a bundle's records under
    ``"<bundle URI> <kind>"``)."""
    if not files:
        return []
    return _run(["read", os.fspath(out_dir), *map(os.fspath, files)], len(files))


def _value(value: Any) -> Any:
    """A value as both readers must agree on it: a time as its instant to the millisecond (ProvToolbox 2.2.1 holds
    times to the millisecond, whatever the file says, and writes a time without a zone as UTC), a qualified name as
    its URI, a literal as (text, datatype URI, language)."""
    from prov.identifier import Identifier
    from prov.model import Literal

    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        return ("time", moment.astimezone(datetime.UTC).isoformat())
    if isinstance(value, Identifier):
        return ("uri", value.uri)
    if isinstance(value, Literal):
        return ("literal", value.value, value.datatype.uri if value.datatype else None, value.langtag)
    return ("value", str(value))


def records(document: Any) -> Counter[tuple[Any, ...]]:
    """The multiset of a ``prov`` document's records (a bundle's under its URI), identifiers by URI, values as
    both readers must agree on them: compare what ``prov`` reads of an export with what ProvToolbox read."""
    out: Counter[tuple[Any, ...]] = Counter()
    for bundle_uri, container in [(None, document), *((b.identifier.uri, b) for b in document.bundles)]:
        for record in container.get_records():
            identifier = record.identifier.uri if record.identifier else None
            attributes = tuple(sorted((name.uri, repr(_value(value))) for name, value in record.attributes))
            out[(bundle_uri, str(record.get_type()), identifier, attributes)] += 1
    return out
