"""The server's parts that need no server: request parsing, ranges, previews, the change log,
the owned store's shutdown, and the UI queries (runs table, lineage, downsampled histories)
on a real DuckDB store."""

from __future__ import annotations

import base64
import io
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.server import parsing
from jupyter_mltrack.server.owned_store import ChangeLog, OwnedStore
from jupyter_mltrack.server.preview import PreviewLimits, preview_file
from jupyter_mltrack.store.batch import (
    MetricRow,
    MetricSeriesRow,
    ParamRow,
    RunUpdateRow,
    TagRow,
    WriteBatch,
)
from jupyter_mltrack.store.duckdb import ui_queries
from jupyter_mltrack.store.duckdb.store import DuckDBStore


def _now() -> int:
    return int(time.time() * 1000)


# parsing -------------------------------------------------------------------------------------


def test_batch_from_json_accepts_what_to_json_writes() -> None:
    batch = WriteBatch(
        metrics=[MetricRow("r", "loss", math.nan, 0, 1, None), ("r", "loss", 1.5, 1, 2, "c")],
        metric_series=[
            MetricSeriesRow(
                "r", "acc", None, np.array([0.5, np.inf]), np.arange(2), np.ones(2, int)
            )
        ],
        params=[ParamRow("r", "lr", "0.1", None)],
        tags=[TagRow("r", "t", None, None)],
        run_updates=[RunUpdateRow("r", "FINISHED", 5)],
    )
    text = json.dumps(batch.to_json())  # bare NaN / Infinity tokens, as RestStore sends
    parsed = parsing.batch_from_json(json.loads(text))
    assert math.isnan(parsed.metrics[0][2]) and parsed.metrics[1] == ("r", "loss", 1.5, 1, 2, "c")
    run_id, key, cell, values, steps, stamps = parsed.metric_series[0]
    assert (run_id, key, cell) == ("r", "acc", None)
    assert values.tolist() == [0.5, math.inf] and steps.tolist() == [0, 1]
    assert stamps.dtype == np.int64
    assert parsed.tags == [("r", "t", None, None)] and parsed.run_updates == [("r", "FINISHED", 5)]
    # JSON-only clients send non-finite values as strings
    strings = parsing.batch_from_json(
        {"metric_series": [["r", "k", None, ["NaN", 1], [0, 1], [1, 2]]]}
    )
    assert math.isnan(strings.metric_series[0][3][0])


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"metrics": [["r", "k", "high", 0, 1, None]]}, "metrics[0] value must be a number"),
        ({"metrics": [["r", "k", 1.0, 0.5, 1, None]]}, "metrics[0] step must be an integer"),
        ({"metrics": [["r", "k", 1.0, 0, -1, None]]}, "timestamp must be at least 0"),
        ({"metrics": [["r", "k", 1.0, 0]]}, "must be a list of 6 values"),
        ({"metrics": [["r", "bad'key", 1.0, 0, 1, None]]}, "holds characters a key cannot hold"),
        ({"metrics": [["", "k", 1.0, 0, 1, None]]}, "run_id must be a non-empty string"),
        ({"metrics": [["r", "k", True, 0, 1, None]]}, "must be a number"),
        ({"metric_series": [["r", "k", None, [1.0], [0, 1], [1]]]}, "equally long"),
        ({"metric_series": [["r", "k", None, [1.0], [0.5], [1]]]}, "list of integers"),
        ({"metric_series": [["r", "k", None, ["x"], [0], [1]]]}, "must be a number"),
        ({"params": [["r", "k", 3, None]]}, "params[0] value must be a string"),
        ({"tags": [["r", "k", 3, None]]}, "tags[0] value must be a string"),
        ({"artifacts": [["r", "../x", 1, None, None, 1]]}, "must not leave"),
        ({"run_updates": [["r", "SLEEPING", None]]}, "status must be one of"),
        ({"cells": [{"run_id": "r", "seq": 1}]}, "start_time must be an integer"),
        ({"cells": [{"run_id": "r", "seq": 1, "colour": "red"}]}, "unknown field(s)"),
        ({"metrics": "all of them"}, "batch metrics must be a list"),
        ({"gauges": []}, "unknown field(s) in batch: gauges"),
    ],
)
def test_batch_from_json_names_the_bad_field(body: dict, fragment: str) -> None:
    with pytest.raises(MltrackError) as info:
        parsing.batch_from_json(body)
    assert fragment in info.value.message
    assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE


def test_query_parsers() -> None:
    assert parsing.integer(None, "n", 7) == 7
    assert parsing.integer("12", "n", 7, 1, 20) == 12
    for bad in ("x", "1.5", "0", "21"):
        with pytest.raises(MltrackError):
            parsing.integer(bad, "n", 7, 1, 20)
    assert parsing.flag("TRUE", "f") and not parsing.flag("0", "f") and not parsing.flag(None, "f")
    with pytest.raises(MltrackError):
        parsing.flag("maybe", "f")
    assert parsing.listed(["a,b", " c ", ""]) == ["a", "b", "c"]
    assert parsing.experiment_id(3) == "3"
    for bad in ("x", "-1", True, 1.5, None):
        with pytest.raises(MltrackError):
            parsing.experiment_id(bad)
    assert parsing.tag_map({"k": None}, allow_delete=True) == {"k": None}
    with pytest.raises(MltrackError):
        parsing.tag_map({"k": None})
    with pytest.raises(MltrackError):
        parsing.tag_map(["k"])


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-3", 10, (0, 3)),
        ("bytes=4-", 10, (4, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=2-100", 10, (2, 9)),
        ("bytes=0-1,4-5", 10, None),  # several ranges: the whole file
        ("items=0-1", 10, None),
    ],
)
def test_byte_range(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parsing.byte_range(header, size) == expected


def test_byte_range_refusals() -> None:
    with pytest.raises(parsing.RangeNotSatisfiable):
        parsing.byte_range("bytes=10-", 10)
    with pytest.raises(parsing.RangeNotSatisfiable):
        parsing.byte_range("bytes=-0", 10)
    for bad in ("bytes=5-2", "bytes=a-b", "bytes=-"):
        with pytest.raises(MltrackError):
            parsing.byte_range(bad, 10)


# previews ------------------------------------------------------------------------------------


def test_previews_by_kind(tmp_path: Path) -> None:
    import pandas as pd
    from PIL import Image

    limits = PreviewLimits(max_bytes=50, max_rows=2, max_image_bytes=10_000)
    files = {
        "a.txt": b"x" * 80,
        "b.json": b'{"k": [1, 2]}',
        "c.csv": b"a,b\n1,2\n3,4\n5,6\n",
        "d.html": b"<p>hi</p>",
        "e.bin": bytes(range(256)),
        "f.md": "caf\u00e9".encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]}).to_parquet(tmp_path / "g.parquet")
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, format="PNG")
    (tmp_path / "h.png").write_bytes(png.getvalue())

    def show(name: str) -> dict:
        return preview_file(tmp_path / name, f"sub/{name}", limits)

    text = show("a.txt")
    assert (text["kind"], len(text["text"]), text["truncated"]) == ("text", 50, True)
    assert show("b.json") == {
        "path": "sub/b.json", "size": 13, "media_type": "application/json", "kind": "json",
        "data": {"k": [1, 2]},
    }  # fmt: skip
    table = show("c.csv")
    assert (table["columns"], table["rows"], table["truncated"]) == (
        ["a", "b"], [["1", "2"], ["3", "4"]], True
    )  # fmt: skip
    assert show("d.html")["kind"] == "html" and show("d.html")["text"] == "<p>hi</p>"
    assert show("e.bin")["kind"] == "binary"
    assert show("f.md")["text"] == "caf\u00e9"
    parquet = show("g.parquet")
    assert parquet["columns"] == ["x", "y"] and parquet["rows"] == [[1, "a"], [2, "b"]]
    assert parquet["truncated"] is True
    image = show("h.png")
    assert image["kind"] == "image" and base64.b64decode(image["data"]) == png.getvalue()
    big = preview_file(tmp_path / "h.png", "h.png", PreviewLimits(max_image_bytes=10))
    assert big["kind"] == "binary"
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    assert show("broken.parquet")["kind"] == "binary"


# the change log ------------------------------------------------------------------------------


def test_change_log_cursors() -> None:
    log = ChangeLog(retained=3)
    start = log.since(None)
    assert start.reset and start.cursor == f"{log.epoch}.0"
    log.record(runs={"a"}, metrics={("a", "loss")})
    log.record(experiments={"1"})
    changes = log.since(start.cursor)
    assert not changes.reset
    assert (changes.runs, changes.experiments, changes.metrics) == ({"a"}, {"1"}, {("a", "loss")})
    assert log.since(changes.cursor).runs == set()
    assert log.since("00000000.1").reset  # another epoch: a restarted server
    for _ in range(5):
        log.record(runs={"b"})
    assert log.since(start.cursor).reset  # older than what the log keeps
    for bad in ("nonsense", f"{log.epoch}.x", f"{log.epoch}.999"):
        with pytest.raises(MltrackError):
            log.since(bad)


def test_owned_store_records_changes_and_refuses_calls_after_shutdown(tmp_path: Path) -> None:
    store = OwnedStore(tmp_path / "store")
    store.open()
    cursor = store.changes.cursor
    exp_id = store.create_experiment("e")
    run = store.create_run(exp_id, "r", None, _now(), {})
    store.write_batch(
        WriteBatch(
            metric_series=[MetricSeriesRow(run.info.run_id, "m", None, [1.0], [0], [_now()])]
        )
    )
    changes = store.changes.since(cursor)
    assert changes.experiments == {exp_id} and changes.runs == {run.info.run_id}
    assert changes.metrics == {(run.info.run_id, "m")}
    store.shutdown()
    with pytest.raises(MltrackError) as info:
        store.get_run(run.info.run_id)
    assert info.value.code == ErrorCode.STORE_UNAVAILABLE
    # the file is free again for the next owner
    again = DuckDBStore(tmp_path / "store")
    assert again.get_run(run.info.run_id).info.run_name == "r"
    again.close()


# UI queries ----------------------------------------------------------------------------------


@pytest.fixture
def duck(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "store", linger=None)
    yield store  # type: ignore[misc]
    store.close()


def test_downsampling_keeps_extremes_and_ends(duck: DuckDBStore) -> None:
    exp_id = duck.create_experiment("e")
    start = _now()
    run_id = duck.create_run(exp_id, "r", None, start, {}).info.run_id
    n = 100_000
    values = np.sin(np.arange(n) / 500.0)
    values[31_337] = 50.0  # a spike
    values[77_777] = -40.0  # a dip
    values[5] = np.nan
    duck.write_batch(
        WriteBatch(
            metric_series=[
                MetricSeriesRow(
                    run_id, "loss", None, values, np.arange(n), start + 10 * np.arange(n)
                )
            ]
        )
    )
    for x_axis, first_x in (("step", 0), ("wall", start), ("relative", 0)):
        (series,) = ui_queries.metric_histories(duck, [run_id], ["loss"], 200, x_axis)
        assert series["downsampled"] and series["total_points"] == n
        assert len(series["x"]) <= 200
        assert max(series["value"]) == 50.0 and min(series["value"]) == -40.0
        assert series["x"] == sorted(series["x"])
        assert series["x"][0] == first_x and series["step"][-1] == n - 1
        spike = series["value"].index(50.0)
        assert series["step"][spike] == 31_337
        assert series["timestamp"][spike] == start + 10 * 31_337
    (short,) = ui_queries.metric_histories(duck, [run_id], ["loss"], 200_000)
    assert not short["downsampled"] and len(short["x"]) == n and math.isnan(short["value"][5])


def test_metric_histories_refuse_bad_requests(duck: DuckDBStore) -> None:
    run_id = duck.create_run("0", "r", None, _now(), {}).info.run_id
    cases = [
        (([run_id], ["m"], 3, "step"), ErrorCode.INVALID_PARAMETER_VALUE),
        (([run_id], ["m"], 100, "sideways"), ErrorCode.INVALID_PARAMETER_VALUE),
        (([run_id], [], 100, "step"), ErrorCode.INVALID_PARAMETER_VALUE),
        (([run_id], ["bad'key"], 100, "step"), ErrorCode.INVALID_PARAMETER_VALUE),
        ((["missing"], ["m"], 100, "step"), ErrorCode.RESOURCE_DOES_NOT_EXIST),
        (([run_id] * 11, [f"k{i}" for i in range(10)], 100, "step"),
         ErrorCode.INVALID_PARAMETER_VALUE),
    ]  # fmt: skip
    for args, code in cases:
        with pytest.raises(MltrackError) as info:
            ui_queries.metric_histories(duck, *args)
        assert info.value.code == code, args
    (empty,) = ui_queries.metric_histories(duck, [run_id], ["never"], 100)
    assert empty["total_points"] == 0 and empty["x"] == []


def test_run_table_pages_with_chosen_columns(duck: DuckDBStore) -> None:
    exp_id = duck.create_experiment("e")
    ids = []
    for i in range(7):
        run_id = duck.create_run(exp_id, f"r{i}", None, _now() + i, {}).info.run_id
        duck.write_batch(
            WriteBatch(
                metrics=[
                    MetricRow(run_id, "acc", i / 10, 0, 1, None),
                    MetricRow(run_id, "loss", 1.0, 0, 1, None),
                ],
                params=[ParamRow(run_id, "p", str(i), None), ParamRow(run_id, "q", "x", None)],
            )
        )
        ids.append(run_id)
    page = ui_queries.run_table(
        duck, [exp_id], "metrics.acc > 0.05", order_by=["metrics.acc DESC"], max_results=4,
        metric_keys=["acc"], param_keys=["p"],
    )  # fmt: skip
    assert page["total"] == 6 and page["next_page_token"]
    assert [r["run_id"] for r in page["runs"]] == ids[6:2:-1]
    assert page["runs"][0]["metrics"] == {"acc": 0.6} and page["runs"][0]["params"] == {"p": "6"}
    rest = ui_queries.run_table(
        duck, [exp_id], "metrics.acc > 0.05", order_by=["metrics.acc DESC"], max_results=4,
        page_token=page["next_page_token"],
    )  # fmt: skip
    assert [r["run_id"] for r in rest["runs"]] == ids[2:0:-1]
    assert rest["next_page_token"] is None and rest["runs"][0]["metrics"] == {}
    assert ui_queries.run_columns(duck, [exp_id]) == {
        "metrics": ["acc", "loss"], "params": ["p", "q"], "tags": ["mlflow.runName"],
    }  # fmt: skip
    with pytest.raises(MltrackError):
        ui_queries.run_table(duck, [exp_id], metric_keys=["x"] * 201)


def test_lineage_follows_parents_and_children(duck: DuckDBStore) -> None:
    exp_id = duck.create_experiment("e")
    root = duck.create_run(exp_id, "root", None, _now(), {}).info.run_id
    mid = duck.create_run(exp_id, "mid", None, _now(), {}, parent_run_id=root).info.run_id
    # a child known only by MLflow's tag, as MLflow clients create nested runs
    leaf = duck.create_run(exp_id, "leaf", None, _now(), {"mlflow.parentRunId": mid}).info.run_id
    view = ui_queries.lineage(duck, mid)
    assert [a["run_id"] for a in view["ancestors"]] == [root]
    assert [c["run_id"] for c in view["children"]] == [leaf]
    assert [a["run_id"] for a in ui_queries.lineage(duck, leaf)["ancestors"]] == [mid, root]
    with pytest.raises(MltrackError):
        ui_queries.lineage(duck, "missing")
