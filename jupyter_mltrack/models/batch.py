"""Batch scoring: a table file in, the model's predictions out (CSV or Parquet, by extension).

The output is written under a temporary name and renamed into place, so a failed run never
leaves a half-written file that looks like a result.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ErrorCode, MltrackError
from .pyfunc_model import PyFuncModel

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _format(path: Path, what: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise MltrackError(
            f"{what} {str(path)!r} must end in .csv, .parquet or .pq (the format is taken "
            "from the extension)"
        )
    return fmt


def read_table(path: str | os.PathLike[str]) -> Any:
    """Read a CSV or Parquet file into a DataFrame."""
    import pandas as pd

    source = Path(path)
    fmt = _format(source, "input file")
    if not source.is_file():
        raise MltrackError(f"input file {source} does not exist", ErrorCode.RESOURCE_DOES_NOT_EXIST)
    try:
        if fmt == "csv":
            return pd.read_csv(source)
        return pd.read_parquet(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise MltrackError(f"cannot read {source} as {fmt}: {exc}") from None


def write_table(frame: Any, path: str | os.PathLike[str]) -> None:
    """Write a DataFrame as CSV or Parquet (by extension), atomically."""
    dest = Path(path)
    fmt = _format(dest, "output file")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
    try:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def predictions_frame(predictions: Any, index: Any = None) -> Any:
    """Predictions as a DataFrame: one ``prediction`` column, or ``prediction_<i>`` for each
    column of a 2-D output; a DataFrame output keeps its own column names."""
    import numpy as np
    import pandas as pd

    if isinstance(predictions, pd.DataFrame):
        out = predictions.copy()
        out.columns = [f"prediction_{c}" if not isinstance(c, str) else c for c in out.columns]
        return out.reset_index(drop=True)
    if isinstance(predictions, pd.Series):
        return pd.DataFrame({"prediction": predictions.to_numpy()})
    if isinstance(predictions, dict):
        return pd.DataFrame({str(k): np.asarray(v).tolist() for k, v in predictions.items()})
    arr = np.asarray(predictions)
    if arr.ndim <= 1:
        return pd.DataFrame({"prediction": arr.reshape(-1)})
    if arr.ndim == 2:
        return pd.DataFrame({f"prediction_{i}": arr[:, i] for i in range(arr.shape[1])})
    return pd.DataFrame({"prediction": [row.tolist() for row in arr]})


def predict_file(
    model: PyFuncModel,
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    with_input: bool = False,
) -> dict[str, Any]:
    """Score every row of ``input_path`` and write the predictions to ``output_path``.

    Parameters
    ----------
    model:
        A loaded model (see :func:`jupyter_mltrack.load_model`).
    input_path, output_path:
        ``.csv`` or ``.parquet``/``.pq`` files; the output's format need not match the input's.
    with_input:
        Put the input columns before the prediction columns in the output.

    Returns
    -------
    dict
        ``rows``, ``output`` and ``columns`` of what was written.
    """
    import pandas as pd

    source, dest = Path(input_path).resolve(), Path(output_path).resolve()
    _format(dest, "output file")
    if source == dest:
        raise MltrackError("the output file must not be the input file")
    frame = read_table(source)
    if frame.empty:
        raise MltrackError(f"{source} holds no rows to score")
    predictions = model.predict(frame)
    out = predictions_frame(predictions)
    if len(out) != len(frame):
        raise MltrackError(
            f"the model returned {len(out)} predictions for {len(frame)} rows; batch scoring "
            "needs one prediction per row"
        )
    if with_input:
        clash = [c for c in out.columns if c in frame.columns]
        if clash:
            raise MltrackError(
                f"the input already has column(s) {', '.join(map(repr, clash))}; "
                "score without --with-input or rename them"
            )
        out = pd.concat([frame.reset_index(drop=True), out], axis=1)
    write_table(out, dest)
    return {"rows": len(out), "output": str(dest), "columns": [str(c) for c in out.columns]}
