"""The embedded store: a DuckDB file plus an artifact folder, in one store directory.

Layout of a store directory::

    mltrack.duckdb      runs, metrics, params, tags, … (schema in schema.py)
    artifacts/          <experiment artifact location>/<run id>/artifacts/…
    spool/              batches that could not be written yet (replayed on the next flush)
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from ... import artifacts as artifact_files
from ...entities import ArtifactInfo, Cell, Experiment, MetricHistory, Run
from ...errors import MltrackError
from ...validation import check_artifact_path, check_name
from ..contract import AbstractStore, WriteBatch
from . import experiments, lineage_queries, reads, runs, writes
from .connection import DEFAULT_LINGER_S, Connector, preload_engine
from .registry_methods import DuckDBRegistryMixin

DB_FILE = "mltrack.duckdb"


def _now_ms() -> int:
    return int(time.time() * 1000)


class DuckDBStore(DuckDBRegistryMixin, AbstractStore):
    """A store in a local directory, opened on demand (see :class:`Connector`).

    Parameters
    ----------
    store_dir:
        The store directory; created if missing.
    linger:
        Seconds the database file stays open after the last use (``None``: until closed).
    """

    def __init__(self, store_dir: str | Path, linger: float | None = DEFAULT_LINGER_S):
        preload_engine()
        self.store_dir = Path(store_dir).expanduser().resolve()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.artifact_root = self.store_dir / "artifacts"
        self.artifact_root.mkdir(exist_ok=True)
        self.db_path = self.store_dir / DB_FILE
        self.connector = Connector(self.db_path, linger=linger)

    def __repr__(self) -> str:
        return f"DuckDBStore({str(self.store_dir)!r})"

    def close(self) -> None:
        """Release the database file now."""
        self.connector.close()

    # experiments ---------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        check_name(name, "experiment name")
        if artifact_location is not None:
            artifact_location = check_artifact_path(artifact_location, "artifact location")
        with self.connector.transaction() as con:
            return experiments.create(con, name, artifact_location, dict(tags or {}), _now_ms())

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.connector.connect() as con:
            return experiments.get(con, experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        check_name(name, "experiment name")
        with self.connector.connect() as con:
            return experiments.get_by_name(con, name)

    def search_experiments(
        self,
        view_type: str = "ACTIVE_ONLY",
        filter_string: str | None = None,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Experiment], str | None]:
        reads.check_max_results(max_results)
        with self.connector.connect() as con:
            return experiments.search(
                con, view_type, filter_string, max_results, order_by, page_token
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        check_name(new_name, "experiment name")
        with self.connector.transaction() as con:
            experiments.rename(con, experiment_id, new_name, _now_ms())

    def delete_experiment(self, experiment_id: str) -> None:
        with self.connector.transaction() as con:
            experiments.set_lifecycle(con, experiment_id, "deleted", _now_ms())

    def restore_experiment(self, experiment_id: str) -> None:
        with self.connector.transaction() as con:
            experiments.set_lifecycle(con, experiment_id, "active", _now_ms())

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        with self.connector.transaction() as con:
            experiments.set_tag(con, experiment_id, key, value, _now_ms())

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        with self.connector.transaction() as con:
            experiments.delete_tag(con, experiment_id, key, _now_ms())

    # runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        user_id: str | None,
        start_time: int,
        tags: dict[str, str],
        parent_run_id: str | None = None,
        run_id: str | None = None,
    ) -> Run:
        run_id = run_id or uuid.uuid4().hex
        with self.connector.transaction() as con:
            return runs.create(
                con,
                run_id,
                experiment_id,
                run_name or run_id[:8],
                user_id,
                start_time,
                tags,
                parent_run_id,
                self.artifact_root,
            )

    def get_run(self, run_id: str) -> Run:
        with self.connector.connect() as con:
            return runs.get(con, run_id, self.artifact_root)

    def update_run(
        self,
        run_id: str,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Run:
        if run_name is not None:
            check_name(run_name, "run name")
        with self.connector.transaction() as con:
            runs.update(con, run_id, status, end_time, run_name)
            return runs.get(con, run_id, self.artifact_root)

    def delete_run(self, run_id: str) -> None:
        with self.connector.transaction() as con:
            runs.set_lifecycle(con, run_id, "deleted", _now_ms())

    def restore_run(self, run_id: str) -> None:
        with self.connector.transaction() as con:
            runs.set_lifecycle(con, run_id, "active", _now_ms())

    def write_batch(self, batch: WriteBatch, skip_invalid: bool = False) -> list[str]:
        if not len(batch):
            return []
        with self.connector.transaction() as con:
            return writes.apply(con, batch, skip_invalid)

    # reads ---------------------------------------------------------------------------------
    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        with self.connector.connect() as con:
            return reads.metric_history(con, run_id, key)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        view_type: str = "ACTIVE_ONLY",
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        reads.check_max_results(max_results)
        with self.connector.connect() as con:
            return reads.search(
                con,
                self.artifact_root,
                experiment_ids,
                filter_string,
                view_type,
                max_results,
                order_by,
                page_token,
            )

    def search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        view_type: str = "ACTIVE_ONLY",
        max_results: int = 100_000,
        order_by: list[str] | None = None,
    ) -> Any:
        with self.connector.connect() as con:
            return reads.runs_frame(
                con,
                self.artifact_root,
                experiment_ids,
                filter_string,
                view_type,
                max_results,
                order_by,
            )

    def get_cells(self, run_id: str) -> list[Cell]:
        with self.connector.connect() as con:
            return runs.cells(con, run_id)

    def get_logged_items(self, run_id: str, cell_id: str | None = None) -> list[tuple]:
        return lineage_queries.logged_items(self, run_id, lineage_queries.check_cell_id(cell_id))

    def get_item_cell(
        self, run_id: str, kind: str, key: str, step: int | None = None
    ) -> tuple[bool, Cell | None]:
        kind, key, step = lineage_queries.check_item(kind, key, step)
        return lineage_queries.item_cell(self, run_id, kind, key, step)

    # artifacts -----------------------------------------------------------------------------
    def run_artifact_dir(self, run_id: str) -> Path:
        """The folder that holds a run's artifacts."""
        with self.connector.connect() as con:
            row = runs.require(con, run_id)
        return self.artifact_root / row[8]

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        base = self.run_artifact_dir(run_id)
        entries = artifact_files.list_dir(base, path)
        with self.connector.connect() as con:
            index = runs.artifact_index(con, run_id)
        for entry in entries:
            if entry.path in index:
                entry.cell_id = index[entry.path][2]
        return entries

    # housekeeping --------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        with self.connector.connect() as con:
            counts = {
                name: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for name, table in (
                    ("experiments", "experiments"),
                    ("runs", "runs"),
                    ("metric_points", "metrics"),
                    ("params", "params"),
                    ("tags", "tags"),
                    ("artifacts", "artifacts"),
                )
            }
            (version,) = con.execute("SELECT max(version) FROM schema_version").fetchone()
        return {
            "store": str(self.store_dir),
            "database": str(self.db_path),
            "artifact_root": str(self.artifact_root),
            "schema_version": version,
            "counts": counts,
        }

    def gc(self, older_than_ms: int | None = None) -> dict[str, Any]:
        """Permanently remove deleted runs (deleted at least ``older_than_ms`` ago)."""
        cutoff = _now_ms() - (older_than_ms or 0)
        with self.connector.transaction() as con:
            doomed = con.execute(
                "SELECT run_id, artifact_path FROM runs WHERE lifecycle_stage = 'deleted' "
                "AND coalesce(deleted_time, 0) <= ?",
                [cutoff],
            ).fetchall()
            ids = [r[0] for r in doomed]
            removed_rows = 0
            if ids:
                for table in (
                    "metrics",
                    "latest_metrics",
                    "params",
                    "tags",
                    "artifacts",
                    "inputs",
                    "cells",
                    "run_outputs",
                    "runs",
                ):
                    (n,) = con.execute(
                        f"SELECT count(*) FROM {table} WHERE list_contains(?, run_id)", [ids]
                    ).fetchone()
                    removed_rows += n
                    con.execute(f"DELETE FROM {table} WHERE list_contains(?, run_id)", [ids])
        freed = 0
        for _, artifact_path in doomed:
            # artifact_path is "<exp location>/<run id>/artifacts": remove the run's folder
            run_dir = (self.artifact_root / artifact_path).parent
            if run_dir.is_dir() and run_dir.resolve().is_relative_to(self.artifact_root):
                freed += sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
                shutil.rmtree(run_dir)
        return {"runs_removed": ids, "rows_removed": removed_rows, "bytes_freed": freed}

    # used by the tracking API when it writes artifact files itself
    def save_artifact_files(
        self, run_id: str, local_path: Path, artifact_path: str | None
    ) -> list[tuple[str, int, str]]:
        """Copy a file or folder into a run's artifacts; return (path, size, type) per file."""
        return artifact_files.copy_into(self.run_artifact_dir(run_id), local_path, artifact_path)

    def save_artifact_bytes(self, run_id: str, path: str, data: bytes) -> tuple[str, int, str]:
        """Write bytes as one artifact of a run."""
        return artifact_files.write_bytes(self.run_artifact_dir(run_id), path, data)

    def artifact_file(self, run_id: str, path: str) -> Path:
        """The local file behind a run's artifact; RESOURCE_DOES_NOT_EXIST if missing."""
        from ...errors import ErrorCode

        target = artifact_files.safe_join(self.run_artifact_dir(run_id), path)
        if not target.exists():
            raise MltrackError(
                f"run {run_id!r} has no artifact {path!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
            )
        return target
