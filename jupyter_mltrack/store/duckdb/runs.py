"""SQL for runs: create, read (one or many at once), update, lifecycle, cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ... import validation
from ...entities import Cell, Dataset, DatasetInput, Run, RunData, RunInfo, RunStatus
from ...errors import ErrorCode, MltrackError
from .. import rules

RUN_COLUMNS = (
    "run_id, experiment_id, run_name, user_id, status, start_time, end_time, lifecycle_stage, "
    "artifact_path, parent_run_id"
)


def artifact_uri(artifact_root: Path, artifact_path: str) -> str:
    """A run's artifact folder as a file URI (the DB keeps it relative to the store)."""
    return (artifact_root / artifact_path).as_uri()


def require(con: Any, run_id: str) -> tuple:
    """The run's row; RESOURCE_DOES_NOT_EXIST when there is none."""
    if not isinstance(run_id, str) or not run_id:
        raise MltrackError(f"run id must be a non-empty string, got {run_id!r}")
    row = con.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if row is None:
        raise MltrackError(f"no run with id {run_id!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
    return row


def load(con: Any, run_ids: list[str], artifact_root: Path) -> list[Run]:
    """Full runs for ``run_ids``, in that order, reading each table once for all of them."""
    if not run_ids:
        return []
    by_id: dict[str, Run] = {}
    for row in con.execute(
        f"SELECT {RUN_COLUMNS} FROM runs WHERE list_contains(?, run_id)", [run_ids]
    ).fetchall():
        info = RunInfo(
            run_id=row[0],
            experiment_id=str(row[1]),
            run_name=row[2],
            user_id=row[3],
            status=row[4],
            start_time=row[5],
            end_time=row[6],
            lifecycle_stage=row[7],
            artifact_uri=artifact_uri(artifact_root, row[8]),
            parent_run_id=row[9],
        )
        by_id[row[0]] = Run(info=info, data=RunData())
    for run_id, key, value in con.execute(
        "SELECT run_id, key, value FROM params WHERE list_contains(?, run_id)", [run_ids]
    ).fetchall():
        by_id[run_id].data.params[key] = value
    for run_id, key, value in con.execute(
        "SELECT run_id, key, value FROM tags WHERE list_contains(?, run_id)", [run_ids]
    ).fetchall():
        by_id[run_id].data.tags[key] = value
    for run_id, key, value in con.execute(
        "SELECT run_id, key, value FROM latest_metrics WHERE list_contains(?, run_id)", [run_ids]
    ).fetchall():
        by_id[run_id].data.metrics[key] = value
    for row in con.execute(
        "SELECT i.run_id, i.name, i.digest, d.source_type, d.source, d.schema, d.profile, "
        "i.context, i.tags FROM inputs i JOIN runs r USING (run_id) "
        "LEFT JOIN datasets d ON d.experiment_id = r.experiment_id AND d.name = i.name "
        "AND d.digest = i.digest WHERE list_contains(?, i.run_id) ORDER BY i.name",
        [run_ids],
    ).fetchall():
        dataset = Dataset(row[1], row[2], row[3] or "local", row[4] or "", row[5], row[6])
        by_id[row[0]].inputs.append(
            DatasetInput(dataset, row[7], json.loads(row[8]) if row[8] else {})
        )
    for run_id, model_id, step in con.execute(
        "SELECT run_id, model_id, step FROM run_outputs WHERE list_contains(?, run_id) "
        "ORDER BY model_id",
        [run_ids],
    ).fetchall():
        by_id[run_id].outputs.append({"model_id": model_id, "step": step})
    return [by_id[i] for i in run_ids if i in by_id]


def get(con: Any, run_id: str, artifact_root: Path) -> Run:
    require(con, run_id)
    return load(con, [run_id], artifact_root)[0]


def update(
    con: Any, run_id: str, status: str | None, end_time: int | None, run_name: str | None
) -> None:
    require(con, run_id)
    if status is not None and status not in RunStatus.ALL:
        raise MltrackError(f"run status must be one of {', '.join(RunStatus.ALL)}, got {status!r}")
    if status is not None:
        # a run set back to RUNNING (resumed) has no end time yet
        con.execute(
            "UPDATE runs SET status = ?, end_time = ? WHERE run_id = ?",
            [status, end_time if status != RunStatus.RUNNING else None, run_id],
        )
    elif end_time is not None:
        con.execute("UPDATE runs SET end_time = ? WHERE run_id = ?", [end_time, run_id])
    if run_name is not None:
        con.execute("UPDATE runs SET run_name = ? WHERE run_id = ?", [run_name, run_id])
        con.execute(
            "INSERT OR REPLACE INTO tags VALUES (?, 'mlflow.runName', ?, NULL)", [run_id, run_name]
        )


def set_lifecycle(con: Any, run_id: str, stage: str, now: int) -> None:
    require(con, run_id)
    con.execute(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_id = ?",
        [stage, now if stage == "deleted" else None, run_id],
    )


def cells(con: Any, run_id: str) -> list[Cell]:
    require(con, run_id)
    rows = con.execute(
        "SELECT run_id, seq, cell_id, execution_count, source, start_time, duration_ms, outcome, "
        "error_type, error_message FROM cells WHERE run_id = ? ORDER BY seq",
        [run_id],
    ).fetchall()
    return [Cell(*row) for row in rows]


def artifact_index(con: Any, run_id: str) -> dict[str, tuple]:
    """Indexed artifacts of a run: path -> (size, media_type, cell_id)."""
    return {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT path, size, media_type, cell_id FROM artifacts WHERE run_id = ?", [run_id]
        ).fetchall()
    }


def set_tags(con: Any, run_id: str, tags: dict[str, str | None]) -> None:
    """Set (None: delete) tags of a run, inside the caller's transaction.

    A deleted run's tags are refused like any other write to it (INVALID_STATE).
    """
    if not tags:
        return
    if require(con, run_id)[7] != "active":  # lifecycle_stage, in RUN_COLUMNS order
        raise rules.deleted_run_error(run_id, "logging to it")
    for key, value in tags.items():
        if value is None:
            con.execute("DELETE FROM tags WHERE run_id = ? AND key = ?", [run_id, key])
        else:
            con.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?, NULL)", [run_id, key, value])


LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"


def append_model_record(con: Any, run_id: str, model: dict[str, Any]) -> None:
    """Append to the run's ``mlflow.log-model.history`` tag, inside the caller's transaction."""
    row = require(con, run_id)
    if row[7] != "active":  # lifecycle_stage, in RUN_COLUMNS order
        raise rules.deleted_run_error(run_id, "logging a model to it")
    found = con.execute(
        "SELECT value FROM tags WHERE run_id = ? AND key = ?", [run_id, LOG_MODEL_HISTORY_TAG]
    ).fetchone()
    try:
        history = json.loads(found[0]) if found else []
    except ValueError:
        history = []  # a hand-written tag that is not JSON: start a fresh history
    if not isinstance(history, list):
        history = []
    history.append(model)
    value = validation.tag_value_to_str(LOG_MODEL_HISTORY_TAG, json.dumps(history))
    con.execute(
        "INSERT OR REPLACE INTO tags VALUES (?, ?, ?, NULL)", [run_id, LOG_MODEL_HISTORY_TAG, value]
    )
