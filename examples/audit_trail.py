"""Tamper evidence: load a run with signed audit digests, verify it, change one property, and see it named.

Normally the loader runs with ``PROVGRAPH_AUDIT_DIGESTS=1`` and ``PROVGRAPH_AUDIT_SIGNING_KEY=audit.pem`` (made
with ``provgraph verify --keygen audit.pem``), and anyone holding ``audit.pem.pub`` checks a run with
``provgraph verify --run RUN_ID --public-key audit.pem.pub``. This script does both steps itself.
"""

import dataclasses
import tempfile
from pathlib import Path

import capture
from capture.settings import Settings
from provgraph.audit import verify
from provgraph.digests import generate_key
from provgraph.graph import open_backend
from provgraph.loader import Loader


@capture.task(output_names="total")
def add(x, y):
    return x + y


if __name__ == "__main__":
    with capture.Workflow("audited") as run:
        add(add(1, 2), 3)
    capture.flush(timeout_s=10)
    key = str(Path(tempfile.mkdtemp()) / "audit.pem")
    public_key = Path(generate_key(key)).read_bytes()
    settings = dataclasses.replace(Settings.load(), audit_digests=True, audit_signing_key=key)
    with open_backend(settings) as backend:
        with Loader(settings, backend=backend) as loader:
            loader.run(until_idle_s=1)
        report = verify(backend, run=run.id, public_key=public_key)
        print("untouched:", "verified" if report.ok else [p.line() for p in report.problems])
        backend.write(
            [
                (
                    "MATCH (t:Task)-[:wasStartedBy]->(:WorkflowRun {id: $run}) SET t.status = 'TAMPERED'",
                    {"run": run.id},
                )
            ]
        )
        for problem in verify(backend, run=run.id, public_key=public_key).problems:
            print("after an edit:", problem.line())
    print("run:", run.id)
