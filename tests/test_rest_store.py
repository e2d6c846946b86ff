"""One store contract, two implementations: the embedded DuckDB store and the REST client.

Every test here runs twice, on a :class:`DuckDBStore` in a temporary folder and on a
:class:`RestStore` talking to a real tracking server (a subprocess), and asserts the same
results and the same error codes. Tests make their own experiments, so the server's store can
be shared by the module.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from jupyter_mltrack.entities import Cell, RunStatus
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.store import open_store
from jupyter_mltrack.store.batch import (
    ArtifactRow,
    InputRow,
    MetricRow,
    MetricSeriesRow,
    ParamRow,
    RunUpdateRow,
    TagRow,
    WriteBatch,
)
from jupyter_mltrack.store.contract import AbstractStore
from jupyter_mltrack.store.discovery import find_server
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.rest.store import RestStore

if TYPE_CHECKING:
    from conftest import TrackingServer


def _name(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _now() -> int:
    return int(time.time() * 1000)


def _run(store: AbstractStore, experiment_id: str, **tags: str) -> str:
    run = store.create_run(experiment_id, None, "tester", _now(), dict(tags))
    return run.info.run_id


def _code(fn: object, *args: object, **kwargs: object) -> ErrorCode:
    with pytest.raises(MltrackError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value.code


# experiments ---------------------------------------------------------------------------------


def test_experiment_lifecycle_and_tags(store: AbstractStore) -> None:
    name = _name()
    exp_id = store.create_experiment(name, tags={"team": "a"})
    exp = store.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage, exp.tags) == (name, "active", {"team": "a"})
    assert store.get_experiment_by_name(name).experiment_id == exp_id  # type: ignore[union-attr]
    assert store.get_experiment_by_name(_name("missing")) is None

    store.rename_experiment(exp_id, name + "-renamed")
    store.set_experiment_tag(exp_id, "stage", "dev")
    store.delete_experiment_tag(exp_id, "team")
    exp = store.get_experiment(exp_id)
    assert exp.name == name + "-renamed" and exp.tags == {"stage": "dev"}

    store.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted, _ = store.search_experiments("DELETED_ONLY", f"name = '{name}-renamed'")
    assert [e.experiment_id for e in deleted] == [exp_id]
    store.restore_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "active"


def test_experiment_errors_have_the_same_codes(store: AbstractStore) -> None:
    name = _name()
    store.create_experiment(name)
    assert _code(store.create_experiment, name) == ErrorCode.RESOURCE_ALREADY_EXISTS
    assert _code(store.create_experiment, "") == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.get_experiment, "987654") == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert _code(store.get_experiment, "abc") == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.rename_experiment, "987654", "x") == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert _code(store.search_experiments, "SOMETIMES") == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.search_experiments, max_results=0) == ErrorCode.INVALID_PARAMETER_VALUE


def test_experiment_search_filters_orders_and_pages(store: AbstractStore) -> None:
    prefix = _name("page")
    ids = [store.create_experiment(f"{prefix}-{i}") for i in range(5)]
    found, token = store.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"], max_results=2
    )
    names = [e.name for e in found]
    while token:
        more, token = store.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name DESC"],
            max_results=2,
            page_token=token,
        )
        names += [e.name for e in more]
    assert names == [f"{prefix}-{i}" for i in reversed(range(5))]
    assert len(ids) == 5
    code = _code(store.search_experiments, filter_string="name = 'x' OR 1=1; DROP TABLE runs")
    assert code == ErrorCode.INVALID_PARAMETER_VALUE


# runs ----------------------------------------------------------------------------------------


def test_run_create_get_update_delete_restore(store: AbstractStore) -> None:
    exp_id = store.create_experiment(_name())
    parent = store.create_run(exp_id, "parent", "tester", _now(), {"mlflow.runName": "parent"})
    child = store.create_run(
        exp_id, "child", "tester", _now(), {"k": "v"}, parent_run_id=parent.info.run_id
    )
    got = store.get_run(child.info.run_id)
    assert got.info.parent_run_id == parent.info.run_id
    assert got.info.status == RunStatus.RUNNING and got.data.tags["k"] == "v"
    assert got.info.experiment_id == exp_id and got.info.run_name == "child"

    ended = store.update_run(child.info.run_id, RunStatus.FINISHED, _now(), "renamed")
    assert (ended.info.status, ended.info.run_name) == (RunStatus.FINISHED, "renamed")
    assert ended.info.end_time is not None
    store.delete_run(child.info.run_id)
    assert store.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
    store.restore_run(child.info.run_id)
    assert store.get_run(child.info.run_id).info.lifecycle_stage == "active"


def test_run_errors_have_the_same_codes(store: AbstractStore) -> None:
    exp_id = store.create_experiment(_name())
    run_id = _run(store, exp_id)
    assert _code(store.get_run, "no-such-run") == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert _code(store.update_run, run_id, "SLEEPING") == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.delete_run, "no-such-run") == ErrorCode.RESOURCE_DOES_NOT_EXIST
    # a parent this store does not have (yet) is kept as given, as MLflow does
    orphan = store.create_run(exp_id, None, None, _now(), {}, "no-such-parent")
    assert store.get_run(orphan.info.run_id).info.parent_run_id == "no-such-parent"
    taken = _code(store.create_run, exp_id, None, None, _now(), {}, None, orphan.info.run_id)
    assert taken == ErrorCode.RESOURCE_ALREADY_EXISTS
    code = _code(store.create_run, "987654", None, None, _now(), {})
    assert code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert _code(store.get_metric_history, "no-such-run", "m") == ErrorCode.RESOURCE_DOES_NOT_EXIST


# the write batch -----------------------------------------------------------------------------


def test_batch_round_trip_keeps_nan_and_infinities(store: AbstractStore) -> None:
    exp_id = store.create_experiment(_name())
    run_id = _run(store, exp_id)
    now = _now()
    dataset = InputRow(
        run_id, exp_id, "digits", "abc123", "local", "sklearn", None, None, "training",
        '{"mlflow.data.context": "training"}', None,
    )  # fmt: skip
    batch = WriteBatch(
        metrics=[
            MetricRow(run_id, "loss", math.nan, 0, now, "cell-a"),
            MetricRow(run_id, "loss", 0.5, 1, now + 1, "cell-a"),
            MetricRow(run_id, "big", math.inf, 0, now, None),
            MetricRow(run_id, "small", -math.inf, 0, now, None),
        ],
        metric_series=[
            MetricSeriesRow(
                run_id, "acc", "cell-b", np.array([0.1, np.nan, 0.9]), np.arange(3), np.full(3, now)
            )
        ],
        params=[ParamRow(run_id, "lr", "0.01", "cell-a")],
        tags=[
            TagRow(run_id, "t", "1", None),
            TagRow(run_id, "t", None, None),
            TagRow(run_id, "u", "2", None),
        ],
        cells=[Cell(run_id, 1, "cell-a", 3, "x = 1", now, 1.5, "ok")],
        inputs=[dataset],
    )
    assert store.write_batch(batch) == []
    run = store.get_run(run_id)
    assert run.data.metrics["loss"] == 0.5
    assert math.isinf(run.data.metrics["big"]) and run.data.metrics["big"] > 0
    assert math.isinf(run.data.metrics["small"]) and run.data.metrics["small"] < 0
    assert run.data.metrics["acc"] == pytest.approx(0.9)
    assert run.data.params == {"lr": "0.01"}
    assert run.data.tags.get("u") == "2" and "t" not in run.data.tags  # set then deleted
    assert [(i.dataset.name, i.dataset.digest, i.context) for i in run.inputs] == [
        ("digits", "abc123", "training")
    ]
    loss = store.get_metric_history(run_id, "loss")
    assert math.isnan(loss.values[0]) and loss.values[1] == 0.5
    assert list(loss.steps) == [0, 1] and list(loss.timestamps) == [now, now + 1]
    acc = store.get_metric_history(run_id, "acc")
    assert len(acc) == 3 and math.isnan(acc.values[1])
    assert len(store.get_metric_history(run_id, "never-logged")) == 0
    cells = store.get_cells(run_id)
    assert [(c.seq, c.cell_id, c.source, c.duration_ms) for c in cells] == [
        (1, "cell-a", "x = 1", 1.5)
    ]


def test_run_updates_in_a_batch_end_the_run(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    end = _now()
    store.write_batch(WriteBatch(run_updates=[RunUpdateRow(run_id, RunStatus.FAILED, end)]))
    info = store.get_run(run_id).info
    assert (info.status, info.end_time) == (RunStatus.FAILED, end)


def test_params_are_immutable_and_a_refused_batch_writes_nothing(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    store.write_batch(WriteBatch(params=[ParamRow(run_id, "lr", "0.1", None)]))
    store.write_batch(WriteBatch(params=[ParamRow(run_id, "lr", "0.1", None)]))  # same value: no-op
    refused = WriteBatch(
        params=[ParamRow(run_id, "lr", "0.2", None)],
        metrics=[MetricRow(run_id, "m", 1.0, 0, _now(), None)],
    )
    assert _code(store.write_batch, refused) == ErrorCode.INVALID_PARAMETER_VALUE
    run = store.get_run(run_id)
    assert run.data.params == {"lr": "0.1"} and "m" not in run.data.metrics

    lenient = WriteBatch(
        params=[ParamRow(run_id, "lr", "0.2", None)],
        metrics=[MetricRow(run_id, "m", 1.0, 0, _now(), None)],
    )
    warnings = store.write_batch(lenient, skip_invalid=True)
    assert len(warnings) == 1 and "lr" in warnings[0]
    run = store.get_run(run_id)
    assert run.data.params == {"lr": "0.1"} and run.data.metrics == {"m": 1.0}


def test_batches_for_missing_or_deleted_runs(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    missing = WriteBatch(metrics=[MetricRow("no-such-run", "m", 1.0, 0, _now(), None)])
    assert _code(store.write_batch, missing) == ErrorCode.RESOURCE_DOES_NOT_EXIST
    store.delete_run(run_id)
    deleted = WriteBatch(metrics=[MetricRow(run_id, "m", 1.0, 0, _now(), None)])
    assert _code(store.write_batch, deleted) == ErrorCode.INVALID_STATE
    warnings = store.write_batch(
        WriteBatch(metrics=[MetricRow(run_id, "m", 1.0, 0, _now(), None)]), skip_invalid=True
    )
    assert len(warnings) == 1 and run_id in warnings[0]
    assert store.write_batch(WriteBatch()) == []


# search --------------------------------------------------------------------------------------


def _populate(store: AbstractStore) -> tuple[str, list[str]]:
    exp_id = store.create_experiment(_name())
    ids = []
    for i in range(6):
        run_id = _run(store, exp_id)
        store.write_batch(
            WriteBatch(
                metrics=[MetricRow(run_id, "acc", i / 10, 0, _now(), None)],
                params=[ParamRow(run_id, "model", "a" if i % 2 else "b", None)],
                tags=[TagRow(run_id, "i", str(i), None)],
            )
        )
        ids.append(run_id)
    return exp_id, ids


def test_search_runs_filters_orders_and_pages(store: AbstractStore) -> None:
    exp_id, ids = _populate(store)
    wanted = "metrics.acc >= 0.1 AND params.model = 'a'"
    page, token = store.search_runs([exp_id], wanted, order_by=["metrics.acc DESC"], max_results=2)
    seen = [r.info.run_id for r in page]
    while token:
        page, token = store.search_runs(
            [exp_id], wanted, order_by=["metrics.acc DESC"], max_results=2, page_token=token
        )
        seen += [r.info.run_id for r in page]
    assert seen == [ids[5], ids[3], ids[1]]
    either, _ = store.search_runs([exp_id], "tags.i = '0' OR tags.i = '4'")
    assert {r.info.run_id for r in either} == {ids[0], ids[4]}
    assert store.search_runs([], None) == ([], None)


def test_search_refuses_bad_filters_and_changes_nothing(store: AbstractStore) -> None:
    exp_id, ids = _populate(store)
    for bad in (
        "params.model = 'a' OR 1=1; DROP TABLE runs",
        "params.model = 'a'; DELETE FROM runs --",
        "metrics.acc > 'x'",
        "nonsense",
    ):
        assert _code(store.search_runs, [exp_id], bad) == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.search_runs, ["x1"], None) == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.search_runs, [exp_id], None, "NEVER") == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.search_runs, [exp_id], None, page_token="%%%") == (
        ErrorCode.INVALID_PARAMETER_VALUE
    )
    assert len(store.search_runs([exp_id])[0]) == len(ids)


def test_search_runs_frame(store: AbstractStore) -> None:
    exp_id, ids = _populate(store)
    frame = store.search_runs_frame([exp_id], "params.model = 'a'", order_by=["metrics.acc ASC"])
    assert list(frame["run_id"]) == [ids[1], ids[3], ids[5]]
    assert list(frame["metrics.acc"]) == pytest.approx([0.1, 0.3, 0.5])
    assert list(frame["params.model"]) == ["a", "a", "a"]
    assert list(frame.columns[:8]) == [
        "run_id", "experiment_id", "run_name", "status", "artifact_uri", "start_time",
        "end_time", "parent_run_id",
    ]  # fmt: skip
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert list(frame["experiment_id"]) == [exp_id] * 3


# artifacts and cells -------------------------------------------------------------------------


def test_artifacts_save_list_download(store: AbstractStore, tmp_path: Path) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    assert store.save_artifact_bytes(run_id, "notes/a.txt", b"hello") == (
        "notes/a.txt", 5, "text/plain"
    )  # fmt: skip
    local = tmp_path / "local"
    (local / "sub").mkdir(parents=True)
    (local / "x.json").write_text('{"a": 1}')
    (local / "sub" / "y.csv").write_text("a,b\n1,2\n")
    written = store.save_artifact_files(run_id, local, "data")
    assert sorted(w[0] for w in written) == ["data/sub/y.csv", "data/x.json"]
    single = tmp_path / "model.bin"
    single.write_bytes(bytes(range(256)) * 40)
    assert store.save_artifact_files(run_id, single, None)[0][:2] == ("model.bin", 10240)

    root = store.list_artifacts(run_id)
    assert [(e.path, e.is_dir) for e in root] == [
        ("data", True), ("notes", True), ("model.bin", False)
    ]  # fmt: skip
    assert [e.path for e in store.list_artifacts(run_id, "data")] == ["data/sub", "data/x.json"]
    assert store.artifact_file(run_id, "model.bin").read_bytes() == single.read_bytes()
    folder = store.artifact_file(run_id, "data")
    assert folder.is_dir() and folder.name == "data"
    assert (folder / "sub" / "y.csv").read_text() == "a,b\n1,2\n"


def test_artifact_paths_are_checked(store: AbstractStore, tmp_path: Path) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b", "C:/x"):
        assert _code(store.save_artifact_bytes, run_id, bad, b"x") == (
            ErrorCode.INVALID_PARAMETER_VALUE
        )
        assert _code(store.artifact_file, run_id, bad) == ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.artifact_file, run_id, "missing.txt") == ErrorCode.RESOURCE_DOES_NOT_EXIST
    missing_local = tmp_path / "nope.txt"
    assert _code(store.save_artifact_files, run_id, missing_local, None) == (
        ErrorCode.RESOURCE_DOES_NOT_EXIST
    )
    assert _code(store.save_artifact_bytes, "no-such-run", "a.txt", b"x") == (
        ErrorCode.RESOURCE_DOES_NOT_EXIST
    )
    assert store.list_artifacts(run_id) == []


def test_cells_in_order(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    now = _now()
    cells = [Cell(run_id, seq, f"c{seq}", seq, f"print({seq})", now + seq, 2.0, "ok")
             for seq in (2, 1, 3)]  # fmt: skip
    cells.append(Cell(run_id, 4, "c4", 4, "1/0", now + 4, 0.5, "error", "ZeroDivisionError",
                      "division by zero"))  # fmt: skip
    store.write_batch(WriteBatch(cells=cells))
    got = store.get_cells(run_id)
    assert [c.seq for c in got] == [1, 2, 3, 4]
    assert (got[3].outcome, got[3].error_type) == ("error", "ZeroDivisionError")


# which cell logged what ----------------------------------------------------------------------


def test_logged_items_and_the_cell_of_each(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    now = _now()
    path, size, media = store.save_artifact_bytes(run_id, "report.txt", b"done")
    store.write_batch(
        WriteBatch(
            params=[ParamRow(run_id, "lr", "0.1", "prep")],
            metrics=[
                MetricRow(run_id, "loss", 0.5, 0, now + 11, "fit"),
                MetricRow(run_id, "loss", 0.4, 1, now + 12, "fit"),
                MetricRow(run_id, "loss", 0.3, 2, now + 31, "fit"),
                MetricRow(run_id, "loss", 0.2, 3, now + 41, "eval"),
            ],
            artifacts=[ArtifactRow(run_id, path, size, media, "eval", now + 42)],
            tags=[TagRow(run_id, "free", "x", None)],
            cells=[
                Cell(run_id, 0, "prep", 1, "lr = 0.1", now, 1.0, "ok"),
                Cell(run_id, 1, "fit", 2, "fit()", now + 10, 1.0, "ok"),
                Cell(run_id, 2, "fit", 3, "fit()", now + 30, 1.0, "ok"),  # run again
                Cell(run_id, 3, "eval", 4, "evaluate()", now + 40, 1.0, "ok"),
            ],
        )
    )
    items = store.get_logged_items(run_id)
    assert ("param", "lr", "prep", "0.1", None, None, 1) in items
    assert ("tag", "free", None, "x", None, None, 1) in items
    assert ("artifact", "report.txt", "eval", "text/plain", None, None, 1) in items
    metrics = [i for i in items if i[0] == "metric"]
    assert [(i[2], i[4], i[5], i[6]) for i in metrics] == [("fit", 0, 2, 3), ("eval", 3, 3, 1)]
    assert float(metrics[0][3]) == 0.3 and float(metrics[1][3]) == 0.2
    assert [i[:3] for i in store.get_logged_items(run_id, "eval")] == [
        ("artifact", "report.txt", "eval"), ("metric", "loss", "eval")
    ]  # fmt: skip
    assert store.get_logged_items(run_id, "never-ran") == []

    found, cell = store.get_item_cell(run_id, "param", "lr")
    assert found and cell is not None and (cell.cell_id, cell.source) == ("prep", "lr = 0.1")
    _, first_fit = store.get_item_cell(run_id, "metric", "loss", step=1)
    assert first_fit is not None and (first_fit.cell_id, first_fit.seq) == ("fit", 1)
    _, second_fit = store.get_item_cell(run_id, "metric", "loss", step=2)
    assert second_fit is not None and (second_fit.cell_id, second_fit.seq) == ("fit", 2)
    _, latest = store.get_item_cell(run_id, "metric", "loss")
    assert latest is not None and latest.cell_id == "eval"
    _, artifact = store.get_item_cell(run_id, "artifact", "report.txt")
    assert artifact is not None and artifact.duration_ms == 1.0 and artifact.outcome == "ok"
    assert store.get_item_cell(run_id, "tag", "free") == (True, None)  # logged outside a cell
    assert store.get_item_cell(run_id, "param", "missing") == (False, None)
    assert store.get_item_cell(run_id, "metric", "loss", step=99) == (False, None)


def test_item_lineage_errors_have_the_same_codes(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    store.write_batch(WriteBatch(params=[ParamRow(run_id, "a", "1", None)]))
    missing = "0" * 32
    assert _code(store.get_logged_items, missing) == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert _code(store.get_item_cell, missing, "param", "a") == ErrorCode.RESOURCE_DOES_NOT_EXIST
    invalid = ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.get_logged_items, run_id, "") == invalid
    assert _code(store.get_item_cell, run_id, "metrics", "a") == invalid
    assert _code(store.get_item_cell, run_id, "param", "") == invalid
    assert _code(store.get_item_cell, run_id, "param", "a", 1) == invalid  # steps: metrics only
    assert _code(store.get_item_cell, run_id, "metric", "a", "1") == invalid
    assert _code(store.get_item_cell, run_id, "metric", "a", True) == invalid


def test_item_lineage_routes_refuse_bad_query_arguments(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    rest = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    run_id = _run(rest, rest.create_experiment(_name()))
    rest.write_batch(WriteBatch(params=[ParamRow(run_id, "a", "1", None)]))
    rest.close()
    bad = {
        "items": [{"cell_id": ""}],
        "item-cell": [
            {"key": "a"},  # no kind
            {"kind": "param"},  # no key
            {"kind": "params", "key": "a"},
            {"kind": "metric", "key": "a", "step": "one"},
            {"kind": "param", "key": "a", "step": "1"},
        ],
    }
    for route, cases in bad.items():
        for params in cases:
            answer = tracking_server.api("GET", f"/runs/{run_id}/{route}", params=params)
            assert answer.status_code == 400, (route, params, answer.text)
            body = answer.json()
            assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    for route, params in (("items", {}), ("item-cell", {"kind": "param", "key": "a"})):
        answer = tracking_server.api("GET", f"/runs/{'0' * 32}/{route}", params=params)
        assert answer.status_code == 404 and answer.json()["error_code"] == (
            "RESOURCE_DOES_NOT_EXIST"
        )


@pytest.fixture(params=["embedded", "rest"])
def client_store(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    tracking_server: TrackingServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Path]:
    """A store directory the tracking client reaches embedded, or through the tracking server."""
    monkeypatch.setenv("MLTRACK_GIT_LINEAGE", "0")  # no diff artifacts among the items
    for name in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    if request.param == "rest":
        yield tracking_server.store_dir  # its server.json sends clients to the server
        return
    yield tmp_path / "embedded"
    from jupyter_mltrack.tracking.session import get_session

    get_session(tmp_path / "embedded").store.close()  # type: ignore[attr-defined]


def test_lineage_queries_answer_through_either_store(client_store: Path) -> None:
    from jupyter_mltrack.tracking import context, lineage
    from jupyter_mltrack.tracking.client import MltrackClient

    client = MltrackClient(client_store)
    backend = client._session.store
    expected = RestStore if client_store.name != "embedded" else DuckDBStore
    assert isinstance(backend, expected)
    run_id = client.create_run(client.create_experiment(_name())).info.run_id

    def cell(seq: int, cell_id: str, source: str) -> None:
        # what the magics do when a cell starts: items logged from now on carry its id
        context.current.cell_id = cell_id
        client._session.buffer.add_cells(
            [Cell(run_id, seq, cell_id, seq + 1, source, _now(), 1.0, "ok")]
        )

    try:
        cell(0, "prep", "log_param")
        client.log_param(run_id, "lr", 0.1)
        cell(1, "fit", "log_metric")
        for step in range(3):
            client.log_metric(run_id, "loss", 1.0 / (step + 1), step=step)
        cell(2, "report", "log_text")
        client.log_text(run_id, "done", "notes/report.txt")
    finally:
        context.current.cell_id = None

    # no explicit flush: the lineage functions read what this process logged, too
    kinds = {(i.kind, i.key, i.cell_id) for i in lineage.logged_items(run_id, store=client_store)}
    assert {
        ("param", "lr", "prep"),
        ("metric", "loss", "fit"),
        ("artifact", "notes/report.txt", "report"),
    } <= kinds
    (fit,) = lineage.logged_items(run_id, cell_id="fit", store=client_store)
    assert (fit.kind, fit.first_step, fit.last_step, fit.points) == ("metric", 0, 2, 3)
    prep = lineage.cell_of(run_id, "param", "lr", store=client_store)
    assert prep is not None and (prep.cell_id, prep.source) == ("prep", "log_param")
    at_step = lineage.cell_of(run_id, "metric", "loss", step=1, store=client_store)
    assert at_step is not None and at_step.cell_id == "fit"
    report = lineage.cell_of(run_id, "artifact", "notes/report.txt", store=client_store)
    assert report is not None and report.seq == 2
    assert lineage.cell_of(run_id, "tag", "mlflow.runName", store=client_store) is None

    with pytest.raises(MltrackError) as missing:
        lineage.cell_of(run_id, "param", "nope", store=client_store)
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    with pytest.raises(MltrackError) as no_run:
        lineage.logged_items("0" * 32, store=client_store)
    assert no_run.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    with pytest.raises(MltrackError) as bad_kind:
        lineage.cell_of(run_id, "metrics", "loss", store=client_store)
    assert bad_kind.value.code == ErrorCode.INVALID_PARAMETER_VALUE


def test_info_and_gc(store: AbstractStore) -> None:
    run_id = _run(store, store.create_experiment(_name()))
    store.save_artifact_bytes(run_id, "a.txt", b"abc")
    info = store.info()
    assert info["counts"]["runs"] >= 1 and "schema_version" in info
    store.delete_run(run_id)
    result = store.gc(0)
    assert run_id in result["runs_removed"]
    assert _code(store.get_run, run_id) == ErrorCode.RESOURCE_DOES_NOT_EXIST


# choosing the store --------------------------------------------------------------------------


def test_open_store_picks_the_server_of_this_store(
    tracking_server: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    monkeypatch.delenv("MLTRACK_SERVER_TOKEN", raising=False)
    # server.json in the server's store directory names it
    chosen = open_store(tracking_server.store_dir)
    assert isinstance(chosen, RestStore) and chosen.url == tracking_server.url
    assert chosen.get_experiment("0").name == "Default"
    # another directory has no server: embedded
    other = open_store(tmp_path / "other")
    assert isinstance(other, DuckDBStore)
    other.close()
    # the environment a server gives its kernels names the server of $MLTRACK_STORE only
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "kernel-store"))
    monkeypatch.setenv("MLTRACK_SERVER_URL", tracking_server.url)
    monkeypatch.setenv("MLTRACK_SERVER_TOKEN", tracking_server.token)
    via_env = find_server(tmp_path / "kernel-store")
    assert via_env is not None and via_env.url == tracking_server.url
    assert find_server(tmp_path / "unrelated") is None


def test_an_unreachable_or_refusing_server_is_store_unavailable(
    tracking_server: TrackingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import free_port

    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    with pytest.raises(MltrackError) as info:
        RestStore(tmp_path / "nobody-serves-this")
    assert info.value.code == ErrorCode.STORE_UNAVAILABLE
    # nothing listens: the flusher must see STORE_UNAVAILABLE and spool
    down = RestStore(tmp_path / "client", f"http://127.0.0.1:{free_port()}/mltrack", "t")
    batch = WriteBatch(metrics=[MetricRow("r", "m", 1.0, 0, _now(), None)])
    assert _code(down.write_batch, batch) == ErrorCode.STORE_UNAVAILABLE
    assert _code(down.get_run, "r") == ErrorCode.STORE_UNAVAILABLE
    # a wrong token: the data is fine, the server refuses us; keep it in the spool too
    refused = RestStore(tmp_path / "client", tracking_server.url, "not-the-token")
    with pytest.raises(MltrackError) as info:
        refused.get_experiment("0")
    assert info.value.code == ErrorCode.STORE_UNAVAILABLE and "refused" in info.value.message


def test_a_run_frame_page_starts_at_its_offset(store: AbstractStore) -> None:
    exp_id = store.create_experiment(_name())
    ids = [store.create_run(exp_id, f"r{i}", None, 1_000 + i, {}).info.run_id for i in range(7)]
    newest_first = ids[::-1]
    whole = store.search_runs_frame([exp_id])
    assert whole["run_id"].tolist() == newest_first
    page = store.search_runs_frame([exp_id], max_results=3, offset=2)
    assert page["run_id"].tolist() == newest_first[2:5]
    assert store.search_runs_frame([exp_id], offset=7).empty
    assert _code(store.search_runs_frame, [exp_id], offset=-1) == ErrorCode.INVALID_PARAMETER_VALUE
