"""Checking a write batch sent as Arrow (:mod:`jupyter_mltrack.store.wire`) a column at a time.

:func:`.parsing.batch_from_json` checks a batch row by row: a Python call per value. An Arrow
batch holds the same values as columns, so here most fields cost a few Arrow kernels: keys,
statuses and experiment ids are checked once per distinct value, text lengths and integer bounds
by Arrow's compute functions, the points of all series of a batch at once on their flat arrays;
the rows are then built from whole columns. Kinds that come a few rows at a time (artifacts,
inputs, cells) are checked row by row, by the same functions as a JSON batch.

Each check here implies that the row-by-row check of the same field passes; where a cheap test
cannot tell (a run name without a printable ASCII character may be blank), the value goes
through the row-by-row function itself. A batch that fails a check is checked row by row after
all, which names its first bad field in the words it always has: both forms refuse the same
batches with the same messages. (A batch the column checks are stricter with than they need to
be, such as one with an experiment id with spaces around it, is then taken as a JSON batch is.)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..entities import RunStatus
from ..errors import MltrackError
from ..store import rules, wire
from ..store.batch import (
    MetricRow,
    MetricSeriesRow,
    ParamRow,
    RunCreateRow,
    RunUpdateRow,
    TagRow,
    WriteBatch,
    check_batch_id,
)
from ..validation import (
    MAX_NAME_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_key,
    check_name,
)
from . import parsing

Fields = dict[str, pa.Array]


class _NotPassed(Exception):
    """A column failed its check: the row-by-row check names the value."""


def checked_batch(body: bytes | memoryview) -> WriteBatch:
    """The batch in ``body``, every value checked (see the module's text).

    Raises
    ------
    MltrackError
        The stream's shape (:func:`.wire.read_columns`), or the first bad value as
        :func:`.parsing.batch_from_json` names it; nothing is written.
    """
    columns = wire.read_columns(body)
    try:
        return _batch(columns)
    except (_NotPassed, MltrackError):
        rows: dict[str, Any] = {k: wire.rows(k, fields) for k, fields in columns.kinds.items()}
        return parsing.batch_from_json({**rows, "batch_id": columns.batch_id})


def _batch(columns: wire.Columns) -> WriteBatch:
    kinds = columns.kinds
    few = ("artifacts", "inputs", "cells")
    by_row = {k: parsing.batch_rows(k, wire.rows(k, kinds[k])) for k in few if k in kinds}
    return WriteBatch(
        metrics=_metrics(kinds["metrics"]) if "metrics" in kinds else [],
        metric_series=_metric_series(kinds["metric_series"]) if "metric_series" in kinds else [],
        params=_params(kinds["params"]) if "params" in kinds else [],
        tags=_tags(kinds["tags"]) if "tags" in kinds else [],
        artifacts=by_row.get("artifacts", []),
        inputs=by_row.get("inputs", []),
        cells=by_row.get("cells", []),
        run_updates=_run_updates(kinds["run_updates"]) if "run_updates" in kinds else [],
        runs=_runs(kinds["runs"]) if "runs" in kinds else [],
        batch_id=check_batch_id(columns.batch_id),
    )


# each kind: its fields checked as parsing's row-by-row function for it checks them -------------


def _metrics(fields: Fields) -> list[MetricRow]:
    return _rows(
        MetricRow,
        _run_ids(fields["run_id"]),
        _keys(fields["key"]),
        _present(fields["value"]).to_pylist(),  # float64: what _float gives back
        _integers(fields["step"]),
        _integers(fields["timestamp"], minimum=0),
        fields["cell_id"].to_pylist(),
    )


def _metric_series(fields: Fields) -> list[MetricSeriesRow]:
    values, offsets = _points(fields["values"])
    steps, step_offsets = _points(fields["steps"])
    stamps, stamp_offsets = _points(fields["timestamps"], minimum=0)
    if not (np.array_equal(offsets, step_offsets) and np.array_equal(offsets, stamp_offsets)):
        raise _NotPassed  # not equally long
    pairs = list(itertools.pairwise(offsets.tolist()))  # each series' slice of the points
    return _rows(
        MetricSeriesRow,
        _run_ids(fields["run_id"]),
        _keys(fields["key"]),
        fields["cell_id"].to_pylist(),
        *([flat[a:b] for a, b in pairs] for flat in (values, steps, stamps)),
    )


def _params(fields: Fields) -> list[ParamRow]:
    return _rows(
        ParamRow,
        _run_ids(fields["run_id"]),
        _keys(fields["key"]),
        _texts(_present(fields["value"]), MAX_PARAM_VALUE_LENGTH),
        fields["cell_id"].to_pylist(),
    )


def _tags(fields: Fields) -> list[TagRow]:
    return _rows(
        TagRow,
        _run_ids(fields["run_id"]),
        _keys(fields["key"]),
        _texts(fields["value"], MAX_TAG_VALUE_LENGTH),  # null deletes the tag
        fields["cell_id"].to_pylist(),
    )


def _run_updates(fields: Fields) -> list[RunUpdateRow]:
    status = _present(fields["status"])
    if not set(_distinct(status)) <= set(RunStatus.ALL):
        raise _NotPassed
    return _rows(
        RunUpdateRow,
        _run_ids(fields["run_id"]),
        status.to_pylist(),
        _integers(fields["end_time"], minimum=0, optional=True),
    )


def _runs(fields: Fields) -> list[RunCreateRow]:
    experiment_ids = _present(fields["experiment_id"])
    for value in _distinct(experiment_ids):
        if parsing.experiment_id(value) != value:  # " 1" would be taken as "1"
            raise _NotPassed
    return _rows(
        RunCreateRow,
        _each(_present(fields["run_id"]), rules.check_run_id),  # a non-empty string, and more
        experiment_ids.to_pylist(),
        _names(fields["run_name"]),
        fields["user_id"].to_pylist(),
        _integers(fields["start_time"], minimum=0),
        _optional_run_ids(fields["parent_run_id"]),
    )


# columns ------------------------------------------------------------------------------------


def _rows(row_type: Any, *columns: list[Any]) -> list[Any]:
    """Named tuples from whole columns: what ``row_type._make`` does, without its Python frame
    per row (half the time)."""
    return list(map(tuple.__new__, itertools.repeat(row_type), zip(*columns)))


def _present(column: pa.Array) -> pa.Array:
    """A field that every row must have: no nulls."""
    if column.null_count:
        raise _NotPassed
    return column


def _distinct(column: pa.Array) -> list[Any]:
    return pc.unique(column).to_pylist() if len(column) else []


def _run_ids(column: pa.Array) -> list[str]:
    """Non-empty strings (parsing's ``_run_id``)."""
    if len(_present(column)) and pc.min(pc.utf8_length(column)).as_py() < 1:
        raise _NotPassed
    return column.to_pylist()


def _optional_run_ids(column: pa.Array) -> list[str | None]:
    """Nulls, or non-empty strings."""
    if column.null_count < len(column) and pc.min(pc.utf8_length(column)).as_py() < 1:
        raise _NotPassed
    return column.to_pylist()


def _keys(column: pa.Array) -> list[str]:
    """Metric, param and tag keys: each distinct key through ``check_key``."""
    for key in _distinct(_present(column)):
        check_key(key)
    return column.to_pylist()


def _texts(column: pa.Array, max_length: int) -> list[str | None]:
    """Text of at most ``max_length`` characters (Arrow counts code points, as ``len`` does;
    the stream's text is checked to be valid UTF-8)."""
    if column.null_count < len(column) and pc.max(pc.utf8_length(column)).as_py() > max_length:
        raise _NotPassed
    return column.to_pylist()


def _integers(
    column: pa.Array, minimum: int | None = None, optional: bool = False
) -> list[int | None]:
    """int64 values (nulls too if ``optional``), none below ``minimum``."""
    if not optional:
        _present(column)
    if minimum is not None and column.null_count < len(column) and pc.min(column).as_py() < minimum:
        raise _NotPassed
    return column.to_pylist()


def _names(column: pa.Array) -> list[str]:
    """Names as ``check_name`` takes them: at most MAX_NAME_LENGTH characters, none a control
    character, not blank. A name with a printable ASCII character is not blank; one without
    goes through ``check_name`` itself."""
    if not len(_present(column)):
        return []
    if (
        pc.max(pc.utf8_length(column)).as_py() > MAX_NAME_LENGTH
        or pc.any(pc.match_substring_regex(column, r"[\x00-\x1f]")).as_py()
    ):
        raise _NotPassed
    unsure = pc.invert(pc.match_substring_regex(column, "[!-~]"))
    for name in column.filter(unsure).to_pylist():
        check_name(name, "name")
    return column.to_pylist()


def _each(column: pa.Array, check: Callable[[Any], Any]) -> list[Any]:
    """Every value through a row-by-row check that gives it back unchanged."""
    values = column.to_pylist()
    for value in values:
        check(value)
    return values


def _points(column: pa.Array, minimum: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A point field of every series: all points as one numpy array (a read-only view of the
    request body) and each series' offsets into it; no series and no point null."""
    points = _present(column).flatten()
    if points.null_count:
        raise _NotPassed
    flat = points.to_numpy()
    if minimum is not None and len(flat) and flat.min() < minimum:
        raise _NotPassed
    offsets = column.offsets.to_numpy()
    return flat, offsets - offsets[0]
