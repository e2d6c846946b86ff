"""A real tracking server speaking the MLflow REST API, for the tests of that API; and its own
tests (route table, authentication, server-info).

The server is the package's Jupyter server extension in a ``jupyter server`` subprocess, started
by ``conftest.start_tracking_server`` (enabled the way an installed package enables it, with a
token); :class:`MlflowServer` adds what the MLflow tests need. Other ``test_mlflow_*`` modules
import the fixtures from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import TrackingServer, start_tracking_server
from tornado import web

from jupyter_mltrack.server.mlflow_api import mlflow_handlers

# small, so that the oversized-upload tests stay quick
UPLOAD_LIMIT = 2 * 1024 * 1024


@dataclass
class MlflowServer:
    """A running tracking server; ``url`` is the MLflow tracking URI (``…/mltrack``)."""

    server: TrackingServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.server.token

    @property
    def store_dir(self) -> Path:
        return self.server.store_dir

    @property
    def headers(self) -> dict[str, str]:
        # the header the MLflow client sends for MLFLOW_TRACKING_TOKEN
        return {"Authorization": f"Bearer {self.token}"}

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A request to ``{url}/api/2.0/mlflow/{path}`` with the token."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 60)
        return self.server.session.request(
            method, f"{self.url}/api/2.0/mlflow/{path}", headers=headers, **kwargs
        )

    def log(self) -> str:
        return self.server.log()

    def server_errors(self) -> list[str]:
        """Log lines of 5xx answers and uncaught exceptions: a deterministic error must never
        be a 5xx (MLflow clients retry those for minutes)."""
        pattern = re.compile(r"\] 5\d\d (GET|POST|PUT|PATCH|DELETE) |Traceback|Uncaught exception")
        return [line for line in self.log().splitlines() if pattern.search(line)]

    def stop(self) -> None:
        self.server.stop()


def start_server(store_dir: Path, workdir: Path, upload_limit: int = UPLOAD_LIMIT) -> MlflowServer:
    """Start a tracking server for ``store_dir`` and wait until it answers."""
    server = start_tracking_server(
        store_dir, workdir, extra_args=(f"--MltrackApp.max_upload_bytes={upload_limit}",)
    )
    return MlflowServer(server)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A server with a fresh store, shared by the tests of one module."""
    base = tmp_path_factory.mktemp("mlflow-server")
    server = start_server(base / "store", base / "server")
    yield server
    server.stop()
    assert server.server_errors() == [], server.log()[-4000:]


@pytest.fixture(scope="module")
def mlflow_env(mlflow_server: MlflowServer) -> Iterator[MlflowServer]:
    """``mlflow_server`` with the MLflow client pointed at it, as a user would configure it."""
    import mlflow

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        mp.setenv("MLFLOW_TRACKING_TOKEN", mlflow_server.token)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        # a bug answered with a 5xx should fail the test now, not after minutes of retries
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        mp.delenv("MLFLOW_REGISTRY_URI", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        mp.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
        mlflow.set_tracking_uri(mlflow_server.url)
        mlflow.set_registry_uri(mlflow_server.url)
        try:
            yield mlflow_server
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
            mlflow.set_registry_uri(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Tests of the route table and the server itself
# ---------------------------------------------------------------------------------------------


def test_routes_are_relative_patterns_with_handlers() -> None:
    routes = mlflow_handlers()
    patterns = [p for p, _ in routes]
    assert len(patterns) == len(set(patterns))
    for pattern, handler in routes:
        assert not pattern.startswith("/") and "mltrack" not in pattern
        assert isinstance(handler, type)
    for path in (
        "api/2.0/mlflow/runs/log-batch",
        "api/3.0/mlflow/server-info",
        "api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.pkl",
    ):
        assert sum(bool(re.fullmatch(p, path)) for p in patterns) == 1, path
    # a dot in a route must not match any character
    assert not any(re.fullmatch(p, "api/2x0/mlflow/runs/log-batch") for p in patterns)


def _sample_path(pattern: str) -> str:
    """A concrete URL path that a route pattern matches."""
    path = pattern.replace("\\", "").replace("/?", "")
    for group in ("(.+)", "([^/]+)"):
        path = path.replace(group, "x")
    return path


def test_every_route_refuses_requests_without_a_token(mlflow_server: MlflowServer) -> None:
    base = mlflow_server.url
    checked = 0
    for pattern, handler in mlflow_handlers():
        url = f"{base}/{_sample_path(pattern)}"
        verbs = [
            m for m in ("get", "post", "put", "patch", "delete")
            if getattr(handler, m) is not getattr(web.RequestHandler, m)
        ]  # fmt: skip
        assert verbs, pattern
        for verb in verbs:
            for headers in ({}, {"Authorization": "Bearer wrong-token"}):
                answer = requests.request(verb, url, json={}, headers=headers, timeout=30)
                assert answer.status_code in (401, 403), (verb, url, answer.status_code)
                assert answer.json()["error_code"] in ("PERMISSION_DENIED", "UNAUTHENTICATED")
                assert "Access-Control-Allow-Origin" not in answer.headers
                checked += 1
    assert checked >= 2 * len(mlflow_handlers())


def test_server_info_says_no_multipart(mlflow_server: MlflowServer) -> None:
    answer = requests.get(
        f"{mlflow_server.url}/api/3.0/mlflow/server-info", headers=mlflow_server.headers, timeout=30
    )
    assert answer.status_code == 200
    info = answer.json()
    assert info["multipart_uploads_enabled"] is False
    assert info["workspaces_enabled"] is False


def test_unknown_mlflow_endpoint_is_a_plain_404(mlflow_server: MlflowServer) -> None:
    # the MLflow client reads a non-JSON 404 as ENDPOINT_NOT_FOUND and falls back
    answer = mlflow_server.api("GET", "no-such/endpoint")
    assert answer.status_code == 404
