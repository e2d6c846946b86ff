"""Fuzzing: no input makes a 5xx, and a refused input changes nothing.

Hypothesis generates filter strings (from the grammar's own tokens and from arbitrary text) and
JSON bodies for the writing routes of both faces. The example counts are bounded so the whole file
runs in well under a minute on a 2-core machine; the database is a real DuckDB file and the routes
are a real server's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mlflow_server import MlflowServer, mlflow_server  # noqa: F401 - fixtures

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.search.filter_parser import parse_filter, parse_order_by
from jupyter_mltrack.store.duckdb.store import DuckDBStore

# Pieces of the grammar, so generated filters get deep into the parser, not only its tokenizer.
_TOKENS = [
    "metrics.", "params.", "tags.", "attributes.", "attribute.", "run_name", "status",
    "start_time", "`", "'", '"', "acc", "loss", "lr", "m", " ", "and", "AND", "or", "OR", "(",
    ")", "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT", ",", "0", "1.5", "-3",
    "1e308", "NaN", "'x'", "'%a%'", "null", "IS", ".", "\\", "\x00", "é", "🙂",
]  # fmt: skip
FILTERS = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=24).map("".join),
    st.text(max_size=80),
)
FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is never a fluke
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(text=FILTERS)
def test_the_filter_parser_accepts_or_refuses_cleanly(text: str) -> None:
    try:
        parse_filter(text)
    except MltrackError as exc:
        assert exc.code == ErrorCode.INVALID_PARAMETER_VALUE


@FUZZ
@given(terms=st.lists(FILTERS, max_size=4))
def test_order_by_accepts_or_refuses_cleanly(terms: list[str]) -> None:
    try:
        parse_order_by(terms)
    except MltrackError as exc:
        assert exc.code == ErrorCode.INVALID_PARAMETER_VALUE


@pytest.fixture(scope="module")
def searched_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    store = DuckDBStore(tmp_path_factory.mktemp("fuzz") / "store", linger=None)
    exp = store.create_experiment("fuzz")
    store.create_run(exp, "r", None, 1, {"team": "cv"})
    yield store, exp
    store.close()


@FUZZ
@given(text=FILTERS)
def test_searching_with_any_filter_answers_or_refuses_cleanly(
    searched_store: Any, text: str
) -> None:
    """Through the compiled SQL too: whatever parses must run (no DuckDB error escapes)."""
    store, exp = searched_store
    try:
        store.search_runs([exp], text)
    except MltrackError as exc:
        assert exc.code == ErrorCode.INVALID_PARAMETER_VALUE


# JSON routes --------------------------------------------------------------------------------

# Values past what a route expects: ints beyond int64 (up to 4,000 digits, near Python's
# 4,300-digit limit), deep nesting (past json's recursion limit when parsed back)
_HUGE = st.sampled_from([2**63, -(2**63) - 1, 10**4000])


class RawJSON(str):
    """A request body sent as this text (for JSON no Python object here could be dumped to)."""


_DEEP = st.integers(min_value=50, max_value=3000).map(lambda n: RawJSON("[" * n + "]" * n))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | _HUGE,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _body(fields: dict[str, Any]) -> Any:
    """Bodies that look like the route's own (its field names, any values), and anything else."""
    keys = st.sampled_from(sorted(fields))
    shaped = st.dictionaries(keys, JSON, max_size=len(fields))
    return st.one_of(shaped, shaped.map(lambda d: {**fields, **d}), JSON, _DEEP)


MLFLOW_ROUTES = {
    "runs/create": {"experiment_id": "0", "run_name": "x", "start_time": 1, "tags": []},
    "runs/log-batch": {"run_id": "RUN", "metrics": [], "params": [], "tags": []},
    "runs/log-metric": {"run_id": "RUN", "key": "m", "value": 1.0, "timestamp": 1, "step": 0},
    "runs/set-tag": {"run_id": "RUN", "key": "t", "value": "v"},
    "runs/update": {"run_id": "RUN", "status": "RUNNING"},
    "runs/search": {"experiment_ids": ["0"], "filter": "", "max_results": 10},
    "experiments/create": {"name": "e"},
    "registered-models/create": {"name": "m"},
    "registered-models/alias": {"name": "m", "alias": "a", "version": "1"},
}
NATIVE_ROUTES = {
    ("POST", "/batches"): {"metrics": [], "params": [], "tags": []},
    ("POST", "/runs"): {"experiment_id": "0", "run_name": "x", "tags": {}},
    ("PATCH", "/runs/RUN"): {"status": "RUNNING", "tags": {}},
    ("POST", "/experiments"): {"name": "e"},
}


def _fill(value: Any, run_id: str) -> Any:
    """Put the real run id where the template says RUN, so requests reach the run's checks."""
    if value == "RUN":
        return run_id
    if isinstance(value, dict):
        return {k: _fill(v, run_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, run_id) for v in value]
    return value


def _snapshot(server: MlflowServer, run_id: str) -> Any:
    run = server.api("GET", "runs/get", params={"run_id": run_id}).json()["run"]
    history = server.api(
        "GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "m"}
    ).json()
    return run, history


@pytest.fixture(scope="module")
def fuzz_run(mlflow_server: MlflowServer) -> str:
    answer = mlflow_server.api("POST", "runs/create", json={"experiment_id": "0"})
    run_id: str = answer.json()["run"]["info"]["run_id"]
    mlflow_server.api(
        "POST",
        "runs/log-batch",
        json={"run_id": run_id, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1}]},
    )
    return run_id


ROUTE_CASES = st.one_of(
    *(
        st.tuples(st.just(("mlflow", "POST", route)), _body(fields))
        for route, fields in MLFLOW_ROUTES.items()
    ),
    *(
        st.tuples(st.just(("native", method, route)), _body(fields))
        for (method, route), fields in NATIVE_ROUTES.items()
    ),
)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=ROUTE_CASES)
def test_json_routes_never_answer_5xx_and_refusals_change_nothing(
    mlflow_server: MlflowServer,
    fuzz_run: str,
    case: tuple[tuple[str, str, str], Any],
) -> None:
    (face, method, route), body = case
    before = _snapshot(mlflow_server, fuzz_run)
    data = body if isinstance(body, RawJSON) else json.dumps(_fill(body, fuzz_run))
    if face == "mlflow":
        answer = mlflow_server.api(method, route, data=data)
    else:
        answer = mlflow_server.server.api(method, route.replace("RUN", fuzz_run), data=data)
    assert answer.status_code < 500, (face, route, body, answer.text)
    if answer.status_code >= 400:
        assert "error_code" in answer.json(), answer.text
        assert _snapshot(mlflow_server, fuzz_run) == before, (face, route, body)


def test_the_server_logged_no_error(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    assert mlflow_server.server.server_errors() == []
