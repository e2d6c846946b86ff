"""The stock MLflow 3.17.2 client against the MLflow REST API of a real server.

Unmodified MLflow code (fluent API and ``MlflowClient``) logs experiments, runs, nested runs,
params, metrics, tags, datasets and artifacts, and searches them with filters; the last test
checks that what MLflow logged is what the store itself holds.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import requests
from test_mlflow_server import (  # noqa: F401 - fixtures
    MlflowServer,
    mlflow_env,
    mlflow_server,
    start_server,
)

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


def test_experiments_round_trip(mlflow_env: MlflowServer) -> None:
    client = MlflowClient()
    default = client.get_experiment("0")
    assert default.name == "Default"
    exp_id = client.create_experiment("exp-a", tags={"team": "cv", "owner": "ada"})
    exp = client.get_experiment(exp_id)
    assert exp.name == "exp-a" and exp.tags == {"team": "cv", "owner": "ada"}
    assert exp.artifact_location.startswith("mlflow-artifacts:/")
    assert client.get_experiment_by_name("exp-a").experiment_id == exp_id
    assert client.get_experiment_by_name("no such experiment") is None

    client.set_experiment_tag(exp_id, "stage", "dev")
    client.delete_experiment_tag(exp_id, "owner")
    assert client.get_experiment(exp_id).tags == {"team": "cv", "stage": "dev"}

    client.rename_experiment(exp_id, "exp-a2")
    assert client.get_experiment(exp_id).name == "exp-a2"
    with pytest.raises(MlflowException) as err:
        client.create_experiment("exp-a2")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    found = client.search_experiments(filter_string="tags.team = 'cv'")
    assert [e.experiment_id for e in found] == [exp_id]
    client.delete_experiment(exp_id)
    assert exp_id not in [e.experiment_id for e in client.search_experiments()]
    deleted = client.search_experiments(view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"

    # paging: the client follows next_page_token
    for i in range(5):
        client.create_experiment(f"paged-{i}")
    page = client.search_experiments(max_results=2, filter_string="name LIKE 'paged-%'")
    assert len(page) == 2 and page.token
    rest = client.search_experiments(
        max_results=10, filter_string="name LIKE 'paged-%'", page_token=page.token
    )
    assert len(rest) == 3 and not rest.token
    assert {e.name for e in [*page, *rest]} == {f"paged-{i}" for i in range(5)}


def test_fluent_runs_params_metrics_tags(mlflow_env: MlflowServer) -> None:
    mlflow.set_experiment("fluent")
    with mlflow.start_run(run_name="parent", description="the parent") as parent:
        mlflow.log_param("model", "cnn")
        mlflow.log_params({"lr": 0.01, "layers": 3})
        mlflow.log_metric("loss", 1.0, step=0)
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.log_metrics({"acc": 0.9, "nan_metric": math.nan, "inf_metric": math.inf})
        mlflow.set_tag("team", "cv")
        mlflow.set_tags({"a": "1", "b": "2"})
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("acc", 0.7)
    client = MlflowClient()
    run = client.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.info.run_name == "parent"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert run.data.params == {"model": "cnn", "lr": "0.01", "layers": "3"}
    assert run.data.metrics["loss"] == 0.5 and run.data.metrics["acc"] == 0.9
    assert math.isnan(run.data.metrics["nan_metric"])
    assert run.data.metrics["inf_metric"] == math.inf
    assert run.data.tags["team"] == "cv" and run.data.tags["b"] == "2"
    assert run.data.tags["mlflow.note.content"] == "the parent"
    assert run.data.tags["mlflow.runName"] == "parent"

    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5)]

    child_run = client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    children = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'", output_format="list"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]

    # params keep their value: a change is refused with MLflow's code
    with pytest.raises(MlflowException) as err:
        client.log_param(parent.info.run_id, "model", "rnn")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    # MLflow lets clients keep logging to a finished run
    client.log_metric(parent.info.run_id, "late", 3.0)
    assert client.get_run(parent.info.run_id).data.metrics["late"] == 3.0

    client.delete_tag(parent.info.run_id, "a")
    assert "a" not in client.get_run(parent.info.run_id).data.tags
    client.set_terminated(child.info.run_id, status="KILLED")
    assert client.get_run(child.info.run_id).info.status == "KILLED"
    client.update_run(child.info.run_id, name="renamed-child")
    assert client.get_run(child.info.run_id).info.run_name == "renamed-child"


def test_search_runs_with_filters_order_and_paging(mlflow_env: MlflowServer) -> None:
    exp_id = mlflow.create_experiment("search")
    client = MlflowClient()
    for i in range(12):
        with mlflow.start_run(experiment_id=exp_id, run_name=f"r{i:02d}"):
            mlflow.log_metric("acc", i / 10)
            mlflow.log_param("model", "cnn" if i % 2 else "rnn")
            mlflow.set_tag("parity", "odd" if i % 2 else "even")

    frame = mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string="metrics.acc > 0.45 AND params.model = 'cnn'",
        order_by=["metrics.acc DESC"],
    )
    assert list(frame["tags.mlflow.runName"]) == ["r11", "r09", "r07", "r05"]
    assert list(frame["metrics.acc"]) == pytest.approx([1.1, 0.9, 0.7, 0.5])

    runs = client.search_runs(
        [exp_id], "tags.parity = 'even' and attributes.run_name LIKE 'r0%'",
        order_by=["attributes.run_name ASC"],
    )  # fmt: skip
    assert [r.info.run_name for r in runs] == ["r00", "r02", "r04", "r06", "r08"]

    page = client.search_runs([exp_id], max_results=5, order_by=["metrics.acc ASC"])
    assert len(page) == 5 and page.token
    names = [r.info.run_name for r in page]
    while page.token:
        page = client.search_runs(
            [exp_id], max_results=5, order_by=["metrics.acc ASC"], page_token=page.token
        )
        names += [r.info.run_name for r in page]
    assert names == [f"r{i:02d}" for i in range(12)]

    with pytest.raises(MlflowException) as err:
        client.search_runs([exp_id], "metrics.acc >> 1")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    client.delete_run(runs[0].info.run_id)
    assert len(client.search_runs([exp_id])) == 11
    deleted = client.search_runs([exp_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [runs[0].info.run_id]
    client.restore_run(runs[0].info.run_id)
    assert len(client.search_runs([exp_id])) == 12


def test_metric_history_pages_through_large_histories(mlflow_env: MlflowServer) -> None:
    # 30,000 points: the client asks for 25,000 a page, so it must follow a page token
    client = MlflowClient()
    run = client.create_run("0")
    now = 1_700_000_000_000
    metrics = [mlflow.entities.Metric("x", float(i), now + i, i) for i in range(30_000)]
    for start in range(0, len(metrics), 1000):
        client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000])
    history = client.get_metric_history(run.info.run_id, "x")
    assert len(history) == 30_000
    assert [m.step for m in history] == list(range(30_000))
    assert history[-1].value == 29_999.0 and history[-1].timestamp == now + 29_999


def test_dataset_inputs(mlflow_env: MlflowServer) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="toy", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training", tags={"split": "train"})
    fetched = MlflowClient().get_run(run.info.run_id)
    (item,) = fetched.inputs.dataset_inputs
    assert item.dataset.name == "toy" and item.dataset.digest == dataset.digest
    assert item.dataset.source_type == "code" or item.dataset.source_type
    tags = {t.key: t.value for t in item.tags}
    assert tags["mlflow.data.context"] == "training" and tags["split"] == "train"
    found = mlflow.search_runs(
        filter_string="dataset.context = 'training' AND dataset.name = 'toy'",
        output_format="list",
        search_all_experiments=True,
    )
    assert [r.info.run_id for r in found] == [run.info.run_id]


def test_artifacts_round_trip(mlflow_env: MlflowServer, tmp_path: Path) -> None:
    local = tmp_path / "notes.txt"
    local.write_text("hello artifacts")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(local))
        mlflow.log_artifact(str(local), artifact_path="docs")
        mlflow.log_artifacts(str(folder), artifact_path="data")
        mlflow.log_text("some text", "texts/t.txt")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
        mlflow.log_text("unicode", "odd names/naïve 'q' #1 ü.txt")
    client = MlflowClient()
    run_id = run.info.run_id
    root = {f.path: f for f in client.list_artifacts(run_id)}
    assert set(root) == {"notes.txt", "docs", "data", "texts", "config.json", "odd names"}
    assert root["docs"].is_dir and not root["notes.txt"].is_dir
    assert root["notes.txt"].file_size == len("hello artifacts")
    data = {f.path for f in client.list_artifacts(run_id, "data")}
    assert data == {"data/a.csv", "data/sub"}
    assert client.list_artifacts(run_id, "data/a.csv") == []

    assert mlflow.artifacts.load_text(f"runs:/{run_id}/texts/t.txt") == "some text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"k": [1, 2]}
    odd = f"runs:/{run_id}/odd names/naïve 'q' #1 ü.txt"
    assert mlflow.artifacts.load_text(odd) == "unicode"
    out = Path(client.download_artifacts(run_id, "data", str(tmp_path / "dl")))
    assert (out / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 40
    assert (out / "a.csv").read_text() == "x,y\n1,2\n"

    # the files live under the store's artifact root, in the run's folder
    uri = client.get_run(run_id).info.artifact_uri
    on_disk = mlflow_env.store_dir / "artifacts" / uri.removeprefix("mlflow-artifacts:/")
    assert (on_disk / "docs" / "notes.txt").read_text() == "hello artifacts"


def test_store_holds_what_mlflow_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the MLflow client logs is the data our own store and client read back."""
    from jupyter_mltrack.store.duckdb.store import DuckDBStore

    server = start_server(tmp_path / "store", tmp_path / "server")
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", server.token)
        monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mlflow.set_tracking_uri(server.url)
        exp_id = mlflow.create_experiment("same-data", tags={"k": "v"})
        with mlflow.start_run(experiment_id=exp_id, run_name="logged") as run:
            mlflow.log_params({"p": "1"})
            for step in range(5):
                mlflow.log_metric("m", step * 2.0, step=step)
            mlflow.set_tag("t", "x")
            mlflow.log_text("body", "out/file.txt")
        # the native API (what the lab extension shows) sees the same run
        native = requests.get(
            f"{server.url}/api/runs/{run.info.run_id}", headers=server.headers, timeout=60
        )
        assert native.status_code == 200, native.text
        shown = native.json()["run"]
        assert shown["info"]["run_name"] == "logged" and shown["info"]["status"] == "FINISHED"
        assert shown["data"]["params"] == {"p": "1"}
        assert shown["data"]["metrics"] == {"m": 8.0}
        assert shown["data"]["tags"]["t"] == "x"
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        server.stop()

    store = DuckDBStore(tmp_path / "store")
    try:
        ours = store.get_run(run.info.run_id)
        assert ours.info.run_name == "logged" and ours.info.status == "FINISHED"
        assert ours.info.experiment_id == exp_id
        assert store.get_experiment(exp_id).tags == {"k": "v"}
        assert ours.data.params == {"p": "1"}
        assert ours.data.metrics == {"m": 8.0}
        assert ours.data.tags["t"] == "x"
        assert ours.data.tags["mlflow.source.type"] == "LOCAL"
        history = store.get_metric_history(run.info.run_id, "m")
        assert history.steps.tolist() == [0, 1, 2, 3, 4]
        assert history.values.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
        listed = store.list_artifacts(run.info.run_id, "out")
        assert [(a.path, a.file_size) for a in listed] == [("out/file.txt", 4)]
        assert store.artifact_file(run.info.run_id, "out/file.txt").read_text() == "body"
        assert store.info()["counts"]["artifacts"] == 1  # the upload was indexed
    finally:
        store.close()
