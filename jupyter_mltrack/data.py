"""Describing datasets for ``mlt.log_input``: name, digest, source, schema, profile."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .entities import Dataset
from .errors import MltrackError
from .validation import check_name


def from_pandas(
    df: Any, name: str | None = None, source: str = "", source_type: str = "local"
) -> Dataset:
    """A Dataset for a DataFrame: the digest hashes its contents, the schema lists its columns."""
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise MltrackError(f"from_pandas takes a pandas DataFrame, got {type(df).__name__}")
    hashed = pd.util.hash_pandas_object(df, index=True).to_numpy()
    digest = hashlib.sha256(hashed.tobytes() + ",".join(map(str, df.columns)).encode())
    schema = {"columns": [{"name": str(c), "type": str(t)} for c, t in df.dtypes.items()]}
    profile = {"num_rows": len(df), "num_columns": int(df.shape[1])}
    return Dataset(
        name=check_name(name, "dataset name") if name is not None else "dataset",
        digest=digest.hexdigest()[:16],
        source_type=source_type,
        source=source,
        schema=json.dumps(schema),
        profile=json.dumps(profile),
    )


def from_numpy(
    features: Any, name: str | None = None, source: str = "", source_type: str = "local"
) -> Dataset:
    """A Dataset for a numpy array: digest of its bytes, schema of its shape and dtype."""
    import numpy as np

    if not isinstance(features, np.ndarray):
        raise MltrackError(f"from_numpy takes a numpy array, got {type(features).__name__}")
    digest = hashlib.sha256(np.ascontiguousarray(features).tobytes()).hexdigest()[:16]
    schema = {"shape": list(features.shape), "dtype": str(features.dtype)}
    return Dataset(
        name=check_name(name, "dataset name") if name is not None else "dataset",
        digest=digest,
        source_type=source_type,
        source=source,
        schema=json.dumps(schema),
        profile=json.dumps({"num_rows": int(features.shape[0]) if features.ndim else 1}),
    )
