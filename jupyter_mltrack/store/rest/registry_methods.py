"""The registry half of :class:`~jupyter_mltrack.store.rest.store.RestStore`.

Each method calls one route of :mod:`jupyter_mltrack.server.registry_handlers` and turns the
answer back into the entity the embedded store returns, so ``mlt.log_model``, the registry and
``models:/`` URIs behave the same whoever owns the store. Errors arrive as the server's
:class:`MltrackError`, with the code the embedded store raises. A few checks run here before
anything is sent, where a request could not even be formed (an empty name would leave a path
segment empty); they raise what the embedded store raises for the same input.

The acting ``user`` travels as a query argument; the server records it when its identity is
Jupyter's shared token, and its authenticated user otherwise (see
:meth:`jupyter_mltrack.server.registry_handlers.RegistryHandler.acting_user`).

Like the rest of the client, this module is imported by kernels: no tornado, no duckdb.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, TypeVar
from urllib.parse import quote

from ...entities import LoggedModel, ModelVersion, RegisteredModel, RegistryEvent
from ...errors import MltrackError
from ...validation import check_key, check_name
from ..duckdb.model_registry import parse_version
from ..registry_contract import AbstractRegistryStore

E = TypeVar("E")


# Encoding --------------------------------------------------------------------------------------


def _segment(value: str) -> str:
    # every reserved character is escaped, '/' too; so are dots, which HTTP libraries would
    # otherwise fold away in a "." or ".." segment (tornado decodes %2E back to '.')
    return quote(value, safe="").replace(".", "%2E")


def _name(name: Any, what: str = "registered model name") -> str:
    if not isinstance(name, str) or not name:
        raise MltrackError(f"{what} must be a non-empty string, got {name!r}")
    return _segment(name)


def _model_id(model_id: Any) -> str:
    if not isinstance(model_id, str) or not model_id:
        raise MltrackError(f"model id must be a non-empty string, got {model_id!r}")
    return _segment(model_id)


def _version(version: Any) -> str:
    text = str(version)
    if not text.strip():
        parse_version(version)  # raises what the embedded store raises for an empty version
    # anything else goes as sent: the server checks it after the model, as the embedded store
    return _segment(text)


def _strings(values: dict[str, Any] | None, what: str) -> dict[str, str]:
    """Tags or params with their values as strings, as the embedded store keeps them.

    Keys are checked here: JSON would quietly turn a number key into a string.
    """
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise MltrackError(f"{what} must be a dict, got {type(values).__name__}")
    return {
        check_key(k, f"{what[:-1]} key"): v if isinstance(v, str) else str(v)
        for k, v in values.items()
    }


def _list(values: Any, what: str) -> list[str] | None:
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        raise MltrackError(f"{what} must be a list, got {values!r}")
    return [str(v) for v in values]


# Decoding --------------------------------------------------------------------------------------


def _known(cls: type[E], data: dict[str, Any]) -> E:
    # fields a newer server adds are left out rather than refused
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def _logged_model(data: dict[str, Any]) -> LoggedModel:
    return _known(LoggedModel, data)


def _model_version(data: dict[str, Any]) -> ModelVersion:
    return _known(ModelVersion, data)


def _registered_model(data: dict[str, Any]) -> RegisteredModel:
    model = _known(RegisteredModel, data)
    model.latest_versions = [_model_version(v) for v in data.get("latest_versions", [])]
    return model


# The mixin -------------------------------------------------------------------------------------


class RestRegistryMixin(AbstractRegistryStore):
    """Logged models and the model registry, through the tracking server's native API."""

    # provided by RestStore: one request helper for the whole client
    def _get(self, route: str, **params: Any) -> Any:
        raise NotImplementedError

    def _send(self, method: str, route: str, body: Any = None, **params: Any) -> Any:
        raise NotImplementedError

    def _write(self, method: str, route: str, body: Any = None, **params: Any) -> Any:
        """Send a change; a body that JSON cannot carry is bad input, not a crash."""
        try:
            json.dumps(body, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise MltrackError(f"cannot send the request: {exc}") from None
        return self._send(method, route, body, **params)

    # logged models -----------------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        body = {
            "experiment_id": str(experiment_id),
            "name": name,
            "source_run_id": source_run_id,
            "model_type": model_type,
            "params": _strings(params, "params"),
            "tags": _strings(tags, "tags"),
        }
        return _logged_model(self._write("POST", "/logged-models", body)["logged_model"])

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return _logged_model(self._get(f"/logged-models/{_model_id(model_id)}")["logged_model"])

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        route = f"/logged-models/{_model_id(model_id)}"
        return _logged_model(self._write("PATCH", route, {"status": status})["logged_model"])

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        route = f"/logged-models/{_model_id(model_id)}"
        self._write("PATCH", route, {"tags": _strings(tags, "tags")})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        check_key(key, "tag key")
        self._write("PATCH", f"/logged-models/{_model_id(model_id)}", {"tags": {key: None}})

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        route = f"/logged-models/{_model_id(model_id)}/params"
        self._write("POST", route, {"params": _strings(params, "params")})

    def delete_logged_model(self, model_id: str) -> None:
        self._write("DELETE", f"/logged-models/{_model_id(model_id)}")

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        ids = _list(experiment_ids, "experiment_ids")
        data = self._get(
            "/logged-models",
            experiment_id=ids,
            filter=filter_string,
            max_results=max_results,
            order_by=_list(order_by, "order_by"),
            page_token=page_token,
        )
        return [_logged_model(m) for m in data["logged_models"]], data.get("next_page_token")

    def log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        run = _name(run_id, "run id")
        body = {"outputs": [{"model_id": m, "step": int(s)} for m, s in outputs]}
        self._write("POST", f"/runs/{run}/outputs", body)

    # registered models -------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user: str | None = None,
    ) -> RegisteredModel:
        body = {"name": name, "tags": _strings(tags, "tags"), "description": description}
        answer = self._write("POST", "/registered-models", body, user=user)
        return _registered_model(answer["registered_model"])

    def get_registered_model(self, name: str) -> RegisteredModel:
        answer = self._get(f"/registered-models/{_name(name)}")
        return _registered_model(answer["registered_model"])

    def update_registered_model(
        self, name: str, description: str | None, user: str | None = None
    ) -> RegisteredModel:
        route = f"/registered-models/{_name(name)}"
        answer = self._write("PATCH", route, {"description": description}, user=user)
        return _registered_model(answer["registered_model"])

    def rename_registered_model(
        self, name: str, new_name: str, user: str | None = None
    ) -> RegisteredModel:
        check_name(new_name, "registered model name")  # None would read as "no rename"
        route = f"/registered-models/{_name(name)}"
        answer = self._write("PATCH", route, {"new_name": new_name}, user=user)
        return _registered_model(answer["registered_model"])

    def delete_registered_model(self, name: str, user: str | None = None) -> None:
        self._write("DELETE", f"/registered-models/{_name(name)}", user=user)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, user: str | None = None
    ) -> None:
        tags = _strings({key: value}, "tags")
        self._write("PATCH", f"/registered-models/{_name(name)}", {"tags": tags}, user=user)

    def delete_registered_model_tag(self, name: str, key: str, user: str | None = None) -> None:
        check_key(key, "tag key")
        route = f"/registered-models/{_name(name)}"
        self._write("PATCH", route, {"tags": {key: None}}, user=user)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        data = self._get(
            "/registered-models",
            filter=filter_string,
            max_results=max_results,
            order_by=_list(order_by, "order_by"),
            page_token=page_token,
        )
        found = [_registered_model(m) for m in data["registered_models"]]
        return found, data.get("next_page_token")

    # versions ----------------------------------------------------------------------------
    def _version_route(self, name: str, version: str | int) -> str:
        return f"/registered-models/{_name(name)}/versions/{_version(version)}"

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        user: str | None = None,
    ) -> ModelVersion:
        body = {
            "source": source,
            "run_id": run_id,
            "tags": _strings(tags, "tags"),
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        route = f"/registered-models/{_name(name)}/versions"
        return _model_version(self._write("POST", route, body, user=user)["model_version"])

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return _model_version(self._get(self._version_route(name, version))["model_version"])

    def update_model_version(
        self, name: str, version: str | int, description: str | None, user: str | None = None
    ) -> ModelVersion:
        route = self._version_route(name, version)
        answer = self._write("PATCH", route, {"description": description}, user=user)
        return _model_version(answer["model_version"])

    def delete_model_version(self, name: str, version: str | int, user: str | None = None) -> None:
        self._write("DELETE", self._version_route(name, version), user=user)

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user: str | None = None,
    ) -> ModelVersion:
        body = {"stage": stage, "archive_existing_versions": bool(archive_existing_versions)}
        route = self._version_route(name, version) + "/stage"
        return _model_version(self._write("PATCH", route, body, user=user)["model_version"])

    def set_model_version_tag(
        self, name: str, version: str | int, key: str, value: str, user: str | None = None
    ) -> None:
        tags = _strings({key: value}, "tags")
        self._write("PATCH", self._version_route(name, version), {"tags": tags}, user=user)

    def delete_model_version_tag(
        self, name: str, version: str | int, key: str, user: str | None = None
    ) -> None:
        check_key(key, "tag key")
        route = self._version_route(name, version)
        self._write("PATCH", route, {"tags": {key: None}}, user=user)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        data = self._get(
            f"/registered-models/{_name(name)}/latest-versions", stage=_list(stages, "stages")
        )
        return [_model_version(v) for v in data["model_versions"]]

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        data = self._get(
            "/model-versions",
            filter=filter_string,
            max_results=max_results,
            order_by=_list(order_by, "order_by"),
            page_token=page_token,
        )
        return [_model_version(v) for v in data["model_versions"]], data.get("next_page_token")

    def _alias_route(self, name: str, alias: str) -> str:
        check_name(alias, "alias")
        return f"/registered-models/{_name(name)}/aliases/{_segment(alias)}"

    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user: str | None = None
    ) -> None:
        route = self._alias_route(name, alias)
        self._write("PUT", route, {"version": _version(version)}, user=user)

    def delete_registered_model_alias(self, name: str, alias: str, user: str | None = None) -> None:
        self._write("DELETE", self._alias_route(name, alias), user=user)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return _model_version(self._get(self._alias_route(name, alias))["model_version"])

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        answer = self._get(self._version_route(name, version) + "/download-uri")
        return str(answer["artifact_uri"])

    def review_model_version(
        self,
        name: str,
        version: str | int,
        comment: str | None = None,
        approval: str | None = None,
        user: str | None = None,
    ) -> ModelVersion:
        if comment is None and approval is None:
            # the same answer as the embedded store, before a request that would carry nothing
            raise MltrackError("a review needs a comment, an approval decision, or both")
        route = self._version_route(name, version) + "/reviews"
        body = {"comment": comment, "approval": approval}
        return _model_version(self._write("POST", route, body, user=user)["model_version"])

    def get_registry_history(
        self, name: str, version: str | int | None = None, kinds: list[str] | None = None
    ) -> list[RegistryEvent]:
        data = self._get(
            f"/registered-models/{_name(name)}/history",
            version=None if version is None else _version(version),
            kind=_list(kinds, "kinds"),
        )
        return [_known(RegistryEvent, e) for e in data["events"]]
