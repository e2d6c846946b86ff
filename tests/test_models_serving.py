"""Serving: the scoring server (a real subprocess) with each payload format and bad payloads,
batch scoring, the Docker build context, and warm models in-process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.linear_model import LogisticRegression

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.models import fluent
from jupyter_mltrack.models.cli import main as cli_main
from jupyter_mltrack.models.payload import PayloadError, parse_request
from jupyter_mltrack.models.serve import ScoringServer
from jupyter_mltrack.models.signature import Schema, TensorSpec
from jupyter_mltrack.models.warm import WarmModels
from jupyter_mltrack.tracking.session import get_session

START_TIMEOUT_S = 90.0


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


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    x = pd.DataFrame({"a": rng.normal(size=80), "n": rng.integers(0, 5, 80).astype("int64")})
    return x, (x["a"] + x["n"] > 2).astype(int).to_numpy()


@dataclass
class Served:
    store: Path
    x: pd.DataFrame
    model: LogisticRegression


def _release(store_dir: Path) -> None:
    session = get_session(store_dir)
    session.flush()
    session.store.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A store with model 'served': version 1 (C=0.01) and version 2 (C=1) @champion."""
    store_dir = tmp_path_factory.mktemp("serving") / "store"
    x, y = _data()
    with pytest.MonkeyPatch.context() as mp:
        for var in EXPERIMENT_VARS:
            mp.delenv(var, raising=False)
        mlt.set_store(store_dir)
        _log_served(x, y)
    _release(store_dir)
    model = LogisticRegression(C=1.0).fit(x, y)
    yield Served(store_dir, x, model)


def _log_served(x: pd.DataFrame, y: np.ndarray) -> None:
    try:
        for c in (0.01, 1.0):
            model = LogisticRegression(C=c).fit(x, y)
            with mlt.start_run():
                fluent.log_model(
                    model, "model", input_example=x.head(3), registered_model_name="served"
                )
        fluent.model_registry(user="ana").set_alias("served", "champion", 2)
    finally:
        mlt.set_store(None)


def _env(store_dir: Path) -> dict[str, str]:
    env = {**os.environ, "MLTRACK_STORE": str(store_dir)}
    for var in ("MLTRACK_SERVER_URL", *EXPERIMENT_VARS):
        env.pop(var, None)
    return env


@dataclass
class Server:
    url: str
    proc: subprocess.Popen


def _start(args: list[str], env: dict[str, str], cwd: Path | None = None) -> Server:
    """Start a scoring server on port 0 and read the URL it announces."""
    proc = subprocess.Popen(
        args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        proc.kill()
        raise RuntimeError(f"the server did not start: {proc.stderr.read()}") from None  # type: ignore[union-attr]
    url = line.split(" on ", 1)[1].split()[0]
    return Server(url, proc)


def _stop(server: Server) -> str:
    server.proc.send_signal(signal.SIGTERM)
    _, err = server.proc.communicate(timeout=60)
    assert server.proc.returncode == 0, err
    return err


@pytest.fixture(scope="module")
def server(served: Served) -> Iterator[Server]:
    cmd = [sys.executable, "-m", "jupyter_mltrack.models.cli", "serve", "models:/served@champion"]
    running = _start([*cmd, "--port", "0"], _env(served.store))
    yield running
    log = _stop(running)
    assert "Traceback" not in log


def _post(
    server: Server | ScoringServer, body: object, content_type: str = "application/json"
) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(
        f"{server.url}/invocations", data=data, headers={"Content-Type": content_type}, timeout=30
    )


# --- the scoring server ----------------------------------------------------------------------
def test_health_version_and_metadata(server: Server) -> None:
    for path in ("/ping", "/health"):
        assert requests.get(server.url + path, timeout=30).status_code == 200
    version = requests.get(server.url + "/version", timeout=30)
    assert version.status_code == 200 and version.text == mlt.__version__
    meta = requests.get(server.url + "/metadata", timeout=30).json()
    assert meta["uri"] == "models:/served@champion" and meta["version"] == "2"
    assert meta["flavors"] == ["sklearn"]
    assert json.loads(meta["signature"]["inputs"])[1] == {
        "type": "long",
        "name": "n",
        "required": True,
    }


def test_every_payload_format(served: Served, server: Server) -> None:
    x = served.x.head(6)
    expected = served.model.predict(x).tolist()
    records = json.loads(x.to_json(orient="records"))
    split = json.loads(x.to_json(orient="split", index=False))
    bodies = [
        {"dataframe_split": split},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {"a": x["a"].tolist(), "n": x["n"].tolist()}},
        {"inputs": x.to_numpy().tolist()},  # rows in the signature's column order
        {"dataframe_split": split, "params": {}},
    ]
    for body in bodies:
        answer = _post(server, body)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json() == {"predictions": expected}, body
    csv = _post(server, x.to_csv(index=False), "text/csv; charset=utf-8")
    assert csv.status_code == 200, csv.text
    assert csv.json() == {"predictions": expected}
    one = _post(server, {"inputs": {"a": 0.5, "n": 3}})
    assert one.json() == {
        "predictions": served.model.predict(x.head(1).assign(a=0.5, n=3)).tolist()
    }


def test_bad_payloads_get_clear_errors(server: Server) -> None:
    cases: list[tuple[object, str, int, str]] = [
        ("{not json", "application/json", 400, "not valid JSON"),
        ("", "application/json", 400, "the request body is empty"),
        ([1, 2], "application/json", 400, "must be a JSON object"),
        ({"rows": []}, "application/json", 400, "unknown keys rows"),
        ({"params": {}}, "application/json", 400, "exactly one of"),
        ({"inputs": [[1, 2]], "instances": [[1, 2]]}, "application/json", 400, "got instances"),
        ({"dataframe_split": {"columns": ["a", "n"], "data": [[1.0]]}}, "application/json", 400,
         "must be a list of 2 values"),
        ({"dataframe_split": [[1, 2]]}, "application/json", 400, "dataframe_split must be an"),
        ({"dataframe_records": {"a": 1}}, "application/json", 400, "must be a list of objects"),
        ({"dataframe_records": [{"a": 1.0}]}, "application/json", 400,
         "missing required column 'n'"),
        ({"dataframe_records": [{"a": "x", "n": 1}]}, "application/json", 400,
         "column 'a' must be double"),
        ({"dataframe_records": [{"a": 1.0, "n": 1.5}]}, "application/json", 400,
         "with fractional values"),
        ({"inputs": [[1.0, 2, 3]]}, "application/json", 400, "got an array with 3 columns"),
        ({"instances": [{"a": 1.0, "n": 1}, 3]}, "application/json", 400, "not a mix"),
        ({"inputs": {"a": [1.0], "n": 1}, "params": [1]}, "application/json", 400,
         "params must be a JSON object"),
        ("a,n\n1.0,2\n", "text/plain", 415, "content type 'text/plain' is not supported"),
        ("{}", "application/json; charset=latin-1", 415, "only UTF-8"),
        (b"\xff\xfe", "text/csv", 400, "not valid UTF-8"),
        ("", "text/csv", 400, "the CSV body is empty"),
        ("a,n\n1.0,x\n", "text/csv", 400, "column 'n' must be long"),
        ('{"inputs": ' + "[" * 100_000 + "]" * 100_000 + "}", "application/json", 400,
         "nested too deeply"),
    ]  # fmt: skip
    for body, content_type, status, message in cases:
        answer = _post(server, body, content_type)
        assert answer.status_code == status, (body, answer.text)
        error = answer.json()
        assert error["error_code"] == "INVALID_PARAMETER_VALUE", body
        assert message in error["message"], (body, error["message"])
    assert requests.get(server.url + "/invocations", timeout=30).status_code == 405
    missing = requests.post(server.url + "/predict", data=b"{}", timeout=30)
    assert missing.status_code == 404 and "no route '/predict'" in missing.json()["message"]
    # the server still answers after all that
    assert requests.get(server.url + "/ping", timeout=30).status_code == 200


def test_serve_refuses_an_unknown_alias(served: Served) -> None:
    cmd = [sys.executable, "-m", "jupyter_mltrack.models.cli", "serve", "models:/served@nope"]
    done = subprocess.run(cmd, env=_env(served.store), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "has no alias 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_parse_request_reads_tensors_with_the_schema_dtype() -> None:
    schema = Schema([TensorSpec("float32", (-1, 2))])
    data, params = parse_request(
        b'{"inputs": [[1, 2.5]], "params": {"k": 1}}', "application/json", schema
    )
    assert data.dtype == np.float32 and data.tolist() == [[1.0, 2.5]] and params == {"k": 1}
    named = Schema([TensorSpec("int64", (-1,), "ids"), TensorSpec("float32", (-1, 2), "x")])
    rows = b'{"instances": [{"ids": 1, "x": [1, 2]}, {"ids": 2, "x": [3, 4]}]}'
    data, _ = parse_request(rows, "application/json", named)
    assert data["ids"].tolist() == [1, 2] and data["x"].dtype == np.float32
    with pytest.raises(PayloadError, match="every instance must have the same keys"):
        parse_request(b'{"instances": [{"ids": 1}, {"x": 2}]}', "application/json", named)
    with pytest.raises(PayloadError, match="not a rectangular array"):
        parse_request(b'{"inputs": [[1, 2], [3]]}', "application/json", schema)
    with pytest.raises(PayloadError, match="has no Content-Type") as caught:
        parse_request(b"{}", None)
    assert caught.value.http_status == 415


def test_serve_model_on_a_background_thread(served: Served) -> None:
    mlt.set_store(served.store)
    try:
        with fluent.serve_model("models:/served/1") as server:
            assert "running" in repr(server)
            body = {"dataframe_records": json.loads(served.x.head(2).to_json(orient="records"))}
            answer = _post(server, body)
            assert answer.status_code == 200, answer.text
            v1 = LogisticRegression(C=0.01).fit(*_data())
            assert answer.json() == {"predictions": v1.predict(served.x.head(2)).tolist()}
            with pytest.raises(MltrackError, match="already running"):
                server.start()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/ping", timeout=5)
        with pytest.raises(MltrackError, match="port must be an integer"):
            fluent.serve_model("models:/served/1", port=70000)
    finally:
        mlt.set_store(None)


# --- batch scoring ---------------------------------------------------------------------------
def test_batch_scoring_csv_and_parquet(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = served.x
    expected = served.model.predict(x)
    x.to_csv(tmp_path / "in.csv", index=False)
    x.to_parquet(tmp_path / "in.parquet", index=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli_main(
            ["--store", str(served.store), "predict", "-m", "models:/served@champion", *args]
        )
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = run("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"))
    assert code == 0, err
    assert f"wrote {len(x)} predictions" in out
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == expected.tolist()

    code, _, err = run(
        "-i", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "o.parquet"), "--with-input"
    )
    assert code == 0, err
    both = pd.read_parquet(tmp_path / "o.parquet")
    assert list(both.columns) == ["a", "n", "prediction"]
    assert both["prediction"].tolist() == expected.tolist()
    pd.testing.assert_frame_equal(both[["a", "n"]], x)

    x[["a"]].to_csv(tmp_path / "short.csv", index=False)
    (tmp_path / "empty.csv").write_text("a,n\n")
    bad = [
        (("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.xlsx")), "must end in .csv"),
        (("-i", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "o.csv")), "does not exist"),
        (("-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "in.csv")), "must not be the input"),
        (("-i", str(tmp_path / "short.csv"), "-o", str(tmp_path / "o.csv")),
         "missing required column 'n'"),
        (("-i", str(tmp_path / "empty.csv"), "-o", str(tmp_path / "o.csv")), "holds no rows"),
    ]  # fmt: skip
    for args, message in bad:
        code, _, err = run(*args)
        assert code == 2 and message in err, (args, err)
    assert not (tmp_path / "o.csv").exists()  # failed runs leave no output behind


# --- the Docker build context ----------------------------------------------------------------
def test_build_docker_context_is_complete_and_serves(
    served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = tmp_path / "ctx"
    code = cli_main(
        [
            "--store",
            str(served.store),
            "--json",
            "build-docker",
            "models:/served/1",
            "-o",
            str(ctx),
            "--port",
            "9000",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)
    assert (
        summary["version"] == "1"
        and summary["python"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    )
    dockerfile = (ctx / "Dockerfile").read_text()
    assert dockerfile.startswith("# Serves one model") and "EXPOSE 9000" in dockerfile
    assert f"FROM python:{summary['python']}-slim" in dockerfile
    # every COPY source is in the context, and the command's module is vendored
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            source = line.split()[1]
            assert (ctx / source).exists(), line
    assert (ctx / "mltrack/jupyter_mltrack/models/serve.py").is_file()
    assert (ctx / "model/MLmodel").is_file() and (ctx / "model/model.pkl").is_file()
    requirements = (ctx / "model/requirements.txt").read_text().split()
    serve_requirements = (ctx / "requirements-serve.txt").read_text().split()
    assert any(r.startswith("scikit-learn==") for r in requirements)
    assert any(r.startswith("PyYAML==") or r.startswith("pyyaml==") for r in serve_requirements)
    assert not list(ctx.rglob("__pycache__"))

    # the image's command, run from the context with only the vendored package on the path
    env = {**_env(served.store), "PYTHONPATH": str(ctx / "mltrack")}
    env.pop("MLTRACK_STORE")
    where = subprocess.run(
        [sys.executable, "-c", "import jupyter_mltrack.models.serve as s; print(s.__file__)"],
        env=env, cwd=ctx, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert where.stdout.strip().startswith(str(ctx / "mltrack")), where.stderr
    running = _start(
        [sys.executable, "-m", "jupyter_mltrack.models.serve", str(ctx / "model"), "--port", "0"],
        env,
        cwd=ctx,
    )
    try:
        example = json.loads((ctx / "model/serving_input_example.json").read_text())
        answer = _post(running, example)
        assert answer.status_code == 200, answer.text
        v1 = LogisticRegression(C=0.01).fit(*_data())
        assert answer.json() == {"predictions": v1.predict(served.x.head(3)).tolist()}
    finally:
        _stop(running)

    code = cli_main(
        ["--store", str(served.store), "build-docker", "models:/served/1", "-o", str(ctx)]
    )
    assert code == 2 and "already exists" in capsys.readouterr().err
    code = cli_main(
        [
            "--store",
            str(served.store),
            "build-docker",
            "models:/served/1",
            "-o",
            str(tmp_path / "c2"),
            "--port",
            "0",
        ]
    )
    assert code == 2 and "port must be" in capsys.readouterr().err


# --- warm models -----------------------------------------------------------------------------
def test_warm_models_load_once_and_follow_aliases(served: Served, tmp_path: Path) -> None:
    import shutil

    store_dir = tmp_path / "store"
    shutil.copytree(served.store, store_dir)  # this test moves an alias: not in the shared store
    from jupyter_mltrack.models.registry_api import ModelRegistry
    from jupyter_mltrack.store.duckdb.store import DuckDBStore

    db = DuckDBStore(store_dir)
    try:
        warm = WarmModels(db, max_models=1)
        body = json.dumps(
            {"dataframe_records": json.loads(served.x.head(4).to_json(orient="records"))}
        )
        first = warm.predict("served", "@champion", body.encode(), "application/json")
        assert first["version"] == "2"
        assert first["predictions"] == served.model.predict(served.x.head(4)).tolist()
        _, model = warm.get("served", "champion")
        assert warm.get("served", "2")[1] is model  # loaded once, reused
        assert warm.describe("served", "latest")["warm"] is True

        ModelRegistry(db, user="ana").set_alias("served", "champion", 1)
        moved = warm.predict("served", "@champion", body.encode(), "application/json")
        assert moved["version"] == "1"  # the alias move took effect at once
        assert warm.describe("served", "2")["warm"] is False  # max_models=1 evicted version 2
        info = warm.describe("served", "None")
        assert info["request_example"]["dataframe_split"]["columns"] == ["a", "n"]
        assert warm.evict("served") == 1

        with pytest.raises(MltrackError) as unknown:
            warm.predict("nope", "1", b"{}", "application/json")
        assert unknown.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
        with pytest.raises(MltrackError, match="missing required column 'n'"):
            warm.predict("served", "1", b'{"inputs": {"a": [1.0]}}', "application/json")
        with pytest.raises(MltrackError, match="has no alias 'ghost'"):
            warm.get("served", "ghost")
        with pytest.raises(MltrackError, match="max_models must be a positive integer"):
            WarmModels(db, max_models=0)
    finally:
        db.close()


# --- the warm model route of the Jupyter server ----------------------------------------------
_LAUNCHER = r"""
import sys
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from jupyter_mltrack.server.base import STORE_SETTING
from jupyter_mltrack.server.models_handlers import model_handlers
from jupyter_mltrack.store.duckdb.store import DuckDBStore

app = ServerApp()
app.initialize(argv=sys.argv[2:], find_extensions=False)
store = DuckDBStore(sys.argv[1], linger=None)
app.web_app.settings[STORE_SETTING] = store
prefix = url_path_join(app.base_url, "mltrack")
app.web_app.add_handlers(
    ".*$", [(url_path_join(prefix, pattern), handler) for pattern, handler in model_handlers()]
)
try:
    app.start()
finally:
    store.close()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_warm_route_in_a_jupyter_server(served: Served, tmp_path: Path) -> None:
    import secrets
    import shutil
    import time

    store_dir = tmp_path / "store"
    shutil.copytree(served.store, store_dir)  # the server owns its store file exclusively
    token = secrets.token_hex(16)
    port = _free_port()
    env = {**_env(store_dir), "JUPYTER_PLATFORM_DIRS": "1"}
    log_path = tmp_path / "server.log"
    args = [
        sys.executable, "-c", _LAUNCHER, str(store_dir),
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}", "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True", f"--ServerApp.root_dir={tmp_path}",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/mltrack/api/models"
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if requests.get(f"{base}/served/2/predict", headers=headers, timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)

        described = requests.get(f"{base}/served/@champion/predict", headers=headers, timeout=30)
        assert described.status_code == 200, described.text
        info = described.json()
        assert (info["version"], info["warm"], info["aliases"]) == ("2", False, ["champion"])
        body = {
            "dataframe_split": json.loads(served.x.head(5).to_json(orient="split", index=False))
        }
        scored = requests.post(
            f"{base}/served/@champion/predict", json=body, headers=headers, timeout=60
        )
        assert scored.status_code == 200, scored.text
        assert scored.json() == {
            "name": "served",
            "version": "2",
            "predictions": served.model.predict(served.x.head(5)).tolist(),
        }
        again = requests.get(f"{base}/served/champion/predict", headers=headers, timeout=30)
        assert again.json()["warm"] is True
        by_stage = requests.post(
            f"{base}/served/None/predict", json=body, headers=headers, timeout=60
        )
        assert by_stage.json()["version"] == "2"  # the latest version in stage None

        failures = [
            (requests.post, "served/1/predict", {"inputs": {"a": [1.0]}}, 400, "missing required"),
            (requests.post, "nope/1/predict", body, 404, "no registered model named 'nope'"),
            (requests.post, "served/9/predict", body, 404, "has no version 9"),
            (requests.get, "served/@ghost/predict", None, 400, "has no alias 'ghost'"),
        ]
        for method, path, payload, status, message in failures:
            answer = method(f"{base}/{path}", json=payload, headers=headers, timeout=30)
            assert answer.status_code == status, (path, answer.text)
            assert message in answer.json()["message"], (path, answer.text)
        wrong_type = requests.post(
            f"{base}/served/1/predict",
            data="a,n\n1.0,1\n",
            headers={**headers, "Content-Type": "text/plain"},
            timeout=30,
        )
        assert wrong_type.status_code == 415, wrong_type.text
        csv = requests.post(
            f"{base}/served/1/predict",
            data=served.x.head(2).to_csv(index=False),
            headers={**headers, "Content-Type": "text/csv"},
            timeout=30,
        )
        assert csv.status_code == 200 and csv.json()["version"] == "1"

        anonymous = requests.post(f"{base}/served/1/predict", json=body, timeout=30)
        assert anonymous.status_code in (401, 403)
        unloaded = requests.delete(f"{base}/served/1/predict", headers=headers, timeout=30)
        assert unloaded.json() == {"unloaded": 2}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    assert "Traceback" not in log_path.read_text()
