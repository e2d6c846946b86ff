"""The registry half of the store interface: logged models, registered models, versions.

Split from :mod:`.base` to keep each file about one aggregate. Every mutating method takes the
acting ``user`` so the registry's history records who did what.
"""

from __future__ import annotations

import abc

from ..entities import LoggedModel, ModelVersion, RegisteredModel, RegistryEvent


class AbstractRegistryStore(abc.ABC):
    """Logged models and the model registry."""

    # logged models (MLflow 3's LoggedModel) ----------------------------------------------
    @abc.abstractmethod
    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel: ...

    @abc.abstractmethod
    def get_logged_model(self, model_id: str) -> LoggedModel: ...

    @abc.abstractmethod
    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel: ...

    @abc.abstractmethod
    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    @abc.abstractmethod
    def delete_logged_model_tag(self, model_id: str, key: str) -> None: ...

    @abc.abstractmethod
    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None: ...

    @abc.abstractmethod
    def delete_logged_model(self, model_id: str) -> None: ...

    @abc.abstractmethod
    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]: ...

    @abc.abstractmethod
    def log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        """Record that a run produced logged models: [(model id, step)]."""

    # registered models -------------------------------------------------------------------
    @abc.abstractmethod
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user: str | None = None,
    ) -> RegisteredModel: ...

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> RegisteredModel: ...

    @abc.abstractmethod
    def update_registered_model(
        self, name: str, description: str | None, user: str | None = None
    ) -> RegisteredModel: ...

    @abc.abstractmethod
    def rename_registered_model(
        self, name: str, new_name: str, user: str | None = None
    ) -> RegisteredModel: ...

    @abc.abstractmethod
    def delete_registered_model(self, name: str, user: str | None = None) -> None: ...

    @abc.abstractmethod
    def set_registered_model_tag(
        self, name: str, key: str, value: str, user: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def delete_registered_model_tag(self, name: str, key: str, user: str | None = None) -> None: ...

    @abc.abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]: ...

    # versions ----------------------------------------------------------------------------
    @abc.abstractmethod
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
    ) -> ModelVersion: ...

    @abc.abstractmethod
    def get_model_version(self, name: str, version: str | int) -> ModelVersion: ...

    @abc.abstractmethod
    def update_model_version(
        self, name: str, version: str | int, description: str | None, user: str | None = None
    ) -> ModelVersion: ...

    @abc.abstractmethod
    def delete_model_version(
        self, name: str, version: str | int, user: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user: str | None = None,
    ) -> ModelVersion: ...

    @abc.abstractmethod
    def set_model_version_tag(
        self, name: str, version: str | int, key: str, value: str, user: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def delete_model_version_tag(
        self, name: str, version: str | int, key: str, user: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def get_latest_versions(
        self, name: str, stages: list[str] | None = None
    ) -> list[ModelVersion]: ...

    @abc.abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]: ...

    @abc.abstractmethod
    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def delete_registered_model_alias(
        self, name: str, alias: str, user: str | None = None
    ) -> None: ...

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    @abc.abstractmethod
    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the version's files are (a file URI under the store's artifact root)."""

    @abc.abstractmethod
    def review_model_version(
        self,
        name: str,
        version: str | int,
        comment: str | None = None,
        approval: str | None = None,
        user: str | None = None,
    ) -> ModelVersion:
        """Comment on a version and/or set its approval (NONE, PENDING, APPROVED, REJECTED)."""

    @abc.abstractmethod
    def get_registry_history(
        self, name: str, version: str | int | None = None, kinds: list[str] | None = None
    ) -> list[RegistryEvent]:
        """Every recorded change of a model (or one version), oldest first."""
