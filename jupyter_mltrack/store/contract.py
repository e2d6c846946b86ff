"""The store interface every backend implements, and the write batch it accepts.

All writes of logged data go through one method, :meth:`AbstractStore.write_batch`, as in MLflow
where ``log_metric`` and friends default to ``log_batch``: a backend implements one write path,
and the buffered logger, the REST handlers and the spool all speak it.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

from ..entities import ArtifactInfo, Cell, Experiment, MetricHistory, Run
from .batch import WriteBatch


class AbstractStore(abc.ABC):
    """What the tracking API needs from a store, embedded or remote."""

    store_dir: Path

    # experiments
    @abc.abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str: ...

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abc.abstractmethod
    def search_experiments(
        self,
        view_type: str = "ACTIVE_ONLY",
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Experiment], str | None]: ...

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None: ...

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None: ...

    @abc.abstractmethod
    def delete_experiment_tag(self, experiment_id: str, key: str) -> None: ...

    # runs
    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        user_id: str | None,
        start_time: int,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> Run: ...

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Run: ...

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def write_batch(self, batch: WriteBatch, skip_invalid: bool = False) -> list[str]:
        """Apply a batch in one transaction.

        With ``skip_invalid`` False, any invalid row (unknown or deleted run, a changed param)
        raises :class:`MltrackError` and nothing is written. With it True (the background
        flusher, which has no caller to raise to), invalid rows are dropped and described in
        the returned list of warnings.
        """

    # reads
    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> MetricHistory: ...

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        view_type: str = "ACTIVE_ONLY",
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]: ...

    @abc.abstractmethod
    def search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        view_type: str = "ACTIVE_ONLY",
        max_results: int = 100_000,
        order_by: list[str] | None = None,
    ) -> Any:
        """Runs as a pandas DataFrame with MLflow's column names."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]: ...

    @abc.abstractmethod
    def get_cells(self, run_id: str) -> list[Cell]: ...

    @abc.abstractmethod
    def get_logged_items(self, run_id: str, cell_id: str | None = None) -> list[tuple]:
        """Everything a run logged, each item with the cell it came from.

        Parameters
        ----------
        run_id:
            The run.
        cell_id:
            Only the items this cell logged; None for all of them.

        Returns
        -------
        list of tuple
            Rows ``(kind, key, cell_id, value, first_step, last_step, points)``, ordered by
            kind, key and first step: one per param, tag, artifact and dataset input, one per
            (metric, cell) with the value of that cell's last point and the steps it logged.

        Raises
        ------
        MltrackError
            RESOURCE_DOES_NOT_EXIST when the run does not exist.
        """

    @abc.abstractmethod
    def get_item_cell(
        self, run_id: str, kind: str, key: str, step: int | None = None
    ) -> tuple[bool, Cell | None]:
        """The executed cell that logged one item of a run.

        Parameters
        ----------
        run_id:
            The run.
        kind:
            ``"param"``, ``"tag"``, ``"metric"``, ``"artifact"`` or ``"input"``.
        key:
            The item's key (an artifact's path, an input's dataset name).
        step:
            For a metric, the step of the point asked about; None for its latest point.

        Returns
        -------
        tuple of (bool, Cell or None)
            ``found`` is False when the run never logged the item; the cell is None when the
            item was logged outside any recorded cell.

        Raises
        ------
        MltrackError
            RESOURCE_DOES_NOT_EXIST when the run does not exist; INVALID_PARAMETER_VALUE for an
            unknown kind, an empty key, or a step given for anything but a metric.
        """

    # artifact files: written at call time (the caller may change the file right after)
    @abc.abstractmethod
    def save_artifact_files(
        self, run_id: str, local_path: Path, artifact_path: str | None
    ) -> list[tuple[str, int, str]]:
        """Copy a file or a folder's files into a run's artifacts; (path, size, type) each."""

    @abc.abstractmethod
    def save_artifact_bytes(self, run_id: str, path: str, data: bytes) -> tuple[str, int, str]:
        """Write bytes as one artifact of a run; return (path, size, type)."""

    @abc.abstractmethod
    def artifact_file(self, run_id: str, path: str) -> Path:
        """A local file holding the artifact's bytes."""

    @abc.abstractmethod
    def info(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def gc(self, older_than_ms: int | None = None) -> dict[str, Any]: ...
