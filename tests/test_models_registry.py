"""log_model, every model URI form, and the registry through the Python API and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.models import fluent
from jupyter_mltrack.models.cli import main as cli_main
from jupyter_mltrack.models.registry_api import ModelRegistry
from jupyter_mltrack.models.save import save_model
from jupyter_mltrack.tracking import context
from jupyter_mltrack.tracking.session import get_session

# Another test's MLflow client can leave MLFLOW_EXPERIMENT_ID behind; the fluent API would
# then log to an experiment this store does not have.
EXPERIMENT_VARS = (
    "MLTRACK_EXPERIMENT_ID",
    "MLTRACK_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
)


@pytest.fixture(autouse=True)
def _no_experiment_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in EXPERIMENT_VARS:
        monkeypatch.delenv(var, raising=False)


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    return x, (x["a"] > x["b"]).astype(int).to_numpy()


def _fit(c: float = 1.0) -> LogisticRegression:
    x, y = _data()
    return LogisticRegression(C=c).fit(x, y)


def _release(store_dir: Path) -> None:
    """Flush and close this process's handle on the store, so subprocesses can open it."""
    session = get_session(store_dir)
    session.flush()
    session.store.close()  # type: ignore[attr-defined]


def test_log_model_and_every_uri_form(store: Path) -> None:
    x, _ = _data()
    model = _fit()
    data_ref = mlt.data.from_pandas(x, name="train")
    context.current.cell_id = "cell-7"
    try:
        with mlt.start_run(run_name="train") as run:
            mlt.log_input(data_ref, context="training")
            info = fluent.log_model(
                model, "model", input_example=x.head(2), registered_model_name="clf"
            )
    finally:
        context.current.cell_id = None
    assert info.model_uri == f"models:/{info.model_id}" and info.run_id == run.info.run_id
    assert info.registered_model_version is not None
    assert info.registered_model_version.version == "1"
    assert info.registered_model_version.model_id == info.model_id
    logged = get_session(store).store.get_logged_model(info.model_id)
    assert logged.status == "LOGGED_MODEL_READY" and logged.model_type == "sklearn"
    assert logged.tags["mltrack.cell_id"] == "cell-7"
    assert get_session(store).store.get_run(run.info.run_id).outputs == [
        {"model_id": info.model_id, "step": 0}
    ]

    reg = fluent.model_registry(user="ana")
    reg.set_alias("clf", "champion", 1)
    reg.transition_stage("clf", 1, "production")
    expected = model.predict(x)
    for uri in (
        info.model_uri,
        info.runs_uri,
        "models:/clf/1",
        "models:/clf@champion",
        "models:/clf/Production",
        "models:/clf/latest",
        str(info.local_path),
        info.local_path.as_uri(),
    ):
        loaded = fluent.load_model(uri)
        np.testing.assert_array_equal(loaded.predict(x), expected, err_msg=uri)
    assert fluent.load_model("models:/clf/1").model_id == info.model_id

    lineage = reg.lineage("clf", 1)
    assert lineage["run"].info.run_name == "train"
    assert lineage["logged_model"].model_id == info.model_id
    assert [d.dataset.name for d in lineage["datasets"]] == ["train"]


def test_bad_uris_give_clear_errors(store: Path) -> None:
    with mlt.start_run() as run:
        fluent.log_model(_fit(), "model", registered_model_name="clf")
    cases = [
        ("models:/clf", "names no version"),
        ("models:/", "names no model"),
        ("models:/clf/champion", "to name an alias write models:/<name>@champion"),
        ("models:/clf/0", "must be a positive integer"),
        ("models:/clf@", "has an empty alias"),
        ("models:/clf@nope", "has no alias 'nope'"),
        ("models:/clf/Staging", "has no version in stage Staging"),
        ("runs:/", "names no run"),
        (f"runs:/{run.info.run_id}/other", "logged no model named 'other'"),
        ("ftp://host/model", "only local files and file:// URIs"),
        ("", "must be a non-empty string"),
    ]
    for uri, message in cases:
        with pytest.raises(MltrackError, match=message):
            fluent.load_model(uri)
    missing = [
        ("models:/nope/1", "no registered model named 'nope'"),
        ("models:/clf/9", "has no version 9"),
        ("models:/m-0000", "no logged model with id 'm-0000'"),
        (str(store / "nowhere"), "no model at"),
    ]
    for uri, message in missing:
        with pytest.raises(MltrackError, match=message) as caught:
            fluent.load_model(uri)
        assert caught.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST, uri
    with pytest.raises(MltrackError, match="is not a model directory: it has no MLmodel file"):
        fluent.load_model(str(store))
    with pytest.raises(MltrackError, match="model name 'a/b' must not contain '/'"):
        fluent.log_model(_fit(), "a/b")


def test_registry_aliases_stages_reviews_and_history(store: Path) -> None:
    versions = []
    for c in (0.1, 1.0, 10.0):
        with mlt.start_run():
            info = fluent.log_model(_fit(c), "model", registered_model_name="fraud")
            assert info.registered_model_version is not None
            versions.append(info.registered_model_version.version)
    assert versions == ["1", "2", "3"]
    ana, ben = fluent.model_registry(user="ana"), fluent.model_registry(user="ben")

    ana.update_registered_model("fraud", "catches fraud")
    ana.set_registered_model_tag("fraud", "team", "risk")
    ana.set_alias("fraud", "champion", 1)
    ben.set_alias("fraud", "champion", 2)  # moves it
    ana.set_alias("fraud", "challenger", 3)
    assert ana.get_version("fraud", "@champion").version == "2"
    assert ana.get_version("fraud", "champion").version == "2"
    ben.delete_alias("fraud", "challenger")
    with pytest.raises(MltrackError, match="has no alias 'challenger'"):
        ana.get_version_by_alias("fraud", "challenger")

    spans = ana.alias_history("fraud")
    assert [(s.alias, s.version, s.set_by, s.ended_by) for s in spans] == [
        ("champion", "1", "ana", "ben"),
        ("champion", "2", "ben", None),
        ("challenger", "3", "ana", "ben"),
    ]
    assert spans[0].until == spans[1].since and spans[1].until is None
    assert [s.version for s in ana.alias_history("fraud", "champion")] == ["1", "2"]

    ana.transition_stage("fraud", 1, "Production")
    ben.transition_stage("fraud", 2, "production", archive_existing_versions=True)
    assert ana.get_model_version("fraud", 1).current_stage == "Archived"
    assert ana.get_version("fraud", "Production").version == "2"

    ana.comment("fraud", 2, "AUC up 3 points on the holdout")
    ben.approve("fraud", 2, "looks good")
    ben.reject("fraud", 3)
    assert ana.get_model_version("fraud", 2).approval == "APPROVED"
    assert ana.get_model_version("fraud", 3).approval == "REJECTED"
    trail = ana.reviews("fraud", 2)
    assert [(e.user_id, e.detail["comment"], e.detail["approval"]) for e in trail] == [
        ("ana", "AUC up 3 points on the holdout", None),
        ("ben", "looks good", "APPROVED"),
    ]

    stages = ana.history("fraud", kinds=["transition_stage"])
    assert [(e.version, e.detail["new"], e.user_id) for e in stages] == [
        ("1", "Production", "ana"),
        ("1", "Archived", "ben"),
        ("2", "Production", "ben"),
    ]
    everything = ana.history("fraud")
    assert all(e.time > 0 and e.user_id for e in everything)
    assert [e.seq for e in everything] == sorted(e.seq for e in everything)

    ana.rename_registered_model("fraud", "fraud-v2")
    assert ana.get_version("fraud-v2", "champion").version == "2"
    assert [s.version for s in ana.alias_history("fraud-v2", "champion")] == ["1", "2"]
    ana.delete_model_version("fraud-v2", 3)
    assert [v.version for v in ana.list_versions("fraud-v2")] == ["1", "2"]
    ana.delete_registered_model("fraud-v2")
    with pytest.raises(MltrackError) as gone:
        ana.get_registered_model("fraud-v2")
    assert gone.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert ana.history("fraud-v2")[-1].kind == "delete_model"  # the trail outlives the model


def test_registry_refuses_bad_input(store: Path, tmp_path: Path) -> None:
    with mlt.start_run():
        fluent.log_model(_fit(), "model", registered_model_name="m")
    reg = fluent.model_registry(user="ana")
    with pytest.raises(MltrackError, match="approval must be one of"):
        reg.review("m", 1, approval="MAYBE")
    with pytest.raises(MltrackError, match="a comment must be non-empty text"):
        reg.comment("m", 1, "  ")
    with pytest.raises(MltrackError, match="stage must be one of"):
        reg.transition_stage("m", 1, "Prod")
    with pytest.raises(MltrackError, match="archive_existing_versions must be True or False"):
        reg.transition_stage("m", 1, "Staging", archive_existing_versions="yes")  # type: ignore[arg-type]
    with pytest.raises(MltrackError, match="alias 'latest' is reserved"):
        reg.set_alias("m", "latest", 1)
    with pytest.raises(MltrackError, match="has no version 5"):
        reg.set_alias("m", "champion", 5)
    with pytest.raises(MltrackError, match="user must be a non-empty string"):
        ModelRegistry(get_session(store).store, user=" ")
    with pytest.raises(MltrackError, match="max_results must be a positive integer"):
        reg.search_registered_models(max_results=0)
    with pytest.raises(MltrackError, match="kinds must be a list"):
        reg.history("m", kinds="review")  # type: ignore[arg-type]
    with pytest.raises(MltrackError, match="has no MLmodel file"):
        fluent.register_model(str(tmp_path), "m")
    # a log_model call that cannot succeed writes nothing to the store
    with mlt.start_run(), pytest.raises(MltrackError, match="flavor='pytorch' cannot"):
        fluent.log_model(_fit(), "doomed", flavor="pytorch")
    with mlt.start_run(), pytest.raises(MltrackError, match="pip_requirements must be a list"):
        fluent.log_model(_fit(), "doomed", pip_requirements=42)  # type: ignore[arg-type]
    found, _ = get_session(store).store.search_logged_models(["0"], "name = 'doomed'")
    assert found == []
    with pytest.raises(MltrackError, match="model_uri must be a non-empty string"):
        fluent.register_model("", "m")


def test_model_in_run_artifacts_by_runs_uri(store: Path, tmp_path: Path) -> None:
    """A model directory logged as plain run artifacts (MLflow 2's layout) loads too."""
    x, _ = _data()
    model = _fit()
    save_model(model, tmp_path / "m", input_example=x.head(2))
    with mlt.start_run() as run:
        mlt.log_artifacts(tmp_path / "m", "legacy")
    uri = f"runs:/{run.info.run_id}/legacy"
    np.testing.assert_array_equal(fluent.load_model(uri).predict(x), model.predict(x))
    version = fluent.register_model(uri, "legacy")
    assert version.source == uri and version.model_id is None
    assert version.run_id == run.info.run_id
    np.testing.assert_array_equal(
        fluent.load_model("models:/legacy/1").predict(x), model.predict(x)
    )


def test_register_local_directory_copies_it_into_the_store(
    store: Path,
    tmp_path: Path,
) -> None:
    x, _ = _data()
    model = _fit()
    save_model(model, tmp_path / "outside", input_example=x.head(2))
    version = fluent.register_model(tmp_path / "outside", "imported", description="from disk")
    assert version.source.startswith("models:/m-") and version.model_id
    assert version.description == "from disk"
    shutil.rmtree(tmp_path / "outside")  # the registry kept its own copy
    np.testing.assert_array_equal(
        fluent.load_model("models:/imported/1").predict(x), model.predict(x)
    )
    # registering an existing version again makes a new version of the same files
    again = fluent.register_model("models:/imported/1", "imported")
    assert again.version == "2" and again.model_id == version.model_id


# --- the CLI ---------------------------------------------------------------------------------
def _cli(store_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The model commands in a subprocess, as a user runs them."""
    env = {**os.environ, "MLTRACK_STORE": str(store_dir), "MLTRACK_USER": "cli-user"}
    for var in ("MLTRACK_SERVER_URL", *EXPERIMENT_VARS):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mltrack.models.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class InProcessCli:
    """The same commands through ``main()`` in this process (a subprocess costs ~2 s here)."""

    def __init__(self, store_dir: Path, capsys: pytest.CaptureFixture[str]):
        self.store_dir, self.capsys = store_dir, capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = cli_main(["--store", str(self.store_dir), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> dict:
        code, out, err = self("--json", *args)
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]


def test_cli_registry_commands(
    store: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLTRACK_USER", "cli-user")
    with mlt.start_run() as run:
        info = fluent.log_model(_fit(), "model")
    cli = InProcessCli(store, capsys)

    code, out, err = cli("models", "register", info.runs_uri, "churn", "--tag", "team=growth")
    assert code == 0, err
    assert "registered churn version 1" in out
    steps = [
        ("models", "register", info.model_uri, "churn"),
        ("models", "alias", "churn", "champion", "1"),
        ("models", "alias", "churn", "champion", "2"),
        ("models", "stage", "churn", "2", "Staging"),
        ("models", "review", "churn", "2", "-m", "ship it", "--approve"),
        ("models", "describe", "churn", "predicts churn"),
        ("models", "tag", "churn", "owner=ana", "--version", "2"),
    ]
    for step in steps:
        code, _, err = cli(*step)
        assert code == 0, (step, err)

    shown = cli.json("models", "show", "churn")
    assert shown["model"]["description"] == "predicts churn"
    assert [(v["version"], v["current_stage"], v["approval"]) for v in shown["versions"]] == [
        ("1", "None", "NONE"),
        ("2", "Staging", "APPROVED"),
    ]
    assert shown["versions"][0]["run_id"] == run.info.run_id
    assert shown["versions"][0]["tags"] == {"team": "growth"}
    one = cli.json("models", "show", "churn", "-v", "@champion")
    assert one["version"]["version"] == "2" and one["version"]["tags"] == {"owner": "ana"}

    _, history, _ = cli("models", "history", "churn")
    assert "cli-user" in history and "transition_stage" in history and "ship it" in history
    aliases = cli.json("models", "history", "churn", "--aliases")
    assert [(a["version"], a["set_by"]) for a in aliases["aliases"]] == [
        ("1", "cli-user"),
        ("2", "cli-user"),
    ]
    _, lineage, _ = cli("models", "lineage", "churn", "1")
    assert run.info.run_id in lineage and info.model_id in lineage

    bad = [
        (("models", "alias", "churn", "champion"), "give the version"),
        (("models", "stage", "churn", "2", "Prod"), "stage must be one of"),
        (("models", "review", "churn", "2"), "a review needs --comment"),
        (("models", "delete", "churn"), "add --yes to confirm"),
        (("models", "show", "nope"), "no registered model named 'nope'"),
        (("models", "tag", "churn", "novalue"), "a tag must be written KEY=VALUE"),
        (("models", "register", "models:/churn/7", "x"), "has no version 7"),
    ]
    for args, message in bad:
        code, _, err = cli(*args)
        assert code == 2 and message in err, (args, err)
    code, out, _ = cli("models", "delete", "churn", "--version", "1", "--yes")
    assert code == 0 and "deleted churn version 1" in out

    # and as a user runs it: a separate process on the same store
    _release(store)
    listed = _cli(store, "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "churn" in listed.stdout and "champion=2" in listed.stdout
    refused = _cli(store, "models", "alias", "churn", "champion", "9")
    assert refused.returncode == 2 and "has no version 9" in refused.stderr
    assert "Traceback" not in refused.stderr


# --- concurrent registration -----------------------------------------------------------------
REGISTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jupyter_mltrack.models.registry_api import ModelRegistry
    from jupyter_mltrack.tracking.session import get_session
    uri, count, me, barrier = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    store = get_session().store
    reg = ModelRegistry(store, user=f"proc-{me}")
    # start together: announce readiness, then wait until both processes are ready
    (barrier / me).touch()
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    versions = []
    for _ in range(count):
        versions.append(reg.register_model(uri, "shared").version)
        store.close()  # let the other process at the file between registrations
    print(" ".join(versions))
    """
)


def test_two_processes_registering_one_name_get_distinct_versions(
    store: Path,
    tmp_path: Path,
) -> None:
    with mlt.start_run():
        info = fluent.log_model(_fit(), "model")
    _release(store)
    env = {**os.environ, "MLTRACK_STORE": str(store)}
    for var in ("MLTRACK_SERVER_URL", *EXPERIMENT_VARS):
        env.pop(var, None)
    count = 15
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTER, info.model_uri, str(count), str(i), str(barrier)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    got: list[int] = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        got += [int(v) for v in out.split()]
    assert sorted(got) == list(range(1, 2 * count + 1))
    reg = fluent.model_registry()
    versions = reg.list_versions("shared")
    assert [v.version for v in versions] == [str(n) for n in range(1, 2 * count + 1)]
    assert {v.user_id for v in versions} == {"proc-0", "proc-1"}
    creations = reg.history("shared", kinds=["create_model"])
    assert len(creations) == 1  # exactly one process created the model
