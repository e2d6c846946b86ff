"""Runs end with the kernel: restart, shutdown, interrupt and SIGKILL, with a real kernel."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from jupyter_client import KernelManager

from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.tracking.client import MltrackClient

TIMEOUT = 120  # seconds; generous for a loaded 2-core machine


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def kernel(tmp_path, store):
    env = {
        **os.environ,
        "MLTRACK_STORE": str(store),
        "MLTRACK_FLUSH_INTERVAL": "0.2",
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        env.pop(name, None)
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    yield km, kc
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def execute(kc, code: str) -> tuple[str, str]:
    """Run code in the kernel; return the reply status and everything it printed."""
    printed: list[str] = []

    def collect(msg):
        content = msg["content"]
        if msg["msg_type"] == "stream":
            printed.append(content["text"])
        elif msg["msg_type"] == "error":
            printed.append(f"{content['ename']}: {content['evalue']}")

    reply = kc.execute_interactive(code, timeout=TIMEOUT, output_hook=collect)
    return reply["content"]["status"], "".join(printed)


def ok(kc, code: str) -> str:
    status, printed = execute(kc, code)
    assert status == "ok", printed
    return printed


def read_runs(store: Path) -> dict:
    """Every run by name, read with a store of this process's own (closed afterwards)."""
    raw = DuckDBStore(store)
    try:
        runs, _ = raw.search_runs(["0"], max_results=100)
        return {r.info.run_name: r for r in runs}
    finally:
        raw.close()


def wait_for_stream(kc, text: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        if msg["msg_type"] == "stream" and text in msg["content"]["text"]:
            return
    raise AssertionError(f"the kernel never printed {text!r}")


def test_restart_interrupt_and_shutdown_end_runs_as_killed(kernel, store):
    km, kc = kernel
    ok(kc, "%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt")
    ok(kc, "%mltrack start_run --name main")
    ok(kc, "for i in range(50):\n    mlt.log_metric('m', i, step=i)")
    # output capture with the kernel's real inline backend
    ok(kc, "%matplotlib inline\nimport matplotlib.pyplot as plt\n%mltrack capture outputs on")
    ok(kc, "plt.plot([1, 2, 3])\nplt.show()")

    # an interrupted %%mltrack run cell ends its run KILLED; the outer run goes on
    kc.execute("%%mltrack run inner --nested\nprint('started', flush=True)\nimport time\n"
               "time.sleep(600)")  # fmt: skip
    wait_for_stream(kc, "started")
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert "active run  main" in ok(kc, "%mltrack status")

    ok(kc, "mlt.log_metric('last', 1.0)")  # just before the restart: must not be lost
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=TIMEOUT)

    runs = read_runs(store)
    main, inner = runs["main"], runs["inner"]
    assert main.info.status == "KILLED"
    assert main.data.tags["mltrack.end_reason"] == "kernel restart"
    assert main.data.metrics == {"m": 49.0, "last": 1.0}
    assert inner.info.status == "KILLED" and inner.info.parent_run_id == main.info.run_id
    assert inner.data.tags["mltrack.end_reason"] == "interrupted"
    raw = DuckDBStore(store)
    try:
        assert len(raw.get_metric_history(main.info.run_id, "m")) == 50
        cells = raw.get_cells(main.info.run_id)
        interrupted = [c for c in cells if c.error_type == "KeyboardInterrupt"]
        assert len(interrupted) == 1 and interrupted[0].source.startswith("%%mltrack run inner")
        names = {a.path for a in raw.list_artifacts(main.info.run_id, "notebook")}
        assert names == {"notebook/snapshot.py", "notebook/snapshot.ipynb"}
        (figure,) = raw.list_artifacts(main.info.run_id, "outputs")
        assert figure.path.endswith(".png") and figure.cell_id is not None
    finally:
        raw.close()

    # the restarted kernel works, and a shutdown ends its run the same way
    ok(kc, "%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt")
    ok(kc, "%mltrack start_run --name after\n%mltrack metric x=3")
    kc.stop_channels()
    km.shutdown_kernel(now=False)
    after = read_runs(store)["after"]
    assert after.info.status == "KILLED"
    assert after.data.tags["mltrack.end_reason"] == "kernel shutdown"
    assert after.data.metrics == {"x": 3.0}


def test_a_killed_kernel_keeps_what_was_flushed_and_its_run_is_shown_killed(kernel, store):
    km, kc = kernel
    ok(kc, "%load_ext jupyter_mltrack\nimport jupyter_mltrack as mlt")
    ok(kc, "%mltrack start_run --name victim\nmlt.log_metric('early', 1.0)")
    pid = int(ok(kc, "import os\nprint(os.getpid())").strip())
    run_id = ok(kc, "print(mlt.active_run().info.run_id)").strip()

    # the background flusher writes 'early' within its interval, with no explicit flush
    def flushed() -> bool:
        victim = read_runs(store).get("victim")
        return victim is not None and "early" in victim.data.metrics

    deadline = time.monotonic() + TIMEOUT
    while not flushed() and time.monotonic() < deadline:
        time.sleep(0.05)
    ok(kc, "mlt.log_metric('late', 2.0)")  # may be lost: the last flush interval

    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT
    while km.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not km.is_alive()
    assert read_runs(store)["victim"].info.status == "RUNNING"  # nobody could end it

    client = MltrackClient(store)  # the next session on the store reaps it
    victim = client.get_run(run_id)
    assert victim.info.status == "KILLED"
    assert victim.data.tags["mltrack.end_reason"].startswith(f"process {pid} ")
    assert victim.data.metrics["early"] == 1.0
    assert victim.info.end_time is not None and victim.info.end_time >= victim.info.start_time


EXITING = """
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell

config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
for cell in (
    "%load_ext jupyter_mltrack",
    "%mltrack start_run --name exiting",
    "import jupyter_mltrack as mlt\\nfor i in range(1000):\\n    mlt.log_metric('m', i, step=i)",
    "print(mlt.active_run().info.run_id)",
):
    assert shell.run_cell(cell, store_history=True).success, cell
"""


def test_a_normal_exit_flushes_everything_and_ends_the_run_killed(tmp_path, store):
    env = {
        **os.environ,
        "MLTRACK_STORE": str(store),
        "MLTRACK_FLUSH_INTERVAL": "3600",  # no timed flush: only the exit path writes
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", EXITING],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    run_id = done.stdout.strip().splitlines()[-1]
    raw = DuckDBStore(store)
    try:
        run = raw.get_run(run_id)
        assert run.info.status == "KILLED"
        assert run.data.tags["mltrack.end_reason"] == "the kernel exited"
        assert len(raw.get_metric_history(run_id, "m")) == 1000
        assert len(raw.get_cells(run_id)) == 3
        assert {a.path for a in raw.list_artifacts(run_id, "notebook")} == {
            "notebook/snapshot.py",
            "notebook/snapshot.ipynb",
        }
    finally:
        raw.close()
