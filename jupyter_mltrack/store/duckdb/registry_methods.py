"""The embedded store's registry methods (a mixin of :class:`DuckDBStore`).

The ``_x`` methods of :class:`~..registry_contract.AbstractRegistryStore`: their arguments
arrive checked, so each opens a connection or a transaction and runs the SQL of
:mod:`.model_registry` and :mod:`.logged_models`. What only the data can decide (a missing
model, a taken name, a changed param) is decided there.
"""

from __future__ import annotations

from pathlib import Path

from ...clock import now_ms
from ...entities import LoggedModel, ModelVersion, RegisteredModel, RegistryEvent
from ...search.filter_parser import (
    parse_logged_model_filter,
    parse_logged_model_order_by,
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from ..registry_contract import AbstractRegistryStore
from . import logged_models, runs
from . import model_registry as registry
from .connection import Connector


class DuckDBRegistryMixin(AbstractRegistryStore):
    """Registry operations on the embedded store."""

    connector: Connector
    artifact_root: Path

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
        with self.connector.transaction() as con:
            return logged_models.create(
                con,
                self.artifact_root,
                experiment_id,
                name,
                source_run_id,
                model_type,
                params,
                tags,
                now_ms(),
            )

    def _get_logged_model(self, model_id: str) -> LoggedModel:
        with self.connector.connect() as con:
            return logged_models.get(con, model_id, self.artifact_root)

    def _finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.set_status(con, model_id, status, now_ms())
            return logged_models.get(con, model_id, self.artifact_root)

    def _set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.set_tags(con, model_id, tags, now_ms())

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.delete_tag(con, model_id, key)

    def _log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.log_params(con, model_id, params)

    def _delete_logged_model(self, model_id: str) -> None:
        with self.connector.transaction() as con:
            logged_models.get(con, model_id, self.artifact_root)
            logged_models.delete(con, model_id)

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[LoggedModel], str | None]:
        expr = parse_logged_model_filter(filter_string)
        terms = parse_logged_model_order_by(order_by)
        with self.connector.connect() as con:
            return logged_models.search(
                con, self.artifact_root, experiment_ids, expr, terms, max_results, page_token
            )

    def _log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        with self.connector.transaction() as con:
            logged_models.log_outputs(con, run_id, outputs)

    # registered models -------------------------------------------------------------------
    def _create_registered_model(
        self, name: str, tags: dict[str, str], description: str | None, user: str | None
    ) -> RegisteredModel:
        with self.connector.transaction() as con:
            registry.create_model(con, name, description, tags, user, now_ms())
            return registry.get_model(con, name)

    def _get_registered_model(self, name: str) -> RegisteredModel:
        with self.connector.connect() as con:
            return registry.get_model(con, name)

    def _update_registered_model(
        self, name: str, description: str | None, user: str | None
    ) -> RegisteredModel:
        with self.connector.transaction() as con:
            registry.update_model(con, name, description, user, now_ms())
            return registry.get_model(con, name)

    def _rename_registered_model(
        self, name: str, new_name: str, user: str | None
    ) -> RegisteredModel:
        with self.connector.transaction() as con:
            registry.rename_model(con, name, new_name, user, now_ms())
            return registry.get_model(con, new_name)

    def _delete_registered_model(self, name: str, user: str | None) -> None:
        with self.connector.transaction() as con:
            registry.delete_model(con, name, user, now_ms())

    def _set_registered_model_tag(self, name: str, key: str, value: str, user: str | None) -> None:
        with self.connector.transaction() as con:
            registry.set_model_tag(con, name, key, value, user, now_ms())

    def _delete_registered_model_tag(self, name: str, key: str, user: str | None) -> None:
        with self.connector.transaction() as con:
            registry.set_model_tag(con, name, key, None, user, now_ms())

    def _search_registered_models(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[RegisteredModel], str | None]:
        expr = parse_registered_model_filter(filter_string)
        terms = parse_registered_model_order_by(order_by)
        with self.connector.connect() as con:
            return registry.search_models(con, expr, terms, max_results, page_token)

    # versions ----------------------------------------------------------------------------
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
        with self.connector.transaction() as con:
            if model_id is not None:
                logged = logged_models.get(con, model_id, self.artifact_root)
                # MLflow's client sends the logged model but not its run: fill it in
                run_id = run_id or logged.source_run_id
            if run_id is not None:
                runs.require(con, run_id)
            number = registry.create_version(
                con, name, source, run_id, model_id, run_link, description, tags, user, now_ms()
            )
            return registry.get_version(con, name, number)

    def _get_model_version(self, name: str, version: int) -> ModelVersion:
        with self.connector.connect() as con:
            return registry.get_version(con, name, version)

    def _update_model_version(
        self, name: str, version: int, description: str | None, user: str | None
    ) -> ModelVersion:
        with self.connector.transaction() as con:
            registry.update_version(con, name, version, description, user, now_ms())
            return registry.get_version(con, name, version)

    def _delete_model_version(self, name: str, version: int, user: str | None) -> None:
        with self.connector.transaction() as con:
            registry.delete_version(con, name, version, user, now_ms())

    def _transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool, user: str | None
    ) -> ModelVersion:
        with self.connector.transaction() as con:
            registry.transition_stage(
                con, name, version, stage, archive_existing_versions, user, now_ms()
            )
            return registry.get_version(con, name, version)

    def _set_model_version_tag(
        self, name: str, version: int, key: str, value: str, user: str | None
    ) -> None:
        with self.connector.transaction() as con:
            registry.set_version_tag(con, name, version, key, value, user, now_ms())

    def _delete_model_version_tag(
        self, name: str, version: int, key: str, user: str | None
    ) -> None:
        with self.connector.transaction() as con:
            registry.set_version_tag(con, name, version, key, None, user, now_ms())

    def _get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]:
        with self.connector.connect() as con:
            return registry.latest_versions(con, name, stages)

    def _search_model_versions(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[ModelVersion], str | None]:
        expr = parse_model_version_filter(filter_string)
        terms = parse_model_version_order_by(order_by)
        with self.connector.connect() as con:
            return registry.search_versions(con, expr, terms, max_results, page_token)

    def _set_registered_model_alias(
        self, name: str, alias: str, version: int, user: str | None
    ) -> None:
        with self.connector.transaction() as con:
            registry.set_alias(con, name, alias, version, user, now_ms())

    def _delete_registered_model_alias(self, name: str, alias: str, user: str | None) -> None:
        with self.connector.transaction() as con:
            registry.delete_alias(con, name, alias, user, now_ms())

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.connector.connect() as con:
            return registry.version_by_alias(con, name, alias)

    def _get_model_version_download_uri(self, name: str, version: int) -> str:
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

    def _review_model_version(
        self,
        name: str,
        version: int,
        comment: str | None,
        approval: str | None,
        user: str | None,
    ) -> ModelVersion:
        with self.connector.transaction() as con:
            registry.review(con, name, version, comment, approval, user, now_ms())
            return registry.get_version(con, name, version)

    def _get_registry_history(
        self, name: str, version: int | None, kinds: list[str] | None
    ) -> list[RegistryEvent]:
        with self.connector.connect() as con:
            return registry.history(con, name, version, kinds)
