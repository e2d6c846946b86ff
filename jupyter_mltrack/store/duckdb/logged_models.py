"""SQL for logged models (MLflow 3's LoggedModel) and run outputs.

Arguments arrive checked by :class:`~..registry_contract.AbstractRegistryStore`; what is decided
here is what only the data can tell (a missing experiment, run or model, a changed param).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from ...entities import LoggedModel
from ...errors import ErrorCode, MltrackError
from .. import paging
from . import experiments, runs
from .registry_search import LOGGED_MODELS, compile_registry_filter, compile_registry_order_by

_COLUMNS = (
    "model_id, experiment_id, name, model_type, source_run_id, status, artifact_path, "
    "creation_time, last_update_time"
)


def _load(con: Any, rows: list[tuple], artifact_root: Path) -> list[LoggedModel]:
    if not rows:
        return []
    ids = [r[0] for r in rows]
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    params: dict[str, dict[str, str]] = {i: {} for i in ids}
    for model_id, key, value in con.execute(
        "SELECT model_id, key, value FROM logged_model_tags WHERE list_contains(?, model_id)",
        [ids],
    ).fetchall():
        tags[model_id][key] = value
    for model_id, key, value in con.execute(
        "SELECT model_id, key, value FROM logged_model_params WHERE list_contains(?, model_id)",
        [ids],
    ).fetchall():
        params[model_id][key] = value
    return [
        LoggedModel(
            model_id=r[0],
            experiment_id=str(r[1]),
            name=r[2],
            model_type=r[3],
            source_run_id=r[4],
            status=r[5],
            artifact_path=r[6],
            artifact_uri=(artifact_root / r[6]).as_uri(),
            creation_timestamp_ms=r[7],
            last_updated_timestamp_ms=r[8],
            tags=tags[r[0]],
            params=params[r[0]],
        )
        for r in rows
    ]


def create(
    con: Any,
    artifact_root: Path,
    experiment_id: str,
    name: str,
    source_run_id: str | None,
    model_type: str | None,
    params: dict[str, str],
    tags: dict[str, str],
    now: int,
) -> LoggedModel:
    exp = experiments.get(con, experiment_id)
    if source_run_id:
        runs.require(con, source_run_id)
    model_id = f"m-{uuid.uuid4().hex}"
    con.execute(
        f"INSERT INTO logged_models ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            model_id,
            int(exp.experiment_id),
            name,
            model_type,
            source_run_id,
            "LOGGED_MODEL_PENDING",
            f"{exp.artifact_location}/models/{model_id}/artifacts",
            now,
            now,
        ],
    )
    for key, value in params.items():
        con.execute("INSERT INTO logged_model_params VALUES (?, ?, ?)", [model_id, key, value])
    for key, value in tags.items():
        con.execute("INSERT INTO logged_model_tags VALUES (?, ?, ?)", [model_id, key, value])
    return get(con, model_id, artifact_root)


def get(con: Any, model_id: str, artifact_root: Path) -> LoggedModel:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM logged_models WHERE model_id = ?", [model_id]
    ).fetchall()
    if not rows:
        raise MltrackError(
            f"no logged model with id {model_id!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
    return _load(con, rows, artifact_root)[0]


def set_status(con: Any, model_id: str, status: str, now: int) -> None:
    con.execute(
        "UPDATE logged_models SET status = ?, last_update_time = ? WHERE model_id = ?",
        [status, now, model_id],
    )


def set_tags(con: Any, model_id: str, tags: dict[str, str], now: int) -> None:
    for key, value in tags.items():
        con.execute(
            "INSERT OR REPLACE INTO logged_model_tags VALUES (?, ?, ?)", [model_id, key, value]
        )
    con.execute("UPDATE logged_models SET last_update_time = ? WHERE model_id = ?", [now, model_id])


def delete_tag(con: Any, model_id: str, key: str) -> None:
    con.execute("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", [model_id, key])


def log_params(con: Any, model_id: str, params: dict[str, str]) -> None:
    for key, value in params.items():
        old = con.execute(
            "SELECT value FROM logged_model_params WHERE model_id = ? AND key = ?",
            [model_id, key],
        ).fetchone()
        if old is not None and old[0] != value:
            raise MltrackError(
                f"param {key!r} of logged model {model_id!r} is {old[0]!r}; cannot change it"
            )
        if old is None:
            con.execute("INSERT INTO logged_model_params VALUES (?, ?, ?)", [model_id, key, value])


def delete(con: Any, model_id: str) -> None:
    for table in ("logged_model_tags", "logged_model_params", "run_outputs", "logged_models"):
        con.execute(f"DELETE FROM {table} WHERE model_id = ?", [model_id])


def search(
    con: Any,
    artifact_root: Path,
    experiment_ids: list[str],
    filter_expr: Any,
    order_terms: list[Any],
    max_results: int,
    page_token: str | None,
) -> tuple[list[LoggedModel], str | None]:
    offset = paging.decode(page_token)
    ids = [experiments.parse_id(e) for e in experiment_ids]
    where, params = compile_registry_filter(LOGGED_MODELS, filter_expr)
    order, order_params = compile_registry_order_by(LOGGED_MODELS, order_terms)
    rows = con.execute(
        f"SELECT {', '.join('lm.' + c.strip() for c in _COLUMNS.split(','))} "
        f"FROM logged_models lm WHERE list_contains(?, lm.experiment_id) AND ({where}) "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [ids, *params, *order_params, max_results + 1, offset],
    ).fetchall()
    token = paging.encode(offset + max_results) if len(rows) > max_results else None
    return _load(con, rows[:max_results], artifact_root), token


def log_outputs(con: Any, run_id: str, outputs: list[tuple[str, int]]) -> None:
    runs.require(con, run_id)
    for model_id, step in outputs:
        if not con.execute("SELECT 1 FROM logged_models WHERE model_id = ?", [model_id]).fetchone():
            raise MltrackError(
                f"no logged model with id {model_id!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
            )
        con.execute("INSERT OR REPLACE INTO run_outputs VALUES (?, ?, ?)", [run_id, model_id, step])
