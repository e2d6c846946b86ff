"""Columnar on the wire: write batches as Arrow IPC streams, histories and run frames as Arrow.

- ``store/wire.py`` round-trips every kind of row, and refuses what Arrow would change;
- through a real ``jupyter server``: an Arrow batch lands exactly like the same batch as JSON,
  NaN and infinities survive, a bad Arrow body is a 400 in the package's error shape with
  nothing written, a batch id makes a resend a no-op, the batch body limit holds;
- ``RestStore`` sends Arrow, and JSON to a server that refuses Arrow (a tornado app started
  here, in front of the real server);
- histories read through the server equal the embedded store's; the run frame comes in pages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import math
import threading
import typing
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import requests
from tornado import httpserver, ioloop, netutil, web

from jupyter_mltrack.entities import Cell
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.server import handlers, parsing
from jupyter_mltrack.store import wire
from jupyter_mltrack.store.batch import (
    ArtifactRow,
    InputRow,
    MetricRow,
    MetricSeriesRow,
    ParamRow,
    RunCreateRow,
    RunUpdateRow,
    TagRow,
    WriteBatch,
)
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.rest.store import RestStore, wire_batch

if TYPE_CHECKING:
    from conftest import TrackingServer

ARROW = {"Content-Type": wire.MEDIA_TYPE}


def _name(prefix: str = "wire") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _full_batch(run_id: str, new_run_id: str, experiment_id: str = "0") -> WriteBatch:
    """One batch with rows of every kind, None where a field may be absent."""
    n = 1000
    return WriteBatch(
        runs=[RunCreateRow(new_run_id, experiment_id, "made-in-a-batch", "ana", 5, None)],
        metrics=[
            MetricRow(run_id, "single", 0.25, 3, 1000, "cell-a"),
            MetricRow(run_id, "single", math.nan, 4, 1001, None),
        ],
        metric_series=[
            MetricSeriesRow(
                run_id, "loss", "cell-a", np.linspace(1, 0, n), np.arange(n), np.full(n, 2000)
            ),
            MetricSeriesRow(run_id, "acc", None, [0.5, math.inf, -math.inf], [0, 1, 2], [7, 8, 9]),
            MetricSeriesRow(run_id, "empty", None, np.empty(0), np.empty(0, np.int64), []),
        ],
        params=[ParamRow(run_id, "lr", "0.01", "cell-a"), ParamRow(run_id, "opt", "adam", None)],
        tags=[
            TagRow(run_id, "team", "vision", None),
            TagRow(run_id, "gone", "x", None),
            TagRow(run_id, "gone", None, "cell-a"),
        ],
        artifacts=[ArtifactRow(run_id, "plots/loss.png", 123, "image/png", "cell-a", 3000)],
        inputs=[
            InputRow(
                run_id,
                None,
                "train",
                "d1g3st",
                "local",
                "/data/train.csv",
                '{"a": 1}',
                None,
                "training",
                '{"k": "v"}',
                "cell-a",
            ),
        ],
        cells=[
            Cell(run_id, 1, "cell-a", 4, "fit()", 900, 12.5, "ok"),
            Cell(run_id, 2, None, None, None, 950, None, "error", "ValueError", "bad"),
        ],
        run_updates=[RunUpdateRow(run_id, "FINISHED", 4000)],
        batch_id=uuid.uuid4().hex,
    )


def _same_batch(a: WriteBatch, b: WriteBatch) -> None:
    for kind in wire.KINDS:
        rows_a, rows_b = getattr(a, kind.name), getattr(b, kind.name)
        assert len(rows_a) == len(rows_b), kind.name
        for row_a, row_b in zip(rows_a, rows_b):
            for name in kind.fields:
                x, y = getattr(row_a, name), getattr(row_b, name)
                if name in ("values", "steps", "timestamps"):
                    x, y = np.asarray(x, float), np.asarray(y, float)
                    assert np.array_equal(x, y, equal_nan=True), (kind.name, name)
                elif isinstance(x, float) and math.isnan(x):
                    assert isinstance(y, float) and math.isnan(y), (kind.name, name)
                else:
                    assert x == y and type(x) is type(y), (kind.name, name, x, y)
    assert a.batch_id == b.batch_id


# wire.py on its own ----------------------------------------------------------------------------


def test_the_schema_covers_every_kind_of_write_batch() -> None:
    hints = typing.get_type_hints(WriteBatch)
    lists = [
        f.name for f in dataclasses.fields(WriteBatch) if typing.get_origin(hints[f.name]) is list
    ]
    assert [k.name for k in wire.KINDS] == lists
    for kind in wire.KINDS:
        row_type = typing.get_args(hints[kind.name])[0]
        fields = (
            [f.name for f in dataclasses.fields(row_type)]
            if dataclasses.is_dataclass(row_type)
            else list(row_type._fields)
        )
        assert list(kind.fields) == fields
    assert wire.SCHEMA.names == [*lists, "batch_id"]


def test_every_kind_round_trips_through_one_stream() -> None:
    batch = _full_batch("run-1", "run-2")
    data = wire.encode(batch)
    with pa.ipc.open_stream(data) as reader:
        records = list(reader)
    assert len(records) == 1 and records[0].num_rows == 1
    _same_batch(wire.decode(data), batch)
    empty = WriteBatch()
    _same_batch(wire.decode(wire.encode(empty)), empty)


def test_the_checked_arrow_batch_equals_the_checked_json_batch() -> None:
    batch = _full_batch("run-1", "run-2")
    from_json = parsing.batch_from_json(json.loads(json.dumps(wire_batch(batch))))
    from_arrow = parsing.batch_from_arrow(wire.encode(batch))
    _same_batch(from_arrow, from_json)
    for series in from_arrow.metric_series:  # columns, not lists
        assert series.values.dtype == np.float64 and series.steps.dtype == np.int64


@pytest.mark.parametrize(
    "batch",
    [
        WriteBatch(cells=[Cell("r", 1.5, None, None, None, 0, None, "ok")]),  # type: ignore[arg-type]
        WriteBatch(params=[ParamRow("r", "k", 5, None)]),  # type: ignore[arg-type]
        WriteBatch(artifacts=[ArtifactRow("r", "a", True, None, None, 0)]),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, [1.0], [0.5], [0])]),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, [None], [0], [0])]),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, ["1"], [0], [0])]),
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, 2**70, 0, None)]),
        # what Arrow's conversion of a row would change without a word (pyarrow 25):
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, 2.0, 0, None)]),  # type: ignore[arg-type]
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, 2.5, 0, None)]),  # type: ignore[arg-type]
        WriteBatch(runs=[RunCreateRow("r", "0", "n", None, 5.5, None)]),  # type: ignore[arg-type]
        WriteBatch(metrics=[MetricRow("r", "k", True, 0, 0, None)]),
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, True, 0, None)]),
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, np.bool_(True), 0, None)]),  # type: ignore[arg-type]
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, np.float64(2.0), 0, None)]),  # type: ignore[arg-type]
        WriteBatch(artifacts=[ArtifactRow("r", "a", Decimal(3), None, None, 0)]),  # type: ignore[arg-type]
        WriteBatch(tags=[TagRow("r", "k", b"bytes", None)]),  # type: ignore[arg-type]
        WriteBatch(tags=[TagRow(b"r", "k", "v", None)]),  # type: ignore[arg-type]
        WriteBatch(params=[ParamRow("r", "k", 1.5, None)]),  # type: ignore[arg-type]
        WriteBatch(cells=[Cell("r", 1, None, None, None, 0, True, "ok")]),
        WriteBatch(metrics=[MetricRow("r", "k", 1.0, 2**63, 0, None)]),
        WriteBatch(metrics=[MetricRow("r", "k", 2**53 + 1, 0, 0, None)]),  # no exact float
        # points: in one conversion of all lists, or list by list as numpy sees them
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, [1.0, 2.0], [0, 2.5], [0, 0])]),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, [True], [0], [0])]),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, [1.0], [True], [0])]),
        WriteBatch(
            metric_series=[MetricSeriesRow("r", "k", None, [np.float64(1), None], [0, 1], [0, 0])]
        ),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, [2**53 + 1], [0], [0])]),
        WriteBatch(
            metric_series=[
                MetricSeriesRow("r", "a", None, [1.0], [0], [0]),
                MetricSeriesRow("r", "b", None, np.ones(2), np.arange(2), np.zeros(2, np.int64)),
                MetricSeriesRow("r", "c", None, [1.0], [0.5], [0]),
            ]
        ),
        WriteBatch(metric_series=[MetricSeriesRow("r", "k", None, np.array([True]), [0], [0])]),
    ],
)
def test_values_arrow_would_change_are_not_encoded(batch: WriteBatch) -> None:
    # a float where an integer belongs would be truncated, a bool taken for 1: the client
    # sends such a batch as JSON, and the server names the bad field
    with pytest.raises(wire.WireError):
        wire.encode(batch)


class Level(enum.IntEnum):
    ONE = 1


def test_values_arrow_carries_unchanged_are_encoded() -> None:
    """What the JSON form takes as it is (numpy scalars, an int where a float belongs, a str
    subclass) travels as Arrow, with the values the JSON checks would make of it."""
    batch = WriteBatch(
        metrics=[
            MetricRow("r", np.str_("k"), 3, np.int64(4), Level.ONE, None),  # type: ignore[arg-type]
            MetricRow("r", "k", np.float32(0.5), 5, 6, None),  # type: ignore[arg-type]
        ],
        artifacts=[ArtifactRow("r", "a", np.uint8(7), None, None, 0)],  # type: ignore[arg-type]
        cells=[Cell("r", 1, None, None, None, 0, 3, "ok")],  # type: ignore[arg-type]
    )
    decoded = wire.decode(wire.encode(batch))
    assert [tuple(r) for r in decoded.metrics] == [
        ("r", "k", 3.0, 4, 1, None),
        ("r", "k", 0.5, 5, 6, None),
    ]
    assert [type(v) for v in decoded.metrics[0]][:5] == [str, str, float, int, int]
    assert decoded.artifacts[0].size == 7 and decoded.cells[0].duration_ms == 3.0


def test_series_of_lists_and_arrays_keep_their_order_and_points() -> None:
    """Lists are joined by one conversion, arrays taken as they are, in the rows' order."""
    series = [
        MetricSeriesRow("r", "a", None, [0.5, 1], [0, 1], [7, 8]),
        MetricSeriesRow("r", "b", "c", np.linspace(0, 1, 5, dtype=np.float32), range(5), [1] * 5),
        MetricSeriesRow("r", "c", None, [], [], []),
        MetricSeriesRow("r", "d", None, [np.float64(2.5), 3], [np.int64(9), 10], [1, 2]),
        MetricSeriesRow("r", "e", None, np.arange(3), np.arange(3), np.arange(3)),
        MetricSeriesRow("r", "f", None, [math.nan, -math.inf], [-1, -2], [0, 0]),
    ]
    decoded = wire.decode(wire.encode(WriteBatch(metric_series=series)))
    assert [s.key for s in decoded.metric_series] == list("abcdef")
    for sent, got in zip(series, decoded.metric_series):
        for name in ("values", "steps", "timestamps"):
            expected = np.asarray(list(getattr(sent, name)), dtype=float)
            assert np.array_equal(np.asarray(getattr(got, name), float), expected, equal_nan=True)
        assert got.values.dtype == np.float64 and got.steps.dtype == np.int64


# bad Arrow bodies ------------------------------------------------------------------------------


def _with_column(data: bytes | memoryview, name: str, column: pa.Array | None) -> bytes:
    """The stream with one column replaced (or added; None removes it)."""
    with pa.ipc.open_stream(data) as reader:
        table = reader.read_all()
    if column is None:
        table = table.drop_columns([name])
    elif name in table.column_names:
        table = table.set_column(table.column_names.index(name), name, column)
    else:
        table = table.append_column(name, column)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _series_struct(**overrides: pa.Array | None) -> pa.Array:
    """A metric_series column of one series, with some struct fields replaced or left out."""
    fields = {
        "run_id": pa.array(["run"]),
        "key": pa.array(["m"]),
        "cell_id": pa.array([None], pa.string()),
        "values": pa.array([[1.0, 2.0]], pa.list_(pa.float64())),
        "steps": pa.array([[0, 1]], pa.list_(pa.int64())),
        "timestamps": pa.array([[5, 6]], pa.list_(pa.int64())),
    }
    fields.update(overrides)
    struct = pa.StructArray.from_arrays(
        [v for v in fields.values() if v is not None],
        names=[k for k, v in fields.items() if v is not None],
    )
    return pa.ListArray.from_arrays(pa.array([0, 1], pa.int32()), struct)


def _bad_bodies(run_id: str) -> dict[str, tuple[bytes | memoryview, str]]:
    """Bodies that must be refused, each with a fragment of the message."""
    good = wire.encode(
        WriteBatch(
            params=[ParamRow(run_id, "p", "1", None)],
            metric_series=[MetricSeriesRow(run_id, "m", None, [1.0, 2.0], [0, 1], [5, 6])],
        )
    )

    def series(**overrides: Any) -> bytes:
        fields = {"run_id": pa.array([run_id]), **overrides}
        return _with_column(good, "metric_series", _series_struct(**fields))

    def kind(name: str, rows: list[Any]) -> bytes:
        batch = WriteBatch()
        setattr(batch, name, rows)
        encoded = wire.encode(batch)
        with pa.ipc.open_stream(encoded) as reader:
            column = reader.read_all().column(name).combine_chunks()
        return _with_column(good, name, column)

    return {
        "garbage": (b"this is not arrow at all", "not an Arrow IPC stream"),
        "empty": (b"", "not an Arrow IPC stream"),
        "json": (json.dumps({"params": []}).encode(), "not an Arrow IPC stream"),
        "truncated": (good[: len(good) // 2], "Arrow"),
        "two rows": (_two_rows(good), "one row"),
        "unknown kind": (_with_column(good, "bogus", pa.array([1])), "unknown field(s) in batch"),
        "kind not a list": (_with_column(good, "params", pa.array(["x"])), "list of structs"),
        "wrong type": (
            series(steps=pa.array([[0.0, 1.0]], pa.list_(pa.float64()))),
            "field steps must be list<item: int64>",
        ),
        "wrong scalar type": (
            _with_column(good, "params", _retyped_params(run_id)),
            "field value must be string",
        ),
        "missing field": (series(timestamps=None), "missing timestamps"),
        "extra field": (series(extra=pa.array([1])), "unknown extra"),
        "batch_id type": (_with_column(good, "batch_id", pa.array([5])), "batch_id"),
        "bad batch id": (_with_column(good, "batch_id", pa.array(["no spaces"])), "batch id"),
        "bad key": (series(key=pa.array(["bad\nkey"])), "metric_series[0] key"),
        "empty run id": (series(run_id=pa.array([""])), "metric_series[0] run_id"),
        "null run id": (series(run_id=pa.array([None], pa.string())), "run_id"),
        "bad new run id": (kind("runs", [RunCreateRow("a/b", "0", "n", None, 1, None)]), "run id"),
        "reserved run id": (
            kind("runs", [RunCreateRow(".trash", "0", "n", None, 1, None)]),
            "run id",
        ),
        "bad experiment id": (
            kind("runs", [RunCreateRow(uuid.uuid4().hex, "x1", "n", None, 1, None)]),
            "experiment_id",
        ),
        "negative timestamp": (
            series(timestamps=pa.array([[5, -1]], pa.list_(pa.int64()))),
            "timestamps must be at least 0",
        ),
        "negative metric timestamp": (
            kind("metrics", [MetricRow(run_id, "m", 1.0, 0, -5, None)]),
            "metrics[0] timestamp must be at least 0",
        ),
        "null point": (
            series(values=pa.array([[1.0, None]], pa.list_(pa.float64()))),
            "metric_series[0] values[1] must be a number",
        ),
        "null series": (
            series(values=pa.array([None], pa.list_(pa.float64()))),
            "values must be a list of numbers",
        ),
        "unequal columns": (
            series(values=pa.array([[1.0]], pa.list_(pa.float64()))),
            "equally long",
        ),
        "artifact path": (
            kind("artifacts", [ArtifactRow(run_id, "../x", 1, None, None, 0)]),
            "artifacts[0] path",
        ),
        "negative size": (
            kind("artifacts", [ArtifactRow(run_id, "x", -1, None, None, 0)]),
            "artifacts[0] size",
        ),
        "status": (kind("run_updates", [RunUpdateRow(run_id, "DONE", 1)]), "status must be"),
        "cell outcome": (
            kind("cells", [Cell(run_id, 1, None, None, None, 0, None, None)]),  # type: ignore[arg-type]
            "cells[0] outcome",
        ),
        "input name": (
            kind("inputs", [InputRow(run_id, None, "", "d", *([None] * 7))]),
            "inputs[0] name",
        ),
        "tag key": (kind("tags", [TagRow(run_id, "", "v", None)]), "tags[0] key"),
    }


def _two_rows(data: bytes | memoryview) -> bytes:
    with pa.ipc.open_stream(data) as reader:
        table = reader.read_all()
    doubled = pa.concat_tables([table, table])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, doubled.schema) as writer:
        writer.write_table(doubled)
    return bytes(sink.getvalue().to_pybytes())


def _retyped_params(run_id: str) -> pa.Array:
    struct = pa.StructArray.from_arrays(
        [pa.array([run_id]), pa.array(["p"]), pa.array([1]), pa.array([None], pa.string())],
        names=["run_id", "key", "value", "cell_id"],
    )
    return pa.ListArray.from_arrays(pa.array([0, 1], pa.int32()), struct)


@pytest.mark.parametrize("case", list(_bad_bodies("r")))
def test_a_bad_arrow_body_is_refused_by_the_decoder(case: str) -> None:
    body, fragment = _bad_bodies("some-run")[case]
    with pytest.raises(MltrackError) as info:
        parsing.batch_from_arrow(body)
    assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE
    assert fragment in info.value.message, info.value.message


def _outcome(check: Callable[[], WriteBatch]) -> WriteBatch | str:
    try:
        return check()
    except MltrackError as exc:
        assert exc.code == ErrorCode.INVALID_PARAMETER_VALUE
        return exc.message


def _mutated(changes: list[tuple[str, int, str, Any]]) -> WriteBatch:
    batch = _full_batch("run-1", "run-2")
    for kind, i, name, value in changes:
        rows = getattr(batch, kind)
        row = rows[i]
        rows[i] = (
            dataclasses.replace(row, **{name: value})
            if dataclasses.is_dataclass(row)
            else row._replace(**{name: value})
        )
    return batch


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ([], None),
        ([("metrics", 0, "run_id", "")], "metrics[0] run_id"),
        ([("metrics", 0, "run_id", None)], "metrics[0] run_id"),
        ([("metrics", 0, "key", "bad key!")], "metrics[0] key"),
        ([("metrics", 1, "key", None)], "metrics[1] key"),
        ([("metrics", 1, "value", None)], "metrics[1] value"),
        ([("metrics", 0, "step", None)], "metrics[0] step"),
        ([("metrics", 0, "timestamp", -1)], "metrics[0] timestamp must be at least 0"),
        ([("metrics", 0, "timestamp", 0), ("metrics", 1, "step", -(2**63))], None),
        ([("metric_series", 0, "key", "a/../b")], "metric_series[0] key"),
        ([("metric_series", 1, "run_id", "")], "metric_series[1] run_id"),
        ([("metric_series", 1, "timestamps", [7, -8, 9])], "metric_series[1] timestamps"),
        ([("metric_series", 1, "steps", [0, 1])], "equally long"),
        ([("metric_series", 2, "cell_id", "c")], None),
        ([("params", 0, "value", None)], "params[0] value must be a string"),
        ([("params", 0, "value", "€" * 6000)], None),
        ([("params", 0, "value", "€" * 6001)], "limit is 6000"),
        ([("params", 1, "key", "k" * 251)], "params[1] key"),
        ([("tags", 0, "value", "é" * 8000), ("tags", 1, "value", None)], None),
        ([("tags", 0, "value", "é" * 8001)], "limit is 8000"),
        ([("tags", 1, "run_id", "")], "tags[1] run_id"),
        ([("run_updates", 0, "status", "DONE")], "run_updates[0] status must be"),
        ([("run_updates", 0, "status", None)], "run_updates[0] status must be"),
        ([("run_updates", 0, "end_time", None)], None),
        ([("run_updates", 0, "end_time", -1)], "end_time must be at least 0"),
        ([("runs", 0, "run_id", "models")], "reserved"),
        ([("runs", 0, "run_id", "MODELS")], "reserved"),
        ([("runs", 0, "run_id", "a/b")], "run id"),
        ([("runs", 0, "run_id", "x" * 65)], "run id"),
        ([("runs", 0, "run_id", None)], "runs[0] run_id"),
        ([("runs", 0, "experiment_id", " 0 ")], None),  # taken as "0", as in JSON
        ([("runs", 0, "experiment_id", "x1")], "runs[0] experiment_id"),
        ([("runs", 0, "experiment_id", None)], "runs[0] experiment_id"),
        ([("runs", 0, "run_name", "")], "run_name must not be empty"),
        ([("runs", 0, "run_name", "   ")], "run_name must not be empty"),
        ([("runs", 0, "run_name", "\u3000\x85")], "run_name must not be empty"),
        ([("runs", 0, "run_name", "名前")], None),
        ([("runs", 0, "run_name", "a\tb")], "control characters"),
        ([("runs", 0, "run_name", "\x7f")], None),
        ([("runs", 0, "run_name", "x" * 500)], None),
        ([("runs", 0, "run_name", "x" * 501)], "limit is 500"),
        ([("runs", 0, "run_name", None)], "runs[0] run_name"),
        ([("runs", 0, "parent_run_id", "")], "runs[0] parent_run_id"),
        ([("runs", 0, "parent_run_id", "p")], None),
        ([("runs", 0, "user_id", None)], None),
        ([("runs", 0, "start_time", -1)], "runs[0] start_time"),
        ([("artifacts", 0, "path", "a/./b.txt")], None),  # normalised, as in JSON
        ([("artifacts", 0, "path", "/etc/x")], "artifacts[0] path"),
        ([("cells", 0, "seq", None)], "cells[0] seq"),
        ([("inputs", 0, "digest", "")], "inputs[0] digest"),
        # two bad fields: the one the JSON checks meet first is named
        ([("runs", 0, "start_time", -1), ("tags", 1, "key", "")], "tags[1] key"),
        ([("params", 1, "key", "?"), ("metric_series", 0, "run_id", "")], "metric_series[0]"),
    ],
)
def test_the_column_checks_take_and_refuse_what_the_row_checks_do(
    changes: list[tuple[str, int, str, Any]], expected: str | None
) -> None:
    """The Arrow checker works a column at a time; every batch it takes, the JSON checks take
    (and build alike), every batch it refuses, they refuse in the same words."""
    batch = _mutated(changes)
    from_json = _outcome(lambda: parsing.batch_from_json(json.loads(json.dumps(batch.to_json()))))
    from_arrow = _outcome(lambda: parsing.batch_from_arrow(wire.encode(batch)))
    if expected is None:
        assert isinstance(from_json, WriteBatch), from_json
        assert isinstance(from_arrow, WriteBatch), from_arrow
        _same_batch(from_arrow, from_json)
    else:
        assert isinstance(from_json, str) and expected in from_json, from_json
        assert from_arrow == from_json


def test_a_usual_arrow_batch_is_checked_without_the_row_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The row-by-row checks only name what a column check refused: a sweep's batch (and one
    of every kind) does not go through them."""
    sweep = WriteBatch(batch_id=uuid.uuid4().hex)
    for i in range(50):
        run_id = uuid.uuid4().hex
        sweep.runs.append(RunCreateRow(run_id, "0", f"run-{i}", "ana", 10 + i, None))
        sweep.params += [ParamRow(run_id, f"p{k}", str(k), None) for k in range(5)]
        sweep.tags += [TagRow(run_id, f"t{k}", "v", "cell") for k in range(14)]
        sweep.metric_series += [
            MetricSeriesRow(run_id, f"m{k}", None, [0.5], [0], [12]) for k in range(3)
        ]
        sweep.run_updates.append(RunUpdateRow(run_id, "FINISHED", 20 + i))
    full = _full_batch("run-1", "run-2")
    expected = [
        parsing.batch_from_json(json.loads(json.dumps(wire_batch(b)))) for b in (sweep, full)
    ]

    def row_checks(data: dict[str, Any]) -> WriteBatch:
        raise AssertionError("checked row by row")

    monkeypatch.setattr(parsing, "batch_from_json", row_checks)
    for batch, from_json in zip((sweep, full), expected):
        _same_batch(parsing.batch_from_arrow(wire.encode(batch)), from_json)


# through a real server -------------------------------------------------------------------------


@pytest.fixture
def rest(tracking_server: TrackingServer, tmp_path: Path) -> Iterator[RestStore]:
    store = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    yield store
    store.close()


def _new_run(rest: RestStore, experiment_id: str) -> str:
    return rest.create_run(experiment_id, None, "tester", 1, {}).info.run_id


def _snapshot(rest: RestStore, run_id: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """What a run holds, with its own id taken out, to compare two runs."""
    run = rest.get_run(run_id)
    info = {
        k: v
        for k, v in vars(run.info).items()
        if k not in ("run_id", "run_uuid", "run_name", "artifact_uri")
    }
    tags = {k: v for k, v in run.data.tags.items() if k != "mlflow.runName"}
    histories = {}
    for key in keys:
        history = rest.get_metric_history(run_id, key)
        histories[key] = (
            history.steps.tolist(),
            [repr(v) for v in history.values.tolist()],
            history.timestamps.tolist(),
        )
    return {
        "info": info,
        "metrics": {k: repr(v) for k, v in run.data.metrics.items()},
        "params": run.data.params,
        "tags": tags,
        "inputs": [(vars(i.dataset), i.context, i.tags) for i in run.inputs],
        "cells": [{**vars(c), "run_id": None} for c in rest.get_cells(run_id)],
        "items": sorted(repr(i) for i in rest.get_logged_items(run_id) if i[1] != "mlflow.runName"),
        "histories": histories,
    }


def _run_or_code(rest: RestStore, run_id: str) -> Any:
    try:
        run = rest.get_run(run_id)
    except MltrackError as exc:
        return exc.code
    return (run.info.status, run.info.user_id, run.info.start_time, run.info.run_name)


def test_an_arrow_batch_lands_exactly_like_the_json_one(
    tracking_server: TrackingServer, rest: RestStore
) -> None:
    experiment_id = rest.create_experiment(_name())
    by_json, by_arrow = _new_run(rest, experiment_id), _new_run(rest, experiment_id)
    new_json, new_arrow = uuid.uuid4().hex, uuid.uuid4().hex
    json_batch = _full_batch(by_json, new_json, experiment_id)
    answer = tracking_server.api("POST", "/batches", data=json.dumps(wire_batch(json_batch)))
    assert answer.status_code == 200, answer.text
    arrow_batch = _full_batch(by_arrow, new_arrow, experiment_id)
    answer = tracking_server.api("POST", "/batches", data=wire.encode(arrow_batch), headers=ARROW)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"warnings": []}
    keys = ("single", "loss", "acc", "empty")
    assert _snapshot(rest, by_arrow, keys) == _snapshot(rest, by_json, keys)
    assert _snapshot(rest, by_arrow, keys)["histories"]["loss"][0] == list(range(1000))
    # the run the batch made (where the store makes runs from batches) is alike too
    assert _run_or_code(rest, new_arrow) == _run_or_code(rest, new_json)
    assert not tracking_server.server_errors()


def test_nan_and_infinities_survive_the_arrow_path(rest: RestStore) -> None:
    experiment_id = rest.create_experiment(_name())
    run_id = _new_run(rest, experiment_id)
    values = np.array([math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, 5e-324])
    rest.write_batch(
        WriteBatch(
            metric_series=[
                MetricSeriesRow(run_id, "m", None, values, np.arange(7), np.ones(7, np.int64))
            ],
            metrics=[MetricRow(run_id, "single", math.inf, 0, 1, None)],
        )
    )
    history = rest.get_metric_history(run_id, "m")
    assert np.array_equal(history.values, values, equal_nan=True)
    assert np.signbit(history.values[4])
    assert rest.get_metric_history(run_id, "single").values.tolist() == [math.inf]


@pytest.mark.parametrize("case", list(_bad_bodies("r")))
def test_a_bad_arrow_body_is_a_400_and_nothing_is_written(
    tracking_server: TrackingServer, rest: RestStore, case: str
) -> None:
    experiment_id = rest.create_experiment(_name())
    run_id = _new_run(rest, experiment_id)
    body, fragment = _bad_bodies(run_id)[case]
    answer = tracking_server.api("POST", "/batches", data=body, headers=ARROW)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert set(error) == {"error_code", "message"}, error
    assert error["error_code"] == "INVALID_PARAMETER_VALUE"
    assert fragment in error["message"], error
    run = rest.get_run(run_id)
    assert run.data.params == {} and run.data.metrics == {}
    assert len(rest.get_metric_history(run_id, "m")) == 0
    assert not tracking_server.server_errors()


def test_a_resent_arrow_batch_is_applied_once(
    tracking_server: TrackingServer, rest: RestStore
) -> None:
    experiment_id = rest.create_experiment(_name())
    run_id = _new_run(rest, experiment_id)
    batch = WriteBatch(
        metric_series=[
            MetricSeriesRow(run_id, "m", None, np.ones(50), np.arange(50), np.full(50, 9))
        ],
        tags=[TagRow(run_id, "t", "1", None)],
        batch_id=uuid.uuid4().hex,
    )
    body = wire.encode(batch)
    for _ in range(2):
        answer = tracking_server.api("POST", "/batches", data=body, headers=ARROW)
        assert answer.status_code == 200, answer.text
    assert len(rest.get_metric_history(run_id, "m")) == 50
    rest.write_batch(batch)  # the client's resend, through the same path
    assert len(rest.get_metric_history(run_id, "m")) == 50


def test_an_arrow_body_past_the_batch_limit_is_refused(
    tracking_server_factory: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    limit = 64 * 1024
    server = tracking_server_factory(extra_args=(f"--MltrackApp.max_batch_body_bytes={limit}",))
    rest = RestStore(tmp_path / "client", server.url, server.token)
    try:
        run_id = _new_run(rest, rest.create_experiment(_name()))
        n = 10_000  # 240 kB of points
        big = WriteBatch(
            metric_series=[
                MetricSeriesRow(run_id, "m", None, np.ones(n), np.arange(n), np.ones(n, np.int64))
            ]
        )
        answer = server.api("POST", "/batches", data=wire.encode(big), headers=ARROW)
        assert answer.status_code == 413, answer.text
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert len(rest.get_metric_history(run_id, "m")) == 0
        small = WriteBatch(metric_series=[MetricSeriesRow(run_id, "m", None, [1.0], [0], [1])])
        answer = server.api("POST", "/batches", data=wire.encode(small), headers=ARROW)
        assert answer.status_code == 200, answer.text
        assert not server.server_errors()
    finally:
        rest.close()


# the client: Arrow, and JSON for a server that refuses it ---------------------------------------


class FrontServer:
    """A tornado app on loopback in front of the real server's ``/batches``: it records each
    batch's content type and forwards it, unless it plays a server that does not take Arrow."""

    def __init__(self, target: TrackingServer, refusal: str | None):
        self.target = target
        self.refusal = refusal
        self.seen: list[str] = []
        self.port = 0
        self._loop: ioloop.IOLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mltrack"

    def __enter__(self) -> FrontServer:
        self._thread.start()
        assert self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None
        self._loop.add_callback(self._loop.stop)
        self._thread.join(30)

    def _serve(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        front = self

        class Batches(web.RequestHandler):
            def post(self) -> None:
                media_type = self.request.headers.get("Content-Type", "")
                front.seen.append(media_type)
                if media_type == wire.MEDIA_TYPE and front.refusal is not None:
                    self._refuse(front.refusal)
                    return
                answer = requests.post(
                    f"{front.target.url}/api/batches",
                    params={k: v[-1].decode() for k, v in self.request.query_arguments.items()},
                    data=self.request.body,
                    headers={"Content-Type": media_type, **front.target.headers},
                    timeout=60,
                )
                self.set_status(answer.status_code)
                self.set_header("Content-Type", answer.headers.get("Content-Type", ""))
                self.finish(answer.content)

            def _refuse(self, refusal: str) -> None:
                if refusal == "415":
                    self.set_status(415)
                    self.finish({"message": "Unsupported Media Type"})
                elif refusal == "404":
                    self.set_status(404)
                    self.finish("<html><body>404: Not Found</body></html>")
                else:  # a server from before Arrow batches: it reads every body as JSON
                    try:
                        json.loads(self.request.body)
                    except ValueError as exc:
                        self.set_status(400)
                        self.finish(
                            {
                                "error_code": "INVALID_PARAMETER_VALUE",
                                "message": f"request body is not valid JSON: {exc}",
                            }
                        )

        app = web.Application([(r"/mltrack/api/batches", Batches)])
        server = httpserver.HTTPServer(app)
        sockets = netutil.bind_sockets(0, "127.0.0.1")
        server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        self._loop = ioloop.IOLoop.current()
        self._ready.set()
        self._loop.start()
        server.stop()


def _two_series_batches(run_id: str) -> list[WriteBatch]:
    return [
        WriteBatch(
            metric_series=[
                MetricSeriesRow(run_id, "m", None, [float(i), math.nan], [2 * i, 2 * i + 1], [5, 5])
            ],
            params=[ParamRow(run_id, f"p{i}", "x", None)],
            batch_id=uuid.uuid4().hex,
        )
        for i in range(3)
    ]


def test_the_client_sends_batches_as_arrow(
    tracking_server: TrackingServer, rest: RestStore, tmp_path: Path
) -> None:
    run_id = _new_run(rest, rest.create_experiment(_name()))
    with FrontServer(tracking_server, None) as front:
        client = RestStore(tmp_path / "front-client", front.url, tracking_server.token)
        for batch in _two_series_batches(run_id):
            assert client.write_batch(batch) == []
        client.close()
    assert front.seen == [wire.MEDIA_TYPE] * 3
    history = rest.get_metric_history(run_id, "m")
    assert history.steps.tolist() == list(range(6))
    assert rest.get_run(run_id).data.params == {"p0": "x", "p1": "x", "p2": "x"}


@pytest.mark.parametrize("refusal", ["415", "404", "json-only server"])
def test_a_server_that_refuses_arrow_gets_json(
    tracking_server: TrackingServer, rest: RestStore, tmp_path: Path, refusal: str
) -> None:
    run_id = _new_run(rest, rest.create_experiment(_name()))
    with FrontServer(tracking_server, refusal) as front:
        client = RestStore(tmp_path / "front-client", front.url, tracking_server.token)
        for batch in _two_series_batches(run_id):
            assert client.write_batch(batch) == []
        client.close()
    # one Arrow attempt, refused unread; JSON from then on
    assert front.seen == [wire.MEDIA_TYPE] + ["application/json"] * 3
    history = rest.get_metric_history(run_id, "m")
    assert history.steps.tolist() == list(range(6))
    assert np.isnan(history.values[1::2]).all()
    assert rest.get_run(run_id).data.params == {"p0": "x", "p1": "x", "p2": "x"}


def test_store_errors_are_not_taken_for_a_refusal_of_arrow(
    tracking_server: TrackingServer, rest: RestStore, tmp_path: Path
) -> None:
    """A 404 for a missing run, or a 400 for a bad value, is the batch's fault: raised, and
    the next batch still goes as Arrow."""
    run_id = _new_run(rest, rest.create_experiment(_name()))
    with FrontServer(tracking_server, None) as front:
        client = RestStore(tmp_path / "front-client", front.url, tracking_server.token)
        missing = WriteBatch(params=[ParamRow(uuid.uuid4().hex, "p", "1", None)])
        with pytest.raises(MltrackError) as info:
            client.write_batch(missing)
        assert info.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
        with pytest.raises(MltrackError) as info:
            client.write_batch(WriteBatch(tags=[TagRow(run_id, "bad\nkey", "v", None)]))
        assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE
        # a value Arrow would change travels as JSON, and the server names it
        with pytest.raises(MltrackError) as info:
            client.write_batch(WriteBatch(params=[ParamRow(run_id, "p", 5, None)]))  # type: ignore[arg-type]
        assert "params[0] value must be a string" in info.value.message
        client.write_batch(WriteBatch(params=[ParamRow(run_id, "ok", "1", None)]))
        client.close()
    assert front.seen == [wire.MEDIA_TYPE] * 2 + ["application/json", wire.MEDIA_TYPE]
    assert rest.get_run(run_id).data.params == {"ok": "1"}


def test_a_long_series_goes_in_arrow_parts_with_new_runs_first(
    tracking_server: TrackingServer, rest: RestStore, tmp_path: Path
) -> None:
    """split_batch still bounds a request; a run made in the batch comes with the first part."""
    experiment_id = rest.create_experiment(_name())
    run_id = _new_run(rest, experiment_id)
    new_run = uuid.uuid4().hex
    n = 2500
    batch = WriteBatch(
        runs=[RunCreateRow(new_run, experiment_id, "split", None, 1, None)],
        metric_series=[
            MetricSeriesRow(
                run_id, "m", None, np.arange(n, dtype=float), np.arange(n), np.full(n, 3)
            )
        ],
        run_updates=[RunUpdateRow(run_id, "FINISHED", 9)],
        batch_id=uuid.uuid4().hex,
    )
    with FrontServer(tracking_server, None) as front:
        client = RestStore(tmp_path / "front-client", front.url, tracking_server.token)
        client.max_points_per_request = 1000
        client.write_batch(batch)
        client.write_batch(batch)  # resent: every part already applied
        client.close()
    assert len(front.seen) == 8 and set(front.seen) == {wire.MEDIA_TYPE}
    assert rest.get_metric_history(run_id, "m").values.tolist() == list(range(n))
    assert rest.get_run(run_id).info.status == "FINISHED"
    from jupyter_mltrack.store.rest.store import split_batch

    assert split_batch(batch, 1000)[0].runs == batch.runs


# histories and run frames ------------------------------------------------------------------------


def test_a_history_read_as_arrow_equals_the_embedded_stores(
    tracking_server: TrackingServer, rest: RestStore, tmp_path: Path
) -> None:
    embedded = DuckDBStore(tmp_path / "embedded")
    try:
        n = 5000
        rng = np.random.default_rng(1)
        values = rng.normal(size=n)
        values[::97] = math.nan
        steps = rng.permutation(n).astype(np.int64) - 100  # negative steps too, out of order
        stamps = rng.integers(0, 2**40, n)
        histories = []
        for store in (embedded, rest):
            run_id = _new_run(store, store.create_experiment(_name()))  # type: ignore[arg-type]
            store.write_batch(
                WriteBatch(
                    metric_series=[MetricSeriesRow(run_id, "h", None, values, steps, stamps)]
                )
            )
            histories.append((store.get_metric_history(run_id, "h"), run_id))
        (local, _), (remote, remote_run) = histories
        for name in ("steps", "values", "timestamps"):
            a, b = getattr(local, name), getattr(remote, name)
            assert a.dtype == b.dtype, name
            assert a.flags.writeable == b.flags.writeable, name
            assert np.array_equal(a, b, equal_nan=True), name
        # the JSON form (the lab's) says the same
        answer = tracking_server.api(
            "GET", f"/runs/{remote_run}/metric-history", params={"key": "h"}
        ).json()
        assert answer["step"] == remote.steps.tolist()
        assert answer["timestamp"] == remote.timestamps.tolist()
    finally:
        embedded.close()


def _frame_runs(rest: RestStore, n: int) -> str:
    experiment_id = rest.create_experiment(_name())
    for i in range(n):
        run_id = rest.create_run(experiment_id, f"r{i}", "tester", 1000 + i, {}).info.run_id
        # keys that only some runs have: pages differ in their columns
        batch = WriteBatch(
            metrics=[MetricRow(run_id, f"m{i % 3}", float(i), 0, 1, None)],
            params=[ParamRow(run_id, "Lr" if i % 2 else "lr", str(i), None)],
            tags=[TagRow(run_id, f"t{i}", "x", None)] if i == n - 1 else [],
        )
        rest.write_batch(batch)
    return experiment_id


def test_the_run_frame_comes_in_pages(tracking_server: TrackingServer, rest: RestStore) -> None:
    experiment_id = _frame_runs(rest, 8)
    whole = rest.search_runs_frame([experiment_id])
    assert len(whole) == 8
    rest.run_frame_page_size = 3
    paged = rest.search_runs_frame([experiment_id])
    pd.testing.assert_frame_equal(paged, whole)
    assert list(paged.columns) == list(whole.columns)
    first_five = rest.search_runs_frame([experiment_id], max_results=5)
    assert first_five["run_id"].tolist() == whole["run_id"].tolist()[:5]
    ordered = rest.search_runs_frame([experiment_id], order_by=["metrics.m0 DESC"])
    assert len(ordered) == 8

    # the route itself: pages of max_results, the next token in the stream's metadata
    seen, token = [], None
    while True:
        params = {"experiment_id": experiment_id, "max_results": 3, "page_token": token}
        answer = tracking_server.api("GET", "/run-frame", params=params)
        assert answer.status_code == 200, answer.text
        with pa.ipc.open_stream(answer.content) as reader:
            table = reader.read_all()
        seen += table.column("run_id").to_pylist()
        metadata = table.schema.metadata or {}
        if b"next_page_token" not in metadata:
            break
        token = metadata[b"next_page_token"].decode()
        assert table.num_rows == 3
    assert seen == whole["run_id"].tolist()


def test_the_run_frame_route_caps_a_page(tracking_server: TrackingServer) -> None:
    limit = handlers.RUN_FRAME_MAX_RESULTS
    assert limit == 50_000
    for params, fragment in (
        ({"max_results": limit + 1}, f"max_results must be at most {limit}"),
        ({"page_token": "not-a-token"}, "invalid page token"),
    ):
        answer = tracking_server.api("GET", "/run-frame", params={"experiment_id": "0", **params})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert fragment in answer.json()["message"]
    answer = tracking_server.api(
        "GET", "/run-frame", params={"experiment_id": "0", "max_results": limit}
    )
    assert answer.status_code == 200
