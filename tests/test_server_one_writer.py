"""One writer per store: while the server runs, everyone else logs through it.

- a kernel the server starts inherits its address and token and logs over REST;
- a script started by hand finds the server in ``<store>/server.json``; the file is private,
  removed on a clean shutdown and ignored once its process is gone;
- a script that logs while the server restarts (on another port, with another token) spools
  what it cannot send and every point arrives, once;
- the server replays batches left in the spool and marks runs of dead processes KILLED.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import TrackingServer

from jupyter_mltrack.store import open_store
from jupyter_mltrack.store.batch import MetricRow, WriteBatch
from jupyter_mltrack.store.discovery import find_server, read_server_file
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.rest.store import RestStore
from jupyter_mltrack.tracking.buffer import Spool

WAIT_S = 120.0


def _wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"script_{time.monotonic_ns()}.py"
    path.write_text(textwrap.dedent(body))
    return path


def _runs(server: TrackingServer, experiment: str = "0") -> list[dict[str, Any]]:
    answer = server.api("GET", "/run-search", params={"experiment_id": experiment})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["runs"])


def test_server_file_is_private_removed_on_stop_and_ignored_when_stale(
    tracking_server_factory: Callable[..., TrackingServer], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    server = tracking_server_factory()
    path = server.store_dir / "server.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    advertised = json.loads(path.read_text())
    assert advertised["url"] == server.url and advertised["token"] == server.token
    assert advertised["pid"] == server.proc.pid  # type: ignore[union-attr]
    assert isinstance(open_store(server.store_dir), RestStore)

    server.stop()
    assert not path.exists()
    embedded = open_store(server.store_dir)
    assert isinstance(embedded, DuckDBStore)
    embedded.close()

    server.start()
    server.kill()  # no clean shutdown: the file stays, naming a dead process
    assert path.exists() and read_server_file(server.store_dir) is None
    assert find_server(server.store_dir) is None
    embedded = open_store(server.store_dir)
    assert isinstance(embedded, DuckDBStore)
    embedded.close()
    server.start()  # a new server takes the store over
    assert json.loads(path.read_text())["pid"] == server.proc.pid  # type: ignore[union-attr]


def test_a_second_server_does_not_take_an_owned_store(
    tracking_server_factory: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    owner = tracking_server_factory()
    second = TrackingServer(store_dir=owner.store_dir, workdir=tmp_path / "second")
    second.workdir.mkdir()
    try:
        second.start(expect_owner=False)
        assert second.api("GET", "/info").status_code == 404
        assert "already owned by the jupyter-mltrack server" in second.log()
        assert "failed starting" not in second.log()
    finally:
        second.stop()
    assert json.loads((owner.store_dir / "server.json").read_text())["url"] == owner.url
    assert owner.api("GET", "/info").status_code == 200


def test_a_kernel_the_server_starts_logs_through_it(
    tracking_server_factory: Callable[..., TrackingServer],
) -> None:
    from jupyter_client import BlockingKernelClient

    server = tracking_server_factory()
    started = requests.post(
        f"{server.jupyter_url}/api/kernels", headers=server.headers, json={"name": "python3"},
        timeout=60,
    )  # fmt: skip
    assert started.status_code == 201, started.text
    kernel_id = started.json()["id"]
    connection_file = server.workdir / "runtime" / f"kernel-{kernel_id}.json"
    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    outputs: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            outputs.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            outputs.append("\n".join(message["content"]["traceback"]))

    try:
        client.wait_for_ready(timeout=WAIT_S)
        code = textwrap.dedent(
            """
            import os, jupyter_mltrack as mlt
            from jupyter_mltrack.tracking.session import get_session
            with mlt.start_run(run_name="from-the-kernel") as run:
                mlt.log_metric("loss", 0.25, step=3)
                mlt.log_param("where", "kernel")
            print(type(get_session().store).__name__, os.environ["MLTRACK_SERVER_URL"])
            print("RUN", run.info.run_id)
            """
        )
        reply = client.execute_interactive(code, timeout=WAIT_S, output_hook=collect)
        assert reply["content"]["status"] == "ok", outputs
    finally:
        client.stop_channels()
        requests.delete(
            f"{server.jupyter_url}/api/kernels/{kernel_id}", headers=server.headers, timeout=60
        )
    text = "".join(outputs)
    assert f"RestStore {server.url}" in text, text
    run_id = text.split("RUN ")[1].split()[0]
    run = server.api("GET", f"/runs/{run_id}").json()["run"]
    assert run["info"]["run_name"] == "from-the-kernel" and run["info"]["status"] == "FINISHED"
    assert run["data"]["metrics"] == {"loss": 0.25} and run["data"]["params"] == {"where": "kernel"}


def test_logging_survives_a_server_restart(
    tracking_server_factory: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    """A script logs 300 points; the server stops after 100 and comes back (new port, new
    token) after 200. Points 100-199 wait in the spool; all 300 arrive, each once."""
    server = tracking_server_factory()
    signals = tmp_path / "signals"
    signals.mkdir()
    script = _script(tmp_path, f"""
        import sys, time
        from pathlib import Path
        import jupyter_mltrack as mlt
        from jupyter_mltrack.tracking.session import get_session

        signals = Path({str(signals)!r})

        def wait_for(name):
            while not (signals / name).exists():
                time.sleep(0.05)

        print(type(get_session().store).__name__, flush=True)
        with mlt.start_run(run_name="through-a-restart") as run:
            (signals / "run_id").write_text(run.info.run_id)
            for step in range(300):
                if step == 100:
                    mlt.flush()
                    (signals / "sent-100").touch()
                    wait_for("server-stopped")
                if step == 200:
                    mlt.flush()  # the server is down: this goes to the spool
                    (signals / "spooled").touch()
                    wait_for("server-back")
                mlt.log_metric("loss", 1.0 / (step + 1), step=step)
        print("done", flush=True)
    """)  # fmt: skip
    env = server.client_env(MLTRACK_FLUSH_INTERVAL="0.2")
    with open(tmp_path / "script.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_for("the first 100 points", lambda: (signals / "sent-100").exists())
        run_id = (signals / "run_id").read_text()
        history = server.api("GET", f"/runs/{run_id}/metric-history", params={"key": "loss"})
        assert history.json()["step"] == list(range(100))

        server.stop()
        (signals / "server-stopped").touch()
        _wait_for("points spooled", lambda: (signals / "spooled").exists())
        spool = server.store_dir / "spool"
        assert list(spool.glob("*.json")), "points logged while the server was down are spooled"

        server.start(token="a-new-token")  # another free port, another token
        (signals / "server-back").touch()
        assert proc.wait(timeout=WAIT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    output = (tmp_path / "script.log").read_text()
    assert output.startswith("RestStore") and "done" in output, output
    history = server.api("GET", f"/runs/{run_id}/metric-history", params={"key": "loss"}).json()
    assert history["step"] == list(range(300))
    assert history["value"][150] == pytest.approx(1 / 151)
    run = server.api("GET", f"/runs/{run_id}").json()["run"]
    assert run["info"]["status"] == "FINISHED"
    assert list(spool.glob("*.json")) == []


def test_the_server_replays_the_spool_and_reaps_dead_runs(
    tracking_server_factory: Callable[..., TrackingServer], tmp_path: Path
) -> None:
    store_dir = tmp_path / "store"
    embedded = DuckDBStore(store_dir)
    run_id = embedded.create_run("0", "left-behind", None, 1, {}).info.run_id
    embedded.close()
    # a client that died while the server was away left a batch in the spool
    Spool(store_dir / "spool").put(
        WriteBatch(metrics=[MetricRow(run_id, "m", float(i), i, 1000 + i, None) for i in range(5)])
    )
    server = tracking_server_factory(
        store_dir=store_dir, extra_args=("--MltrackApp.housekeeping_interval=0.5",)
    )
    _wait_for(
        "the spooled batch",
        lambda: server.api("GET", f"/runs/{run_id}").json()["run"]["data"]["metrics"],
    )
    assert list((store_dir / "spool").glob("*.json")) == []

    # a script that dies without ending its run: the server marks the run KILLED
    script = _script(tmp_path, """
        import time, jupyter_mltrack as mlt
        run = mlt.start_run(run_name="doomed")
        mlt.log_metric("x", 1.0)
        mlt.flush()
        print(run.info.run_id, flush=True)
        time.sleep(600)
    """)  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=server.client_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        doomed = proc.stdout.readline().strip()
        assert server.api("GET", f"/runs/{doomed}").json()["run"]["info"]["status"] == "RUNNING"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    _wait_for(
        "the dead run to be marked KILLED",
        lambda: server.api("GET", f"/runs/{doomed}").json()["run"]["info"]["status"] == "KILLED",
    )
    assert os.environ.get("MLTRACK_SERVER_URL") is None
