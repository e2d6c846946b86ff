"""Every error leaves the server as one JSON shape, ``{"error_code", "message"}``, with the status
its code maps to, on the native and the MLflow routes alike; only unexpected exceptions are
logged with a traceback.

The errors come from a real, in-process Jupyter server with the extension loaded
(pytest-jupyter's ``jp_serverapp``), plus a few test-only routes that raise each kind of error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - pytest-jupyter's fixtures, here only
from tornado import web

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.server.base import MltrackHandler


@pytest.fixture
def jp_server_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mltrack": True}},
        "MltrackApp": {"store_dir": str(tmp_path / "store")},
    }


class _Raises(MltrackHandler):
    """Raises what the ``what`` path segment names."""

    @web.authenticated
    def get(self, what: str) -> None:
        if what == "missing":
            raise MltrackError("no run with id 'x'", ErrorCode.RESOURCE_DOES_NOT_EXIST)
        if what == "state":
            raise MltrackError("run 'x' is deleted", ErrorCode.INVALID_STATE)
        if what == "unavailable":
            raise MltrackError("the store is busy", ErrorCode.STORE_UNAVAILABLE)
        if what == "http":
            raise web.HTTPError(409, "a tornado error with a message")
        if what == "bare-http":
            raise web.HTTPError(404)
        raise RuntimeError("a bug, not an answer")


@pytest.fixture
def fetch(jp_serverapp: Any, jp_fetch: Any, jp_asyncio_loop: Any) -> Any:
    jp_serverapp.web_app.add_handlers(
        ".*$", [(jp_serverapp.base_url + "mltrack-test/raise/(\\w[\\w-]*)", _Raises)]
    )

    def fetch(*parts: str, **kwargs: Any) -> tuple[int, dict[str, Any], str]:
        kwargs.setdefault("raise_error", False)
        answer = jp_asyncio_loop.run_until_complete(jp_fetch(*parts, **kwargs))
        assert answer.headers["Content-Type"].startswith("application/json")
        return answer.code, json.loads(answer.body), answer.headers.get("Set-Cookie", "")

    return fetch


@pytest.mark.parametrize(
    ("what", "status", "code", "message"),
    [
        ("missing", 404, "RESOURCE_DOES_NOT_EXIST", "no run with id 'x'"),
        ("state", 400, "INVALID_STATE", "run 'x' is deleted"),
        ("unavailable", 503, "STORE_UNAVAILABLE", "the store is busy"),
        ("http", 409, "INVALID_PARAMETER_VALUE", "a tornado error with a message"),
        ("bare-http", 404, "RESOURCE_DOES_NOT_EXIST", "Not Found"),
        ("bug", 500, "INTERNAL_ERROR", "Internal Server Error"),
    ],
)
def test_each_kind_of_error_has_its_status_and_shape(
    fetch: Any, caplog: pytest.LogCaptureFixture, what: str, status: int, code: str, message: str
) -> None:
    with caplog.at_level(logging.INFO):
        got_status, body, _ = fetch("mltrack-test", "raise", what)
    assert (got_status, body) == (status, {"error_code": code, "message": message})
    tracebacks = [r for r in caplog.records if r.exc_info]
    if what == "bug":
        # the fault is in the log, with its traceback, and not in the answer
        assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in tracebacks)
        assert "a bug" not in json.dumps(body)
    else:
        assert tracebacks == []


def test_native_and_mlflow_routes_answer_errors_alike(fetch: Any) -> None:
    status, body, _ = fetch("mltrack", "api", "runs", "nope")
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert set(body) == {"error_code", "message"}
    status, body, _ = fetch(
        "mltrack", "api", "2.0", "mlflow", "runs", "get", params={"run_id": "x"}
    )
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert set(body) == {"error_code", "message"}
    status, body, _ = fetch("mltrack", "api", "runs", params={"max_results": "many"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    # a verb the route does not have: tornado's 405, in the same shape
    status, body, _ = fetch("mltrack", "api", "info", method="DELETE")
    assert status == 405 and body == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Method Not Allowed",
    }


def test_refused_credentials_answer_in_the_same_shape(fetch: Any) -> None:
    for parts in (("mltrack", "api", "info"), ("mltrack", "api", "2.0", "mlflow", "runs", "get")):
        status, body, _ = fetch(*parts, headers={"Authorization": "token not-the-token"})
        assert status in (401, 403)
        assert body["error_code"] == ("UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED")
        assert set(body) == {"error_code", "message"}
