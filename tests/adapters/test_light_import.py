"""`import capture` stays light: no adapter library is imported until its adapter is used."""

from __future__ import annotations

import subprocess
import sys

from _adapter_helpers import ROOT

HEAVY = ("watchdog", "dask", "distributed", "mlflow", "torch", "tensorboard", "tbparse")


def test_capture_and_its_adapter_modules_import_no_adapter_library():
    code = (
        "import sys, capture, capture.adapters, capture.adapters.files, capture.adapters.mlflow, capture.adapters.tensorboard, capture.adapters.torch\n"
        "capture.watch\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
