"""Warm model routes: score a registered model version from inside JupyterLab.

``POST api/models/<name>/<ref>/predict`` scores a request body in MLflow's scoring formats;
``GET`` on the same path describes the version ``<ref>`` names (and whether it is loaded);
``DELETE`` unloads the model's loaded versions. ``<ref>`` is a version number, ``@alias`` (or a
bare alias), a stage, or ``latest``. The loading (in a worker process per model, never in the
server's) and caching live in :mod:`jupyter_mltrack.models.warm`; these handlers only adapt
HTTP to it. :func:`stop_warm_models` stops the workers when the server stops.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ..models.warm import WarmModels
from .base import DEFAULT_MAX_BATCH_BODY_BYTES, MltrackHandler

WARM_SETTING = "mltrack_warm_models"
_PATH = r"api/models/(?P<name>[^/]+)/(?P<ref>[^/]+)/predict"


class WarmModelHandler(MltrackHandler):
    """Scores with, describes, or unloads a warm model version."""

    auth_actions = {"POST": "execute", "DELETE": "execute"}  # scoring runs the model's code
    # a scoring payload is a table: the batch limit, not the small JSON one
    body_limit_setting = "max_batch_body_bytes"
    body_limit_default = DEFAULT_MAX_BATCH_BODY_BYTES

    def warm(self) -> WarmModels:
        """The server's one cache of loaded models (created on first use)."""
        settings: dict[str, Any] = self.application.settings
        found = settings.get(WARM_SETTING)
        if found is None:
            found = settings[WARM_SETTING] = WarmModels(self.store)
        return found  # type: ignore[no-any-return]

    @web.authenticated
    async def post(self, name: str, ref: str) -> None:
        """Score the request body; answer ``{"name", "version", "predictions"}``."""
        content_type = self.request.headers.get("Content-Type")
        result = await self.call(self.warm().predict, name, ref, self.request_body(), content_type)
        self.send_json(result)

    @web.authenticated
    async def get(self, name: str, ref: str) -> None:
        """Which version ``ref`` names, whether it is loaded, its signature and an example."""
        self.send_json(await self.call(self.warm().describe, name, ref))

    @web.authenticated
    async def delete(self, name: str, ref: str) -> None:
        """Unload the model's loaded versions (the next request loads again)."""
        self.send_json({"unloaded": self.warm().evict(name)})


def stop_warm_models(settings: dict[str, Any]) -> None:
    """Stop every warm model's worker process (blocking; the server calls it when it stops)."""
    found = settings.get(WARM_SETTING)
    if isinstance(found, WarmModels):
        found.close()


def model_handlers() -> list[tuple[str, type]]:
    """Routes relative to the extension's prefix (``{base_url}mltrack/``)."""
    return [(_PATH, WarmModelHandler)]
