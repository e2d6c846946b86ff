"""Logged models and the model registry on the embedded store."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.store.duckdb.store import DuckDBStore


@pytest.fixture
def db(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "store")
    yield store
    store.close()


def _run(db: DuckDBStore) -> str:
    return db.create_run("0", "r", "ana", 1, {}).info.run_id


def test_logged_model_lifecycle_and_search(db: DuckDBStore) -> None:
    run_id = _run(db)
    model = db.create_logged_model("0", "model", run_id, "sklearn", {"alpha": "1"}, {"k": "v"})
    assert model.model_id.startswith("m-")
    assert model.status == "LOGGED_MODEL_PENDING"
    assert model.artifact_uri.endswith(f"0/models/{model.model_id}/artifacts")
    ready = db.finalize_logged_model(model.model_id, "LOGGED_MODEL_READY")
    assert ready.status == "LOGGED_MODEL_READY"
    db.set_logged_model_tags(model.model_id, {"mlflow.modelVersions": "[]"})
    db.delete_logged_model_tag(model.model_id, "k")
    db.log_logged_model_params(model.model_id, {"beta": "2"})
    got = db.get_logged_model(model.model_id)
    assert got.tags == {"mlflow.modelVersions": "[]"}
    assert got.params == {"alpha": "1", "beta": "2"}
    db.log_outputs(run_id, [(model.model_id, 3)])
    assert db.get_run(run_id).outputs == [{"model_id": model.model_id, "step": 3}]
    other = db.create_logged_model("0", "other")
    found, token = db.search_logged_models(["0"], "name = 'model'")
    assert [m.model_id for m in found] == [model.model_id] and token is None
    found, _ = db.search_logged_models(
        ["0"], "params.beta = '2' AND source_run_id = '" + run_id + "'"
    )
    assert [m.model_id for m in found] == [model.model_id]
    page, token = db.search_logged_models(["0"], max_results=1)
    assert len(page) == 1 and token is not None
    rest, _ = db.search_logged_models(["0"], max_results=1, page_token=token)
    assert {page[0].model_id, rest[0].model_id} == {model.model_id, other.model_id}
    with pytest.raises(MltrackError, match="cannot change"):
        db.log_logged_model_params(model.model_id, {"alpha": "9"})
    with pytest.raises(MltrackError, match="status must be"):
        db.finalize_logged_model(model.model_id, "DONE")
    with pytest.raises(MltrackError) as missing:
        db.get_logged_model("m-nope")
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_registry_versions_aliases_stages_and_history(db: DuckDBStore) -> None:
    run_id = _run(db)
    model = db.create_logged_model("0", "model", run_id)
    rm = db.create_registered_model("churn", {"team": "risk"}, "first", user="ana")
    assert rm.name == "churn" and rm.tags == {"team": "risk"}
    with pytest.raises(MltrackError) as dup:
        db.create_registered_model("churn")
    assert dup.value.code == ErrorCode.RESOURCE_ALREADY_EXISTS

    v1 = db.create_model_version(
        "churn", f"models:/{model.model_id}", model_id=model.model_id, user="ana"
    )
    assert (v1.version, v1.run_id, v1.current_stage, v1.status) == ("1", run_id, "None", "READY")
    v2 = db.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id, user="bo")
    assert v2.version == "2"
    assert db.get_model_version_download_uri("churn", 1) == model.artifact_uri
    assert db.get_model_version_download_uri("churn", "2").endswith(f"{run_id}/artifacts/model")

    db.set_registered_model_alias("churn", "champion", 1, user="ana")
    db.set_registered_model_alias("churn", "champion", "2", user="bo")  # move it
    assert db.get_model_version_by_alias("churn", "champion").version == "2"
    assert db.get_registered_model("churn").aliases == {"champion": "2"}
    assert db.get_model_version("churn", 2).aliases == ["champion"]
    with pytest.raises(MltrackError) as unknown_alias:
        db.get_model_version_by_alias("churn", "nope")
    assert unknown_alias.value.code == ErrorCode.INVALID_PARAMETER_VALUE

    db.transition_model_version_stage("churn", 1, "production", user="ana")
    db.transition_model_version_stage("churn", 2, "Production", archive_existing_versions=True)
    assert db.get_model_version("churn", 1).current_stage == "Archived"
    assert db.get_model_version("churn", 2).current_stage == "Production"
    latest = db.get_latest_versions("churn", ["Production"])
    assert [v.version for v in latest] == ["2"]
    assert {v.current_stage for v in db.get_registered_model("churn").latest_versions} == {
        "Archived",
        "Production",
    }

    db.review_model_version("churn", 2, comment="looks good", approval="APPROVED", user="cy")
    assert db.get_model_version("churn", 2).approval == "APPROVED"
    db.set_model_version_tag("churn", 2, "validated", "yes")
    db.delete_model_version_tag("churn", 2, "validated")
    db.update_model_version("churn", 2, "second try")
    db.delete_registered_model_alias("churn", "champion", user="bo")

    alias_events = db.get_registry_history("churn", kinds=["set_alias", "delete_alias"])
    assert [
        (e.kind, e.version, e.user_id, e.detail.get("previous_version")) for e in alias_events
    ] == [
        ("set_alias", "1", "ana", None),
        ("set_alias", "2", "bo", 1),
        ("delete_alias", "2", "bo", None),
    ]
    kinds = [e.kind for e in db.get_registry_history("churn", version=2)]
    assert kinds[0] == "create_version" and "review" in kinds and "transition_stage" in kinds
    review = next(e for e in db.get_registry_history("churn", 2) if e.kind == "review")
    assert review.detail == {
        "comment": "looks good",
        "approval": "APPROVED",
        "previous_approval": "NONE",
    }

    renamed = db.rename_registered_model("churn", "churn-v2", user="ana")
    assert [v.version for v in renamed.latest_versions] == ["1", "2"]
    assert db.get_registry_history("churn-v2")[0].kind == "create_model"
    db.delete_model_version("churn-v2", 1)
    with pytest.raises(MltrackError, match="has no version 1"):
        db.get_model_version("churn-v2", 1)
    db.delete_registered_model("churn-v2", user="ana")
    with pytest.raises(MltrackError, match="no registered model"):
        db.get_registered_model("churn-v2")
    assert db.get_registry_history("churn-v2")[-1].kind == "delete_model"


def test_registry_search_and_prompt_filter(db: DuckDBStore) -> None:
    for name in ("alpha", "beta", "gamma"):
        db.create_registered_model(name)
    db.set_registered_model_tag("gamma", "mlflow.prompt.is_prompt", "true")
    found, _ = db.search_registered_models(
        "name LIKE '%a' AND tag.`mlflow.prompt.is_prompt` != 'true'"
    )
    assert [m.name for m in found] == ["alpha", "beta"]
    page, token = db.search_registered_models(max_results=2, order_by=["name DESC"])
    assert [m.name for m in page] == ["gamma", "beta"] and token
    run_id = _run(db)
    for _ in range(3):
        db.create_model_version("alpha", "s3://x", run_id=run_id)
    found, _ = db.search_model_versions(
        f"name = 'alpha' AND run_id IN ('{run_id}')", order_by=["version_number DESC"]
    )
    assert [v.version for v in found] == ["3", "2", "1"]
    found, _ = db.search_model_versions("version_number > 1 and name = 'alpha'")
    assert sorted(v.version for v in found) == ["2", "3"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda db: db.create_registered_model(""), "must not be empty"),
        (lambda db: db.create_registered_model("x", tags={"bad'key": "v"}), "cannot hold"),
        (lambda db: db.create_registered_model("x", description=3), "must be a string"),
        (lambda db: db.get_registered_model("missing"), "no registered model"),
        (lambda db: db.create_model_version("missing", "s3://x"), "no registered model"),
        (lambda db: db.get_model_version("m", "abc"), "positive integer"),
        (lambda db: db.get_model_version("m", 0), "positive integer"),
        (lambda db: db.get_model_version("m", 7), "has no version 7"),
        (lambda db: db.transition_model_version_stage("m", 1, "Prod"), "stage must be one of"),
        (lambda db: db.set_registered_model_alias("m", "latest", 1), "is reserved"),
        (lambda db: db.set_registered_model_alias("m", "v3", 1), "is reserved"),
        (lambda db: db.set_registered_model_alias("m", "champion", 9), "has no version 9"),
        (lambda db: db.set_registered_model_alias("m", "a b", 1), "letters, digits"),
        (lambda db: db.delete_registered_model_alias("m", "ghost"), "no alias"),
        (lambda db: db.review_model_version("m", 1), "needs a comment"),
        (lambda db: db.review_model_version("m", 1, approval="MAYBE"), "approval must be"),
        (lambda db: db.search_registered_models("name ~ 'x'"), "Invalid filter"),
        (lambda db: db.search_model_versions("metrics.x > 1"), "Invalid filter"),
        (lambda db: db.search_registered_models(max_results=0), "max_results"),
        (lambda db: db.create_model_version("m", "s3://x", run_id="nope"), "no run"),
        (lambda db: db.rename_registered_model("m", "m"), "already exists"),
    ],
)
def test_bad_registry_input_changes_nothing(db: DuckDBStore, call, message: str) -> None:
    db.create_registered_model("m")
    db.create_model_version("m", "s3://bucket/model")
    before = db.get_registry_history("m")
    with pytest.raises(MltrackError, match=message):
        call(db)
    assert db.get_registry_history("m") == before
    assert [v.version for v in db.search_model_versions("name = 'm'")[0]] == ["1"]


def test_concurrent_registrations_get_distinct_versions(db: DuckDBStore) -> None:
    db.create_registered_model("race")
    versions: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(10):
                versions.append(db.create_model_version("race", "s3://x").version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(int(v) for v in versions) == list(range(1, 41))


def test_v1_store_migrates_forward_keeping_data(tmp_path: Path) -> None:
    from jupyter_mltrack.store.duckdb.schema import MIGRATIONS

    path = tmp_path / "old" / "mltrack.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at BIGINT)")
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, 0)")
    con.execute(
        "INSERT INTO runs VALUES ('r1', 0, 'old', 'u', 'FINISHED', 1, 2, 'active', "
        "'0/r1/artifacts', NULL, NULL)"
    )
    con.close()
    store = DuckDBStore(path.parent)
    assert store.info()["schema_version"] == len(MIGRATIONS)
    assert store.get_run("r1").info.run_name == "old"
    store.create_registered_model("after-migration")
    store.close()
