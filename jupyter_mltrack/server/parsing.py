"""Turning request text into checked Python values, one clear MltrackError per mistake.

Query strings arrive as text and JSON bodies as whatever a client sent; every function here
either returns a value of the promised type or raises :class:`MltrackError`
(INVALID_PARAMETER_VALUE, HTTP 400) naming the field. Nothing here touches the store or tornado,
so the handlers stay adapters and these rules can be tested without a server.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Callable
from typing import Any

from ..entities import Cell, RunStatus
from ..errors import MltrackError
from ..store import rules
from ..store.batch import (
    ROW_KINDS,
    ArtifactRow,
    InputRow,
    MetricRow,
    MetricSeriesRow,
    ParamRow,
    RunCreateRow,
    RunUpdateRow,
    TagRow,
    WriteBatch,
    check_batch_id,
)
from ..validation import (
    check_artifact_path,
    check_key,
    check_name,
    param_value_to_str,
    tag_value_to_str,
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
# JSON has no NaN or infinity; clients that cannot send Python's bare NaN send these strings.
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


#: digits an integer query argument may have (int64 has 19): longer text is refused before
#: Python's int() sees it (it refuses more than 4,300 digits with a ValueError)
_MAX_INT_DIGITS = 20


def integer(
    text: str | None,
    name: str,
    default: int,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A query-string integer, ``default`` when absent, checked against the bounds."""
    if text is None or text == "":
        return default
    if len(text.strip().lstrip("-")) > _MAX_INT_DIGITS:
        raise MltrackError(f"{name} must be a 64-bit integer, got {len(text)} characters")
    if not re.fullmatch(r"-?[0-9]+", text.strip()):
        raise MltrackError(f"{name} must be an integer, got {text!r}")
    value = int(text)
    if minimum is not None and value < minimum:
        raise MltrackError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise MltrackError(f"{name} must be at most {maximum}, got {value}")
    return value


def number(text: str | None, name: str, default: float, minimum: float, maximum: float) -> float:
    """A query-string number within bounds, ``default`` when absent."""
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise MltrackError(f"{name} must be a number, got {text!r}") from None
    if not minimum <= value <= maximum:
        raise MltrackError(f"{name} must be between {minimum} and {maximum}, got {text!r}")
    return value


def flag(text: str | None, name: str, default: bool = False) -> bool:
    """A query-string boolean: true/false, 1/0, yes/no, on/off."""
    if text is None:
        return default
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise MltrackError(f"{name} must be true or false, got {text!r}")


def choice(text: str | None, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (``default`` when absent)."""
    if text is None or text == "":
        return default
    if text not in choices:
        raise MltrackError(f"{name} must be one of {', '.join(choices)}, got {text!r}")
    return text


def listed(values: list[str]) -> list[str]:
    """Repeated query values, each of which may also hold a comma-separated list.

    Keys and ids cannot contain commas (see :func:`jupyter_mltrack.validation.check_key`), so
    ``?metric=a,b`` and ``?metric=a&metric=b`` mean the same.
    """
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


# JSON bodies ---------------------------------------------------------------------------------


def known_fields(body: dict[str, Any], allowed: tuple[str, ...], what: str = "request") -> None:
    """Refuse fields the route does not know (a typo should not be silently ignored)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise MltrackError(
            f"unknown field(s) in {what}: {', '.join(unknown)}; known: {', '.join(allowed)}"
        )


def optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise MltrackError(f"{name} must be a string, got {type(value).__name__}: {value!r}")
    return value


def optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MltrackError(f"{name} must be an integer, got {type(value).__name__}: {value!r}")
    if value < 0:
        raise MltrackError(f"{name} must not be negative, got {value}")
    return value


def experiment_id(value: Any, name: str = "experiment_id") -> str:
    """An experiment id: digits, sent as a string or a number."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MltrackError(f"{name} must be a string of digits, got {value!r}")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):  # str.isdigit alone takes other scripts' digits
        raise MltrackError(f"{name} must be a string of digits, got {value!r}")
    return text


def new_run_id(value: Any, name: str = "run_id") -> str:
    """A run id a client chose (for a new run, or as a parent): safe as a folder name."""
    if not isinstance(value, str) or not rules.RUN_ID_RE.fullmatch(value):
        raise MltrackError(f"{name} must be 1 to 64 letters, digits, '-' or '_', got {value!r}")
    return value


def tag_map(value: Any, allow_delete: bool = False) -> dict[str, str | None]:
    """A ``{key: value}`` object of tags; ``None`` values (deletions) only if allowed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MltrackError(f"tags must be an object of key: value, got {value!r}")
    out: dict[str, str | None] = {}
    for key, tag_value in value.items():
        check_key(key, "tag key")
        if tag_value is None and allow_delete:
            out[key] = None
            continue
        if not isinstance(tag_value, str):
            raise MltrackError(f"tag {key!r} value must be a string, got {tag_value!r}")
        out[key] = tag_value_to_str(key, tag_value)
    return out


# The write batch -----------------------------------------------------------------------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise MltrackError(f"{where} must be a string, got {type(value).__name__}: {value!r}")
    return value


def _opt_text(value: Any, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MltrackError(f"{where} must be an integer, got {type(value).__name__}: {value!r}")
    if minimum is not None and value < minimum:
        raise MltrackError(f"{where} must be at least {minimum}, got {value}")
    return int(value)


def _opt_int(value: Any, where: str, minimum: int | None = None) -> int | None:
    return None if value is None else _int(value, where, minimum)


def _float(value: Any, where: str) -> float:
    if type(value) is float:
        return value
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MltrackError(f"{where} must be a number, got {type(value).__name__}: {value!r}")
    return float(value)


def _run_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MltrackError(f"{where} must be a non-empty string, got {value!r}")
    return value


def _rows(data: dict[str, Any], kind: str, width: int, fields: str) -> list[Any]:
    rows = data.get(kind, [])
    if not isinstance(rows, list):
        raise MltrackError(f"batch {kind} must be a list, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            raise MltrackError(f"batch {kind}[{i}] must be a list of {width} values: {fields}")
    return rows


def _metrics(data: dict[str, Any]) -> list[MetricRow]:
    rows = _rows(data, "metrics", 6, "run_id, key, value, step, timestamp, cell_id")
    out = []
    for i, (run_id, key, value, step, timestamp, cell_id) in enumerate(rows):
        where = f"metrics[{i}]"
        out.append(
            MetricRow(
                _run_id(run_id, f"{where} run_id"),
                check_key(key, f"{where} key"),
                _float(value, f"{where} value"),
                _int(step, f"{where} step"),
                _int(timestamp, f"{where} timestamp", minimum=0),
                _opt_text(cell_id, f"{where} cell_id"),
            )
        )
    return out


def _float_column(values: Any, where: str) -> Any:
    import numpy as np

    if isinstance(values, np.ndarray):  # a column of an Arrow batch
        array = values
    elif not isinstance(values, list):
        raise MltrackError(f"{where} must be a list of numbers")
    else:
        array = np.asarray(values) if values else np.empty(0, np.float64)
    if array.ndim == 1 and array.dtype.kind in "iuf":
        return array.astype(np.float64, copy=False)
    # strings ("NaN", "Infinity") or junk: check each value, naming the first bad one
    return np.array([_float(v, f"{where}[{j}]") for j, v in enumerate(values)], np.float64)


def _int_column(values: Any, where: str, minimum: int | None = None) -> Any:
    import numpy as np

    if isinstance(values, np.ndarray):  # a column of an Arrow batch
        array = values
    elif not isinstance(values, list):
        raise MltrackError(f"{where} must be a list of integers")
    else:
        array = np.asarray(values) if values else np.empty(0, np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        bad = next((v for v in values if isinstance(v, bool) or not isinstance(v, int)), values)
        raise MltrackError(f"{where} must be a list of integers, found {bad!r}")
    if minimum is not None and len(array) and array.min() < minimum:
        raise MltrackError(f"{where} must be at least {minimum}, found {array.min()}")
    return array.astype(np.int64, copy=False)


def _metric_series(data: dict[str, Any]) -> list[MetricSeriesRow]:
    rows = _rows(data, "metric_series", 6, "run_id, key, cell_id, values, steps, timestamps")
    out = []
    for i, (run_id, key, cell_id, values, steps, timestamps) in enumerate(rows):
        where = f"metric_series[{i}]"
        value_col = _float_column(values, f"{where} values")
        step_col = _int_column(steps, f"{where} steps")
        time_col = _int_column(timestamps, f"{where} timestamps", minimum=0)
        if not len(value_col) == len(step_col) == len(time_col):
            raise MltrackError(f"{where} values, steps and timestamps must be equally long")
        out.append(
            MetricSeriesRow(
                _run_id(run_id, f"{where} run_id"),
                check_key(key, f"{where} key"),
                _opt_text(cell_id, f"{where} cell_id"),
                value_col,
                step_col,
                time_col,
            )
        )
    return out


def _params(data: dict[str, Any]) -> list[ParamRow]:
    rows = _rows(data, "params", 4, "run_id, key, value, cell_id")
    out = []
    for i, (run_id, key, value, cell_id) in enumerate(rows):
        where = f"params[{i}]"
        key = check_key(key, f"{where} key")
        out.append(
            ParamRow(
                _run_id(run_id, f"{where} run_id"),
                key,
                param_value_to_str(key, _text(value, f"{where} value")),
                _opt_text(cell_id, f"{where} cell_id"),
            )
        )
    return out


def _tags(data: dict[str, Any]) -> list[TagRow]:
    rows = _rows(data, "tags", 4, "run_id, key, value (null deletes), cell_id")
    out = []
    for i, (run_id, key, value, cell_id) in enumerate(rows):
        where = f"tags[{i}]"
        key = check_key(key, f"{where} key")
        text = _opt_text(value, f"{where} value")
        out.append(
            TagRow(
                _run_id(run_id, f"{where} run_id"),
                key,
                None if text is None else tag_value_to_str(key, text),
                _opt_text(cell_id, f"{where} cell_id"),
            )
        )
    return out


def _artifacts(data: dict[str, Any]) -> list[ArtifactRow]:
    rows = _rows(data, "artifacts", 6, "run_id, path, size, media_type, cell_id, logged_time")
    out = []
    for i, (run_id, path, size, media_type, cell_id, logged_time) in enumerate(rows):
        where = f"artifacts[{i}]"
        rel = check_artifact_path(_text(path, f"{where} path"), f"{where} path")
        if not rel:
            raise MltrackError(f"{where} path must name a file")
        out.append(
            ArtifactRow(
                _run_id(run_id, f"{where} run_id"),
                rel,
                _int(size, f"{where} size", minimum=0),
                _opt_text(media_type, f"{where} media_type"),
                _opt_text(cell_id, f"{where} cell_id"),
                _int(logged_time, f"{where} logged_time", minimum=0),
            )
        )
    return out


def _inputs(data: dict[str, Any]) -> list[InputRow]:
    fields = (
        "run_id, experiment_id, name, digest, source_type, source, schema, profile, context, "
        "tags_json, cell_id"
    )
    rows = _rows(data, "inputs", 11, fields)
    out = []
    for i, row in enumerate(rows):
        where = f"inputs[{i}]"
        exp = None if row[1] is None else experiment_id(row[1], f"{where} experiment_id")
        out.append(
            InputRow(
                _run_id(row[0], f"{where} run_id"),
                exp,
                check_name(row[2], f"{where} name"),
                check_name(row[3], f"{where} digest"),
                *(_opt_text(v, f"{where} field {j + 4}") for j, v in enumerate(row[4:])),
            )
        )
    return out


_CELL_FIELDS = tuple(f.name for f in dataclasses.fields(Cell))


def _cells(data: dict[str, Any]) -> list[Cell]:
    cells = data.get("cells", [])
    if not isinstance(cells, list):
        raise MltrackError("batch cells must be a list of objects")
    out = []
    for i, cell in enumerate(cells):
        where = f"cells[{i}]"
        if not isinstance(cell, dict):
            raise MltrackError(f"{where} must be an object with fields {', '.join(_CELL_FIELDS)}")
        known_fields(cell, _CELL_FIELDS, where)
        duration = cell.get("duration_ms")
        out.append(
            Cell(
                run_id=_run_id(cell.get("run_id"), f"{where} run_id"),
                seq=_int(cell.get("seq"), f"{where} seq"),
                cell_id=_opt_text(cell.get("cell_id"), f"{where} cell_id"),
                execution_count=_opt_int(cell.get("execution_count"), f"{where} execution_count"),
                source=_opt_text(cell.get("source"), f"{where} source"),
                start_time=_int(cell.get("start_time"), f"{where} start_time"),
                duration_ms=None if duration is None else _float(duration, f"{where} duration_ms"),
                outcome=_text(cell.get("outcome"), f"{where} outcome"),
                error_type=_opt_text(cell.get("error_type"), f"{where} error_type"),
                error_message=_opt_text(cell.get("error_message"), f"{where} error_message"),
            )
        )
    return out


def _run_updates(data: dict[str, Any]) -> list[RunUpdateRow]:
    rows = _rows(data, "run_updates", 3, "run_id, status, end_time")
    out = []
    for i, (run_id, status, end_time) in enumerate(rows):
        where = f"run_updates[{i}]"
        if status not in RunStatus.ALL:
            raise MltrackError(
                f"{where} status must be one of {', '.join(RunStatus.ALL)}, got {status!r}"
            )
        out.append(
            RunUpdateRow(
                _run_id(run_id, f"{where} run_id"),
                status,
                _opt_int(end_time, f"{where} end_time", minimum=0),
            )
        )
    return out


def _runs(data: dict[str, Any]) -> list[RunCreateRow]:
    rows = _rows(
        data, "runs", 6, "run_id, experiment_id, run_name, user_id, start_time, parent_run_id"
    )
    out = []
    for i, (run_id, exp, run_name, user_id, start_time, parent) in enumerate(rows):
        where = f"runs[{i}]"
        out.append(
            RunCreateRow(
                rules.check_run_id(_run_id(run_id, f"{where} run_id")),
                experiment_id(exp, f"{where} experiment_id"),
                check_name(run_name, f"{where} run_name"),
                _opt_text(user_id, f"{where} user_id"),
                _int(start_time, f"{where} start_time", minimum=0),
                None if parent is None else _run_id(parent, f"{where} parent_run_id"),
            )
        )
    return out


BATCH_FIELDS = (*ROW_KINDS, "batch_id")


#: each kind's row-by-row check, in the order :func:`batch_from_json` runs them
_ROW_CHECKS: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "metrics": _metrics,
    "metric_series": _metric_series,
    "params": _params,
    "tags": _tags,
    "artifacts": _artifacts,
    "inputs": _inputs,
    "cells": _cells,
    "run_updates": _run_updates,
    "runs": _runs,
}


def batch_from_json(data: dict[str, Any]) -> WriteBatch:
    """Check a :meth:`WriteBatch.to_json` document row by row and build the batch.

    Metric values may be numbers, or the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
    a metric series' columns become numpy arrays.

    Raises
    ------
    MltrackError
        Naming the first field that is missing or of the wrong type; nothing is written.
    """
    known_fields(data, BATCH_FIELDS, "batch")
    checked = {kind: check(data) for kind, check in _ROW_CHECKS.items()}
    return WriteBatch(**checked, batch_id=check_batch_id(data.get("batch_id")))


def batch_rows(kind: str, rows: list[Any]) -> list[Any]:
    """One kind's rows (as :meth:`WriteBatch.to_json` writes them) checked and built as
    :func:`batch_from_json` does, errors naming ``<kind>[<i>]``."""
    return _ROW_CHECKS[kind]({kind: rows})


def batch_from_arrow(body: bytes | memoryview) -> WriteBatch:
    """Check a write batch sent as an Arrow IPC stream (:mod:`jupyter_mltrack.store.wire`) and
    build it: the stream's shape first, then every value as :func:`batch_from_json` would
    check it, a column at a time (:mod:`.arrow_batch`).

    Raises
    ------
    MltrackError
        Not an Arrow stream, cut short, another schema, or a bad value (in the words of
        :func:`batch_from_json`); nothing is written.
    """
    from .arrow_batch import checked_batch

    return checked_batch(body)


# HTTP ranges ---------------------------------------------------------------------------------


class RangeNotSatisfiable(MltrackError):
    """A Range header that selects no byte of the file (HTTP 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions a Range header asks for.

    ``None`` means "send the whole file": no header, a unit other than bytes, or several
    ranges (a server may always answer a Range request with the full body).
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = re.fullmatch(r"\s*([0-9]*)-([0-9]*)\s*", spec)
    if not match or match.groups() == ("", ""):
        raise MltrackError(f"invalid Range header {header!r}")
    start_text, end_text = match.groups()
    if start_text == "":
        # a suffix: the last N bytes
        length = int(end_text)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(f"range {header!r} selects no byte of a {size}-byte file")
        return max(0, size - length), size - 1
    start = int(start_text)
    end = size - 1 if end_text == "" else min(int(end_text), size - 1)
    if start >= size:
        raise RangeNotSatisfiable(f"range {header!r} starts past the end of a {size}-byte file")
    if end < start:
        raise MltrackError(f"invalid Range header {header!r}: the end is before the start")
    return start, end
