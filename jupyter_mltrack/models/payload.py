"""Scoring requests and answers in MLflow's formats, shared by the scoring server, the warm
model route of the Jupyter server, and anything else that scores over HTTP.

A JSON body holds exactly one of:

- ``dataframe_split``: ``{"columns": [...], "data": [[...], ...]}`` (pandas' split orient);
- ``dataframe_records``: ``[{"col": value, ...}, ...]``;
- ``instances``: a list of rows (TF-serving's row format);
- ``inputs``: columns as ``{"name": [...]}``, or a (nested) list for a tensor;

plus an optional ``params`` object. A ``text/csv`` body is a table with a header row. The answer
is ``{"predictions": ...}``. Every malformed request is a :class:`PayloadError` (400, or 415 for
a content type we do not read) with a message that says what to send instead.
"""

from __future__ import annotations

import io
import json
from typing import Any

from ..errors import MltrackError
from .jsonable import to_jsonable
from .signature import Schema

JSON_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
CONTENT_TYPES = ("application/json", "text/csv")
MAX_BODY_BYTES = 100 * 1024 * 1024


class PayloadError(MltrackError):
    """A scoring request that cannot be read; ``http_status`` is 400, 413 or 415."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status


def _media_type(content_type: str | None) -> str:
    if not content_type or not content_type.strip():
        raise PayloadError(
            f"the request has no Content-Type; send one of {', '.join(CONTENT_TYPES)}", 415
        )
    mime, *parameters = (part.strip() for part in content_type.split(";"))
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise PayloadError(f"only UTF-8 bodies are read, not {value.strip()!r}", 415)
    mime = mime.lower()
    if mime not in CONTENT_TYPES:
        raise PayloadError(
            f"content type {mime!r} is not supported; send one of {', '.join(CONTENT_TYPES)}",
            415,
        )
    return mime


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the request body is not valid UTF-8: {exc}") from None


def _parse_csv(body: bytes) -> Any:
    import pandas as pd

    text = _decode(body)
    if not text.strip():
        raise PayloadError("the CSV body is empty; send a header row and at least one data row")
    try:
        return pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise PayloadError(f"the CSV body cannot be read: {exc}") from None


def _tensor_dtype(schema: Schema | None, name: str | None = None) -> Any:
    """The dtype a tensor input should be parsed with, per the schema (None: numpy's guess)."""
    if schema is None or not schema.is_tensor:
        return None
    for spec in schema.specs:
        if spec.name == name or (name is None and len(schema.specs) == 1):
            return spec.dtype  # type: ignore[union-attr]
    return None


def _array(value: Any, what: str, dtype: Any = None) -> Any:
    import numpy as np

    try:
        arr = np.asarray(value)
        # a float32 model's input arrives as JSON numbers (float64): read it as float32.
        # Only same-kind casts here; anything else is left for the signature check to refuse.
        if (
            dtype is not None
            and arr.dtype.kind in "biuf"
            and np.can_cast(arr.dtype, dtype, casting="same_kind")
        ):
            arr = arr.astype(dtype)
        return arr
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"{what} is not a rectangular array of values: {exc}") from None


def _frame(make: Any, what: str) -> Any:
    try:
        return make()
    except (ValueError, TypeError, KeyError, AssertionError) as exc:
        raise PayloadError(f"{what} cannot form a table: {exc}") from None


def _from_split(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, dict) or "data" not in value:
        raise PayloadError(
            'dataframe_split must be an object like {"columns": ["a", "b"], "data": [[1, 2]]}'
        )
    unknown = set(value) - {"columns", "data", "index"}
    if unknown:
        raise PayloadError(f"dataframe_split has unknown keys: {', '.join(sorted(unknown))}")
    data, columns = value["data"], value.get("columns")
    if not isinstance(data, list):
        raise PayloadError("dataframe_split.data must be a list of rows")
    if columns is not None and not isinstance(columns, list):
        raise PayloadError("dataframe_split.columns must be a list of column names")
    if data and all(not isinstance(row, list) for row in data) and columns and len(columns) == 1:
        data = [[v] for v in data]  # one column may come as a flat list
    if columns is not None and any(
        not isinstance(row, list) or len(row) != len(columns) for row in data
    ):
        raise PayloadError(
            f"every row of dataframe_split.data must be a list of {len(columns)} values "
            "(one per column)"
        )
    return _frame(
        lambda: pd.DataFrame(data=data, columns=columns, index=value.get("index")),
        "dataframe_split",
    )


def _from_records(value: Any) -> Any:
    import pandas as pd

    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise PayloadError('dataframe_records must be a list of objects like [{"a": 1, "b": 2}]')
    return _frame(lambda: pd.DataFrame(value), "dataframe_records")


def _from_instances(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(value, list) or not value:
        raise PayloadError("instances must be a non-empty list of rows")
    if all(isinstance(r, dict) for r in value):
        if schema is not None and schema.is_tensor:
            names = list(value[0])
            if any(list(r) != names for r in value):
                raise PayloadError("every instance must have the same keys")
            return {
                k: _array([r[k] for r in value], f"instances.{k}", _tensor_dtype(schema, k))
                for k in names
            }
        return _frame(lambda: pd.DataFrame(value), "instances")
    if any(isinstance(r, dict) for r in value):
        raise PayloadError("instances must be all objects or all values, not a mix")
    return _array(value, "instances", _tensor_dtype(schema))


def _from_inputs(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if isinstance(value, dict):
        if not value:
            raise PayloadError("inputs must not be an empty object")
        if schema is not None and schema.is_tensor:
            return {k: _array(v, f"inputs.{k}", _tensor_dtype(schema, k)) for k, v in value.items()}
        if all(not isinstance(v, list) for v in value.values()):
            return pd.DataFrame([value])
        return _frame(lambda: pd.DataFrame(value), "inputs")
    if isinstance(value, list):
        if value and all(isinstance(r, dict) for r in value):
            return _frame(lambda: pd.DataFrame(value), "inputs")
        if not value:
            raise PayloadError("inputs must not be an empty list")
        return _array(value, "inputs", _tensor_dtype(schema))
    raise PayloadError("inputs must be an object of columns or a list of values")


def parse_request(
    body: bytes, content_type: str | None, schema: Schema | None = None
) -> tuple[Any, dict[str, Any] | None]:
    """Read a scoring request body into model input and inference params.

    Parameters
    ----------
    body:
        The raw request body.
    content_type:
        The request's Content-Type header (``application/json`` or ``text/csv``).
    schema:
        The model's input schema, used to parse tensors with the right dtype.

    Raises
    ------
    PayloadError
        400 for a malformed body, 413 for one over :data:`MAX_BODY_BYTES`, 415 for a content
        type other than JSON or CSV.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadError(f"the request body is over {MAX_BODY_BYTES} bytes", 413)
    mime = _media_type(content_type)
    if mime == "text/csv":
        return _parse_csv(body), None
    text = _decode(body)
    if not text.strip():
        raise PayloadError(f"the request body is empty; send a JSON object with one of {_keys()}")
    try:
        request = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        # json gives up on deep nesting with RecursionError, which would drop the connection
        raise PayloadError("the request body is nested too deeply") from None
    if not isinstance(request, dict):
        raise PayloadError(f"the request body must be a JSON object with one of {_keys()}")
    formats = [k for k in JSON_FORMATS if k in request]
    unknown = sorted(set(request) - set(JSON_FORMATS) - {"params"})
    if unknown:
        raise PayloadError(f"unknown keys {', '.join(unknown)}; use one of {_keys()}")
    if len(formats) != 1:
        found = f"got {', '.join(formats)}" if formats else "got none"
        raise PayloadError(f"the request must hold exactly one of {_keys()} ({found})")
    params = request.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError("params must be a JSON object")
    key, value = formats[0], request[formats[0]]
    if key == "dataframe_split":
        data = _from_split(value)
    elif key == "dataframe_records":
        data = _from_records(value)
    elif key == "instances":
        data = _from_instances(value, schema)
    else:
        data = _from_inputs(value, schema)
    return data, params


def _keys() -> str:
    return ", ".join(JSON_FORMATS)


def predictions_body(predictions: Any) -> dict[str, Any]:
    """The answer to a scoring request: ``{"predictions": ...}`` in plain JSON values."""
    return {"predictions": to_jsonable(predictions)}


def predict_request(model: Any, body: bytes, content_type: str | None) -> dict[str, Any]:
    """Parse a request, predict with ``model`` (a :class:`PyFuncModel`), build the answer.

    The model's own errors become a 400, as in MLflow's scoring server: on a served model they
    almost always mean input the model cannot take.
    """
    data, params = parse_request(body, content_type, model.input_schema)
    try:
        predictions = model.predict(data, params)
    except MltrackError:
        raise
    except Exception as exc:  # noqa: BLE001 - any error of the model's own code
        raise PayloadError(
            f"the model could not predict on this input: {type(exc).__name__}: {exc}"
        ) from None
    return predictions_body(predictions)
