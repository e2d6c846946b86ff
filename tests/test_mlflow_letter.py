"""The MLflow face, to the letter: the same requests, sent to a live ``mlflow server`` 3.17 and to
ours, get the same answers, MLflow's error texts included.

The reference is the installed MLflow's own server (``mlflow server`` on a SQLite store, started
once for this module). Each case names the answer MLflow's source gives (its request validation
in ``mlflow/server/handlers.py``, ``mlflow/utils/validation.py``, its SQL stores) and checks it
against both servers, so a case shows what MLflow does and that we do the same. The behaviours
follow MLflow's REST-tracking suite (``tests/tracking/test_rest_tracking.py``): the parts that
exercise the REST contract through the client or raw HTTP.

Where we deliberately differ, :data:`DELIBERATE` lists the case with both answers and why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import free_port
from test_mlflow_server import (  # noqa: F401 - fixtures
    MlflowServer,
    mlflow_server,
)

IPV, RDNE, RAE = "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS"
DOCS = " See the API docs for more information about request parameters."
START_TIMEOUT_S = 120


def missing(path: str) -> str:
    """MLflow's text for a required field that is absent, null or empty."""
    return f"Missing value for required parameter '{path}'.{DOCS}"


def invalid(value: str, path: str, type_name: str) -> str:
    """MLflow's text for a field of the wrong type (``value`` as MLflow echoes it, JSON)."""
    hint = f" Hint: Value was of type '{type_name}'."
    return f"Invalid value {value} for parameter '{path}' supplied: {hint}{DOCS}"


# the reference server ---------------------------------------------------------------------------
@dataclass
class Server:
    """One of the two servers, as the cases see it: where it is, how to reach it, and the ids
    of the fixtures made on it (``{run}``, ``{deleted}`` … in the cases)."""

    name: str
    url: str  # the tracking URI
    headers: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request to ``api/2.0/mlflow/<path>``, or to ``<path>`` under the tracking URI
        when it starts with '/' (the artifact proxy)."""
        kwargs.setdefault("timeout", 60)
        url = self.url + path if path.startswith("/") else f"{self.url}/api/2.0/mlflow/{path}"
        return self.session.request(method, url, headers=self.headers, **kwargs)

    def fill(self, value: Any) -> Any:
        """``value`` with each ``{name}`` of :attr:`ids` replaced by this server's id."""
        if isinstance(value, str):
            for name, real in self.ids.items():
                value = value.replace("{" + name + "}", real)
            return value
        if isinstance(value, dict):
            return {self.fill(k): self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.api(method, path, **kwargs)
        assert answer.status_code == 200, (self.name, path, answer.text)
        return answer.json()


def mlflow_cli() -> Path:
    return Path(sys.executable).with_name("mlflow")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``mlflow server`` 3.17 on a fresh SQLite store (in its own process group, stopped with
    the module)."""
    if not mlflow_cli().exists():
        pytest.skip("the mlflow command is not installed next to this Python")
    base = tmp_path_factory.mktemp("mlflow-reference")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "MLTRACK_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    args = [
        str(mlflow_cli()), "server",
        "--backend-store-uri", f"sqlite:///{base / 'mlflow.db'}",
        "--default-artifact-root", str(base / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=base, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not start"
            try:
                if requests.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.3)
        yield Server("mlflow", url, {})
    finally:
        # the server runs uvicorn in a child: stop the whole group it leads
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ours(mlflow_server: MlflowServer) -> Server:
    return Server("ours", mlflow_server.url, mlflow_server.headers)


def setup_fixtures(server: Server) -> None:
    """The same objects on a server: a run with a param, a tag and a metric; a deleted run; a
    deleted experiment; a registered model with one version."""
    suffix = uuid.uuid4().hex[:8]
    run = server.ok("POST", "runs/create", json={"experiment_id": "0"})["run"]["info"]["run_id"]
    server.ok(
        "POST",
        "runs/log-batch",
        json={
            "run_id": run,
            "params": [{"key": "p", "value": "1"}],
            "tags": [{"key": "t", "value": "v"}],
            "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
        },
    )
    deleted = server.ok("POST", "runs/create", json={"experiment_id": "0"})["run"]["info"]
    server.ok("POST", "runs/delete", json={"run_id": deleted["run_id"]})
    experiment = server.ok("POST", "experiments/create", json={"name": f"gone-{suffix}"})
    server.ok("POST", "experiments/delete", json=experiment)
    model = f"letter-{suffix}"
    server.ok("POST", "registered-models/create", json={"name": model})
    server.ok(
        "POST",
        "model-versions/create",
        json={"name": model, "source": f"runs:/{run}/model", "run_id": run},
    )
    server.ids.update(
        run=run,
        deleted=deleted["run_id"],
        dexp=experiment["experiment_id"],
        model=model,
        existing=f"existing-{suffix}",
    )
    server.ok("POST", "experiments/create", json={"name": server.ids["existing"]})


@pytest.fixture(scope="module")
def both(reference: Server, ours: Server) -> tuple[Server, Server]:
    for server in (reference, ours):
        setup_fixtures(server)
    return reference, ours


def answer_of(server: Server, method: str, path: str, payload: Any) -> tuple[int, Any]:
    """``(status, (error_code, message))`` of a request, ``(200, None)`` for a success."""
    payload = server.fill(payload)
    kwargs = {"params": payload} if method == "GET" else {"json": payload}
    answer = server.api(method, path, **kwargs)
    if answer.status_code == 200:
        return 200, None
    body = answer.json()
    return answer.status_code, (body.get("error_code"), body.get("message"))


def expected_of(server: Server, status: int, code: str | None, message: str | None) -> Any:
    return status, None if code is None else (code, server.fill(message))


def check_case(
    both: tuple[Server, Server],
    request: tuple[str, str, Any],
    expected: tuple[int, str | None, str | None],
) -> None:
    """The request gets ``expected`` from MLflow (the template is MLflow's) and from us."""
    for server in both:
        got = answer_of(server, *request)
        assert got == expected_of(server, *expected), (server.name, request, got)


# 1. request validation: MLflow's texts ----------------------------------------------------------
HUGE = 123456789
VALIDATION: list[tuple[tuple[str, str, Any], tuple[int, str | None, str | None]]] = [
    # experiments/create (MLflow's test_create_experiment_validation)
    (("POST", "experiments/create", {"name": 123}), (400, IPV, invalid("123", "name", "int"))),
    (("POST", "experiments/create", {}), (400, IPV, missing("name"))),
    (("POST", "experiments/create", {"name": ""}), (400, IPV, missing("name"))),
    (
        ("POST", "experiments/create", {"name": "x", "artifact_location": 9.0}),
        (400, IPV, invalid("9.0", "artifact_location", "float")),
    ),
    (
        ("POST", "experiments/create", {"name": "x", "artifact_location": "loc", "tags": "5"}),
        (400, IPV, invalid('"5"', "tags", "str")),
    ),
    # runs/log-metric (test_log_metric_validation)
    (
        ("POST", "runs/log-metric",
         {"run_id": 31, "key": "metric", "value": 41, "timestamp": 59, "step": 26}),
        (400, IPV, invalid("31", "run_id", "int")),
    ),
    (
        ("POST", "runs/log-metric",
         {"run_id": "{run}", "key": 31, "value": 41, "timestamp": 59, "step": 26}),
        (400, IPV, invalid("31", "key", "int")),
    ),
    (
        ("POST", "runs/log-metric",
         {"run_id": "{run}", "key": "foo", "value": 31, "timestamp": 59, "step": "foo"}),
        (400, IPV, invalid('"foo"', "step", "str")),
    ),
    (
        ("POST", "runs/log-metric",
         {"run_id": "{run}", "key": "foo", "value": 31, "timestamp": "foo", "step": 41}),
        (400, IPV, invalid('"foo"', "timestamp", "str")),
    ),
    (
        ("POST", "runs/log-metric",
         {"run_id": None, "key": "foo", "value": 31, "timestamp": 59, "step": 41}),
        (400, IPV, missing("run_id")),
    ),
    (
        ("POST", "runs/log-metric", {"run_id": "{run}", "value": 31, "timestamp": 59}),
        (400, IPV, missing("key")),
    ),
    (
        ("POST", "runs/log-metric", {"run_id": "{run}", "key": None, "value": 31, "timestamp": 5}),
        (400, IPV, missing("key")),
    ),
    (("POST", "runs/log-metric", {"run_id": "{run}", "key": "f", "timestamp": 5}),
     (400, IPV, missing("value"))),
    (("POST", "runs/log-metric", {"run_id": "{run}", "key": "f", "value": 1}),
     (400, IPV, missing("timestamp"))),
    (
        ("POST", "runs/log-metric", {"run_id": "{run}", "key": "f", "value": "x", "timestamp": 5}),
        (400, IPV, invalid('"x"', "value", "str")),
    ),
    (
        ("POST", "runs/log-metric", {"run_id": "{run}", "key": "a'b", "value": 1, "timestamp": 1}),
        (400, IPV, "Invalid value \"a'b\" for parameter 'name' supplied: Names may only contain "
                   "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ){} and "
                   "slashes (/)."),
    ),
    (
        ("POST", "runs/log-metric", {"run_id": "{run}", "key": "/abs", "value": 1, "timestamp": 1}),
        (400, IPV, "Invalid value \"/abs\" for parameter 'name' supplied: Names may be treated "
                   "as files in certain cases, and must not resolve to other names when treated "
                   "as such. This name would resolve to '/abs'"),
    ),
    (
        ("POST", "runs/log-metric", {"run_id": "{run}", "key": "m", "value": 1, "timestamp": -5}),
        (400, IPV, "Invalid value -5 for parameter 'timestamp' supplied: metric 'm' (value=1.0). "
                   "Timestamp must be a nonnegative long (64-bit integer) "),
    ),
    # runs/log-parameter (test_log_param_validation)
    (("POST", "runs/log-parameter", {"run_id": 31, "key": "param", "value": 41}),
     (400, IPV, invalid("31", "run_id", "int"))),
    (("POST", "runs/log-parameter", {"run_id": "{run}", "key": 31, "value": 41}),
     (400, IPV, invalid("31", "key", "int"))),
    (
        ("POST", "runs/log-parameter", {"run_id": "{run}", "key": "p", "value": "2"}),
        (400, IPV, "Changing param values is not allowed. Param with key='p' was already logged "
                   "with value='1' for run ID='{run}'. Attempted logging new value '2'."),
    ),
    # runs/set-tag (test_set_tag_validation)
    (("POST", "runs/set-tag", {"run_id": 31, "key": "tag", "value": 41}),
     (400, IPV, invalid("31", "run_id", "int"))),
    (("POST", "runs/set-tag", {"run_id": "{run}", "key": "param", "value": 41}),
     (400, IPV, invalid("41", "value", "int"))),
    (("POST", "runs/set-tag", {"run_id": "{run}", "value": "value"}), (400, IPV, missing("key"))),
    (("POST", "runs/set-tag", {"run_uuid": "{run}", "key": "key", "value": "value"}),
     (200, None, None)),
    # runs/log-batch (test_log_batch_validation)
    (("POST", "runs/log-batch", {"run_id": "{run}", "metrics": "foo"}),
     (400, IPV, invalid('"foo"', "metrics", "str"))),
    (("POST", "runs/log-batch", {"run_id": "{run}", "params": "foo"}),
     (400, IPV, invalid('"foo"', "params", "str"))),
    (("POST", "runs/log-batch", {"run_id": "{run}", "tags": "foo"}),
     (400, IPV, invalid('"foo"', "tags", "str"))),
    (("POST", "runs/log-batch", {"run_id": "{run}", "metrics": [{"key": "mae", "value": 2.5}]}),
     (400, IPV, missing("metrics[0].timestamp"))),
    (("POST", "runs/log-batch", {"run_id": "{run}", "params": [{"value": "x"}]}),
     (400, IPV, missing("params[0].key"))),
    (
        ("POST", "runs/log-batch",
         {"run_id": "{run}", "metrics": [{"key": "mae", "value": 2.5, "timestamp": 123456789}]}),
        (200, None, None),
    ),
    (
        ("POST", "runs/log-batch",
         {"run_id": "{run}", "metrics": [{"key": "../x", "value": 1.0, "timestamp": 2}]}),
        (400, IPV, "Invalid value \"../x\" for parameter 'metrics[0].name' supplied: Names may "
                   "be treated as files in certain cases, and must not resolve to other names "
                   "when treated as such. This name would resolve to '../x'"),
    ),
    (
        ("POST", "runs/log-batch",
         {"run_id": "{run}", "params": [{"key": "p", "value": "3"}, {"key": "q", "value": "1"}]}),
        (400, IPV, "Changing param values is not allowed. Params were already logged="
                   "'[{'key': 'p', 'old_value': '1', 'new_value': '3'}]' for run ID='{run}'."),
    ),
    (
        ("POST", "runs/log-batch",
         {"run_id": "{run}", "params": [{"key": "z", "value": "3"}, {"key": "z", "value": "4"}]}),
        (400, IPV, "Duplicate parameter keys have been submitted: ['z']. Please ensure the "
                   "request contains only one param value per param key."),
    ),
    (
        ("POST", "runs/log-batch",
         {"run_id": "{run}",
          "metrics": [{"key": f"m{i}", "value": 1.0, "timestamp": 2} for i in range(1001)]}),
        (400, IPV, "A batch logging request can contain at most 1000 metrics. Got 1001 "
                   "metrics. Please split up metrics across multiple requests and try again."),
    ),
    (
        ("POST", "runs/log-batch",
         {"run_id": "{run}", "params": [{"key": f"b{i}", "value": "1"} for i in range(101)]}),
        (400, IPV, "A batch logging request can contain at most 100 params. Got 101 params. "
                   "Please split up params across multiple requests and try again."),
    ),
    # runs/log-inputs (test_log_inputs_validation)
    (
        ("POST", "runs/log-inputs",
         {"datasets": [{"dataset": {"name": "d", "digest": "x", "source_type": "s",
                                    "source": "y"}}]}),
        (400, IPV, missing("run_id")),
    ),
    # searches (test_search_validation)
    (("POST", "runs/search", {"experiment_ids": ["0"], "max_results": HUGE}),
     (400, IPV, invalid(str(HUGE), "max_results", "int"))),
    (("POST", "runs/search", {"experiment_ids": ["0"], "max_results": 0}),
     (400, IPV, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive "
                "integer")),
    (("POST", "experiments/search", {"max_results": 60000}),
     (400, IPV, "Invalid value 60000 for parameter 'max_results' supplied. It must be at most "
                "50000")),
    (("GET", "metrics/get-history", {"run_id": "{run}", "metric_key": "m", "max_results": "0"}),
     (400, IPV, "Invalid value 0 for parameter 'max_results' supplied. It must be a positive "
                "integer.")),
    (("GET", "model-versions/search", {"max_results": "0"}),
     (400, IPV, "Invalid value for max_results. It must be a positive integer, but got 0")),
    # missing fields of other routes
    (("GET", "runs/get", {}), (400, IPV, missing("run_id"))),
    (("GET", "experiments/get-by-name", {}), (400, IPV, missing("experiment_name"))),
    (("GET", "metrics/get-history", {"run_id": "{run}"}), (400, IPV, missing("metric_key"))),
    (("POST", "experiments/update", {"experiment_id": "0"}), (400, IPV, missing("new_name"))),
    (("POST", "registered-models/create", {}), (400, IPV, missing("name"))),
    (("POST", "registered-models/create", {"name": 5}), (400, IPV, invalid("5", "name", "int"))),
    (("POST", "model-versions/create", {"name": "{model}"}), (400, IPV, missing("source"))),
    (("GET", "model-versions/get", {"name": "{model}"}), (400, IPV, missing("version"))),
    (("GET", "model-versions/get", {"name": "{model}", "version": "abc"}),
     (400, IPV, "Parameter 'version' must be an integer, got 'abc'.")),
    (("POST", "logged-models", {"name": "ab"}), (400, IPV, missing("experiment_id"))),
    # what does not exist, or is deleted
    (("GET", "runs/get", {"run_id": "0" * 32}), (404, RDNE, f"Run with id={'0' * 32} not found")),
    (("POST", "runs/delete", {"run_id": "nope"}), (404, RDNE, "Run with id=nope not found")),
    (("POST", "runs/log-batch", {"run_id": "nope", "params": [{"key": "k", "value": "v"}]}),
     (404, RDNE, "Run with id=nope not found")),
    (("GET", "experiments/get", {"experiment_id": "987654"}),
     (404, RDNE, "No Experiment with id=987654 exists")),
    (("POST", "runs/create", {"experiment_id": "424242"}),
     (404, RDNE, "No Experiment with id=424242 exists")),
    (("GET", "experiments/get", {"experiment_id": "abc"}),
     (400, IPV, "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.")),
    (("GET", "experiments/get-by-name", {"experiment_name": "idontexist"}),
     (404, RDNE, "Could not find experiment with name 'idontexist'")),
    (("POST", "runs/set-tag", {"run_id": "{deleted}", "key": "k", "value": "v"}),
     (400, IPV, "The run {deleted} must be in the 'active' state. Current state is deleted.")),
    (("POST", "runs/update", {"run_id": "{deleted}", "status": "FINISHED"}),
     (400, IPV, "The run {deleted} must be in the 'active' state. Current state is deleted.")),
    (("POST", "runs/create", {"experiment_id": "{dexp}"}),
     (400, IPV, "The experiment {dexp} must be in the 'active' state. Current state is "
                "deleted.")),
    (("POST", "experiments/set-experiment-tag",
      {"experiment_id": "{dexp}", "key": "k", "value": "v"}),
     (400, IPV, "The experiment {dexp} must be in the 'active' state. Current state is "
                "deleted.")),
    (("POST", "experiments/delete-experiment-tag", {"experiment_id": "0", "key": "nokey"}),
     (404, RDNE, "No tag with name: nokey in experiment with id 0")),
    (("GET", "registered-models/get", {"name": "nope"}),
     (404, RDNE, "Registered Model with name=nope not found")),
    (("POST", "registered-models/create", {"name": "{model}"}),
     (400, RAE, "Registered Model (name={model}) already exists.")),
    (("POST", "registered-models/create", {"name": "a/b"}),
     (400, IPV, "Invalid model name 'a/b'. Names cannot contain '/' or ':'.")),
    (("GET", "model-versions/get", {"name": "{model}", "version": "7"}),
     (404, RDNE, "Model Version (name={model}, version=7) not found")),
    (("GET", "model-versions/get", {"name": "nope", "version": "1"}),
     (404, RDNE, "Model Version (name=nope, version=1) not found")),
    (("GET", "registered-models/alias", {"name": "{model}", "alias": "champ"}),
     (400, IPV, "Registered model alias champ not found.")),
    (("DELETE", "registered-models/alias", {"name": "{model}", "alias": "champ"}),
     (200, None, None)),
    (("POST", "registered-models/alias", {"name": "{model}", "alias": "latest", "version": "1"}),
     (400, IPV, "'latest' alias name (case insensitive) is reserved.")),
    (("POST", "registered-models/alias", {"name": "{model}", "alias": "v3", "version": "1"}),
     (400, IPV, "Version alias name 'v3' is reserved.")),
    (("GET", "logged-models/m-0123", None),
     (404, RDNE, "Logged model with ID 'm-0123' not found.")),
    (("GET", "metrics/get-history", {"run_id": "nope", "metric_key": "m"}), (200, None, None)),
    (("POST", "experiments/create", {"name": "n" * 600}),
     (400, IPV, "'name' exceeds the maximum length of 500 characters")),
    # artifacts (MLflow's test_path_validation)
    (("GET", "artifacts/list", {"run_id": "{run}", "path": "../path"}),
     (400, IPV, "Invalid path")),
    (("GET", "/api/2.0/mlflow-artifacts/artifacts", {"path": "../x"}),
     (400, IPV, "Invalid path")),
    (("GET", "/api/2.0/mlflow-artifacts/artifacts/0/none/here.txt", None),
     (404, RDNE, "No such artifact: '0/none/here.txt'")),
    (("DELETE", "/api/2.0/mlflow-artifacts/artifacts/0/none/here.txt", None), (200, None, None)),
    (("GET", "artifacts/list", {"run_id": "nope"}), (404, RDNE, "Run with id=nope not found")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "expected"),
    VALIDATION,
    ids=[f"{i}-{r[0]}-{r[1]}" for i, (r, _) in enumerate(VALIDATION)],
)
def test_request_validation_answers_with_mlflows_texts(
    both: tuple[Server, Server],
    request_: tuple[str, str, Any],
    expected: tuple[int, str | None, str | None],
) -> None:
    status, code, message = expected
    if message is not None and "{}" in message:
        # key characters: MLflow 3.17 on POSIX also allows ':' and says so; our keys never
        # hold one, so we answer with the text MLflow gives where it refuses ':' too (Windows)
        reference, ours = both
        with_colon = message.replace("{}", ", colon(:)")
        assert answer_of(reference, *request_) == expected_of(reference, status, code, with_colon)
        without = message.replace("{}", "")
        assert answer_of(ours, *request_) == expected_of(ours, status, code, without)
        return
    check_case(both, request_, expected)


# 2. runs/delete-tag: a key the run does not have, a deleted run ----------------------------------
@pytest.fixture
def clients(
    both: tuple[Server, Server], mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """``client(server)``: the stock MlflowClient of one of the servers. Both get our token
    (MLflow's server, without authentication, ignores it)."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", mlflow_server.token)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return lambda server: MlflowClient(tracking_uri=server.url)


def test_delete_tag_refuses_a_missing_key_and_a_deleted_run_as_mlflow_does(
    both: tuple[Server, Server], clients: Any
) -> None:
    from mlflow.exceptions import MlflowException

    for server in both:
        client = clients(server)
        experiment_id = client.create_experiment(f"delete-tag-{uuid.uuid4().hex[:8]}")
        run_id = client.create_run(experiment_id).info.run_id
        client.set_tag(run_id, "taggity", "do-dah")
        client.delete_tag(run_id, "taggity")
        assert "taggity" not in client.get_run(run_id).data.tags
        with pytest.raises(MlflowException, match=r"Run .+ not found") as info:
            client.delete_tag("fake_run_id", "taggity")
        assert info.value.error_code == RDNE
        with pytest.raises(MlflowException) as info:
            client.delete_tag(run_id, "fakeTag")
        assert info.value.error_code == RDNE, server.name
        assert info.value.message == (
            f"{RDNE}: No tag with name: fakeTag in run with id {run_id}"
        ), server.name
        client.set_tag(run_id, "kept", "1")
        client.delete_run(run_id)
        with pytest.raises(MlflowException) as info:
            client.delete_tag(run_id, "kept")
        assert info.value.error_code == IPV, server.name
        assert info.value.message == (
            f"{IPV}: The run {run_id} must be in the 'active' state. Current state is deleted."
        ), server.name
        client.restore_run(run_id)
        assert client.get_run(run_id).data.tags["kept"] == "1"  # refused: nothing was deleted


# 3. a mlflow.parentRunId naming a run the store does not have ------------------------------------
def test_a_parent_run_id_naming_a_run_this_store_lacks_is_stored_verbatim(
    both: tuple[Server, Server], clients: Any, mlflow_server: MlflowServer
) -> None:
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_USER

    missing_parent = uuid.uuid4().hex
    for server in both:
        client = clients(server)
        experiment_id = client.create_experiment(f"copied-{uuid.uuid4().hex[:8]}")
        # a child copied before its parent, and MLflow's own case: a parent id of "7"
        child = client.create_run(
            experiment_id, run_name="child", tags={MLFLOW_PARENT_RUN_ID: missing_parent}
        )
        other = client.create_run(
            experiment_id,
            start_time=456,
            run_name="my name",
            tags={MLFLOW_USER: "username", MLFLOW_PARENT_RUN_ID: "7", "my": "tag"},
        )
        for run, parent in ((child, missing_parent), (other, "7")):
            fetched = client.get_run(run.info.run_id)
            assert fetched.data.tags[MLFLOW_PARENT_RUN_ID] == parent, server.name
            found = client.search_runs(
                [experiment_id], filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent}'"
            )
            assert [r.info.run_id for r in found] == [run.info.run_id], server.name
        assert client.get_run(other.info.run_id).info.start_time == 456
        if server.name == "ours":
            # the runs table (the lab's) shows both at the top level and says the parent is
            # missing; a run whose parent is here is not marked
            parent_run = client.create_run(experiment_id, run_name="present")
            nested = client.create_run(
                experiment_id, tags={MLFLOW_PARENT_RUN_ID: parent_run.info.run_id}
            )
            table = mlflow_server.server.api(
                "GET", "/runs", params={"experiment_id": experiment_id}
            ).json()
            marks = {r["run_id"]: (r["parent_run_id"], r["parent_missing"]) for r in table["runs"]}
            assert marks[child.info.run_id] == (missing_parent, True)
            assert marks[other.info.run_id] == ("7", True)
            assert marks[nested.info.run_id] == (parent_run.info.run_id, False)
            assert marks[parent_run.info.run_id] == (None, False)


# 4. logged-model names ----------------------------------------------------------------------------
LOGGED_MODEL_NAME_MESSAGE = (
    "Invalid model name ({name!r}) provided. Model name must be a non-empty string and cannot "
    "contain the following characters: ('/', ':', '.', '%', '\"', \"'\")"
)


@pytest.mark.parametrize("name", ["team/model", "a:b", "v1.2", "50%", "it's", 'say"hi'])
def test_logged_model_names_mlflow_refuses_are_refused(
    both: tuple[Server, Server], clients: Any, name: str
) -> None:
    from mlflow.exceptions import MlflowException

    message = LOGGED_MODEL_NAME_MESSAGE.format(name=name)
    check_case(
        both, ("POST", "logged-models", {"experiment_id": "0", "name": name}), (400, IPV, message)
    )
    for server in both:
        client = clients(server)
        with pytest.raises(MlflowException) as info:
            client.create_logged_model("0", name=name)
        assert info.value.message == f"{IPV}: {message}", server.name
        # a name within the rule is taken, and no name gets a generated one
        assert client.create_logged_model("0", name="team-model").name == "team-model"
        assert client.create_logged_model("0").name


# 5. where we deliberately differ ----------------------------------------------------------------
#: (request, MLflow 3.17's answer, ours, why); both answers are checked, so the list stays true
DELIBERATE: list[tuple[tuple[str, str, Any], tuple[int, Any], tuple[int, Any], str]] = [
    (
        ("POST", "runs/set-tag", {"run_id": "{run}", "key": "a:b", "value": "v"}),
        (200, None),
        (400, (IPV, "Invalid value \"a:b\" for parameter 'key' supplied: Names may only contain "
                    "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ) and "
                    "slashes (/).")),
        "keys never hold ':' here (a store rule shared by every face: keys are file and "
        "filter names)",
    ),
    (
        ("POST", "runs/log-parameter", {"run_id": "{run}", "key": "long", "value": "x" * 7000}),
        (200, None),
        (400, (IPV, "'Param value' exceeds the maximum length of 6000 characters")),
        "MLflow truncates a long value by default; the store refuses it rather than store "
        "another value than the one logged (MLflow's text with truncation off)",
    ),
    (
        ("POST", "runs/log-metric",
         {"run_id": "{run}", "key": "m", "value": True, "timestamp": 5}),
        (200, None),
        (400, (IPV, invalid("true", "value", "bool"))),
        "a boolean is not a metric value (MLflow stores 1.0)",
    ),
    (
        ("POST", "runs/update", {"run_id": "{run}", "status": "BOGUS"}),
        (200, None),
        (400, (IPV, invalid('"BOGUS"', "status", "str"))),
        "an unknown status is refused, not ignored",
    ),
    (
        ("POST", "experiments/create", {"name": "{existing}"}),
        (400, (RAE, None)),
        (400, (RAE, "Experiment(name={existing}) already exists.")),
        "MLflow appends its SQL driver's error (statement and parameters) to the sentence",
    ),
    (
        ("POST", "runs/search", {"experiment_ids": ["0"], "filter": "foo bar"}),
        (400, (IPV, "Invalid clause(s) in filter string: 'foo bar'")),
        (400, (IPV, None)),
        "our filter parser names the position and the valid attributes (and takes OR)",
    ),
    (
        ("POST", "runs/outputs",
         {"run_id": "{run}", "models": [{"model_id": "m-0123", "step": 0}]}),
        (200, None),
        (404, (RDNE, "Logged model with ID 'm-0123' not found.")),
        "a run's outputs name logged models that exist",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "theirs", "mine", "why"),
    DELIBERATE,
    ids=[f"{i}-{d[0][1]}" for i, d in enumerate(DELIBERATE)],
)
def test_where_we_deliberately_differ(
    both: tuple[Server, Server],
    request_: tuple[str, str, Any],
    theirs: tuple[int, Any],
    mine: tuple[int, Any],
    why: str,
) -> None:
    reference, ours = both
    for server, expected in ((reference, theirs), (ours, mine)):
        status, error = answer_of(server, *request_)
        assert status == expected[0], (server.name, why, error)
        if expected[1] is None:
            continue
        code, message = expected[1]
        assert error[0] == code, (server.name, error)
        if message is not None:
            assert error[1] == server.fill(message), (server.name, error)


def test_the_default_experiment_is_not_deleted_here(both: tuple[Server, Server]) -> None:
    """MLflow deletes experiment 0 (and its runs) when asked; we refuse: the fluent API logs
    into it when no experiment is set, and a notebook's first run would fail."""
    reference, ours = both
    request = ("POST", "experiments/delete", {"experiment_id": "0"})
    try:
        assert answer_of(reference, *request) == (200, None)
    finally:
        # put the reference back as the other tests expect it (a restore revives every run)
        reference.ok("POST", "experiments/restore", json={"experiment_id": "0"})
        reference.ok("POST", "runs/delete", json={"run_id": reference.ids["deleted"]})
    assert answer_of(ours, *request) == (
        400,
        (IPV, "the Default experiment (id 0) cannot be deleted"),
    )
