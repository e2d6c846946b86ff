"""A loaded model's generic face: ``predict`` with the input checked against the signature."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MltrackError
from .example import load_example
from .flavors import Predictor, load_predictor
from .mlmodel import ModelMeta
from .signature import Schema, Signature, enforce_schema


class PyFuncModel:
    """A model loaded from a model directory (ours or MLflow's).

    Call :meth:`predict` with a DataFrame, a numpy array, a dict or a list; the input is checked
    against the model's input signature first, so a wrong column or shape is a clear
    :class:`MltrackError` instead of an error deep inside the framework.
    """

    def __init__(self, model_dir: Path, meta: ModelMeta, predictor: Predictor):
        self.model_dir = Path(model_dir)
        self.metadata = meta
        self._predictor = predictor
        self._example: Any = None
        self._example_read = False

    def __repr__(self) -> str:
        flavors = ", ".join(k for k in self.metadata.flavors if k != "python_function")
        return f"PyFuncModel(flavor={flavors or 'python_function'}, path={str(self.model_dir)!r})"

    @property
    def signature(self) -> Signature | None:
        return self.metadata.signature

    @property
    def input_schema(self) -> Schema | None:
        sig = self.metadata.signature
        return sig.inputs if sig is not None else None

    @property
    def model_id(self) -> str | None:
        return self.metadata.model_id

    @property
    def run_id(self) -> str | None:
        return self.metadata.run_id

    @property
    def flavors(self) -> dict[str, dict[str, Any]]:
        return self.metadata.flavors

    @property
    def input_example(self) -> Any:
        """The example saved with the model (None if there is none), read on first use."""
        if not self._example_read:
            self._example = load_example(
                self.model_dir, self.metadata.saved_input_example_info, self.input_schema
            )
            self._example_read = True
        return self._example

    @property
    def raw_model(self) -> Any:
        """The framework's own model object (estimator, torch module, custom object)."""
        return getattr(self._predictor, "model", self._predictor)

    def check_input(self, data: Any) -> Any:
        """``data`` converted to what the model takes; MltrackError if it does not fit."""
        schema = self.input_schema
        if schema is None:
            return data
        return enforce_schema(data, schema)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on ``data`` (checked against the signature first).

        Parameters
        ----------
        data:
            A DataFrame, numpy array, dict (columns or named tensors) or list of records.
        params:
            Inference parameters for models whose ``predict`` takes them.
        """
        if params is not None and not isinstance(params, dict):
            raise MltrackError(f"params must be a dict, got {type(params).__name__}")
        return self._predictor.predict(self.check_input(data), params)


def load_model_dir(model_dir: str | Path) -> PyFuncModel:
    """Load the model in a local directory that holds an ``MLmodel`` file."""
    path = Path(model_dir).expanduser().resolve()
    meta = ModelMeta.load(path)
    return PyFuncModel(path, meta, load_predictor(path, meta))
