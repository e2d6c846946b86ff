"""SQL for the model registry: registered models, versions, stages, aliases, reviews, history.

Every change writes a row to ``registry_events`` in the same transaction, so the history of a
model (who moved which alias to which version, when) can always be read back. Arguments arrive
checked by :class:`~..registry_contract.AbstractRegistryStore` (versions as ints, stages in
MLflow's spelling); what is decided here is what only the data can tell.
"""

from __future__ import annotations

import json
from typing import Any

from ...entities import ModelStage, ModelVersion, RegisteredModel, RegistryEvent
from ...errors import ErrorCode, MltrackError
from .. import paging
from .registry_search import (
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    compile_registry_filter,
    compile_registry_order_by,
)

_VERSION_COLUMNS = (
    "name, version, creation_time, last_update_time, description, user_id, stage, source, "
    "run_id, run_link, model_id, status, approval"
)


def record(
    con: Any,
    now: int,
    user: str | None,
    name: str,
    version: int | None,
    kind: str,
    **detail: Any,
) -> None:
    con.execute(
        "INSERT INTO registry_events (time, user_id, name, version, kind, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [now, user, name, version, kind, json.dumps(detail)],
    )


def _touch(con: Any, name: str, now: int) -> None:
    con.execute("UPDATE registered_models SET last_update_time = ? WHERE name = ?", [now, name])


# registered models -------------------------------------------------------------------------
def require_model(con: Any, name: str) -> tuple:
    row = con.execute(
        "SELECT name, creation_time, last_update_time, description FROM registered_models "
        "WHERE name = ?",
        [name],
    ).fetchone()
    if row is None:
        raise MltrackError(f"no registered model named {name!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
    return row


def create_model(
    con: Any, name: str, description: str | None, tags: dict[str, str], user: str | None, now: int
) -> None:
    if con.execute("SELECT 1 FROM registered_models WHERE name = ?", [name]).fetchone():
        raise MltrackError(
            f"a registered model named {name!r} already exists",
            ErrorCode.RESOURCE_ALREADY_EXISTS,
        )
    con.execute("INSERT INTO registered_models VALUES (?, ?, ?, ?)", [name, now, now, description])
    for key, value in tags.items():
        con.execute("INSERT INTO registered_model_tags VALUES (?, ?, ?)", [name, key, value])
    record(con, now, user, name, None, "create_model", description=description, tags=tags)


def _models(con: Any, rows: list[tuple]) -> list[RegisteredModel]:
    if not rows:
        return []
    names = [r[0] for r in rows]
    models = {r[0]: RegisteredModel(r[0], r[1], r[2], r[3]) for r in rows}
    for name, key, value in con.execute(
        "SELECT name, key, value FROM registered_model_tags WHERE list_contains(?, name)", [names]
    ).fetchall():
        models[name].tags[key] = value
    for name, alias, version in con.execute(
        "SELECT name, alias, version FROM model_aliases WHERE list_contains(?, name) "
        "ORDER BY alias",
        [names],
    ).fetchall():
        models[name].aliases[alias] = str(version)
    # latest version per stage, as MLflow's latest_versions
    latest = con.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE list_contains(?, name) "
        "QUALIFY row_number() OVER (PARTITION BY name, stage ORDER BY version DESC) = 1 "
        "ORDER BY name, version",
        [names],
    ).fetchall()
    for version in _versions(con, latest):
        models[version.name].latest_versions.append(version)
    return [models[n] for n in names]


def get_model(con: Any, name: str) -> RegisteredModel:
    return _models(con, [require_model(con, name)])[0]


def update_model(con: Any, name: str, description: str | None, user: str | None, now: int) -> None:
    old = require_model(con, name)
    con.execute(
        "UPDATE registered_models SET description = ?, last_update_time = ? WHERE name = ?",
        [description, now, name],
    )
    record(con, now, user, name, None, "update_description", old=old[3], new=description)


def rename_model(con: Any, name: str, new_name: str, user: str | None, now: int) -> None:
    require_model(con, name)
    if con.execute("SELECT 1 FROM registered_models WHERE name = ?", [new_name]).fetchone():
        raise MltrackError(
            f"a registered model named {new_name!r} already exists",
            ErrorCode.RESOURCE_ALREADY_EXISTS,
        )
    for table in (
        "registered_models",
        "registered_model_tags",
        "model_versions",
        "model_version_tags",
        "model_aliases",
        "registry_events",
    ):
        con.execute(f"UPDATE {table} SET name = ? WHERE name = ?", [new_name, name])
    _touch(con, new_name, now)
    record(con, now, user, new_name, None, "rename", old=name, new=new_name)


def delete_model(con: Any, name: str, user: str | None, now: int) -> None:
    require_model(con, name)
    for table in (
        "model_version_tags",
        "model_aliases",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        con.execute(f"DELETE FROM {table} WHERE name = ?", [name])
    # the history stays: a deleted model's trail is still evidence of what happened
    record(con, now, user, name, None, "delete_model")


def set_model_tag(
    con: Any, name: str, key: str, value: str | None, user: str | None, now: int
) -> None:
    require_model(con, name)
    if value is None:
        con.execute("DELETE FROM registered_model_tags WHERE name = ? AND key = ?", [name, key])
        record(con, now, user, name, None, "delete_tag", key=key)
    else:
        con.execute(
            "INSERT OR REPLACE INTO registered_model_tags VALUES (?, ?, ?)", [name, key, value]
        )
        record(con, now, user, name, None, "set_tag", key=key, value=value)
    _touch(con, name, now)


def search_models(
    con: Any, filter_expr: Any, order_terms: list[Any], max_results: int, page_token: str | None
) -> tuple[list[RegisteredModel], str | None]:
    offset = paging.decode(page_token)
    where, params = compile_registry_filter(REGISTERED_MODELS, filter_expr)
    order, order_params = compile_registry_order_by(REGISTERED_MODELS, order_terms)
    rows = con.execute(
        "SELECT rm.name, rm.creation_time, rm.last_update_time, rm.description "
        f"FROM registered_models rm WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, *order_params, max_results + 1, offset],
    ).fetchall()
    token = paging.encode(offset + max_results) if len(rows) > max_results else None
    return _models(con, rows[:max_results]), token


# versions ------------------------------------------------------------------------------------
def _versions(con: Any, rows: list[tuple]) -> list[ModelVersion]:
    if not rows:
        return []
    keys = [(r[0], r[1]) for r in rows]
    out = {
        (r[0], r[1]): ModelVersion(
            name=r[0],
            version=str(r[1]),
            creation_timestamp=r[2],
            last_updated_timestamp=r[3],
            description=r[4],
            user_id=r[5],
            current_stage=r[6],
            source=r[7],
            run_id=r[8],
            run_link=r[9],
            model_id=r[10],
            status=r[11],
            approval=r[12],
        )
        for r in rows
    }
    names = sorted({k[0] for k in keys})
    for name, version, key, value in con.execute(
        "SELECT name, version, key, value FROM model_version_tags WHERE list_contains(?, name)",
        [names],
    ).fetchall():
        if (name, version) in out:
            out[(name, version)].tags[key] = value
    for name, alias, version in con.execute(
        "SELECT name, alias, version FROM model_aliases WHERE list_contains(?, name) "
        "ORDER BY alias",
        [names],
    ).fetchall():
        if (name, version) in out:
            out[(name, version)].aliases.append(alias)
    return [out[k] for k in keys]


def require_version(con: Any, name: str, version: int) -> tuple:
    require_model(con, name)
    row = con.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? AND version = ?",
        [name, version],
    ).fetchone()
    if row is None:
        raise MltrackError(
            f"registered model {name!r} has no version {version}",
            ErrorCode.RESOURCE_DOES_NOT_EXIST,
        )
    return row


def get_version(con: Any, name: str, version: int) -> ModelVersion:
    return _versions(con, [require_version(con, name, version)])[0]


def create_version(
    con: Any,
    name: str,
    source: str,
    run_id: str | None,
    model_id: str | None,
    run_link: str | None,
    description: str | None,
    tags: dict[str, str],
    user: str | None,
    now: int,
) -> int:
    require_model(con, name)
    # Inside the writer's transaction, so two registrations of one name never share a number.
    (number,) = con.execute(
        "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE name = ?", [name]
    ).fetchone()
    con.execute(
        f"INSERT INTO model_versions ({_VERSION_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, 'READY', 'NONE')",
        [name, number, now, now, description, user, source, run_id, run_link, model_id],
    )
    for key, value in tags.items():
        con.execute(
            "INSERT INTO model_version_tags VALUES (?, ?, ?, ?)", [name, number, key, value]
        )
    _touch(con, name, now)
    record(
        con,
        now,
        user,
        name,
        number,
        "create_version",
        source=source,
        run_id=run_id,
        model_id=model_id,
    )
    return int(number)


def update_version(
    con: Any, name: str, version: int, description: str | None, user: str | None, now: int
) -> None:
    old = require_version(con, name, version)
    con.execute(
        "UPDATE model_versions SET description = ?, last_update_time = ? "
        "WHERE name = ? AND version = ?",
        [description, now, name, old[1]],
    )
    record(con, now, user, name, old[1], "update_description", old=old[4], new=description)


def delete_version(con: Any, name: str, version: int, user: str | None, now: int) -> None:
    row = require_version(con, name, version)
    for (alias,) in con.execute(
        "SELECT alias FROM model_aliases WHERE name = ? AND version = ?", [name, row[1]]
    ).fetchall():
        record(con, now, user, name, row[1], "delete_alias", alias=alias, reason="version deleted")
    for table in ("model_version_tags", "model_aliases", "model_versions"):
        con.execute(f"DELETE FROM {table} WHERE name = ? AND version = ?", [name, row[1]])
    _touch(con, name, now)
    record(con, now, user, name, row[1], "delete_version")


def transition_stage(
    con: Any,
    name: str,
    version: int,
    stage: str,
    archive_existing: bool,
    user: str | None,
    now: int,
) -> None:
    row = require_version(con, name, version)
    if archive_existing and stage in (ModelStage.STAGING, ModelStage.PRODUCTION):
        for (other,) in con.execute(
            "SELECT version FROM model_versions WHERE name = ? AND stage = ? AND version != ?",
            [name, stage, row[1]],
        ).fetchall():
            con.execute(
                "UPDATE model_versions SET stage = 'Archived', last_update_time = ? "
                "WHERE name = ? AND version = ?",
                [now, name, other],
            )
            record(
                con,
                now,
                user,
                name,
                other,
                "transition_stage",
                old=stage,
                new=ModelStage.ARCHIVED,
                reason=f"archived when version {row[1]} moved in",
            )
    con.execute(
        "UPDATE model_versions SET stage = ?, last_update_time = ? WHERE name = ? AND version = ?",
        [stage, now, name, row[1]],
    )
    _touch(con, name, now)
    record(con, now, user, name, row[1], "transition_stage", old=row[6], new=stage)


def set_version_tag(
    con: Any, name: str, version: int, key: str, value: str | None, user: str | None, now: int
) -> None:
    row = require_version(con, name, version)
    if value is None:
        con.execute(
            "DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?",
            [name, row[1], key],
        )
        record(con, now, user, name, row[1], "delete_tag", key=key)
    else:
        con.execute(
            "INSERT OR REPLACE INTO model_version_tags VALUES (?, ?, ?, ?)",
            [name, row[1], key, value],
        )
        record(con, now, user, name, row[1], "set_tag", key=key, value=value)


def set_alias(con: Any, name: str, alias: str, version: int, user: str | None, now: int) -> None:
    row = require_version(con, name, version)
    old = con.execute(
        "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", [name, alias]
    ).fetchone()
    con.execute("INSERT OR REPLACE INTO model_aliases VALUES (?, ?, ?)", [name, alias, row[1]])
    _touch(con, name, now)
    record(
        con,
        now,
        user,
        name,
        row[1],
        "set_alias",
        alias=alias,
        previous_version=old[0] if old else None,
    )


def delete_alias(con: Any, name: str, alias: str, user: str | None, now: int) -> None:
    require_model(con, name)
    old = con.execute(
        "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", [name, alias]
    ).fetchone()
    if old is None:
        raise MltrackError(f"registered model {name!r} has no alias {alias!r}")
    con.execute("DELETE FROM model_aliases WHERE name = ? AND alias = ?", [name, alias])
    _touch(con, name, now)
    record(con, now, user, name, old[0], "delete_alias", alias=alias)


def version_by_alias(con: Any, name: str, alias: str) -> ModelVersion:
    require_model(con, name)
    row = con.execute(
        "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", [name, alias]
    ).fetchone()
    if row is None:
        # MLflow answers an unknown alias with INVALID_PARAMETER_VALUE, not "does not exist"
        raise MltrackError(f"registered model {name!r} has no alias {alias!r}")
    return get_version(con, name, row[0])


def latest_versions(con: Any, name: str, stages: list[str] | None) -> list[ModelVersion]:
    require_model(con, name)
    wanted = stages or list(ModelStage.ALL)
    rows = con.execute(
        f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? "
        "AND list_contains(?, stage) "
        "QUALIFY row_number() OVER (PARTITION BY stage ORDER BY version DESC) = 1 "
        "ORDER BY version",
        [name, wanted],
    ).fetchall()
    return _versions(con, rows)


def search_versions(
    con: Any, filter_expr: Any, order_terms: list[Any], max_results: int, page_token: str | None
) -> tuple[list[ModelVersion], str | None]:
    offset = paging.decode(page_token)
    where, params = compile_registry_filter(MODEL_VERSIONS, filter_expr)
    order, order_params = compile_registry_order_by(MODEL_VERSIONS, order_terms)
    columns = ", ".join("mv." + c.strip() for c in _VERSION_COLUMNS.split(","))
    rows = con.execute(
        f"SELECT {columns} FROM model_versions mv WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, *order_params, max_results + 1, offset],
    ).fetchall()
    token = paging.encode(offset + max_results) if len(rows) > max_results else None
    return _versions(con, rows[:max_results]), token


def review(
    con: Any,
    name: str,
    version: int,
    comment: str | None,
    approval: str | None,
    user: str | None,
    now: int,
) -> None:
    """A comment on a version, optionally with an approval decision, into the review trail."""
    row = require_version(con, name, version)
    if approval is not None:
        con.execute(
            "UPDATE model_versions SET approval = ?, last_update_time = ? "
            "WHERE name = ? AND version = ?",
            [approval, now, name, row[1]],
        )
    record(
        con,
        now,
        user,
        name,
        row[1],
        "review",
        comment=comment,
        approval=approval,
        previous_approval=row[12],
    )


def history(
    con: Any, name: str, version: int | None, kinds: list[str] | None
) -> list[RegistryEvent]:
    params: list[Any] = [name]
    where = "name = ?"
    if version is not None:
        where += " AND version = ?"
        params.append(version)
    if kinds:
        where += " AND list_contains(?, kind)"
        params.append(kinds)
    rows = con.execute(
        "SELECT seq, time, user_id, name, version, kind, detail FROM registry_events "
        f"WHERE {where} ORDER BY seq",
        params,
    ).fetchall()
    return [
        RegistryEvent(
            r[0],
            r[1],
            r[2],
            r[3],
            None if r[4] is None else str(r[4]),
            r[5],
            json.loads(r[6]) if r[6] else {},
        )
        for r in rows
    ]
