"""Model packaging: MLmodel directories, flavors, signatures, and interop with the real MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.models.mlmodel import ModelMeta
from jupyter_mltrack.models.pyfunc_model import load_model_dir
from jupyter_mltrack.models.save import save_model
from jupyter_mltrack.models.signature import (
    ColSpec,
    Schema,
    Signature,
    TensorSpec,
    enforce_schema,
    infer_schema,
    infer_signature,
)


@pytest.fixture(autouse=True)
def _quiet_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    x = pd.DataFrame(
        {"height": rng.normal(170, 10, 60), "age": rng.integers(18, 80, 60).astype("int64")}
    )
    y = (x["height"] + x["age"] > 215).astype(int).to_numpy()
    return x, y


class Doubler:
    """A custom Python model: a class with predict (and inference params)."""

    def __init__(self, factor: float):
        self.factor = factor

    def predict(self, model_input: pd.DataFrame, params: dict | None = None) -> np.ndarray:
        scale = (params or {}).get("scale", 1.0)
        return model_input["x"].to_numpy() * self.factor * scale


class ContextModel:
    """MLflow's PythonModel calling convention: predict(context, model_input)."""

    def predict(self, context: object, model_input: pd.DataFrame) -> list[int]:
        return [len(model_input)] * len(model_input)


# --- round trips -----------------------------------------------------------------------------
def test_sklearn_round_trip_writes_mlflow_layout(tmp_path: Path) -> None:
    x, y = _frame()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    meta = save_model(model, tmp_path / "m", input_example=x.head(3))

    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {
        "MLmodel",
        "model.pkl",
        "requirements.txt",
        "python_env.yaml",
        "conda.yaml",
        "input_example.json",
        "serving_input_example.json",
    } <= files
    raw = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert raw["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert raw["flavors"]["python_function"]["env"] == {
        "conda": "conda.yaml",
        "virtualenv": "python_env.yaml",
    }
    assert raw["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"
    assert json.loads(raw["signature"]["inputs"]) == [
        {"type": "double", "name": "height", "required": True},
        {"type": "long", "name": "age", "required": True},
    ]
    assert raw["saved_input_example_info"]["type"] == "dataframe"
    assert len(raw["model_uuid"]) == 32 and raw["utc_time_created"]
    assert meta.signature is not None and meta.signature.outputs is not None
    requirements = (tmp_path / "m" / "requirements.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("cloudpickle==") for r in requirements)
    python_env = yaml.safe_load((tmp_path / "m" / "python_env.yaml").read_text())
    assert python_env["dependencies"] == ["-r requirements.txt"]

    loaded = load_model_dir(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    pd.testing.assert_frame_equal(loaded.input_example, x.head(3).reset_index(drop=True))
    assert type(loaded.raw_model).__name__ == "Pipeline"
    # a 2-D array with the signature's column count is taken column by column
    np.testing.assert_array_equal(loaded.predict(x.to_numpy()), model.predict(x))


def test_custom_python_model_round_trip_with_params(tmp_path: Path) -> None:
    example = pd.DataFrame({"x": [1.0, 2.0]})
    save_model(Doubler(2.0), tmp_path / "d", input_example=example)
    raw = yaml.safe_load((tmp_path / "d" / "MLmodel").read_text())
    assert raw["flavors"]["python_function"]["loader_module"] == (
        "jupyter_mltrack.models.flavors.pyfunc"
    )
    loaded = load_model_dir(tmp_path / "d")
    assert loaded.predict(pd.DataFrame({"x": [3.0]})).tolist() == [6.0]
    assert loaded.predict({"x": [1, 2]}, params={"scale": 10}).tolist() == [20.0, 40.0]
    assert isinstance(loaded.raw_model, Doubler)

    save_model(ContextModel(), tmp_path / "c")  # no example: no signature, no check
    assert load_model_dir(tmp_path / "c").predict(pd.DataFrame({"a": [1, 2, 3]})) == [3, 3, 3]
    with pytest.raises(MltrackError, match="takes no params"):
        load_model_dir(tmp_path / "c").predict(pd.DataFrame({"a": [1]}), params={"k": 1})


def test_tensor_signature_from_ndarray_example(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3)).astype("float32")
    model = LinearRegression().fit(x, x @ np.array([1.0, 2.0, 3.0], dtype="float32"))
    meta = save_model(model, tmp_path / "t", input_example=x[:2])
    assert meta.signature is not None and meta.signature.inputs is not None
    spec = meta.signature.inputs.specs[0]
    assert isinstance(spec, TensorSpec) and spec.dtype == "float32" and spec.shape == (-1, 3)
    loaded = load_model_dir(tmp_path / "t")
    np.testing.assert_allclose(loaded.predict(x.astype("float64")), model.predict(x), rtol=1e-5)
    with pytest.raises(MltrackError, match=r"must have shape \(-1, 3\), got \(2, 4\)"):
        loaded.predict(np.zeros((2, 4), dtype="float32"))
    with pytest.raises(MltrackError, match="must be float32, got complex128"):
        loaded.predict(np.zeros((2, 3), dtype="complex128"))
    assert loaded.input_example.dtype == np.float32


# --- signatures ------------------------------------------------------------------------------
def test_infer_schema_types() -> None:
    frame = pd.DataFrame(
        {
            "f": [1.0, 2.0],
            "f32": np.array([1, 2], dtype="float32"),
            "i32": np.array([1, 2], dtype="int32"),
            "i64": [1, 2],
            "b": [True, False],
            "s": ["a", "b"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    types = {s.name: s.type for s in infer_schema(frame).specs}  # type: ignore[union-attr]
    assert types == {
        "f": "double",
        "f32": "float",
        "i32": "integer",
        "i64": "long",
        "b": "boolean",
        "s": "string",
        "t": "datetime",
    }
    named = infer_schema({"img": np.zeros((2, 4, 4), dtype="uint8"), "k": np.ones(2)})
    assert [(s.name, s.dtype, s.shape) for s in named.specs] == [  # type: ignore[union-attr]
        ("img", "uint8", (-1, 4, 4)),
        ("k", "float64", (-1,)),
    ]
    scalar = infer_schema({"q": "hello", "n": 3})
    assert [(s.name, s.type) for s in scalar.specs] == [("q", "string"), ("n", "long")]  # type: ignore[union-attr]
    with pytest.raises(MltrackError, match="mixes int, str"):
        infer_schema(pd.DataFrame({"m": [1, "a"]}, dtype=object))
    with pytest.raises(MltrackError, match="cannot infer a signature from a set"):
        infer_schema({1, 2})
    with pytest.raises(MltrackError, match="duplicate columns"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["a", "a"]))


# MLflow's own imports and checks warn (UserWarning, FutureWarning); ours must not, so only the
# tests that call into MLflow let them through
mlflow_warnings = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


@mlflow_warnings
def test_signature_json_matches_mlflow() -> None:
    from mlflow.models.signature import infer_signature as mlflow_infer

    frame = pd.DataFrame({"a": [1.0], "b": [2], "c": ["x"]})
    ours = infer_signature(frame).to_dict()
    theirs = mlflow_infer(frame).to_dict()
    assert json.loads(ours["inputs"]) == json.loads(theirs["inputs"])
    arr = np.zeros((2, 3, 4), dtype="uint8")
    assert json.loads(infer_signature(arr).to_dict()["inputs"]) == json.loads(
        mlflow_infer(arr).to_dict()["inputs"]
    )
    back = Signature.from_dict(theirs)
    assert back.inputs is not None and back.inputs.names == ["a", "b", "c"]


def test_enforce_schema_converts_and_refuses_clearly() -> None:
    schema = Schema([ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "s")])
    ok = enforce_schema(pd.DataFrame({"s": ["x"], "b": [2.0], "a": [1], "extra": [0]}), schema)
    assert list(ok.columns) == ["a", "b", "s"]  # schema order, extra column dropped
    assert ok["a"].dtype == np.float64 and ok["b"].dtype == np.int64
    records = enforce_schema([{"a": 1.5, "b": 1, "s": "y"}], schema)
    assert records.iloc[0].tolist() == [1.5, 1, "y"]
    rows = enforce_schema([[1.5, 1, "y"], [2, 3, "z"]], schema)  # rows in the schema's order
    assert rows["a"].tolist() == [1.5, 2.0] and rows["b"].dtype == np.int64

    cases = [
        (pd.DataFrame({"a": [1.0]}), "missing required columns 'b', 's'"),
        (pd.DataFrame({"a": ["x"], "b": [1], "s": ["y"]}), "column 'a' must be double"),
        (pd.DataFrame({"a": [1.0], "b": [1.5], "s": ["y"]}), "with fractional values"),
        (pd.DataFrame({"a": [1.0], "b": [None], "s": ["y"]}), "cannot hold missing values"),
        (pd.DataFrame({"a": [1.0], "b": ["1"], "s": ["y"]}), "column 'b' must be long"),
        (pd.DataFrame({"a": [1.0], "b": [1], "s": [3]}), "column 's' must be string"),
        (np.zeros((2, 2)), "got an array with 2 columns, not 3"),
        ("text", "got a str"),
    ]
    for data, message in cases:
        with pytest.raises(MltrackError, match=message) as caught:
            enforce_schema(data, schema)
        assert "The model expects: a (double), b (long), s (string)" in caught.value.message
        assert caught.value.code == ErrorCode.INVALID_PARAMETER_VALUE
    small = Schema([ColSpec("integer", "i")])
    with pytest.raises(MltrackError, match="out of range"):
        enforce_schema(pd.DataFrame({"i": [2**40]}), small)
    tensors = Schema([TensorSpec("float32", (-1, 2), "x"), TensorSpec("int64", (-1,), "y")])
    with pytest.raises(MltrackError, match="missing tensor"):
        enforce_schema({"x": np.zeros((1, 2))}, tensors)
    with pytest.raises(MltrackError, match="tensor 'y' must be int64, got float64"):
        enforce_schema({"x": np.zeros((1, 2)), "y": np.zeros(1)}, tensors)


# --- MLflow interop --------------------------------------------------------------------------
@mlflow_warnings
def test_model_saved_here_loads_in_mlflow(tmp_path: Path) -> None:
    import mlflow.pyfunc

    x, y = _frame()
    model = LogisticRegression().fit(x, y)
    save_model(model, tmp_path / "skl", input_example=x.head(2))
    theirs = mlflow.pyfunc.load_model(str(tmp_path / "skl"))
    np.testing.assert_array_equal(theirs.predict(x), model.predict(x))
    assert theirs.metadata.get_input_schema().input_names() == ["height", "age"]
    pd.testing.assert_frame_equal(theirs.input_example, x.head(2).reset_index(drop=True))

    save_model(Doubler(3.0), tmp_path / "custom", input_example=pd.DataFrame({"x": [1.0]}))
    custom = mlflow.pyfunc.load_model(str(tmp_path / "custom"))
    assert custom.predict(pd.DataFrame({"x": [1.0, 2.0]})).tolist() == [3.0, 6.0]


@mlflow_warnings
def test_mlflow_saved_sklearn_model_loads_here(tmp_path: Path) -> None:
    import mlflow.sklearn

    x, y = _frame()
    model = LogisticRegression().fit(x, y)
    example = x.head(2).astype({"age": "float64"})
    for fmt in ("skops", "cloudpickle"):
        mlflow.sklearn.save_model(
            model,
            str(tmp_path / fmt),
            input_example=example,
            serialization_format=fmt,
            pip_requirements=["scikit-learn"],  # MLflow's inference spawns a slow subprocess
        )
        ours = load_model_dir(tmp_path / fmt)
        np.testing.assert_array_equal(ours.predict(x), model.predict(x))
        assert ours.input_schema is not None and ours.input_schema.names == ["height", "age"]
        with pytest.raises(MltrackError, match="missing required column 'age'"):
            ours.predict(x[["height"]])
    # a rewrite of MLflow's MLmodel keeps keys we do not use
    meta = ModelMeta.load(tmp_path / "skops")
    assert meta.extra.get("mlflow_version")
    meta.save(tmp_path / "skops")
    assert (
        ModelMeta.load(tmp_path / "skops").extra["mlflow_version"] == meta.extra["mlflow_version"]
    )


# --- bad input -------------------------------------------------------------------------------
def test_save_model_refuses_bad_input(tmp_path: Path) -> None:
    x, y = _frame()
    model = LogisticRegression().fit(x, y)
    save_model(model, tmp_path / "taken")
    with pytest.raises(MltrackError) as exists:
        save_model(model, tmp_path / "taken")
    assert exists.value.code == ErrorCode.RESOURCE_ALREADY_EXISTS
    with pytest.raises(MltrackError, match=r"cannot tell how to save a builtins\.int"):
        save_model(42, tmp_path / "a")
    with pytest.raises(MltrackError, match="flavor must be one of"):
        save_model(model, tmp_path / "b", flavor="xgboost")
    with pytest.raises(MltrackError, match="flavor='pytorch' cannot save a LogisticRegression"):
        save_model(model, tmp_path / "c", flavor="pytorch")
    with pytest.raises(MltrackError, match="pip_requirements must hold non-empty strings"):
        save_model(model, tmp_path / "d", pip_requirements=["numpy", ""])
    with pytest.raises(MltrackError, match="is not a file"):
        save_model(model, tmp_path / "e", pip_requirements=str(tmp_path / "missing.txt"))
    with pytest.raises(MltrackError, match="signature must be a Signature"):
        save_model(model, tmp_path / "f", signature="inputs: a")
    with pytest.raises(MltrackError, match="an input example must be"):
        save_model(model, tmp_path / "g", input_example=object())
    with pytest.raises(MltrackError, match="save an instance of Doubler"):
        save_model(Doubler, tmp_path / "h", flavor="pyfunc")
    with pytest.raises(MltrackError, match="model must not be None"):
        save_model(None, tmp_path / "i")
    # nothing half-written was left behind by the failures
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]

    reqs = tmp_path / "reqs.txt"
    reqs.write_text("scikit-learn>=1.0  # ours\n\nnumpy\n")
    save_model(model, tmp_path / "r", pip_requirements=str(reqs), extra_pip_requirements=["rich"])
    assert (tmp_path / "r" / "requirements.txt").read_text().split() == [
        "scikit-learn>=1.0",
        "numpy",
        "rich",
    ]


def test_loading_refuses_bad_directories(tmp_path: Path) -> None:
    with pytest.raises(MltrackError, match="has no MLmodel file") as missing:
        load_model_dir(tmp_path)
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    (tmp_path / "MLmodel").write_text("flavors: [1, 2]\n")
    with pytest.raises(MltrackError, match="must have a 'flavors' mapping"):
        load_model_dir(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: {keras: {}}\n")
    with pytest.raises(MltrackError, match="has no python_function flavor"):
        load_model_dir(tmp_path)
    (tmp_path / "MLmodel").write_text(
        "flavors: {python_function: {loader_module: no_such_module_here}}\n"
    )
    with pytest.raises(MltrackError, match="no_such_module_here, which cannot be imported"):
        load_model_dir(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: {sklearn: {pickled_model: gone.pkl}}\n")
    with pytest.raises(MltrackError, match=r"gone\.pkl is missing"):
        load_model_dir(tmp_path)
    (tmp_path / "MLmodel").write_text("flavors: {python_function: {}\n")
    with pytest.raises(MltrackError, match="is not valid YAML"):
        load_model_dir(tmp_path)
    (tmp_path / "MLmodel").write_text(
        "flavors: {python_function: {loader_module: jupyter_mltrack.models.flavors.pyfunc}}\n"
    )
    with pytest.raises(MltrackError, match=r"python_model\.pkl is missing"):
        load_model_dir(tmp_path)
