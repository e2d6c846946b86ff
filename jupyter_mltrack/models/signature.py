"""Model signatures in MLflow's format: infer them from an example, enforce them on input.

A signature says what a model takes and returns. It is either column based (named, typed
columns, for DataFrames and dicts) or tensor based (numpy arrays with a dtype and a shape, ``-1``
for a free dimension). It is stored in the ``MLmodel`` file as MLflow stores it: two JSON strings,
``inputs`` and ``outputs``, so MLflow reads our signatures and we read MLflow's.

Enforcement turns what a caller passed into what the model was built for, or raises
:class:`MltrackError` naming the first column or dimension that does not fit. It converts only
where no information is lost (int32 to int64, integers to floats, an integral float to an integer);
everything else is an error rather than a silent guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import MltrackError

# MLflow's column types and the numpy dtype each one holds.
COLUMN_DTYPES: dict[str, str | None] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": None,  # object/str columns
    "binary": None,
    "datetime": "datetime64[ns]",
}
_INTEGER_TYPES = ("integer", "long")
_FLOAT_TYPES = ("float", "double")


@dataclass
class ColSpec:
    """One column of a column-based schema.

    ``extra`` keeps keys of MLflow's richer types (``items``, ``properties``) for a faithful round
    trip; columns of types other than :data:`COLUMN_DTYPES` are passed through unchecked.
    """

    type: str
    name: str | None = None
    required: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        out.update(self.extra)
        return out


@dataclass
class TensorSpec:
    """One tensor of a tensor-based schema: numpy dtype name and shape (-1: any size)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tensor"}
        if self.name is not None:
            out["name"] = self.name
        out["tensor-spec"] = {"dtype": self.dtype, "shape": list(self.shape)}
        return out

    def describe(self) -> str:
        return f"{self.dtype} tensor of shape {_shape_text(self.shape)}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


@dataclass
class Schema:
    """A list of column specs or of tensor specs (never a mix, as in MLflow)."""

    specs: list[ColSpec] | list[TensorSpec]

    @property
    def is_tensor(self) -> bool:
        return bool(self.specs) and isinstance(self.specs[0], TensorSpec)

    @property
    def names(self) -> list[str | None]:
        return [s.name for s in self.specs]

    @property
    def has_names(self) -> bool:
        return bool(self.specs) and all(s.name is not None for s in self.specs)

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.specs])

    @classmethod
    def from_json(cls, text: str | list[dict[str, Any]]) -> Schema:
        """Read MLflow's JSON schema (a string or an already parsed list)."""
        try:
            items = json.loads(text) if isinstance(text, str) else text
        except ValueError as exc:
            raise MltrackError(f"the model's signature is not valid JSON: {exc}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise MltrackError("a schema must be a JSON list of column or tensor specs")
        kinds = {i.get("type") == "tensor" for i in items}
        if len(kinds) > 1:
            raise MltrackError("a schema cannot mix tensor and column specs")
        if items and items[0].get("type") == "tensor":
            tensors = []
            for item in items:
                spec = item.get("tensor-spec") or {}
                shape = tuple(int(d) for d in spec.get("shape", []))
                tensors.append(TensorSpec(str(spec.get("dtype")), shape, item.get("name")))
            return cls(tensors)
        cols = []
        for item in items:
            extra = {k: v for k, v in item.items() if k not in ("type", "name", "required")}
            cols.append(
                ColSpec(str(item.get("type")), item.get("name"), item.get("required", True), extra)
            )
        return cls(cols)

    def describe(self) -> str:
        """A short human description, used in error messages."""
        if self.is_tensor:
            return ", ".join(
                (f"{s.name}: " if s.name else "") + s.describe()  # type: ignore[union-attr]
                for s in self.specs
            )
        return ", ".join(f"{s.name or '<unnamed>'} ({s.type})" for s in self.specs)  # type: ignore[union-attr]


@dataclass
class Signature:
    """A model's input and output schemas (and MLflow's params schema, kept as raw JSON)."""

    inputs: Schema | None
    outputs: Schema | None = None
    params: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``signature`` block of an MLmodel file, in MLflow's layout."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        if not isinstance(data, dict):
            raise MltrackError("the model's signature must be a mapping with inputs and outputs")
        inputs, outputs = data.get("inputs"), data.get("outputs")
        params = data.get("params")
        return cls(
            Schema.from_json(inputs) if inputs else None,
            Schema.from_json(outputs) if outputs else None,
            params if isinstance(params, str) or params is None else json.dumps(params),
        )


# inference ---------------------------------------------------------------------------------
def _column_type_of_values(name: str, values: list[Any]) -> str:
    """The column type of plain Python values (an object column, or a dict example)."""
    import datetime as dt

    present = [v for v in values if v is not None]
    if not present:
        raise MltrackError(f"cannot infer a type for column {name!r}: it holds only missing values")
    for kind, test in (
        ("boolean", lambda v: isinstance(v, bool)),
        ("long", lambda v: isinstance(v, int) and not isinstance(v, bool)),
        ("double", lambda v: isinstance(v, float)),
        ("string", lambda v: isinstance(v, str)),
        ("binary", lambda v: isinstance(v, (bytes, bytearray))),
        ("datetime", lambda v: isinstance(v, (dt.date, dt.datetime))),
    ):
        if all(test(v) for v in present):
            return kind
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "double"
    kinds = sorted({type(v).__name__ for v in present})
    raise MltrackError(
        f"cannot infer a type for column {name!r}: it mixes {', '.join(kinds)}; "
        "give the example one type per column"
    )


def _column_type(name: str, series: Any) -> str:
    """MLflow's column type for a pandas Series."""
    import pandas as pd

    dtype = series.dtype
    api = pd.api.types
    if api.is_bool_dtype(dtype):
        return "boolean"
    if api.is_integer_dtype(dtype):
        # unsigned 32/64-bit values do not fit a signed int32; MLflow maps int64 to long too
        small = dtype.itemsize < 4 or (dtype.itemsize == 4 and api.is_signed_integer_dtype(dtype))
        return "integer" if small else "long"
    if api.is_float_dtype(dtype):
        return "float" if dtype.itemsize == 4 else "double"
    if api.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.CategoricalDtype):
        return _column_type_of_values(name, list(dtype.categories))
    return _column_type_of_values(name, series.tolist())


def _tensor_spec(array: Any, name: str | None = None) -> TensorSpec:
    import numpy as np

    arr = np.asarray(array)
    if arr.dtype == object:
        raise MltrackError(
            f"cannot infer a tensor signature from an array of Python objects"
            f"{f' ({name!r})' if name else ''}; use a numeric array or a DataFrame"
        )
    shape = (-1, *arr.shape[1:]) if arr.ndim else ()
    return TensorSpec(arr.dtype.name, tuple(int(d) for d in shape), name)


def infer_schema(data: Any) -> Schema:
    """Infer a schema from example data.

    DataFrames, dicts of scalars or lists, and lists of dicts give column schemas; numpy arrays
    (and lists of numbers) give a tensor schema; a dict of arrays gives named tensors.

    Raises
    ------
    MltrackError
        If the data has a type or a column that no schema can describe.
    """
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.Series):
        data = data.to_frame(name=data.name if data.name is not None else 0)
    if isinstance(data, pd.DataFrame):
        if data.columns.duplicated().any():
            raise MltrackError("cannot infer a signature from a DataFrame with duplicate columns")
        return Schema([ColSpec(_column_type(str(c), data[c]), str(c)) for c in data.columns])
    if isinstance(data, dict):
        if not data:
            raise MltrackError("cannot infer a signature from an empty dict")
        if all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema([_tensor_spec(v, str(k)) for k, v in data.items()])
        specs = []
        for key, value in data.items():
            values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
            specs.append(ColSpec(_column_type_of_values(str(key), values), str(key)))
        return Schema(specs)
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return infer_schema(pd.DataFrame(data))
    if isinstance(data, (np.ndarray, list, tuple)):
        return Schema([_tensor_spec(data)])
    if hasattr(data, "detach") and hasattr(data, "numpy"):  # a torch tensor
        return Schema([_tensor_spec(data.detach().cpu().numpy())])
    raise MltrackError(
        f"cannot infer a signature from a {type(data).__name__}; use a pandas DataFrame, "
        "a numpy array, or a dict"
    )


def infer_signature(model_input: Any, model_output: Any = None) -> Signature:
    """A signature from an example input and, optionally, the model's output for it."""
    outputs = infer_schema(model_output) if model_output is not None else None
    return Signature(infer_schema(model_input), outputs)


# enforcement -------------------------------------------------------------------------------
def _mismatch(message: str, schema: Schema) -> MltrackError:
    return MltrackError(
        f"input does not match the model's signature: {message}. "
        f"The model expects: {schema.describe()}"
    )


def _as_frame(data: Any, schema: Schema) -> Any:
    """Turn the accepted input shapes for a column schema into a DataFrame."""
    import numpy as np
    import pandas as pd

    names = [s.name for s in schema.specs]
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        if len(names) != 1:
            raise _mismatch(f"got one column (a Series) but the model takes {len(names)}", schema)
        return data.to_frame(name=names[0])
    if isinstance(data, dict):
        if all(not isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in data.values()):
            return pd.DataFrame([data])
        try:
            return pd.DataFrame(data)
        except ValueError as exc:
            raise _mismatch(
                f"the columns of the dict cannot form a table ({exc})", schema
            ) from None
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return pd.DataFrame(data)
    if isinstance(data, (np.ndarray, list, tuple)):
        # a list of rows may mix numbers and text: keep each value's own type (object array)
        arr = np.asarray(data) if isinstance(data, np.ndarray) else np.array(data, dtype=object)
        if arr.ndim == 1 and len(names) == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise _mismatch(f"got an array of {arr.ndim} dimensions; a table needs 2", schema)
        if arr.shape[1] != len(names) or not schema.has_names:
            raise _mismatch(f"got an array with {arr.shape[1]} columns, not {len(names)}", schema)
        # column by column, so each keeps its own values' type (object arrays mix types)
        return pd.DataFrame({n: arr[:, i].tolist() for i, n in enumerate(names)})
    raise _mismatch(f"got a {type(data).__name__}", schema)


def _is_number(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _enforce_column(spec: ColSpec, series: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    api = pd.api.types
    dtype = series.dtype
    name, kind = spec.name, spec.type
    # object and text columns hold Python values: judge those, not the column's dtype
    python_values = dtype.kind == "O"
    values = series.tolist() if python_values else []
    got = str(dtype)
    if python_values:
        got = "/".join(sorted({type(v).__name__ for v in values if not _is_missing(v)})) or (
            "missing values only"
        )

    def bad(expected: str, hint: str = "") -> MltrackError:
        return _mismatch(f"column {name!r} must be {kind} ({expected}), got {got}{hint}", schema)

    if kind in _INTEGER_TYPES:
        target = np.dtype(COLUMN_DTYPES[kind])
        if api.is_integer_dtype(dtype) and not api.is_bool_dtype(dtype):
            numbers = series
        elif api.is_float_dtype(dtype) or (
            python_values and all(_is_number(v) or _is_missing(v) for v in values)
        ):
            # JSON and CSV producers do not always tell 1 from 1.0: an integral float is
            # accepted, a fraction or a missing value is not
            numbers = series.astype("float64")
            if numbers.isna().any():
                raise bad("integers", "; integer columns cannot hold missing values")
            if not (np.isfinite(numbers) & (numbers == np.round(numbers))).all():
                raise bad("integers", " with fractional values")
        else:
            raise bad("integers")
        info = np.iinfo(target)
        if len(numbers) and (numbers.min() < info.min or numbers.max() > info.max):
            raise bad(f"values from {info.min} to {info.max}", " with values out of range")
        return numbers.astype(target)
    if kind in _FLOAT_TYPES:
        numeric = api.is_numeric_dtype(dtype) and not api.is_bool_dtype(dtype)
        if numeric or (python_values and all(_is_number(v) or _is_missing(v) for v in values)):
            return series.astype(COLUMN_DTYPES[kind])
        raise bad("numbers")
    if kind == "boolean":
        if api.is_bool_dtype(dtype) or (
            python_values and all(isinstance(v, (bool, np.bool_)) for v in values)
        ):
            return series.astype(bool)
        raise bad("True/False")
    if kind == "string":
        if python_values and all(isinstance(v, str) or _is_missing(v) for v in values):
            return series
        raise bad("text")
    if kind == "binary":
        if python_values and all(isinstance(v, (bytes, bytearray)) for v in values):
            return series
        raise bad("bytes")
    if kind == "datetime":
        if api.is_datetime64_any_dtype(dtype):
            return series
        if python_values and all(isinstance(v, str) or _is_missing(v) for v in values):
            try:
                return pd.to_datetime(series)
            except (TypeError, ValueError):
                raise bad("dates or ISO 8601 date strings") from None
        raise bad("dates")
    return series  # richer MLflow types (array, object, map, any): not checked here


def _enforce_columns(data: Any, schema: Schema) -> Any:
    import pandas as pd

    frame = _as_frame(data, schema)
    specs: list[ColSpec] = schema.specs  # type: ignore[assignment]
    if not schema.has_names:
        # unnamed columns are matched by position
        if frame.shape[1] != len(specs):
            raise _mismatch(f"got {frame.shape[1]} columns, not {len(specs)}", schema)
        return pd.DataFrame(
            {i: _enforce_column(s, frame.iloc[:, i], schema) for i, s in enumerate(specs)}
        )
    present = {str(c): c for c in frame.columns}
    missing = [s.name for s in specs if s.required and s.name not in present]
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        raise _mismatch(
            f"missing required column{'s' if len(missing) > 1 else ''} {listed}", schema
        )
    # Only the signature's columns, in its order: extra columns are dropped, as estimators
    # fitted on named features check both names and order.
    out = {
        s.name: _enforce_column(s, frame[present[s.name]], schema)  # type: ignore[index]
        for s in specs
        if s.name in present
    }
    return pd.DataFrame(out, index=frame.index)


def _enforce_tensor(spec: TensorSpec, value: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    label = f"tensor {spec.name!r}" if spec.name else "the input tensor"
    if isinstance(value, (pd.DataFrame, pd.Series)):
        value = value.to_numpy()
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise _mismatch(f"{label} is not a rectangular array ({exc})", schema) from None
    target = np.dtype(spec.dtype)
    if arr.dtype == object:
        try:
            arr = arr.astype(target)
        except (TypeError, ValueError):
            raise _mismatch(f"{label} holds values that are not {spec.dtype}", schema) from None
    if arr.ndim != len(spec.shape) or any(
        want != -1 and want != got for want, got in zip(spec.shape, arr.shape)
    ):
        raise _mismatch(
            f"{label} must have shape {_shape_text(spec.shape)}, got {_shape_text(arr.shape)}",
            schema,
        )
    if arr.dtype != target:
        # same_kind allows widening, narrowing within a kind (float64 to float32) and ints to
        # floats, but never floats to ints or numbers to bools
        if not np.can_cast(arr.dtype, target, casting="same_kind"):
            raise _mismatch(f"{label} must be {spec.dtype}, got {arr.dtype}", schema)
        arr = arr.astype(target)
    return arr


def enforce_schema(data: Any, schema: Schema) -> Any:
    """Check ``data`` against an input schema and convert it to what the model was built for.

    Returns a DataFrame for a column schema, a numpy array for a single tensor, and a dict of
    arrays for named tensors.

    Raises
    ------
    MltrackError
        On a missing column, a wrong type, or a wrong shape; the message names the column or
        tensor and lists what the model expects.
    """
    import pandas as pd

    if not schema.specs:
        return data
    if not schema.is_tensor:
        return _enforce_columns(data, schema)
    specs: list[TensorSpec] = schema.specs  # type: ignore[assignment]
    if len(specs) == 1 and specs[0].name is None:
        return _enforce_tensor(specs[0], data, schema)
    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c].to_numpy() for c in data.columns}
    if not isinstance(data, dict):
        raise _mismatch(f"got a {type(data).__name__}; the model takes a dict of arrays", schema)
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise _mismatch(f"missing tensor(s) {', '.join(repr(m) for m in missing)}", schema)
    return {s.name: _enforce_tensor(s, data[s.name], schema) for s in specs}
