"""The store's rules reach both REST faces, on a real server.

- A deleted run is INVALID_STATE (:func:`jupyter_mltrack.store.rules.deleted_run_error`)
  whichever native route writes to it; MLflow's routes refuse the same writes with MLflow's
  code and text (INVALID_PARAMETER_VALUE, "The run … must be in the 'active' state").
- A page size is checked once, by the store: every native search route answers a bad
  ``max_results`` with :func:`jupyter_mltrack.validation.check_max_results`'s message and the
  store's limit; MLflow's run search refuses the same values, in MLflow's words.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from test_mlflow_server import (  # noqa: F401 - fixtures
    MlflowServer,
    mlflow_server,
    start_server,
)

from jupyter_mltrack.server import handlers
from jupyter_mltrack.store import rules


def _error(answer: requests.Response, status: int, code: str, message: str = "") -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code, body
    assert message in body["message"], body


def _deleted_run(server: MlflowServer) -> str:
    answer = server.server.api("POST", "/runs", json={"experiment_id": "0"})
    assert answer.status_code == 201, answer.text
    run_id = answer.json()["run"]["info"]["run_id"]
    assert server.server.api("DELETE", f"/runs/{run_id}").status_code == 200
    return run_id


def test_writing_to_a_deleted_run_is_invalid_state_on_every_route(
    mlflow_server: MlflowServer,
) -> None:
    run_id = _deleted_run(mlflow_server)
    deleted = f"run {run_id!r} is deleted"
    now = int(time.time() * 1000)
    native = mlflow_server.server
    _error(
        native.api("PATCH", f"/runs/{run_id}", json={"tags": {"a": "b"}}),
        400, "INVALID_STATE", deleted,
    )  # fmt: skip
    batch = {"metrics": [[run_id, "m", 1.0, 0, now, None]], "params": [], "tags": []}
    _error(native.api("POST", "/batches", json=batch), 400, "INVALID_STATE", deleted)
    mlflow_calls: list[tuple[str, dict[str, Any]]] = [
        ("runs/log-metric", {"key": "m", "value": 1.0, "timestamp": now, "step": 0}),
        ("runs/log-parameter", {"key": "p", "value": "1"}),
        ("runs/set-tag", {"key": "t", "value": "1"}),
        ("runs/log-batch", {"metrics": [{"key": "m", "value": 1.0, "timestamp": now}]}),
    ]
    not_active = f"The run {run_id} must be in the 'active' state. Current state is deleted."
    for route, body in mlflow_calls:
        answer = mlflow_server.api("POST", route, json={"run_id": run_id, **body})
        _error(answer, 400, "INVALID_PARAMETER_VALUE", not_active)


@pytest.mark.parametrize(
    ("route", "limit"),
    [
        ("/experiments", rules.EXPERIMENTS_MAX_RESULTS),
        ("/run-search", rules.RUNS_MAX_RESULTS),
        # the route caps the frame below the store's limit (one answer, no paging)
        ("/run-frame", handlers.RUN_FRAME_MAX_RESULTS),
    ],
)
def test_native_searches_leave_page_sizes_to_the_store(
    mlflow_server: MlflowServer, route: str, limit: int
) -> None:
    native = mlflow_server.server
    params: dict[str, Any] = {"experiment_id": "0"}
    for bad in ("0", "-3"):
        _error(
            native.api("GET", route, params={**params, "max_results": bad}),
            400, "INVALID_PARAMETER_VALUE", f"max_results must be a positive integer, got {bad}",
        )  # fmt: skip
    _error(
        native.api("GET", route, params={**params, "max_results": str(limit + 1)}),
        400, "INVALID_PARAMETER_VALUE", f"max_results must be at most {limit}, got {limit + 1}",
    )  # fmt: skip
    assert native.api("GET", route, params={**params, "max_results": str(limit)}).ok


def test_mlflow_run_search_leaves_page_sizes_to_the_store(mlflow_server: MlflowServer) -> None:
    limit = rules.RUNS_MAX_RESULTS
    for bad, message in (
        (0, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
        (limit + 1, f"Invalid value {limit + 1} for parameter 'max_results' supplied: "),
    ):
        answer = mlflow_server.api(
            "POST", "runs/search", json={"experiment_ids": ["0"], "max_results": bad}
        )
        _error(answer, 400, "INVALID_PARAMETER_VALUE", message)
    answer = mlflow_server.api(
        "POST", "runs/search", json={"experiment_ids": ["0"], "max_results": limit}
    )
    assert answer.ok, answer.text
