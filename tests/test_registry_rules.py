"""One rule per registry input, whichever face receives it.

The same alias names and page sizes go through every face of the registry: the embedded store
(Python API), the REST client, the native routes sent raw over HTTP, and MLflow's routes. Each
face refuses the same input with INVALID_PARAMETER_VALUE (400 over HTTP) and the same message,
and a refused call changes nothing. The rules themselves are in :mod:`.store.rules` and
:mod:`.store.registry_rules`, applied by :class:`AbstractRegistryStore`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import requests

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.store import registry_rules, rules
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.rest.store import RestStore
from jupyter_mltrack.store.rules import (
    LOGGED_MODELS_MAX_RESULTS,
    MODEL_VERSIONS_MAX_RESULTS,
    REGISTERED_MODELS_MAX_RESULTS,
)
from jupyter_mltrack.validation import check_max_results

if TYPE_CHECKING:
    from conftest import TrackingServer

FACES = ["embedded", "rest-client", "native-http", "mlflow-http"]


class Face:
    """The registry calls these tests make, through one face; errors as :class:`MltrackError`.

    ``store`` (embedded, or a client of the server) sets up and reads back what a test needs;
    the calls under test go through the face.
    """

    def __init__(self, kind: str, store: Any, server: TrackingServer | None) -> None:
        self.kind, self.store, self.server = kind, store, server

    # the calls under test ------------------------------------------------------------------
    def set_alias(self, name: str, alias: Any, version: str) -> None:
        if self.kind in ("embedded", "rest-client"):
            self.store.set_registered_model_alias(name, alias, version)
        elif self.kind == "native-http":
            route = f"/registered-models/{quote(name, safe='')}/aliases/{quote(alias, safe='')}"
            self._check(self._native("PUT", route, json={"version": version}))
        else:
            body = {"name": name, "alias": alias, "version": version}
            self._check(self._mlflow("POST", "registered-models/alias", json=body))

    def search(self, kind: str, max_results: int, experiment_id: str) -> int:
        """How many items one page of a search holds."""
        if self.kind in ("embedded", "rest-client"):
            if kind == "logged":
                return len(self.store.search_logged_models([experiment_id], None, max_results)[0])
            method = getattr(self.store, f"search_{kind}")
            return len(method(None, max_results)[0])
        if self.kind == "native-http":
            route, key = {
                "logged": ("/logged-models", "logged_models"),
                "registered_models": ("/registered-models", "registered_models"),
                "model_versions": ("/model-versions", "model_versions"),
            }[kind]
            params = {"max_results": max_results, "experiment_id": experiment_id}
            return len(self._check(self._native("GET", route, params=params))[key])
        if kind == "logged":
            body = {"experiment_ids": [experiment_id], "max_results": max_results}
            return len(
                self._check(self._mlflow("POST", "logged-models/search", json=body))["models"]
            )
        path, key = {
            "registered_models": ("registered-models/search", "registered_models"),
            "model_versions": ("model-versions/search", "model_versions"),
        }[kind]
        answer = self._mlflow("GET", path, params={"max_results": max_results})
        return len(self._check(answer).get(key, []))

    # HTTP -----------------------------------------------------------------------------------
    def _native(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        assert self.server is not None
        return self.server.api(method, route, **kwargs)

    def _mlflow(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        assert self.server is not None
        url = f"{self.server.url}/api/2.0/mlflow/{path}"
        return requests.request(method, url, headers=self.server.headers, timeout=60, **kwargs)

    @staticmethod
    def _check(answer: requests.Response) -> Any:
        """The answer's body, or its error raised as the store would raise it."""
        if answer.status_code < 400:
            return answer.json()
        body = answer.json()
        # bad input is a 400 with the code, on both APIs
        assert answer.status_code == 400, (answer.status_code, body)
        raise MltrackError(body["message"], ErrorCode[body["error_code"]])


@pytest.fixture(params=FACES)
def face(
    request: pytest.FixtureRequest, tmp_path: Path, tracking_server: TrackingServer
) -> Iterator[Face]:
    if request.param == "embedded":
        store: Any = DuckDBStore(tmp_path / "store")
        yield Face("embedded", store, None)
    else:
        store = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
        yield Face(request.param, store, tracking_server)
    store.close()


def _refused(call: Any, *args: Any) -> str:
    with pytest.raises(MltrackError) as info:
        call(*args)
    assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE, info.value
    return str(info.value)


@pytest.fixture
def model(face: Face) -> str:
    """A registered model with two versions and the alias ``champion`` on version 1."""
    name = f"rules-{uuid.uuid4().hex[:10]}"
    face.store.create_registered_model(name)
    for _ in range(2):
        face.store.create_model_version(name, "s3://bucket/model")
    face.store.set_registered_model_alias(name, "champion", 1)
    return name


# aliases -------------------------------------------------------------------------------------
BAD_ALIASES = {
    "v2": "reserved",
    "V17": "reserved",
    "latest": "reserved",
    "Latest": "reserved",
    "12": "reserved",
    "a" * 256: "the limit is 255",
    "a b": "letters, digits",
    "a/b": "letters, digits",
    "a.b": "letters, digits",
}


def mlflow_alias_message(alias: str) -> str:
    """The same rule in MLflow's words, on MLflow's routes (see test_mlflow_letter.py); MLflow
    takes an alias of digits only, which our rule reserves: it gets the reserved text."""
    if len(alias) > rules.MAX_ALIAS_LENGTH:
        return "'Registered model alias name' exceeds the maximum length of 255 characters"
    if alias.lower() == "latest":
        return "'latest' alias name (case insensitive) is reserved."
    if alias.lower().lstrip("v").isdigit():
        return f"Version alias name '{alias}' is reserved."
    return (
        f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
        "underscores (_), and dashes (-)."
    )


@pytest.mark.parametrize("alias", list(BAD_ALIASES), ids=lambda a: a[:8])
def test_reserved_and_malformed_aliases_are_refused_by_every_face(
    face: Face, model: str, alias: str
) -> None:
    before = face.store.get_registry_history(model)
    message = _refused(face.set_alias, model, alias, "2")
    with pytest.raises(MltrackError) as rule:
        rules.check_alias(alias)
    if face.kind == "mlflow-http":
        assert message == mlflow_alias_message(alias)
    else:
        # the message is the rule's own, word for word, on every other face
        assert BAD_ALIASES[alias] in message
        assert message.endswith(str(rule.value))
    assert face.store.get_registered_model(model).aliases == {"champion": "1"}
    assert face.store.get_registry_history(model) == before


@pytest.mark.parametrize("alias", ["champion", "v2beta", "prod-2_b", "a" * 255, "Ünïcode"])
def test_aliases_within_the_rule_are_accepted_by_every_face(
    face: Face, model: str, alias: str
) -> None:
    face.set_alias(model, alias, "2")
    assert face.store.get_model_version_by_alias(model, alias).version == "2"


def test_an_empty_alias_is_refused_by_every_face(face: Face, model: str) -> None:
    if face.kind == "native-http":
        pytest.skip("a native route cannot carry an empty alias: its path names no route")
    _refused(face.set_alias, model, "", "2")
    assert face.store.get_registered_model(model).aliases == {"champion": "1"}


# page sizes ----------------------------------------------------------------------------------
LIMITS = {
    "logged": LOGGED_MODELS_MAX_RESULTS,
    "registered_models": REGISTERED_MODELS_MAX_RESULTS,
    "model_versions": MODEL_VERSIONS_MAX_RESULTS,
}


@pytest.mark.parametrize("kind", list(LIMITS))
def test_page_sizes_have_one_limit_and_one_message_on_every_face(face: Face, kind: str) -> None:
    experiment_id = face.store.create_experiment(f"rules-{uuid.uuid4().hex[:10]}")
    face.store.create_logged_model(experiment_id, "model")
    limit = LIMITS[kind]
    for bad in (0, -1, limit + 1):
        message = _refused(face.search, kind, bad, experiment_id)
        with pytest.raises(MltrackError) as rule:
            check_max_results(bad, limit)
        if face.kind == "mlflow-http" and kind != "logged":
            # the same limit, in the words of MLflow's request check and registry store
            expected = (
                f"Invalid value for max_results. It must be a positive integer, but got {bad}"
                if bad < 1
                else f"Invalid value \"{bad}\" for parameter 'max_results' supplied:"
            )
            assert message.startswith(expected), (message, expected)
        else:
            assert message.endswith(str(rule.value)), (message, rule.value)
    assert face.search(kind, limit, experiment_id) >= (1 if kind == "logged" else 0)
    assert face.search(kind, 1, experiment_id) <= 1


def test_mlflow_defaults_apply_when_max_results_is_left_out(
    tracking_server: TrackingServer,
) -> None:
    url = f"{tracking_server.url}/api/2.0/mlflow"
    for method, path in [
        ("GET", "registered-models/search"),
        ("GET", "model-versions/search"),
        ("POST", "logged-models/search"),
    ]:
        body = {"experiment_ids": ["0"]} if method == "POST" else None
        answer = requests.request(
            method, f"{url}/{path}", json=body, headers=tracking_server.headers, timeout=60
        )
        assert answer.status_code == 200, (path, answer.text)


# the rules themselves ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("3", 3), (" 7 ", 7)],
)
def test_versions_parse_from_ints_and_decimal_strings(value: Any, expected: int) -> None:
    assert registry_rules.parse_version(value) == expected


@pytest.mark.parametrize("value", [0, -2, "abc", "", "1.5", None, True])
def test_bad_versions_are_refused(value: Any) -> None:
    _refused(registry_rules.parse_version, value)


def test_stages_and_outputs_are_normalised() -> None:
    assert registry_rules.canonical_stage(" production ") == "Production"
    assert registry_rules.outputs([("m-1", "3"), ["m-2", 0]]) == [("m-1", 3), ("m-2", 0)]
    for bad in ([("m-1", True)], [("", 1)], [("m-1",)], "m-1"):
        _refused(registry_rules.outputs, bad)


def test_an_alias_set_under_an_older_rule_can_still_be_read_and_removed(tmp_path: Path) -> None:
    # aliases like "v2" were accepted by the Python API before the rule was one
    store = DuckDBStore(tmp_path / "store")
    store.create_registered_model("old")
    store.create_model_version("old", "s3://bucket/model")
    store._set_registered_model_alias("old", "v2", 1, None)  # past the rule
    assert store.get_model_version_by_alias("old", "v2").version == "1"
    store.delete_registered_model_alias("old", "v2")
    assert store.get_registered_model("old").aliases == {}
    store.close()
