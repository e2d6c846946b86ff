"""SQL for experiments."""

from __future__ import annotations

from typing import Any

from ...entities import Experiment, ViewType
from ...errors import ErrorCode, MltrackError
from .. import paging, rules

_COLUMNS = (
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"
)


def lifecycle_clause(view_type: str, column: str) -> str:
    if view_type not in ViewType.CHOICES:
        raise MltrackError(f"view_type must be one of {', '.join(ViewType.CHOICES)}")
    if view_type == ViewType.ACTIVE_ONLY:
        return f"{column} = 'active'"
    if view_type == ViewType.DELETED_ONLY:
        return f"{column} = 'deleted'"
    return "TRUE"


def parse_id(experiment_id: Any) -> int:
    try:
        value = int(str(experiment_id))
    except (TypeError, ValueError):
        raise MltrackError(
            f"experiment id must be a number, got {experiment_id!r}",
            ErrorCode.INVALID_PARAMETER_VALUE,
        ) from None
    if value < 0:
        raise MltrackError(f"experiment id must not be negative, got {experiment_id!r}")
    return value


def _to_entities(con: Any, rows: list[tuple]) -> list[Experiment]:
    if not rows:
        return []
    ids = [r[0] for r in rows]
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    for exp_id, key, value in con.execute(
        "SELECT experiment_id, key, value FROM experiment_tags "
        "WHERE list_contains(?, experiment_id)",
        [ids],
    ).fetchall():
        tags[exp_id][key] = value
    return [Experiment(str(r[0]), r[1], r[2], r[3], r[4], r[5], tags=tags[r[0]]) for r in rows]


def _overlap(a: str, b: str) -> bool:
    """Whether two artifact folders (relative POSIX paths) are the same or one holds the other.

    Compared case-insensitively: on a case-insensitive file system ``A`` and ``a`` are one.
    """
    a_parts = a.casefold().strip("/").split("/")
    b_parts = b.casefold().strip("/").split("/")
    n = min(len(a_parts), len(b_parts))
    return a_parts[:n] == b_parts[:n]


def create(
    con: Any,
    name: str,
    artifact_location: str | None,
    tags: dict[str, str],
    now: int,
) -> str:
    if con.execute("SELECT 1 FROM experiments WHERE name = ?", [name]).fetchone():
        raise MltrackError(
            f"an experiment named {name!r} already exists", ErrorCode.RESOURCE_ALREADY_EXISTS
        )
    (new_id,) = con.execute(
        "SELECT coalesce(max(experiment_id), 0) + 1 FROM experiments"
    ).fetchone()
    taken = [r[0] for r in con.execute("SELECT artifact_location FROM experiments").fetchall()]
    if artifact_location:
        clash = next((t for t in taken if _overlap(artifact_location, t)), None)
        if clash is not None:
            raise MltrackError(
                f"artifact location {artifact_location!r} overlaps {clash!r}, the folder of "
                "another experiment (and its runs and models); choose a separate folder",
                ErrorCode.INVALID_PARAMETER_VALUE,
            )
        location = artifact_location
    else:
        # the default, the id, may have been taken by a location chosen by hand
        location, n = str(new_id), 0
        while any(_overlap(location, t) for t in taken):
            n += 1
            location = f"{new_id}-{n}"
    con.execute(
        f"INSERT INTO experiments ({_COLUMNS}) VALUES (?, ?, ?, 'active', ?, ?)",
        [new_id, name, location, now, now],
    )
    for key, value in tags.items():
        con.execute("INSERT INTO experiment_tags VALUES (?, ?, ?)", [new_id, key, value])
    return str(new_id)


def get(con: Any, experiment_id: str) -> Experiment:
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM experiments WHERE experiment_id = ?", [parse_id(experiment_id)]
    ).fetchall()
    if not rows:
        raise rules.missing_experiment_error(experiment_id)
    return _to_entities(con, rows)[0]


def get_by_name(con: Any, name: str) -> Experiment | None:
    rows = con.execute(f"SELECT {_COLUMNS} FROM experiments WHERE name = ?", [name]).fetchall()
    return _to_entities(con, rows)[0] if rows else None


def search(
    con: Any,
    view_type: str,
    filter_string: str | None,
    max_results: int,
    order_by: list[str] | None,
    page_token: str | None,
) -> tuple[list[Experiment], str | None]:
    from ...search.filter_parser import parse_experiment_filter, parse_experiment_order_by
    from .search_sql import compile_experiment_filter, compile_experiment_order_by

    offset = paging.decode(page_token)
    where = [lifecycle_clause(view_type, "e.lifecycle_stage")]
    params: list[Any] = []
    expr = parse_experiment_filter(filter_string)
    if expr is not None:
        sql, args = compile_experiment_filter(expr)
        where.append(sql)
        params.extend(args)
    order_sql, order_args = compile_experiment_order_by(
        parse_experiment_order_by(order_by) if order_by else []
    )
    rows = con.execute(
        f"SELECT {', '.join('e.' + c.strip() for c in _COLUMNS.split(','))} FROM experiments e "
        f"WHERE {' AND '.join(where)} ORDER BY {order_sql} LIMIT ? OFFSET ?",
        [*params, *order_args, max_results + 1, offset],
    ).fetchall()
    token = paging.encode(offset + max_results) if len(rows) > max_results else None
    return _to_entities(con, rows[:max_results]), token


def rename(con: Any, experiment_id: str, new_name: str, now: int) -> None:
    get(con, experiment_id)
    clash = con.execute(
        "SELECT experiment_id FROM experiments WHERE name = ?", [new_name]
    ).fetchone()
    if clash and clash[0] != parse_id(experiment_id):
        raise MltrackError(
            f"an experiment named {new_name!r} already exists", ErrorCode.RESOURCE_ALREADY_EXISTS
        )
    con.execute(
        "UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?",
        [new_name, now, parse_id(experiment_id)],
    )


def set_lifecycle(con: Any, experiment_id: str, stage: str, now: int) -> None:
    """Delete or restore an experiment with its runs, as MLflow does.

    Deleting marks the experiment's active runs deleted at the experiment's deletion time;
    restoring brings back only the runs deleted at that time, so a run deleted on its own
    before stays deleted. (Stores from before schema 3 have no experiment deletion time: there
    the old code set it equal to ``last_update_time``, which is used instead.)
    """
    exp = get(con, experiment_id)
    exp_id = parse_id(experiment_id)
    if stage == "deleted" and exp.experiment_id == "0":
        raise MltrackError("the Default experiment (id 0) cannot be deleted")
    if stage == exp.lifecycle_stage:
        return  # deleting twice must not take more runs along, nor move the deletion time
    if stage == "deleted":
        con.execute(
            "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? "
            "WHERE experiment_id = ? AND lifecycle_stage = 'active'",
            [now, exp_id],
        )
    else:
        con.execute(
            "UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL "
            "WHERE experiment_id = ? AND lifecycle_stage = 'deleted' AND deleted_time = ("
            "  SELECT coalesce(deleted_time, last_update_time) FROM experiments "
            "  WHERE experiment_id = ?)",
            [exp_id, exp_id],
        )
    con.execute(
        "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ?, deleted_time = ? "
        "WHERE experiment_id = ?",
        [stage, now, now if stage == "deleted" else None, exp_id],
    )


def set_tag(con: Any, experiment_id: str, key: str, value: str, now: int) -> None:
    get(con, experiment_id)
    con.execute(
        "INSERT OR REPLACE INTO experiment_tags VALUES (?, ?, ?)",
        [parse_id(experiment_id), key, value],
    )
    con.execute(
        "UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?",
        [now, parse_id(experiment_id)],
    )


def delete_tag(con: Any, experiment_id: str, key: str, now: int) -> None:
    get(con, experiment_id)
    con.execute(
        "DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?",
        [parse_id(experiment_id), key],
    )
    con.execute(
        "UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?",
        [now, parse_id(experiment_id)],
    )


def update(
    con: Any, experiment_id: str, name: str | None, tags: dict[str, str | None], now: int
) -> None:
    """Rename and set (None: delete) tags, inside the caller's transaction."""
    get(con, experiment_id)
    if name is not None:
        rename(con, experiment_id, name, now)
    for key, value in tags.items():
        if value is None:
            delete_tag(con, experiment_id, key, now)
        else:
            set_tag(con, experiment_id, key, value, now)
