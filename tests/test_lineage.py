"""Run lineage (git, Python, libraries, owning process) and the reaper of dead processes' runs."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import MltrackError
from jupyter_mltrack.store.duckdb.liveness import reap_dead_runs
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.run_owner import host_id, process_alive, process_start_token
from jupyter_mltrack.tracking import lineage
from jupyter_mltrack.tracking.client import MltrackClient

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
        timeout=30,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit on branch ``main`` and an ``origin`` remote."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('train')\n")
    (root / "analysis.ipynb").write_text("{}\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    git(root, "remote", "add", "origin", "https://example.com/team/models.git")
    lineage.clear_cache()
    yield root
    lineage.clear_cache()


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "store"))
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLTRACK_GIT_LINEAGE", "1")
    return MltrackClient(tmp_path / "store")


def test_a_run_in_a_clean_repository_records_commit_branch_and_remote(repo, client, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "analysis.ipynb"))
    run = client.create_run(run_name="clean")
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["mlflow.source.git.commit"] == git(repo, "rev-parse", "HEAD")
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/team/models.git"
    assert tags["mltrack.git.dirty"] == "false"
    assert tags["mltrack.notebook"] == str(repo / "analysis.ipynb")
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert client.list_artifacts(run.info.run_id) == []  # no diff for a clean tree


def test_a_dirty_tree_stores_its_diff(repo, client, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "analysis.ipynb"))
    (repo / "untracked.txt").write_text("untracked files do not make a tree dirty")
    run = client.create_run()
    assert client.get_run(run.info.run_id).data.tags["mltrack.git.dirty"] == "false"
    (repo / "train.py").write_text("print('train harder')\n")
    lineage.clear_cache()  # answers are cached for a few seconds; a new edit waits that long
    run = client.create_run()
    assert client.get_run(run.info.run_id).data.tags["mltrack.git.dirty"] == "true"
    diff = Path(client.download_artifacts(run.info.run_id, "lineage/git.diff")).read_text()
    assert "-print('train')" in diff and "+print('train harder')" in diff
    # a commit changes HEAD and the index: the cache notices at once
    git(repo, "commit", "-q", "-am", "second")
    run = client.create_run()
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["mltrack.git.dirty"] == "false"
    assert tags["mlflow.source.git.commit"] == git(repo, "rev-parse", "HEAD")


def test_a_detached_head_has_no_branch(repo):
    git(repo, "checkout", "-q", "--detach")
    info = lineage.git_info(repo)
    assert info is not None and info.branch is None and len(info.commit) == 40


def test_outside_a_repository_or_without_git_a_run_still_starts(tmp_path, client, monkeypatch):
    outside = tmp_path / "plain"
    outside.mkdir()
    assert lineage.git_info(outside) is None
    monkeypatch.chdir(outside)
    monkeypatch.setenv("JPY_SESSION_NAME", str(outside / "nb.ipynb"))
    run = client.create_run()
    tags = client.get_run(run.info.run_id).data.tags
    assert not any(k.startswith(("mlflow.source.git", "mltrack.git")) for k in tags)
    lineage.clear_cache()
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    assert lineage.git_info(outside) is None
    assert client.create_run().info.status == "RUNNING"


def test_ignored_sources_and_the_switch_leave_git_out(repo, client, monkeypatch):
    (repo / ".gitignore").write_text(".venv/\n")
    tool = repo / ".venv" / "bin" / "tool.py"
    tool.parent.mkdir(parents=True)
    tool.write_text("pass\n")
    assert lineage.git_info(tool) is None  # a virtualenv's script is not the project's code
    assert lineage.git_info(repo / "train.py") is not None
    monkeypatch.setenv("JPY_SESSION_NAME", str(repo / "analysis.ipynb"))
    monkeypatch.setenv("MLTRACK_GIT_LINEAGE", "off")
    assert not lineage.git_enabled()
    run = client.create_run()
    tags = client.get_run(run.info.run_id).data.tags
    assert "mlflow.source.git.commit" not in tags and "mltrack.git.dirty" not in tags
    assert "mltrack.python.version" in tags  # the rest of the lineage is still there


def test_git_info_checks_its_argument():
    with pytest.raises(MltrackError, match="path must be a str or path"):
        lineage.git_info(42)  # type: ignore[arg-type]


def test_a_script_in_a_repository_records_it(repo, tmp_path):
    script = repo / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import jupyter_mltrack as mlt
            with mlt.start_run(run_name="scripted") as run:
                mlt.log_metric("m", 1.0)
            print(run.info.run_id)
            """
        )
    )
    env = {**os.environ, "MLTRACK_STORE": str(tmp_path / "store"), "MLTRACK_GIT_LINEAGE": "1"}
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,  # not the repository: the script's folder decides
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    run_id = done.stdout.strip().splitlines()[-1]
    tags = MltrackClient(tmp_path / "store").get_run(run_id).data.tags
    assert tags["mlflow.source.name"] == str(script)
    assert tags["mltrack.git.dirty"] == "true"  # the script itself was just rewritten
    assert tags["mlflow.source.git.commit"] == git(repo, "rev-parse", "HEAD")


def test_python_libraries_and_process_are_recorded(client):
    import numpy
    import pandas

    run = client.create_run()
    tags = client.get_run(run.info.run_id).data.tags
    assert tags["mltrack.python.version"] == platform.python_version()
    libraries = json.loads(tags["mltrack.libraries"])
    assert libraries["numpy"] == numpy.__version__
    assert libraries["pandas"] == pandas.__version__
    assert "torch" not in libraries or "torch" in sys.modules
    assert tags["mltrack.pid"] == str(os.getpid())
    assert tags["mltrack.host"] == socket.gethostname()
    if sys.platform.startswith("linux"):
        assert tags["mltrack.process.start"] == process_start_token(os.getpid())


# liveness --------------------------------------------------------------------------------------
ORPHAN = """
import os, sys
import jupyter_mltrack as mlt
run = mlt.start_run(run_name="orphan")
mlt.log_metric("loss", 0.5, step=1)
mlt.flush()
print(run.info.run_id, flush=True)
os._exit(0)  # as if killed: no atexit, the run is never ended
"""


def start_orphan(store: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", ORPHAN],
        env={**os.environ, "MLTRACK_STORE": str(store)},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip().splitlines()[-1]


def test_a_new_session_marks_runs_of_dead_processes_killed(tmp_path):
    store = tmp_path / "store"
    orphan = start_orphan(store)
    # starting a session on the store reaps the orphan
    client = MltrackClient(store)
    mine = client.create_run(run_name="alive")  # this process: still alive
    client.flush()
    raw = DuckDBStore(store)
    assert raw.get_run(orphan).info.status == "KILLED"
    got = raw.get_run(orphan)
    assert got.data.tags["mltrack.end_reason"].startswith("process ")
    assert got.info.end_time == mlt_metric_time(raw, orphan)  # last activity, not "now"
    assert got.data.metrics == {"loss": 0.5}  # what was flushed is kept
    assert raw.get_run(mine.info.run_id).info.status == "RUNNING"
    assert reap_dead_runs(raw) == []  # nothing left to do
    raw.close()


def mlt_metric_time(store: DuckDBStore, run_id: str) -> int:
    return int(store.get_metric_history(run_id, "loss").timestamps[-1])


def test_the_reaper_leaves_other_hosts_and_foreign_runs_alone(tmp_path):
    store = tmp_path / "store"
    raw = DuckDBStore(store)
    foreign = raw.create_run("0", "foreign", "u", 1, {"note": "no pid tag"})
    # the reaper goes by the host id (boot and pid namespace), which the tracking API writes
    host_id_tag = {"mltrack.host.id": host_id()}
    elsewhere = raw.create_run(
        "0",
        "remote",
        "u",
        1,
        {"mltrack.pid": "1", "mltrack.host": "another-host", "mltrack.host.id": "another-host"},
    )
    garbage = raw.create_run(
        "0",
        "garbage",
        "u",
        1,
        {"mltrack.pid": "abc", "mltrack.host": socket.gethostname(), **host_id_tag},
    )
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    dead_pid = exited.stdout.strip()
    dead = raw.create_run(
        "0",
        "dead",
        "u",
        1,
        {"mltrack.pid": dead_pid, "mltrack.host": socket.gethostname(), **host_id_tag},
    )
    assert reap_dead_runs(raw, host="another-host") == []  # pid 1 always lives
    assert raw.get_run(elsewhere.info.run_id).info.status == "RUNNING"
    assert reap_dead_runs(raw) == [dead.info.run_id]
    for run in (foreign, elsewhere, garbage):
        assert raw.get_run(run.info.run_id).info.status == "RUNNING"
    assert raw.get_run(dead.info.run_id).info.end_time == 1  # never logged: its start time
    with pytest.raises(MltrackError, match="host must be a non-empty string"):
        reap_dead_runs(raw, host=42)  # type: ignore[arg-type]
    raw.close()


def test_process_alive_tells_zombies_and_reused_pids_from_live_processes():
    me = os.getpid()
    assert process_alive(me)
    assert process_alive(os.getppid())
    assert not process_alive(0) and not process_alive(-5)
    with pytest.raises(MltrackError, match="pid must be an integer"):
        process_alive("123")  # type: ignore[arg-type]
    with pytest.raises(MltrackError, match="pid must be an integer"):
        process_start_token(True)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid, process_start_token(child.pid))
        if sys.platform.startswith("linux"):
            # the same pid held by a process started at another time is another process
            assert not process_alive(child.pid, "1")
        child.kill()
        # killed but not yet waited for: a zombie, which is as dead as can be
        deadline = time.monotonic() + 60
        while process_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not process_alive(child.pid)
        assert child.poll() is None or child.returncode is not None
    finally:
        child.kill()
        child.wait(timeout=60)
    assert not process_alive(child.pid)


def test_fluent_api_sees_reaped_runs(tmp_path, monkeypatch):
    store = tmp_path / "store"
    orphan = start_orphan(store)
    monkeypatch.setenv("MLTRACK_STORE", str(store))
    for name in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    mlt.set_store(store)
    try:
        assert mlt.get_run(orphan).info.status == "KILLED"
    finally:
        mlt.set_store(None)
