"""The native REST API over HTTP, against a real tracking server: answers, status codes, and
bad input (malformed JSON, wrong types, unknown ids, injected filters) that gets a 4xx with a
clear message and changes nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:
    from conftest import TrackingServer


def _name(prefix: str = "api") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: requests.Response, status: int, code: str, fragment: str = "") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    assert fragment in body["message"], body
    return str(body["message"])


def _experiment(server: TrackingServer) -> str:
    data = _ok(server.api("POST", "/experiments", json={"name": _name()}), 201)
    return str(data["experiment"]["experiment_id"])


def _run(server: TrackingServer, experiment_id: str, **body: Any) -> str:
    answer = server.api("POST", "/runs", json={"experiment_id": experiment_id, **body})
    return str(_ok(answer, 201)["run"]["info"]["run_id"])


def _batch(server: TrackingServer, batch: dict[str, Any], skip_invalid: bool = False) -> Any:
    params = {"skip_invalid": "true"} if skip_invalid else {}
    return server.api("POST", "/batches", data=json.dumps(batch), params=params)


# experiments ---------------------------------------------------------------------------------


def test_experiment_routes(tracking_server: TrackingServer) -> None:
    server = tracking_server
    name = _name()
    created = _ok(server.api("POST", "/experiments", json={"name": name, "tags": {"a": "1"}}), 201)
    exp_id = created["experiment"]["experiment_id"]
    assert created["experiment"]["tags"] == [{"key": "a", "value": "1"}]
    assert _ok(server.api("GET", f"/experiments/{exp_id}"))["experiment"]["name"] == name
    by_name = _ok(server.api("GET", "/experiment-by-name", params={"name": name}))
    assert by_name["experiment"]["experiment_id"] == exp_id
    patched = _ok(
        server.api(
            "PATCH",
            f"/experiments/{exp_id}",
            json={"name": name + "2", "tags": {"a": None, "b": "2"}},
        )
    )
    assert patched["experiment"]["name"] == name + "2"
    assert patched["experiment"]["tags"] == [{"key": "b", "value": "2"}]
    listed = _ok(server.api("GET", "/experiments", params={"filter": f"name = '{name}2'"}))
    assert [e["experiment_id"] for e in listed["experiments"]] == [exp_id]
    deleted = _ok(server.api("DELETE", f"/experiments/{exp_id}"))
    assert deleted["experiment"]["lifecycle_stage"] == "deleted"
    restored = _ok(server.api("POST", f"/experiments/{exp_id}/restore"))
    assert restored["experiment"]["lifecycle_stage"] == "active"


def test_experiment_bad_input(tracking_server: TrackingServer) -> None:
    server = tracking_server
    name = _name()
    _ok(server.api("POST", "/experiments", json={"name": name}), 201)
    _error(server.api("POST", "/experiments", json={"name": name}), 400, "RESOURCE_ALREADY_EXISTS")
    _error(server.api("POST", "/experiments", json={"name": 12}), 400,
           "INVALID_PARAMETER_VALUE", "must be a string")  # fmt: skip
    _error(server.api("POST", "/experiments", data="{not json"), 400,
           "INVALID_PARAMETER_VALUE", "not valid JSON")  # fmt: skip
    _error(server.api("POST", "/experiments", data="[1, 2]"), 400,
           "INVALID_PARAMETER_VALUE", "JSON object")  # fmt: skip
    _error(server.api("POST", "/experiments", json={"name": _name(), "colour": "red"}), 400,
           "INVALID_PARAMETER_VALUE", "unknown field(s) in request: colour")  # fmt: skip
    _error(server.api("POST", "/experiments", json={"name": _name(), "tags": {"k": 1}}), 400,
           "INVALID_PARAMETER_VALUE", "tag 'k' value must be a string")  # fmt: skip
    _error(server.api("GET", "/experiments/987654"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(server.api("GET", "/experiments/abc"), 400, "INVALID_PARAMETER_VALUE")
    _error(server.api("GET", "/experiment-by-name", params={"name": _name()}), 404,
           "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    _error(server.api("GET", "/experiment-by-name"), 400, "INVALID_PARAMETER_VALUE", "required")
    _error(server.api("GET", "/experiments", params={"max_results": "lots"}), 400,
           "INVALID_PARAMETER_VALUE", "max_results must be an integer")  # fmt: skip
    _error(server.api("GET", "/experiments", params={"view_type": "SOME"}), 400,
           "INVALID_PARAMETER_VALUE", "view_type must be one of")  # fmt: skip
    # nothing of the refused requests was created
    names = [e["name"] for e in _ok(server.api("GET", "/experiments"))["experiments"]]
    assert not any(str(n).startswith("12") for n in names)


# runs ----------------------------------------------------------------------------------------


def test_runs_table_pages_sorts_filters_and_picks_columns(tracking_server: TrackingServer) -> None:
    server = tracking_server
    exp_id = _experiment(server)
    ids = []
    for i in range(12):
        run_id = _run(server, exp_id, run_name=f"r{i}")
        batch = {
            "metrics": [[run_id, "acc", i / 100, 0, 1, None], [run_id, "loss", 1.0, 0, 1, None]],
            "params": [[run_id, "model", "b" if i % 3 == 0 else "a", None]],
            "tags": [[run_id, "team", "x", None]],
        }
        batch["params"].append([run_id, "seed", str(i), None])
        _ok(_batch(server, batch))
        ids.append(run_id)
    query = {
        "experiment_id": exp_id,
        "filter": "params.model = 'a'",
        "order_by": "metrics.acc DESC",
        "max_results": "3",
        "metric": "acc",
        "param": "model,seed",
    }
    page = _ok(server.api("GET", "/runs", params=query))
    assert page["total"] == 8 and len(page["runs"]) == 3
    first = page["runs"][0]
    assert first["run_id"] == ids[11] and first["run_name"] == "r11"
    assert first["metrics"] == {"acc": 0.11} and first["params"] == {"model": "a", "seed": "11"}
    assert first["tags"] == {} and first["status"] == "RUNNING"
    seen = [r["run_id"] for r in page["runs"]]
    while page["next_page_token"]:
        page = _ok(
            server.api("GET", "/runs", params={**query, "page_token": page["next_page_token"]})
        )
        seen += [r["run_id"] for r in page["runs"]]
    assert seen == [ids[i] for i in (11, 10, 8, 7, 5, 4, 2, 1)]
    columns = _ok(server.api("GET", "/run-columns", params={"experiment_id": exp_id}))
    assert columns == {"metrics": ["acc", "loss"], "params": ["model", "seed"],
                       "tags": ["mlflow.runName", "team"]}  # fmt: skip


def test_run_detail_patch_cells_lineage(tracking_server: TrackingServer) -> None:
    server = tracking_server
    exp_id = _experiment(server)
    parent = _run(server, exp_id, run_name="parent")
    child = _run(server, exp_id, run_name="child", parent_run_id=parent, tags={"k": "v"})
    detail = _ok(server.api("GET", f"/runs/{child}"))["run"]
    assert detail["info"]["parent_run_id"] == parent and detail["data"]["tags"] == {
        "k": "v", "mlflow.runName": "child"
    }  # fmt: skip
    patched = _ok(server.api("PATCH", f"/runs/{child}", json={
        "run_name": "renamed", "status": "FINISHED", "end_time": 123, "tags": {"k": None, "n": "1"},
    }))["run"]  # fmt: skip
    assert patched["info"]["run_name"] == "renamed" and patched["info"]["status"] == "FINISHED"
    assert patched["info"]["end_time"] == 123
    assert patched["data"]["tags"] == {"n": "1", "mlflow.runName": "renamed"}
    cell = {"run_id": child, "seq": 1, "cell_id": "c1", "execution_count": 1, "source": "x = 1",
            "start_time": 5, "duration_ms": 2.5, "outcome": "ok", "error_type": None,
            "error_message": None}  # fmt: skip
    _ok(_batch(server, {"cells": [cell]}))
    assert _ok(server.api("GET", f"/runs/{child}/cells"))["cells"] == [cell]
    lineage = _ok(server.api("GET", f"/runs/{parent}/lineage"))
    assert [c["run_id"] for c in lineage["children"]] == [child] and lineage["ancestors"] == []
    assert (
        _ok(server.api("DELETE", f"/runs/{child}"))["run"]["info"]["lifecycle_stage"] == "deleted"
    )
    assert _ok(server.api("POST", f"/runs/{child}/restore"))["run"]["info"]["lifecycle_stage"] == (
        "active"
    )


def test_run_bad_input_changes_nothing(tracking_server: TrackingServer) -> None:
    server = tracking_server
    exp_id = _experiment(server)
    run_id = _run(server, exp_id)
    _error(server.api("GET", "/runs/no-such-run"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(server.api("PATCH", "/runs/no-such-run", json={"run_name": "x"}), 404,
           "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    _error(server.api("PATCH", f"/runs/{run_id}", json={"status": "SLEEPING"}), 400,
           "INVALID_PARAMETER_VALUE", "status")  # fmt: skip
    _error(server.api("PATCH", f"/runs/{run_id}", json={"end_time": "later"}), 400,
           "INVALID_PARAMETER_VALUE", "end_time must be an integer")  # fmt: skip
    _error(server.api("POST", "/runs", json={"experiment_id": exp_id, "run_id": "../../etc"}),
           400, "INVALID_PARAMETER_VALUE", "run_id must be")  # fmt: skip
    _error(server.api("POST", "/runs", json={"experiment_id": "987654"}), 404,
           "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    _error(server.api("POST", "/runs", json={"experiment_id": exp_id, "start_time": -5}), 400,
           "INVALID_PARAMETER_VALUE", "must not be negative")  # fmt: skip
    # batches: wrong types, unknown runs, changed params
    _error(_batch(server, {"metrics": [[run_id, "m", "high", 0, 1, None]]}), 400,
           "INVALID_PARAMETER_VALUE", "metrics[0] value must be a number")  # fmt: skip
    _error(_batch(server, {"metrics": [["no-such-run", "m", 1.0, 0, 1, None]]}), 404,
           "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    _error(server.api("POST", "/batches", data=b"\xff\xfe"), 400, "INVALID_PARAMETER_VALUE")
    _error(server.api("POST", "/batches", params={"skip_invalid": "perhaps"}, json={}), 400,
           "INVALID_PARAMETER_VALUE", "skip_invalid")  # fmt: skip
    _ok(_batch(server, {"params": [[run_id, "lr", "0.1", None]]}))
    _error(_batch(server, {"params": [[run_id, "lr", "0.2", None]],
                           "metrics": [[run_id, "m", 1.0, 0, 1, None]]}),
           400, "INVALID_PARAMETER_VALUE", "immutable")  # fmt: skip
    warnings = _ok(_batch(server, {"params": [[run_id, "lr", "0.2", None]]}, skip_invalid=True))
    assert len(warnings["warnings"]) == 1
    run = _ok(server.api("GET", f"/runs/{run_id}"))["run"]
    assert run["data"]["params"] == {"lr": "0.1"} and run["data"]["metrics"] == {}
    assert run["info"]["status"] == "RUNNING"


@pytest.mark.parametrize(
    "bad_filter",
    [
        "params.model = 'a' OR 1=1; DROP TABLE runs",
        "params.model = 'a'); DELETE FROM runs; --",
        "metrics.acc > 0 UNION SELECT * FROM params",
        "attributes.run_id = '' OR ''=''",
        "tags.`x` = 1 OR (SELECT 1)",
    ],
)
def test_injected_filters_are_refused(tracking_server: TrackingServer, bad_filter: str) -> None:
    server = tracking_server
    exp_id = _experiment(server)
    run_id = _run(server, exp_id)
    for route in ("/runs", "/run-search", "/run-frame"):
        answer = server.api("GET", route, params={"experiment_id": exp_id, "filter": bad_filter})
        _error(answer, 400, "INVALID_PARAMETER_VALUE")
    found = _ok(server.api("GET", "/run-search", params={"experiment_id": exp_id}))
    assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]


# metrics -------------------------------------------------------------------------------------


def test_metric_histories_downsample_keeping_extremes(tracking_server: TrackingServer) -> None:
    server = tracking_server
    exp_id = _experiment(server)
    runs = [_run(server, exp_id) for _ in range(2)]
    n = 5000
    for offset, run_id in enumerate(runs):
        values = [((i * 7919) % 1000) / 1000 + offset for i in range(n)]
        values[1234] = 99.0
        values[4321] = -99.0
        _ok(_batch(server, {"metric_series": [
            [run_id, "loss", None, values, list(range(n)), [1000 + i for i in range(n)]]
        ]}))  # fmt: skip
    query = {"run_id": runs, "key": "loss", "points": 50, "x": "relative"}
    answer = _ok(server.api("GET", "/metric-histories", params=query))
    assert answer["x"] == "relative" and answer["points"] == 50
    assert [s["run_id"] for s in answer["series"]] == runs
    for series in answer["series"]:
        assert series["downsampled"] and series["total_points"] == n
        assert len(series["value"]) <= 50
        assert max(series["value"]) == 99.0 and min(series["value"]) == -99.0
        assert series["step"][0] == 0 and series["step"][-1] == n - 1
    full = _ok(server.api("GET", f"/runs/{runs[0]}/metric-history", params={"key": "loss"}))
    assert len(full["value"]) == n and full["step"][:3] == [0, 1, 2]
    arrow = server.api("GET", f"/runs/{runs[0]}/metric-history",
                       params={"key": "loss", "format": "arrow"})  # fmt: skip
    assert arrow.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    import pyarrow as pa

    assert pa.ipc.open_stream(arrow.content).read_all().num_rows == n
    bad = {"run_id": runs[0], "key": "loss"}
    _error(server.api("GET", "/metric-histories", params={**bad, "points": "2"}), 400,
           "INVALID_PARAMETER_VALUE", "points must be at least 4")  # fmt: skip
    _error(server.api("GET", "/metric-histories", params={**bad, "x": "epoch"}), 400,
           "INVALID_PARAMETER_VALUE", "x must be one of")  # fmt: skip
    _error(server.api("GET", "/metric-histories", params={"run_id": "no-such-run", "key": "l"}),
           404, "RESOURCE_DOES_NOT_EXIST")  # fmt: skip
    _error(server.api("GET", f"/runs/{runs[0]}/metric-history"), 400,
           "INVALID_PARAMETER_VALUE", "'key' is required")  # fmt: skip


def test_change_feed(tracking_server: TrackingServer) -> None:
    server = tracking_server
    first = _ok(server.api("GET", "/changes"))
    assert first["reset"] is True and first["runs"] == []
    cursor = first["cursor"]
    exp_id = _experiment(server)
    run_id = _run(server, exp_id)
    _ok(_batch(server, {"metrics": [[run_id, "loss", 0.5, 3, 10, None]]}))
    news = _ok(server.api("GET", "/changes", params={"since": cursor}))
    assert news["reset"] is False
    assert exp_id in [e["experiment_id"] for e in news["experiments"]]
    assert run_id in [r["run_id"] for r in news["runs"]]
    assert {"run_id": run_id, "key": "loss", "value": 0.5, "step": 3, "timestamp": 10} in (
        news["metrics"]
    )
    quiet = _ok(server.api("GET", "/changes", params={"since": news["cursor"]}))
    assert quiet["runs"] == [] and quiet["cursor"] == news["cursor"]

    # a waiting request returns when something is written
    def write_later() -> None:
        time.sleep(0.3)
        _batch(server, {"metrics": [[run_id, "loss", 0.1, 4, 11, None]]})

    writer = threading.Thread(target=write_later)
    writer.start()
    waited = _ok(server.api("GET", "/changes", params={"since": news["cursor"], "wait": "20"}))
    writer.join()
    assert [m["step"] for m in waited["metrics"] if m["run_id"] == run_id] == [4]

    _error(server.api("GET", "/changes", params={"since": "garbage"}), 400,
           "INVALID_PARAMETER_VALUE", "cursor")  # fmt: skip
    assert _ok(server.api("GET", "/changes", params={"since": "0000.1"}))["reset"] is True
    _error(server.api("GET", "/changes", params={"wait": "3600"}), 400, "INVALID_PARAMETER_VALUE")


def test_info_and_gc(tracking_server: TrackingServer) -> None:
    server = tracking_server
    info = _ok(server.api("GET", "/info"))
    assert info["store"] == str(server.store_dir) and info["limits"]["default_points"] == 1000
    run_id = _run(server, _experiment(server))
    _ok(server.api("DELETE", f"/runs/{run_id}"))
    assert run_id in _ok(server.api("POST", "/gc", json={"older_than_ms": 0}))["runs_removed"]
    _error(
        server.api("POST", "/gc", json={"older_than_ms": "soon"}), 400, "INVALID_PARAMETER_VALUE"
    )
