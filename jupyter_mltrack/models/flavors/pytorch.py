"""The PyTorch flavor, in MLflow's layout (``pytorch`` + ``python_function`` entries).

The whole module is saved with ``torch.save`` through cloudpickle (``data/model.pth``), so a
class defined in a notebook saves by value. The ``python_function`` loader is ``mlflow.pytorch``,
so MLflow loads these models too; we read MLflow's back without MLflow, in both its pickle and
its ``torch.export`` (``model.pt2``) formats. Predictions run on the CPU under
``torch.no_grad()``. Unpickling runs code from the file: load models you trust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import MltrackError
from ..mlmodel import PYFUNC_FLAVOR, ModelMeta, model_file
from . import SavedFlavor

FLAVOR_NAME = "pytorch"
DATA_DIR = "data"
MODEL_FILE = "model.pth"
EXPORTED_FILE = "model.pt2"  # MLflow's default since 3.x: a torch.export program
PICKLE_INFO_FILE = "pickle_module_info.txt"
PICKLE_MODULE = "jupyter_mltrack.models.flavors.torch_pickle"
# MLflow's pickle module is cloudpickle with torch's names, as ours is: use ours for its models
_EQUIVALENT_PICKLE_MODULES = {"mlflow.pytorch.pickle_module", "cloudpickle", PICKLE_MODULE}


def matches(model: Any) -> bool:
    """Whether ``model`` is a ``torch.nn.Module``."""
    return any(
        getattr(c, "__module__", "") == "torch.nn.modules.module" for c in type(model).__mro__
    )


def save(model: Any, model_dir: Path) -> SavedFlavor:
    """Save a ``torch.nn.Module`` under ``model_dir/data``."""
    import torch

    from . import torch_pickle

    if not isinstance(model, torch.nn.Module):
        raise MltrackError(f"the pytorch flavor saves torch.nn.Module objects, not {type(model)}")
    data = model_dir / DATA_DIR
    data.mkdir()
    (data / PICKLE_INFO_FILE).write_text(PICKLE_MODULE)
    torch.save(model, data / MODEL_FILE, pickle_module=torch_pickle)
    return SavedFlavor(
        flavors={
            PYFUNC_FLAVOR: {
                "loader_module": "mlflow.pytorch",
                "data": DATA_DIR,
                "pickle_module_name": PICKLE_MODULE,
            },
            FLAVOR_NAME: {
                "model_data": DATA_DIR,
                "pytorch_version": str(torch.__version__),
                "code": None,
            },
        },
        packages=["torch", "cloudpickle"],
    )


def load_native(model_dir: Path, meta: ModelMeta) -> Any:
    """The ``torch.nn.Module``, on the CPU, in eval mode."""
    import importlib

    import torch

    conf = meta.flavors[FLAVOR_NAME]
    data = model_file(model_dir, conf.get("model_data", DATA_DIR), "model_data")
    path = data / MODEL_FILE
    if not path.is_file():
        exported = data / EXPORTED_FILE
        if exported.is_file():
            return torch.export.load(str(exported)).module()
        raise MltrackError(f"the model file {path} (or {exported.name}) is missing")
    info = data / PICKLE_INFO_FILE
    name = info.read_text().strip() if info.is_file() else PICKLE_MODULE
    if name in _EQUIVALENT_PICKLE_MODULES:
        name = PICKLE_MODULE
    try:
        pickle_module = importlib.import_module(name)
    except ImportError:
        raise MltrackError(f"the model was saved with pickle module {name!r}, not found") from None
    # weights_only=False: the file holds a whole module, not just tensors
    model = torch.load(path, map_location="cpu", pickle_module=pickle_module, weights_only=False)
    model.eval()
    return model


class TorchPredictor:
    """Runs the module on a DataFrame (as float32 columns) or an array; returns numpy (or a
    DataFrame for DataFrame input), as MLflow's PyTorch pyfunc does."""

    def __init__(self, model: Any):
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd
        import torch

        if isinstance(data, pd.DataFrame):
            array = data.to_numpy(dtype=np.float32)
        elif isinstance(data, np.ndarray):
            array = data
        else:
            raise MltrackError(
                f"a PyTorch model takes a DataFrame or a numpy array, got {type(data).__name__}"
            )
        first = next(iter(self.model.parameters()), None)
        if first is not None and first.dtype.is_floating_point and array.dtype.kind == "f":
            # float64 input to float32 weights is a dtype error in torch: match the weights
            array = array.astype(str(first.dtype).removeprefix("torch."), copy=False)
        with torch.no_grad():
            output = self.model(torch.from_numpy(np.ascontiguousarray(array)), **(params or {}))
        if not isinstance(output, torch.Tensor):
            raise MltrackError(
                f"the PyTorch model returned a {type(output).__name__}; it must return one tensor"
            )
        result = output.cpu().numpy()
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(result, index=data.index)
        return result


def load_predictor(model_dir: Path, meta: ModelMeta) -> TorchPredictor:
    return TorchPredictor(load_native(model_dir, meta))
