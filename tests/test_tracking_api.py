"""The fluent API and MltrackClient against a real embedded DuckDB store."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack import Metric, MltrackClient, MltrackError, Param, RunTag


def test_store_location_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_mltrack.config import resolve_store_dir

    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "env"))
    assert resolve_store_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_store_dir() == tmp_path / "env"
    monkeypatch.delenv("MLTRACK_STORE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_store_dir() == tmp_path / "home" / ".mltrack"


def test_default_experiment_exists(store: Path) -> None:
    exp = mlt.get_experiment("0")
    assert exp.name == "Default"
    assert mlt.get_experiment_by_name("Default").experiment_id == "0"


def test_run_lifecycle_params_metrics_tags(store: Path) -> None:
    mlt.set_experiment("lifecycle")
    with mlt.start_run(run_name="first", tags={"team": "vision"}, description="why") as run:
        assert mlt.active_run().info.run_id == run.info.run_id
        mlt.log_param("lr", 0.01)
        mlt.log_params({"depth": 4, "model": "rf"})
        mlt.log_param("lr", 0.01)  # same value again is fine
        for step in range(10):
            mlt.log_metric("loss", 1 / (step + 1), step=step)
        mlt.log_metrics({"acc": 0.9, "f1": 0.8}, step=3)
        mlt.set_tags({"stage": "dev", "owner": "ana"})
        mlt.delete_tag("owner")
    assert mlt.active_run() is None
    got = mlt.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.end_time >= got.info.start_time
    assert got.info.run_name == "first"
    assert got.data.params == {"lr": "0.01", "depth": "4", "model": "rf"}
    assert got.data.metrics == {"loss": 0.1, "acc": 0.9, "f1": 0.8}
    assert got.data.tags["team"] == "vision"
    assert got.data.tags["stage"] == "dev"
    assert "owner" not in got.data.tags
    assert got.data.tags["mlflow.runName"] == "first"
    assert got.data.tags["mlflow.note.content"] == "why"
    assert got.data.tags["mlflow.source.type"] in ("LOCAL", "NOTEBOOK")
    assert got.info.artifact_uri.startswith("file://")


def test_latest_metric_is_highest_step_not_last_logged(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_metric("m", 5.0, step=10)
        mlt.log_metric("m", 1.0, step=2)  # logged later, but an earlier step
        mlt.flush()
        mlt.log_metric("m", 7.0, step=3)  # another flush: still not the highest step
    assert mlt.get_run(run.info.run_id).data.metrics["m"] == 5.0


def test_nan_and_infinity_round_trip(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_metric("nan", float("nan"))
        mlt.log_metric("pinf", float("inf"), step=0)
        mlt.log_metric("ninf", -math.inf, step=1)
        mlt.log_metric("np", np.float32(0.5))
        mlt.log_metric("int", 3)
    data = mlt.get_run(run.info.run_id).data.metrics
    assert math.isnan(data["nan"])
    assert data["pinf"] == math.inf and data["ninf"] == -math.inf
    assert data["np"] == 0.5 and data["int"] == 3.0
    hist = mlt.get_metric_history(run.info.run_id, "nan")
    assert len(hist) == 1 and math.isnan(hist[0].value)


def test_metric_history_order_and_values(store: Path) -> None:
    with mlt.start_run() as run:
        for step in reversed(range(100)):
            mlt.log_metric("x", step * 2.0, step=step, timestamp=1_000 + step)
    hist = mlt.get_metric_history(run.info.run_id, "x")
    assert len(hist) == 100
    assert hist.steps.tolist() == list(range(100))
    assert hist.values.tolist() == [s * 2.0 for s in range(100)]
    points = list(hist)
    assert points[5] == Metric("x", 10.0, 1_005, 5)
    frame = hist.to_pandas()
    assert list(frame.columns) == ["step", "value", "timestamp"]


def test_log_metric_series(store: Path) -> None:
    values = np.linspace(0, 1, 1000)
    with mlt.start_run() as run:
        mlt.log_metric_series("curve", values)
        mlt.log_metric_series("sparse", [1, 2, 3], steps=[10, 20, 30], timestamps=[5, 6, 7])
    hist = mlt.get_metric_history(run.info.run_id, "curve")
    assert np.array_equal(hist.values, values)
    assert hist.steps.tolist() == list(range(1000))
    sparse = list(mlt.get_metric_history(run.info.run_id, "sparse"))
    assert sparse == [
        Metric("sparse", 1.0, 5, 10),
        Metric("sparse", 2.0, 6, 20),
        Metric("sparse", 3.0, 7, 30),
    ]
    assert mlt.get_run(run.info.run_id).data.metrics["curve"] == 1.0


def test_nested_runs_and_resume(store: Path) -> None:
    with mlt.start_run(run_name="parent") as parent:
        with mlt.start_run(run_name="child", nested=True) as child:
            mlt.log_metric("c", 1)
        with pytest.raises(MltrackError, match="already active"):
            mlt.start_run()
    got = mlt.get_run(child.info.run_id)
    assert got.info.parent_run_id == parent.info.run_id
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    # resume the finished parent, log more, end again
    with mlt.start_run(run_id=parent.info.run_id):
        mlt.log_metric("later", 2)
    resumed = mlt.get_run(parent.info.run_id)
    assert resumed.data.metrics["later"] == 2 and resumed.info.status == "FINISHED"
    df = mlt.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert df["run_id"].tolist() == [child.info.run_id]


def test_failed_and_killed_status_from_context_manager(store: Path) -> None:
    with pytest.raises(ZeroDivisionError), mlt.start_run() as failed:
        1 / 0  # noqa: B018
    with pytest.raises(KeyboardInterrupt), mlt.start_run() as killed:
        raise KeyboardInterrupt
    assert mlt.get_run(failed.info.run_id).info.status == "FAILED"
    assert mlt.get_run(killed.info.run_id).info.status == "KILLED"


def test_logging_without_active_run_starts_one(store: Path) -> None:
    mlt.log_metric("auto", 1.0)
    run = mlt.active_run()
    assert run is not None
    mlt.end_run()
    assert mlt.get_run(run.info.run_id).data.metrics == {"auto": 1.0}


def test_artifacts_of_every_kind(store: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from PIL import Image

    src = tmp_path / "model.txt"
    src.write_text("weights")
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    (folder / "sub" / "b.txt").write_text("b")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with mlt.start_run() as run:
        mlt.log_artifact(src)
        mlt.log_artifact(src, "models")
        mlt.log_artifacts(folder, "out")
        mlt.log_text("hello", "notes/readme.md")
        mlt.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        mlt.log_dict({"a": 1}, "config.yaml")
        mlt.log_figure(fig, "plots/mpl.png")
        mlt.log_figure(go.Figure(go.Scatter(y=[1, 3, 2])), "plots/plotly.html")
        mlt.log_image(np.zeros((8, 8, 3), dtype=np.uint8), "images/black.png")
        mlt.log_image(np.random.rand(4, 4), "images/gray.png")
        mlt.log_image(Image.new("RGB", (3, 3), "red"), "images/red.jpg")
        mlt.log_table(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), "tables/t.json")
        mlt.log_table({"x": [1, 2]}, "tables/t.csv")
    plt.close(fig)
    run_id = run.info.run_id
    top = {a.path: a for a in mlt.list_artifacts(run_id)}
    assert set(top) == {
        "config.json",
        "config.yaml",
        "images",
        "model.txt",
        "models",
        "notes",
        "out",
        "plots",
        "tables",
    }
    assert top["images"].is_dir and top["model.txt"].file_size == len("weights")
    nested = [a.path for a in mlt.list_artifacts(run_id, "out")]
    assert nested == ["out/sub", "out/a.txt"]
    client = mlt.client()
    local = Path(client.download_artifacts(run_id, "config.json", str(tmp_path / "dl")))
    assert json.loads(local.read_text()) == {"a": 1, "b": [1, 2]}
    img = Image.open(client.download_artifacts(run_id, "images/black.png", str(tmp_path / "i")))
    assert img.size == (8, 8)
    assert (
        Path(client.download_artifacts(run_id, "plots/mpl.png", str(tmp_path / "p"))).read_bytes()[
            :4
        ]
        == b"\x89PNG"
    )
    table = json.loads(
        Path(client.download_artifacts(run_id, "tables/t.json", str(tmp_path / "t"))).read_text()
    )
    assert table["columns"] == ["x", "y"] and table["data"] == [[1, "a"], [2, "b"]]
    folder_copy = Path(client.download_artifacts(run_id, "out", str(tmp_path / "o")))
    assert (folder_copy / "sub" / "b.txt").read_text() == "b"


def test_log_input_datasets(store: Path) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    ds = mlt.data.from_pandas(df, name="train", source="s3://bucket/train.csv")
    with mlt.start_run() as run:
        mlt.log_input(ds, context="training", tags={"split": "train"})
    assert mlt.data.from_pandas(df, name="train").digest == ds.digest
    got = mlt.get_run(run.info.run_id)
    assert len(got.inputs) == 1
    inp = got.inputs[0]
    assert (inp.dataset.name, inp.dataset.digest, inp.context) == ("train", ds.digest, "training")
    assert inp.dataset.source == "s3://bucket/train.csv"
    assert json.loads(inp.dataset.schema)["columns"][0] == {"name": "a", "type": "int64"}
    assert inp.tags["split"] == "train"
    found = mlt.search_runs(
        filter_string="datasets.name = 'train' and datasets.context = 'training'"
    )
    assert found["run_id"].tolist() == [run.info.run_id]


def test_search_runs_dataframe_columns_and_filters(store: Path) -> None:
    exp = mlt.set_experiment("search")
    ids = {}
    for i, model in enumerate(["rf", "svm", "rf", "knn"]):
        time.sleep(0.002)  # start times are milliseconds: "newest first" needs them distinct
        with mlt.start_run(run_name=f"r{i}") as run:
            mlt.log_params({"model": model, "i": i})
            mlt.log_metric("acc", 0.5 + i / 10)
            mlt.set_tag("x.y", "alpha" if i % 2 == 0 else "beta")
        ids[i] = run.info.run_id
    df = mlt.search_runs(experiment_ids=[exp.experiment_id])
    for column in (
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
        "metrics.acc",
        "params.model",
        "params.i",
        "tags.x.y",
        "tags.mlflow.runName",
    ):
        assert column in df.columns
    assert df["run_id"].tolist() == [ids[3], ids[2], ids[1], ids[0]]  # newest first
    assert str(df["start_time"].dtype).startswith("datetime64")
    got = mlt.search_runs(
        filter_string="metrics.acc > 0.55 and params.model = 'rf' and tags.\"x.y\" LIKE 'al%'"
    )
    assert got["run_id"].tolist() == [ids[2]]
    got = mlt.search_runs(
        filter_string="params.model = 'svm' OR (params.model = 'knn')", order_by=["metrics.acc ASC"]
    )
    assert got["run_id"].tolist() == [ids[1], ids[3]]
    got = mlt.search_runs(order_by=["metrics.acc DESC"], max_results=2)
    assert got["run_id"].tolist() == [ids[3], ids[2]]
    as_list = mlt.search_runs(filter_string="params.i IN ('0', '1')", output_format="list")
    assert {r.info.run_id for r in as_list} == {ids[0], ids[1]}
    assert mlt.search_runs(filter_string="metrics.acc > 100").empty


def test_client_paging(store: Path) -> None:
    client = MltrackClient(store)
    exp_id = client.create_experiment("paging")
    made = []
    for i in range(7):
        run = client.create_run(exp_id, run_name=f"p{i}", start_time=1_000 + i)
        client.log_metric(run.info.run_id, "v", i)
        client.set_terminated(run.info.run_id)
        made.append(run.info.run_id)
    seen, token = [], None
    while True:
        page = client.search_runs([exp_id], "", max_results=3, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert seen == list(reversed(made))
    with pytest.raises(MltrackError, match="page token"):
        client.search_runs([exp_id], page_token="not-a-token")


def test_client_log_batch_and_explicit_ids(store: Path) -> None:
    client = MltrackClient(store)
    run = client.create_run("0")
    rid = run.info.run_id
    client.log_batch(
        rid,
        metrics=[Metric("a", 1.0, 10, 0), Metric("a", 2.0, 11, 1)],
        params=[Param("p", "1")],
        tags=[RunTag("t", "v")],
    )
    client.set_terminated(rid, "KILLED")
    got = client.get_run(rid)
    assert got.info.status == "KILLED"
    assert got.data.metrics == {"a": 2.0} and got.data.params == {"p": "1"}
    assert got.data.tags["t"] == "v"


def test_delete_restore_and_view_types(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_metric("m", 1)
    mlt.delete_run(run.info.run_id)
    assert mlt.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert mlt.search_runs().empty
    deleted = mlt.search_runs(run_view_type="DELETED_ONLY")
    assert deleted["run_id"].tolist() == [run.info.run_id]
    mlt.restore_run(run.info.run_id)
    assert mlt.search_runs()["run_id"].tolist() == [run.info.run_id]


def test_experiments_search_rename_delete(store: Path) -> None:
    client = MltrackClient(store)
    a = client.create_experiment("alpha", tags={"team": "x"})
    b = client.create_experiment("beta")
    names = [e.name for e in mlt.search_experiments(filter_string="name LIKE '%a'")]
    assert set(names) == {"alpha", "beta"}
    assert [e.name for e in mlt.search_experiments(filter_string="tags.team = 'x'")] == ["alpha"]
    client.rename_experiment(b, "gamma")
    assert client.get_experiment(b).name == "gamma"
    client.delete_experiment(a)
    assert "alpha" not in [e.name for e in mlt.search_experiments()]
    client.restore_experiment(a)
    assert client.get_experiment(a).lifecycle_stage == "active"
    with pytest.raises(MltrackError, match="already exists"):
        client.create_experiment("gamma")
    with pytest.raises(MltrackError, match="cannot be deleted"):
        client.delete_experiment("0")


def test_reads_see_buffered_writes_immediately(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_metric("m", 1.5)
        # no flush: get_run flushes first, so a process always reads what it wrote
        assert mlt.get_run(run.info.run_id).data.metrics == {"m": 1.5}


def test_background_flusher_writes_without_explicit_flush(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mltrack.store.duckdb.store import DuckDBStore

    with mlt.start_run() as run:
        mlt.log_metric("m", 1.0)
        reader = DuckDBStore(store)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # read through a second store object: the buffer is not flushed by this read
            with reader.connector.connect() as con:
                n = con.execute(
                    "SELECT count(*) FROM metrics WHERE run_id = ?", [run.info.run_id]
                ).fetchone()[0]
            reader.close()
            if n:
                break
            time.sleep(0.05)
        assert n == 1


def test_gc_removes_deleted_runs_and_artifacts(store: Path) -> None:
    from jupyter_mltrack.cli import main

    with mlt.start_run() as keep:
        mlt.log_text("keep", "k.txt")
    with mlt.start_run() as doomed:
        mlt.log_metric("m", 1)
        mlt.log_text("x" * 1000, "big.txt")
    folder = Path(mlt.get_run(doomed.info.run_id).info.artifact_uri.removeprefix("file://"))
    assert folder.is_dir()
    mlt.delete_run(doomed.info.run_id)
    result = mlt.client()._session.store.gc()
    assert result["runs_removed"] == [doomed.info.run_id]
    assert result["bytes_freed"] >= 1000
    assert not folder.parent.exists()
    with pytest.raises(MltrackError, match="no run"):
        mlt.get_run(doomed.info.run_id)
    assert mlt.get_run(keep.info.run_id).info.status == "FINISHED"
    assert main(["--store", str(store), "gc"]) == 0
