"""Every route of the extension, in one list.

Native routes are written as OpenAPI path templates (``/api/runs/{run_id}``), the same strings
as in ``openapi.yaml``, and turned into tornado patterns here; MLflow's routes come from
:mod:`jupyter_mltrack.server.mlflow_api`. All of them sit under ``{base_url}mltrack/``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from .artifact_handlers import ArtifactFileHandler, ArtifactListHandler, ArtifactPreviewHandler
from .handlers import (
    BatchesHandler,
    ExperimentByNameHandler,
    ExperimentHandler,
    ExperimentRestoreHandler,
    ExperimentsHandler,
    GcHandler,
    InfoHandler,
    RunCellsHandler,
    RunColumnsHandler,
    RunDetailHandler,
    RunFrameHandler,
    RunItemCellHandler,
    RunItemsHandler,
    RunLineageHandler,
    RunLoggedModelRecordsHandler,
    RunRestoreHandler,
    RunSearchHandler,
    RunsHandler,
)
from .metric_handlers import ChangesHandler, MetricHistoriesHandler, RunMetricHistoryHandler
from .registry_handlers import REGISTRY_ROUTES

PREFIX = "mltrack"

NATIVE_ROUTES: list[tuple[str, type]] = [
    ("/api/info", InfoHandler),
    ("/api/gc", GcHandler),
    ("/api/experiments", ExperimentsHandler),
    ("/api/experiment-by-name", ExperimentByNameHandler),
    ("/api/experiments/{experiment_id}", ExperimentHandler),
    ("/api/experiments/{experiment_id}/restore", ExperimentRestoreHandler),
    ("/api/runs", RunsHandler),
    ("/api/run-search", RunSearchHandler),
    ("/api/run-frame", RunFrameHandler),
    ("/api/run-columns", RunColumnsHandler),
    ("/api/runs/{run_id}", RunDetailHandler),
    ("/api/runs/{run_id}/restore", RunRestoreHandler),
    ("/api/runs/{run_id}/cells", RunCellsHandler),
    ("/api/runs/{run_id}/lineage", RunLineageHandler),
    ("/api/runs/{run_id}/logged-model-records", RunLoggedModelRecordsHandler),
    ("/api/runs/{run_id}/items", RunItemsHandler),
    ("/api/runs/{run_id}/item-cell", RunItemCellHandler),
    ("/api/runs/{run_id}/metric-history", RunMetricHistoryHandler),
    ("/api/runs/{run_id}/artifacts", ArtifactListHandler),
    ("/api/runs/{run_id}/artifacts/file", ArtifactFileHandler),
    ("/api/runs/{run_id}/artifacts/preview", ArtifactPreviewHandler),
    ("/api/metric-histories", MetricHistoriesHandler),
    ("/api/batches", BatchesHandler),
    ("/api/changes", ChangesHandler),
    *REGISTRY_ROUTES,
]


def template_to_pattern(template: str) -> str:
    """``/api/runs/{run_id}`` -> ``mltrack/api/runs/(?P<run_id>[^/]+)``."""
    return PREFIX + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)


def mltrack_handlers(log: logging.Logger | None = None) -> list[tuple[str, Any]]:
    """The extension's (pattern, handler) pairs, relative to the server's base URL."""
    handlers: list[tuple[str, Any]] = [(template_to_pattern(t), h) for t, h in NATIVE_ROUTES]
    try:
        from .mlflow_api import mlflow_handlers
    except ImportError as exc:
        # MLflow's API is built separately; without it the native API still runs.
        if log is not None:
            log.warning("jupyter-mltrack: the MLflow REST API is not available: %s", exc)
    else:
        handlers.extend((f"{PREFIX}/{pattern.lstrip('/')}", h) for pattern, h in mlflow_handlers())
    from .models_handlers import model_handlers

    handlers.extend((f"{PREFIX}/{pattern.lstrip('/')}", h) for pattern, h in model_handlers())
    return handlers
