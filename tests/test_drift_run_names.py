"""A run's name follows one rule on every face: the name given, else the ``mlflow.runName`` tag,
else a generated ``adjective-noun-NNN``; the tag always equals the name, and a name and a tag
that differ are refused with INVALID_PARAMETER_VALUE.

Faces: the Python client on an embedded store, the native REST API (``POST …/api/runs``) and
MLflow's REST API through the stock ``mlflow`` client, both on a real server.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_mlflow_server import (  # noqa: F401 - fixtures
    MlflowServer,
    mlflow_env,
    mlflow_server,
    start_server,
)

from jupyter_mltrack import MltrackClient
from jupyter_mltrack.errors import ErrorCode, MltrackError

mlflow = pytest.importorskip("mlflow")
from mlflow.exceptions import MlflowException  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

GENERATED = re.compile(r"^[a-z]+-[a-z]+-[0-9]{3}$")


def _assert_generated(name: str, tags: dict[str, str]) -> None:
    assert GENERATED.match(name), name
    assert tags["mlflow.runName"] == name


# the Python client, embedded -------------------------------------------------------------------
def test_embedded_client_names_runs_by_the_rule(tmp_path: Path) -> None:
    client = MltrackClient(tmp_path / "store")
    run = client.create_run("0")
    _assert_generated(run.info.run_name, run.data.tags)
    again = client.get_run(run.info.run_id)
    assert again.info.run_name == run.info.run_name == again.data.tags["mlflow.runName"]

    tagged = client.create_run("0", tags={"mlflow.runName": "from-the-tag"})
    assert tagged.info.run_name == "from-the-tag"
    assert client.get_run(tagged.info.run_id).data.tags["mlflow.runName"] == "from-the-tag"

    both = client.create_run("0", run_name="same", tags={"mlflow.runName": "same"})
    assert both.info.run_name == "same"

    with pytest.raises(MltrackError) as err:
        client.create_run("0", run_name="one", tags={"mlflow.runName": "other"})
    assert err.value.code == ErrorCode.INVALID_PARAMETER_VALUE


# the native REST API ---------------------------------------------------------------------------
def _native_create(server: MlflowServer, **body: Any) -> Any:
    return server.server.api("POST", "/runs", json={"experiment_id": "0", **body})


def test_native_rest_names_runs_by_the_rule(mlflow_server: MlflowServer) -> None:
    answer = _native_create(mlflow_server)
    assert answer.status_code == 201, answer.text
    run = answer.json()["run"]
    _assert_generated(run["info"]["run_name"], run["data"]["tags"])

    answer = _native_create(mlflow_server, tags={"mlflow.runName": "native-tag"})
    assert answer.status_code == 201, answer.text
    run = answer.json()["run"]
    assert run["info"]["run_name"] == "native-tag"
    assert run["data"]["tags"]["mlflow.runName"] == "native-tag"

    answer = _native_create(mlflow_server, run_name="one", tags={"mlflow.runName": "other"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# MLflow's REST API, through the mlflow client ------------------------------------------------
def test_mlflow_client_names_runs_by_the_rule(mlflow_env: MlflowServer) -> None:
    client = mlflow.MlflowClient(tracking_uri=mlflow_env.url)
    run = client.create_run("0")
    _assert_generated(run.info.run_name, run.data.tags)
    fetched = client.get_run(run.info.run_id)
    assert fetched.info.run_name == run.info.run_name
    assert fetched.data.tags["mlflow.runName"] == run.info.run_name

    tagged = client.create_run("0", tags={"mlflow.runName": "mlflow-tag"})
    assert tagged.info.run_name == "mlflow-tag"
    assert client.get_run(tagged.info.run_id).data.tags["mlflow.runName"] == "mlflow-tag"

    with pytest.raises(MlflowException) as err:
        client.create_run("0", run_name="one", tags={"mlflow.runName": "other"})
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    # the answer itself: a 400 in MLflow's shape
    answer = mlflow_env.api(
        "POST",
        "runs/create",
        json={"experiment_id": "0", "run_name": "one", "tags": [
            {"key": "mlflow.runName", "value": "other"}]},
    )  # fmt: skip
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert set(answer.json()) == {"error_code", "message"}
