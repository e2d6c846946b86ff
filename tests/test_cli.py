"""The mltrack command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jupyter_mltrack as mlt


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLTRACK_STORE": str(store)}
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mltrack.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_info_experiments_runs_gc(tmp_path: Path) -> None:
    store = tmp_path / "store"
    mlt.set_store(store)
    try:
        mlt.set_experiment("cli-demo")
        for acc in (0.7, 0.9):
            with mlt.start_run(run_name=f"acc-{acc}"):
                mlt.log_metric("acc", acc)
        with mlt.start_run(run_name="doomed") as doomed:
            mlt.log_text("bye", "bye.txt")
        mlt.delete_run(doomed.info.run_id)
        mlt.flush()
    finally:
        mlt.set_store(None)
    # release the database file so the CLI subprocesses can open it
    from jupyter_mltrack.tracking.session import get_session

    get_session(store).store.close()

    info = _cli(store, "info")
    assert info.returncode == 0, info.stderr
    assert f"store: {store}" in info.stdout
    data = json.loads(_cli(store, "--json", "info").stdout)
    assert data["counts"]["runs"] == 3 and data["schema_version"] >= 1

    exps = _cli(store, "experiments")
    assert "cli-demo" in exps.stdout and "Default" in exps.stdout

    runs = _cli(store, "runs", "-e", "cli-demo", "-f", "metrics.acc > 0.8")
    assert runs.returncode == 0, runs.stderr
    assert "acc-0.9" in runs.stdout and "acc-0.7" not in runs.stdout
    listed = json.loads(_cli(store, "--json", "runs", "-o", "metrics.acc ASC").stdout)
    assert [r["info"]["run_name"] for r in listed["runs"]] == ["acc-0.7", "acc-0.9"]

    gc = _cli(store, "gc")
    assert gc.returncode == 0, gc.stderr
    assert "removed 1 deleted runs" in gc.stdout
    assert json.loads(_cli(store, "--json", "info").stdout)["counts"]["runs"] == 2


def test_bad_arguments_give_clear_errors(tmp_path: Path) -> None:
    store = tmp_path / "store"
    bad_filter = _cli(store, "runs", "-f", "metrics.acc >> 1")
    assert bad_filter.returncode == 2
    assert "Invalid filter at position" in bad_filter.stderr
    assert "Traceback" not in bad_filter.stderr
    missing = _cli(store, "runs", "-e", "nope")
    assert missing.returncode == 2 and "no experiment named 'nope'" in missing.stderr
    assert _cli(store, "runs", "--max", "0").returncode == 2
    assert _cli(store, "gc", "--older-than", "-1").returncode == 2
    unknown = _cli(store, "frobnicate")
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_server_command_runs_the_tracking_server_on_its_own(tmp_path: Path) -> None:
    import socket
    import time
    import urllib.error
    import urllib.request

    store = tmp_path / "store"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_mltrack.cli",
            "--store",
            str(store),
            "server",
            "--port",
            str(port),
            "--ip",
            "127.0.0.1",
            "--IdentityProvider.token=secret",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/mltrack/api/info"
    try:
        info = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and info is None:
            request = urllib.request.Request(url, headers={"Authorization": "token secret"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    info = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.5)
        assert info is not None and info["store"] == str(store)
        assert json.loads((store / "server.json").read_text())["url"].endswith("/mltrack")
        try:
            urllib.request.urlopen(url, timeout=5)
            raise AssertionError("the API answered without a token")
        except urllib.error.HTTPError as exc:
            assert exc.code in (401, 403)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert not (store / "server.json").exists()


def test_server_command_refuses_a_bad_port(tmp_path: Path) -> None:
    done = _cli(tmp_path / "store", "server", "--port", "70000")
    assert done.returncode == 2 and "--port must be 1-65535" in done.stderr
