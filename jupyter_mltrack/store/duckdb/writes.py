"""SQL for the one write path: a :class:`WriteBatch` applied in one transaction.

Rows go in as Arrow tables (``INSERT … SELECT`` over a registered view): DuckDB takes millions of
rows a second that way and about a thousand row by row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from itertools import chain
from typing import Any

from ...clock import now_ms
from ...entities import Cell, RunStatus
from ...errors import ErrorCode, MltrackError
from .. import rules
from ..batch import ParamRow, TagRow, WriteBatch

_METRIC_NAMES = ["run_id", "key", "value", "step", "timestamp", "cell_id"]


def _arrow(rows: Sequence[tuple], names: list[str], types: list[Any]) -> Any:
    import pyarrow as pa

    # tuples straight into a struct array: one pass in C++, about ten times faster than
    # transposing the rows into columns in Python first
    struct = pa.struct(list(zip(names, types)))
    return pa.Table.from_struct_array(pa.array(rows, type=struct))


def _with_view(con: Any, name: str, table: Any, sql: str, params: list | None = None) -> None:
    con.register(name, table)
    try:
        con.execute(sql, params or [])
    finally:
        con.unregister(name)


def _metrics_table(batch: WriteBatch) -> Any:
    """One Arrow table of every metric point in the batch, rows and series alike.

    Series arrive as columns already; their run id, key and cell become dictionary-encoded
    columns built from a repeat of indices, so no per-point Python object is made.
    """
    import numpy as np
    import pyarrow as pa

    types = [pa.string(), pa.string(), pa.float64(), pa.int64(), pa.int64(), pa.string()]
    parts = []
    if batch.metrics:
        parts.append(_arrow(batch.metrics, _METRIC_NAMES, types))
    if batch.metric_series:
        lengths = np.array([len(s[3]) for s in batch.metric_series], dtype=np.int64)
        owners = np.repeat(np.arange(len(lengths), dtype=np.int32), lengths)

        def labels(position: int) -> Any:
            dictionary = pa.array([s[position] for s in batch.metric_series], pa.string())
            return pa.DictionaryArray.from_arrays(pa.array(owners), dictionary).cast(pa.string())

        def numbers(position: int, dtype: Any) -> Any:
            columns: list[Any] = [s[position] for s in batch.metric_series]
            if all(type(c) is list for c in columns):
                # many short lists (a point or two per run in a sweep): one pass, no array each
                return np.fromiter(chain.from_iterable(columns), dtype, int(lengths.sum()))
            return np.concatenate([np.asarray(c, dtype=dtype) for c in columns])

        parts.append(
            pa.table(
                [
                    labels(0),
                    labels(1),
                    pa.array(numbers(3, np.float64)),
                    pa.array(numbers(4, np.int64)),
                    pa.array(numbers(5, np.int64)),
                    labels(2),
                ],
                names=_METRIC_NAMES,
            )
        )
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts)


# Up to this many new runs, taken ids are checked by index lookups; past it, by one join.
_LOOKUP_RUNS = 8


def _create_runs(con: Any, batch: WriteBatch, skip_invalid: bool, warnings: list[str]) -> None:
    """Insert the batch's new runs, checked set-based: a few statements however many runs.

    Refused (or, for the flusher, dropped with everything logged to them): a run whose
    experiment is missing or deleted, a run id already taken.
    """
    if not batch.runs:
        return
    import pyarrow as pa

    refused: dict[str, MltrackError] = {}
    seen: set[str] = set()
    for row in batch.runs:
        if row.run_id in seen:
            refused[row.run_id] = MltrackError(
                f"run {row.run_id!r} is created twice in one batch",
                ErrorCode.RESOURCE_ALREADY_EXISTS,
            )
        seen.add(row.run_id)
    wanted = {e: int(e) for e in {r.experiment_id for r in batch.runs} if _is_bigint(e)}
    experiments = {
        found[0]: found[1:]
        for found in con.execute(
            "SELECT experiment_id, lifecycle_stage, name, artifact_location FROM experiments "
            "WHERE list_contains(?, experiment_id)",
            [sorted(wanted.values())],
        ).fetchall()
    }
    for row in batch.runs:
        stage, name, _ = experiments.get(wanted.get(row.experiment_id, -1), (None, None, None))
        if stage is None:
            refused.setdefault(row.run_id, rules.missing_experiment_error(row.experiment_id))
        elif stage != "active":
            refused.setdefault(row.run_id, rules.deleted_experiment_error(name))
    for run_id in _taken(con, seen):
        refused.setdefault(
            run_id,
            MltrackError(f"run {run_id!r} already exists", ErrorCode.RESOURCE_ALREADY_EXISTS),
        )
    if refused:
        if not skip_invalid:
            raise next(iter(refused.values()))
        warnings.extend(f"dropped run {i!r} and its data: {e}" for i, e in refused.items())
        batch.drop_runs(refused)
    rows = [
        (
            r.run_id,
            wanted[r.experiment_id],
            r.run_name,
            r.user_id,
            RunStatus.RUNNING,
            r.start_time,
            None,
            "active",
            f"{experiments[wanted[r.experiment_id]][2]}/{r.run_id}/artifacts",
            r.parent_run_id,
        )
        for r in batch.runs
    ]
    if rows:
        string, number = pa.string(), pa.int64()
        _with_view(
            con,
            "batch_runs",
            _arrow(
                rows,
                [
                    "run_id",
                    "experiment_id",
                    "run_name",
                    "user_id",
                    "status",
                    "start_time",
                    "end_time",
                    "lifecycle_stage",
                    "artifact_path",
                    "parent_run_id",
                ],
                [string, number, string, string, string, number, number, string, string, string],
            ),
            "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time, "
            "end_time, lifecycle_stage, artifact_path, parent_run_id) "
            "SELECT * FROM batch_runs",
        )


def _taken(con: Any, run_ids: set[str]) -> list[str]:
    """Which of ``run_ids`` the store already has."""
    if len(run_ids) <= _LOOKUP_RUNS:  # an index lookup each: no scan of the runs table
        return [
            run_id
            for run_id in sorted(run_ids)
            if con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone()
        ]
    import pyarrow as pa

    con.register("new_run_ids", pa.table({"run_id": pa.array(sorted(run_ids), pa.string())}))
    try:
        return [
            found
            for (found,) in con.execute(
                "SELECT r.run_id FROM runs r SEMI JOIN new_run_ids b ON r.run_id = b.run_id"
            ).fetchall()
        ]
    finally:
        con.unregister("new_run_ids")


def _is_bigint(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 19


def _check_runs(
    con: Any, batch: WriteBatch, new_runs: set[str], skip_invalid: bool, warnings: list[str]
) -> None:
    """Refuse (or, for the flusher, drop) rows for runs that are missing or deleted."""
    ids = sorted(batch.run_ids() - new_runs)
    if not ids:
        return
    found = dict(
        con.execute(
            "SELECT run_id, lifecycle_stage FROM runs WHERE list_contains(?, run_id)", [ids]
        ).fetchall()
    )
    bad = {i: found.get(i) for i in ids if found.get(i) != "active"}
    if not bad:
        return
    if not skip_invalid:
        run_id, stage = next(iter(bad.items()))
        rules.check_run_writable(run_id, stage)  # raises: the run is missing or deleted
    for run_id, stage in bad.items():
        warnings.append(f"dropped data for run {run_id!r}: it is {stage or 'missing'}")
    batch.drop_runs(bad)


def _check_params(
    con: Any, batch: WriteBatch, new_runs: set[str], skip_invalid: bool, warnings: list[str]
) -> None:
    """MLflow's rule: a param, once logged, keeps its value. Logging the same value is a no-op."""
    if not batch.params:
        return
    seen: dict[tuple[str, str], str] = {}
    unique: list[ParamRow] = []
    conflicts: list[str] = []
    for row in batch.params:
        old = seen.get((row[0], row[1]))
        if old is None:
            seen[(row[0], row[1])] = row[2]
            unique.append(row)
        elif old != row.value:
            conflicts.append(rules.param_conflict(row.run_id, row.key, old, row.value))
    import pyarrow as pa

    # a run created in this batch has no stored params: only older runs need the lookup
    older = [row for row in unique if row.run_id not in new_runs]
    existing = []
    if older:
        table = _arrow(older, ["run_id", "key", "value", "cell_id"], [pa.string()] * 4)
        con.register("batch_params", table)
        try:
            existing = con.execute(
                "SELECT b.run_id, b.key, p.value, b.value FROM batch_params b "
                "JOIN params p ON p.run_id = b.run_id AND p.key = b.key"
            ).fetchall()
        finally:
            con.unregister("batch_params")
    stored = {(r[0], r[1]) for r in existing}
    for run_id, key, old_value, new_value in existing:
        if old_value != new_value:
            conflicts.append(rules.param_conflict(run_id, key, old_value, new_value))
    if conflicts and not skip_invalid:
        raise MltrackError(conflicts[0])
    warnings.extend(f"dropped {c}" for c in conflicts)
    batch.params = [row for row in unique if (row[0], row[1]) not in stored]


def apply(con: Any, batch: WriteBatch, skip_invalid: bool) -> list[str]:
    """Apply ``batch`` on ``con``, which the caller holds inside a transaction."""
    import pyarrow as pa

    warnings: list[str] = []
    if batch.batch_id is not None:
        # A batch seen before (a resend after a timeout, a spool file replayed twice) was
        # applied whole in its own transaction: applying it again would only duplicate points.
        recorded = con.execute(
            "INSERT INTO write_batches VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING batch_id",
            [batch.batch_id, now_ms()],
        ).fetchone()
        if recorded is None:
            return []
    _create_runs(con, batch, skip_invalid, warnings)
    new = {row.run_id for row in batch.runs}  # made just now: nothing stored to check against
    _check_runs(con, batch, new, skip_invalid, warnings)
    _check_params(con, batch, new, skip_invalid, warnings)

    if batch.metrics or batch.metric_series:
        table = _metrics_table(batch)
        con.register("batch_metrics", table)
        try:
            con.execute(
                "INSERT INTO metrics SELECT run_id, key, value, step, timestamp, cell_id "
                "FROM batch_metrics"
            )
            # Latest = highest step, then newest timestamp (MLflow's rule); only a newer point
            # replaces the stored one, so batches that arrive out of order stay correct. Runs
            # created in this batch have no stored latest value: a plain insert, no conflict
            # check, for them.
            metric_runs = {r.run_id for r in batch.metrics}
            metric_runs.update(s.run_id for s in batch.metric_series)
            fresh = sorted(metric_runs & new)
            older = sorted(metric_runs - new)
            latest_sql = (
                "SELECT run_id, key, p.v, p.s, p.t, p.c FROM ("
                "  SELECT run_id, key, arg_max("
                "    {'v': value, 's': step, 't': timestamp, 'c': cell_id},"
                "    {'s': step, 't': timestamp, 'v': value}) AS p"
                "  FROM batch_metrics {where} GROUP BY run_id, key)"
            )
            if fresh:
                where = "WHERE list_contains(?, run_id)" if older else ""
                con.execute(
                    "INSERT INTO latest_metrics " + latest_sql.replace("{where}", where),
                    [fresh] if older else [],
                )
            if older:
                where = "WHERE list_contains(?, run_id)" if fresh else ""
                con.execute(
                    "INSERT INTO latest_metrics "
                    + latest_sql.replace("{where}", where)
                    + " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
                    "step = excluded.step, timestamp = excluded.timestamp, "
                    "cell_id = excluded.cell_id WHERE excluded.step > latest_metrics.step "
                    "OR (excluded.step = latest_metrics.step "
                    "AND excluded.timestamp >= latest_metrics.timestamp)",
                    [older] if fresh else [],
                )
        finally:
            con.unregister("batch_metrics")

    if batch.params:
        _with_view(
            con,
            "batch_params",
            _arrow(batch.params, ["run_id", "key", "value", "cell_id"], [pa.string()] * 4),
            "INSERT INTO params SELECT run_id, key, value, cell_id FROM batch_params",
        )

    if batch.tags:
        # Sets and deletes apply in order: the last operation on a key wins.
        final: dict[tuple[str, str], TagRow] = {}
        for row in batch.tags:
            final[(row[0], row[1])] = row
        sets = [r for r in final.values() if r[2] is not None]
        deletes = [r for r in final.values() if r[2] is None]
        if deletes:
            _with_view(
                con,
                "batch_tag_deletes",
                _arrow(deletes, ["run_id", "key", "value", "cell_id"], [pa.string()] * 4),
                "DELETE FROM tags WHERE (run_id, key) IN "
                "(SELECT (run_id, key) FROM batch_tag_deletes)",
            )
        # a new run's tags cannot replace anything: a plain insert skips the conflict check
        for rows, verb in (
            ([r for r in sets if r.run_id in new], "INSERT"),
            ([r for r in sets if r.run_id not in new], "INSERT OR REPLACE"),
        ):
            if rows:
                _with_view(
                    con,
                    "batch_tags",
                    _arrow(rows, ["run_id", "key", "value", "cell_id"], [pa.string()] * 4),
                    f"{verb} INTO tags SELECT run_id, key, value, cell_id FROM batch_tags",
                )
        if sets:
            renames = [
                (r.run_id, r.value)
                for r in sets
                if r.key == rules.RUN_NAME_TAG and r.run_id not in new
            ]
            if renames:
                _with_view(
                    con,
                    "batch_renames",
                    _arrow(renames, ["run_id", "run_name"], [pa.string(), pa.string()]),
                    "UPDATE runs SET run_name = b.run_name FROM batch_renames b "
                    "WHERE runs.run_id = b.run_id",
                )

    if batch.artifacts:
        latest = list({(r[0], r[1]): r for r in batch.artifacts}.values())
        _with_view(
            con,
            "batch_artifacts",
            _arrow(
                latest,
                ["run_id", "path", "size", "media_type", "cell_id", "logged_time"],
                [pa.string(), pa.string(), pa.int64(), pa.string(), pa.string(), pa.int64()],
            ),
            "INSERT OR REPLACE INTO artifacts SELECT * FROM batch_artifacts",
        )

    for item in batch.inputs:
        run_id, experiment_id = item.run_id, item.experiment_id
        if experiment_id is None:
            (experiment_id,) = con.execute(
                "SELECT experiment_id FROM runs WHERE run_id = ?", [run_id]
            ).fetchone()
        con.execute(
            "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                int(experiment_id),
                item.name,
                item.digest,
                item.source_type,
                item.source,
                item.schema,
                item.profile,
            ],
        )
        con.execute(
            "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, item.name, item.digest, item.context, item.tags_json, item.cell_id],
        )

    if batch.cells:
        names = [f.name for f in dataclasses.fields(Cell)]
        _with_view(
            con,
            "batch_cells",
            _arrow(
                [tuple(getattr(c, n) for n in names) for c in batch.cells],
                names,
                [
                    pa.string(),
                    pa.int64(),
                    pa.string(),
                    pa.int64(),
                    pa.string(),
                    pa.int64(),
                    pa.float64(),
                    pa.string(),
                    pa.string(),
                    pa.string(),
                ],
            ),
            "INSERT OR REPLACE INTO cells SELECT * FROM batch_cells",
        )

    if batch.run_updates:
        # the last change of each run wins, as if applied in order
        last = {row.run_id: row for row in batch.run_updates}
        _with_view(
            con,
            "batch_run_updates",
            _arrow(
                [
                    (r.run_id, r.status, None if r.status == RunStatus.RUNNING else r.end_time)
                    for r in last.values()
                ],
                ["run_id", "status", "end_time"],
                [pa.string(), pa.string(), pa.int64()],
            ),
            "UPDATE runs SET status = u.status, end_time = u.end_time "
            "FROM batch_run_updates u WHERE runs.run_id = u.run_id",
        )
    return warnings
