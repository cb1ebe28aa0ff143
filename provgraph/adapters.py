"""Store side of the adapters: imports of what other tools recorded, after the fact (docs/adapters.md).

`import_mlflow` reads existing MLflow runs through MLflow's client (`capture.adapters.mlflow` builds the records,
the same ones live capture emits) and writes them through the loader's one write path, so importing again
changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from capture import wire
from provgraph.errors import ConfigurationError
from provgraph.graph.backend import GraphBackend
from provgraph.loader import load_messages

__all__ = ["MlflowImport", "import_mlflow"]


@dataclass
class MlflowImport:
    """What `import_mlflow` wrote: MLflow runs, documents and records."""

    runs: int = 0
    records: int = 0
    docs: tuple[str, ...] = ()


def import_mlflow(
    backend: GraphBackend,
    tracking_uri: str,
    *,
    experiments: list[str] | None = None,
    run_ids: list[str] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> MlflowImport:
    """Import the MLflow runs at ``tracking_uri`` (all, those of ``experiments`` (names or ids), or ``run_ids``);
    one document per MLflow run (``pgid:run_mlflow_<run id>``). Idempotent."""
    try:
        from capture.adapters.mlflow import messages_for_runs
    except ImportError as exc:  # pragma: no cover - the module itself imports nothing heavy
        raise ConfigurationError(str(exc)) from exc
    try:
        import mlflow  # noqa: F401 - a clear error before anything is read
    except ImportError as exc:
        raise ConfigurationError(
            "importing MLflow runs needs mlflow: pip install 'provgraph[adapters]' (or mlflow / mlflow-skinny)"
        ) from exc
    result = MlflowImport()
    docs: list[str] = []
    try:
        current: list[wire.Message] = []
        for message in messages_for_runs(tracking_uri, experiments=experiments, run_ids=run_ids):
            if current and current[0].doc != message.doc:
                _write(backend, current, result, docs, progress)
                current = []
            current.append(message)
        if current:
            _write(backend, current, result, docs, progress)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    result.docs = tuple(docs)
    return result


def _write(
    backend: GraphBackend,
    messages: list[wire.Message],
    result: MlflowImport,
    docs: list[str],
    progress: Callable[[str, int], None] | None,
) -> None:
    load_messages(backend, messages)
    count = sum(len(m.records) for m in messages)
    result.runs += 1
    result.records += count
    docs.append(messages[0].doc)
    if progress is not None:
        progress(messages[0].doc, count)
