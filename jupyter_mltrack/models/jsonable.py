"""Turn model inputs and outputs (numpy, pandas, torch) into plain JSON values.

JSON has no NaN or infinity: they become ``null``, as pandas writes them, so the output is strict
JSON that every client parses.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from typing import Any


def to_jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (DataFrames become lists of records)."""
    import numpy as np
    import pandas as pd

    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, pd.DataFrame):
        return [
            {str(k): to_jsonable(v) for k, v in row.items()}
            for row in value.to_dict(orient="records")
        ]
    if isinstance(value, pd.Series):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub":
            # tolist() turns numpy scalars into Python ones; only floats need NaN care
            out = value.tolist()
            return _finite(out) if value.dtype.kind == "f" else out
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return to_jsonable(value.detach().cpu().numpy())
    return str(value)


def _finite(items: Any) -> Any:
    if isinstance(items, list):
        return [_finite(v) for v in items]
    return items if math.isfinite(items) else None
