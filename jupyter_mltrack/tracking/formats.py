"""Turning Python objects (dicts, figures, images, tables) into artifact bytes.

Each function imports the library it serves only when called, so ``import jupyter_mltrack``
stays fast and none of them is a hard dependency.
"""

from __future__ import annotations

import io
import json
from pathlib import PurePosixPath
from typing import Any

from ..errors import MltrackError


def _suffix(artifact_file: str) -> str:
    return PurePosixPath(artifact_file).suffix.lower()


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """JSON, or YAML for .yaml/.yml files."""
    if not isinstance(dictionary, dict):
        raise MltrackError(f"log_dict takes a dict, got {type(dictionary).__name__}")
    if _suffix(artifact_file) in (".yaml", ".yml"):
        import yaml

        return yaml.safe_dump(dictionary, sort_keys=False).encode()
    try:
        return json.dumps(dictionary, indent=2).encode()
    except TypeError as exc:
        raise MltrackError(f"log_dict: the dict is not JSON-serialisable: {exc}") from None


def figure_bytes(figure: Any, artifact_file: str) -> bytes:
    """A matplotlib figure (any format matplotlib writes) or a plotly figure (.html or .json)."""
    suffix = _suffix(artifact_file)
    module = type(figure).__module__
    if module.startswith("matplotlib"):
        buf = io.BytesIO()
        try:
            figure.savefig(buf, format=suffix.lstrip(".") or "png")
        except ValueError as exc:
            raise MltrackError(
                f"log_figure: matplotlib cannot write {artifact_file!r}: {exc}"
            ) from None
        return buf.getvalue()
    if module.startswith("plotly"):
        if suffix == ".html":
            return figure.to_html(include_plotlyjs="cdn", full_html=True).encode()
        if suffix == ".json":
            return figure.to_json().encode()
        raise MltrackError(
            f"log_figure: plotly figures are saved as .html or .json, not {suffix or 'no suffix'}"
            " (static images need kaleido, which is not installed here)"
        )
    raise MltrackError(
        f"log_figure takes a matplotlib or plotly figure, got {type(figure).__name__}"
    )


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """A PIL image or a numpy array (HxW, HxWx3, HxWx4; floats in [0, 1] or integers 0-255)."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        import numpy as np

        if not isinstance(image, np.ndarray):
            raise MltrackError(
                f"log_image takes a PIL image or a numpy array, got {type(image).__name__}"
            )
        array = image
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise MltrackError(f"log_image: an array of shape {image.shape} is not an image")
        if array.dtype.kind == "f":
            if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1):
                raise MltrackError("log_image: float images must hold values in [0, 1]")
            array = (array * 255).round().astype(np.uint8)
        elif array.dtype.kind in "iu":
            if array.size and (array.min() < 0 or array.max() > 255):
                raise MltrackError("log_image: integer images must hold values in [0, 255]")
            array = array.astype(np.uint8)
        elif array.dtype.kind == "b":
            array = array.astype(np.uint8) * 255
        else:
            raise MltrackError(f"log_image: arrays of dtype {array.dtype} are not images")
        image = Image.fromarray(array)
    fmt = {
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".png": "PNG",
        ".gif": "GIF",
        ".bmp": "BMP",
        ".webp": "WEBP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
    }.get(_suffix(artifact_file))
    if fmt is None:
        raise MltrackError(f"log_image: cannot tell the image format of {artifact_file!r}")
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


def table_bytes(data: Any, artifact_file: str) -> bytes:
    """A DataFrame or a dict of columns, as .json (columns/data layout), .csv or .parquet."""
    import pandas as pd

    if isinstance(data, dict):
        try:
            data = pd.DataFrame(data)
        except ValueError as exc:
            raise MltrackError(f"log_table: the dict is not a table of columns: {exc}") from None
    if not isinstance(data, pd.DataFrame):
        raise MltrackError(
            f"log_table takes a pandas DataFrame or a dict of columns, got {type(data).__name__}"
        )
    suffix = _suffix(artifact_file)
    if suffix == ".json":
        return data.to_json(orient="split", index=False).encode()
    if suffix == ".csv":
        return data.to_csv(index=False).encode()
    if suffix == ".parquet":
        buf = io.BytesIO()
        data.to_parquet(buf, index=False)
        return buf.getvalue()
    raise MltrackError(f"log_table writes .json, .csv or .parquet, not {artifact_file!r}")
