"""Input examples: saved with a model as JSON, in MLflow's layout, and read back.

``input_example.json`` holds the example itself (a DataFrame in pandas' ``split`` orient, an
array as nested lists, a dict as is); ``serving_input_example.json`` holds the same data as a
request body for the scoring server. ``saved_input_example_info`` in the ``MLmodel`` file records
which is which, with MLflow's keys, so MLflow reads our examples and we read MLflow's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MltrackError
from .jsonable import to_jsonable
from .mlmodel import model_file
from .signature import Schema, enforce_schema

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def normalise_example(example: Any) -> Any:
    """The example as a DataFrame, an ndarray, or a dict (lists of records become frames)."""
    import numpy as np
    import pandas as pd

    if isinstance(example, pd.Series):
        return example.to_frame()
    if isinstance(example, list) and example and all(isinstance(r, dict) for r in example):
        return pd.DataFrame(example)
    if isinstance(example, (list, tuple)):
        return np.asarray(example)
    if hasattr(example, "detach") and hasattr(example, "numpy"):  # a torch tensor
        return example.detach().cpu().numpy()
    if isinstance(example, (pd.DataFrame, np.ndarray, dict)):
        return example
    raise MltrackError(
        f"an input example must be a DataFrame, a numpy array, a dict or a list, "
        f"got {type(example).__name__}"
    )


def save_example(model_dir: Path, example: Any) -> dict[str, Any]:
    """Write the example files; return ``saved_input_example_info`` for the MLmodel file."""
    import numpy as np
    import pandas as pd

    example = normalise_example(example)
    info: dict[str, Any] = {
        "artifact_path": EXAMPLE_FILE,
        "serving_input_path": SERVING_EXAMPLE_FILE,
    }
    if isinstance(example, pd.DataFrame):
        split = json.loads(example.to_json(orient="split", index=False, date_format="iso"))
        content: Any = {"columns": split["columns"], "data": split["data"]}
        serving: dict[str, Any] = {"dataframe_split": content}
        info.update(type="dataframe", pandas_orient="split")
    elif isinstance(example, np.ndarray):
        content = to_jsonable(example)
        serving = {"inputs": content}
        info["type"] = "ndarray"
    elif all(isinstance(v, np.ndarray) for v in example.values()):
        content = {str(k): to_jsonable(v) for k, v in example.items()}
        serving = {"inputs": content}
        info["type"] = "ndarray"
    else:
        content = to_jsonable(example)
        serving = {"inputs": content}
        info["type"] = "json_object"
    (model_dir / EXAMPLE_FILE).write_text(json.dumps(content))
    (model_dir / SERVING_EXAMPLE_FILE).write_text(json.dumps(serving, indent=2))
    return info


def load_example(model_dir: Path, info: dict[str, Any] | None, schema: Schema | None) -> Any:
    """Read a saved example back in its original form (None if the model has none)."""
    import numpy as np
    import pandas as pd

    if not info or "artifact_path" not in info:
        return None
    path = model_file(model_dir, info["artifact_path"], "input example")
    if not path.is_file():
        raise MltrackError(f"the model's input example {path} is missing")
    content = json.loads(path.read_text())
    if info.get("params"):  # MLflow's (data, params) examples
        content = content.get("data", content)
    kind = info.get("type")
    if kind == "dataframe":
        orient = info.get("pandas_orient", "split")
        if orient == "split":
            frame = pd.DataFrame(content.get("data", []), columns=content.get("columns"))
        else:
            frame = pd.DataFrame(content)
        return enforce_schema(frame, schema) if schema is not None else frame
    if kind == "ndarray":
        if isinstance(content, dict):
            return {k: np.asarray(v) for k, v in content.items()}
        arr = np.asarray(content)
        if schema is not None and schema.is_tensor and len(schema.specs) == 1:
            arr = arr.astype(schema.specs[0].dtype)  # type: ignore[union-attr]
        return arr
    return content
