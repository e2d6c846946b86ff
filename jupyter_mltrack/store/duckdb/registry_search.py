"""Compile registry search ASTs (registered models, model versions, logged models) into SQL.

Built on the same whitelisting helpers as run search (:mod:`.search_sql`): identifiers come only
from the tables below, every key and value is a bound parameter.

One difference from runs, kept for MLflow compatibility: a tag ``!=`` comparison on registry
objects matches objects that lack the tag. The MLflow client appends
``tag.`mlflow.prompt.is_prompt` != 'true'`` to every registered-model search and expects models
without that tag to match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...search.filter_parser import Comparison, Expr, OrderTerm
from .search_sql import _compile_expr, _keyed_exists, _order_key, _predicate, _refuse


@dataclass(frozen=True)
class RegistryTable:
    """How one kind of registry object is searched: its alias, columns and key/value tables."""

    what: str
    columns: dict[str, tuple[str, str]]
    tag_table: str
    tag_owner: str
    default_order: tuple[str, ...]
    param_table: str | None = None
    param_owner: str | None = None


REGISTERED_MODELS = RegistryTable(
    what="registered models",
    columns={
        "name": ("rm.name", "string"),
        "creation_timestamp": ("rm.creation_time", "number"),
        "last_updated_timestamp": ("rm.last_update_time", "number"),
    },
    tag_table="registered_model_tags",
    tag_owner="t.name = rm.name",
    default_order=("rm.name ASC",),
)
MODEL_VERSIONS = RegistryTable(
    what="model versions",
    columns={
        "name": ("mv.name", "string"),
        "run_id": ("mv.run_id", "string"),
        "source_path": ("mv.source", "string"),
        "version_number": ("mv.version", "number"),
        "current_stage": ("mv.stage", "string"),
        "model_id": ("mv.model_id", "string"),
        "creation_timestamp": ("mv.creation_time", "number"),
        "last_updated_timestamp": ("mv.last_update_time", "number"),
    },
    tag_table="model_version_tags",
    tag_owner="t.name = mv.name AND t.version = mv.version",
    default_order=("mv.name ASC", "mv.version DESC"),
)
LOGGED_MODELS = RegistryTable(
    what="logged models",
    columns={
        "name": ("lm.name", "string"),
        "model_id": ("lm.model_id", "string"),
        "source_run_id": ("lm.source_run_id", "string"),
        "status": ("lm.status", "string"),
        "model_type": ("lm.model_type", "string"),
        "creation_timestamp": ("lm.creation_time", "number"),
        "last_updated_timestamp": ("lm.last_update_time", "number"),
    },
    tag_table="logged_model_tags",
    tag_owner="t.model_id = lm.model_id",
    default_order=("lm.creation_time DESC", "lm.model_id ASC"),
    param_table="logged_model_params",
    param_owner="t.model_id = lm.model_id",
)


def _clause_for(table: RegistryTable) -> Any:
    def clause(comparison: Comparison, params: list[Any]) -> str:
        if comparison.entity == "attribute":
            spec = table.columns.get(comparison.key)
            if spec is None:
                _refuse(f"unknown attribute {comparison.key!r} for {table.what}")
            column, kind = spec
            return _predicate(
                column,
                comparison.op,
                comparison.value,
                kind,
                f"attribute {comparison.key!r}",
                params,
            )
        if comparison.entity == "tag" and comparison.op == "!=":
            params.extend([_order_key_for(comparison), comparison.value])
            return (
                f"NOT EXISTS (SELECT 1 FROM {table.tag_table} t WHERE {table.tag_owner} "
                "AND t.key = ? AND t.value = ?)"
            )
        if comparison.entity == "tag":
            return _keyed_exists(
                table.tag_table, "t", table.tag_owner, comparison, "string", "tags", params
            )
        if comparison.entity == "param" and table.param_table and table.param_owner:
            return _keyed_exists(
                table.param_table, "t", table.param_owner, comparison, "string", "params", params
            )
        _refuse(f"cannot filter {table.what} by {comparison.entity!r}")

    return clause


def _order_key_for(comparison: Comparison) -> str:
    if not isinstance(comparison.key, str) or not comparison.key:
        _refuse(f"tag key must be a non-empty string, got {comparison.key!r}")
    if not isinstance(comparison.value, str):
        _refuse(f"tag comparisons take a string, got {comparison.value!r}")
    return comparison.key


def compile_registry_filter(table: RegistryTable, expr: Expr | None) -> tuple[str, list[Any]]:
    """A boolean SQL expression (and its parameters) over ``table``'s alias."""
    if expr is None:
        return "TRUE", []
    params: list[Any] = []
    return _compile_expr(expr, _clause_for(table), params), params


def compile_registry_order_by(
    table: RegistryTable, terms: list[OrderTerm] | None
) -> tuple[str, list[Any]]:
    """An ORDER BY list (without the keyword); the table's default order breaks ties."""
    parts: list[str] = []
    params: list[Any] = []
    for term in terms or []:
        direction = "ASC" if term.ascending else "DESC"
        if term.entity == "attribute":
            spec = table.columns.get(term.key)
            if spec is None:
                _refuse(f"cannot order {table.what} by unknown attribute {term.key!r}")
            parts.append(f"{spec[0]} {direction} NULLS LAST")
        elif term.entity == "tag":
            parts.append(
                f"(SELECT t.value FROM {table.tag_table} t WHERE {table.tag_owner} "
                f"AND t.key = ?) {direction} NULLS LAST"
            )
            params.append(_order_key(term))
        else:
            _refuse(f"cannot order {table.what} by {term.entity!r}")
    parts.extend(table.default_order)
    return ", ".join(parts), params
