"""jupyter-mltrack: experiment tracking and a model registry that live inside Jupyter.

``import jupyter_mltrack as mlt`` gives an MLflow-shaped fluent API (``mlt.start_run``,
``mlt.log_metric`` …). Names are imported on first use so that importing the package stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_FLUENT = (
    "ActiveRun",
    "active_run",
    "client",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush",
    "get_cells",
    "get_experiment",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_store_dir",
    "list_artifacts",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metric_series",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_store",
    "set_tag",
    "set_tags",
    "start_run",
)
_ELSEWHERE = {
    "MltrackClient": "jupyter_mltrack.tracking.client",
    "MltrackError": "jupyter_mltrack.errors",
    "ErrorCode": "jupyter_mltrack.errors",
    "Dataset": "jupyter_mltrack.entities",
    "Metric": "jupyter_mltrack.entities",
    "Param": "jupyter_mltrack.entities",
    "RunTag": "jupyter_mltrack.entities",
    "RunStatus": "jupyter_mltrack.entities",
    "ViewType": "jupyter_mltrack.entities",
    "log_model": "jupyter_mltrack.models.fluent",
    "load_model": "jupyter_mltrack.models.fluent",
    "save_model": "jupyter_mltrack.models.fluent",
    "register_model": "jupyter_mltrack.models.fluent",
    "model_registry": "jupyter_mltrack.models.fluent",
    "serve_model": "jupyter_mltrack.models.fluent",
    "ModelRegistry": "jupyter_mltrack.models.registry_api",
}
_SUBMODULES = ("data", "widgets")

__all__ = [*_FLUENT, *_ELSEWHERE, *_SUBMODULES, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _FLUENT:
        value = getattr(importlib.import_module("jupyter_mltrack.tracking.fluent"), name)
    elif name in _ELSEWHERE:
        value = getattr(importlib.import_module(_ELSEWHERE[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"jupyter_mltrack.{name}")
    else:
        raise AttributeError(f"module 'jupyter_mltrack' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupyter_mltrack``: the ``%mltrack`` magics and per-cell capture.

    To load it in every session, set ``c.InteractiveShellApp.extensions = ["jupyter_mltrack"]``
    in the IPython profile's ``ipython_config.py``. IPython is imported only here, so
    ``import jupyter_mltrack`` stays fast.
    """
    importlib.import_module("jupyter_mltrack.magics").load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext jupyter_mltrack``: remove the magics and stop capturing cells."""
    importlib.import_module("jupyter_mltrack.magics").unload_ipython_extension(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The Jupyter server extension: the tracking server (see ``jupyter_mltrack.server.app``).

    Imported only when a Jupyter server looks for extensions, never by ``import jupyter_mltrack``.
    """
    from .server.app import MltrackApp

    return [{"module": "jupyter_mltrack", "app": MltrackApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension (for ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jupyter-mltrack"}]
