"""The registry contract on both stores, the native registry routes, and models over REST.

- Every registry method (logged models, registered models, versions, aliases, stages,
  reviews, history) runs on the embedded :class:`DuckDBStore` and on a :class:`RestStore`
  talking to a real tracking server, with the same results and the same error codes.
- Each registry route answers as ``openapi.yaml`` documents it.
- Who acted: always the authenticated identity (the server's owner under Jupyter's shared
  token, the named user under any other identity provider); a different declared user only as
  "<identity> (on behalf of <user>)".
- End to end: a script whose store is owned by a server logs a scikit-learn model with
  ``mlt.log_model(..., registered_model_name=...)``, sets an alias and loads it back by
  ``models:/<name>@<alias>``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import yaml
from test_server_openapi import SPEC_PATH, VERBS, SpecChecker

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.models.registry_api import current_user
from jupyter_mltrack.models.uris import file_uri_to_path
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.rest.store import RestStore

if TYPE_CHECKING:
    from conftest import TrackingServer

Store = Any  # DuckDBStore | RestStore: the same registry methods


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _by(store: Store, user: str) -> str:
    """The user the history records for a call made with ``user=user``: the user itself on
    the embedded store; over REST the server's identity (its owner's login, under Jupyter's
    token), the declared user only as who it acted for."""
    if isinstance(store, DuckDBStore) or user == current_user():
        return user
    return f"{current_user()} (on behalf of {user})"


def _code(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ErrorCode:
    with pytest.raises(MltrackError) as info:
        fn(*args, **kwargs)
    return info.value.code


def _run(store: Store, experiment_id: str) -> str:
    return str(store.create_run(experiment_id, "r", "ana", int(time.time() * 1000), {}).info.run_id)


# logged models -------------------------------------------------------------------------------


def test_logged_model_lifecycle(store: Store) -> None:
    exp = store.create_experiment(_unique("lm"))
    run_id = _run(store, exp)
    model = store.create_logged_model(
        exp, "model", run_id, "sklearn", {"alpha": 1}, {"k": "v", "n": 2}
    )
    assert model.model_id.startswith("m-") and model.status == "LOGGED_MODEL_PENDING"
    assert (model.experiment_id, model.source_run_id, model.model_type) == (exp, run_id, "sklearn")
    # values become strings, as the embedded store keeps them
    assert (model.params, model.tags) == ({"alpha": "1"}, {"k": "v", "n": "2"})
    assert model.artifact_uri.endswith(f"/models/{model.model_id}/artifacts")
    assert store.get_logged_model(model.model_id) == model

    ready = store.finalize_logged_model(model.model_id, "LOGGED_MODEL_READY")
    assert ready.status == "LOGGED_MODEL_READY"
    store.set_logged_model_tags(model.model_id, {"mlflow.modelVersions": "[]"})
    store.delete_logged_model_tag(model.model_id, "k")
    store.log_logged_model_params(model.model_id, {"beta": "2", "alpha": "1"})
    got = store.get_logged_model(model.model_id)
    assert got.tags == {"n": "2", "mlflow.modelVersions": "[]"}
    assert got.params == {"alpha": "1", "beta": "2"}

    store.log_outputs(run_id, [(model.model_id, 3)])
    assert store.get_run(run_id).outputs == [{"model_id": model.model_id, "step": 3}]

    store.delete_logged_model(model.model_id)
    assert _code(store.get_logged_model, model.model_id) == ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_logged_model_search_and_paging(store: Store) -> None:
    exp = store.create_experiment(_unique("lm-search"))
    run_id = _run(store, exp)
    first = store.create_logged_model(exp, "model", run_id, params={"beta": "2"})
    second = store.create_logged_model(exp, "other")
    found, token = store.search_logged_models([exp], "name = 'model'")
    assert [m.model_id for m in found] == [first.model_id] and token is None
    found, _ = store.search_logged_models(
        [exp], f"params.beta = '2' AND source_run_id = '{run_id}'"
    )
    assert [m.model_id for m in found] == [first.model_id]
    page, token = store.search_logged_models([exp], max_results=1, order_by=["name ASC"])
    assert [m.name for m in page] == ["model"] and token is not None
    rest, token = store.search_logged_models(
        [exp], max_results=1, order_by=["name ASC"], page_token=token
    )
    assert [m.model_id for m in rest] == [second.model_id] and token is None
    assert store.search_logged_models([], "name = 'model'") == ([], None)


def test_logged_model_errors(store: Store) -> None:
    exp = store.create_experiment(_unique("lm-bad"))
    model = store.create_logged_model(exp, "model", params={"alpha": "1"})
    missing = "m-" + uuid.uuid4().hex
    for call, args in [
        (store.get_logged_model, (missing,)),
        (store.finalize_logged_model, (missing, "LOGGED_MODEL_READY")),
        (store.set_logged_model_tags, (missing, {"a": "b"})),
        (store.delete_logged_model_tag, (missing, "a")),
        (store.log_logged_model_params, (missing, {"a": "b"})),
        (store.delete_logged_model, (missing,)),
        (store.log_outputs, (_run(store, exp), [(missing, 0)])),
        (store.log_outputs, ("no-such-run", [(model.model_id, 0)])),
        (store.create_logged_model, ("987654", "model")),
        (store.create_logged_model, (exp, "model", "no-such-run")),
    ]:
        assert _code(call, *args) == ErrorCode.RESOURCE_DOES_NOT_EXIST, call.__name__
    invalid = ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.finalize_logged_model, model.model_id, "DONE") == invalid
    assert _code(store.log_logged_model_params, model.model_id, {"alpha": "9"}) == invalid
    assert _code(store.create_logged_model, exp, "") == invalid
    assert _code(store.create_logged_model, exp, "m", tags={"bad\nkey": "v"}) == invalid
    assert _code(store.create_logged_model, exp, "m", tags="not a dict") == invalid
    assert _code(store.set_logged_model_tags, model.model_id, {1: "v"}) == invalid
    assert _code(store.get_logged_model, "") == invalid
    assert _code(store.search_logged_models, [exp], "name ~ 'x'") == invalid
    assert _code(store.search_logged_models, [exp], max_results=0) == invalid
    assert _code(store.search_logged_models, [exp], page_token="not-a-token") == invalid
    # nothing of the refused changes happened
    assert store.get_logged_model(model.model_id).params == {"alpha": "1"}
    assert store.get_logged_model(model.model_id).status == "LOGGED_MODEL_PENDING"


# registered models ---------------------------------------------------------------------------


def test_registered_model_lifecycle(store: Store) -> None:
    name = _unique("churn")
    created = store.create_registered_model(name, {"team": "risk"}, "first", user="ana")
    assert (created.name, created.tags, created.description) == (name, {"team": "risk"}, "first")
    assert created.aliases == {} and created.latest_versions == []
    assert store.get_registered_model(name) == created
    assert _code(store.create_registered_model, name) == ErrorCode.RESOURCE_ALREADY_EXISTS

    updated = store.update_registered_model(name, "second", user="bo")
    assert updated.description == "second"
    store.set_registered_model_tag(name, "stage", 3, user="bo")
    store.delete_registered_model_tag(name, "team", user="bo")
    assert store.get_registered_model(name).tags == {"stage": "3"}
    assert store.update_registered_model(name, None).description is None

    # a name with a space, a slash and dots travels in a URL path segment
    new_name = f"team a/{name}/../v1.0"
    renamed = store.rename_registered_model(name, new_name, user="cy")
    assert renamed.name == new_name and renamed.tags == {"stage": "3"}
    assert _code(store.get_registered_model, name) == ErrorCode.RESOURCE_DOES_NOT_EXIST
    other = store.create_registered_model(_unique("other"))
    code = _code(store.rename_registered_model, other.name, new_name)
    assert code == ErrorCode.RESOURCE_ALREADY_EXISTS

    store.delete_registered_model(new_name, user="cy")
    assert _code(store.get_registered_model, new_name) == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert _code(store.delete_registered_model, new_name) == ErrorCode.RESOURCE_DOES_NOT_EXIST
    history = store.get_registry_history(new_name)
    assert [(e.kind, e.user_id) for e in history] == [
        ("create_model", _by(store, "ana")),
        ("update_description", _by(store, "bo")),
        ("set_tag", _by(store, "bo")),
        ("delete_tag", _by(store, "bo")),
        ("update_description", None if isinstance(store, DuckDBStore) else current_user()),
        ("rename", _by(store, "cy")),
        ("delete_model", _by(store, "cy")),
    ]


def test_registered_model_search_and_paging(store: Store) -> None:
    prefix = _unique("search")
    for suffix in ("alpha", "beta", "gamma"):
        store.create_registered_model(f"{prefix}-{suffix}", {"kind": suffix[0]})
    found, token = store.search_registered_models(f"name LIKE '{prefix}-%'", 2, ["name DESC"])
    assert [m.name for m in found] == [f"{prefix}-gamma", f"{prefix}-beta"]
    rest, token2 = store.search_registered_models(
        f"name LIKE '{prefix}-%'", 2, ["name DESC"], token
    )
    assert [m.name for m in rest] == [f"{prefix}-alpha"] and token2 is None
    found, _ = store.search_registered_models(f"name LIKE '{prefix}-%' AND tags.kind = 'b'")
    assert [m.name for m in found] == [f"{prefix}-beta"]

    invalid = ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.search_registered_models, "name = ") == invalid
    assert _code(store.search_registered_models, None, 0) == invalid
    assert _code(store.search_registered_models, None, 100, ["nope DESC"]) == invalid
    assert _code(store.search_registered_models, None, 100, None, "???") == invalid


@pytest.mark.parametrize(
    "name", ["", None, 5], ids=["empty", "none", "number"]
)  # a name that is not a non-empty string
def test_bad_names_are_invalid_everywhere(store: Store, name: Any) -> None:
    invalid = ErrorCode.INVALID_PARAMETER_VALUE
    assert _code(store.create_registered_model, name) == invalid
    assert _code(store.get_registered_model, name) == invalid
    assert _code(store.get_model_version, name, 1) == invalid
    assert _code(store.get_registry_history, name) == invalid
    assert _code(store.delete_registered_model, name) == invalid


# versions, stages, aliases, reviews, history -------------------------------------------------


def test_versions_stages_aliases_reviews_and_history(store: Store) -> None:
    exp = store.create_experiment(_unique("mv"))
    run_id = _run(store, exp)
    logged = store.create_logged_model(exp, "model", run_id)
    name = f"{_unique('reg')} / with space"
    store.create_registered_model(name, user="ana")

    v1 = store.create_model_version(
        name, f"models:/{logged.model_id}", model_id=logged.model_id, user="ana"
    )
    # the logged model's run is filled in for it
    assert (v1.version, v1.run_id, v1.model_id, v1.current_stage) == (
        "1",
        run_id,
        logged.model_id,
        "None",
    )
    v2 = store.create_model_version(
        name, f"runs:/{run_id}/model", run_id, {"t": 1}, "http://link", "two", user="bo"
    )
    assert (v2.version, v2.tags, v2.run_link, v2.description) == ("2", {"t": "1"}, "http://link",
                                                                   "two")  # fmt: skip
    assert store.get_model_version(name, "2") == v2
    assert store.get_model_version_download_uri(name, 1) == logged.artifact_uri
    run_uri = store.get_run(run_id).info.artifact_uri
    assert store.get_model_version_download_uri(name, "2") == f"{run_uri}/model"

    assert store.update_model_version(name, 2, "second", user="bo").description == "second"
    store.set_model_version_tag(name, 2, "validated", True, user="bo")
    store.delete_model_version_tag(name, 2, "t", user="bo")
    assert store.get_model_version(name, 2).tags == {"validated": "True"}

    store.set_registered_model_alias(name, "champion", 1, user="ana")
    store.set_registered_model_alias(name, "champion", "2", user="bo")  # moved
    assert store.get_model_version_by_alias(name, "champion").version == "2"
    assert store.get_registered_model(name).aliases == {"champion": "2"}
    assert store.get_model_version(name, 2).aliases == ["champion"]

    moved = store.transition_model_version_stage(name, 1, "production", user="ana")
    assert moved.current_stage == "Production"
    store.transition_model_version_stage(name, 2, "Production", True, user="cy")
    assert store.get_model_version(name, 1).current_stage == "Archived"
    assert [v.version for v in store.get_latest_versions(name, ["production"])] == ["2"]
    assert [v.current_stage for v in store.get_latest_versions(name)] == [
        "Archived",
        "Production",
    ]
    assert [v.version for v in store.get_registered_model(name).latest_versions] == ["1", "2"]

    reviewed = store.review_model_version(name, 2, "looks good", "APPROVED", user="dee")
    assert reviewed.approval == "APPROVED"
    assert store.review_model_version(name, 2, comment="ship it", user="eve").approval == (
        "APPROVED"
    )

    found, token = store.search_model_versions(f"name = '{name}'", 1, ["version_number DESC"])
    assert [v.version for v in found] == ["2"] and token is not None
    found, _ = store.search_model_versions(f"name = '{name}'", page_token=token, max_results=1)
    assert [v.version for v in found] == ["1"]
    found, _ = store.search_model_versions(f"run_id = '{run_id}' AND name = '{name}'")
    assert {v.version for v in found} == {"1", "2"}

    alias_events = store.get_registry_history(name, kinds=["set_alias", "delete_alias"])
    store.delete_registered_model_alias(name, "champion", user="bo")
    assert store.get_registered_model(name).aliases == {}
    events = store.get_registry_history(name, kinds=["set_alias", "delete_alias"])
    assert [(e.kind, e.version, e.user_id, e.detail.get("previous_version")) for e in events] == [
        ("set_alias", "1", _by(store, "ana"), None),
        ("set_alias", "2", _by(store, "bo"), 1),
        ("delete_alias", "2", _by(store, "bo"), None),
    ]
    assert events[:2] == alias_events
    reviews = store.get_registry_history(name, 2, ["review"])
    assert [(e.user_id, e.detail["comment"], e.detail["approval"]) for e in reviews] == [
        (_by(store, "dee"), "looks good", "APPROVED"),
        (_by(store, "eve"), "ship it", None),
    ]
    kinds = [e.kind for e in store.get_registry_history(name, version="1")]
    assert kinds == ["create_version", "set_alias", "transition_stage", "transition_stage"]
    assert all(e.name == name for e in store.get_registry_history(name))

    store.delete_model_version(name, 1, user="ana")
    assert _code(store.get_model_version, name, 1) == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert [v.version for v in store.get_registered_model(name).latest_versions] == ["2"]


def test_version_and_alias_errors(store: Store) -> None:
    name = _unique("errs")
    store.create_registered_model(name)
    version = store.create_model_version(name, "s3://bucket/somewhere").version
    missing_model = _unique("missing")
    not_found = ErrorCode.RESOURCE_DOES_NOT_EXIST
    for call, args in [
        (store.get_model_version, (name, 99)),
        (store.get_model_version, (missing_model, 1)),
        (store.create_model_version, (missing_model, "s3://bucket/x")),
        (store.create_model_version, (name, "runs:/nope/model", "no-such-run")),
        (store.create_model_version, (name, "models:/m-x", None, None, None, None, "m-nope")),
        (store.update_model_version, (name, 99, "d")),
        (store.delete_model_version, (name, 99)),
        (store.transition_model_version_stage, (name, 99, "Staging")),
        (store.set_model_version_tag, (name, 99, "k", "v")),
        (store.delete_model_version_tag, (name, 99, "k")),
        (store.set_registered_model_alias, (name, "champion", 99)),
        (store.get_model_version_download_uri, (name, 99)),
        (store.review_model_version, (name, 99, "hm")),
        (store.get_latest_versions, (missing_model,)),
        (store.get_model_version_by_alias, (missing_model, "champion")),
        (store.get_registry_history, (missing_model,)),
        (store.get_registry_history, (name, 99)),
        (store.update_registered_model, (missing_model, "d")),
        (store.set_registered_model_tag, (missing_model, "k", "v")),
        (store.delete_registered_model_alias, (missing_model, "champion")),
    ]:
        assert _code(call, *args) == not_found, (call.__name__, args)

    invalid = ErrorCode.INVALID_PARAMETER_VALUE
    for call, args in [
        (store.get_model_version, (name, "abc")),
        (store.get_model_version, (name, 0)),
        (store.get_model_version, (name, "")),
        (store.transition_model_version_stage, (name, version, "Live")),
        (store.transition_model_version_stage, (name, version, None)),
        (store.get_latest_versions, (name, ["Live"])),
        (store.set_registered_model_alias, (name, "latest", version)),
        (store.set_registered_model_alias, (name, "12", version)),
        (store.set_registered_model_alias, (name, "a b", version)),
        (store.set_registered_model_alias, (name, "a/b", version)),
        (store.set_registered_model_alias, (name, "", version)),
        (store.get_model_version_by_alias, (name, "nope")),  # as MLflow answers
        (store.get_model_version_by_alias, (name, "")),
        (store.delete_registered_model_alias, (name, "nope")),
        (store.review_model_version, (name, version)),
        (store.review_model_version, (name, version, None, "MAYBE")),
        (store.create_model_version, (name, "")),
        (store.create_registered_model, ("bad\x01name",)),
        (store.update_registered_model, (name, 5)),
        (store.set_registered_model_tag, (name, "", "v")),
        (store.set_model_version_tag, (name, version, "bad\nkey", "v")),
        (store.search_model_versions, ("version_number >",)),
        (store.search_model_versions, (None, 0)),
        (store.get_registry_history, (name, "x")),
    ]:
        assert _code(call, *args) == invalid, (call.__name__, args)
    # nothing of the refused changes happened
    mv = store.get_model_version(name, version)
    assert (mv.current_stage, mv.aliases, mv.approval) == ("None", [], "NONE")
    assert [e.kind for e in store.get_registry_history(name)] == ["create_model",
                                                                  "create_version"]  # fmt: skip


def test_history_records_the_acting_user(store: Store) -> None:
    name = _unique("who")
    store.create_registered_model(name, user="ana")
    store.create_registered_model(_unique("nobody"))  # no user declared
    store.set_registered_model_tag(name, "k", "v")
    events = store.get_registry_history(name)
    assert events[0].user_id == _by(store, "ana")
    # without a declared user: none on the embedded store; the server's own user over REST
    # (Jupyter's shared token identifies the server's owner, not a person)
    expected = None if isinstance(store, DuckDBStore) else current_user()
    assert events[1].user_id == expected


# the routes themselves -----------------------------------------------------------------------


def test_registry_routes_answer_as_documented(tracking_server: TrackingServer) -> None:
    spec = dict(yaml.safe_load(SPEC_PATH.read_text()))
    call = SpecChecker(spec, tracking_server)
    exp_id = call("post", "/api/experiments", 201, json={"name": _unique("spec-reg")}).json()[
        "experiment"
    ]["experiment_id"]
    run_id = call("post", "/api/runs", 201, json={"experiment_id": exp_id}).json()["run"]["info"][
        "run_id"
    ]
    logged = call("post", "/api/logged-models", 201, json={
        "experiment_id": exp_id, "name": "model", "source_run_id": run_id,
        "params": {"a": "1"}, "tags": {"t": "1"},
    }).json()["logged_model"]  # fmt: skip
    m = {"model_id": logged["model_id"]}
    call("get", "/api/logged-models", params={"experiment_id": exp_id, "filter": "name='model'"})
    call("get", "/api/logged-models/{model_id}", path_args=m)
    call("patch", "/api/logged-models/{model_id}", path_args=m,
         json={"status": "LOGGED_MODEL_READY", "tags": {"t": None, "u": "2"}})  # fmt: skip
    call("post", "/api/logged-models/{model_id}/params", path_args=m, json={"params": {"b": "2"}})
    call("post", "/api/runs/{run_id}/outputs", path_args={"run_id": run_id},
         json={"outputs": [{"model_id": logged["model_id"], "step": 1}]})  # fmt: skip

    name = _unique("spec") + "/a b"
    n = {"name": quote(name, safe="")}
    user = {"user": "spec-user"}
    call("post", "/api/registered-models", 201, params=user,
         json={"name": name, "description": "d", "tags": {"k": "v"}})  # fmt: skip
    call("get", "/api/registered-models", params={"filter": f"name = '{name}'"})
    call("get", "/api/registered-models/{name}", path_args=n)
    call("patch", "/api/registered-models/{name}", path_args=n, params=user,
         json={"description": None, "tags": {"k": None, "l": "w"}})  # fmt: skip
    version = call("post", "/api/registered-models/{name}/versions", 201, path_args=n,
                   params=user, json={"source": f"models:/{logged['model_id']}",
                                      "model_id": logged["model_id"]})  # fmt: skip
    v = {**n, "version": version.json()["model_version"]["version"]}
    call("get", "/api/registered-models/{name}/versions/{version}", path_args=v)
    call("patch", "/api/registered-models/{name}/versions/{version}", path_args=v,
         json={"description": "x", "tags": {"q": "1"}})  # fmt: skip
    call("patch", "/api/registered-models/{name}/versions/{version}/stage", path_args=v,
         json={"stage": "staging", "archive_existing_versions": False})  # fmt: skip
    call("post", "/api/registered-models/{name}/versions/{version}/reviews", path_args=v,
         json={"comment": "ok", "approval": "APPROVED"})  # fmt: skip
    uri = call("get", "/api/registered-models/{name}/versions/{version}/download-uri",
               path_args=v).json()["artifact_uri"]  # fmt: skip
    assert uri == logged["artifact_uri"]
    call("get", "/api/registered-models/{name}/latest-versions", path_args=n,
         params={"stage": "Staging"})  # fmt: skip
    call("get", "/api/model-versions", params={"filter": f"name = '{name}'"})
    a = {**n, "alias": "champion"}
    call("put", "/api/registered-models/{name}/aliases/{alias}", path_args=a,
         json={"version": v["version"]})  # fmt: skip
    call("get", "/api/registered-models/{name}/aliases/{alias}", path_args=a)
    call("delete", "/api/registered-models/{name}/aliases/{alias}", path_args=a)
    events = call("get", "/api/registered-models/{name}/history", path_args=n,
                  params={"kind": "create_model"}).json()["events"]  # fmt: skip
    by = f"{current_user()} (on behalf of spec-user)"
    assert [(e["kind"], e["user_id"]) for e in events] == [("create_model", by)]
    # errors answer in the documented shape too
    call("patch", "/api/registered-models/{name}/versions/{version}/stage", 400,
         path_args={**n, "version": "one"}, json={"stage": "Staging"})  # fmt: skip
    call("post", "/api/registered-models", 400, json={"name": "x", "colour": "red"})

    call("delete", "/api/registered-models/{name}/versions/{version}", path_args=v)
    call("delete", "/api/registered-models/{name}", path_args=n)
    call("delete", "/api/logged-models/{model_id}", path_args=m)
    call("get", "/api/registered-models/{name}", 404, path_args=n)
    call("put", "/api/registered-models/{name}/aliases/{alias}", 400, path_args=a,
         json={"version": True})  # fmt: skip
    call("post", "/api/runs/{run_id}/outputs", 400, path_args={"run_id": run_id},
         json={"outputs": [{"model_id": 5}]})  # fmt: skip
    call("post", "/api/logged-models", 400, json={"name": "m", "params": {"a": 1}})

    ours = {"models", "registry"}
    registry_ops = {(path, verb) for path, item in spec["paths"].items() for verb in VERBS
                    if verb in item and set(item[verb]["tags"]) & ours}  # fmt: skip
    assert registry_ops - call.called == set()
    assert tracking_server.server_errors() == []


def test_server_with_named_users_records_them_not_the_claim(
    tracking_server_factory: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    # an identity provider that names people (as JupyterHub's does): a client cannot claim to
    # be someone else in the registry's history; what it declares shows only as "on behalf of"
    config = textwrap.dedent(
        """
        from jupyter_server.auth.identity import IdentityProvider, User

        class NamedUsers(IdentityProvider):
            def generate_anonymous_user(self, handler):
                return User("hub-ana")

        c.ServerApp.identity_provider_class = NamedUsers
        """
    )
    server = tracking_server_factory(config_py=config)
    rest = RestStore(tmp_path / "client", server.url, server.token)
    name = _unique("named")
    rest.create_registered_model(name, user="mallory")
    rest.set_registered_model_tag(name, "k", "v")
    assert [e.user_id for e in rest.get_registry_history(name)] == [
        "hub-ana (on behalf of mallory)",
        "hub-ana",
    ]
    rest.close()


# models through the server, end to end -------------------------------------------------------

_SCRIPT = """
import json, sys
import numpy as np
from sklearn.linear_model import LogisticRegression
import jupyter_mltrack as mlt

name = sys.argv[1]
X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1], [0.1, 0.8], [0.8, 0.3]])
y = np.array([0, 1, 0, 1, 0, 1])
model = LogisticRegression().fit(X, y)
with mlt.start_run() as run:
    info = mlt.log_model(model, "model", input_example=X[:2], registered_model_name=name)
registry = mlt.model_registry()
registry.set_alias(name, "champion", info.registered_model_version.version)
loaded = mlt.load_model(f"models:/{name}@champion")
print(json.dumps({
    "store": type(registry.store).__name__,
    "run_id": run.info.run_id,
    "model_id": info.model_id,
    "version": info.registered_model_version.version,
    "predicted": [int(p) for p in np.asarray(loaded.predict(X)).ravel()],
    "expected": model.predict(X).tolist(),
}))
"""


def test_log_register_alias_and_load_a_model_through_the_server(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    name = f"{_unique('e2e')}/churn model"
    script = tmp_path / "log_model.py"
    script.write_text(_SCRIPT)
    # only MLTRACK_STORE: the script finds the server in the store's server.json
    done = subprocess.run(
        [sys.executable, str(script), name],
        env=tracking_server.client_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["store"] == "RestStore"
    assert out["predicted"] == out["expected"]

    # what the server's store now holds
    rest = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    try:
        logged = rest.get_logged_model(out["model_id"])
        assert (logged.status, logged.source_run_id, logged.name) == (
            "LOGGED_MODEL_READY",
            out["run_id"],
            "model",
        )
        assert (file_uri_to_path(logged.artifact_uri) / "MLmodel").is_file()
        assert rest.get_run(out["run_id"]).outputs == [{"model_id": logged.model_id, "step": 0}]
        champion = rest.get_model_version_by_alias(name, "champion")
        assert (champion.version, champion.model_id, champion.run_id) == (
            out["version"],
            logged.model_id,
            out["run_id"],
        )
        assert rest.get_model_version_download_uri(name, champion.version) == logged.artifact_uri
        events = rest.get_registry_history(name)
        assert [e.kind for e in events] == ["create_model", "create_version", "set_alias"]
        # the script's user (its login, or $MLTRACK_USER), as in embedded mode
        assert {e.user_id for e in events} == {current_user()}
    finally:
        rest.close()
    assert tracking_server.server_errors() == []


@pytest.mark.parametrize("name", [".", "..", "a/../b", "%2F", "?x=1#y", "é+ü", " ~ "])
def test_names_that_need_escaping_in_a_url(store: Store, name: str) -> None:
    # the server's store is shared by the session: these names are deleted again at the end
    store.create_registered_model(name, user="ana")
    store.create_model_version(name, "s3://bucket/model")
    store.set_registered_model_alias(name, "champion", 1)
    assert store.get_model_version_by_alias(name, "champion").name == name
    assert store.get_registered_model(name).aliases == {"champion": "1"}
    assert [e.name for e in store.get_registry_history(name)][-3:] == [name] * 3
    store.delete_registered_model(name)
    assert _code(store.get_registered_model, name) == ErrorCode.RESOURCE_DOES_NOT_EXIST
