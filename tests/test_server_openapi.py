"""The native API and ``openapi.yaml`` describe each other.

- every documented operation is a registered route and verb, and every route and verb that a
  handler implements is documented;
- a scenario calls every documented operation on a real server and validates each JSON answer
  against the schema the document gives for its status (JSON Schema 2020-12, as OpenAPI 3.1).
"""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from tornado import web

import jupyter_mltrack.server
from jupyter_mltrack.server.routes import NATIVE_ROUTES

if TYPE_CHECKING:
    from conftest import TrackingServer

SPEC_PATH = Path(jupyter_mltrack.server.__file__).with_name("openapi.yaml")
SPEC_URI = "urn:mltrack:openapi"
VERBS = ("get", "head", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return dict(yaml.safe_load(SPEC_PATH.read_text()))


def _implemented(handler: type) -> set[str]:
    return {v for v in VERBS if getattr(handler, v) is not getattr(web.RequestHandler, v)}


def test_document_is_valid_openapi_shape(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    for path, item in spec["paths"].items():
        for verb in VERBS:
            if verb in item:
                operation = item[verb]
                assert operation.get("summary") and operation.get("operationId"), (path, verb)
                assert "default" in operation["responses"], (path, verb)
    # every schema is itself valid JSON Schema
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_route_is_documented_and_every_documented_route_exists(
    spec: dict[str, Any],
) -> None:
    documented = {(path, verb) for path, item in spec["paths"].items() for verb in VERBS
                  if verb in item}  # fmt: skip
    registered = {(template, verb) for template, handler in NATIVE_ROUTES
                  for verb in _implemented(handler)}  # fmt: skip
    assert documented == registered


class SpecChecker:
    """Calls the server and validates each answer against the document."""

    def __init__(self, spec: dict[str, Any], server: TrackingServer):
        self.spec = spec
        self.server = server
        self.registry = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(spec))
        self.called: set[tuple[str, str]] = set()

    def __call__(
        self, verb: str, template: str, status: int = 200, path_args: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:  # fmt: skip
        route = template.format(**(path_args or {}))
        assert route.startswith("/api/")
        answer = self.server.api(verb.upper(), route[len("/api") :], **kwargs)
        assert answer.status_code == status, (verb, route, answer.status_code, answer.text)
        self.called.add((template, verb))
        responses = self.spec["paths"][template][verb]["responses"]
        documented = responses.get(str(status), responses["default"])
        if "$ref" in documented:
            documented = self._resolve(documented["$ref"])
        content = documented.get("content", {})
        kind = answer.headers.get("Content-Type", "").split(";")[0]
        if verb == "head":
            assert answer.content == b""
            return answer
        assert kind in content or "*/*" in content, (template, verb, status, kind)
        if kind == "application/json":
            validator = Draft202012Validator(
                {"$ref": self._pointer(template, verb, status, documented)},
                registry=self.registry,
            )
            errors = sorted(validator.iter_errors(answer.json()), key=str)
            assert not errors, (template, verb, [e.message for e in errors[:3]])
        return answer

    def _resolve(self, ref: str) -> dict[str, Any]:
        node: Any = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return dict(node)

    def _pointer(self, template: str, verb: str, status: int, documented: dict[str, Any]) -> str:
        schema = documented["content"]["application/json"]["schema"]
        if "$ref" in schema:
            return f"{SPEC_URI}{schema['$ref']}"
        escaped = template.replace("~", "~0").replace("/", "~1")
        responses = self.spec["paths"][template][verb]["responses"]
        key = str(status) if str(status) in responses else "default"
        return (
            f"{SPEC_URI}#/paths/{escaped}/{verb}/responses/{key}/content/application~1json/schema"
        )


def test_every_operation_answers_as_documented(
    spec: dict[str, Any], tracking_server: TrackingServer
) -> None:
    call = SpecChecker(spec, tracking_server)
    name = f"spec-{uuid.uuid4().hex[:8]}"
    call("get", "/api/info")
    exp = call("post", "/api/experiments", 201, json={"name": name, "tags": {"a": "1"}})
    exp_id = exp.json()["experiment"]["experiment_id"]
    e = {"experiment_id": exp_id}
    call("get", "/api/experiments", params={"filter": f"name = '{name}'"})
    call("get", "/api/experiment-by-name", params={"name": name})
    call("get", "/api/experiments/{experiment_id}", path_args=e)
    call("patch", "/api/experiments/{experiment_id}", path_args=e, json={"tags": {"a": None}})
    cursor = call("get", "/api/changes").json()["cursor"]

    parent = call("post", "/api/runs", 201, json={"experiment_id": exp_id}).json()["run"]
    run = call("post", "/api/runs", 201, json={
        "experiment_id": exp_id, "run_name": "r", "parent_run_id": parent["info"]["run_id"],
        "tags": {"k": "v"},
    }).json()["run"]  # fmt: skip
    r = {"run_id": run["info"]["run_id"]}
    batch = {
        "metrics": [[r["run_id"], "loss", "NaN", 0, 1, None], [r["run_id"], "loss", 0.5, 1, 2,
                                                                None]],
        "metric_series": [[r["run_id"], "acc", None, [0.1, 0.2, 0.3], [0, 1, 2], [1, 2, 3]]],
        "params": [[r["run_id"], "lr", "0.1", "c"]],
        "cells": [{"run_id": r["run_id"], "seq": 1, "cell_id": "c", "execution_count": 1,
                   "source": "x", "start_time": 1, "duration_ms": 1.0, "outcome": "ok",
                   "error_type": None, "error_message": None}],
    }  # fmt: skip
    call("post", "/api/batches", data=json.dumps(batch))
    call("get", "/api/changes", params={"since": cursor})
    call("get", "/api/runs", params={"experiment_id": exp_id, "metric": "loss", "param": "lr"})
    call("get", "/api/run-search", params={"experiment_id": exp_id})
    frame = call("get", "/api/run-frame", params={"experiment_id": exp_id})
    import pyarrow as pa

    assert pa.ipc.open_stream(frame.content).read_all().num_rows == 2
    call("get", "/api/run-columns", params={"experiment_id": exp_id})
    call("get", "/api/runs/{run_id}", path_args=r)
    call("patch", "/api/runs/{run_id}", path_args=r, json={"run_name": "r2", "tags": {"t": "1"}})
    call("get", "/api/runs/{run_id}/cells", path_args=r)
    record = {"artifact_path": "m", "flavors": {}, "utc_time_created": "t", "run_id": r["run_id"]}
    call("post", "/api/runs/{run_id}/logged-model-records", path_args=r, json={"model": record})
    call("get", "/api/runs/{run_id}/lineage", path_args=r)
    items = call("get", "/api/runs/{run_id}/items", path_args=r).json()["items"]
    assert {("param", "lr"), ("metric", "loss"), ("metric", "acc")} <= {
        (i["kind"], i["key"]) for i in items
    }
    call("get", "/api/runs/{run_id}/items", path_args=r, params={"cell_id": "c"})
    lr = call("get", "/api/runs/{run_id}/item-cell", path_args=r,
              params={"kind": "param", "key": "lr"}).json()  # fmt: skip
    assert lr["found"] is True and lr["cell"]["cell_id"] == "c"
    call("get", "/api/runs/{run_id}/item-cell", path_args=r,
         params={"kind": "metric", "key": "loss", "step": 1})  # fmt: skip
    call("get", "/api/runs/{run_id}/item-cell", path_args=r, params={"kind": "param", "key": "x"})
    call("get", "/api/runs/{run_id}/metric-history", path_args=r, params={"key": "loss"})
    call("get", "/api/metric-histories",
         params={"run_id": r["run_id"], "key": ["loss", "acc"], "points": 4})  # fmt: skip

    csv = b"a,b\n1,2\n"
    file_args = {"path_args": r, "params": {"path": "data/t.csv"}}
    call("put", "/api/runs/{run_id}/artifacts/file", data=io.BytesIO(csv), **file_args)
    call("get", "/api/runs/{run_id}/artifacts", path_args=r, params={"recursive": "true"})
    got = call("get", "/api/runs/{run_id}/artifacts/file", **file_args)
    assert got.content == csv
    call("get", "/api/runs/{run_id}/artifacts/file", 206, headers={"Range": "bytes=0-2"},
         **file_args)  # fmt: skip
    call("get", "/api/runs/{run_id}/artifacts/file", 416, headers={"Range": "bytes=50-"},
         **file_args)  # fmt: skip
    call("head", "/api/runs/{run_id}/artifacts/file", **file_args)
    call("get", "/api/runs/{run_id}/artifacts/preview", **file_args)

    call("delete", "/api/runs/{run_id}", path_args=r)
    call("post", "/api/runs/{run_id}/restore", path_args=r)
    call("delete", "/api/experiments/{experiment_id}", path_args=e)
    call("post", "/api/experiments/{experiment_id}/restore", path_args=e)
    call("post", "/api/gc", json={"older_than_ms": 0})

    # errors answer in the documented shape too
    call("get", "/api/runs/{run_id}", 404, path_args={"run_id": "missing"})
    call("post", "/api/batches", 400, data="{oops")
    call("get", "/api/runs/{run_id}/item-cell", 400, path_args=r,
         params={"kind": "metrics", "key": "loss"})  # fmt: skip
    call("put", "/api/runs/{run_id}/artifacts/file", 400, path_args=r,
         params={"path": "../x"}, data=b"x")  # fmt: skip

    # the registry's routes (tagged models and registry) are walked by test_rest_registry.py
    registry = {"models", "registry"}
    documented = {(path, verb) for path, item in spec["paths"].items() for verb in VERBS
                  if verb in item and not set(item[verb]["tags"]) & registry}  # fmt: skip
    assert documented - call.called == set()


def test_documented_paths_match_the_route_patterns() -> None:
    for template, _ in NATIVE_ROUTES:
        sample = re.sub(r"\{\w+\}", "abc", template)
        from jupyter_mltrack.server.routes import template_to_pattern

        assert re.fullmatch(template_to_pattern(template), "mltrack" + sample)
