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

    get_session(store).store.close()  # type: ignore[attr-defined]

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
