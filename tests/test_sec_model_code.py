"""Model code never runs inside the Jupyter server, and only the store's own model files load.

Through a real tracking server: warm models predict in a worker process (their pid is not the
server's, loading marks another process), a crashed worker answers 500 and is started again, a
version whose files lie outside the artifact root (a path, ``runs:/…/../..``, a symlink) is
refused with 400 before anything is read, and names in ``MLmodel`` stay inside the model
folder. Without a server: the source rule, the ``MLmodel`` name rule, and ``build-docker``'s
requirement and symlink rules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import TrackingServer

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.models.mlmodel import model_file
from jupyter_mltrack.models.uris import check_version_source, check_within_root
from jupyter_mltrack.store.rest.store import RestStore

# Logs (and registers) custom models whose classes are pickled by value; run as a client
# process of the server. argv: marker folder, then "<name>=<kind>" pairs.
_LOG_SCRIPT = r"""
import json, os, sys
from pathlib import Path
import jupyter_mltrack as mlt

MARKERS = sys.argv[1]


class Pid:
    def predict(self, data):
        return [os.getpid()]


class Marked:
    def __init__(self):
        self.markers = MARKERS

    def __setstate__(self, state):
        self.__dict__.update(state)
        Path(self.markers, f"loaded-{os.getpid()}").write_text("")

    def predict(self, data):
        return [os.getpid()]


class Crashy:
    def predict(self, data):
        if float(data["x"].iloc[0]) < 0:
            os._exit(3)
        return [os.getpid()]


KINDS = {"pid": Pid, "marked": Marked, "crashy": Crashy}
out = {}
with mlt.start_run() as run:
    for pair in sys.argv[2:]:
        name, kind = pair.split("=")
        info = mlt.log_model(KINDS[kind](), kind, registered_model_name=name)
        out[name] = info.registered_model_version.version
    out["run_id"] = run.info.run_id
    out["artifact_uri"] = run.info.artifact_uri
print(json.dumps(out))
"""

_BODY = {"dataframe_split": {"columns": ["x"], "data": [[1.0]]}}
_CRASH = {"dataframe_split": {"columns": ["x"], "data": [[-1.0]]}}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _log_models(
    server: TrackingServer, tmp_path: Path, markers: Path, **kinds: str
) -> dict[str, Any]:
    script = tmp_path / "log_models.py"
    script.write_text(_LOG_SCRIPT)
    markers.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, str(script), str(markers), *(f"{n}={k}" for n, k in kinds.items())],
        env=server.client_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _predict(server: TrackingServer, name: str, ref: str, body: Any) -> requests.Response:
    return server.api("POST", f"/models/{name}/{ref}/predict", json=body, timeout=120)


def _server_pid(server: TrackingServer) -> int:
    assert server.proc is not None
    return server.proc.pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _save_marked_model_outside(tmp_path: Path, markers: Path) -> Path:
    """A model directory outside any store whose loading leaves a marker (by running code)."""
    script = tmp_path / "save_outside.py"
    script.write_text(
        _LOG_SCRIPT.split("KINDS =")[0]
        + "from jupyter_mltrack.models.fluent import save_model\n"
        + "save_model(Marked(), sys.argv[2])\n"
    )
    outside = tmp_path / "outside-model"
    done = subprocess.run(
        [sys.executable, str(script), str(markers), str(outside)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return outside


# --- b: the worker process --------------------------------------------------------------------
def test_warm_model_predicts_in_a_worker_not_in_the_server(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    pid_model, marked_model = _unique("pid"), _unique("marked")
    markers = tmp_path / "markers"
    _log_models(tracking_server, tmp_path, markers, **{pid_model: "pid", marked_model: "marked"})
    server_pid = _server_pid(tracking_server)

    answer = _predict(tracking_server, pid_model, "1", _BODY)
    assert answer.status_code == 200, answer.text
    worker_pid = answer.json()["predictions"][0]
    assert worker_pid != server_pid and _alive(worker_pid)

    for marker in markers.iterdir():
        marker.unlink()  # logging may have loaded the model in the logging process
    answer = _predict(tracking_server, marked_model, "1", _BODY)
    assert answer.status_code == 200, answer.text
    loaded_in = {int(p.name.removeprefix("loaded-")) for p in markers.iterdir()}
    assert loaded_in == {answer.json()["predictions"][0]}
    assert server_pid not in loaded_in

    # describe does not load, DELETE stops the worker
    described = tracking_server.api("GET", f"/models/{pid_model}/1/predict", timeout=60)
    assert described.status_code == 200 and described.json()["warm"] is True
    assert tracking_server.api("DELETE", f"/models/{pid_model}/1/predict").json() == {"unloaded": 1}
    deadline = time.monotonic() + 30
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid)


def test_a_crashed_worker_answers_500_and_is_started_again(
    tracking_server_factory: Any, tmp_path: Path
) -> None:
    # its own server: the session server's teardown counts logged 5xx answers as errors
    tracking_server = tracking_server_factory()
    name = _unique("crashy")
    _log_models(tracking_server, tmp_path, tmp_path / "markers", **{name: "crashy"})
    first = _predict(tracking_server, name, "1", _BODY)
    assert first.status_code == 200, first.text
    crashed = _predict(tracking_server, name, "1", _CRASH)
    assert crashed.status_code == 500, crashed.text
    assert crashed.json()["error_code"] == "INTERNAL_ERROR"
    assert "worker process exited (code 3)" in crashed.json()["message"]
    again = _predict(tracking_server, name, "1", _BODY)
    assert again.status_code == 200, again.text
    assert again.json()["predictions"][0] != first.json()["predictions"][0]
    assert _alive(tracking_server.proc.pid)  # type: ignore[union-attr]


def test_workers_stop_with_the_server(tracking_server_factory: Any, tmp_path: Path) -> None:
    server = tracking_server_factory()
    name = _unique("pid")
    _log_models(server, tmp_path, tmp_path / "markers", **{name: "pid"})
    worker_pid = _predict(server, name, "1", _BODY).json()["predictions"][0]
    assert _alive(worker_pid)
    server.stop()
    deadline = time.monotonic() + 30
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker_pid)


# --- a: sources outside the artifact root -----------------------------------------------------
def _register_or_refused(rest: RestStore, name: str, source: str) -> str | None:
    """The new version, or None if the registry refused the source outright (also right)."""
    try:
        return rest.create_model_version(name, source).version
    except MltrackError as exc:
        assert exc.code == ErrorCode.INVALID_PARAMETER_VALUE, exc
        return None


def test_a_version_outside_the_artifact_root_is_never_loaded(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    outside = _save_marked_model_outside(tmp_path, markers)
    for marker in markers.iterdir():
        marker.unlink()
    logged = _log_models(tracking_server, tmp_path, tmp_path / "other", **{_unique("p"): "pid"})
    run_dir = Path(logged["artifact_uri"].removeprefix("file://"))
    climb = os.path.relpath(outside, run_dir).replace(os.sep, "/")
    assert climb.startswith("../")
    name = _unique("outside")
    rest = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    try:
        rest.create_registered_model(name)
        sources = [
            str(outside),
            outside.as_uri(),
            f"runs:/{logged['run_id']}/{climb}",
            "/etc",
            "file:///etc",
        ]
        for source in sources:
            version = _register_or_refused(rest, name, source)
            if version is None:
                continue
            route = f"/models/{name}/{version}/predict"
            for answer in (_predict(tracking_server, name, version, _BODY),
                           tracking_server.api("GET", route)):  # fmt: skip
                assert answer.status_code == 400, (source, answer.text)
                assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
                assert "outside the store's artifact root" in answer.json()["message"]

        # a folder inside the root registered first, then made a symlink to the outside model
        link = tracking_server.store_dir / "artifacts" / _unique("link")
        version = _register_or_refused(rest, name, str(link))
        assert version is not None  # inside the root when registered
        link.symlink_to(outside, target_is_directory=True)
        answer = _predict(tracking_server, name, version, _BODY)
        assert answer.status_code == 400, answer.text
        assert "outside the store's artifact root" in answer.json()["message"]
    finally:
        rest.close()
    assert list(markers.iterdir()) == []  # nothing of the outside model was ever loaded


def test_the_server_refuses_to_register_a_source_outside_its_artifact_root(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    """As MLflow's server does: on both faces, before anything is recorded."""
    name = _unique("confined")
    created = tracking_server.api("POST", "/registered-models", json={"name": name})
    assert created.status_code in (200, 201), created.text
    for source in ("/etc", "file:///etc", str(tmp_path), "runs:/abc/../../x", "relative/model"):
        native = tracking_server.api(
            "POST", f"/registered-models/{name}/versions", json={"source": source}
        )
        assert native.status_code == 400, (source, native.text)
        assert native.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        mlflow = requests.post(
            f"{tracking_server.url}/api/2.0/mlflow/model-versions/create",
            json={"name": name, "source": source},
            headers=tracking_server.headers,
            timeout=60,
        )
        assert mlflow.status_code == 400, (source, mlflow.text)
        assert mlflow.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    versions = tracking_server.api("GET", "/model-versions", params={"filter": f"name = '{name}'"})
    assert versions.status_code == 200, versions.text
    assert versions.json()["model_versions"] == []
    inside = tracking_server.store_dir / "artifacts" / _unique("inside")
    accepted = tracking_server.api(
        "POST", f"/registered-models/{name}/versions", json={"source": str(inside)}
    )
    assert accepted.status_code in (200, 201), accepted.text


# --- c: file names in MLmodel -----------------------------------------------------------------
def test_mlmodel_names_outside_the_model_folder_are_refused(
    tracking_server: TrackingServer, tmp_path: Path
) -> None:
    import yaml

    markers = tmp_path / "markers"
    markers.mkdir()
    outside = _save_marked_model_outside(tmp_path, markers)
    for marker in markers.iterdir():
        marker.unlink()
    name = _unique("mlmodel")
    rest = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    try:
        rest.create_registered_model(name)
        for python_model in (
            str(outside / "python_model.pkl"),
            os.path.relpath(outside / "python_model.pkl", tracking_server.store_dir),
        ):
            model_dir = tracking_server.store_dir / "artifacts" / _unique("crafted")
            model_dir.mkdir()
            meta = yaml.safe_load((outside / "MLmodel").read_text())
            meta["flavors"]["python_function"]["python_model"] = python_model
            (model_dir / "MLmodel").write_text(yaml.safe_dump(meta))
            version = rest.create_model_version(name, str(model_dir)).version
            answer = _predict(tracking_server, name, version, _BODY)
            assert answer.status_code == 400, answer.text
            assert "not a path inside the model folder" in answer.json()["message"]
    finally:
        rest.close()
    assert list(markers.iterdir()) == []


def test_model_file_confines_names(tmp_path: Path) -> None:
    (tmp_path / "m" / "data").mkdir(parents=True)
    assert model_file(tmp_path / "m", "data/x.pkl") == (tmp_path / "m" / "data" / "x.pkl").resolve()
    (tmp_path / "m" / "out").symlink_to(tmp_path)
    for bad in ("/etc/passwd", "../x.pkl", "data/../../x.pkl", "out/x.pkl", "", None, 3):
        with pytest.raises(MltrackError) as info:
            model_file(tmp_path / "m", bad, "python_model")
        assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE


# --- a: the source rule (for the registry) ----------------------------------------------------
def test_check_version_source(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    (root / "1" / "m").mkdir(parents=True)
    (root / "escape").symlink_to(tmp_path)
    for ok in (
        "runs:/abc/model",
        "models:/m-123",
        "models:/name/1",
        str(root / "1" / "m"),
        (root / "1" / "m").as_uri(),
        "s3://bucket/model",
    ):
        assert check_version_source(root, ok) == ok
    for bad in (
        "/etc",
        "file:///etc",
        "runs:/abc/../../..",
        "runs:/abc/%2E%2E/x",
        "models:/name/../1",
        str(root / ".." / "x"),
        str(root / "escape" / "x"),
        "relative/model",
        "s3://bucket/../other",
        "file://otherhost/x",
    ):
        with pytest.raises(MltrackError) as info:
            check_version_source(root, bad)
        assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE, bad
    assert check_within_root(root, str(root / "1" / "m")) == (root / "1" / "m").resolve()


# --- c: build-docker --------------------------------------------------------------------------
@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    from jupyter_mltrack.models.fluent import save_model

    class Echo:
        def predict(self, data: Any) -> Any:
            return data

    path = tmp_path / "model"
    save_model(Echo(), path, pip_requirements=["numpy>=1.0", "pandas"])
    return path


@pytest.mark.parametrize(
    "line",
    [
        "--index-url https://evil.example/simple",
        "--extra-index-url=https://evil.example/simple",
        "-r /etc/other.txt",
        "-e git+https://evil.example/x.git#egg=x",
        "git+https://evil.example/x.git",
        "x @ https://evil.example/x.whl",
        "./local-package",
        "/abs/package.whl",
    ],
)
def test_build_docker_refuses_unsafe_requirements(
    model_dir: Path, tmp_path: Path, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyter_mltrack.models.cli import main as cli_main

    (model_dir / "requirements.txt").write_text(f"numpy\n{line}\n")
    out = tmp_path / "ctx"
    code = cli_main(["build-docker", str(model_dir), "-o", str(out)])
    assert code == 2, capsys.readouterr()
    assert "not a plain requirement" in capsys.readouterr().err
    assert not out.exists()
    allowed = tmp_path / "ctx-allowed"
    code = cli_main(
        ["build-docker", str(model_dir), "-o", str(allowed), "--allow-unsafe-requirements"]
    )
    assert code == 0, capsys.readouterr()
    assert line in (allowed / "model" / "requirements.txt").read_text()


def test_build_docker_passes_checked_requirements(model_dir: Path, tmp_path: Path) -> None:
    from jupyter_mltrack.models.docker import build_docker_context
    from jupyter_mltrack.models.uris import resolve_model_uri

    (model_dir / "requirements.txt").write_text("numpy>=1.0  # why\n\nscikit-learn[all]==1.5\n")
    build_docker_context(resolve_model_uri(model_dir), tmp_path / "ctx")
    written = (tmp_path / "ctx" / "model" / "requirements.txt").read_text()
    assert written == "numpy>=1.0\nscikit-learn[all]==1.5\n"


def test_build_docker_refuses_symlinks_out_of_the_model(model_dir: Path, tmp_path: Path) -> None:
    from jupyter_mltrack.models.docker import build_docker_context
    from jupyter_mltrack.models.uris import resolve_model_uri

    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    (model_dir / "extra.txt").symlink_to(secret)
    with pytest.raises(MltrackError, match="leads out of the model folder"):
        build_docker_context(resolve_model_uri(model_dir), tmp_path / "ctx")
    assert not (tmp_path / "ctx").exists()
    (model_dir / "extra.txt").unlink()
    (model_dir / "inside.txt").symlink_to(model_dir / "requirements.txt")  # inside: fine
    build_docker_context(resolve_model_uri(model_dir), tmp_path / "ctx")
    assert (tmp_path / "ctx" / "model" / "inside.txt").is_file()
