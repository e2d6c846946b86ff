"""Bad input to the MLflow REST API: each gets a 4xx in MLflow's error shape and changes nothing.

Requests are sent raw (``requests`` and ``http.client``) so that malformed bodies and paths reach
the server exactly as written.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from test_mlflow_server import (  # noqa: F401 - fixtures
    UPLOAD_LIMIT,
    MlflowServer,
    mlflow_server,
)


def assert_error(answer: requests.Response, status: int, code: str, *words: str) -> None:
    """A 4xx answer with MLflow's JSON error body naming the problem."""
    assert answer.status_code == status, (answer.status_code, answer.text)
    body = answer.json()
    assert body["error_code"] == code, body
    message = body["message"].lower()
    for word in words:
        assert word.lower() in message, (word, body["message"])


@pytest.fixture(scope="module")
def run_id(mlflow_server: MlflowServer) -> str:
    """A run with one param, one metric point and one tag."""
    answer = mlflow_server.api("POST", "runs/create", json={"experiment_id": "0", "tags": []})
    assert answer.status_code == 200, answer.text
    run_id: str = answer.json()["run"]["info"]["run_id"]
    logged = mlflow_server.api(
        "POST",
        "runs/log-batch",
        json={
            "run_id": run_id,
            "params": [{"key": "model", "value": "cnn"}],
            "metrics": [{"key": "acc", "value": 0.5, "timestamp": 1, "step": 0}],
            "tags": [{"key": "team", "value": "cv"}],
        },
    )
    assert logged.status_code == 200, logged.text
    return run_id


def snapshot(server: MlflowServer, run_id: str) -> Any:
    """Everything a bad request might have changed: the run, its history, all runs, artifacts."""
    run = server.api("GET", "runs/get", params={"run_id": run_id}).json()["run"]
    history = server.api(
        "GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "acc"}
    ).json()
    runs = server.api("POST", "runs/search", json={"experiment_ids": ["0"]}).json()
    experiments = server.api("POST", "experiments/search", json={"view_type": "ALL"}).json()
    files = requests.get(
        f"{server.url}/api/2.0/mlflow-artifacts/artifacts",
        params={"path": ""},
        headers=server.headers,
        timeout=30,
    ).json()
    return run, history, [r["info"]["run_id"] for r in runs["runs"]], experiments, files


BAD_BODIES = [
    # (path, raw body, error words)
    ("runs/create", b"{not json", ("json",)),
    ("runs/create", b"[1, 2]", ("object",)),
    ("runs/create", b"[" * 100_000, ("nested",)),
    ("runs/create", b"\xff\xfe{}", ("json",)),
    # the texts of MLflow's request validation (see test_mlflow_letter.py)
    (
        "runs/create",
        b'{"experiment_id": "0", "start_time": "yesterday"}',
        ("""Invalid value "yesterday" for parameter 'start_time' supplied""",),
    ),
    ("runs/create", b'{"experiment_id": "abc"}', ("Invalid experiment ID 'abc'",)),
    (
        "runs/create",
        b'{"experiment_id": "0", "tags": {"a": "b"}}',
        ("""Invalid value {"a":"b"} for parameter 'tags' supplied""", "type 'dict'"),
    ),
    (
        "runs/create",
        b'{"experiment_id": "0", "tags": [{"key": "bad\\nkey"}]}',
        ("parameter 'tags[0].key'", "Names may only contain"),
    ),
    (
        "experiments/create",
        b'{"name": 42}',
        ("Invalid value 42 for parameter 'name' supplied", "type 'int'"),
    ),
    ("experiments/create", b"{}", ("Missing value for required parameter 'name'",)),
    ("experiments/search", b'{"view_type": "SOME"}', ("parameter 'view_type'",)),
    ("experiments/search", b'{"max_results": "ten"}', ("parameter 'max_results'",)),
    ("experiments/search", b'{"max_results": 0}', ("It must be a positive integer",)),
]


@pytest.mark.parametrize(("path", "body", "words"), BAD_BODIES)
def test_malformed_and_mistyped_bodies(
    mlflow_server: MlflowServer, run_id: str, path: str, body: bytes, words: tuple[str, ...]
) -> None:
    before = snapshot(mlflow_server, run_id)
    answer = mlflow_server.api(
        "POST",
        path,
        data=body,
        headers={**mlflow_server.headers, "Content-Type": "application/json"},
    )
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE", *words)
    assert snapshot(mlflow_server, run_id) == before


BAD_BATCHES = [
    ({"metrics": [{"key": "acc", "value": "high", "timestamp": 2}]}, ("'metrics[0].value'",)),
    (
        {"metrics": [{"key": "acc", "value": 1.0, "timestamp": 2, "step": 1.5}]},
        ("'metrics[0].step'",),
    ),
    (
        {"metrics": [{"key": "acc", "value": 1.0, "timestamp": -5}]},
        ("'metrics[0].timestamp'", "nonnegative"),
    ),
    (
        {"metrics": [{"key": "acc", "value": 1.0}]},
        ("Missing value for required parameter 'metrics[0].timestamp'",),
    ),
    (
        {"metrics": [{"key": "../x", "value": 1.0, "timestamp": 2}]},
        ("'metrics[0].name'", "would resolve to"),
    ),
    (
        {"metrics": [{"value": 1.0, "timestamp": 2}]},
        ("Missing value for required parameter 'metrics[0].key'",),
    ),
    ({"metrics": [{"key": ["acc"], "value": 1.0, "timestamp": 2}]}, ("'metrics[0].key'",)),
    ({"metrics": [{"key": "acc", "value": [1.0], "timestamp": 2}]}, ("'metrics[0].value'",)),
    ({"metrics": [{"key": "acc", "value": True, "timestamp": 2}]}, ("'metrics[0].value'",)),
    ({"tags": [{"key": {"k": 1}, "value": "v"}]}, ("'tags[0].key'", "type 'dict'")),
    ({"metrics": "acc=1"}, ("""Invalid value "acc=1" for parameter 'metrics'""",)),
    ({"metrics": [[1, 2]]}, ("parameter 'metrics[0]'",)),
    ({"params": [{"key": "model", "value": "rnn"}]}, ("Changing param values", "'cnn'")),
    ({"params": [{"key": "long", "value": "x" * 7000}]}, ("'Param value' exceeds",)),
    ({"tags": [{"key": "t", "value": "x" * 9000}]}, ("'tags[0].value' exceeds",)),
    (
        {"metrics": [{"key": f"m{i}", "value": 1.0, "timestamp": 2} for i in range(1001)]},
        ("can contain at most 1000 metrics",),
    ),
    (
        {"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]},
        ("can contain at most 100 params",),
    ),
]


@pytest.mark.parametrize(("extra", "words"), BAD_BATCHES)
def test_bad_log_batch_writes_nothing(
    mlflow_server: MlflowServer, run_id: str, extra: dict, words: tuple[str, ...]
) -> None:
    before = snapshot(mlflow_server, run_id)
    # every bad batch also carries good items: none of them may be written
    body = {
        "run_id": run_id,
        "metrics": [{"key": "acc", "value": 9.0, "timestamp": 3, "step": 7}],
        "tags": [{"key": "fresh", "value": "yes"}],
        **extra,
    }
    answer = mlflow_server.api("POST", "runs/log-batch", json=body)
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE", *words)
    assert snapshot(mlflow_server, run_id) == before


UNKNOWN_IDS = [
    ("GET", "runs/get", {"run_id": "0" * 32}, (f"Run with id={'0' * 32} not found",)),
    ("GET", "experiments/get", {"experiment_id": "987654"},
     ("No Experiment with id=987654 exists",)),
    ("GET", "experiments/get-by-name", {"experiment_name": "nope"},
     ("Could not find experiment with name 'nope'",)),
    ("POST", "runs/log-batch", {"run_id": "a" * 32, "params": [{"key": "k", "value": "v"}]},
     (f"Run with id={'a' * 32} not found",)),
    ("POST", "runs/log-metric", {"run_id": "b" * 32, "key": "k", "value": 1, "timestamp": 1},
     (f"Run with id={'b' * 32} not found",)),
    ("POST", "runs/update", {"run_id": "c" * 32, "status": "FINISHED"},
     (f"Run with id={'c' * 32} not found",)),
    ("POST", "runs/delete", {"run_id": "d" * 32}, (f"Run with id={'d' * 32} not found",)),
    ("POST", "experiments/delete", {"experiment_id": "55555"},
     ("No Experiment with id=55555 exists",)),
    ("POST", "runs/create", {"experiment_id": "424242"},
     ("No Experiment with id=424242 exists",)),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "fields", "words"), UNKNOWN_IDS)
def test_unknown_ids_are_404(
    mlflow_server: MlflowServer,
    run_id: str,
    method: str,
    path: str,
    fields: dict,
    words: tuple[str, ...],
) -> None:
    before = snapshot(mlflow_server, run_id)
    kwargs = {"params": fields} if method == "GET" else {"json": fields}
    answer = mlflow_server.api(method, path, **kwargs)
    assert_error(answer, 404, "RESOURCE_DOES_NOT_EXIST", *words)
    assert snapshot(mlflow_server, run_id) == before


def test_metric_history_of_an_unknown_run_is_empty(mlflow_server: MlflowServer) -> None:
    # as in MLflow: a run (or key) without points has no history, whether or not it exists
    answer = mlflow_server.api(
        "GET", "metrics/get-history", params={"run_id": "f" * 32, "metric_key": "acc"}
    )
    assert answer.status_code == 200 and answer.json() == {}


def test_missing_required_fields_and_wrong_verbs(mlflow_server: MlflowServer) -> None:
    assert_error(
        mlflow_server.api("GET", "runs/get"),
        400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'",
    )  # fmt: skip
    assert_error(
        mlflow_server.api("GET", "metrics/get-history", params={"run_id": "x"}),
        400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'metric_key'",
    )  # fmt: skip
    answer = mlflow_server.api("GET", "runs/create")
    assert answer.status_code == 405
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


INJECTIONS = [
    "params.model = 'x'; DROP TABLE runs; --",
    "params.model = 'x' UNION SELECT run_id FROM runs",
    "metrics.acc > 0 OR 1=1",
    "attributes.run_id = '' OR ''=''",
    "tags.team = 'cv' AND (SELECT 1) = 1",
    "params.`model` = 'cnn' --",
]


@pytest.mark.parametrize("filter_string", INJECTIONS)
def test_sql_injection_filters_are_refused(
    mlflow_server: MlflowServer, run_id: str, filter_string: str
) -> None:
    before = snapshot(mlflow_server, run_id)
    answer = mlflow_server.api(
        "POST", "runs/search", json={"experiment_ids": ["0"], "filter": filter_string}
    )
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE", "filter")
    assert snapshot(mlflow_server, run_id) == before


def test_injection_inside_quoted_keys_and_values_is_just_data(
    mlflow_server: MlflowServer, run_id: str
) -> None:
    # quotes inside a key or a value are bound as data: they match nothing and break nothing
    for filter_string in (
        "params.`model') OR (1=1` = 'x'",
        "params.model = 'cnn'' OR ''1''=''1'",
        "tags.team LIKE '%'' ; DELETE FROM runs; --'",
    ):
        answer = mlflow_server.api(
            "POST", "runs/search", json={"experiment_ids": ["0"], "filter": filter_string}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json().get("runs", []) == []
    found = mlflow_server.api(
        "POST", "runs/search", json={"experiment_ids": ["0"], "filter": "params.model = 'cnn'"}
    )
    assert [r["info"]["run_id"] for r in found.json()["runs"]] == [run_id]


def test_order_by_injection_is_refused(mlflow_server: MlflowServer) -> None:
    answer = mlflow_server.api(
        "POST",
        "runs/search",
        json={"experiment_ids": ["0"], "order_by": ["start_time; DROP TABLE runs"]},
    )
    assert_error(answer, 400, "INVALID_PARAMETER_VALUE")


def test_changing_a_param_is_refused_and_keeps_the_first_value(
    mlflow_server: MlflowServer, run_id: str
) -> None:
    answer = mlflow_server.api(
        "POST", "runs/log-parameter", json={"run_id": run_id, "key": "model", "value": "rnn"}
    )
    assert_error(
        answer,
        400,
        "INVALID_PARAMETER_VALUE",
        "Changing param values is not allowed. Param with key='model' was already logged "
        f"with value='cnn' for run ID='{run_id}'. Attempted logging new value 'rnn'.",
    )
    same = mlflow_server.api(
        "POST", "runs/log-parameter", json={"run_id": run_id, "key": "model", "value": "cnn"}
    )
    assert same.status_code == 200
    run = mlflow_server.api("GET", "runs/get", params={"run_id": run_id}).json()["run"]
    assert run["data"]["params"] == [{"key": "model", "value": "cnn"}]


def test_deleted_runs_refuse_writes(mlflow_server: MlflowServer) -> None:
    created = mlflow_server.api("POST", "runs/create", json={"experiment_id": "0"}).json()
    doomed = created["run"]["info"]["run_id"]
    assert mlflow_server.api("POST", "runs/delete", json={"run_id": doomed}).status_code == 200
    answer = mlflow_server.api(
        "POST", "runs/set-tag", json={"run_id": doomed, "key": "k", "value": "v"}
    )
    # MLflow's code and text for a write to a deleted run
    assert_error(
        answer,
        400,
        "INVALID_PARAMETER_VALUE",
        f"The run {doomed} must be in the 'active' state. Current state is deleted.",
    )
    assert mlflow_server.api("POST", "runs/restore", json={"run_id": doomed}).status_code == 200


# artifacts -------------------------------------------------------------------------------------


def raw_request(
    server: MlflowServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict]:
    """A request whose path goes out byte for byte (no client-side normalisation of ``..``)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request(method, parts.path + path, body=body, headers=server.headers)
        answer = conn.getresponse()
        data = answer.read()
    finally:
        conn.close()
    try:
        parsed = json.loads(data) if data else {}
    except ValueError:
        parsed = {"raw": data[:200]}
    return answer.status, parsed


ESCAPES = [
    "../escape.txt",
    "1/../../escape.txt",
    "%2E%2E/escape.txt",
    "1/%2e%2e/%2e%2e/escape.txt",
    "..%2Fescape.txt",
    "%2Ftmp%2Fescape.txt",
    "/tmp/escape.txt",
    "C:/escape.txt",
    "a\\..\\..\\escape.txt",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_artifact_paths_that_escape_are_refused(mlflow_server: MlflowServer, path: str) -> None:
    artifacts = "/api/2.0/mlflow-artifacts/artifacts/"
    for method, body in (("PUT", b"pwned"), ("GET", None), ("DELETE", None)):
        status, answer = raw_request(mlflow_server, method, artifacts + path, body)
        assert status == 400, (method, path, status, answer)
        assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
    store_dir = mlflow_server.store_dir
    assert not list(store_dir.parent.rglob("escape.txt"))
    assert (store_dir / "mltrack.duckdb").exists()


def test_artifact_listing_refuses_escapes(mlflow_server: MlflowServer) -> None:
    for path in ("..", "../..", "/etc", "1/../.."):
        answer = requests.get(
            f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts",
            params={"path": path},
            headers=mlflow_server.headers,
            timeout=30,
        )
        # MLflow's whole answer for a path that leaves its folder
        assert answer.status_code == 400
        assert answer.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Invalid path"}


def test_oversized_upload_is_refused_and_leaves_nothing(mlflow_server: MlflowServer) -> None:
    url = f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts/0/big/file.bin"
    answer = requests.put(
        url, data=b"x" * (UPLOAD_LIMIT + 1), headers=mlflow_server.headers, timeout=60
    )
    assert_error(answer, 413, "INVALID_PARAMETER_VALUE", "limit")
    assert not (mlflow_server.store_dir / "artifacts" / "0" / "big").exists() or not list(
        (mlflow_server.store_dir / "artifacts" / "0" / "big").iterdir()
    )
    # just under the limit is fine
    ok = requests.put(url, data=b"x" * UPLOAD_LIMIT, headers=mlflow_server.headers, timeout=60)
    assert ok.status_code == 200, ok.text
    got = requests.get(url, headers=mlflow_server.headers, timeout=60)
    assert got.content == b"x" * UPLOAD_LIMIT
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["X-Content-Type-Options"] == "nosniff"


def test_chunked_oversized_upload_is_cut_off(mlflow_server: MlflowServer) -> None:
    url = f"{mlflow_server.url}/api/2.0/mlflow-artifacts/artifacts/0/chunked/file.bin"

    def chunks() -> Any:
        for _ in range(UPLOAD_LIMIT // 65536 + 4):
            yield b"y" * 65536

    try:
        answer = requests.put(url, data=chunks(), headers=mlflow_server.headers, timeout=60)
        assert answer.status_code >= 400
    except requests.RequestException:
        pass  # the server may close the connection at the limit instead of answering
    folder = mlflow_server.store_dir / "artifacts" / "0" / "chunked"
    assert not folder.exists() or not [p for p in folder.iterdir() if p.name == "file.bin"]


def test_missing_artifacts_are_404_and_deleting_one_is_a_no_op(
    mlflow_server: MlflowServer,
) -> None:
    status, answer = raw_request(
        mlflow_server, "GET", "/api/2.0/mlflow-artifacts/artifacts/0/none/here.txt"
    )
    assert (status, answer) == (
        404,
        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No such artifact: '0/none/here.txt'"},
    )
    # as in MLflow: what is not there is already deleted
    status, answer = raw_request(
        mlflow_server, "DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/none/here.txt"
    )
    assert (status, answer) == (200, {})
