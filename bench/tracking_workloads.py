"""The measured code of the tracking benchmark: one function per (library, workload).

Each function runs in a fresh interpreter started by ``bench_tracking.py`` (``--worker PATH
WORKLOAD``), in its own temporary directory, and returns what it measured as a JSON-ready dict.
The same function serves both paths of a library: jupyter-mltrack embedded or through a Jupyter
server the bench started on the worker's store (the worker finds it through the store's
``server.json``, as a script started by hand does, and checks that it did), MLflow on SQLite
in-process or through ``mlflow server``. Only the standard library is imported at module level,
so that each worker imports exactly one of the two libraries and pays its import cost alone.

The code lives in ``workloads_common.py`` (sizes, targets, checks, the run lifecycle),
``workloads_mltrack.py`` and ``workloads_mlflow.py``; this module is the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import workloads_mlflow as mlflow_workers
import workloads_mltrack as mltrack_workers
from workloads_common import MLFLOW_BATCH_LIMIT, SERVER_PATHS, Sizes, Target

__all__ = ["MLFLOW_BATCH_LIMIT", "SERVER_PATHS", "WORKERS", "Sizes", "Target", "library", "worker"]

Worker = Callable[[Target, Sizes], dict[str, Any]]

WORKERS: dict[tuple[str, str], Worker] = {
    ("mltrack", "log_metric"): mltrack_workers.mltrack_log_metric,
    ("mltrack", "points_batch"): mltrack_workers.mltrack_points_batch,
    ("mltrack", "points_series"): mltrack_workers.mltrack_points_series,
    ("mltrack", "points_loop"): mltrack_workers.mltrack_points_loop,
    ("mltrack", "history"): mltrack_workers.mltrack_history,
    ("mltrack", "runs"): mltrack_workers.mltrack_runs,
    ("mltrack", "lifecycle"): mltrack_workers.mltrack_lifecycle,
    ("mltrack", "size_window"): mltrack_workers.mltrack_size_window,
    ("mltrack", "size_fill"): mltrack_workers.mltrack_size_fill,
    ("mlflow", "log_metric"): mlflow_workers.mlflow_log_metric,
    ("mlflow", "points_batch"): mlflow_workers.mlflow_points_batch,
    ("mlflow", "points_loop"): mlflow_workers.mlflow_points_loop,
    ("mlflow", "history"): mlflow_workers.mlflow_history,
    ("mlflow", "runs"): mlflow_workers.mlflow_runs,
    ("mlflow", "lifecycle"): mlflow_workers.mlflow_lifecycle,
    ("mlflow", "prepare"): mlflow_workers.mlflow_prepare,
}


def library(path: str) -> str:
    """``mltrack-server`` → ``mltrack``: the library whose worker code serves a path."""
    return path.removesuffix("-server")


def worker(path: str, workload: str) -> Worker | None:
    """The function that measures ``workload`` on ``path``, or None (not measured there)."""
    if workload in ("prepare", "size_fill") and path in SERVER_PATHS:
        return None  # done in-process, on the file, with no server running
    return WORKERS.get((library(path), workload))
