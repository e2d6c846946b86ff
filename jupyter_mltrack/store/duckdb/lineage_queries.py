"""SQL that links logged items to the notebook cells that logged them.

Every param, tag, metric point, artifact and dataset input carries the id of the cell it came from
(see ``schema.py``); the ``cells`` table holds each executed cell. A cell id repeats when a cell is
executed again, so an item is matched to the execution that logged it by time where the item has
a time (metric points, artifacts), else to the first execution (params keep their first value)
or the last (tags and inputs keep their last).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...entities import Cell
from .. import rules
from .runs import require

if TYPE_CHECKING:
    from .store import DuckDBStore

_CELL_COLUMNS = (
    "run_id, seq, cell_id, execution_count, source, start_time, duration_ms, outcome, "
    "error_type, error_message"
)


def logged_items(store: DuckDBStore, run_id: str, cell_id: str | None = None) -> list[tuple]:
    """Everything a run logged, with the cell each came from.

    Returns rows ``(kind, key, cell_id, value, first_step, last_step, points)``: one row per
    param, tag, artifact and input; one row per (metric, cell) with the value of the cell's last
    point and the range of steps it logged. With ``cell_id``, only that cell's items.
    """
    with store.connector.connect() as con:
        require(con, run_id)
        rows = con.execute(
            "SELECT * FROM ("
            "  SELECT 'param' AS kind, key, cell_id, value, NULL AS s0, NULL AS s1, 1 AS n "
            "    FROM params WHERE run_id = $run"
            "  UNION ALL SELECT 'tag', key, cell_id, value, NULL, NULL, 1"
            "    FROM tags WHERE run_id = $run"
            "  UNION ALL SELECT 'metric', key, cell_id,"
            "    CAST(arg_max(value, (step, timestamp)) AS VARCHAR), min(step), max(step), count(*)"
            "    FROM metrics WHERE run_id = $run GROUP BY key, cell_id"
            "  UNION ALL SELECT 'artifact', path, cell_id, media_type, NULL, NULL, 1"
            "    FROM artifacts WHERE run_id = $run"
            "  UNION ALL SELECT 'input', name, cell_id, digest, NULL, NULL, 1"
            "    FROM inputs WHERE run_id = $run"
            ") WHERE $cell IS NULL OR cell_id = $cell "
            "ORDER BY kind, key, s0 NULLS FIRST",
            {"run": run_id, "cell": cell_id},
        ).fetchall()
    return [tuple(r) for r in rows]


def _item_origin(con: Any, run_id: str, kind: str, key: str, step: int | None) -> tuple | None:
    """(cell_id, time or None, which execution) of one logged item, or None if not logged."""
    if kind == "metric":
        if step is None:
            return con.execute(
                "SELECT cell_id, timestamp, 'at' FROM latest_metrics WHERE run_id = ? AND key = ?",
                [run_id, key],
            ).fetchone()
        return con.execute(
            "SELECT cell_id, timestamp, 'at' FROM metrics WHERE run_id = ? AND key = ? "
            "AND step = ? ORDER BY timestamp DESC LIMIT 1",
            [run_id, key, step],
        ).fetchone()
    if kind == "artifact":
        return con.execute(
            "SELECT cell_id, logged_time, 'at' FROM artifacts WHERE run_id = ? AND path = ?",
            [run_id, key],
        ).fetchone()
    table, column, which = {
        "param": ("params", "key", "first"),
        "tag": ("tags", "key", "last"),
        "input": ("inputs", "name", "last"),
    }[kind]
    return con.execute(
        f"SELECT cell_id, NULL, '{which}' FROM {table} WHERE run_id = ? AND {column} = ?",
        [run_id, key],
    ).fetchone()


def item_cell(
    store: DuckDBStore, run_id: str, kind: str, key: str, step: int | None = None
) -> tuple[bool, Cell | None]:
    """The cell execution that logged one item of a run.

    Returns ``(found, cell)``: ``found`` is False when the run never logged the item; ``cell``
    is None when the item was logged outside any recorded cell.
    """
    rules.check_kind(kind)  # ``kind`` picks a table name below: never trust it unchecked
    with store.connector.connect() as con:
        require(con, run_id)
        origin = _item_origin(con, run_id, kind, key, step)
        if origin is None:
            return False, None
        cell_id, when, which = origin
        if cell_id is None:
            return True, None
        if which == "at":
            # the last execution of the cell that had started when the item was logged
            row = con.execute(
                f"SELECT {_CELL_COLUMNS} FROM cells WHERE run_id = ? AND cell_id = ? "
                "ORDER BY (start_time <= ?) DESC, "
                "CASE WHEN start_time <= ? THEN -seq ELSE seq END LIMIT 1",
                [run_id, cell_id, when, when],
            ).fetchone()
        else:
            order = "seq" if which == "first" else "seq DESC"
            row = con.execute(
                f"SELECT {_CELL_COLUMNS} FROM cells WHERE run_id = ? AND cell_id = ? "
                f"ORDER BY {order} LIMIT 1",
                [run_id, cell_id],
            ).fetchone()
    return True, (Cell(*row) if row else None)


def run_facts(store: DuckDBStore, run_ids: list[str]) -> dict[str, tuple[int, int]]:
    """For each run: (start time, the next free cell sequence number). Unknown runs are absent."""
    if not run_ids:
        return {}
    with store.connector.connect() as con:
        rows = con.execute(
            "SELECT r.run_id, r.start_time, coalesce(max(c.seq) + 1, 0) FROM runs r "
            "LEFT JOIN cells c ON c.run_id = r.run_id "
            "WHERE list_contains(?, r.run_id) GROUP BY r.run_id, r.start_time",
            [list(run_ids)],
        ).fetchall()
    return {run_id: (int(start), int(next_seq)) for run_id, start, next_seq in rows}
