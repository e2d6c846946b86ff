"""Models through the MLflow REST API with the stock MLflow client: logged models, the registry.

``mlflow.sklearn.log_model(..., registered_model_name=...)``, an alias, ``models:/name@alias``
loaded and used to predict; then the registry's other calls (versions, stages, tags,
descriptions, search, rename, delete) and their errors.
"""

from __future__ import annotations

import pytest
from test_mlflow_server import (  # noqa: F401 - fixtures
    MlflowServer,
    mlflow_env,
    mlflow_server,
)

mlflow = pytest.importorskip("mlflow")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::FutureWarning", "ignore::UserWarning", "ignore::PendingDeprecationWarning"
)
# Inferring pip requirements starts a subprocess per model; naming them keeps the test quick.
REQUIREMENTS = ["scikit-learn"]


@pytest.fixture(scope="module")
def iris() -> tuple:
    data = sklearn_datasets.load_iris()
    return data.data, data.target


def _fit(iris: tuple, c: float) -> LogisticRegression:
    x, y = iris
    return LogisticRegression(C=c, max_iter=500).fit(x, y)


def test_log_register_alias_load_and_predict(mlflow_env: MlflowServer, iris: tuple) -> None:
    x, _ = iris
    model = _fit(iris, 1.0)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(
            model, name="model", registered_model_name="iris-clf", pip_requirements=REQUIREMENTS
        )
    assert str(info.registered_model_version) == "1"
    assert info.model_id.startswith("m-")

    client = MlflowClient()
    client.set_registered_model_alias("iris-clf", "champion", "1")
    loaded = mlflow.pyfunc.load_model("models:/iris-clf@champion")
    assert (loaded.predict(x[:20]) == model.predict(x[:20])).all()
    by_version = mlflow.sklearn.load_model("models:/iris-clf/1")
    assert (by_version.predict(x[:20]) == model.predict(x[:20])).all()

    version = client.get_model_version_by_alias("iris-clf", "champion")
    assert version.version == "1" and version.run_id == run.info.run_id
    assert version.status == "READY" and version.aliases == ["champion"]
    registered = client.get_registered_model("iris-clf")
    assert registered.aliases == {"champion": "1"}

    # the logged model: READY, linked to its run, its files behind the artifact proxy
    logged = client.get_logged_model(info.model_id)
    assert logged.status.to_proto() == 2  # LOGGED_MODEL_READY
    assert logged.source_run_id == run.info.run_id
    assert logged.artifact_location.startswith("mlflow-artifacts:/")
    names = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert "MLmodel" in names and any(n.startswith("model.") for n in names)
    outputs = client.get_run(run.info.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]
    found = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string="name = 'model'",
        output_format="list",
    )
    assert [m.model_id for m in found] == [info.model_id]
    assert mlflow.sklearn.load_model(f"models:/{info.model_id}").predict(x[:3]).shape == (3,)
    # runs:/ URIs of a model logged in the run resolve through the logged model too
    assert mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(x[:3]).shape == (3,)
    download = client.get_model_version_download_uri("iris-clf", "1")
    assert download == logged.artifact_location


def test_registry_versions_stages_tags_and_search(mlflow_env: MlflowServer, iris: tuple) -> None:
    client = MlflowClient()
    client.create_registered_model("reg", tags={"team": "cv"}, description="first")
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("reg")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"

    ids = []
    for c in (0.5, 1.0, 2.0):
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                _fit(iris, c), name="clf", registered_model_name="reg",
                pip_requirements=REQUIREMENTS,
            )  # fmt: skip
        ids.append(info.model_id)
    versions = client.search_model_versions("name = 'reg'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]

    client.transition_model_version_stage("reg", "1", "Production")
    client.transition_model_version_stage("reg", "2", "production", archive_existing_versions=True)
    assert client.get_model_version("reg", "1").current_stage == "Archived"
    assert client.get_model_version("reg", "2").current_stage == "Production"
    latest = {v.current_stage: v.version for v in client.get_latest_versions("reg")}
    assert latest == {"Archived": "1", "Production": "2", "None": "3"}
    staged = client.get_latest_versions("reg", stages=["Production"])
    assert [v.version for v in staged] == ["2"]

    client.set_model_version_tag("reg", "3", "validated", "yes")
    client.update_model_version("reg", "3", description="the best one")
    v3 = client.get_model_version("reg", "3")
    assert v3.tags == {"validated": "yes"} and v3.description == "the best one"
    client.delete_model_version_tag("reg", "3", "validated")
    assert client.get_model_version("reg", "3").tags == {}
    found = client.search_model_versions("name = 'reg' and tag.validated = 'yes'")
    assert found == []

    client.set_registered_model_tag("reg", "owner", "ada")
    client.delete_registered_model_tag("reg", "team")
    client.update_registered_model("reg", description="second")
    model = client.get_registered_model("reg")
    assert model.tags == {"owner": "ada"} and model.description == "second"
    assert [m.name for m in client.search_registered_models("name LIKE 're%'")] == ["reg"]
    assert [m.name for m in client.search_registered_models("tags.owner = 'ada'")] == ["reg"]

    client.set_registered_model_alias("reg", "prod", "2")
    client.set_registered_model_alias("reg", "prod", "3")  # moves
    assert client.get_model_version_by_alias("reg", "prod").version == "3"
    client.delete_registered_model_alias("reg", "prod")
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias("reg", "prod")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.set_registered_model_alias("reg", "latest", "1")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"

    client.rename_registered_model("reg", "reg2")
    assert client.get_model_version("reg2", "2").current_stage == "Production"
    with pytest.raises(MlflowException) as err:
        client.get_registered_model("reg")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_model_version("reg2", "1")
    assert sorted(v.version for v in client.search_model_versions("name = 'reg2'")) == ["2", "3"]
    with pytest.raises(MlflowException) as err:
        client.get_model_version("reg2", "1")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_registered_model("reg2")
    assert client.search_registered_models("name = 'reg2'") == []


def test_register_model_from_a_run_uri(mlflow_env: MlflowServer, iris: tuple) -> None:
    x, _ = iris
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(_fit(iris, 3.0), name="m", pip_requirements=REQUIREMENTS)
    version = mlflow.register_model(f"runs:/{run.info.run_id}/m", "from-run")
    assert version.version == "1" and version.run_id == run.info.run_id
    loaded = mlflow.pyfunc.load_model("models:/from-run/1")
    assert loaded.predict(x[:4]).shape == (4,)


def test_registry_bad_input(mlflow_server: MlflowServer) -> None:
    def call(method: str, path: str, **body: object) -> tuple[int, dict]:
        kwargs = {"params": body} if method == "GET" else {"json": body}
        answer = mlflow_server.api(method, path, **kwargs)  # type: ignore[arg-type]
        return answer.status_code, answer.json()

    def registry_state() -> tuple:
        models = call("GET", "registered-models/search")[1]
        versions = call("GET", "model-versions/search")[1]
        logged = call("POST", "logged-models/search", experiment_ids=["0"])[1]
        return models, versions, logged

    before = registry_state()
    status, body = call("GET", "registered-models/get", name="nope")
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = call("POST", "registered-models/create")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call("POST", "registered-models/create", name="bad", tags="x")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call("GET", "model-versions/get", name="nope", version="x")
    assert status in (400, 404)
    status, body = call("GET", "registered-models/search", filter="name = 'a' OR 1=1; --")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call("GET", "registered-models/search", max_results="many")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call("POST", "logged-models", name="no-experiment")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call("GET", "logged-models/m-doesnotexist")
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = call("POST", "logged-models/search", experiment_ids=["0"], filter="name = ")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call("POST", "model-versions/create", name="nope", source="runs:/x/m")
    assert (status, body["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    status, body = call("POST", "registered-models/alias", name="nope", alias="a b", version="1")
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    status, body = call(
        "POST", "model-versions/transition-stage", name="nope", version="1", stage="Prod"
    )
    assert status in (400, 404) and body["error_code"]
    assert registry_state() == before


def test_logged_model_routes_the_client_rarely_calls(mlflow_env: MlflowServer, iris: tuple) -> None:
    client = MlflowClient()
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            _fit(iris, 1.5), name="extra", pip_requirements=REQUIREMENTS
        )
        mlflow.log_text("x", "notes/n.txt")
    run_id, model_id = run.info.run_id, info.model_id

    # params (never changed once set), tags, the artifact folder listing
    answer = mlflow_env.api(
        "POST", f"logged-models/{model_id}/params", json={"params": [{"key": "C", "value": "1.5"}]}
    )
    assert answer.status_code == 200, answer.text
    changed = mlflow_env.api(
        "POST", f"logged-models/{model_id}/params", json={"params": [{"key": "C", "value": "9"}]}
    )
    assert changed.status_code == 400 and changed.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    client.set_logged_model_tags(model_id, {"k": "v", "gone": "soon"})
    client.delete_logged_model_tag(model_id, "gone")
    model = client.get_logged_model(model_id)
    assert model.params == {"C": "1.5"} and model.tags["k"] == "v" and "gone" not in model.tags
    listing = mlflow_env.api("GET", f"logged-models/{model_id}/artifacts/directories").json()
    assert listing["root_uri"] == model.artifact_location
    assert "MLmodel" in {f["path"] for f in listing["files"]}

    # the tracking API's own artifact listing
    files = mlflow_env.api("GET", "artifacts/list", params={"run_id": run_id, "path": "notes"})
    assert files.json()["files"] == [{"path": "notes/n.txt", "is_dir": False, "file_size": 1}]

    # the log-model record of MLflow 2 clients, appended to a run tag
    model_json = '{"artifact_path": "m", "flavors": {}, "utc_time_created": "x", "run_id": "r"}'
    for _ in range(2):
        answer = mlflow_env.api(
            "POST", "runs/log-model", json={"run_id": run_id, "model_json": model_json}
        )
        assert answer.status_code == 200, answer.text
    history = client.get_run(run_id).data.tags["mlflow.log-model.history"]
    assert history.count('"artifact_path": "m"') == 2
    for bad in ("{not json", "[]", '{"artifact_path": "m"}'):
        answer = mlflow_env.api(
            "POST", "runs/log-model", json={"run_id": run_id, "model_json": bad}
        )
        assert (
            answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        )

    client.delete_logged_model(model_id)
    gone = mlflow_env.api("GET", f"logged-models/{model_id}")
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
