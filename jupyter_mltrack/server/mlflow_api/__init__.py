"""MLflow's REST API, served from the Jupyter server so that stock MLflow clients can log here.

With ``MLFLOW_TRACKING_URI=http://host:port/<base_url>mltrack`` and
``MLFLOW_TRACKING_TOKEN=<jupyter token>``, unmodified MLflow code logs runs, artifacts and models
into the same store the native API and the lab extension read. The routes are thin adapters, one
module per aggregate; :func:`mlflow_handlers` hands them to the server extension.
"""

from __future__ import annotations

from . import artifacts, experiments, logged_models, metrics, registry, run_data, runs

__all__ = ["mlflow_handlers"]

# Each module lists its routes as regular expressions under this prefix; none of them holds a
# "." (which would match any character), so only the prefix needs escaping.
_PREFIX = r"api/2\.0/mlflow/"


def mlflow_handlers() -> list[tuple[str, type]]:
    """The MLflow routes as ``(pattern, handler class)``.

    Patterns are regular expressions relative to the extension's prefix (``{base_url}mltrack/``),
    e.g. ``api/2\\.0/mlflow/runs/create``; the server extension prefixes and registers them.
    Order matters where patterns overlap (``logged-models/search`` before
    ``logged-models/{id}``).
    """
    routes: list[tuple[str, type]] = []
    for module in (experiments, runs, run_data, metrics, logged_models, registry):
        routes.extend((_PREFIX + pattern, handler) for pattern, handler in module.ROUTES)
    routes.extend(artifacts.ROUTES)
    return routes
