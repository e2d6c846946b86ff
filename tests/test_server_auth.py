"""Every route of the extension requires Jupyter's authentication, and none answers CORS with a
wildcard.

The routes are read from a real, in-process Jupyter server with the extension loaded
(pytest-jupyter's ``jp_serverapp``): the tornado rules under ``{base_url}mltrack/``, native and
MLflow alike, whatever they are when the test runs. Each is called with every verb and no
credentials, and must answer 401 or 403.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - pytest-jupyter's fixtures, here only
from tornado import web
from tornado.httpclient import HTTPResponse
from tornado.routing import PathMatches

from jupyter_mltrack.server.routes import NATIVE_ROUTES

VERBS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(params=[True, False], ids=["default", "strict"])
def jp_server_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    # Jupyter's default lets requests through prepare() and relies on @web.authenticated on
    # each verb; "strict" makes prepare() itself refuse them. Both must hold every route shut.
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_mltrack": True},
            "allow_unauthenticated_access": request.param,
        },
        "MltrackApp": {"store_dir": str(tmp_path / "store")},
    }


def _rules(router: Any) -> list[tuple[str, Any]]:
    """(regex, handler) of every rule, descending into nested routers."""
    found = []
    for rule in getattr(router, "rules", []):
        if hasattr(rule.target, "rules"):
            found += _rules(rule.target)
        elif isinstance(rule.matcher, PathMatches):
            found.append((rule.matcher.regex.pattern, rule.target))
    return found


def _sample(pattern: str) -> str:
    """A concrete path that a route's regex matches (each group filled with a word)."""
    text = pattern.rstrip("$")
    # innermost groups first, until none is left
    while True:
        replaced = re.sub(r"\((?:\?P<\w+>)?[^()]*\)", "x1", text)
        if replaced == text:
            break
        text = replaced
    text = re.sub(r"\\?.\?", "", text)  # leave out optional characters ("/?")
    return text.replace("\\.", ".").replace("\\-", "-")


def _mltrack_routes(serverapp: Any) -> list[tuple[str, type]]:
    prefix = serverapp.base_url + "mltrack/"
    routes = []
    for pattern, handler in _rules(serverapp.web_app.default_router):
        if pattern.startswith(prefix):
            sample = _sample(pattern)
            assert re.fullmatch(pattern, sample), (pattern, sample)
            routes.append((sample, handler))
    return routes


def _implements(handler: type, verb: str) -> bool:
    return getattr(handler, verb.lower()) is not getattr(web.RequestHandler, verb.lower())


async def _fetch(client: Any, path: str, method: str, **kwargs: Any) -> HTTPResponse:
    # the test client puts its own scheme, host and port in front of the path
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    return await client.fetch(
        path,
        method=method,
        body=body,
        raise_error=False,
        allow_nonstandard_methods=True,
        **kwargs,
    )


def test_every_route_refuses_requests_without_credentials(
    jp_serverapp: Any, http_server_client: Any, jp_asyncio_loop: Any
) -> None:
    routes = _mltrack_routes(jp_serverapp)
    # every native route is there (MLflow's are checked the same way, whatever they are)
    assert len(routes) >= len(NATIVE_ROUTES)
    walked = 0
    for path, handler in routes:
        for verb in VERBS:
            # a verb a handler does not implement answers 405 (no data) under Jupyter's default
            implemented = _implements(handler, verb)
            refused = (401, 403) if implemented else (401, 403, 405)
            walked += implemented
            for headers in ({}, {"Authorization": "token not-the-token"}):
                answer = jp_asyncio_loop.run_until_complete(
                    _fetch(http_server_client, path, verb, headers=headers)
                )
                assert answer.code in refused, (verb, path, handler.__name__, answer.code)
                assert answer.headers.get("Access-Control-Allow-Origin") != "*"
    assert walked >= 30
    # an anonymous upload is refused before its body is stored
    uploads = Path(jp_serverapp.web_app.settings["mltrack_store"].store_dir) / ".uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_authenticated_requests_get_no_cors_wildcard(
    jp_fetch: Any, jp_asyncio_loop: Any, jp_serverapp: Any
) -> None:
    answer = jp_asyncio_loop.run_until_complete(
        jp_fetch("mltrack", "api", "info", headers={"Origin": "http://elsewhere.example"})
    )
    assert answer.code == 200
    assert answer.headers.get("Access-Control-Allow-Origin") != "*"
    # the in-process app serves the configured store; nothing was advertised for it
    store_dir = Path(jp_serverapp.web_app.settings["mltrack_store"].store_dir)
    assert store_dir.name == "store" and not (store_dir / "server.json").exists()
