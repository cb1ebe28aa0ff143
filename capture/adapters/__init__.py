"""Adapters: provenance from tools users already run, with no change to their code (docs/adapters.md).

| module | records | needs (extra ``adapters``) |
|---|---|---|
| `capture.adapters.files` | files created/modified/deleted in watched folders (`capture.watch`) | ``watchdog`` |
| `capture.adapters.dask` | every task of a Dask graph, its worker, timing, status and data dependencies | ``distributed`` |
| `capture.adapters.mlflow` | MLflow runs: params, metrics, tags, artifacts, logged models | ``mlflow`` |
| `capture.adapters.tensorboard` | scalars and histogram summaries from TensorBoard event files | ``tensorboard`` |
| `capture.adapters.torch` | a model's child-module forwards as nested tasks, layer profile, checkpoints | (duck typing) |

Each module imports its library when it is used, never at ``import capture`` or ``import capture.adapters``.
"""

from __future__ import annotations

__all__: list[str] = []
