"""SQL for reading runs in bulk: metric histories, run search, the runs DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...entities import MetricHistory, Run
from ...errors import MltrackError
from .. import paging
from . import experiments, runs


def metric_history(con: Any, run_id: str, key: str) -> MetricHistory:
    runs.require(con, run_id)
    cols = con.execute(
        "SELECT step, value, timestamp FROM metrics WHERE run_id = ? AND key = ? "
        "ORDER BY step, timestamp",
        [run_id, key],
    ).fetchnumpy()
    return MetricHistory(key, cols["step"], cols["value"], cols["timestamp"])


def run_filter_sql(
    experiment_ids: list[str], filter_string: str | None, view_type: str
) -> tuple[str, list[Any]]:
    from ...search.filter_parser import parse_filter
    from .search_sql import compile_run_filter

    if not isinstance(experiment_ids, (list, tuple)):
        raise MltrackError(f"experiment_ids must be a list, got {experiment_ids!r}")
    ids = [experiments.parse_id(e) for e in experiment_ids]
    clauses = [
        "list_contains(?, r.experiment_id)",
        experiments.lifecycle_clause(view_type, "r.lifecycle_stage"),
    ]
    params: list[Any] = [ids]
    expr = parse_filter(filter_string)
    if expr is not None:
        sql, args = compile_run_filter(expr)
        clauses.append(f"({sql})")
        params.extend(args)
    return " AND ".join(clauses), params


def search_run_ids(
    con: Any,
    experiment_ids: list[str],
    filter_string: str | None,
    view_type: str,
    max_results: int,
    order_by: list[str] | None,
    offset: int,
) -> list[str]:
    """One parameterised query: the ids of the matching runs, in order, for one page.

    ``max_results`` was checked by the caller (:meth:`~..contract.AbstractStore.search_runs`…).
    """
    from ...search.filter_parser import parse_order_by
    from .search_sql import compile_run_order_by

    where, params = run_filter_sql(experiment_ids, filter_string, view_type)
    order_sql, order_params = compile_run_order_by(parse_order_by(order_by) if order_by else [])
    rows = con.execute(
        f"SELECT r.run_id FROM runs r WHERE {where} ORDER BY {order_sql} LIMIT ? OFFSET ?",
        [*params, *order_params, max_results, offset],
    ).fetchall()
    return [r[0] for r in rows]


def search(
    con: Any,
    artifact_root: Path,
    experiment_ids: list[str],
    filter_string: str | None,
    view_type: str,
    max_results: int,
    order_by: list[str] | None,
    page_token: str | None,
) -> tuple[list[Run], str | None]:
    offset = paging.decode(page_token)
    # one row more than asked tells whether another page exists
    ids = search_run_ids(
        con, experiment_ids, filter_string, view_type, max_results + 1, order_by, offset
    )
    token = paging.encode(offset + max_results) if len(ids) > max_results else None
    return runs.load(con, ids[:max_results], artifact_root), token


_FRAME_SOURCES = (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags"))
_KINDS = {prefix[0]: prefix for prefix, _ in _FRAME_SOURCES}
#: the run attributes that lead the runs DataFrame (run_id … parent_run_id)
_ATTRIBUTES = 8


def _column_name(code: str) -> str:
    """A pivoted column's name, its kind's letter and its key's UTF-8 in hex, as the frame
    names it: ``m6C6F7373`` -> ``metrics.loss``."""
    return f"{_KINDS[code[0]]}.{bytes.fromhex(code[1:]).decode()}"


def runs_frame(
    con: Any,
    artifact_root: Path,
    experiment_ids: list[str],
    filter_string: str | None,
    view_type: str,
    max_results: int,
    order_by: list[str] | None,
    offset: int = 0,
) -> Any:
    """Matching runs as a DataFrame: one row a run, MLflow's column names (``offset`` runs
    skipped first).

    Columns: run_id, experiment_id, run_name, status, artifact_uri, start_time, end_time
    (UTC datetimes), parent_run_id, then ``metrics.*``, ``params.*``, ``tags.*`` sorted by key.
    The long key/value rows are turned into columns by DuckDB's PIVOT, which is several times
    faster than pandas. PIVOT names its columns as SQL identifiers, which are case-insensitive
    (``loss`` after ``Loss`` would come out as ``loss_1``), so it pivots on each key in hex
    (case-safe, and sorted as the keys are) and the DataFrame's columns are named from that
    afterwards; keys are never spliced into SQL.
    """
    import pyarrow as pa

    ids = search_run_ids(
        con, experiment_ids, filter_string, view_type, max_results, order_by, offset
    )
    con.register("frame_ids", pa.table({"run_id": ids, "ord": list(range(len(ids)))}))
    pivoted: list[str] = []
    try:
        for prefix, table in _FRAME_SOURCES:
            if not con.execute(
                f"SELECT 1 FROM {table} JOIN frame_ids USING (run_id) LIMIT 1"
            ).fetchone():
                continue
            name = f"frame_{prefix}"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {name} AS PIVOT ("
                f"SELECT '{prefix[0]}' || hex(key) AS code, run_id, value "
                f"FROM {table} JOIN frame_ids USING (run_id)"
                ") ON code USING first(value) GROUP BY run_id"
            )
            pivoted.append(name)
        joins = " ".join(f"LEFT JOIN {name} USING (run_id)" for name in pivoted)
        extra = "".join(f", {name}.* EXCLUDE (run_id)" for name in pivoted)
        frame = con.execute(
            "SELECT r.run_id, CAST(r.experiment_id AS VARCHAR) AS experiment_id, r.run_name, "
            "r.status, ? || '/' || r.artifact_path AS artifact_uri, "
            "epoch_ms(r.start_time) AS start_time, epoch_ms(r.end_time) AS end_time, "
            f"r.parent_run_id{extra} "
            f"FROM frame_ids JOIN runs r USING (run_id) {joins} ORDER BY frame_ids.ord",
            [artifact_root.as_uri()],
        ).df()
    finally:
        con.unregister("frame_ids")
        for name in pivoted:
            con.execute(f"DROP TABLE IF EXISTS {name}")
    frame.columns = [*frame.columns[:_ATTRIBUTES], *map(_column_name, frame.columns[_ATTRIBUTES:])]
    for col in ("start_time", "end_time"):
        frame[col] = frame[col].dt.tz_localize("UTC")
    return frame
