"""SQL behind the lab extension's views: the runs table, lineage, downsampled metric histories,
the columns a runs table can show, and the rows the change feed reports.

Why here, and not in the store contract: these are SQL, and SQL lives in ``store/`` only; they
are written against DuckDB's tables (PIVOT, M4 downsampling in one query), so they sit with the
DuckDB backend. They are not part of :class:`~jupyter_mltrack.store.contract.AbstractStore`
because no kernel, script or CLI ever needs them: only the process that owns the store (the
tracking server) answers the lab extension's views, reading its own open
:class:`~jupyter_mltrack.store.duckdb.store.DuckDBStore` on a worker thread. A server backed by
another database brings its own module of the same functions.
Every value a caller supplies travels as a bound parameter; the few SQL fragments chosen by a
caller (the x axis of a history) come from whitelists in this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import MltrackError
from ...validation import check_key, check_max_results
from .. import paging, rules
from . import reads, runs

if TYPE_CHECKING:
    from .store import DuckDBStore

# The run fields every summary carries, in this order.
SUMMARY_FIELDS = (
    "run_id",
    "run_name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "parent_run_id",
)
_SUMMARY_COLUMNS = (
    "r.run_id, r.run_name, CAST(r.experiment_id AS VARCHAR), r.user_id, r.status, "
    "r.start_time, r.end_time, r.lifecycle_stage, r.parent_run_id"
)
_SUMMARY_SQL = f"SELECT {_SUMMARY_COLUMNS} FROM runs r"
# A runs-table row also says whether its parent is missing: a parent id naming a run this
# store does not have (a run copied before its parent, a partial import). The table shows such
# a run at the top level, with a note.
_ROW_SQL = (
    f"SELECT {_SUMMARY_COLUMNS}, r.parent_run_id IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM runs p WHERE p.run_id = r.parent_run_id) "
    "FROM runs r WHERE list_contains(?, r.run_id)"
)
MAX_COLUMNS = 200
# x axes of a metric chart: the SQL expression of each over the ``metrics`` table.
# ``relative`` in HUGEINT: a timestamp minus a start time far apart would overflow BIGINT.
X_AXES = {
    "step": "step",
    "wall": "timestamp",
    "relative": "CAST(timestamp AS HUGEINT) - CAST(? AS BIGINT)",
}
MAX_SERIES = 100


def _summary(row: tuple) -> dict[str, Any]:
    return dict(zip(SUMMARY_FIELDS, row))


def _keys(keys: list[str] | None, what: str) -> list[str]:
    keys = list(keys or [])
    if len(keys) > MAX_COLUMNS:
        raise MltrackError(f"at most {MAX_COLUMNS} {what} columns can be chosen, got {len(keys)}")
    return [check_key(k, f"{what} key") for k in keys]


def run_table(
    store: DuckDBStore,
    experiment_ids: list[str],
    filter_string: str | None = None,
    view_type: str = "ACTIVE_ONLY",
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
    metric_keys: list[str] | None = None,
    param_keys: list[str] | None = None,
    tag_keys: list[str] | None = None,
) -> dict[str, Any]:
    """One page of a runs table with just the chosen metric, param and tag columns.

    Parameters
    ----------
    store:
        The server's store.
    experiment_ids, filter_string, view_type, order_by:
        As for :meth:`~jupyter_mltrack.store.contract.AbstractStore.search_runs`.
    max_results, page_token:
        Page size and the token of the page (None for the first).
    metric_keys, param_keys, tag_keys:
        The columns to fill; each run carries only these keys (those it has).

    Returns
    -------
    dict
        ``runs`` (summaries with ``metrics``/``params``/``tags`` dicts and ``parent_missing``,
        true when the run names a parent this store does not have), ``next_page_token`` and
        ``total``, the number of runs that match over all pages.
    """
    metric_keys = _keys(metric_keys, "metric")
    param_keys = _keys(param_keys, "param")
    tag_keys = _keys(tag_keys, "tag")
    check_max_results(max_results, rules.RUN_TABLE_MAX_RESULTS)
    offset = paging.decode(page_token)
    with store.connector.connect() as con:
        # one id more than asked tells whether another page exists
        ids = reads.search_run_ids(
            con, experiment_ids, filter_string, view_type, max_results + 1, order_by, offset
        )
        where, params = reads.run_filter_sql(experiment_ids, filter_string, view_type)
        (total,) = con.execute(f"SELECT count(*) FROM runs r WHERE {where}", params).fetchone()
        page = ids[:max_results]
        by_id = {
            row[0]: {
                **_summary(row[:-1]),
                "parent_missing": row[-1],
                "metrics": {},
                "params": {},
                "tags": {},
            }
            for row in con.execute(_ROW_SQL, [page]).fetchall()
        }
        for field, table, keys in (
            ("metrics", "latest_metrics", metric_keys),
            ("params", "params", param_keys),
            ("tags", "tags", tag_keys),
        ):
            if not keys or not page:
                continue
            for run_id, key, value in con.execute(
                f"SELECT run_id, key, value FROM {table} "
                "WHERE list_contains(?, run_id) AND list_contains(?, key)",
                [page, keys],
            ).fetchall():
                by_id[run_id][field][key] = value
    token = paging.encode(offset + max_results) if len(ids) > max_results else None
    return {
        "runs": [by_id[i] for i in page if i in by_id],
        "next_page_token": token,
        "total": total,
    }


def run_columns(store: DuckDBStore, experiment_ids: list[str]) -> dict[str, list[str]]:
    """The metric, param and tag keys that active runs of these experiments carry, sorted."""
    from . import experiments

    ids = [experiments.parse_id(e) for e in experiment_ids]
    out: dict[str, list[str]] = {}
    with store.connector.connect() as con:
        for field, table in (("metrics", "latest_metrics"), ("params", "params"), ("tags", "tags")):
            rows = con.execute(
                f"SELECT DISTINCT k.key FROM {table} k JOIN runs r USING (run_id) "
                "WHERE list_contains(?, r.experiment_id) AND r.lifecycle_stage = 'active' "
                "ORDER BY k.key",
                [ids],
            ).fetchall()
            out[field] = [r[0] for r in rows]
    return out


def _parent_of(con: Any, run_id: str) -> str | None:
    # Runs created through MLflow's API may carry their parent only as a tag.
    row = con.execute(
        "SELECT coalesce(r.parent_run_id, t.value) FROM runs r LEFT JOIN tags t "
        "ON t.run_id = r.run_id AND t.key = 'mlflow.parentRunId' WHERE r.run_id = ?",
        [run_id],
    ).fetchone()
    return row[0] if row else None


def lineage(store: DuckDBStore, run_id: str) -> dict[str, Any]:
    """Where a run sits: its ancestors (parent first), its children, and the datasets it used.

    Returns
    -------
    dict
        ``run`` (summary), ``ancestors`` (summaries, nearest first), ``children`` (summaries,
        oldest first) and ``inputs`` (dataset inputs, as in a run's details).
    """
    with store.connector.connect() as con:
        runs.require(con, run_id)
        (row,) = con.execute(f"{_SUMMARY_SQL} WHERE r.run_id = ?", [run_id]).fetchall()
        ancestors: list[dict[str, Any]] = []
        seen = {run_id}
        parent = _parent_of(con, run_id)
        # a hand-made cycle of parent tags must not loop forever
        while parent is not None and parent not in seen:
            seen.add(parent)
            found = con.execute(f"{_SUMMARY_SQL} WHERE r.run_id = ?", [parent]).fetchall()
            if not found:
                break
            ancestors.append(_summary(found[0]))
            parent = _parent_of(con, parent)
        children = [
            _summary(r)
            for r in con.execute(
                f"{_SUMMARY_SQL} WHERE r.run_id <> ? AND (r.parent_run_id = ? OR EXISTS ("
                "SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = 'mlflow.parentRunId' "
                "AND t.value = ?)) ORDER BY r.start_time, r.run_id",
                [run_id, run_id, run_id],
            ).fetchall()
        ]
        inputs = runs.load(con, [run_id], store.artifact_root)[0].inputs
    from dataclasses import asdict

    return {
        "run": _summary(row),
        "ancestors": ancestors,
        "children": children,
        "inputs": [asdict(i) for i in inputs],
    }


def _series(
    con: Any, run_id: str, key: str, start_time: int, points: int, x_axis: str
) -> dict[str, Any]:
    x_sql = X_AXES[x_axis]
    x_args: list[Any] = [start_time] if x_axis == "relative" else []
    finite = "NOT isnan(value)"
    total, lo, hi = con.execute(
        f"SELECT count(*), min({x_sql}) FILTER ({finite}), max({x_sql}) FILTER ({finite}) "
        "FROM metrics WHERE run_id = ? AND key = ?",
        [*x_args, *x_args, run_id, key],
    ).fetchone()
    out: dict[str, Any] = {"run_id": run_id, "key": key, "total_points": total}
    if total <= points:
        rows = con.execute(
            f"SELECT {x_sql}, value, step, timestamp FROM metrics WHERE run_id = ? AND key = ? "
            "ORDER BY 1, step, timestamp",
            [*x_args, run_id, key],
        ).fetchall()
        out["downsampled"] = False
    else:
        # M4: the first, last, lowest and highest point of each equal slice of the x range, so
        # the drawn line keeps every spike, dip and jump however many points are dropped.
        # Points are picked by rowid and read back whole, which keeps step and timestamp of a
        # picked point together. NaN points are left out here. The bucket is computed in
        # DOUBLE: (x - lo) * buckets overflows BIGINT for steps or times near 2**62.
        buckets = max(1, points // 4)
        width = float(max(hi - lo, 1)) if lo is not None else 1.0
        rows = con.execute(
            f"WITH b AS (SELECT least(CAST(floor((CAST({x_sql} AS DOUBLE) - ?) * ? / ?) "
            "AS BIGINT), ? - 1) "
            f"AS bucket, rowid AS rid, {x_sql} AS x, value FROM metrics "
            f"WHERE run_id = ? AND key = ? AND {finite}), "
            "picked AS (SELECT unnest([arg_min(rid, value), arg_max(rid, value), "
            "arg_min(rid, x), arg_max(rid, x)]) AS rid FROM b GROUP BY bucket) "
            f"SELECT {x_sql}, value, step, timestamp FROM metrics "
            "WHERE rowid IN (SELECT rid FROM picked) ORDER BY 1, step, timestamp",
            [*x_args, float(lo or 0), buckets, width, buckets, *x_args, run_id, key, *x_args],
        ).fetchall()
        out["downsampled"] = True
    out["x"] = [r[0] for r in rows]
    out["value"] = [r[1] for r in rows]
    out["step"] = [r[2] for r in rows]
    out["timestamp"] = [r[3] for r in rows]
    return out


def metric_histories(
    store: DuckDBStore, run_ids: list[str], keys: list[str], points: int, x_axis: str = "step"
) -> list[dict[str, Any]]:
    """Histories of ``keys`` for each of ``run_ids``, each cut down to at most ``points`` points.

    A history with more points than asked keeps, for each of ``points // 4`` equal slices of
    its x range, the slice's first, last, lowest and highest point (M4), so extremes are never
    averaged away and the line looks as the full history would. Shorter histories come whole.

    Parameters
    ----------
    store:
        The server's store.
    run_ids, keys:
        Every pair of run and key is one series (unknown run: RESOURCE_DOES_NOT_EXIST).
    points:
        The most points a series may carry (at least 4).
    x_axis:
        ``step``, ``wall`` (the point's timestamp, ms) or ``relative`` (ms since the run
        started).

    Returns
    -------
    list of dict
        One series per pair: ``run_id``, ``key``, ``total_points``, ``downsampled`` and the
        columns ``x``, ``value``, ``step``, ``timestamp``, ordered by x.
    """
    if x_axis not in X_AXES:
        raise MltrackError(f"x must be one of {', '.join(X_AXES)}, got {x_axis!r}")
    if isinstance(points, bool) or not isinstance(points, int) or points < 4:
        raise MltrackError(f"points must be an integer of at least 4, got {points!r}")
    if not run_ids or not keys:
        raise MltrackError("name at least one run id and one metric key")
    keys = [check_key(k, "metric key") for k in keys]
    count = len(run_ids) * len(keys)
    if count > MAX_SERIES:
        raise MltrackError(f"at most {MAX_SERIES} series (runs times keys) a request, got {count}")
    series = []
    with store.connector.connect() as con:
        for run_id in run_ids:
            row = runs.require(con, run_id)
            for key in keys:
                series.append(_series(con, run_id, key, row[5], points, x_axis))
    return series


_INT64_MAX = 2**63 - 1


def metric_history_page(
    store: DuckDBStore, run_id: str, key: str, offset: int, limit: int
) -> tuple[list[int], list[float], list[int], bool]:
    """One page of a metric's history, read with LIMIT/OFFSET rather than whole.

    Points are ordered by step, timestamp and value, a total order over distinct points, so
    consecutive pages neither repeat nor skip one.

    Returns
    -------
    tuple
        ``steps``, ``values``, ``timestamps`` of the page, and whether more points follow.
    """
    if not 0 <= offset <= _INT64_MAX:
        raise MltrackError(f"invalid page offset {offset}")
    with store.connector.connect() as con:
        runs.require(con, run_id)
        rows = con.execute(
            "SELECT step, value, timestamp FROM metrics WHERE run_id = ? AND key = ? "
            "ORDER BY step, timestamp, value LIMIT ? OFFSET ?",
            [run_id, key, limit + 1, offset],
        ).fetchall()
    page = rows[:limit]
    return [r[0] for r in page], [r[1] for r in page], [r[2] for r in page], len(rows) > limit


def changed(
    store: DuckDBStore, run_ids: list[str], metric_pairs: list[tuple[str, str]]
) -> dict[str, Any]:
    """The current state of changed runs and metrics, for the change feed.

    Returns
    -------
    dict
        ``runs``: summaries of the runs that still exist (deleted ones carry
        ``lifecycle_stage`` "deleted"); ``removed_runs``: ids that no longer exist;
        ``metrics``: the latest point of each changed (run, key).
    """
    with store.connector.connect() as con:
        summaries = [
            _summary(r)
            for r in con.execute(
                f"{_SUMMARY_SQL} WHERE list_contains(?, r.run_id) ORDER BY r.start_time",
                [run_ids],
            ).fetchall()
        ]
        metrics: list[dict[str, Any]] = []
        if metric_pairs:
            # A list of structs joins the pairs in one query however many there are.
            rows = con.execute(
                "SELECT m.run_id, m.key, m.value, m.step, m.timestamp FROM latest_metrics m "
                "JOIN (SELECT unnest(?, recursive := true)) p "
                "ON m.run_id = p.run_id AND m.key = p.key ORDER BY m.run_id, m.key",
                [[{"run_id": r, "key": k} for r, k in metric_pairs]],
            ).fetchall()
            metrics = [
                {"run_id": r[0], "key": r[1], "value": r[2], "step": r[3], "timestamp": r[4]}
                for r in rows
            ]
    present = {s["run_id"] for s in summaries}
    return {
        "runs": summaries,
        "removed_runs": sorted(set(run_ids) - present),
        "metrics": metrics,
    }


def require_run(store: DuckDBStore, run_id: str) -> None:
    """RESOURCE_DOES_NOT_EXIST unless the run exists (checked before a long upload starts)."""
    with store.connector.connect() as con:
        row = runs.require(con, run_id)
    if row[7] != "active":
        raise rules.deleted_run_error(run_id, "adding artifacts")
