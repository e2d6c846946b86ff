"""Bounds on what one request may cost the server, each checked through a real server.

Filters (length, comparisons, order_by terms) are refused by the parser, so every face says
the same; a search that outlives the query deadline is interrupted; JSON bodies past a route's
limit are refused before they are read; page sizes and metric-history sizes are capped; and
inputs that used to overflow or recurse (huge integers, deep JSON, wide CSV, steps near 2**62)
get a clean answer, never a 5xx.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from jupyter_mltrack.search.filter_parser import (
    MAX_FILTER_CLAUSES,
    MAX_FILTER_LENGTH,
    MAX_ORDER_BY_TERMS,
)

if TYPE_CHECKING:
    from conftest import TrackingServer


def _ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _error(response: requests.Response, status: int, fragment: str = "") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE", body
    assert fragment in body["message"], body
    return str(body["message"])


def _experiment(server: TrackingServer) -> str:
    answer = server.api("POST", "/experiments", json={"name": f"bounds-{uuid.uuid4().hex}"})
    return str(_ok(answer, 201)["experiment"]["experiment_id"])


def _run(server: TrackingServer, experiment_id: str) -> str:
    answer = server.api("POST", "/runs", json={"experiment_id": experiment_id})
    return str(_ok(answer, 201)["run"]["info"]["run_id"])


def _metrics(server: TrackingServer, run_id: str, key: str, points: list[tuple]) -> None:
    rows = [[run_id, key, value, step, ts, None] for step, value, ts in points]
    _ok(server.api("POST", "/batches", data=json.dumps({"metrics": rows})))


def _mlflow(server: TrackingServer, method: str, route: str, **kwargs: Any) -> Any:
    return server.session.request(
        method,
        f"{server.url}/api/2.0/mlflow/{route}",
        headers=server.headers,
        timeout=60,
        **kwargs,
    )


def _clauses(n: int) -> str:
    return " AND ".join(f"metrics.m{i} > {i}" for i in range(n))


# 4. filters ----------------------------------------------------------------------------------


def test_too_many_clauses_are_refused_quickly_on_every_face(
    tracking_server: TrackingServer,
) -> None:
    server = tracking_server
    experiment_id = _experiment(server)
    too_many = _clauses(MAX_FILTER_CLAUSES + 1)
    started = time.monotonic()
    for route in ("/runs", "/run-search", "/run-frame"):
        answer = server.api("GET", route, params={"experiment_id": experiment_id,
                                                  "filter": too_many})  # fmt: skip
        _error(answer, 400, f"at most {MAX_FILTER_CLAUSES} comparisons")
    answer = _mlflow(server, "POST", "runs/search",
                     json={"experiment_ids": [experiment_id], "filter": too_many})  # fmt: skip
    _error(answer, 400, f"at most {MAX_FILTER_CLAUSES} comparisons")
    assert time.monotonic() - started < 5
    # exactly the limit still answers
    found = _ok(server.api("GET", "/run-search", params={
        "experiment_id": experiment_id, "filter": _clauses(MAX_FILTER_CLAUSES)}))  # fmt: skip
    assert found["runs"] == []
    assert not server.server_errors()


def test_long_filters_and_many_order_by_terms_are_refused(tracking_server: TrackingServer) -> None:
    server = tracking_server
    experiment_id = _experiment(server)
    long_filter = "params.p = '" + "x" * MAX_FILTER_LENGTH + "'"
    answer = server.api("GET", "/run-search",
                        params={"experiment_id": experiment_id, "filter": long_filter})  # fmt: skip
    message = _error(answer, 400, f"at most {MAX_FILTER_LENGTH} characters")
    assert len(message) < 500  # the message does not echo the whole filter
    _error(server.api("GET", "/experiments", params={"filter": long_filter}), 400,
           "characters")  # fmt: skip
    order_by = [f"metrics.m{i}" for i in range(MAX_ORDER_BY_TERMS + 1)]
    answer = server.api("GET", "/run-search",
                        params={"experiment_id": experiment_id, "order_by": order_by})  # fmt: skip
    _error(answer, 400, f"at most {MAX_ORDER_BY_TERMS} order_by")
    answer = _mlflow(server, "POST", "runs/search",
                     json={"experiment_ids": [experiment_id], "order_by": order_by})  # fmt: skip
    _error(answer, 400, f"at most {MAX_ORDER_BY_TERMS} order_by")
    ok = server.api("GET", "/run-search", params={
        "experiment_id": experiment_id, "order_by": order_by[:MAX_ORDER_BY_TERMS]})  # fmt: skip
    _ok(ok)
    assert not server.server_errors()


def test_a_search_past_the_deadline_is_interrupted(
    tracking_server_factory: Callable[..., TrackingServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a deadline of 1 ms: any search that reaches the store is stopped
    monkeypatch.setenv("MLTRACK_QUERY_DEADLINE", "0.001")
    server = tracking_server_factory()
    experiment_id = _experiment(server)
    run_id = _run(server, experiment_id)
    _metrics(server, run_id, "m", [(i, float(i), i) for i in range(2000)])
    heavy = " OR ".join(f"metrics.m > {i}" for i in range(MAX_FILTER_CLAUSES))
    answer = server.api("GET", "/run-search",
                        params={"experiment_id": experiment_id, "filter": heavy})  # fmt: skip
    _error(answer, 400, "longer than the server's limit")
    # the store is free again at once: writes and reads outside searches go on
    assert _ok(server.api("GET", f"/runs/{run_id}"))["run"]["info"]["run_id"] == run_id
    assert not server.server_errors()


# 7a. request bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/mltrack/api/experiments",  # native
        "/mltrack/api/registered-models",  # native registry
        "/mltrack/api/2.0/mlflow/runs/log-batch",  # MLflow's face
        "/mltrack/api/2.0/mlflow/registered-models/create",
    ],
)
def test_a_body_past_the_limit_is_refused_before_it_is_read(
    tracking_server: TrackingServer, path: str
) -> None:
    server = tracking_server
    host, port = "127.0.0.1", int(server.url.split(":")[2].split("/")[0])
    declared = 100 * 1024**2  # 100 MiB declared, only a few bytes sent
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nAuthorization: token {server.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{"
            ).encode()
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), reply[:300]
    error = json.loads(body)
    assert error["error_code"] == "INVALID_PARAMETER_VALUE" and "limit" in error["message"]
    # a body within the limit is read as before
    _experiment(server)
    assert not server.server_errors()


def test_a_chunked_body_past_the_limit_is_refused(tracking_server: TrackingServer) -> None:
    server = tracking_server

    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1024**2  # 10 MiB of name, past the 8 MiB limit of the route
        yield b'"}'

    # Tornado stops reading a chunked body at the route's limit and drops the connection
    # (there is no length to refuse up front): the client sees a 4xx or a closed connection.
    try:
        answer = server.api("POST", "/experiments", data=chunks())
    except requests.RequestException:
        pass
    else:
        assert answer.status_code in (400, 413), answer.text
    _experiment(server)  # the server goes on
    assert not server.server_errors()


# 7b, 7c. page and history sizes --------------------------------------------------------------


def test_page_sizes_past_the_limit_are_refused(tracking_server: TrackingServer) -> None:
    server = tracking_server
    experiment_id = _experiment(server)
    # the run frame comes in pages of up to 50,000 runs too (RestStore reads them all)
    for route, limit in (("/experiments", 50_000), ("/run-search", 50_000),
                         ("/run-frame", 50_000)):  # fmt: skip
        params = {"experiment_id": experiment_id, "max_results": limit + 1}
        _error(server.api("GET", route, params=params), 400, "max_results")
        params["max_results"] = limit
        assert server.api("GET", route, params=params).status_code == 200
    assert not server.server_errors()


def test_metric_histories_past_the_point_limit_are_refused(tracking_server: TrackingServer) -> None:
    server = tracking_server
    experiment_id = _experiment(server)
    run_ids = [_run(server, experiment_id) for _ in range(2)]
    keys = [f"k{i}" for i in range(50)]  # 100 series
    params = {"run_id": run_ids, "key": keys, "points": 10_001}  # 1,000,100 points
    _error(server.api("GET", "/metric-histories", params=params), 400, "points")
    params["points"] = 10_000  # 1,000,000 points: answered
    assert _ok(server.api("GET", "/metric-histories", params=params))["points"] == 10_000
    assert not server.server_errors()


# 7d. MLflow's metric history pages -----------------------------------------------------------


def test_mlflow_metric_history_pages_read_only_their_points(
    tracking_server: TrackingServer,
) -> None:
    server = tracking_server
    run_id = _run(server, _experiment(server))
    # equal steps and timestamps: the page order must still be total
    points = [(i // 3, float(i), 1000 + i // 3) for i in range(250)]
    _metrics(server, run_id, "loss", points)
    seen: list[tuple[int, float]] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"run_id": run_id, "metric_key": "loss", "max_results": 40}
        if token:
            params["page_token"] = token
        answer = _ok(_mlflow(server, "GET", "metrics/get-history", params=params))
        pages += 1
        assert len(answer["metrics"]) <= 40
        seen.extend((int(m["step"]), float(m["value"])) for m in answer["metrics"])
        token = answer.get("next_page_token")
        if not token:
            break
    assert pages == 7
    assert sorted(seen) == sorted((s, v) for s, v, _ in points)
    # no max_results: one bounded page (here every point)
    whole = _ok(_mlflow(server, "GET", "metrics/get-history",
                        params={"run_id": run_id, "metric_key": "loss"}))  # fmt: skip
    assert len(whole["metrics"]) == 250 and "next_page_token" not in whole
    _error(_mlflow(server, "GET", "metrics/get-history",
                   params={"run_id": run_id, "metric_key": "loss", "max_results": 0}),
           400, "max_results")  # fmt: skip
    # as in MLflow, a run this store does not have has no points (and no error)
    unknown = _mlflow(server, "GET", "metrics/get-history",
                      params={"run_id": "nope", "metric_key": "loss"})  # fmt: skip
    assert (unknown.status_code, unknown.json()) == (200, {})
    assert not server.server_errors()


# low items -----------------------------------------------------------------------------------


def test_huge_integers_are_refused_not_crashed(tracking_server: TrackingServer) -> None:
    server = tracking_server
    experiment_id = _experiment(server)
    huge = "9" * 5000
    # MLflow's text for a field of the wrong value, the echoed value cut short
    _error(_mlflow(server, "GET", "metrics/get-history",
                   params={"run_id": "r", "metric_key": "m", "max_results": huge}),
           400, "for parameter 'max_results' supplied")  # fmt: skip
    _error(_mlflow(server, "POST", "runs/search",
                   json={"experiment_ids": [experiment_id], "max_results": huge}),
           400, "for parameter 'max_results' supplied")  # fmt: skip
    _error(_mlflow(server, "POST", "runs/search",
                   json={"experiment_ids": [experiment_id], "max_results": 2**64}),
           400, "for parameter 'max_results' supplied")  # fmt: skip
    for route in ("/run-search", "/experiments", "/runs", "/run-frame"):
        answer = server.api("GET", route, params={"experiment_id": experiment_id,
                                                  "max_results": huge})  # fmt: skip
        _error(answer, 400, "max_results")
    run_id = _run(server, experiment_id)
    _error(server.api("GET", "/metric-histories",
                      params={"run_id": run_id, "key": "m", "points": huge}), 400)  # fmt: skip
    assert not server.server_errors()


def test_downsampling_steps_near_the_int64_limit(tracking_server: TrackingServer) -> None:
    server = tracking_server
    experiment_id = _experiment(server)
    run_id = _run(server, experiment_id)
    big = 2**62
    steps = [-big - i for i in range(20)] + [big + i for i in range(20)]
    _metrics(server, run_id, "far", [(s, float(i), 1 + i) for i, s in enumerate(steps)])
    for x in ("step", "wall", "relative"):
        params = {"run_id": run_id, "key": "far", "points": 8, "x": x}
        (series,) = _ok(server.api("GET", "/metric-histories", params=params))["series"]
        assert series["downsampled"] and series["total_points"] == 40
        assert min(steps) in series["step"] and max(steps) in series["step"]
    assert not server.server_errors()


def _put(server: TrackingServer, run_id: str, path: str, data: bytes) -> None:
    answer = server.api("PUT", f"/runs/{run_id}/artifacts/file", params={"path": path}, data=data)
    assert answer.status_code in (200, 201), answer.text


def test_previews_of_deep_json_and_wide_csv(tracking_server: TrackingServer) -> None:
    server = tracking_server
    run_id = _run(server, _experiment(server))
    _put(server, run_id, "deep.json", b"[" * 100_000 + b"]" * 100_000)
    _put(server, run_id, "deep2.json", b"[" * 500 + b"]" * 500)
    _put(server, run_id, "wide.csv", b",".join(b"c%d" % i for i in range(200_000)) + b"\n")
    _put(server, run_id, "long.csv", b"a,b\n" + b"x" * 3_000_000 + b",1\n1,2\n")
    for path in ("deep.json", "deep2.json"):
        preview = _ok(server.api("GET", f"/runs/{run_id}/artifacts/preview",
                                 params={"path": path}))  # fmt: skip
        assert preview["kind"] == "text"
    wide = _ok(server.api("GET", f"/runs/{run_id}/artifacts/preview",
                          params={"path": "wide.csv"}))  # fmt: skip
    assert wide["kind"] == "table" and len(wide["columns"]) <= 300 and wide["columns_truncated"]
    long = _ok(server.api("GET", f"/runs/{run_id}/artifacts/preview",
                          params={"path": "long.csv"}))  # fmt: skip
    assert long["kind"] in ("table", "binary")
    assert len(json.dumps(long)) < 2_000_000
    assert not server.server_errors()


@pytest.mark.parametrize("name", ["MLTRACK_LOCK_TIMEOUT", "MLTRACK_QUERY_DEADLINE"])
@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_non_finite_timeouts_fall_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    """``nan`` compares false with every time, so a wait bounded by it would never end."""
    from jupyter_mltrack.store.duckdb import connection

    monkeypatch.setenv(name, text)
    if name == "MLTRACK_LOCK_TIMEOUT":
        assert connection.Connector(Path("unused.duckdb")).lock_timeout == (
            connection.DEFAULT_LOCK_TIMEOUT_S
        )
    else:
        assert connection.default_query_deadline() == connection.DEFAULT_QUERY_DEADLINE_S


def test_a_batch_larger_than_one_request_goes_in_parts_and_once(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    """A long series is split to fit the server's body limit; each part keeps an id, so the
    whole batch sent again (as the flusher does after an ambiguous failure) stores nothing
    twice; the run is ended only after its last point."""
    import numpy as np

    from jupyter_mltrack.store.batch import MetricSeriesRow, ParamRow, RunUpdateRow, WriteBatch
    from jupyter_mltrack.store.rest.store import RestStore, split_batch

    rest = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    try:
        exp = rest.create_experiment(f"split-{uuid.uuid4().hex[:8]}")
        run_id = rest.create_run(exp, None, "t", 1, {}).info.run_id
        n = 25_000
        batch = WriteBatch(
            params=[ParamRow(run_id, "p", "1", None)],
            metric_series=[
                MetricSeriesRow(run_id, "a", None, np.arange(n, dtype=float), np.arange(n),
                                np.full(n, 5)),
                MetricSeriesRow(run_id, "b", None, np.ones(7), np.arange(7), np.full(7, 5)),
            ],
            run_updates=[RunUpdateRow(run_id, "FINISHED", 10)],
            batch_id=uuid.uuid4().hex,
        )  # fmt: skip
        parts = split_batch(batch, max_points=10_000)
        assert len(parts) == 4 and all(len(p) <= 10_000 for p in parts)
        assert parts[-1].run_updates and not any(p.run_updates for p in parts[:-1])
        assert len({p.batch_id for p in parts}) == 4
        rest.max_points_per_request = 10_000
        rest.write_batch(batch)
        rest.write_batch(batch)  # sent again: every part is already applied
        assert len(rest.get_metric_history(run_id, "a")) == n
        assert len(rest.get_metric_history(run_id, "b")) == 7
        run = rest.get_run(run_id)
        assert run.info.status == "FINISHED" and run.data.params == {"p": "1"}
    finally:
        rest.close()
