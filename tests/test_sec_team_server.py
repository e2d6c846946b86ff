"""``mltrack server`` serves tracking only: its token, which a team's MLflow clients hold, opens
no kernels, terminals, files or other server extensions.

Each test runs the real command (``python -m jupyter_mltrack.cli server``) in a subprocess whose
Jupyter config enables JupyterLab and the terminals extension, and asks with the server's token.
Inside a normal ``jupyter server`` the extension leaves Jupyter's services as they are.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from conftest import TrackingServer, free_port

# paths of Jupyter's own services and of extensions a Jupyter config would load
NOT_SERVED = [
    ("GET", "/api/kernels"),
    ("POST", "/api/kernels"),
    ("GET", "/api/kernelspecs"),
    ("GET", "/api/terminals"),
    ("POST", "/api/terminals"),
    ("GET", "/api/contents"),
    ("GET", "/api/contents/secret.txt"),
    ("PUT", "/api/contents/planted.txt"),
    ("GET", "/files/secret.txt"),
    ("GET", "/view/secret.txt"),
    ("GET", "/nbconvert/html/secret.txt"),
    ("GET", "/api/sessions"),
    ("POST", "/api/sessions"),
    ("GET", "/api/config/notebook"),
    ("PUT", "/api/config/notebook"),
    ("POST", "/api/events"),
    ("POST", "/api/shutdown"),
    ("GET", "/lab"),
    ("GET", "/lab/api/settings"),
    ("GET", "/tree"),
]


@dataclass
class TeamServer:
    url: str  # the Jupyter root: http://127.0.0.1:PORT
    token: str
    root: Path
    log_path: Path

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        return requests.request(
            method, self.url + path, headers=headers, data=body, timeout=30, **kwargs
        )  # type: ignore[arg-type]


@pytest.fixture
def team_server(tmp_path: Path) -> Iterator[TeamServer]:
    """``mltrack server`` as a team would run it, with a config that enables other extensions."""
    token = secrets.token_hex(16)
    root = tmp_path / "root"
    root.mkdir()
    (root / "secret.txt").write_text("not for the team")
    config_dir = tmp_path / "config"
    (config_dir / "jupyter_server_config.d").mkdir(parents=True)
    # what an installed JupyterLab and jupyter_server_terminals put in the config path, and a
    # user's config that enables them as well
    enabled = {"jupyterlab": True, "jupyter_server_terminals": True, "jupyter_mltrack": True}
    config = json.dumps({"ServerApp": {"jpserver_extensions": enabled}})
    (config_dir / "jupyter_server_config.d" / "others.json").write_text(config)
    (config_dir / "jupyter_server_config.json").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRACK_")}
    env.update(JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_PLATFORM_DIRS="1")  # fmt: skip
    store = tmp_path / "store"
    log_path = tmp_path / "server.log"
    for _attempt in range(3):
        port = free_port()
        args = [
            sys.executable, "-m", "jupyter_mltrack.cli", "--store", str(store), "server",
            "--port", str(port), "--ip", "127.0.0.1", f"--IdentityProvider.token={token}",
            "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}",
            "--ServerApp.extra_services=['jupyter_server.services.contents.handlers']",
        ]  # fmt: skip
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = TeamServer(f"http://127.0.0.1:{port}", token, root, log_path)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if server.request("GET", "/mltrack/api/info").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        if proc.poll() is None:
            break
    else:
        raise RuntimeError(log_path.read_text())
    try:
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def test_the_team_token_opens_no_kernels_terminals_or_files(team_server: TeamServer) -> None:
    for method, path in NOT_SERVED:
        answer = team_server.request(method, path)
        assert answer.status_code in (404, 405), (method, path, answer.status_code)
        assert "not for the team" not in answer.text
    assert not (team_server.root / "planted.txt").exists()
    log = team_server.log_path.read_text()
    assert "not loading: jupyter_server_terminals, jupyterlab" in log
    assert "not serving: jupyter_server.services.contents.handlers" in log
    # and no kernel was started by any of those requests
    assert team_server.request("GET", "/api/status").json()["kernels"] == 0


def test_the_team_token_tracks(team_server: TeamServer) -> None:
    info = team_server.request("GET", "/mltrack/api/info")
    assert info.status_code == 200 and "store" in info.json()
    mlflow = team_server.url + "/mltrack/api/2.0/mlflow"
    headers = {"Authorization": f"Bearer {team_server.token}"}
    created = requests.post(f"{mlflow}/experiments/create", json={"name": "team"},
                            headers=headers, timeout=30)  # fmt: skip
    assert created.status_code == 200, created.text
    experiment_id = created.json()["experiment_id"]
    found = requests.post(f"{mlflow}/experiments/search", json={"max_results": 10},
                          headers=headers, timeout=30)  # fmt: skip
    assert experiment_id in [e["experiment_id"] for e in found.json()["experiments"]]
    run = requests.post(f"{mlflow}/runs/create", json={"experiment_id": experiment_id},
                        headers=headers, timeout=30)  # fmt: skip
    assert run.status_code == 200, run.text
    # without the token: refused, as on any Jupyter server
    assert requests.get(f"{mlflow}/experiments/get?experiment_id={experiment_id}",
                        timeout=30).status_code in (401, 403)  # fmt: skip


def test_inside_a_normal_jupyter_server_the_extension_changes_nothing(
    tracking_server: TrackingServer,
) -> None:
    # the conftest server is `python -m jupyter_server` with the extension enabled
    headers = tracking_server.headers
    for path in ("/api/contents", "/api/kernelspecs", "/api/sessions", "/api/kernels"):
        answer = requests.get(tracking_server.jupyter_url + path, headers=headers, timeout=30)
        assert answer.status_code == 200, (path, answer.status_code)
    assert requests.get(f"{tracking_server.url}/api/info", headers=headers,
                        timeout=30).status_code == 200  # fmt: skip
