"""Every route is authorized, not only authenticated: a role that may only read cannot write.

A real tracking server runs with a custom Jupyter ``Authorizer`` (in its
``jupyter_server_config.py``) that grants, on the resource ``"mltrack"``, the actions listed in
a role file the test rewrites. Every route of :func:`mltrack_handlers` (native and MLflow) is
walked with every verb it implements: with the role "read", each writing verb answers 403
``PERMISSION_DENIED`` before looking at its input and changes nothing, and each reading verb is
not refused. Valid writes that a read-only role is refused succeed once "write" is granted;
scoring a model needs "execute".
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import TrackingServer, start_tracking_server
from tornado import web

from jupyter_mltrack.server.routes import mltrack_handlers

VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
METHOD_ACTION = {"GET": "read", "HEAD": "read", "POST": "write", "PUT": "write",
                 "PATCH": "write", "DELETE": "write"}  # fmt: skip

AUTHORIZER = '''
from pathlib import Path
from jupyter_server.auth.authorizer import Authorizer

ROLE_FILE = Path({role_file!r})


class RoleFileAuthorizer(Authorizer):
    """Grants on "mltrack" the actions the role file lists; anything else as usual."""

    def is_authorized(self, handler, user, action, resource):
        if resource != "mltrack":
            return True
        return action in ROLE_FILE.read_text().split()


c.ServerApp.authorizer_class = RoleFileAuthorizer
'''


class Role:
    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, *actions: str) -> None:
        self.path.write_text(" ".join(actions))


@pytest.fixture(scope="module")
def authz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TrackingServer, Role]]:
    base = tmp_path_factory.mktemp("authz")
    role = Role(base / "role.txt")
    role.set("read", "write", "execute")
    server = start_tracking_server(
        base / "store", base / "server", config_py=AUTHORIZER.format(role_file=str(role.path))
    )
    yield server, role
    server.stop()
    assert server.server_errors() == [], server.log()[-4000:]


def _mlflow(server: TrackingServer, method: str, route: str, **kwargs: Any) -> Any:
    answer = server.api(method, f"/2.0/mlflow/{route}", **kwargs)
    assert answer.status_code == 200, (route, answer.status_code, answer.text)
    return answer.json()


@pytest.fixture(scope="module")
def ids(authz: tuple[TrackingServer, Role]) -> dict[str, str]:
    """Data to read and to try to change: an experiment, a run with data and an artifact, a
    registered model with a version and an alias, a logged model."""
    server, role = authz
    role.set("read", "write", "execute")
    exp = _mlflow(server, "POST", "experiments/create", json={"name": "authz"})["experiment_id"]
    run = _mlflow(server, "POST", "runs/create", json={"experiment_id": exp})["run"]
    run_id = run["info"]["run_id"]
    now = int(time.time() * 1000)
    _mlflow(server, "POST", "runs/log-batch", json={
        "run_id": run_id, "metrics": [{"key": "m", "value": 1.0, "timestamp": now, "step": 0}],
        "params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "1"}],
    })  # fmt: skip
    put = server.api("PUT", f"/runs/{run_id}/artifacts/file", params={"path": "a.txt"},
                     data=b"artifact")  # fmt: skip
    assert put.status_code in (200, 201), put.text
    _mlflow(server, "POST", "registered-models/create", json={"name": "authz-model"})
    version = _mlflow(server, "POST", "model-versions/create", json={
        "name": "authz-model", "source": f"runs:/{run_id}/model", "run_id": run_id,
    })["model_version"]["version"]  # fmt: skip
    _mlflow(server, "POST", "registered-models/alias",
            json={"name": "authz-model", "alias": "champion", "version": version})  # fmt: skip
    model = _mlflow(server, "POST", "logged-models", json={"experiment_id": exp, "name": "lm"})
    role.set("read")
    return {
        "experiment_id": exp, "run_id": run_id, "name": "authz-model", "version": str(version),
        "alias": "champion", "model_id": model["model"]["info"]["model_id"], "ref": "1",
    }  # fmt: skip


def _snapshot(server: TrackingServer, ids: dict[str, str]) -> dict[str, Any]:
    """What a read-only caller could see change (read with the read role)."""
    exp = ids["experiment_id"]
    store = server.store_dir
    files = sorted(
        str(p.relative_to(store))
        for p in store.rglob("*")
        if p.is_file() and not re.search(r"\.(duckdb|wal)$|server\.json$", p.name)
    )
    return {
        "experiments": _mlflow(server, "POST", "experiments/search",
                               json={"view_type": "ALL", "max_results": 1000}),
        "runs": _mlflow(server, "POST", "runs/search",
                        json={"experiment_ids": [exp], "run_view_type": "ALL"}),
        "models": _mlflow(server, "GET", "registered-models/search"),
        "versions": _mlflow(server, "GET", "model-versions/search",
                            params={"filter": "name='authz-model'"}),
        "logged": _mlflow(server, "POST", "logged-models/search", json={"experiment_ids": [exp]}),
        "artifacts": server.api("GET", f"/runs/{ids['run_id']}/artifacts").json(),
        "files": files,
    }  # fmt: skip


def _routes(ids: dict[str, str]) -> list[tuple[str, type]]:
    """(path under {url}, handler) of every route, its groups filled with the test's ids."""
    routes = []
    for pattern, handler in mltrack_handlers(logging.getLogger("test")):
        path = re.sub(r"\(\?P<(\w+)>[^()]*\)", lambda m: ids.get(m.group(1), "x1"), pattern)
        path = re.sub(r"\([^()]*\)", "x1", path).replace("/?", "").replace("\\.", ".")
        assert re.fullmatch(pattern, path), (pattern, path)
        routes.append((path.removeprefix("mltrack"), handler))
    return routes


def _action(handler: type, verb: str) -> str | None:
    if getattr(handler, verb.lower()) is getattr(web.RequestHandler, verb.lower()):
        return None  # not implemented
    return str(getattr(handler, "auth_actions", {}).get(verb) or METHOD_ACTION[verb])


def _call(server: TrackingServer, verb: str, path: str) -> requests.Response:
    body = b"{}" if verb in ("POST", "PUT", "PATCH") else None
    return server.session.request(
        verb, server.url + path, headers=server.headers, data=body,
        params={"path": "planted.txt"}, timeout=60,
    )  # fmt: skip


def test_a_read_role_reads_every_route_and_writes_none(
    authz: tuple[TrackingServer, Role], ids: dict[str, str]
) -> None:
    server, role = authz
    role.set("read")
    before = _snapshot(server, ids)
    refused = read = 0
    for path, handler in _routes(ids):
        for verb in VERBS:
            action = _action(handler, verb)
            if action is None:
                continue
            answer = _call(server, verb, path)
            where = (verb, path, handler.__name__, answer.status_code, answer.text[:200])
            if action == "read":
                read += 1
                assert answer.status_code != 403 and answer.status_code < 500, where
            else:
                refused += 1
                assert answer.status_code == 403, where
                error = answer.json()
                assert error["error_code"] == "PERMISSION_DENIED", where
                assert f"not authorized to {action}" in error["message"]
    assert refused >= 60 and read >= 40, (refused, read)
    assert _snapshot(server, ids) == before
    assert not list((server.store_dir / ".uploads").glob("*")) if (
        server.store_dir / ".uploads").exists() else True  # fmt: skip


def test_reads_sent_as_post_need_read_only(
    authz: tuple[TrackingServer, Role], ids: dict[str, str]
) -> None:
    server, role = authz
    role.set("read")
    exp = ids["experiment_id"]
    runs = _mlflow(server, "POST", "runs/search", json={"experiment_ids": [exp]})["runs"]
    assert [r["info"]["run_id"] for r in runs] == [ids["run_id"]]
    assert _mlflow(server, "POST", "experiments/search", json={"max_results": 5})["experiments"]
    assert _mlflow(server, "POST", "logged-models/search", json={"experiment_ids": [exp]})
    latest = _mlflow(server, "POST", "registered-models/get-latest-versions",
                     json={"name": "authz-model"})  # fmt: skip
    assert latest["model_versions"][0]["version"] == ids["version"]
    # and the reads that are GETs
    assert server.api("GET", f"/runs/{ids['run_id']}/artifacts/file",
                      params={"path": "a.txt"}).content == b"artifact"  # fmt: skip
    assert server.api("GET", "/registered-models").status_code == 200


def _valid_writes(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    """Writes that succeed when allowed, on both faces (the deleting ones last)."""
    run_id, exp = ids["run_id"], ids["experiment_id"]
    now = int(time.time() * 1000)
    mlflow = "/2.0/mlflow"
    return [
        ("POST", "/experiments", {"json": {"name": "authz-native"}}),
        ("POST", f"{mlflow}/experiments/create", {"json": {"name": "authz-2"}}),
        ("POST", f"{mlflow}/runs/create", {"json": {"experiment_id": exp}}),
        ("POST", f"{mlflow}/runs/log-metric", {"json": {
            "run_id": run_id, "key": "m2", "value": 2.0, "timestamp": now, "step": 1}}),
        ("POST", f"{mlflow}/runs/set-tag", {"json": {"run_id": run_id, "key": "t2", "value": "x"}}),
        ("PUT", f"/runs/{run_id}/artifacts/file", {"params": {"path": "b.txt"}, "data": b"b"}),
        ("PUT", f"/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/c.txt", {"data": b"c"}),
        ("POST", f"{mlflow}/registered-models/create", {"json": {"name": "authz-other"}}),
        ("POST", f"{mlflow}/registered-models/set-tag", {"json": {
            "name": "authz-model", "key": "k", "value": "v"}}),
        ("DELETE", f"{mlflow}/registered-models/alias", {"json": {
            "name": "authz-model", "alias": "champion"}}),
        ("POST", f"{mlflow}/runs/delete", {"json": {"run_id": run_id}}),
        ("POST", "/gc", {"json": {}}),
        ("DELETE", f"{mlflow}/registered-models/delete", {"json": {"name": "authz-other"}}),
    ]  # fmt: skip


def test_valid_writes_need_write(authz: tuple[TrackingServer, Role], ids: dict[str, str]) -> None:
    server, role = authz
    role.set("read", "execute")
    before = _snapshot(server, ids)
    writes = _valid_writes(ids)
    for method, route, kwargs in writes:
        answer = server.api(method, route, **kwargs)
        assert answer.status_code == 403, (method, route, answer.status_code, answer.text)
        assert answer.json()["error_code"] == "PERMISSION_DENIED"
    assert _snapshot(server, ids) == before
    role.set("read", "write")
    for method, route, kwargs in writes:
        answer = server.api(method, route, **kwargs)
        assert answer.status_code in (200, 201), (method, route, answer.status_code, answer.text)
    assert _snapshot(server, ids) != before
    role.set("read")


def test_scoring_a_model_needs_execute(authz: tuple[TrackingServer, Role]) -> None:
    server, role = authz
    predict = "/models/no-such-model/1/predict"
    try:
        role.set("read", "write")
        for method in ("POST", "DELETE"):
            answer = server.api(method, predict, json={"inputs": [[1.0]]})
            assert answer.status_code == 403, answer.text
            assert "not authorized to execute" in answer.json()["message"]
        # describing the version is a read: let through (and answered: no such model)
        assert server.api("GET", predict).status_code == 404
        role.set("read", "execute")
        answer = server.api("POST", predict, json={"inputs": [[1.0]]})
        assert answer.status_code == 404, answer.text
        assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    finally:
        role.set("read")


def test_a_role_without_read_reads_nothing(
    authz: tuple[TrackingServer, Role], ids: dict[str, str]
) -> None:
    server, role = authz
    try:
        role.set("write")
        for route in ("/info", f"/runs/{ids['run_id']}", "/2.0/mlflow/experiments/search"):
            method = "POST" if "search" in route else "GET"
            answer = server.api(method, route, json={})
            assert answer.status_code == 403, (route, answer.text)
            assert answer.json()["error_code"] == "PERMISSION_DENIED"
    finally:
        role.set("read")
