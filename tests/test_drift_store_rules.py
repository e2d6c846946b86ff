"""Rules that used to live in two or three places and drifted: one owner each, now pinned.

Each test here failed before the rules moved into ``store/rules.py`` and the template-method
contract (``store/contract.py``); each runs on the embedded store and through a real server.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from jupyter_mltrack.entities import RunStatus
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.store import rules
from jupyter_mltrack.store.batch import MetricRow, MetricSeriesRow, ParamRow, WriteBatch
from jupyter_mltrack.store.contract import AbstractStore
from jupyter_mltrack.store.rest.store import RestStore, wire_batch
from jupyter_mltrack.tracking.client import MltrackClient

if TYPE_CHECKING:
    from conftest import TrackingServer


def _now() -> int:
    return int(time.time() * 1000)


def _new_run(store: AbstractStore) -> str:
    exp = store.create_experiment(f"drift-{uuid.uuid4().hex[:10]}")
    return store.create_run(exp, None, "tester", _now(), {}).info.run_id


def _error(fn: object, *args: object, **kwargs: object) -> MltrackError:
    with pytest.raises(MltrackError) as info:
        fn(*args, **kwargs)  # type: ignore[operator]
    return info.value


# a deleted run: one code, whichever path finds it ----------------------------------------------


def test_resume_run_leaves_a_deleted_run_as_it_was(tmp_path: Path) -> None:
    client = MltrackClient(tmp_path / "store")
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.set_terminated(run_id, RunStatus.FINISHED)
    client.delete_run(run_id)

    error = _error(client.resume_run, run_id)

    assert error.code == ErrorCode.INVALID_STATE
    run = client.get_run(run_id)
    # before the fix the store had already set the run RUNNING (and cleared its end time)
    assert run.info.status == RunStatus.FINISHED and run.info.end_time is not None
    assert run.info.lifecycle_stage == "deleted"


def test_a_deleted_run_is_invalid_state_on_every_path(store: AbstractStore) -> None:
    run_id = _new_run(store)
    store.delete_run(run_id)
    point = WriteBatch(metrics=[MetricRow(run_id, "m", 1.0, 0, _now(), None)])
    record = {"artifact_path": "m", "flavors": {}, "utc_time_created": "t", "run_id": run_id}

    assert _error(store.write_batch, point).code == ErrorCode.INVALID_STATE
    assert _error(store.append_logged_model_record, run_id, record).code == (
        ErrorCode.INVALID_STATE
    )


def test_the_client_refuses_a_deleted_run_with_the_store_s_code(tmp_path: Path) -> None:
    client = MltrackClient(tmp_path / "store")
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    client.delete_run(run_id)
    for call in (
        lambda: client.log_metric(run_id, "m", 1.0),
        lambda: client.log_param(run_id, "p", 1),
        lambda: client.resume_run(run_id),
    ):
        assert _error(call).code == ErrorCode.INVALID_STATE


# params: one rule, one message ---------------------------------------------------------------


def test_a_changed_param_gets_the_same_message_from_the_client_and_the_store(
    tmp_path: Path, store: AbstractStore
) -> None:
    client = MltrackClient(tmp_path / "client-store")
    client_run = client.create_run(client.create_experiment("e")).info.run_id
    client.log_param(client_run, "lr", 0.1)
    from_client = _error(client.log_param, client_run, "lr", 0.2)

    store_run = _new_run(store)
    store.write_batch(WriteBatch(params=[ParamRow(store_run, "lr", "0.1", None)]))
    from_store = _error(
        store.write_batch, WriteBatch(params=[ParamRow(store_run, "lr", "0.2", None)])
    )

    assert from_client.code == from_store.code == ErrorCode.INVALID_PARAMETER_VALUE
    assert str(from_client) == rules.param_conflict(client_run, "lr", "0.1", "0.2")
    assert str(from_store) == rules.param_conflict(store_run, "lr", "0.1", "0.2")
    assert store.get_run(store_run).data.params == {"lr": "0.1"}


# the template method: checks run once, in the base, for every backend ------------------------


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda s: s.search_runs(["0"], max_results=0), "max_results"),
        (lambda s: s.search_experiments(max_results=10**9), "max_results"),
        (lambda s: s.search_runs(["0"], view_type="SOME"), "view_type"),
        (lambda s: s.get_metric_history("r", "bad\nkey"), "metric key"),
        (lambda s: s.list_artifacts("r", "../up"), "'..'"),
        (lambda s: s.get_logged_items("r", ""), "cell id"),
        (lambda s: s.get_item_cell("r", "colour", "k"), "item kind"),
        (lambda s: s.update_run("r", status="SLEEPING"), "status"),
        (lambda s: s.create_experiment(""), "experiment name"),
        (lambda s: s.gc(-1), "older_than"),
    ],
)
def test_bad_arguments_get_one_message_on_both_backends(
    store: AbstractStore, call: object, fragment: str
) -> None:
    error = _error(call, store)
    assert error.code == ErrorCode.INVALID_PARAMETER_VALUE
    assert fragment in str(error)


# one atomic store method per handler that needed several -------------------------------------


def test_update_experiment_is_all_or_nothing(store: AbstractStore) -> None:
    taken = store.create_experiment(f"taken-{uuid.uuid4().hex[:8]}")
    exp = store.create_experiment(f"mine-{uuid.uuid4().hex[:8]}")
    store.update_experiment(exp, tags={"keep": "1"})

    name_of_taken = store.get_experiment(taken).name
    error = _error(
        store.update_experiment, exp, name=name_of_taken, tags={"new": "x", "keep": None}
    )

    assert error.code == ErrorCode.RESOURCE_ALREADY_EXISTS
    assert store.get_experiment(exp).tags == {"keep": "1"}


def test_update_run_sets_status_name_and_tags_together(store: AbstractStore) -> None:
    run_id = _new_run(store)
    run = store.update_run(
        run_id, status=RunStatus.FINISHED, end_time=_now(), run_name="renamed", tags={"a": "1"}
    )
    assert run.info.status == RunStatus.FINISHED and run.info.run_name == "renamed"
    assert run.data.tags["a"] == "1" and run.data.tags[rules.RUN_NAME_TAG] == "renamed"
    run = store.update_run(run_id, tags={"a": None, rules.RUN_NAME_TAG: "by-tag"})
    assert "a" not in run.data.tags and run.info.run_name == "by-tag"


def test_concurrent_log_model_records_keep_every_entry(tracking_server: TrackingServer) -> None:
    """Two clients append to ``mlflow.log-model.history`` at once through MLflow's route.

    The handler used to read the tag, append and write it back in separate store calls, so of
    two concurrent ``log_model`` calls one entry could be lost.
    """
    exp = tracking_server.api("POST", "/experiments", json={"name": f"lm-{uuid.uuid4().hex}"})
    exp_id = exp.json()["experiment"]["experiment_id"]
    created = tracking_server.api("POST", "/runs", json={"experiment_id": exp_id})
    run_id = created.json()["run"]["info"]["run_id"]
    per_thread, threads = 12, 4
    failures: list[str] = []

    def log_models(worker: int) -> None:
        import requests

        with requests.Session() as session:
            for i in range(per_thread):
                model = {
                    "artifact_path": f"model-{worker}-{i}",
                    "flavors": {"python_function": {}},
                    "utc_time_created": "2026-12-02 00:00:00",
                    "run_id": run_id,
                }
                answer = session.post(
                    f"{tracking_server.url}/api/2.0/mlflow/runs/log-model",
                    json={"run_id": run_id, "model_json": json.dumps(model)},
                    headers=tracking_server.headers,
                    timeout=60,
                )
                if answer.status_code != 200:
                    failures.append(answer.text)

    workers = [threading.Thread(target=log_models, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)

    assert failures == []
    run = tracking_server.api("GET", f"/runs/{run_id}").json()["run"]
    history = json.loads(run["data"]["tags"]["mlflow.log-model.history"])
    assert sorted(m["artifact_path"] for m in history) == sorted(
        f"model-{w}-{i}" for w in range(threads) for i in range(per_thread)
    )


# NaN on the wire: one form, strings, both ways -----------------------------------------------


def test_the_rest_client_sends_non_finite_numbers_as_strings() -> None:
    import numpy as np

    batch = WriteBatch(
        metrics=[
            MetricRow("r", "a", math.nan, 0, 1, None),
            MetricRow("r", "b", math.inf, 0, 1, None),
            MetricRow("r", "c", 0.5, 0, 1, None),
        ],
        metric_series=[
            MetricSeriesRow("r", "s", None, np.array([1.0, -np.inf]), np.arange(2), np.ones(2)),
            MetricSeriesRow("r", "t", None, np.array([1.0, 2.0]), np.arange(2), np.ones(2)),
        ],
    )
    body = wire_batch(batch)

    text = json.dumps(body, allow_nan=False)  # strict JSON: no bare NaN token survives
    assert "NaN" in text
    assert [row[2] for row in body["metrics"]] == ["NaN", "Infinity", 0.5]
    assert body["metric_series"][0][3] == [1.0, "-Infinity"]
    assert body["metric_series"][1][3] == [1.0, 2.0]


def test_non_finite_points_round_trip_through_the_server(
    tmp_path: Path, tracking_server: TrackingServer
) -> None:
    rest = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    try:
        run_id = _new_run(rest)
        rest.write_batch(
            WriteBatch(
                metrics=[
                    MetricRow(run_id, "m", math.nan, 0, _now(), None),
                    MetricRow(run_id, "m", -math.inf, 1, _now(), None),
                ]
            )
        )
        history = rest.get_metric_history(run_id, "m")
        assert math.isnan(history.values[0]) and history.values[1] == -math.inf
        assert rest.get_run(run_id).data.metrics["m"] == -math.inf
    finally:
        rest.close()
