"""The store contract every backend implements, as a template method.

Each public method here checks its arguments with the shared rules (:mod:`.rules`,
:mod:`jupyter_mltrack.validation`) and then calls one abstract ``_x`` method that a backend
implements (MLflow's ``search_runs`` → ``_search_runs`` is the model). A backend therefore
receives checked, normalised arguments and implements storage only; a new backend is a set of
``_x`` methods and nothing else. The registry half of the contract is
:class:`~.registry_contract.AbstractRegistryStore`, which every store also is.

All writes of logged data go through one method, :meth:`AbstractStore.write_batch` (see
:mod:`.batch`).

Error codes are those of :class:`~jupyter_mltrack.errors.ErrorCode`: every method raises
INVALID_PARAMETER_VALUE for bad arguments before anything is written, RESOURCE_DOES_NOT_EXIST
for a missing experiment or run, and STORE_UNAVAILABLE when the backend cannot be reached.
"""

from __future__ import annotations

import abc
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..entities import (
    ArtifactInfo,
    Cell,
    Experiment,
    MetricHistory,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    ViewType,
)
from ..errors import ErrorCode, MltrackError
from ..validation import (
    check_artifact_path,
    check_key,
    check_max_results,
    check_name,
    check_timestamp,
    tag_value_to_str,
)
from . import rules
from .batch import RunCreateRow, TagRow, WriteBatch, check_batch_id
from .registry_contract import AbstractRegistryStore


def _id(value: object, what: str) -> str:
    """A run id (or any id): a non-empty string."""
    if not isinstance(value, str) or not value:
        raise MltrackError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _view_type(view_type: object) -> str:
    if view_type not in ViewType.CHOICES:
        raise MltrackError(f"view_type must be one of {', '.join(ViewType.CHOICES)}")
    return view_type  # type: ignore[return-value]


def _tags(tags: Mapping[str, Any] | None, allow_delete: bool = False) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, value in (tags or {}).items():
        check_key(key, "tag key")
        out[key] = None if value is None and allow_delete else tag_value_to_str(key, value)
    return out


def _order_by(order_by: object) -> list[str] | None:
    if order_by is None:
        return None
    if not isinstance(order_by, list) or not all(isinstance(o, str) for o in order_by):
        raise MltrackError(f"order_by must be a list of strings, got {order_by!r}")
    return order_by


def _filter(filter_string: object) -> str | None:
    if filter_string is not None and not isinstance(filter_string, str):
        raise MltrackError(f"filter must be a string, got {filter_string!r}")
    return filter_string or None


def _experiment_ids(experiment_ids: object) -> list[str]:
    if not isinstance(experiment_ids, list | tuple):
        raise MltrackError(f"experiment ids must be a list, got {experiment_ids!r}")
    return [rules.check_experiment_id(e) for e in experiment_ids]


class AbstractStore(AbstractRegistryStore):
    """What the tracking API needs from a store, embedded or remote."""

    store_dir: Path

    # experiments -------------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> str:
        """Create an experiment; return its id (RESOURCE_ALREADY_EXISTS for a taken name).

        An ``artifact_location`` (relative to the store's artifact root) must not be, hold or lie
        inside another experiment's folder (and so its runs' and models' folders).
        """
        check_name(name, "experiment name")
        if artifact_location is not None:
            artifact_location = check_artifact_path(artifact_location, "artifact location")
        checked = {k: v for k, v in _tags(tags).items() if v is not None}
        return self._create_experiment(name, artifact_location, checked)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id."""
        return self._get_experiment(rules.check_experiment_id(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment of this name, or None."""
        return self._get_experiment_by_name(check_name(name, "experiment name"))

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Experiment], str | None]:
        """One page of experiments and the token of the next (None on the last page)."""
        return self._search_experiments(
            _view_type(view_type),
            _filter(filter_string),
            check_max_results(max_results, rules.EXPERIMENTS_MAX_RESULTS),
            _order_by(order_by),
            page_token,
        )

    def update_experiment(
        self,
        experiment_id: str,
        name: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> None:
        """Rename an experiment and set (or, for None, delete) tags, in one transaction."""
        if name is not None:
            check_name(name, "experiment name")
        checked = _tags(tags, allow_delete=True)
        self._update_experiment(rules.check_experiment_id(experiment_id), name, checked)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Give an experiment a new name (RESOURCE_ALREADY_EXISTS if it is taken)."""
        self.update_experiment(experiment_id, name=check_name(new_name, "experiment name"))

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set one tag of an experiment."""
        self.update_experiment(experiment_id, tags={check_key(key, "tag key"): value})

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an experiment (a no-op if it has none of that key)."""
        self.update_experiment(experiment_id, tags={check_key(key, "tag key"): None})

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted (its runs stay; ``restore_experiment`` undoes it)."""
        self._set_experiment_lifecycle(rules.check_experiment_id(experiment_id), "deleted")

    def restore_experiment(self, experiment_id: str) -> None:
        """Bring a deleted experiment back, with the runs deleted together with it.

        Runs deleted on their own before the experiment stay deleted.
        """
        self._set_experiment_lifecycle(rules.check_experiment_id(experiment_id), "active")

    # runs --------------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        user_id: str | None,
        start_time: int,
        tags: Mapping[str, Any] | None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run now; return it.

        The synchronous form of :meth:`new_run`: the same checks and the same rows, written at
        once with :meth:`write_batch` (so a run is created one way, buffered or not).
        RESOURCE_DOES_NOT_EXIST for a missing experiment; INVALID_STATE in a deleted one;
        RESOURCE_ALREADY_EXISTS for a taken run id.
        """
        experiment = self.get_experiment(rules.check_experiment_id(experiment_id))
        rows, run = self.new_run(
            experiment, run_name, user_id, start_time, tags, parent_run_id, run_id
        )
        self.write_batch(rows)
        return run

    def new_run(
        self,
        experiment: Experiment,
        run_name: str | None,
        user_id: str | None,
        start_time: int,
        tags: Mapping[str, Any] | None,
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> tuple[WriteBatch, Run]:
        """A new RUNNING run, checked but not written: the batch that creates it, and the run.

        Clients buffer the batch with the rest of what they log, so creating a run costs no
        round trip; :meth:`write_batch` checks again, set-based, what only the store can know
        (the experiment still exists and is active, the id is not taken).

        The run's name follows one rule whatever face created it (:func:`.rules.run_name_and_tags`):
        the name given, else the ``mlflow.runName`` tag, else a generated one; the tag is set to
        the name. The id is made here when not given; a given id must not be a folder name the
        store keeps next to runs (:data:`.rules.RESERVED_RUN_IDS`). ``parent_run_id`` (and the
        ``mlflow.parentRunId`` tag) may name a run the store does not have (yet): as in MLflow,
        it is stored as given, so children can be copied before their parents.
        """
        if not isinstance(experiment, Experiment):
            raise MltrackError(f"new_run takes an Experiment, got {type(experiment).__name__}")
        if experiment.lifecycle_stage != "active":
            raise rules.deleted_experiment_error(experiment.name)
        if run_name is not None:
            check_name(run_name, "run name")
        name, checked = rules.run_name_and_tags(run_name, tags)
        if user_id is not None and not isinstance(user_id, str):
            raise MltrackError(f"user id must be a string, got {user_id!r}")
        parent = None if parent_run_id is None else _id(parent_run_id, "parent run id")
        new_id = rules.check_run_id(run_id) if run_id is not None else uuid.uuid4().hex
        row = RunCreateRow(
            new_id, experiment.experiment_id, name, user_id, check_timestamp(start_time), parent
        )
        batch = WriteBatch(
            runs=[row], tags=[TagRow(new_id, key, value, None) for key, value in checked.items()]
        )
        info = RunInfo(
            run_id=new_id,
            experiment_id=experiment.experiment_id,
            run_name=name,
            user_id=user_id,
            status=RunStatus.RUNNING,
            start_time=row.start_time,
            end_time=None,
            lifecycle_stage="active",
            artifact_uri=self._run_artifact_uri(experiment, new_id),
            parent_run_id=parent,
        )
        return batch, Run(info=info, data=RunData(tags=checked))

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags, inputs and outputs."""
        return self._get_run(_id(run_id, "run id"))

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
        tags: Mapping[str, str | None] | None = None,
    ) -> Run:
        """Change a run's status, end time, name and tags (None deletes a tag) together.

        A status set back to RUNNING clears the end time. Tags of a deleted run are refused
        with INVALID_STATE, like every other write to it.
        """
        if status is not None and status not in RunStatus.ALL:
            raise MltrackError(
                f"run status must be one of {', '.join(RunStatus.ALL)}, got {status!r}"
            )
        if end_time is not None:
            check_timestamp(end_time)
        if run_name is not None:
            check_name(run_name, "run name")
        checked = _tags(tags, allow_delete=True)
        if run_name is not None:
            checked[rules.RUN_NAME_TAG] = run_name
        elif checked.get(rules.RUN_NAME_TAG):
            run_name = checked[rules.RUN_NAME_TAG]
        return self._update_run(_id(run_id, "run id"), status, end_time, run_name, checked)

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (``restore_run`` undoes it; ``gc`` removes it for good)."""
        self._set_run_lifecycle(_id(run_id, "run id"), "deleted")

    def restore_run(self, run_id: str) -> None:
        """Bring a deleted run back."""
        self._set_run_lifecycle(_id(run_id, "run id"), "active")

    def write_batch(self, batch: WriteBatch, skip_invalid: bool = False) -> list[str]:
        """Apply a batch in one transaction; return warnings.

        With ``skip_invalid`` False, any invalid row (a missing run: RESOURCE_DOES_NOT_EXIST; a
        deleted run: INVALID_STATE; a changed param: INVALID_PARAMETER_VALUE) raises and nothing
        is written. With it True (the background flusher and the spool, which have no caller to
        raise to), invalid rows are dropped and described in the returned warnings.

        A batch with a ``batch_id`` the store has already applied is not applied again and
        returns no warnings (a resend after an ambiguous failure; the id is recorded in the same
        transaction as the rows). Ids are 1-64 letters, digits, '_' or '-'.
        """
        if not isinstance(batch, WriteBatch):
            raise MltrackError(f"write_batch takes a WriteBatch, got {type(batch).__name__}")
        check_batch_id(batch.batch_id)
        for row in batch.run_updates:
            if row.status not in RunStatus.ALL:
                raise MltrackError(f"run status must be one of {', '.join(RunStatus.ALL)}")
        if not len(batch):
            return []
        return self._write_batch(batch, skip_invalid)

    def append_logged_model_record(self, run_id: str, model: Mapping[str, Any]) -> None:
        """Append a model's MLmodel metadata to the run's ``mlflow.log-model.history`` tag.

        Read, append and write happen in one transaction, so two concurrent ``log_model`` calls
        both keep their entry. ``model`` must hold MLflow's fields ``artifact_path``,
        ``flavors``, ``utc_time_created`` and ``run_id``.
        """
        if not isinstance(model, Mapping):
            raise MltrackError("the model record must be a JSON object")
        missing = {"artifact_path", "flavors", "utc_time_created", "run_id"} - set(model)
        if missing:
            raise MltrackError(f"the model record lacks the fields {', '.join(sorted(missing))}")
        self._append_logged_model_record(_id(run_id, "run id"), dict(model))

    # reads -------------------------------------------------------------------------------------
    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every point of one metric of a run, in step order."""
        return self._get_metric_history(_id(run_id, "run id"), check_key(key, "metric key"))

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        """One page of runs matching a filter, and the token of the next page."""
        return self._search_runs(
            _experiment_ids(experiment_ids),
            _filter(filter_string),
            _view_type(view_type),
            check_max_results(max_results, rules.RUNS_MAX_RESULTS),
            _order_by(order_by),
            page_token,
        )

    def search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 100_000,
        order_by: list[str] | None = None,
        offset: int = 0,
    ) -> Any:
        """Matching runs as a pandas DataFrame with MLflow's column names; ``offset`` skips
        that many matching runs first (a page of a longer frame)."""
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise MltrackError(f"offset must be an integer of at least 0, got {offset!r}")
        return self._search_runs_frame(
            _experiment_ids(experiment_ids),
            _filter(filter_string),
            _view_type(view_type),
            check_max_results(max_results, rules.RUN_FRAME_MAX_RESULTS),
            _order_by(order_by),
            offset,
        )

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        """The files and folders directly under ``path`` of a run's artifacts."""
        return self._list_artifacts(_id(run_id, "run id"), check_artifact_path(path))

    def get_cells(self, run_id: str) -> list[Cell]:
        """The notebook cells executed while the run was active, in order."""
        return self._get_cells(_id(run_id, "run id"))

    def get_logged_items(self, run_id: str, cell_id: str | None = None) -> list[tuple]:
        """Everything a run logged, each item with the cell it came from.

        Rows ``(kind, key, cell_id, value, first_step, last_step, points)`` (see
        :data:`.rules.ITEM_FIELDS`); only the items of ``cell_id`` when given.
        """
        return self._get_logged_items(_id(run_id, "run id"), rules.check_cell_id(cell_id))

    def get_item_cell(
        self, run_id: str, kind: str, key: str, step: int | None = None
    ) -> tuple[bool, Cell | None]:
        """The executed cell that logged one item of a run: ``(found, cell or None)``.

        ``kind`` is one of :data:`.rules.ITEM_KINDS`; ``step`` applies to metrics only.
        """
        kind, key, step = rules.check_item(kind, key, step)
        return self._get_item_cell(_id(run_id, "run id"), kind, key, step)

    # artifact files: written at call time (the caller may change the file right after) ---------
    def save_artifact_files(
        self, run_id: str, local_path: Path, artifact_path: str | None
    ) -> list[tuple[str, int, str]]:
        """Copy a file or a folder's files into a run's artifacts; (path, size, type) each."""
        local = Path(local_path)
        if not local.exists():
            raise MltrackError(
                f"cannot log artifact: {local} does not exist", ErrorCode.RESOURCE_DOES_NOT_EXIST
            )
        return self._save_artifact_files(
            _id(run_id, "run id"), local, check_artifact_path(artifact_path)
        )

    def save_artifact_bytes(self, run_id: str, path: str, data: bytes) -> tuple[str, int, str]:
        """Write bytes as one artifact of a run; return (path, size, type)."""
        rel = check_artifact_path(path)
        if not rel:
            raise MltrackError("artifact file name must not be empty")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MltrackError(f"artifact data must be bytes, got {type(data).__name__}")
        return self._save_artifact_bytes(_id(run_id, "run id"), rel, bytes(data))

    def artifact_file(self, run_id: str, path: str) -> Path:
        """A local file (or folder) holding the artifact's bytes."""
        return self._artifact_file(_id(run_id, "run id"), check_artifact_path(path))

    # housekeeping ------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Where the store is, its schema version and row counts."""
        return self._info()

    def gc(self, older_than_ms: int | None = None) -> dict[str, Any]:
        """Permanently remove runs deleted at least ``older_than_ms`` ago (all when None)."""
        if older_than_ms is not None and (
            isinstance(older_than_ms, bool) or not isinstance(older_than_ms, int)
        ):
            raise MltrackError(f"older_than must be an integer (ms), got {older_than_ms!r}")
        if older_than_ms is not None and older_than_ms < 0:
            raise MltrackError(f"older_than must not be negative, got {older_than_ms}")
        return self._gc(older_than_ms)

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the store holds (a database file, HTTP connections); idempotent."""

    # what a backend implements: arguments arrive checked ---------------------------------------
    @abc.abstractmethod
    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        """Insert an experiment; return its id. RESOURCE_ALREADY_EXISTS for a taken name."""

    @abc.abstractmethod
    def _get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment. RESOURCE_DOES_NOT_EXIST if there is none (or the id is no number)."""

    @abc.abstractmethod
    def _get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment of this name, or None."""

    @abc.abstractmethod
    def _search_experiments(
        self,
        view_type: str,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Experiment], str | None]:
        """A page of experiments and the next token. INVALID_PARAMETER_VALUE for a bad filter,
        order or token."""

    @abc.abstractmethod
    def _update_experiment(
        self, experiment_id: str, name: str | None, tags: dict[str, str | None]
    ) -> None:
        """Rename and set/delete tags atomically. RESOURCE_DOES_NOT_EXIST; RESOURCE_ALREADY_EXISTS
        for a taken name."""

    @abc.abstractmethod
    def _set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        """Set ``"deleted"`` or ``"active"``. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _run_artifact_uri(self, experiment: Experiment, run_id: str) -> str:
        """The artifact URI a new run of ``experiment`` gets (no store access needed)."""

    @abc.abstractmethod
    def _get_run(self, run_id: str) -> Run:
        """The run. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
        tags: dict[str, str | None],
    ) -> Run:
        """Apply the changes in one transaction; return the run. RESOURCE_DOES_NOT_EXIST;
        INVALID_STATE for tags of a deleted run."""

    @abc.abstractmethod
    def _set_run_lifecycle(self, run_id: str, stage: str) -> None:
        """Set ``"deleted"`` or ``"active"``. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _write_batch(self, batch: WriteBatch, skip_invalid: bool) -> list[str]:
        """Apply a non-empty batch in one transaction (see :meth:`write_batch`)."""

    @abc.abstractmethod
    def _append_logged_model_record(self, run_id: str, model: dict[str, Any]) -> None:
        """Append to ``mlflow.log-model.history`` atomically. RESOURCE_DOES_NOT_EXIST;
        INVALID_STATE for a deleted run."""

    @abc.abstractmethod
    def _get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """The metric's points in step order (empty if never logged). RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Run], str | None]:
        """A page of runs and the next token. INVALID_PARAMETER_VALUE for a bad filter, order
        or token."""

    @abc.abstractmethod
    def _search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        offset: int,
    ) -> Any:
        """The runs as a DataFrame (``metrics.<key>``, ``params.<key>``, ``tags.<key>`` columns,
        keys that differ only in case kept apart)."""

    @abc.abstractmethod
    def _list_artifacts(self, run_id: str, path: str) -> list[ArtifactInfo]:
        """The entries under a normalised relative path. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _get_cells(self, run_id: str) -> list[Cell]:
        """The run's cells in order. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _get_logged_items(self, run_id: str, cell_id: str | None) -> list[tuple]:
        """The logged items, ordered by kind, key and first step. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _get_item_cell(
        self, run_id: str, kind: str, key: str, step: int | None
    ) -> tuple[bool, Cell | None]:
        """Whether the item was logged, and the cell that logged it. RESOURCE_DOES_NOT_EXIST."""

    @abc.abstractmethod
    def _save_artifact_files(
        self, run_id: str, local_path: Path, artifact_path: str
    ) -> list[tuple[str, int, str]]:
        """Copy an existing file or folder under the normalised ``artifact_path``."""

    @abc.abstractmethod
    def _save_artifact_bytes(self, run_id: str, path: str, data: bytes) -> tuple[str, int, str]:
        """Write one artifact file at a normalised, non-empty path."""

    @abc.abstractmethod
    def _artifact_file(self, run_id: str, path: str) -> Path:
        """A local copy or the file itself. RESOURCE_DOES_NOT_EXIST if there is no such file."""

    @abc.abstractmethod
    def _info(self) -> dict[str, Any]:
        """A description of the store (location, schema version, counts)."""

    @abc.abstractmethod
    def _gc(self, older_than_ms: int | None) -> dict[str, Any]:
        """Remove deleted runs for good; ``runs_removed``, ``rows_removed``, ``bytes_freed``."""
