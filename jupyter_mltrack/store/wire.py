"""A :class:`WriteBatch` as one Arrow IPC stream: the kernel → server form of a flush.

The stream holds one record batch of one row. Each kind of row (every list field of
:class:`WriteBatch`: ``metrics``, ``metric_series``, ``params``, …, ``runs``) is a column of type
``list<struct<…>>`` whose struct fields are the row type's fields, named and typed from its
annotations (``str`` → string, ``int`` → int64, ``float`` → float64, ``X | None`` nullable);
``batch_id`` is a string column. A metric series' points are ``list<double>`` /
``list<int64>`` fields of its struct, built from offsets over the concatenated columns, so a
million points cost a few array copies and no Python object per point. The schema is derived
from :mod:`.batch` when this module loads: a kind added to :class:`WriteBatch` travels without
a change here, unless a field is typed ``Any`` (then it needs an entry in :data:`POINT_COLUMNS`).

Decoding is in two steps. :func:`read_columns` checks the stream's shape (an Arrow IPC stream,
one row, known kinds, each with exactly its fields and their types) and gives each kind's fields
as Arrow arrays; the server checks every value of them a column at a time, as strictly as a JSON
batch row by row (:func:`jupyter_mltrack.server.parsing.batch_from_arrow`). :func:`read_rows`
gives back the document :meth:`WriteBatch.to_json` would have made (point columns as numpy
arrays), and :func:`decode` builds the batch from it unchecked, for trusted input.

Imported only when a batch is first encoded or decoded (it loads pyarrow and numpy).
"""

from __future__ import annotations

import dataclasses
import itertools
import numbers
import operator
import types
import typing
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from ..errors import MltrackError
from .batch import WriteBatch

#: the media type of the stream (``Content-Type`` of a ``/batches`` request)
MEDIA_TYPE = "application/vnd.apache.arrow.stream"

#: fields the row types annotate as ``Any`` (arrays or lists): the element type of each
POINT_COLUMNS: dict[tuple[str, str], pa.DataType] = {
    ("metric_series", "values"): pa.float64(),
    ("metric_series", "steps"): pa.int64(),
    ("metric_series", "timestamps"): pa.int64(),
}

_SCALARS: dict[type, pa.DataType] = {str: pa.string(), int: pa.int64(), float: pa.float64()}
# what a Python value must be to go into a column of each type unchanged (pyarrow would turn
# 1.5 into 1 in an int64 column; a bool is no number here, as in the JSON form)
_PYTHON_TYPES: dict[pa.DataType, tuple[type, ...]] = {
    pa.string(): (str,),
    pa.int64(): (numbers.Integral,),
    pa.float64(): (numbers.Real,),
}


class WireError(MltrackError):
    """A batch that cannot travel as Arrow unchanged (a value of another type than its field's):
    the client sends it as JSON instead, and the server names the bad field."""


class Kind(NamedTuple):
    """One kind of row: the WriteBatch field, its row type and the row's fields."""

    name: str
    row_type: type
    fields: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    #: rows travel as objects (a dataclass such as Cell) rather than lists (named tuples)
    as_object: bool

    @property
    def struct(self) -> pa.StructType:
        return pa.struct([pa.field(f, t) for f, t in zip(self.fields, self.types)])


def _column_type(kind: str, name: str, hint: Any) -> pa.DataType:
    if (kind, name) in POINT_COLUMNS:
        return pa.list_(POINT_COLUMNS[kind, name])
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1
    base = args[0] if optional else hint
    if base not in _SCALARS:
        raise TypeError(f"WriteBatch.{kind} field {name} ({hint}) has no Arrow type in wire.py")
    return _SCALARS[base]


def _kinds() -> tuple[Kind, ...]:
    hints = typing.get_type_hints(WriteBatch)
    kinds = []
    for f in dataclasses.fields(WriteBatch):
        if typing.get_origin(hints[f.name]) is not list:
            continue
        (row_type,) = typing.get_args(hints[f.name])
        row_hints = typing.get_type_hints(row_type)
        as_object = dataclasses.is_dataclass(row_type)
        names = (
            tuple(x.name for x in dataclasses.fields(row_type))
            if as_object
            else tuple(row_type._fields)
        )
        kinds.append(
            Kind(
                f.name,
                row_type,
                names,
                tuple(_column_type(f.name, n, row_hints[n]) for n in names),
                as_object,
            )
        )
    return tuple(kinds)


#: every kind of row, in WriteBatch's order
KINDS: tuple[Kind, ...] = _kinds()
_BY_NAME = {kind.name: kind for kind in KINDS}
SCHEMA = pa.schema(
    [pa.field(k.name, pa.list_(k.struct), nullable=False) for k in KINDS]
    + [pa.field("batch_id", pa.string())]
)


# encoding ------------------------------------------------------------------------------------

# Exact Python types whose values Arrow's conversion either carries unchanged into any column
# or refuses (a str in a number column, a number in a text column, an int past int64 or, in a
# float64 column, past 2**53), as measured with pyarrow 25. The one silent change among them is
# a float in an int64 column (2.5 becomes 2, in a struct or a plain array), checked on its own.
# Any other type sends the kind through the value-by-value check: a bool (a float64 column
# takes True as 1.0), bytes (a string column decodes them), numpy scalars, Decimal, subclasses.
_PLAIN_TYPES = frozenset({str, int, float, type(None)})
_INT_TYPES = frozenset({int, type(None)})
#: what a point list may hold for Arrow to carry it unchanged (else: numpy decides, as below)
_POINT_TYPES: dict[pa.DataType, frozenset[type]] = {
    pa.float64(): frozenset({float, int}),
    pa.int64(): frozenset({int}),
}


def encode(batch: WriteBatch) -> memoryview:
    """The batch as one Arrow IPC stream (a view of Arrow's buffer: no copy into ``bytes``).

    Each kind's rows are converted at once (Arrow reads the tuples), and the points of all its
    series become one flat array per column; Python looks at each value once more, for its type.

    Raises
    ------
    WireError
        A value that Arrow would not carry unchanged (a float where an integer belongs, a
        number where text belongs…): send the batch as JSON instead.
    """
    arrays = [_kind_array(kind, getattr(batch, kind.name)) for kind in KINDS]
    arrays.append(pa.array([batch.batch_id], pa.string()))
    record = pa.RecordBatch.from_arrays(arrays, schema=SCHEMA)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, SCHEMA) as writer:  # writes without the GIL
        writer.write_batch(record)
    return memoryview(sink.getvalue())


def _kind_array(kind: Kind, rows: list[Any]) -> pa.Array:
    """One row of the kind's column: a list of structs. The rows' scalar fields are converted
    in one go; each point field becomes one flat array of all the rows' points."""
    if kind.as_object:
        rows = list(map(operator.attrgetter(*kind.fields), rows))
    points = [i for i, t in enumerate(kind.types) if pa.types.is_list(t)]
    if not points:
        struct = _struct_array(kind, list(range(len(kind.fields))), rows)
    else:
        scalars = [i for i in range(len(kind.fields)) if i not in points]
        scalar_rows = list(map(_getter(scalars), rows))
        children = dict(
            zip(
                [kind.fields[i] for i in scalars],
                _struct_array(kind, scalars, scalar_rows).flatten(),
            )
        )
        for i in points:
            name = kind.fields[i]
            columns = list(map(operator.itemgetter(i), rows))
            children[name] = _points_array(columns, kind.types[i].value_type, f"{kind.name} {name}")
        struct = pa.StructArray.from_arrays(
            [children[name] for name in kind.fields], fields=list(kind.struct)
        )
    return pa.ListArray.from_arrays(pa.array([0, len(rows)], pa.int32()), struct)


def _getter(positions: list[int]) -> Callable[[Any], tuple[Any, ...]]:
    """A row's values at these positions, as a tuple."""
    if len(positions) == 1:
        (position,) = positions
        return lambda row: (row[position],)
    return operator.itemgetter(*positions)


def _struct_array(kind: Kind, positions: list[int], rows: list[Any]) -> pa.StructArray:
    """Rows (tuples of the kind's fields at ``positions``) as one struct array."""
    names = [kind.fields[i] for i in positions]
    arrow_types = [kind.types[i] for i in positions]
    seen = set(map(type, itertools.chain.from_iterable(rows)))
    if not seen <= _PLAIN_TYPES:
        _check_values(kind.name, names, arrow_types, rows)
    elif float in seen:
        for j, arrow_type in enumerate(arrow_types):
            column = map(operator.itemgetter(j), rows)
            if arrow_type == pa.int64() and not set(map(type, column)) <= _INT_TYPES:
                _check_values(kind.name, [names[j]], [arrow_type], [(r[j],) for r in rows])
    struct_type = pa.struct([pa.field(n, t) for n, t in zip(names, arrow_types)])
    try:
        return pa.array(rows, struct_type)
    except (pa.ArrowException, OverflowError) as exc:
        raise WireError(f"{kind.name}: {exc}") from None


def _check_values(
    kind: str, names: list[str], arrow_types: list[pa.DataType], rows: list[Any]
) -> None:
    """Value by value: each value of a type Arrow carries unchanged into its column."""
    for j, (name, arrow_type) in enumerate(zip(names, arrow_types)):
        allowed = _PYTHON_TYPES[arrow_type]
        for value in map(operator.itemgetter(j), rows):
            if value is not None and (isinstance(value, bool) or not isinstance(value, allowed)):
                raise WireError(
                    f"{kind} {name}: {type(value).__name__} {value!r} is not {arrow_type}"
                )


def _points_array(columns: list[Any], value_type: pa.DataType, where: str) -> pa.Array:
    """Many rows' point columns (lists or arrays) as one list array: the values concatenated,
    offsets from their lengths. Consecutive lists are joined by one conversion; an array is
    taken without a copy (float64/int64) and joined by Arrow, without the GIL."""
    if set(map(type, columns)) == {list}:  # log_metric's series: one conversion for all
        parts = [_lists_array(columns, value_type, where)]
    else:
        parts = []
        for is_list, group in itertools.groupby(columns, key=_is_list):
            if is_list:
                parts.append(_lists_array(list(group), value_type, where))
            else:
                parts.extend(_column_array(column, value_type, where) for column in group)
    offsets = np.zeros(len(columns) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, columns), np.int64, len(columns)), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise WireError(f"{where}: {offsets[-1]} points are more than one request carries")
    flat = parts[0] if len(parts) == 1 else pa.concat_arrays(parts or [pa.array([], value_type)])
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), flat)


def _is_list(column: Any) -> bool:
    return type(column) is list


def _lists_array(lists: list[list[Any]], value_type: pa.DataType, where: str) -> pa.Array:
    """Point lists concatenated into one array (one conversion for thousands of short series)."""
    flat = list(itertools.chain.from_iterable(lists))
    if not set(map(type, flat)) <= _POINT_TYPES[value_type]:
        # numpy scalars, bools, None…: each list as numpy sees it, refused if not numbers
        return pa.concat_arrays([_column_array(values, value_type, where) for values in lists])
    try:
        return pa.array(flat, value_type)
    except (pa.ArrowException, OverflowError) as exc:
        raise WireError(f"{where}: {exc}") from None


def _column_array(column: Any, value_type: pa.DataType, where: str) -> pa.Array:
    """One series' points (an array, or a list numpy reads) as an array of ``value_type``:
    refused unless numpy sees one dimension of numbers (of integers for int64)."""
    dtype = np.float64 if value_type == pa.float64() else np.int64
    array = np.asarray(column)
    if array.ndim != 1 or (
        len(array) and array.dtype.kind not in ("fiu" if dtype is np.float64 else "iu")
    ):
        raise WireError(f"{where}: not a column of {value_type} ({array.dtype})")
    return pa.array(array.astype(dtype, copy=False), value_type)


# decoding ------------------------------------------------------------------------------------


class Columns(NamedTuple):
    """A stream's batch, its shape checked: each kind's fields as Arrow arrays, and the id."""

    #: kind → field → its values, one per row (kinds missing from the stream are left out)
    kinds: dict[str, dict[str, pa.Array]]
    batch_id: str | None


def read_columns(data: bytes | memoryview) -> Columns:
    """The stream's kinds as columns, its shape checked (values only as far as their types).

    A point field's array is ``list<…>``: one list of points per row.

    Raises
    ------
    MltrackError
        INVALID_PARAMETER_VALUE: not an Arrow IPC stream, cut short, not exactly one record
        batch of one row, an unknown kind, a kind without some field or with another type, a
        kind or one of its rows null.
    """
    record = _one_record(data)
    unknown = sorted(set(record.schema.names) - set(_BY_NAME) - {"batch_id"})
    if unknown:
        raise MltrackError(
            f"unknown field(s) in batch: {', '.join(unknown)}; "
            f"known: {', '.join([*_BY_NAME, 'batch_id'])}"
        )
    if len(set(record.schema.names)) != len(record.schema.names):
        raise MltrackError("batch has a field twice")
    kinds: dict[str, dict[str, pa.Array]] = {}
    batch_id = None
    for i, field in enumerate(record.schema):
        if field.name == "batch_id":
            if field.type not in (pa.string(), pa.null()):
                raise MltrackError(f"batch batch_id must be a string, got {field.type}")
            batch_id = record.column(i)[0].as_py()
        else:
            kinds[field.name] = _kind_fields(_BY_NAME[field.name], field.type, record.column(i))
    return Columns(kinds, batch_id)


def rows(kind: str, fields: dict[str, pa.Array]) -> list[Any]:
    """One kind's rows as :meth:`WriteBatch.to_json` writes them: lists (objects for dataclass
    kinds) of plain Python values, except point columns, which are numpy arrays (read-only views
    of the stream where no value is null; Python lists, Nones included, where one is)."""
    names = _BY_NAME[kind].fields
    columns = [_values(fields[name]) for name in names]
    if _BY_NAME[kind].as_object:
        return [dict(zip(names, row)) for row in zip(*columns)]
    return [list(row) for row in zip(*columns)]


def read_rows(data: bytes | memoryview) -> dict[str, Any]:
    """The stream as :meth:`WriteBatch.to_json` would write it, its shape checked: see
    :func:`read_columns` and :func:`rows`. Kinds missing from the stream are empty, as in the
    JSON form. Values are not checked beyond their Arrow types: see
    :func:`jupyter_mltrack.server.parsing.batch_from_arrow`."""
    columns = read_columns(data)
    out: dict[str, Any] = {name: rows(name, fields) for name, fields in columns.kinds.items()}
    out["batch_id"] = columns.batch_id
    return out


def decode(data: bytes | memoryview) -> WriteBatch:
    """Inverse of :func:`encode`, for trusted input (the server checks: ``batch_from_arrow``)."""
    rows = read_rows(data)
    batch = WriteBatch(batch_id=rows.pop("batch_id", None))
    for name, kind_rows in rows.items():
        row_type = _BY_NAME[name].row_type
        built = [row_type(**r) if isinstance(r, dict) else row_type(*r) for r in kind_rows]
        setattr(batch, name, built)
    return batch


def _one_record(data: bytes | memoryview) -> pa.RecordBatch:
    try:
        reader = pa.ipc.open_stream(data)
        records = list(reader)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise MltrackError(f"request body is not an Arrow IPC stream: {exc}") from None
    if len(records) != 1 or records[0].num_rows != 1:
        rows = sum(r.num_rows for r in records)
        raise MltrackError(
            f"an Arrow batch must be one record batch of one row, got {len(records)} "
            f"record batch(es) of {rows} row(s)"
        )
    record = records[0]
    try:
        # offsets within bounds, text valid UTF-8: what reading the columns below relies on
        record.validate(full=True)
    except pa.ArrowException as exc:
        raise MltrackError(f"request body is not a valid Arrow record batch: {exc}") from None
    return record


def _kind_fields(kind: Kind, arrow_type: pa.DataType, column: pa.Array) -> dict[str, pa.Array]:
    _check_type(kind, arrow_type)
    if column.null_count:
        raise MltrackError(f"batch {kind.name} must be a list, got null")
    items = column.flatten()  # the one row's structs
    if items.null_count:
        first = next(i for i, valid in enumerate(items.is_valid().to_pylist()) if not valid)
        raise MltrackError(
            f"batch {kind.name}[{first}] must be {'an object' if kind.as_object else 'a list'} "
            f"of the fields {', '.join(kind.fields)}, got null"
        )
    names = [f.name for f in items.type]
    return dict(zip(names, items.flatten()))


def _check_type(kind: Kind, arrow_type: pa.DataType) -> None:
    if not pa.types.is_list(arrow_type) or not pa.types.is_struct(arrow_type.value_type):
        raise MltrackError(f"batch {kind.name} must be a list of structs, got {arrow_type}")
    struct = arrow_type.value_type
    names = [struct.field(i).name for i in range(struct.num_fields)]
    missing = [f for f in kind.fields if f not in names]
    extra = sorted(set(names) - set(kind.fields))
    if missing or extra or len(names) != len(set(names)):
        raise MltrackError(
            f"batch {kind.name} rows must have exactly the fields {', '.join(kind.fields)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(extra)}" if extra else "")
        )
    for name, expected in zip(kind.fields, kind.types):
        actual = struct.field(name).type
        same = (
            pa.types.is_list(actual) and actual.value_type.equals(expected.value_type)
            if pa.types.is_list(expected)
            else actual.equals(expected) or actual.equals(pa.null())
        )
        if not same:
            raise MltrackError(f"batch {kind.name} field {name} must be {expected}, got {actual}")


def _values(child: pa.Array) -> list[Any]:
    """A struct field's values: Python values, or for a point column one numpy array per row
    (Python lists, Nones included, where a row or a point is null, for the checks to name it)."""
    if not pa.types.is_list(child.type):
        return child.to_pylist()
    points = child.flatten()  # the points the rows hold, in row order
    if child.null_count or points.null_count:
        return child.to_pylist()  # refused by the checks, which name the row
    flat = points.to_numpy()  # no nulls: a view of the request body
    offsets = child.offsets.to_numpy()
    offsets = offsets - offsets[0]
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(child))]
