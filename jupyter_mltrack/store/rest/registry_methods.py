"""The registry half of :class:`~jupyter_mltrack.store.rest.store.RestStore`.

The ``_x`` methods of :class:`~..registry_contract.AbstractRegistryStore`: their arguments
arrive checked (so an empty name never leaves a path segment empty), each calls one route of
:mod:`jupyter_mltrack.server.registry_handlers` and turns the answer back into the entity the
embedded store returns, so ``mlt.log_model``, the registry and ``models:/`` URIs behave the same
whoever owns the store. Errors arrive as the server's :class:`MltrackError`, with the code the
embedded store raises.

The acting ``user`` travels as a query argument; the server records the identity the request
authenticated as, and a different declared user only as the person it acted for,
``"root (on behalf of ana)"`` (see :func:`jupyter_mltrack.server.base.recorded_user`).

Like the rest of the client, this module is imported by kernels: no tornado, no duckdb.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar
from urllib.parse import quote

from ...entities import LoggedModel, ModelVersion, RegisteredModel, RegistryEvent
from ..registry_contract import AbstractRegistryStore

E = TypeVar("E")


# Encoding --------------------------------------------------------------------------------------


def _segment(value: str | int) -> str:
    # every reserved character is escaped, '/' too; so are dots, which HTTP libraries would
    # otherwise fold away in a "." or ".." segment (tornado decodes %2E back to '.')
    return quote(str(value), safe="").replace(".", "%2E")


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

    # logged models -----------------------------------------------------------------------
    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        model_type: str | None,
        params: dict[str, str],
        tags: dict[str, str],
    ) -> LoggedModel:
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "source_run_id": source_run_id,
            "model_type": model_type,
            "params": params,
            "tags": tags,
        }
        return _logged_model(self._send("POST", "/logged-models", body)["logged_model"])

    def _get_logged_model(self, model_id: str) -> LoggedModel:
        return _logged_model(self._get(f"/logged-models/{_segment(model_id)}")["logged_model"])

    def _finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        route = f"/logged-models/{_segment(model_id)}"
        return _logged_model(self._send("PATCH", route, {"status": status})["logged_model"])

    def _set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        self._send("PATCH", f"/logged-models/{_segment(model_id)}", {"tags": tags})

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._send("PATCH", f"/logged-models/{_segment(model_id)}", {"tags": {key: None}})

    def _log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        self._send("POST", f"/logged-models/{_segment(model_id)}/params", {"params": params})

    def _delete_logged_model(self, model_id: str) -> None:
        self._send("DELETE", f"/logged-models/{_segment(model_id)}")

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[LoggedModel], str | None]:
        data = self._get(
            "/logged-models",
            experiment_id=experiment_ids,
            filter=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        return [_logged_model(m) for m in data["logged_models"]], data.get("next_page_token")

    def _log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        body = {"outputs": [{"model_id": m, "step": s} for m, s in outputs]}
        self._send("POST", f"/runs/{_segment(run_id)}/outputs", body)

    # registered models -------------------------------------------------------------------
    def _create_registered_model(
        self, name: str, tags: dict[str, str], description: str | None, user: str | None
    ) -> RegisteredModel:
        body = {"name": name, "tags": tags, "description": description}
        answer = self._send("POST", "/registered-models", body, user=user)
        return _registered_model(answer["registered_model"])

    def _get_registered_model(self, name: str) -> RegisteredModel:
        answer = self._get(f"/registered-models/{_segment(name)}")
        return _registered_model(answer["registered_model"])

    def _update_registered_model(
        self, name: str, description: str | None, user: str | None
    ) -> RegisteredModel:
        route = f"/registered-models/{_segment(name)}"
        answer = self._send("PATCH", route, {"description": description}, user=user)
        return _registered_model(answer["registered_model"])

    def _rename_registered_model(
        self, name: str, new_name: str, user: str | None
    ) -> RegisteredModel:
        route = f"/registered-models/{_segment(name)}"
        answer = self._send("PATCH", route, {"new_name": new_name}, user=user)
        return _registered_model(answer["registered_model"])

    def _delete_registered_model(self, name: str, user: str | None) -> None:
        self._send("DELETE", f"/registered-models/{_segment(name)}", user=user)

    def _set_registered_model_tag(self, name: str, key: str, value: str, user: str | None) -> None:
        route = f"/registered-models/{_segment(name)}"
        self._send("PATCH", route, {"tags": {key: value}}, user=user)

    def _delete_registered_model_tag(self, name: str, key: str, user: str | None) -> None:
        route = f"/registered-models/{_segment(name)}"
        self._send("PATCH", route, {"tags": {key: None}}, user=user)

    def _search_registered_models(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[RegisteredModel], str | None]:
        data = self._get(
            "/registered-models",
            filter=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        found = [_registered_model(m) for m in data["registered_models"]]
        return found, data.get("next_page_token")

    # versions ----------------------------------------------------------------------------
    @staticmethod
    def _version_route(name: str, version: int) -> str:
        return f"/registered-models/{_segment(name)}/versions/{version}"

    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: dict[str, str],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
        user: str | None,
    ) -> ModelVersion:
        body = {
            "source": source,
            "run_id": run_id,
            "tags": tags,
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        route = f"/registered-models/{_segment(name)}/versions"
        return _model_version(self._send("POST", route, body, user=user)["model_version"])

    def _get_model_version(self, name: str, version: int) -> ModelVersion:
        return _model_version(self._get(self._version_route(name, version))["model_version"])

    def _update_model_version(
        self, name: str, version: int, description: str | None, user: str | None
    ) -> ModelVersion:
        route = self._version_route(name, version)
        answer = self._send("PATCH", route, {"description": description}, user=user)
        return _model_version(answer["model_version"])

    def _delete_model_version(self, name: str, version: int, user: str | None) -> None:
        self._send("DELETE", self._version_route(name, version), user=user)

    def _transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool, user: str | None
    ) -> ModelVersion:
        body = {"stage": stage, "archive_existing_versions": archive_existing_versions}
        route = self._version_route(name, version) + "/stage"
        return _model_version(self._send("PATCH", route, body, user=user)["model_version"])

    def _set_model_version_tag(
        self, name: str, version: int, key: str, value: str, user: str | None
    ) -> None:
        route = self._version_route(name, version)
        self._send("PATCH", route, {"tags": {key: value}}, user=user)

    def _delete_model_version_tag(
        self, name: str, version: int, key: str, user: str | None
    ) -> None:
        route = self._version_route(name, version)
        self._send("PATCH", route, {"tags": {key: None}}, user=user)

    def _get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]:
        data = self._get(f"/registered-models/{_segment(name)}/latest-versions", stage=stages)
        return [_model_version(v) for v in data["model_versions"]]

    def _search_model_versions(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[ModelVersion], str | None]:
        data = self._get(
            "/model-versions",
            filter=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        return [_model_version(v) for v in data["model_versions"]], data.get("next_page_token")

    @staticmethod
    def _alias_route(name: str, alias: str) -> str:
        return f"/registered-models/{_segment(name)}/aliases/{_segment(alias)}"

    def _set_registered_model_alias(
        self, name: str, alias: str, version: int, user: str | None
    ) -> None:
        self._send("PUT", self._alias_route(name, alias), {"version": version}, user=user)

    def _delete_registered_model_alias(self, name: str, alias: str, user: str | None) -> None:
        self._send("DELETE", self._alias_route(name, alias), user=user)

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return _model_version(self._get(self._alias_route(name, alias))["model_version"])

    def _get_model_version_download_uri(self, name: str, version: int) -> str:
        answer = self._get(self._version_route(name, version) + "/download-uri")
        return str(answer["artifact_uri"])

    def _review_model_version(
        self,
        name: str,
        version: int,
        comment: str | None,
        approval: str | None,
        user: str | None,
    ) -> ModelVersion:
        route = self._version_route(name, version) + "/reviews"
        body = {"comment": comment, "approval": approval}
        return _model_version(self._send("POST", route, body, user=user)["model_version"])

    def _get_registry_history(
        self, name: str, version: int | None, kinds: list[str] | None
    ) -> list[RegistryEvent]:
        data = self._get(
            f"/registered-models/{_segment(name)}/history", version=version, kind=kinds
        )
        return [_known(RegistryEvent, e) for e in data["events"]]
