"""The embedded store: a DuckDB file plus an artifact folder, in one store directory.

Layout of a store directory::

    mltrack.duckdb      runs, metrics, params, tags, … (schema in schema.py)
    artifacts/          <experiment artifact location>/<run id>/artifacts/…
                        <experiment artifact location>/models/<model id>/artifacts/… (logged
                        models: "models" is reserved as a run id; experiment locations never
                        overlap, so each object's folder holds only its own files)
    spool/              batches that could not be written yet (replayed on the next flush)
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from ... import artifacts as artifact_files
from ...clock import now_ms
from ...entities import ArtifactInfo, Cell, Experiment, MetricHistory, Run
from ...errors import ErrorCode, MltrackError
from ..contract import AbstractStore, WriteBatch
from . import experiments, lineage_queries, reads, runs, writes
from .connection import DEFAULT_LINGER_S, Connector, preload_engine
from .registry_methods import DuckDBRegistryMixin

DB_FILE = "mltrack.duckdb"
# gc forgets the ids of batches applied longer ago than this (a spool file replayed later than
# that would be written again)
BATCH_ID_RETENTION_MS = 30 * 24 * 3600 * 1000


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
        self._artifact_root_uri: str | None = None
        self.artifact_root.mkdir(exist_ok=True)
        self.db_path = self.store_dir / DB_FILE
        self.connector = Connector(self.db_path, linger=linger)

    def __repr__(self) -> str:
        return f"DuckDBStore({str(self.store_dir)!r})"

    def close(self) -> None:
        """Release the database file now."""
        self.connector.close()

    # experiments ---------------------------------------------------------------------------
    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        with self.connector.transaction() as con:
            return experiments.create(con, name, artifact_location, tags, now_ms())

    def _get_experiment(self, experiment_id: str) -> Experiment:
        with self.connector.connect() as con:
            return experiments.get(con, experiment_id)

    def _get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.connector.connect() as con:
            return experiments.get_by_name(con, name)

    def _search_experiments(
        self,
        view_type: str,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Experiment], str | None]:
        with self.connector.connect() as con:
            return experiments.search(
                con, view_type, filter_string, max_results, order_by, page_token
            )

    def _update_experiment(
        self, experiment_id: str, name: str | None, tags: dict[str, str | None]
    ) -> None:
        with self.connector.transaction() as con:
            experiments.update(con, experiment_id, name, tags, now_ms())

    def _set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        with self.connector.transaction() as con:
            experiments.set_lifecycle(con, experiment_id, stage, now_ms())

    # runs ----------------------------------------------------------------------------------
    def _run_artifact_uri(self, experiment: Experiment, run_id: str) -> str:
        # string work only (a run is made per call in a sweep); equal to runs.artifact_uri
        if self._artifact_root_uri is None:
            self._artifact_root_uri = self.artifact_root.as_uri()
        location = urllib.parse.quote(experiment.artifact_location)
        return f"{self._artifact_root_uri}/{location}/{run_id}/artifacts"

    def _get_run(self, run_id: str) -> Run:
        with self.connector.connect() as con:
            return runs.get(con, run_id, self.artifact_root)

    def _update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
        tags: dict[str, str | None],
    ) -> Run:
        with self.connector.transaction() as con:
            runs.update(con, run_id, status, end_time, run_name)
            runs.set_tags(con, run_id, tags)
            return runs.get(con, run_id, self.artifact_root)

    def _set_run_lifecycle(self, run_id: str, stage: str) -> None:
        with self.connector.transaction() as con:
            runs.set_lifecycle(con, run_id, stage, now_ms())

    def _write_batch(self, batch: WriteBatch, skip_invalid: bool) -> list[str]:
        with self.connector.transaction() as con:
            return writes.apply(con, batch, skip_invalid)

    def _append_logged_model_record(self, run_id: str, model: dict[str, Any]) -> None:
        with self.connector.transaction() as con:
            runs.append_model_record(con, run_id, model)

    # reads ---------------------------------------------------------------------------------
    def _get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        with self.connector.connect() as con:
            return reads.metric_history(con, run_id, key)

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Run], str | None]:
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

    def _search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        offset: int,
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
                offset,
            )

    def _get_cells(self, run_id: str) -> list[Cell]:
        with self.connector.connect() as con:
            return runs.cells(con, run_id)

    def _get_logged_items(self, run_id: str, cell_id: str | None) -> list[tuple]:
        return lineage_queries.logged_items(self, run_id, cell_id)

    def _get_item_cell(
        self, run_id: str, kind: str, key: str, step: int | None
    ) -> tuple[bool, Cell | None]:
        return lineage_queries.item_cell(self, run_id, kind, key, step)

    # artifacts -----------------------------------------------------------------------------
    def run_artifact_dir(self, run_id: str) -> Path:
        """The folder that holds a run's artifacts."""
        with self.connector.connect() as con:
            row = runs.require(con, run_id)
        return self.artifact_root / row[8]

    def _list_artifacts(self, run_id: str, path: str) -> list[ArtifactInfo]:
        base = self.run_artifact_dir(run_id)
        entries = artifact_files.list_dir(base, path)
        with self.connector.connect() as con:
            index = runs.artifact_index(con, run_id)
        for entry in entries:
            if entry.path in index:
                entry.cell_id = index[entry.path][2]
        return entries

    def _save_artifact_files(
        self, run_id: str, local_path: Path, artifact_path: str
    ) -> list[tuple[str, int, str]]:
        return artifact_files.copy_into(self.run_artifact_dir(run_id), local_path, artifact_path)

    def _save_artifact_bytes(self, run_id: str, path: str, data: bytes) -> tuple[str, int, str]:
        return artifact_files.write_bytes(self.run_artifact_dir(run_id), path, data)

    def _artifact_file(self, run_id: str, path: str) -> Path:
        target = artifact_files.safe_join(self.run_artifact_dir(run_id), path)
        if not target.exists():
            raise MltrackError(
                f"run {run_id!r} has no artifact {path!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
            )
        return target

    # housekeeping --------------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
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

    def _remove_run_files(self, artifacts_dir: Path, kept: list[Path]) -> int:
        """Remove a deleted run's files, and nothing another object owns; return bytes freed.

        ``artifacts_dir`` is ``<experiment location>/<run id>/artifacts``. The run's folder
        goes when no kept object's folder lies inside it; else only its ``artifacts`` folder
        (stores from before run ids like ``models`` were reserved may have a run's folder over
        other objects' folders); else nothing.
        """
        root = self.artifact_root
        run_dir = artifacts_dir.parent
        for target in (run_dir, artifacts_dir):
            if not target.is_dir() or target.resolve() == root:
                continue
            if not target.resolve().is_relative_to(root):
                continue  # a symlink out of the store: never follow it
            if any(k == target or k.is_relative_to(target) for k in kept):
                continue
            freed = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
            shutil.rmtree(target)
            return freed
        return 0

    def _gc(self, older_than_ms: int | None) -> dict[str, Any]:
        cutoff = now_ms() - (older_than_ms or 0)
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
            # Batch ids only guard against resends and replays, which come within minutes (a
            # spool waits for its owner's next flush): old ones need not be kept for ever.
            forget = now_ms() - BATCH_ID_RETENTION_MS
            (n,) = con.execute(
                "SELECT count(*) FROM write_batches WHERE applied_time < ?", [forget]
            ).fetchone()
            if n:
                con.execute("DELETE FROM write_batches WHERE applied_time < ?", [forget])
                removed_rows += n
            # What stays must keep its files: every experiment folder, every remaining run's
            # folder, every logged model's folder.
            # (A run's or model's folder is its artifact path's parent: "<…>/<id>/artifacts".)
            kept = [
                self.artifact_root / row[0]
                for row in con.execute(
                    "SELECT artifact_location FROM experiments "
                    "UNION ALL SELECT parse_dirpath(artifact_path) FROM runs "
                    "UNION ALL SELECT parse_dirpath(artifact_path) FROM logged_models"
                ).fetchall()
            ]
        freed = 0
        for _, artifact_path in doomed:
            freed += self._remove_run_files(self.artifact_root / artifact_path, kept)
        return {"runs_removed": ids, "rows_removed": removed_rows, "bytes_freed": freed}
