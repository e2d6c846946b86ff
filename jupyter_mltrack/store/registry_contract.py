"""The registry half of the store interface: logged models, registered models, versions.

A template method, as MLflow's ``search_runs`` → ``_search_runs``: each public method checks its
arguments with :mod:`.registry_rules` (and :mod:`.rules` for aliases and page sizes), then calls
the abstract ``_x`` method of the same name, which a backend implements. A backend therefore
receives its arguments checked and normalised (names non-empty strings, versions ``int``,
stages in MLflow's spelling, tags and params ``str`` → ``str``, page sizes within the limits)
and never re-decides what may be written: every face (Python API, native REST, MLflow REST)
refuses the same input with the same message and code.

Every mutating method takes the acting ``user`` so the registry's history records who did what.
Errors are :class:`~jupyter_mltrack.errors.MltrackError`; bad input is INVALID_PARAMETER_VALUE
and changes nothing.
"""

from __future__ import annotations

import abc

from ..entities import LoggedModel, ModelVersion, RegisteredModel, RegistryEvent
from ..errors import ErrorCode, MltrackError
from ..validation import check_key, check_max_results, check_name
from . import registry_rules as check
from .rules import (
    LOGGED_MODELS_MAX_RESULTS,
    MODEL_VERSIONS_MAX_RESULTS,
    REGISTERED_MODELS_MAX_RESULTS,
    check_alias,
)


class AbstractRegistryStore(abc.ABC):
    """Logged models and the model registry: public methods check, ``_x`` methods store."""

    # logged models (MLflow 3's LoggedModel) ----------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None = None,
        model_type: str | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> LoggedModel:
        """Create a logged model, PENDING until its files are written and it is finalized.

        Parameters
        ----------
        experiment_id, name:
            The experiment it belongs to and its name (a new name: ``check_name``'s rule).
        source_run_id, model_type:
            The run that produced it and a free-form type (``sklearn``), both optional.
        params, tags:
            Its params and tags; values become strings.

        Returns
        -------
        LoggedModel
            The new model, with an ``m-…`` id and its artifact URI.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, key or value; RESOURCE_DOES_NOT_EXIST for a
            missing experiment or source run.
        """
        return self._create_logged_model(
            str(experiment_id),
            check_name(name, "model name"),
            check.optional_string(source_run_id, "source run id"),
            check.optional_string(model_type, "model type"),
            check.params(params),
            check.tags(tags),
        )

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """One logged model.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id; RESOURCE_DOES_NOT_EXIST for a missing one.
        """
        return self._get_logged_model(check.model_id(model_id))

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Set a logged model's status (``LOGGED_MODEL_READY`` once its files are written).

        Returns
        -------
        LoggedModel
            The model as it is now.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id or a status not in
            :data:`.registry_rules.LOGGED_MODEL_STATUSES`; RESOURCE_DOES_NOT_EXIST for a missing
            model.
        """
        return self._finalize_logged_model(
            check.model_id(model_id), check.logged_model_status(status)
        )

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set (add or overwrite) tags of a logged model.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id, a bad key or a value too long;
            RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        self._set_logged_model_tags(check.model_id(model_id), check.tags(tags))

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove one tag of a logged model (a tag it lacks is no error).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id or a bad key; RESOURCE_DOES_NOT_EXIST for a
            missing model.
        """
        self._delete_logged_model_tag(check.model_id(model_id), check_key(key, "tag key"))

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Add params to a logged model; a param, once logged, keeps its value.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id, a bad key or a changed value;
            RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        self._log_logged_model_params(check.model_id(model_id), check.params(params))

    def delete_logged_model(self, model_id: str) -> None:
        """Delete a logged model's record (its files stay where they are).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id; RESOURCE_DOES_NOT_EXIST for a missing one.
        """
        self._delete_logged_model(check.model_id(model_id))

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[LoggedModel], str | None]:
        """Logged models of some experiments matching a filter, one page.

        Parameters
        ----------
        experiment_ids:
            The experiments to search (a list; an empty one finds nothing).
        filter_string, order_by:
            MLflow's search syntax over ``name``, ``model_id``, ``status``, ``tags.*``,
            ``params.*``…; None for all models, newest first.
        max_results, page_token:
            The page size (1 to :data:`.rules.LOGGED_MODELS_MAX_RESULTS`) and where to resume.

        Returns
        -------
        tuple of (list of LoggedModel, str or None)
            The page and the token of the next one (None after the last).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad filter, order, page size or token.
        """
        return self._search_logged_models(
            check.string_list(experiment_ids, "experiment_ids") or [],
            check.optional_string(filter_string, "filter"),
            check_max_results(max_results, LOGGED_MODELS_MAX_RESULTS),
            check.string_list(order_by, "order_by"),
            check.optional_string(page_token, "page token"),
        )

    def log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        """Record that a run produced logged models.

        Parameters
        ----------
        run_id:
            The run.
        outputs:
            ``[(model id, step)]``: each model and the step at which the run produced it.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty id or a step that is not an integer;
            RESOURCE_DOES_NOT_EXIST for a missing run or model.
        """
        self._log_outputs(check.model_name(run_id, "run id"), check.outputs(outputs))

    # registered models -------------------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user: str | None = None,
    ) -> RegisteredModel:
        """Create a registered model.

        Parameters
        ----------
        name:
            A new name (``check_name``'s rule: printable, at most 500 characters).
        tags, description:
            Optional tags (values become strings) and text (at most 65,000 characters).
        user:
            Who acts, recorded in the history.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, tag or description;
            RESOURCE_ALREADY_EXISTS when the name is taken.
        """
        return self._create_registered_model(
            check_name(name, "registered model name"),
            check.tags(tags),
            check.description(description),
            user,
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags, aliases and latest version per stage.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name; RESOURCE_DOES_NOT_EXIST for a missing
            model.
        """
        return self._get_registered_model(check.model_name(name))

    def update_registered_model(
        self, name: str, description: str | None, user: str | None = None
    ) -> RegisteredModel:
        """Set (or, with None, clear) a registered model's description; return the model.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or a bad description;
            RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        return self._update_registered_model(
            check.model_name(name), check.description(description), user
        )

    def rename_registered_model(
        self, name: str, new_name: str, user: str | None = None
    ) -> RegisteredModel:
        """Rename a registered model (versions, tags, aliases and history follow).

        Returns
        -------
        RegisteredModel
            The model under its new name.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or a bad new one; RESOURCE_DOES_NOT_EXIST
            for a missing model; RESOURCE_ALREADY_EXISTS when the new name is taken.
        """
        return self._rename_registered_model(
            check.model_name(name), check_name(new_name, "registered model name"), user
        )

    def delete_registered_model(self, name: str, user: str | None = None) -> None:
        """Delete a registered model with its versions and aliases (its history stays).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name; RESOURCE_DOES_NOT_EXIST for a missing
            model.
        """
        self._delete_registered_model(check.model_name(name), user)

    def set_registered_model_tag(
        self, name: str, key: str, value: str, user: str | None = None
    ) -> None:
        """Set one tag of a registered model (the value becomes a string).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name, a bad key or a value too long;
            RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        self._set_registered_model_tag(check.model_name(name), *check.tag(key, value), user)

    def delete_registered_model_tag(self, name: str, key: str, user: str | None = None) -> None:
        """Remove one tag of a registered model.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or a bad key; RESOURCE_DOES_NOT_EXIST for
            a missing model.
        """
        self._delete_registered_model_tag(check.model_name(name), check_key(key, "tag key"), user)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        """Registered models matching a filter, one page.

        Parameters
        ----------
        filter_string, order_by:
            MLflow's search syntax over ``name``, timestamps and ``tags.*``; None for all, by
            name.
        max_results, page_token:
            The page size (1 to :data:`.rules.REGISTERED_MODELS_MAX_RESULTS`) and where to
            resume.

        Returns
        -------
        tuple of (list of RegisteredModel, str or None)
            The page and the token of the next one (None after the last).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad filter, order, page size or token.
        """
        return self._search_registered_models(
            check.optional_string(filter_string, "filter"),
            check_max_results(max_results, REGISTERED_MODELS_MAX_RESULTS),
            check.string_list(order_by, "order_by"),
            check.optional_string(page_token, "page token"),
        )

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
        """Register the next version of a model.

        Parameters
        ----------
        name, source:
            The registered model and where the version's files are (``models:/m-…``,
            ``runs:/<run id>/<path>``, a URI).
        run_id, model_id:
            The run and the logged model it came from; a logged model's run fills in a
            missing ``run_id``.
        tags, run_link, description:
            Optional tags, a link to the run and text.
        user:
            Who acts, recorded in the history.

        Returns
        -------
        ModelVersion
            The new version, numbered one past the model's highest.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for bad input; RESOURCE_DOES_NOT_EXIST for a missing model,
            run or logged model.
        """
        return self._create_model_version(
            check.model_name(name),
            check_name(source, "model version source"),
            check.optional_string(run_id, "run id"),
            check.tags(tags),
            check.optional_string(run_link, "run link"),
            check.description(description),
            None if model_id is None else check.model_id(model_id),
            user,
        )

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        """One version of a registered model.

        Parameters
        ----------
        name, version:
            The model and the version number (an int or a decimal string).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or a version that is not a positive
            integer; RESOURCE_DOES_NOT_EXIST for a missing model or version.
        """
        return self._get_model_version(check.model_name(name), check.parse_version(version))

    def update_model_version(
        self, name: str, version: str | int, description: str | None, user: str | None = None
    ) -> ModelVersion:
        """Set (or, with None, clear) a version's description; return the version.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, version or description;
            RESOURCE_DOES_NOT_EXIST for a missing model or version.
        """
        return self._update_model_version(
            check.model_name(name),
            check.parse_version(version),
            check.description(description),
            user,
        )

    def delete_model_version(self, name: str, version: str | int, user: str | None = None) -> None:
        """Delete one version; aliases pointing at it go with it.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name or version; RESOURCE_DOES_NOT_EXIST for a
            missing model or version.
        """
        self._delete_model_version(check.model_name(name), check.parse_version(version), user)

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user: str | None = None,
    ) -> ModelVersion:
        """Move a version to a stage; return it.

        Parameters
        ----------
        name, version:
            The version.
        stage:
            ``None``, ``Staging``, ``Production`` or ``Archived``, in any case.
        archive_existing_versions:
            Move the model's other versions in that stage (Staging or Production) to Archived.
        user:
            Who acts, recorded in the history.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, version or stage; RESOURCE_DOES_NOT_EXIST
            for a missing model or version.
        """
        return self._transition_model_version_stage(
            check.model_name(name),
            check.parse_version(version),
            check.canonical_stage(stage),
            bool(archive_existing_versions),
            user,
        )

    def set_model_version_tag(
        self, name: str, version: str | int, key: str, value: str, user: str | None = None
    ) -> None:
        """Set one tag of a version (the value becomes a string).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, version, key or value;
            RESOURCE_DOES_NOT_EXIST for a missing model or version.
        """
        self._set_model_version_tag(
            check.model_name(name), check.parse_version(version), *check.tag(key, value), user
        )

    def delete_model_version_tag(
        self, name: str, version: str | int, key: str, user: str | None = None
    ) -> None:
        """Remove one tag of a version.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, version or key; RESOURCE_DOES_NOT_EXIST for
            a missing model or version.
        """
        self._delete_model_version_tag(
            check.model_name(name), check.parse_version(version), check_key(key, "tag key"), user
        )

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        """The latest version in each stage, or in the given stages only; by version number.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or an unknown stage;
            RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        wanted = check.string_list(stages, "stages")
        return self._get_latest_versions(
            check.model_name(name), [check.canonical_stage(s) for s in wanted] if wanted else None
        )

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = 10_000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        """Versions of any registered model matching a filter, one page.

        Parameters
        ----------
        filter_string, order_by:
            MLflow's search syntax over ``name``, ``run_id``, ``source_path``,
            ``version_number``, ``tags.*``…; None for all, by name then newest version.
        max_results, page_token:
            The page size (1 to :data:`.rules.MODEL_VERSIONS_MAX_RESULTS`) and where to resume.

        Returns
        -------
        tuple of (list of ModelVersion, str or None)
            The page and the token of the next one (None after the last).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad filter, order, page size or token.
        """
        return self._search_model_versions(
            check.optional_string(filter_string, "filter"),
            check_max_results(max_results, MODEL_VERSIONS_MAX_RESULTS),
            check.string_list(order_by, "order_by"),
            check.optional_string(page_token, "page token"),
        )

    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user: str | None = None
    ) -> None:
        """Point an alias at a version, moving it if it pointed elsewhere.

        Parameters
        ----------
        name, alias, version:
            The model, the alias (:func:`.rules.check_alias`: MLflow's rule, and not
            a bare number) and the version.
        user:
            Who acts, recorded in the history.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name, alias or version; RESOURCE_DOES_NOT_EXIST
            for a missing model or version.
        """
        self._set_registered_model_alias(
            check.model_name(name), check_alias(alias), check.parse_version(version), user
        )

    def delete_registered_model_alias(self, name: str, alias: str, user: str | None = None) -> None:
        """Remove an alias (the version stays).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or alias, or an alias the model lacks;
            RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        self._delete_registered_model_alias(check.model_name(name), check.alias_name(alias), user)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or alias, or an alias the model lacks
            (as MLflow answers); RESOURCE_DOES_NOT_EXIST for a missing model.
        """
        return self._get_model_version_by_alias(check.model_name(name), check.alias_name(alias))

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        """Where the version's files are: its logged model's or run's folder, or its source.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name or version; RESOURCE_DOES_NOT_EXIST for a
            missing model, version, or the logged model or run its source names.
        """
        return self._get_model_version_download_uri(
            check.model_name(name), check.parse_version(version)
        )

    def review_model_version(
        self,
        name: str,
        version: str | int,
        comment: str | None = None,
        approval: str | None = None,
        user: str | None = None,
    ) -> ModelVersion:
        """Comment on a version and/or set its approval; return the version.

        Parameters
        ----------
        name, version:
            The version.
        comment, approval:
            Text, and a decision (NONE, PENDING, APPROVED, REJECTED); at least one of them.
        user:
            Who acts, recorded in the review trail.

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for a bad name or version, neither a comment nor an
            approval, or an unknown approval; RESOURCE_DOES_NOT_EXIST for a missing model or
            version.
        """
        if comment is None and approval is None:
            raise MltrackError("a review needs a comment, an approval decision, or both")
        return self._review_model_version(
            check.model_name(name),
            check.parse_version(version),
            check.description(comment, "comment"),
            check.approval(approval),
            user,
        )

    def get_registry_history(
        self, name: str, version: str | int | None = None, kinds: list[str] | None = None
    ) -> list[RegistryEvent]:
        """Every recorded change of a model (or one version), oldest first.

        Parameters
        ----------
        name:
            The model; a deleted model's history is still there.
        version, kinds:
            Only this version's events; only events of these kinds (``set_alias``, ``review``…).

        Raises
        ------
        MltrackError
            INVALID_PARAMETER_VALUE for an empty name or a bad version;
            RESOURCE_DOES_NOT_EXIST when nothing was ever recorded for the model (or version).
        """
        events = self._get_registry_history(
            check.model_name(name),
            None if version is None else check.parse_version(version),
            check.string_list(kinds, "kinds"),
        )
        if not events:
            raise MltrackError(
                f"no registry history for {name!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
            )
        return events

    # what a backend implements: arguments arrive checked and normalised ------------------
    @abc.abstractmethod
    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        model_type: str | None,
        params: dict[str, str],
        tags: dict[str, str],
    ) -> LoggedModel:
        """Store a new PENDING logged model; see :meth:`create_logged_model`."""

    @abc.abstractmethod
    def _get_logged_model(self, model_id: str) -> LoggedModel:
        """Read a logged model; see :meth:`get_logged_model`."""

    @abc.abstractmethod
    def _finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        """Set a known status; see :meth:`finalize_logged_model`."""

    @abc.abstractmethod
    def _set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        """Set tags; see :meth:`set_logged_model_tags`."""

    @abc.abstractmethod
    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove a tag; see :meth:`delete_logged_model_tag`."""

    @abc.abstractmethod
    def _log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        """Add params, refusing a changed value; see :meth:`log_logged_model_params`."""

    @abc.abstractmethod
    def _delete_logged_model(self, model_id: str) -> None:
        """Delete the record; see :meth:`delete_logged_model`."""

    @abc.abstractmethod
    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[LoggedModel], str | None]:
        """One page, ``max_results`` already within the limit; see :meth:`search_logged_models`."""

    @abc.abstractmethod
    def _log_outputs(self, run_id: str, outputs: list[tuple[str, int]]) -> None:
        """Record ``[(model id, step)]`` of a run; see :meth:`log_outputs`."""

    @abc.abstractmethod
    def _create_registered_model(
        self, name: str, tags: dict[str, str], description: str | None, user: str | None
    ) -> RegisteredModel:
        """Store a new model, refusing a taken name; see :meth:`create_registered_model`."""

    @abc.abstractmethod
    def _get_registered_model(self, name: str) -> RegisteredModel:
        """Read a model; see :meth:`get_registered_model`."""

    @abc.abstractmethod
    def _update_registered_model(
        self, name: str, description: str | None, user: str | None
    ) -> RegisteredModel:
        """Set the description; see :meth:`update_registered_model`."""

    @abc.abstractmethod
    def _rename_registered_model(
        self, name: str, new_name: str, user: str | None
    ) -> RegisteredModel:
        """Rename, refusing a taken name; see :meth:`rename_registered_model`."""

    @abc.abstractmethod
    def _delete_registered_model(self, name: str, user: str | None) -> None:
        """Delete a model and its versions; see :meth:`delete_registered_model`."""

    @abc.abstractmethod
    def _set_registered_model_tag(self, name: str, key: str, value: str, user: str | None) -> None:
        """Set a tag; see :meth:`set_registered_model_tag`."""

    @abc.abstractmethod
    def _delete_registered_model_tag(self, name: str, key: str, user: str | None) -> None:
        """Remove a tag; see :meth:`delete_registered_model_tag`."""

    @abc.abstractmethod
    def _search_registered_models(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[RegisteredModel], str | None]:
        """One page; see :meth:`search_registered_models`."""

    @abc.abstractmethod
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
        """Store the next version; see :meth:`create_model_version`."""

    @abc.abstractmethod
    def _get_model_version(self, name: str, version: int) -> ModelVersion:
        """Read a version; see :meth:`get_model_version`."""

    @abc.abstractmethod
    def _update_model_version(
        self, name: str, version: int, description: str | None, user: str | None
    ) -> ModelVersion:
        """Set the description; see :meth:`update_model_version`."""

    @abc.abstractmethod
    def _delete_model_version(self, name: str, version: int, user: str | None) -> None:
        """Delete a version and its aliases; see :meth:`delete_model_version`."""

    @abc.abstractmethod
    def _transition_model_version_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool, user: str | None
    ) -> ModelVersion:
        """Move to a stage in MLflow's spelling; see :meth:`transition_model_version_stage`."""

    @abc.abstractmethod
    def _set_model_version_tag(
        self, name: str, version: int, key: str, value: str, user: str | None
    ) -> None:
        """Set a tag; see :meth:`set_model_version_tag`."""

    @abc.abstractmethod
    def _delete_model_version_tag(
        self, name: str, version: int, key: str, user: str | None
    ) -> None:
        """Remove a tag; see :meth:`delete_model_version_tag`."""

    @abc.abstractmethod
    def _get_latest_versions(self, name: str, stages: list[str] | None) -> list[ModelVersion]:
        """Latest per stage, stages in MLflow's spelling; see :meth:`get_latest_versions`."""

    @abc.abstractmethod
    def _search_model_versions(
        self,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[ModelVersion], str | None]:
        """One page; see :meth:`search_model_versions`."""

    @abc.abstractmethod
    def _set_registered_model_alias(
        self, name: str, alias: str, version: int, user: str | None
    ) -> None:
        """Point a checked alias at a version; see :meth:`set_registered_model_alias`."""

    @abc.abstractmethod
    def _delete_registered_model_alias(self, name: str, alias: str, user: str | None) -> None:
        """Remove an alias, refusing one the model lacks; see
        :meth:`delete_registered_model_alias`."""

    @abc.abstractmethod
    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """Follow an alias; see :meth:`get_model_version_by_alias`."""

    @abc.abstractmethod
    def _get_model_version_download_uri(self, name: str, version: int) -> str:
        """Resolve the version's source; see :meth:`get_model_version_download_uri`."""

    @abc.abstractmethod
    def _review_model_version(
        self,
        name: str,
        version: int,
        comment: str | None,
        approval: str | None,
        user: str | None,
    ) -> ModelVersion:
        """Record a review (and set a known approval); see :meth:`review_model_version`."""

    @abc.abstractmethod
    def _get_registry_history(
        self, name: str, version: int | None, kinds: list[str] | None
    ) -> list[RegistryEvent]:
        """The events, oldest first (an empty list if none); see :meth:`get_registry_history`."""
