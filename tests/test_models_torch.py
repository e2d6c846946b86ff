"""The PyTorch flavor (torch 2.13 CPU): round trips, tensor signatures, MLflow interop.

All torch tests live in this one module, because importing torch takes seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from tracking_fixtures import store  # noqa: F401 - fixture

from jupyter_mltrack.errors import MltrackError
from jupyter_mltrack.models import fluent
from jupyter_mltrack.models.pyfunc_model import load_model_dir
from jupyter_mltrack.models.save import save_model

# Another test's MLflow client can leave MLFLOW_EXPERIMENT_ID behind; the fluent API would
# then log to an experiment this store does not have.
EXPERIMENT_VARS = (
    "MLTRACK_EXPERIMENT_ID",
    "MLTRACK_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_NAME",
)


@pytest.fixture(autouse=True)
def _no_experiment_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in EXPERIMENT_VARS:
        monkeypatch.delenv(var, raising=False)


mlflow_warnings = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.linear(x), dim=1)


def _expected(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x.astype("float32"))).numpy()


def test_pytorch_round_trip_and_tensor_signature(tmp_path: Path) -> None:
    net = TinyNet()
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    meta = save_model(net, tmp_path / "net", input_example=x[:2])
    raw = yaml.safe_load((tmp_path / "net" / "MLmodel").read_text())
    assert raw["flavors"]["pytorch"]["pytorch_version"].startswith("2.13")
    assert raw["flavors"]["python_function"]["loader_module"] == "mlflow.pytorch"
    assert (tmp_path / "net" / "data" / "model.pth").is_file()
    requirements = (tmp_path / "net" / "requirements.txt").read_text().split()
    assert "torch==2.13.0" in requirements  # the local +cpu label is dropped
    assert meta.signature is not None and meta.signature.outputs is not None
    assert meta.signature.outputs.specs[0].shape == (-1, 2)  # type: ignore[union-attr]

    loaded = load_model_dir(tmp_path / "net")
    assert isinstance(loaded.raw_model, torch.nn.Module) and not loaded.raw_model.training
    np.testing.assert_allclose(loaded.predict(x), _expected(net, x), rtol=1e-6)
    # float64 input is cast to the signature's float32; a DataFrame gives a DataFrame back
    np.testing.assert_allclose(loaded.predict(x.astype("float64")), _expected(net, x), rtol=1e-6)
    frame_out = loaded.predict(pd.DataFrame(x, columns=["a", "b", "c"]))
    np.testing.assert_allclose(np.asarray(frame_out), _expected(net, x), rtol=1e-6)
    with pytest.raises(MltrackError, match=r"must have shape \(-1, 3\), got \(8, 2\)"):
        loaded.predict(x[:, :2])
    with pytest.raises(MltrackError, match="must be float32, got <U1"):
        loaded.predict(np.array([["a", "b", "c"]]))


def test_pytorch_without_signature_matches_weights_dtype(tmp_path: Path) -> None:
    net = TinyNet()
    save_model(net, tmp_path / "net")
    loaded = load_model_dir(tmp_path / "net")
    x = np.ones((2, 3))  # float64, no signature to cast it: the predictor matches the weights
    np.testing.assert_allclose(loaded.predict(x), _expected(net, x), rtol=1e-6)
    with pytest.raises(MltrackError, match="takes a DataFrame or a numpy array, got list"):
        loaded.predict([[1.0, 2.0, 3.0]])


@mlflow_warnings
def test_pytorch_interop_with_mlflow(tmp_path: Path) -> None:
    import mlflow.pyfunc
    import mlflow.pytorch

    net = TinyNet()
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    save_model(net, tmp_path / "ours", input_example=x[:1])
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "ours"))
    np.testing.assert_allclose(theirs.predict(x), _expected(net, x), rtol=1e-6)
    native = mlflow.pytorch.load_model(str(tmp_path / "ours"))
    assert isinstance(native, TinyNet)

    # MLflow's two formats: a torch.export program (its default) and a pickled module
    mlflow.pytorch.save_model(
        net, str(tmp_path / "pt2"), input_example=x[:2], pip_requirements=["torch"]
    )
    mlflow.pytorch.save_model(
        net, str(tmp_path / "pickle"), serialization_format="pickle", pip_requirements=["torch"]
    )
    for fmt in ("pt2", "pickle"):
        ours = load_model_dir(tmp_path / fmt)
        np.testing.assert_allclose(ours.predict(x), _expected(net, x), rtol=1e-6)


def test_log_model_pytorch_by_runs_uri(store: Path) -> None:
    import jupyter_mltrack as mlt

    net = TinyNet()
    x = np.zeros((2, 3), dtype="float32")
    with mlt.start_run() as run:
        info = fluent.log_model(net, "net", input_example=x)
    assert info.flavor == "pytorch"
    loaded = fluent.load_model(f"runs:/{run.info.run_id}/net")
    np.testing.assert_allclose(loaded.predict(x), _expected(net, x), rtol=1e-6)
