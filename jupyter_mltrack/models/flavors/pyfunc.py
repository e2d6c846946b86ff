"""Custom Python models: any object with a ``predict`` method, saved with cloudpickle.

The ``python_function`` loader is this module, so ``mlflow.pyfunc.load_model`` loads these
models through :func:`_load_pyfunc` when this package is installed. ``predict`` may take
``(model_input)``, ``(model_input, params=None)``, or MLflow's ``(context, model_input[, params])``.
A class defined in a notebook is pickled by value; one imported from a module is pickled by
reference, so that module must be importable where the model is loaded.
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path
from typing import Any

from ...errors import MltrackError
from ..env import distribution_of
from ..mlmodel import PYFUNC_FLAVOR, ModelMeta, model_file
from . import SavedFlavor

LOADER_MODULE = __name__
MODEL_FILE = "python_model.pkl"


def matches(model: Any) -> bool:
    return callable(getattr(model, "predict", None))


def save(model: Any, model_dir: Path) -> SavedFlavor:
    """Pickle the object into ``model_dir``."""
    import cloudpickle

    if isinstance(model, type):
        raise MltrackError(f"save an instance of {model.__name__}, not the class itself")
    if not matches(model):
        raise MltrackError(
            f"a custom Python model needs a predict method; {type(model).__name__} has none"
        )
    try:
        with open(model_dir / MODEL_FILE, "wb") as out:
            cloudpickle.dump(model, out, protocol=pickle.DEFAULT_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise MltrackError(f"cannot pickle the model ({type(exc).__name__}: {exc})") from None
    packages = ["cloudpickle"]
    dist = distribution_of(type(model).__module__)
    if dist and dist != "jupyter-mltrack":
        packages.append(dist)
    return SavedFlavor(
        flavors={
            PYFUNC_FLAVOR: {
                "loader_module": LOADER_MODULE,
                "python_model": MODEL_FILE,
                "cloudpickle_version": cloudpickle.__version__,
            }
        },
        packages=packages,
    )


def load_native(model_dir: Path, meta: ModelMeta) -> Any:
    """The custom object itself."""
    import cloudpickle

    conf = meta.pyfunc_conf or {}
    path = model_file(model_dir, conf.get("python_model", MODEL_FILE), "python_model")
    if not path.is_file():
        raise MltrackError(f"the model file {path} is missing")
    with open(path, "rb") as src:
        try:
            return cloudpickle.load(src)
        except (ImportError, AttributeError) as exc:
            raise MltrackError(
                f"cannot load the custom model in {model_dir}: {exc}. A class pickled by "
                "reference must be importable where the model is loaded"
            ) from None


class PythonModelPredictor:
    """Calls the object's ``predict`` in whichever of the accepted forms it is written."""

    def __init__(self, model: Any):
        self.model = model
        try:
            parameters = list(inspect.signature(model.predict).parameters)
        except (TypeError, ValueError):  # builtins without a signature
            parameters = []
        self._takes_context = bool(parameters) and parameters[0] == "context"
        self._takes_params = "params" in parameters

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        args = (None, data) if self._takes_context else (data,)
        if self._takes_params:
            return self.model.predict(*args, params=params)
        if params:
            raise MltrackError("this model's predict takes no params")
        return self.model.predict(*args)


def load_predictor(model_dir: Path, meta: ModelMeta) -> PythonModelPredictor:
    return PythonModelPredictor(load_native(model_dir, meta))


def _load_pyfunc(path: str) -> PythonModelPredictor:
    """MLflow's loader entry point: ``path`` is the model directory."""
    model_dir = Path(path)
    if model_dir.is_file():
        model_dir = model_dir.parent
    return load_predictor(model_dir, ModelMeta.load(model_dir))
