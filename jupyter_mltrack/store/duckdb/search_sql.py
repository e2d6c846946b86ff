"""Compile search ASTs (:mod:`jupyter_mltrack.search.filter_parser`) into DuckDB SQL fragments.

Every user-supplied string or number - values *and* keys - travels as a bound ``?`` parameter.
The SQL text is assembled only from constants in this module, chosen through whitelists, so a
filter cannot inject SQL whatever its AST holds; a hand-built AST that names an unknown column or
operator is refused with :class:`~jupyter_mltrack.errors.MltrackError`.

Each function returns ``(sql, params)``; the params are in the order their ``?`` appear in the
fragment. A search query is assembled as::

    where, where_params = compile_run_filter(parse_filter(text))
    order, order_params = compile_run_order_by(parse_order_by(order_by))
    sql = f"SELECT r.* FROM runs r WHERE {where} ORDER BY {order}"
    con.execute(sql, where_params + order_params)

Semantics worth knowing:

- Metric clauses test the latest value (``latest_metrics``), never the history.
- A run (experiment) without the key never matches a comparison, not even ``!=`` or ``NOT IN``:
  each clause is an ``EXISTS`` over the rows that carry the key. ``IS NULL`` means "no such key".
- Metric range comparisons (``< <= > >=``) never match NaN. DuckDB orders NaN above every number,
  so without this ``metrics.loss > 1`` would pick up diverged runs.
- ``attributes.artifact_uri`` compares against the ``runs.artifact_path`` column, as stored.
- ``LIKE`` is case-sensitive, ``ILIKE`` is not; neither has an escape character.
- Experiment tags whose value is NULL count as absent.
- Ordering puts missing values (and NaN metrics, just before them) last in both directions, then
  breaks ties by start time (newest first) and id, so pages are stable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from jupyter_mltrack.errors import MltrackError
from jupyter_mltrack.search.filter_parser import (
    And,
    Comparison,
    Expr,
    Or,
    OrderTerm,
)

__all__ = [
    "compile_experiment_filter",
    "compile_experiment_order_by",
    "compile_run_filter",
    "compile_run_order_by",
]

# Column whitelists: the only places identifiers in the generated SQL come from.
_RUN_COLUMNS: dict[str, tuple[str, str]] = {
    "run_id": ("r.run_id", "string"),
    "run_name": ("r.run_name", "string"),
    "status": ("r.status", "string"),
    "user_id": ("r.user_id", "string"),
    # MLflow's name for it; the store keeps the run's artifact location in artifact_path.
    "artifact_uri": ("r.artifact_path", "string"),
    "lifecycle_stage": ("r.lifecycle_stage", "string"),
    "start_time": ("r.start_time", "number"),
    "created": ("r.start_time", "number"),
    "end_time": ("r.end_time", "number"),
}
_DATASET_COLUMNS: dict[str, str] = {"name": "i.name", "digest": "i.digest", "context": "i.context"}
_EXPERIMENT_COLUMNS: dict[str, tuple[str, str]] = {
    "name": ("e.name", "string"),
    "experiment_id": ("e.experiment_id", "id"),
    "creation_time": ("e.creation_time", "number"),
    "last_update_time": ("e.last_update_time", "number"),
}

_BINARY_SQL = {
    "=": "=",
    "!=": "<>",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "LIKE": "LIKE",
    "ILIKE": "ILIKE",
}
_NUMBER_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_ID_OPS = frozenset({"=", "!=", "IN", "NOT IN"})
_NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
_RANGE_OPS = frozenset({"<", "<=", ">", ">="})
_OPS_BY_KIND = {"number": _NUMBER_OPS, "string": _STRING_OPS, "id": _ID_OPS}

_INT_RE = re.compile(r"-?[0-9]+")

_RUN_DEFAULT_ORDER = ("r.start_time DESC", "r.run_id ASC")
_EXPERIMENT_DEFAULT_ORDER = ("e.creation_time DESC", "e.experiment_id ASC")


def _refuse(message: str) -> NoReturn:
    raise MltrackError(f"cannot compile search: {message}")


# ---------------------------------------------------------------------------------------------
# Value checks
# ---------------------------------------------------------------------------------------------


def _scalar(value: object, kind: str, what: str) -> int | float | str:
    """Check one bound value against the kind of thing it is compared with."""
    if kind == "number":
        # bool is an int subclass but never a meaningful metric or timestamp.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _refuse(f"{what} takes a number, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            _refuse(f"{what} takes a finite number, got {value!r}")
        return value
    if kind == "id":
        text = str(value).strip() if isinstance(value, (str, int)) else ""
        if isinstance(value, bool) or not _INT_RE.fullmatch(text):
            _refuse(f"{what} takes an integer id, got {value!r}")
        return int(text)
    if not isinstance(value, str):
        _refuse(f"{what} takes a string, got {value!r}")
    return value


def _key(comparison: Comparison) -> str:
    if not isinstance(comparison.key, str) or not comparison.key:
        _refuse(f"{comparison.entity} key must be a non-empty string, got {comparison.key!r}")
    return comparison.key


def _predicate(column: str, op: str, value: object, kind: str, what: str, params: list[Any]) -> str:
    """``<column> <op> ?`` (or an IN list), appending the bound values to ``params``."""
    if op not in _OPS_BY_KIND[kind]:
        _refuse(f"operator {op!r} is not valid for {what}")
    if op in ("IN", "NOT IN"):
        if not isinstance(value, tuple) or not value:
            _refuse(f"{op} needs a non-empty tuple of values for {what}, got {value!r}")
        params.extend(_scalar(v, kind, what) for v in value)
        return f"{column} {op} ({', '.join('?' * len(value))})"
    params.append(_scalar(value, kind, what))
    return f"{column} {_BINARY_SQL[op]} ?"


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


def _compile_expr(
    expr: Expr, clause: Callable[[Comparison, list[Any]], str], params: list[Any]
) -> str:
    if isinstance(expr, Comparison):
        return clause(expr, params)
    if isinstance(expr, (And, Or)):
        if not expr.items:
            # The identities of AND and OR, so an empty group neither matches all nor crashes.
            return "TRUE" if isinstance(expr, And) else "FALSE"
        joiner = " AND " if isinstance(expr, And) else " OR "
        return "(" + joiner.join(_compile_expr(item, clause, params) for item in expr.items) + ")"
    _refuse(f"unknown filter node {type(expr).__name__}")


def _keyed_exists(
    table: str,
    alias: str,
    owner: str,
    comparison: Comparison,
    kind: str,
    what: str,
    params: list[Any],
    extra: str = "",
) -> str:
    """EXISTS over the key/value rows of one run or experiment (params, tags, metrics)."""
    params.append(_key(comparison))
    head = f"SELECT 1 FROM {table} {alias} WHERE {owner} AND {alias}.key = ?"
    op = comparison.op
    if op in _NULL_OPS:
        if kind != "string":
            _refuse(f"operator {op!r} is not valid for {what}")
        return f"{'NOT ' if op == 'IS NULL' else ''}EXISTS ({head}{extra})"
    predicate = _predicate(f"{alias}.value", op, comparison.value, kind, what, params)
    return f"EXISTS ({head} AND {predicate}{extra})"


def _run_clause(comparison: Comparison, params: list[Any]) -> str:
    entity, op = comparison.entity, comparison.op
    if entity == "metric":
        # NaN sorts above every number in DuckDB; keep it out of range comparisons.
        nan_guard = " AND NOT isnan(m.value)" if op in _RANGE_OPS else ""
        return _keyed_exists(
            "latest_metrics",
            "m",
            "m.run_id = r.run_id",
            comparison,
            "number",
            "metrics",
            params,
            nan_guard,
        )
    if entity == "param":
        return _keyed_exists(
            "params", "p", "p.run_id = r.run_id", comparison, "string", "params", params
        )
    if entity == "tag":
        return _keyed_exists(
            "tags", "t", "t.run_id = r.run_id", comparison, "string", "tags", params
        )
    if entity == "dataset":
        column = _DATASET_COLUMNS.get(comparison.key)
        if column is None:
            _refuse(f"unknown dataset field {comparison.key!r}")
        predicate = _predicate(column, op, comparison.value, "string", "datasets", params)
        return f"EXISTS (SELECT 1 FROM inputs i WHERE i.run_id = r.run_id AND {predicate})"
    if entity == "attribute":
        spec = _RUN_COLUMNS.get(comparison.key)
        if spec is None:
            _refuse(f"unknown run attribute {comparison.key!r}")
        column, kind = spec
        what = f"attribute {comparison.key!r}"
        return _predicate(column, op, comparison.value, kind, what, params)
    _refuse(f"unknown entity {entity!r} in a run filter")


def _experiment_clause(comparison: Comparison, params: list[Any]) -> str:
    if comparison.entity == "tag":
        # experiment_tags.value is nullable; a NULL-valued tag counts as absent.
        return _keyed_exists(
            "experiment_tags",
            "t",
            "t.experiment_id = e.experiment_id",
            comparison,
            "string",
            "tags",
            params,
            " AND t.value IS NOT NULL",
        )
    if comparison.entity == "attribute":
        spec = _EXPERIMENT_COLUMNS.get(comparison.key)
        if spec is None:
            _refuse(f"unknown experiment attribute {comparison.key!r}")
        column, kind = spec
        what = f"attribute {comparison.key!r}"
        return _predicate(column, comparison.op, comparison.value, kind, what, params)
    _refuse(f"unknown entity {comparison.entity!r} in an experiment filter")


def compile_run_filter(expr: Expr | None) -> tuple[str, list[Any]]:
    """Compile a run filter into a boolean SQL expression over ``runs`` aliased ``r``.

    Parameters
    ----------
    expr:
        The AST from :func:`~jupyter_mltrack.search.filter_parser.parse_filter`, or ``None``.

    Returns
    -------
    tuple of (str, list)
        The expression (``"TRUE"`` for no filter) and its bound parameters, in ``?`` order.

    Raises
    ------
    MltrackError
        If the AST names an unknown entity, attribute or operator, or carries a value of the
        wrong type (only possible for an AST not built by the parser).
    """
    if expr is None:
        return "TRUE", []
    params: list[Any] = []
    return _compile_expr(expr, _run_clause, params), params


def compile_experiment_filter(expr: Expr | None) -> tuple[str, list[Any]]:
    """Compile an experiment filter into a boolean SQL expression over ``experiments e``.

    Parameters
    ----------
    expr:
        The AST from :func:`~jupyter_mltrack.search.filter_parser.parse_experiment_filter`.

    Returns
    -------
    tuple of (str, list)
        The expression (``"TRUE"`` for no filter) and its bound parameters, in ``?`` order.

    Raises
    ------
    MltrackError
        If the AST names something an experiment filter cannot test.
    """
    if expr is None:
        return "TRUE", []
    params: list[Any] = []
    return _compile_expr(expr, _experiment_clause, params), params


# ---------------------------------------------------------------------------------------------
# Ordering
# ---------------------------------------------------------------------------------------------


def _direction(term: OrderTerm) -> str:
    return "ASC" if term.ascending else "DESC"


def compile_run_order_by(terms: list[OrderTerm] | None) -> tuple[str, list[Any]]:
    """Compile run ordering into an ORDER BY list (without the ``ORDER BY`` keyword).

    Parameters
    ----------
    terms:
        From :func:`~jupyter_mltrack.search.filter_parser.parse_order_by`; ``None`` or empty
        gives the default order.

    Returns
    -------
    tuple of (str, list)
        The ORDER BY list and its bound parameters. The user's terms come first; missing values
        sort last whatever the direction, and for metrics NaN sorts after every number and before
        missing values. ``r.start_time DESC, r.run_id ASC`` always follow as tie-breakers.

    Raises
    ------
    MltrackError
        If a term names an entity or attribute runs cannot be ordered by.
    """
    parts: list[str] = []
    params: list[Any] = []
    for term in terms or []:
        direction = _direction(term)
        if term.entity == "metric":
            where = "FROM latest_metrics lm WHERE lm.run_id = r.run_id AND lm.key = ?"
            # Rank first (0 number, 1 NaN, 2 missing) so NaN and missing stay last both ways;
            # NULLS LAST alone would not do, as DuckDB sorts NaN above every number.
            parts.append(
                f"COALESCE((SELECT CASE WHEN isnan(lm.value) THEN 1 ELSE 0 END {where}), 2)"
            )
            parts.append(f"(SELECT lm.value {where}) {direction} NULLS LAST")
            params += [_order_key(term), term.key]
        elif term.entity in ("param", "tag"):
            table = "params" if term.entity == "param" else "tags"
            parts.append(
                f"(SELECT kv.value FROM {table} kv WHERE kv.run_id = r.run_id AND kv.key = ?) "
                f"{direction} NULLS LAST"
            )
            params.append(_order_key(term))
        elif term.entity == "attribute":
            spec = _RUN_COLUMNS.get(term.key)
            if spec is None:
                _refuse(f"cannot order runs by unknown attribute {term.key!r}")
            parts.append(f"{spec[0]} {direction} NULLS LAST")
        else:
            _refuse(f"cannot order runs by {term.entity!r}")
    parts.extend(_RUN_DEFAULT_ORDER)
    return ", ".join(parts), params


def compile_experiment_order_by(terms: list[OrderTerm] | None) -> tuple[str, list[Any]]:
    """Compile experiment ordering into an ORDER BY list (without the keyword).

    Parameters
    ----------
    terms:
        From :func:`~jupyter_mltrack.search.filter_parser.parse_experiment_order_by`.

    Returns
    -------
    tuple of (str, list)
        The ORDER BY list and its bound parameters; ``e.creation_time DESC,
        e.experiment_id ASC`` (MLflow's default) always follow the user's terms.

    Raises
    ------
    MltrackError
        If a term names something experiments cannot be ordered by.
    """
    parts: list[str] = []
    params: list[Any] = []
    for term in terms or []:
        direction = _direction(term)
        if term.entity == "tag":
            parts.append(
                "(SELECT kv.value FROM experiment_tags kv "
                f"WHERE kv.experiment_id = e.experiment_id AND kv.key = ?) {direction} NULLS LAST"
            )
            params.append(_order_key(term))
        elif term.entity == "attribute":
            spec = _EXPERIMENT_COLUMNS.get(term.key)
            if spec is None:
                _refuse(f"cannot order experiments by unknown attribute {term.key!r}")
            parts.append(f"{spec[0]} {direction} NULLS LAST")
        else:
            _refuse(f"cannot order experiments by {term.entity!r}")
    parts.extend(_EXPERIMENT_DEFAULT_ORDER)
    return ", ".join(parts), params


def _order_key(term: OrderTerm) -> str:
    if not isinstance(term.key, str) or not term.key:
        _refuse(f"{term.entity} key must be a non-empty string, got {term.key!r}")
    return term.key
