"""The scikit-learn flavor, in MLflow's layout (``sklearn`` + ``python_function`` entries).

Models are written with cloudpickle (``model.pkl``), MLflow's portable format, and the
``python_function`` loader is ``mlflow.sklearn`` so MLflow loads them without this package.
Reading also accepts MLflow's ``pickle`` and ``skops`` formats (skops is imported only then).
Unpickling runs code from the file: load models from sources you trust.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ...errors import MltrackError
from ..mlmodel import PYFUNC_FLAVOR, ModelMeta, model_file
from . import SavedFlavor

FLAVOR_NAME = "sklearn"
MODEL_FILE = "model.pkl"
FORMATS = ("cloudpickle", "pickle", "skops")


def matches(model: Any) -> bool:
    """Whether ``model`` is a scikit-learn estimator (or one built on sklearn's base classes)."""
    return any(
        (getattr(c, "__module__", "") or "").startswith("sklearn.") for c in type(model).__mro__
    )


def save(model: Any, model_dir: Path) -> SavedFlavor:
    """Pickle a fitted estimator into ``model_dir``."""
    import cloudpickle
    import sklearn

    if not callable(getattr(model, "predict", None)):
        raise MltrackError(
            f"a scikit-learn model needs a predict method; {type(model).__name__} has none "
            "(save a fitted estimator or pipeline)"
        )
    with open(model_dir / MODEL_FILE, "wb") as out:
        # the default protocol, not cloudpickle's newest, so older Pythons can read it
        cloudpickle.dump(model, out, protocol=pickle.DEFAULT_PROTOCOL)
    return SavedFlavor(
        flavors={
            PYFUNC_FLAVOR: {
                "loader_module": "mlflow.sklearn",
                "model_path": MODEL_FILE,
                "predict_fn": "predict",
            },
            FLAVOR_NAME: {
                "pickled_model": MODEL_FILE,
                "serialization_format": "cloudpickle",
                "sklearn_version": sklearn.__version__,
                "code": None,
            },
        },
        packages=["scikit-learn", "cloudpickle"],
    )


def load_native(model_dir: Path, meta: ModelMeta) -> Any:
    """The estimator itself."""
    conf = meta.flavors[FLAVOR_NAME]
    fmt = conf.get("serialization_format", "pickle")
    if fmt not in FORMATS:
        raise MltrackError(f"unknown scikit-learn serialization format {fmt!r} in {model_dir}")
    path = model_file(model_dir, conf.get("pickled_model", MODEL_FILE), "pickled_model")
    if not path.is_file():
        raise MltrackError(f"the model file {path} is missing")
    if fmt == "skops":
        try:
            import skops.io
        except ImportError:
            raise MltrackError(
                f"the model in {model_dir} was saved in the skops format; pip install skops"
            ) from None
        return skops.io.load(path, trusted=conf.get("skops_trusted_types"))
    with open(path, "rb") as src:
        if fmt == "pickle":
            return pickle.load(src)
        import cloudpickle

        return cloudpickle.load(src)


class SklearnPredictor:
    """``predict`` (or the method the MLmodel names, e.g. ``predict_proba``) of an estimator."""

    def __init__(self, model: Any, predict_fn: str = "predict"):
        method = getattr(model, predict_fn, None)
        if not callable(method):
            raise MltrackError(f"the model has no method {predict_fn!r} to predict with")
        self.model = model
        self._predict = method

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if params:
            raise MltrackError("scikit-learn models take no inference params")
        return self._predict(data)


def load_predictor(model_dir: Path, meta: ModelMeta) -> SklearnPredictor:
    predict_fn = (meta.pyfunc_conf or {}).get("predict_fn") or "predict"
    return SklearnPredictor(load_native(model_dir, meta), predict_fn)
