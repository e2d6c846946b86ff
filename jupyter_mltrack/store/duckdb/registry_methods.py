"""The embedded store's registry methods (a mixin of :class:`DuckDBStore`).

Input is checked here, before any transaction opens; the SQL lives in :mod:`.registry` and
:mod:`.logged_models`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ...entities import LoggedModel, ModelVersion, RegisteredModel, RegistryEvent
from ...errors import ErrorCode, MltrackError
from ...search.filter_parser import (
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from ...validation import check_key, check_max_results, check_name, tag_value_to_str
from ..registry_contract import AbstractRegistryStore
from . import logged_models, runs
from . import model_registry as registry
from .connection import Connector

MAX_DESCRIPTION = 65_000
MAX_SEARCH_RESULTS = 100_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _tags(tags: dict[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise MltrackError(f"tags must be a dict, got {type(tags).__name__}")
    return {check_key(k, "tag key"): tag_value_to_str(k, v) for k, v in tags.items()}


def _description(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise MltrackError(f"description must be a string, got {type(text).__name__}")
    if len(text) > MAX_DESCRIPTION:
        raise MltrackError(f"description is {len(text)} characters; the limit is {MAX_DESCRIPTION}")
    return text


def _max_results(value: Any) -> int:
    return check_max_results(value, MAX_SEARCH_RESULTS)


def _alias(alias: Any) -> str:
    check_name(alias, "alias")
    if (
        alias.strip().lower() == "latest"
        or alias.strip().isdigit()
        or not alias.replace("-", "_").replace("_", "a").isalnum()
    ):
        raise MltrackError(
            f"alias {alias!r} must be letters, digits, '-' and '_', not a number or 'latest'"
        )
    return alias


class DuckDBRegistryMixin(AbstractRegistryStore):
    """Registry operations on the embedded store."""

    connector: Connector
    artifact_root: Path

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
        check_name(name, "model name")
        param_map = {check_key(k, "param key"): str(v) for k, v in (params or {}).items()}
        with self.connector.transaction() as con:
            return logged_models.create(
                con,
                self.artifact_root,
                str(experiment_id),
                name,
                source_run_id,
                model_type,
                param_map,
                _tags(tags),
                _now_ms(),
            )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.connector.connect() as con:
            return logged_models.get(con, model_id, self.artifact_root)

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.set_status(con, model_id, status, _now_ms())
            return logged_models.get(con, model_id, self.artifact_root)

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        checked = _tags(tags)
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.set_tags(con, model_id, checked, _now_ms())

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        check_key(key, "tag key")
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.delete_tag(con, model_id, key)

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        checked = {check_key(k, "param key"): str(v) for k, v in params.items()}
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.log_params(con, model_id, checked)

    def delete_logged_model(self, model_id: str) -> None:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.delete(con, model_id)

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        expr = parse_logged_model_filter(filter_string)
        terms = parse_logged_model_order_by(order_by)
        with self.connector.connect() as con:
            return logged_models.search(
                con,
                self.artifact_root,
                [str(e) for e in experiment_ids],
                expr,
                terms,
                _max_results(max_results),
                page_token,
            )

    def log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        with self.connector.transaction() as con:
            logged_models.log_outputs(con, run_id, [(m, int(s)) for m, s in outputs])

    # registered models -------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user: str | None = None,
    ) -> RegisteredModel:
        check_name(name, "registered model name")
        checked, text = _tags(tags), _description(description)
        with self.connector.transaction() as con:
            registry.create_model(con, name, text, checked, user, _now_ms())
            return registry.get_model(con, name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.connector.connect() as con:
            return registry.get_model(con, name)

    def update_registered_model(
        self, name: str, description: str | None, user: str | None = None
    ) -> RegisteredModel:
        text = _description(description)
        with self.connector.transaction() as con:
            registry.update_model(con, name, text, user, _now_ms())
            return registry.get_model(con, name)

    def rename_registered_model(
        self, name: str, new_name: str, user: str | None = None
    ) -> RegisteredModel:
        check_name(new_name, "registered model name")
        with self.connector.transaction() as con:
            registry.rename_model(con, name, new_name, user, _now_ms())
            return registry.get_model(con, new_name)

    def delete_registered_model(self, name: str, user: str | None = None) -> None:
        with self.connector.transaction() as con:
            registry.delete_model(con, name, user, _now_ms())

    def set_registered_model_tag(
        self, name: str, key: str, value: str, user: str | None = None
    ) -> None:
        check_key(key, "tag key")
        text = tag_value_to_str(key, value)
        with self.connector.transaction() as con:
            registry.set_model_tag(con, name, key, text, user, _now_ms())

    def delete_registered_model_tag(self, name: str, key: str, user: str | None = None) -> None:
        check_key(key, "tag key")
        with self.connector.transaction() as con:
            registry.set_model_tag(con, name, key, None, user, _now_ms())

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        expr = parse_registered_model_filter(filter_string)
        terms = parse_registered_model_order_by(order_by)
        with self.connector.connect() as con:
            return registry.search_models(con, expr, terms, _max_results(max_results), page_token)

    # versions ----------------------------------------------------------------------------
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
        check_name(source, "model version source")
        checked, text = _tags(tags), _description(description)
        with self.connector.transaction() as con:
            if model_id is not None:
                logged = logged_models.get(con, model_id, self.artifact_root)
                # MLflow's client sends the logged model but not its run: fill it in
                run_id = run_id or logged.source_run_id
            if run_id is not None:
                runs.require(con, run_id)
            number = registry.create_version(
                con, name, source, run_id, model_id, run_link, text, checked, user, _now_ms()
            )
            return registry.get_version(con, name, number)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        with self.connector.connect() as con:
            return registry.get_version(con, name, version)

    def update_model_version(
        self, name: str, version: str | int, description: str | None, user: str | None = None
    ) -> ModelVersion:
        text = _description(description)
        with self.connector.transaction() as con:
            registry.update_version(con, name, version, text, user, _now_ms())
            return registry.get_version(con, name, version)

    def delete_model_version(self, name: str, version: str | int, user: str | None = None) -> None:
        with self.connector.transaction() as con:
            registry.delete_version(con, name, version, user, _now_ms())

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user: str | None = None,
    ) -> ModelVersion:
        registry.canonical_stage(stage)
        with self.connector.transaction() as con:
            registry.transition_stage(
                con, name, version, stage, bool(archive_existing_versions), user, _now_ms()
            )
            return registry.get_version(con, name, version)

    def set_model_version_tag(
        self, name: str, version: str | int, key: str, value: str, user: str | None = None
    ) -> None:
        check_key(key, "tag key")
        text = tag_value_to_str(key, value)
        with self.connector.transaction() as con:
            registry.set_version_tag(con, name, version, key, text, user, _now_ms())

    def delete_model_version_tag(
        self, name: str, version: str | int, key: str, user: str | None = None
    ) -> None:
        check_key(key, "tag key")
        with self.connector.transaction() as con:
            registry.set_version_tag(con, name, version, key, None, user, _now_ms())

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        with self.connector.connect() as con:
            return registry.latest_versions(con, name, stages)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        expr = parse_model_version_filter(filter_string)
        terms = parse_model_version_order_by(order_by)
        with self.connector.connect() as con:
            return registry.search_versions(con, expr, terms, _max_results(max_results), page_token)

    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user: str | None = None
    ) -> None:
        _alias(alias)
        with self.connector.transaction() as con:
            registry.set_alias(con, name, alias, version, user, _now_ms())

    def delete_registered_model_alias(self, name: str, alias: str, user: str | None = None) -> None:
        check_name(alias, "alias")
        with self.connector.transaction() as con:
            registry.delete_alias(con, name, alias, user, _now_ms())

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        check_name(alias, "alias")
        with self.connector.connect() as con:
            return registry.version_by_alias(con, name, alias)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        with self.connector.connect() as con:
            mv = registry.get_version(con, name, version)
            source = mv.source
            if source.startswith("models:/m-") or (mv.model_id and source.startswith("models:/")):
                model_id = mv.model_id or source.removeprefix("models:/").split("/")[0]
                return logged_models.get(con, model_id, self.artifact_root).artifact_uri
            if source.startswith("runs:/"):
                run_id, _, sub = source.removeprefix("runs:/").partition("/")
                run = runs.get(con, run_id, self.artifact_root)
                return f"{run.info.artifact_uri}/{sub}" if sub else run.info.artifact_uri
            return source

    def review_model_version(
        self,
        name: str,
        version: str | int,
        comment: str | None = None,
        approval: str | None = None,
        user: str | None = None,
    ) -> ModelVersion:
        if comment is None and approval is None:
            raise MltrackError("a review needs a comment, an approval decision, or both")
        text = _description(comment)
        with self.connector.transaction() as con:
            registry.review(con, name, version, text, approval, user, _now_ms())
            return registry.get_version(con, name, version)

    def get_registry_history(
        self, name: str, version: str | int | None = None, kinds: list[str] | None = None
    ) -> list[RegistryEvent]:
        if not isinstance(name, str) or not name:
            raise MltrackError("registered model name must be a non-empty string")
        with self.connector.connect() as con:
            events = registry.history(con, name, version, kinds)
        if not events:
            raise MltrackError(
                f"no registry history for {name!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
            )
        return events
