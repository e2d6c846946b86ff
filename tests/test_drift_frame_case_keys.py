"""Keys that differ only in case (``Loss`` and ``loss``) are different keys everywhere: in the runs
DataFrame each gets its own column under its own name, and Run objects keep both.

DuckDB's PIVOT names columns case-insensitively and renames a second ``metrics.loss`` to
``metrics.loss_1``; the frame must not show that. (Its speed over 10k runs is `bench/`'s.)
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack import MltrackClient


def _log_case_twins(client: MltrackClient, experiment_id: str) -> tuple[str, str]:
    first = client.create_run(experiment_id, run_name="first").info.run_id
    client.log_metric(first, "Loss", 1.0)
    client.log_metric(first, "loss", 2.0)
    client.log_param(first, "LR", "0.1")
    client.log_param(first, "lr", "0.2")
    client.set_tag(first, "Team", "upper")
    client.set_tag(first, "team", "lower")
    # a second run has only the lower-case keys: the upper-case columns are empty there
    second = client.create_run(experiment_id, run_name="second").info.run_id
    client.log_metric(second, "loss", 3.0)
    client.log_param(second, "lr", "0.3")
    client.set_tag(second, "team", "other")
    # keys beyond ASCII letters name their columns too
    client.log_metric(second, "Größe", 4.0)
    client.log_param(second, "a key / with spaces", "v")
    return first, second


def test_runs_frame_keeps_keys_that_differ_only_in_case(tmp_path: Path) -> None:
    client = MltrackClient(tmp_path / "store")
    experiment_id = client.create_experiment("case")
    first, second = _log_case_twins(client, experiment_id)

    frame = client.search_runs_frame([experiment_id], order_by=["attributes.run_name"])
    columns = list(frame.columns)
    assert not [c for c in columns if c.endswith("_1")], columns
    for prefix, upper, lower in (("metrics", "Loss", "loss"), ("params", "LR", "lr"),
                                 ("tags", "Team", "team")):  # fmt: skip
        assert f"{prefix}.{upper}" in columns and f"{prefix}.{lower}" in columns, columns
    rows = frame.set_index("run_id")
    assert rows.loc[first, "metrics.Loss"] == 1.0 and rows.loc[first, "metrics.loss"] == 2.0
    assert math.isnan(rows.loc[second, "metrics.Loss"])
    assert rows.loc[second, "metrics.loss"] == 3.0
    assert (rows.loc[first, "params.LR"], rows.loc[first, "params.lr"]) == ("0.1", "0.2")
    assert pd.isna(rows.loc[second, "params.LR"]) and rows.loc[second, "params.lr"] == "0.3"
    assert (rows.loc[first, "tags.Team"], rows.loc[first, "tags.team"]) == ("upper", "lower")
    assert rows.loc[second, "tags.team"] == "other"
    assert rows.loc[second, "metrics.Größe"] == 4.0
    assert rows.loc[second, "params.a key / with spaces"] == "v"
    # the data columns come sorted by key within each kind, after the run's attributes
    metric_columns = [c for c in columns if c.startswith("metrics.")]
    assert metric_columns == sorted(metric_columns)
    assert columns[:8] == [
        "run_id", "experiment_id", "run_name", "status", "artifact_uri", "start_time",
        "end_time", "parent_run_id",
    ]  # fmt: skip


def test_run_objects_keep_keys_that_differ_only_in_case(tmp_path: Path) -> None:
    client = MltrackClient(tmp_path / "store")
    experiment_id = client.create_experiment("case")
    first, _ = _log_case_twins(client, experiment_id)
    found = {r.info.run_id: r for r in client.search_runs([experiment_id])}
    for run in (found[first], client.get_run(first)):
        assert run.data.metrics["Loss"] == 1.0 and run.data.metrics["loss"] == 2.0
        assert run.data.params["LR"] == "0.1" and run.data.params["lr"] == "0.2"
        assert run.data.tags["Team"] == "upper" and run.data.tags["team"] == "lower"


def test_fluent_search_runs_frame_has_case_distinct_columns(store: Path) -> None:
    with mlt.start_run():
        mlt.log_metrics({"Acc": 0.5, "acc": 0.25})
    frame = mlt.search_runs()
    assert frame.loc[0, "metrics.Acc"] == 0.5 and frame.loc[0, "metrics.acc"] == 0.25


def test_run_frame_route_keeps_keys_that_differ_only_in_case(tracking_server: Any) -> None:
    import pyarrow as pa

    answer = tracking_server.api("POST", "/experiments", json={"name": "frame-case-keys"})
    experiment_id = answer.json()["experiment"]["experiment_id"]
    answer = tracking_server.api("POST", "/runs", json={"experiment_id": experiment_id})
    run_id = answer.json()["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    batch = {"metrics": [[run_id, "Loss", 1.0, 0, now, None], [run_id, "loss", 2.0, 0, now, None]]}
    assert tracking_server.api("POST", "/batches", json=batch).ok
    answer = tracking_server.api("GET", "/run-frame", params={"experiment_id": experiment_id})
    assert answer.ok, answer.text
    frame = pa.ipc.open_stream(answer.content).read_all().to_pandas()
    assert (frame.loc[0, "metrics.Loss"], frame.loc[0, "metrics.loss"]) == (1.0, 2.0)
