"""Shared fixtures: a real tracking server, started as a `jupyter server` subprocess.

:func:`start_tracking_server` runs ``python -m jupyter_server`` with the extension enabled the way
an installed package enables it (a ``jupyter_server_config.d`` file), on a free loopback port,
with a known token and its own Jupyter config, data and runtime folders, serving one store
directory. The fixtures built on it:

- ``tracking_server``: one server for the session (tests use their own experiments);
- ``tracking_server_factory``: servers a test starts, stops and restarts itself; all are stopped
  when the test ends.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
_CLIENT_ENV = ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN", "MLTRACK_STORE")
_QUIET_CONFIG = {
    "ServerApp": {
        "jpserver_extensions": {"jupyterlab": False, "jupyter_lsp": False, "notebook_shim": False}
    }
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TrackingServer:
    """A jupyter server subprocess with the jupyter-mltrack extension.

    ``url`` is the extension's root (``http://127.0.0.1:PORT/mltrack``): the native API is at
    ``{url}/api/…``, MLflow's at ``{url}/api/2.0/mlflow/…``.
    """

    store_dir: Path
    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    port: int = 0
    extra_args: tuple[str, ...] = ()
    config_py: str = ""
    proc: subprocess.Popen | None = None
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mltrack"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def api(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        """A request to ``{url}/api{route}`` with the token (unless headers say otherwise)."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, f"{self.url}/api{route}", headers=headers, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def server_errors(self) -> list[str]:
        """Log lines of 5xx answers and tracebacks: bad input must never be a server fault."""
        marks = ("Traceback", "Uncaught exception", "] 500 ", "] 502 ")
        return [line for line in self.log().splitlines() if any(m in line for m in marks)]

    def client_env(self, **extra: str) -> dict[str, str]:
        """An environment for a process started by hand: the store set, no server address."""
        env = {k: v for k, v in os.environ.items() if k not in _CLIENT_ENV}
        env["MLTRACK_STORE"] = str(self.store_dir)
        env.update(extra)
        return env

    @property
    def jupyter_url(self) -> str:
        """The Jupyter server's own root (``http://127.0.0.1:PORT``)."""
        return f"http://127.0.0.1:{self.port}"

    def start(
        self, port: int | None = None, token: str | None = None, expect_owner: bool = True
    ) -> None:
        """Start (or start again) and wait until it answers.

        With ``expect_owner`` (the default) that means the extension's API answers and
        server.json names this process; without, only that Jupyter itself answers.
        """
        assert self.proc is None or self.proc.poll() is not None, "already running"
        if token is not None:
            self.token = token
        config_dir = self.workdir / "config"
        (config_dir / "jupyter_server_config.d").mkdir(parents=True, exist_ok=True)
        enable = Path(__file__).parents[1] / "jupyter-config/server-config/jupyter_mltrack.json"
        (config_dir / "jupyter_server_config.d" / "jupyter_mltrack.json").write_text(
            enable.read_text()
        )
        # other installed extensions (JupyterLab…) only slow the start of a test server
        (config_dir / "jupyter_server_config.json").write_text(json.dumps(_QUIET_CONFIG))
        if self.config_py:
            (config_dir / "jupyter_server_config.py").write_text(self.config_py)
        env = self.client_env(
            JUPYTER_CONFIG_DIR=str(config_dir),
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        last_log = ""
        for _attempt in range(3):  # a port taken between probing and binding: take another
            self.port = port or free_port()
            args = [
                sys.executable, "-m", "jupyter_server",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                "--ServerApp.open_browser=False", "--ServerApp.allow_root=True",
                f"--ServerApp.root_dir={self.workdir}", *self.extra_args,
            ]  # fmt: skip
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
                )
            if self._wait_ready(expect_owner):
                return
            last_log = self.log()[-4000:]
            self.stop()
        raise RuntimeError(f"the tracking server did not start:\n{last_log}")

    def _wait_ready(self, expect_owner: bool) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        server_file = self.store_dir / "server.json"
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if not expect_owner:
                    status = requests.get(
                        f"{self.jupyter_url}/api/status", headers=self.headers, timeout=5
                    )
                    if status.status_code == 200:
                        return True
                else:
                    answer = requests.get(f"{self.url}/api/info", headers=self.headers, timeout=5)
                    if answer.status_code == 200 and server_file.exists():
                        advertised = json.loads(server_file.read_text())
                        if advertised.get("pid") == self.proc.pid:
                            return True
            except (requests.ConnectionError, requests.Timeout, ValueError):
                pass
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        """Stop cleanly (SIGTERM) and wait; kill only if it hangs."""
        self.session.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def kill(self) -> None:
        """Kill outright (SIGKILL): no clean shutdown, server.json stays behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def start_tracking_server(
    store_dir: Path, workdir: Path, extra_args: tuple[str, ...] = (), config_py: str = ""
) -> TrackingServer:
    """Start a tracking server for ``store_dir``, with its Jupyter folders under ``workdir``.

    ``extra_args`` go on the command line (``--MltrackApp.max_upload_bytes=…``); ``config_py``
    becomes the server's ``jupyter_server_config.py``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    server = TrackingServer(
        store_dir=store_dir, workdir=workdir, extra_args=extra_args, config_py=config_py
    )
    server.start()
    return server


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """A tracking server with a fresh store, shared by the whole session: tests make their own
    experiments and must not depend on what others left in the store."""
    base = tmp_path_factory.mktemp("tracking-server")
    server = start_tracking_server(base / "store", base / "server")
    yield server
    server.stop()
    assert server.server_errors() == [], server.log()[-4000:]


@pytest.fixture(params=["embedded", "rest"])
def store(request: pytest.FixtureRequest, tmp_path: Path, tracking_server: TrackingServer) -> Any:
    """Each backend of the store contract in turn: the contract suites run on both unchanged."""
    from jupyter_mltrack.store.duckdb.store import DuckDBStore
    from jupyter_mltrack.store.rest.store import RestStore

    backend: DuckDBStore | RestStore
    if request.param == "embedded":
        backend = DuckDBStore(tmp_path / "store")
    else:
        backend = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    yield backend
    backend.close()


@pytest.fixture
def tracking_server_factory(
    tmp_path: Path,
) -> Iterator[Callable[..., TrackingServer]]:
    """Start servers inside a test: ``factory(store_dir=None, extra_args=(), config_py="")``."""
    started: list[TrackingServer] = []

    def factory(
        store_dir: Path | None = None, extra_args: tuple[str, ...] = (), config_py: str = ""
    ) -> TrackingServer:
        n = len(started)
        server = start_tracking_server(
            store_dir or tmp_path / "store", tmp_path / f"server{n}", extra_args, config_py
        )
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
