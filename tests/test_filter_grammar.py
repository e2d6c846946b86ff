"""Tests for the search filter grammar and its compilation to DuckDB SQL."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from jupyter_mltrack.errors import InvalidFilterError, MltrackError
from jupyter_mltrack.search.filter_parser import (
    EXPERIMENT_ATTRIBUTES,
    RUN_ATTRIBUTE_ALIASES,
    RUN_ATTRIBUTES,
    And,
    Comparison,
    Or,
    OrderTerm,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
)
from jupyter_mltrack.store.duckdb import schema
from jupyter_mltrack.store.duckdb.search_sql import (
    _EXPERIMENT_COLUMNS,
    _RUN_COLUMNS,
    compile_experiment_filter,
    compile_experiment_order_by,
    compile_run_filter,
    compile_run_order_by,
)

C = Comparison

# ---------------------------------------------------------------------------------------------
# Parser: valid filters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None
    assert parse_experiment_filter(text) is None


VALID = [
    # metrics, every comparison operator, number spellings
    ("metrics.acc > 0.9", C("metric", "acc", ">", 0.9)),
    ("metric.acc >= 1", C("metric", "acc", ">=", 1)),
    ("METRICS.acc < -2", C("metric", "acc", "<", -2)),
    ("metrics.acc <= 1e-3", C("metric", "acc", "<=", 0.001)),
    ("metrics.acc = 2.5E+2", C("metric", "acc", "=", 250.0)),
    ("metrics.acc != .5", C("metric", "acc", "!=", 0.5)),
    ("metrics.acc>-1.5e2", C("metric", "acc", ">", -150.0)),
    ("metrics.val_loss_2 < 3.", C("metric", "val_loss_2", "<", 3.0)),
    ("metrics.1st > 0", C("metric", "1st", ">", 0)),
    # params and tags: string operators, both quote styles, doubled-quote escapes
    ("params.model = 'cnn'", C("param", "model", "=", "cnn")),
    ('param.model != "cnn"', C("param", "model", "!=", "cnn")),
    ("parameters.model LIKE 'res%'", C("param", "model", "LIKE", "res%")),
    ("parameter.model ilike '%NET%'", C("param", "model", "ILIKE", "%NET%")),
    ("params.note = 'it''s'", C("param", "note", "=", "it's")),
    ('params.note = "say ""hi"""', C("param", "note", "=", 'say "hi"')),
    ("params.path = 'C:\\data\\x'", C("param", "path", "=", "C:\\data\\x")),
    ("params.empty = ''", C("param", "empty", "=", "")),
    ("tags.team = 'cv'", C("tag", "team", "=", "cv")),
    ("tag.team LIKE 'c_'", C("tag", "team", "LIKE", "c_")),
    # keys: dotted bare keys, backticks, double quotes
    ("tags.mlflow.runName = 'x'", C("tag", "mlflow.runName", "=", "x")),
    ("tags.`mlflow.user` = 'x'", C("tag", "mlflow.user", "=", "x")),
    ("params.`my key` = 'x'", C("param", "my key", "=", "x")),
    ("params.\"my key\" = 'x'", C("param", "my key", "=", "x")),
    ("metrics.`val-loss (avg)` < 1", C("metric", "val-loss (avg)", "<", 1)),
    ("metrics.`a``b` < 1", C("metric", "a`b", "<", 1)),
    # IN / NOT IN / IS [NOT] NULL
    ("params.model IN ('a', 'b')", C("param", "model", "IN", ("a", "b"))),
    ("params.model in ('a')", C("param", "model", "IN", ("a",))),
    ("params.model NOT IN ('a',\"b\",'c')", C("param", "model", "NOT IN", ("a", "b", "c"))),
    ("params.model not in('a')", C("param", "model", "NOT IN", ("a",))),
    ("tags.team IS NULL", C("tag", "team", "IS NULL", None)),
    ("tags.team is not null", C("tag", "team", "IS NOT NULL", None)),
    ("params.lr IS NOT NULL", C("param", "lr", "IS NOT NULL", None)),
    # attributes, with and without the entity, aliases, case-insensitive names
    ("status = 'FINISHED'", C("attribute", "status", "=", "FINISHED")),
    ("attributes.status != 'FAILED'", C("attribute", "status", "!=", "FAILED")),
    ("attribute.run_name LIKE 'a%'", C("attribute", "run_name", "LIKE", "a%")),
    ("attr.run_id IN ('r1', 'r2')", C("attribute", "run_id", "IN", ("r1", "r2"))),
    ("run.user_id NOT IN ('bob')", C("attribute", "user_id", "NOT IN", ("bob",))),
    ("artifact_uri ILIKE '%s3%'", C("attribute", "artifact_uri", "ILIKE", "%s3%")),
    ("lifecycle_stage = 'active'", C("attribute", "lifecycle_stage", "=", "active")),
    ("attributes.start_time >= 1700000000000", C("attribute", "start_time", ">=", 1700000000000)),
    ("end_time < 5", C("attribute", "end_time", "<", 5)),
    ("attributes.created > 10", C("attribute", "start_time", ">", 10)),
    ("Status = 'x'", C("attribute", "status", "=", "x")),
    ("`run_id` = 'x'", C("attribute", "run_id", "=", "x")),
    ("\"run_name\" = 'x'", C("attribute", "run_name", "=", "x")),
    # datasets
    ("datasets.name = 'mnist'", C("dataset", "name", "=", "mnist")),
    ("dataset.digest IN ('d1', 'd2')", C("dataset", "digest", "IN", ("d1", "d2"))),
    ("datasets.context LIKE 'train%'", C("dataset", "context", "LIKE", "train%")),
    ("datasets.Name != 'x'", C("dataset", "name", "!=", "x")),
    # huge integers fall back to float so DuckDB can bind them
    ("metrics.x > 99999999999999999999", C("metric", "x", ">", 1e20)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_clauses(text: str, expected: Comparison) -> None:
    parsed = parse_filter(text)
    assert parsed == expected
    assert type(parsed.value) is type(expected.value)  # type: ignore[union-attr]


def test_and_or_precedence_and_parentheses() -> None:
    a = C("metric", "a", ">", 1)
    b = C("param", "b", "=", "x")
    c = C("tag", "c", "=", "y")
    assert parse_filter("metrics.a > 1 AND params.b = 'x'") == And((a, b))
    assert parse_filter("metrics.a > 1 or params.b = 'x'") == Or((a, b))
    # AND binds tighter than OR
    assert parse_filter("metrics.a > 1 OR params.b = 'x' AND tags.c = 'y'") == Or((a, And((b, c))))
    assert parse_filter("(metrics.a > 1 OR params.b = 'x') AND tags.c = 'y'") == And(
        (Or((a, b)), c)
    )
    assert parse_filter("metrics.a > 1 aNd params.b = 'x' AnD tags.c = 'y'") == And((a, b, c))
    assert parse_filter("((metrics.a > 1))") == a
    assert parse_filter(" ( metrics.a>1 ) OR ( ( params.b='x' ) AND tags.c='y' ) ") == Or(
        (a, And((b, c)))
    )


def test_nodes_are_frozen() -> None:
    node = parse_filter("metrics.a > 1")
    with pytest.raises(AttributeError):
        node.op = "<"  # type: ignore[misc,union-attr]


def test_deep_but_allowed_nesting() -> None:
    text = "(" * 60 + "metrics.a > 1" + ")" * 60
    assert parse_filter(text) == C("metric", "a", ">", 1)


# ---------------------------------------------------------------------------------------------
# Parser: invalid filters
# ---------------------------------------------------------------------------------------------

INVALID = [
    ("metrics.acc >", 13, "expected a value after '>'"),
    ("metrics.acc > AND", 14, "expected a value after '>'"),
    ("params.x LIKE", 13, "expected a value after 'LIKE'"),
    ("params.x = 'abc", 11, "unterminated string"),
    ('params.x = "abc', 11, "unterminated string"),
    ("params.x = 'it''s", 11, "unterminated string"),
    ("params.`abc = 1", 7, "unterminated backtick-quoted key"),
    ("metrics.acc = 'abc'", 14, "metric comparisons take a number, got 'abc'"),
    ('metrics.acc > "0.5"', 14, "metric comparisons take a number"),
    ("params.x = 1", 11, "param comparisons take a quoted string, got 1"),
    ("tags.t = 2.5", 9, "tag comparisons take a quoted string"),
    ("params.x IN ('a', 2)", 18, "param comparisons take a quoted string, got 2"),
    ("foo = 'x'", 0, "unknown attribute 'foo'; valid: artifact_uri, created, end_time"),
    ("attributes.foo = 'x'", 11, "unknown attribute 'foo'"),
    ("experiment_id = 1", 0, "unknown attribute 'experiment_id'"),
    ("metrics.acc LIKE '%'", 12, "operator LIKE is not valid for metrics"),
    ("metrics.acc ILIKE '%'", 12, "operator ILIKE is not valid for metrics"),
    ("metrics.acc IN (1, 2)", 12, "operator IN is not valid for metrics"),
    ("metrics.acc NOT IN (1)", 12, "operator NOT IN is not valid for metrics"),
    ("metrics.acc IS NULL", 12, "operator IS NULL is not valid for metrics"),
    ("params.p < '1'", 9, "operator < is not valid for params"),
    ("tags.t >= 'a'", 7, "operator >= is not valid for tags"),
    ("status > 'x'", 7, "operator > is not valid for attribute 'status'"),
    ("status IS NULL", 7, "operator IS NULL is not valid for attribute 'status'"),
    ("start_time = 'x'", 13, "attribute 'start_time' comparisons take a number"),
    ("start_time LIKE '1%'", 11, "operator LIKE is not valid for attribute 'start_time'"),
    ("start_time IN (1)", 11, "operator IN is not valid for attribute 'start_time'"),
    ("run_name = 3", 11, "attribute 'run_name' comparisons take a quoted string"),
    ("status = 'x' extra", 13, "unexpected 'extra'; expected AND or OR"),
    ("status = 'x' 'y'", 13, "unexpected 'y'"),
    ("status = 'x' status = 'y'", 13, "expected AND or OR"),
    ("status = 'x')", 12, "unexpected ')'"),
    ("(status = 'x'))", 14, "unexpected ')'"),
    ("(status = 'x'", 13, "expected ')' to close the '(' at position 0"),
    ("((status = 'x')", 15, "expected ')' to close the '(' at position 0"),
    ("(status = 'x' run_id = 'y')", 14, "expected ')'"),
    ("status IN ()", 11, "IN needs at least one value"),
    ("status NOT IN ()", 15, "NOT IN needs at least one value"),
    ("status IN ('a',)", 15, "expected a value after ','"),
    ("status IN (,'a')", 11, "expected a value after 'IN ('"),
    ("status IN 'a'", 10, "expected '(' after IN"),
    ("status IN ('a' 'b')", 15, "expected ',' or ')' in the IN list"),
    ("status IN ('a'", 14, "expected ',' or ')' in the IN list"),
    ("OR status = 'x'", 0, "expected an identifier, got keyword OR"),
    ("AND status = 'x'", 0, "expected an identifier, got keyword AND"),
    ("status = 'x' AND", 16, "expected an identifier after 'AND'"),
    ("status = 'x' AND OR run_id = 'y'", 17, "expected an identifier after 'AND', got keyword OR"),
    ("status = 'x' AND (run_id = 'y' OR)", 33, "expected an identifier after 'OR'"),
    ("()", 1, "expected an identifier after '(', got ')'"),
    (")", 0, "expected an identifier, got ')'"),
    ("= 1", 0, "expected an identifier, got '='"),
    ("1 = metrics.a", 0, "expected an identifier, got '1'"),
    ("NOT status = 'x'", 0, "expected an identifier, got keyword NOT"),
    ("metrics.acc", 11, "expected an operator after 'metrics.acc'"),
    ("metrics.`a b` 1", 14, "expected an operator after 'metrics.`a b`', got '1'"),
    ("metrics.acc ~ 1", 12, "unexpected character '~'"),
    ("status !x", 7, "unexpected character '!'"),
    ("status == 'x'", 8, "expected a value after '=', got '='"),
    ("status = `x`", 9, "expected a value after '=', got `x`"),
    ("params.x NOT LIKE 'a'", 13, "expected IN after NOT"),
    ("params.x IS 'a'", 12, "expected NULL after IS, got 'a'"),
    ("params.x IS NOT 'a'", 16, "expected NULL after IS NOT"),
    ("foo.bar = 'x'", 0, "unknown entity 'foo'"),
    ("mlflow.runName = 'x'", 0, "unknown entity 'mlflow'"),
    ("metrics. = 1", 9, "expected a key after 'metrics.'"),
    ("metrics.'acc' = 1", 8, "expected a key after 'metrics.'"),
    ("metrics.`` > 1", 8, "empty key"),
    ("tags.a.b. = 'x'", 8, "a bare key cannot end with '.'"),
    ("'status' = 'x'", 0, "quote keys with backticks or double quotes"),
    ("metrics.acc > 1e999", 14, "number out of range"),
    ("metrics.acc > 12abc", 14, "invalid number '12abc'"),
    ("metrics.acc > 1.2.3", 14, "invalid number '1.2.3'"),
    ("metrics.acc > - 1", 14, "unexpected character '-'"),
    ("datasets.size = 'x'", 9, "unknown dataset field 'size'; valid: name, digest, context"),
    ("datasets.name > 'x'", 14, "operator > is not valid for dataset field 'name'"),
    ("datasets.name IS NULL", 14, "operator IS NULL is not valid for dataset field 'name'"),
    ("datasets.name = 1", 16, "dataset comparisons take a quoted string"),
    ("(" * 100 + "status = 'x'" + ")" * 100, 64, "nested more than 64 deep"),
]


@pytest.mark.parametrize(("text", "position", "fragment"), INVALID)
def test_invalid_filters(text: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_filter(text)
    err = info.value
    assert fragment in err.message
    assert err.position == position, err.message
    assert err.text == text
    assert err.http_status == 400


def test_error_is_an_mltrack_error() -> None:
    with pytest.raises(MltrackError):
        parse_filter("metrics.acc >")


# ---------------------------------------------------------------------------------------------
# Parser: order_by
# ---------------------------------------------------------------------------------------------


def test_parse_order_by() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by(
        [
            "metrics.acc DESC",
            "params.lr asc",
            "start_time",
            "attributes.created Desc",
            "tags.`a b` DESC",
            '  metrics."x y"   ',
            "tags.mlflow.runName",
        ]
    ) == [
        OrderTerm("metric", "acc", False),
        OrderTerm("param", "lr", True),
        OrderTerm("attribute", "start_time", True),
        OrderTerm("attribute", "start_time", False),
        OrderTerm("tag", "a b", False),
        OrderTerm("metric", "x y", True),
        OrderTerm("tag", "mlflow.runName", True),
    ]
    # A lone string is one clause, not a list of characters.
    assert parse_order_by("run_name DESC") == [OrderTerm("attribute", "run_name", False)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("clause", "position", "fragment"),
    [
        ("metrics.acc UP", 12, "unexpected 'UP'; expected ASC or DESC"),
        ("metrics.acc DESC extra", 17, "unexpected 'extra'; expected ASC or DESC"),
        ("metrics.acc >", 12, "expected ASC or DESC"),
        ("datasets.name", 0, "cannot order runs by datasets"),
        ("", 0, "empty order_by clause"),
        ("   ", 0, "empty order_by clause"),
        ("foo DESC", 0, "unknown attribute 'foo'"),
        ("DESC", 0, "unknown attribute 'DESC'"),
        ("metrics.`acc DESC", 8, "unterminated backtick-quoted key"),
    ],
)
def test_invalid_order_by(clause: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_order_by(["metrics.ok", clause])
    assert fragment in info.value.message
    assert info.value.position == position
    assert info.value.text == clause


# ---------------------------------------------------------------------------------------------
# Parser: experiments
# ---------------------------------------------------------------------------------------------


def test_parse_experiment_filter() -> None:
    assert parse_experiment_filter("name = 'x'") == C("attribute", "name", "=", "x")
    assert parse_experiment_filter("attributes.name ILIKE '%x%'") == C(
        "attribute", "name", "ILIKE", "%x%"
    )
    assert parse_experiment_filter("tags.team = 'cv' OR tags.`a b` IS NULL") == Or(
        (C("tag", "team", "=", "cv"), C("tag", "a b", "IS NULL", None))
    )
    # ids are accepted as numbers or quoted numbers and normalised to decimal strings
    assert parse_experiment_filter("experiment_id IN (1, '02')") == C(
        "attribute", "experiment_id", "IN", ("1", "2")
    )
    assert parse_experiment_filter("creation_time > 5 AND last_update_time <= 9") == And(
        (C("attribute", "creation_time", ">", 5), C("attribute", "last_update_time", "<=", 9))
    )
    assert parse_experiment_order_by(["name", "tags.team DESC", "creation_time desc"]) == [
        OrderTerm("attribute", "name", True),
        OrderTerm("tag", "team", False),
        OrderTerm("attribute", "creation_time", False),
    ]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("metrics.x > 1", 0, "experiment filters can only use attributes and tags, not 'metrics'"),
        ("run.name = 'x'", 0, "experiment filters can only use attributes and tags, not 'run'"),
        ("run_name = 'x'", 0, "valid: creation_time, experiment_id, last_update_time, name"),
        ("experiment_id = 'abc'", 16, "attribute 'experiment_id' takes an integer id"),
        ("experiment_id = 1.5", 16, "takes an integer id"),
        ("experiment_id > 1", 14, "operator > is not valid for attribute 'experiment_id'"),
        ("name < 'x'", 5, "operator < is not valid for attribute 'name'"),
        ("creation_time = 'x'", 16, "comparisons take a number"),
    ],
)
def test_invalid_experiment_filters(text: str, position: int, fragment: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_experiment_filter(text)
    assert fragment in info.value.message
    assert info.value.position == position


def test_parser_and_compiler_agree_on_attributes() -> None:
    assert set(RUN_ATTRIBUTES) | set(RUN_ATTRIBUTE_ALIASES) == set(_RUN_COLUMNS)
    assert set(EXPERIMENT_ATTRIBUTES) == set(_EXPERIMENT_COLUMNS)
    for name, kind in RUN_ATTRIBUTES.items():
        assert _RUN_COLUMNS[name][1] == kind
    for name, kind in EXPERIMENT_ATTRIBUTES.items():
        assert _EXPERIMENT_COLUMNS[name][1] == kind


# ---------------------------------------------------------------------------------------------
# Semantics against a real DuckDB store
# ---------------------------------------------------------------------------------------------

NAN = float("nan")

RUNS = [
    # run_id, run_name, user_id, status, start_time, end_time, lifecycle_stage, artifact_path
    ("r1", "alpha", "ann", "FINISHED", 1000, 1500, "active", "1/r1/artifacts"),
    ("r2", "beta", "bob", "FAILED", 2000, 2600, "active", "1/r2/artifacts"),
    ("r3", "gamma", None, "RUNNING", 3000, None, "active", "1/r3/artifacts"),
    ("r4", "delta", "ann", "FINISHED", 4000, 4100, "deleted", "1/r4/artifacts"),
    ("r5", "Alpha-2", "carl", "FINISHED", 5000, 5200, "active", "1/r5/artifacts"),
]
PARAMS = [
    ("r1", "lr", "0.1"),
    ("r1", "model", "resnet"),
    ("r1", "x", "a"),
    ("r2", "lr", "0.01"),
    ("r2", "model", "ResNet-50"),
    ("r3", "lr", "0.1"),
    ("r3", "model", "vit"),
    ("r4", "model", "mlp"),
    ("r5", "lr", "1"),
    ("r5", "my key", "v"),
]
TAGS = [
    ("r1", "team", "Vision"),
    ("r1", "mlflow.runName", "alpha"),
    ("r2", "team", "vision"),
    ("r3", "team", "nlp"),
    ("r5", "team", "Vision-X"),
]
LATEST_METRICS = [
    ("r1", "acc", 0.9),
    ("r1", "loss", 0.2),
    ("r2", "acc", 0.5),
    ("r2", "loss", NAN),
    ("r3", "loss", 0.7),
    ("r4", "acc", NAN),
    ("r5", "acc", 0.7),
    ("r5", "loss", 1.5),
]
INPUTS = [
    ("r1", "mnist", "d1", "training"),
    ("r1", "mnist-test", "d2", "eval"),
    ("r2", "cifar", "d3", "training"),
    ("r5", "mnist", "d1", None),
]
EXPERIMENTS = [
    # experiment_id, name, creation_time, last_update_time
    (1, "vision-exp", 100, 300),
    (2, "nlp-baseline", 200, 200),
]
EXPERIMENT_TAGS = [(1, "team", "cv"), (2, "team", None), (2, "note", "it's")]


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "store.duckdb"))
    for statement in schema.MIGRATIONS[0]:
        connection.execute(statement)
    connection.executemany(
        "INSERT INTO runs (run_id, experiment_id, run_name, user_id, status, start_time, end_time,"
        " lifecycle_stage, artifact_path) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)",
        RUNS,
    )
    connection.executemany("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", PARAMS)
    connection.executemany("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)", TAGS)
    connection.executemany(
        "INSERT INTO latest_metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, 0, 0)",
        LATEST_METRICS,
    )
    connection.executemany(
        "INSERT INTO inputs (run_id, name, digest, context) VALUES (?, ?, ?, ?)", INPUTS
    )
    connection.executemany(
        "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time,"
        " last_update_time) VALUES (?, ?, 'loc', ?, ?)",
        EXPERIMENTS,
    )
    connection.executemany(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)",
        EXPERIMENT_TAGS,
    )
    yield connection
    connection.close()


def search_runs(
    con: duckdb.DuckDBPyConnection, text: str | None, order_by: list[str] | None = None
) -> list[str]:
    where, where_params = compile_run_filter(parse_filter(text))
    order, order_params = compile_run_order_by(parse_order_by(order_by))
    sql = f"SELECT r.run_id FROM runs r WHERE {where} ORDER BY {order}"
    return [row[0] for row in con.execute(sql, where_params + order_params).fetchall()]


def search_experiments(
    con: duckdb.DuckDBPyConnection, text: str | None, order_by: list[str] | None = None
) -> list[int]:
    where, where_params = compile_experiment_filter(parse_experiment_filter(text))
    order, order_params = compile_experiment_order_by(parse_experiment_order_by(order_by))
    sql = f"SELECT e.experiment_id FROM experiments e WHERE {where} ORDER BY {order}"
    return [row[0] for row in con.execute(sql, where_params + order_params).fetchall()]


# Results are in the default order: newest start_time first.
SEMANTICS = [
    (None, ["r5", "r4", "r3", "r2", "r1"]),
    ("", ["r5", "r4", "r3", "r2", "r1"]),
    # metrics: latest value; NaN never matches a range comparison; missing never matches
    ("metrics.acc > 0.6", ["r5", "r1"]),
    ("metrics.acc >= 0.5", ["r5", "r2", "r1"]),
    ("metrics.acc = 0.5", ["r2"]),
    ("metrics.acc != 0.5", ["r5", "r4", "r1"]),
    ("metrics.loss > 1", ["r5"]),
    ("metrics.loss <= 0.7", ["r3", "r1"]),
    ("metrics.loss < 1e9", ["r5", "r3", "r1"]),
    ("metrics.missing > -1e9", []),
    # params
    ("params.model = 'resnet'", ["r1"]),
    ("params.model LIKE 'res%'", ["r1"]),
    ("params.model ILIKE 'res%'", ["r2", "r1"]),
    ("params.lr != '0.1'", ["r5", "r2"]),
    ("params.lr IS NULL", ["r4"]),
    ("params.lr IS NOT NULL", ["r5", "r3", "r2", "r1"]),
    ("params.model IN ('resnet', 'vit')", ["r3", "r1"]),
    ("params.model NOT IN ('resnet', 'vit')", ["r4", "r2"]),
    ("params.`my key` = 'v'", ["r5"]),
    ("params.\"my key\" LIKE '_'", ["r5"]),
    # tags
    ("tags.team LIKE 'Vision%'", ["r5", "r1"]),
    ("tags.team ILIKE 'vision%'", ["r5", "r2", "r1"]),
    ("tags.team LIKE 'vision'", ["r2"]),
    ("tags.team ILIKE 'VISION'", ["r2", "r1"]),
    ("tags.team != 'nlp'", ["r5", "r2", "r1"]),
    ("tags.team IS NULL", ["r4"]),
    ("tags.mlflow.runName = 'alpha'", ["r1"]),
    # attributes
    ("attributes.run_id IN ('r1', 'r3')", ["r3", "r1"]),
    ("run_id NOT IN ('r1', 'r3')", ["r5", "r4", "r2"]),
    ("run_id = 'r2'", ["r2"]),
    ("attributes.status = 'FINISHED'", ["r5", "r4", "r1"]),
    ("status != 'FINISHED'", ["r3", "r2"]),
    ("run_name LIKE 'alpha%'", ["r1"]),
    ("run_name ILIKE 'alpha%'", ["r5", "r1"]),
    ("attributes.start_time >= 3000", ["r5", "r4", "r3"]),
    ("created < 2500", ["r2", "r1"]),
    ("end_time > 0", ["r5", "r4", "r2", "r1"]),
    ("user_id != 'ann'", ["r5", "r2"]),
    ("user_id IN ('ann', 'carl')", ["r5", "r4", "r1"]),
    ("lifecycle_stage = 'deleted'", ["r4"]),
    ("artifact_uri LIKE '%/r2/%'", ["r2"]),
    # datasets
    ("datasets.name = 'mnist'", ["r5", "r1"]),
    ("datasets.name LIKE 'mnist%'", ["r5", "r1"]),
    ("datasets.context = 'eval'", ["r1"]),
    ("datasets.context != 'training'", ["r1"]),
    ("datasets.digest IN ('d3', 'nope')", ["r2"]),
    ("datasets.name NOT IN ('mnist')", ["r2", "r1"]),
    # AND / OR / parentheses
    ("params.lr = '0.1' AND metrics.loss < 0.5", ["r1"]),
    ("params.model = 'mlp' OR metrics.acc >= 0.9", ["r4", "r1"]),
    ("(params.model = 'vit' OR tags.team = 'vision') AND metrics.loss < 1", ["r3"]),
    ("params.model = 'vit' OR tags.team = 'vision' AND metrics.loss < 1", ["r3"]),
    ("(params.model = 'vit' OR tags.team = 'vision') AND status != 'X'", ["r3", "r2"]),
    (
        "(status = 'FINISHED' AND (metrics.acc > 0.8 OR params.model = 'mlp')) OR run_id = 'r2'",
        ["r4", "r2", "r1"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), SEMANTICS)
def test_run_filter_semantics(
    con: duckdb.DuckDBPyConnection, text: str | None, expected: list[str]
) -> None:
    assert search_runs(con, text) == expected


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # numbers, then NaN, then missing - in both directions
        (["metrics.acc DESC"], ["r1", "r5", "r2", "r4", "r3"]),
        (["metrics.acc ASC"], ["r2", "r5", "r1", "r4", "r3"]),
        (["metrics.acc"], ["r2", "r5", "r1", "r4", "r3"]),
        (["metrics.loss DESC"], ["r5", "r3", "r1", "r2", "r4"]),
        # params sort as strings; ties fall back to start_time DESC; missing last
        (["params.lr ASC"], ["r2", "r3", "r1", "r5", "r4"]),
        (["params.lr DESC"], ["r5", "r3", "r1", "r2", "r4"]),
        (["tags.team ASC", "metrics.acc DESC"], ["r1", "r5", "r3", "r2", "r4"]),
        (["run_name"], ["r5", "r1", "r2", "r4", "r3"]),
        (["attributes.start_time ASC"], ["r1", "r2", "r3", "r4", "r5"]),
        (["end_time DESC"], ["r5", "r4", "r2", "r1", "r3"]),
        (["end_time ASC"], ["r1", "r2", "r4", "r5", "r3"]),
        (["user_id DESC"], ["r5", "r2", "r4", "r1", "r3"]),
    ],
)
def test_run_order_by(
    con: duckdb.DuckDBPyConnection, order_by: list[str], expected: list[str]
) -> None:
    assert search_runs(con, None, order_by) == expected


def test_filter_and_order_params_combine(con: duckdb.DuckDBPyConnection) -> None:
    got = search_runs(con, "params.lr IS NOT NULL AND tags.team ILIKE 'vision%'", ["metrics.acc"])
    assert got == ["r2", "r5", "r1"]


def test_default_order_is_start_time_then_run_id(con: duckdb.DuckDBPyConnection) -> None:
    order, params = compile_run_order_by(None)
    assert (order, params) == ("r.start_time DESC, r.run_id ASC", [])
    order, _ = compile_run_order_by(parse_order_by(["status"]))
    assert order.endswith("r.start_time DESC, r.run_id ASC")
    con.execute("UPDATE runs SET start_time = 1000")
    assert search_runs(con, None) == ["r1", "r2", "r3", "r4", "r5"]


def test_sql_injection_matches_nothing_and_leaves_tables(con: duckdb.DuckDBPyConnection) -> None:
    assert search_runs(con, "params.x = 'a'") == ["r1"]
    attacks = [
        "params.x = 'a'' OR 1=1 --'",
        "params.`x'; DROP TABLE runs; --` = 'a'",
        'params."x\'); DELETE FROM params; --" IS NOT NULL',
        "run_name LIKE 'x'' OR ''1''=''1'",
        "datasets.name IN ('a'') OR TRUE --')",
    ]
    for text in attacks:
        where, params = compile_run_filter(parse_filter(text))
        for fragment in ("DROP", "DELETE", "1=1", "--", "TRUE"):
            assert fragment not in where
        assert search_runs(con, text) == []
    order, params = compile_run_order_by(parse_order_by(["params.`x; DROP TABLE runs` DESC"]))
    assert "DROP" not in order
    assert params == ["x; DROP TABLE runs"]
    assert search_runs(con, None, ["tags.`'); DROP TABLE tags; --`"]) == [
        "r5",
        "r4",
        "r3",
        "r2",
        "r1",
    ]
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (5,)
    assert con.execute("SELECT count(*) FROM params").fetchone() == (len(PARAMS),)
    assert con.execute("SELECT count(*) FROM tags").fetchone() == (len(TAGS),)


def test_compiled_sql_uses_only_placeholders() -> None:
    where, params = compile_run_filter(
        parse_filter("metrics.`secret key` > 0.5 AND params.p IN ('v1', 'v2') OR status = 's'")
    )
    for user_text in ("secret", "v1", "'s'"):
        assert user_text not in where
    assert params == ["secret key", 0.5, "p", "v1", "v2", "s"]
    assert where.count("?") == len(params)


@pytest.mark.parametrize(
    "expr",
    [
        C("attribute", "password", "=", "x"),
        C("attribute", "run_id; DROP TABLE runs", "=", "x"),
        C("metric", "acc", "=", "x"),
        C("metric", "acc", ">", math.inf),
        C("metric", "acc", "LIKE", 1),
        C("param", "p", "=", 1),
        C("param", "p", "DROP", "x"),
        C("param", "", "=", "x"),
        C("param", "p", "IN", ()),
        C("param", "p", "IN", "abc"),
        C("dataset", "size", "=", "x"),
        C("experiment", "name", "=", "x"),
        C("attribute", "start_time", "=", "1"),
        C("attribute", "start_time", "=", True),
    ],
)
def test_compiler_refuses_hand_built_nonsense(expr: Comparison) -> None:
    with pytest.raises(MltrackError):
        compile_run_filter(expr)


def test_compiler_refuses_bad_order_terms() -> None:
    for term in [OrderTerm("dataset", "name"), OrderTerm("attribute", "password")]:
        with pytest.raises(MltrackError):
            compile_run_order_by([term])
    with pytest.raises(MltrackError):
        compile_experiment_order_by([OrderTerm("metric", "acc")])


def test_empty_groups_compile() -> None:
    assert compile_run_filter(And(())) == ("TRUE", [])
    assert compile_run_filter(Or(())) == ("FALSE", [])


# ---------------------------------------------------------------------------------------------
# Experiments
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "order_by", "expected"),
    [
        # default order: creation_time DESC (Default was created "now"), then id
        (None, None, [0, 2, 1]),
        ("name = 'vision-exp'", None, [1]),
        ("name LIKE '%baseline'", None, [2]),
        ("name ILIKE 'DEFAULT'", None, [0]),
        ("tags.team = 'cv'", None, [1]),
        # a NULL-valued tag counts as absent
        ("tags.team IS NULL", None, [0, 2]),
        ("tags.team IS NOT NULL", None, [1]),
        ("tags.team != 'x'", None, [1]),
        ("tags.note = 'it''s'", None, [2]),
        ("experiment_id IN (0, '2')", None, [0, 2]),
        ("experiment_id != 0", None, [2, 1]),
        ("creation_time < 150 OR name = 'Default'", None, [0, 1]),
        ("last_update_time >= 200 AND creation_time <= 200", None, [2, 1]),
        (None, ["name"], [0, 2, 1]),
        (None, ["name DESC"], [1, 2, 0]),
        (None, ["tags.team DESC"], [1, 0, 2]),
        (None, ["last_update_time ASC"], [2, 1, 0]),
    ],
)
def test_experiment_search(
    con: duckdb.DuckDBPyConnection,
    text: str | None,
    order_by: list[str] | None,
    expected: list[int],
) -> None:
    assert search_experiments(con, text, order_by) == expected


def test_experiment_default_order() -> None:
    assert compile_experiment_order_by(None) == ("e.creation_time DESC, e.experiment_id ASC", [])
    assert compile_experiment_filter(None) == ("TRUE", [])
