"""The extension as an application: enabled by its config file, configured by traitlets, and
runnable on its own (``jupyter mltrack server`` calls :func:`jupyter_mltrack.server.app.launch`)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
from conftest import TrackingServer, free_port

from jupyter_mltrack.server.app import MltrackApp

REPO = Path(__file__).parents[1]


def test_every_setting_is_documented() -> None:
    traits = MltrackApp.class_own_traits(config=True)
    expected = {
        "store_dir", "max_upload_bytes", "preview_max_bytes", "preview_max_rows",
        "preview_max_image_bytes", "default_points", "max_points", "changes_max_wait",
        "housekeeping_interval",
    }  # fmt: skip
    assert expected <= set(traits)
    for name, trait in traits.items():
        assert trait.help and len(trait.help) > 20, name


def test_the_config_file_enables_the_extension(tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    (config_dir / "jupyter_server_config.d").mkdir(parents=True)
    enable = REPO / "jupyter-config" / "server-config" / "jupyter_mltrack.json"
    assert json.loads(enable.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"jupyter_mltrack": True}}
    }
    (config_dir / "jupyter_server_config.d" / "jupyter_mltrack.json").write_text(enable.read_text())
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir), "JUPYTER_PLATFORM_DIRS": "1"}
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "extension", "list"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)  # no colours
    assert re.search(r"^\s*jupyter_mltrack enabled$", output, re.M), output
    assert re.search(r"^\s*jupyter_mltrack \S+ OK$", output, re.M), output


def test_settings_from_jupyter_server_config_py(
    tracking_server_factory: Callable[..., TrackingServer],
) -> None:
    server = tracking_server_factory(
        config_py="c.MltrackApp.preview_max_rows = 7\nc.MltrackApp.max_points = 5000\n"
    )
    limits = server.api("GET", "/info").json()["limits"]
    assert limits["preview_max_rows"] == 7 and limits["max_points"] == 5000
    # the limit applies: more points than the configured maximum is refused
    answer = server.api("GET", "/metric-histories", params={"run_id": "x", "key": "k",
                                                           "points": "5001"})  # fmt: skip
    assert answer.status_code == 400 and "at most 5000" in answer.json()["message"]


def test_launch_runs_the_tracking_server_on_its_own(tmp_path: Path) -> None:
    store = tmp_path / "team-store"
    token = secrets.token_hex(8)
    port = free_port()
    config_dir = tmp_path / "empty-config"  # the extension is not enabled by any config file
    config_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRACK_")}
    env.update(JUPYTER_CONFIG_DIR=str(config_dir), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_PLATFORM_DIRS="1")  # fmt: skip
    args = [
        sys.executable, "-c",
        "import sys; from jupyter_mltrack.server.app import launch; launch(sys.argv[1:])",
        "--port", str(port), "--ip", "127.0.0.1", "--store", str(store),
        f"--IdentityProvider.token={token}", "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={tmp_path}", "--MltrackApp.default_points=321",
    ]  # fmt: skip
    log_path = tmp_path / "launch.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/mltrack/api/info"
    headers = {"Authorization": f"token {token}"}
    try:
        deadline = time.monotonic() + 120
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = requests.get(url, headers=headers, timeout=5)
                if answer.status_code == 200 and (store / "server.json").exists():
                    info = answer.json()
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        assert info is not None, log_path.read_text()
        assert info["store"] == str(store.resolve())
        assert info["limits"]["default_points"] == 321
        assert requests.get(url, timeout=5).status_code == 403
        advertised = json.loads((store / "server.json").read_text())
        assert advertised["url"] == f"http://127.0.0.1:{port}/mltrack"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert not (store / "server.json").exists()
