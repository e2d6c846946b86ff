"""Several processes logging to one embedded store at once: every point arrives."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

WRITER = textwrap.dedent(
    """
    import sys, time
    import jupyter_mltrack as mlt
    worker, points = int(sys.argv[1]), int(sys.argv[2])
    mlt.set_experiment("shared")  # every worker races to create the same experiment
    with mlt.start_run(run_name=f"worker-{worker}") as run:
        mlt.log_param("worker", worker)
        for step in range(points):
            mlt.log_metric("loss", 1.0 / (step + 1), step=step)
            mlt.log_metric("worker_id", worker, step=step)
            if step % 500 == 0:
                time.sleep(0.01)  # spread the writes so flushes interleave across processes
        mlt.log_text(f"worker {worker}", "who.txt")
    print(run.info.run_id)
    """
)


def test_four_processes_log_at_once_without_losing_a_point(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    env = {**os.environ, "MLTRACK_STORE": str(store_dir), "MLTRACK_FLUSH_INTERVAL": "0.05"}
    env.pop("MLTRACK_SERVER_URL", None)
    points = 5_000
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(worker), str(points)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(4)
    ]
    run_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        run_ids.append(out.strip().splitlines()[-1])
    assert len(set(run_ids)) == 4

    con = duckdb.connect(str(store_dir / "mltrack.duckdb"), read_only=True)
    try:
        (experiments,) = con.execute(
            "SELECT count(*) FROM experiments WHERE name = 'shared'"
        ).fetchone()
        assert experiments == 1
        for worker, run_id in enumerate(run_ids):
            counts = dict(
                con.execute(
                    "SELECT key, count(DISTINCT step) FROM metrics WHERE run_id = ? GROUP BY key",
                    [run_id],
                ).fetchall()
            )
            assert counts == {"loss": points, "worker_id": points}
            (total,) = con.execute(
                "SELECT count(*) FROM metrics WHERE run_id = ?", [run_id]
            ).fetchone()
            assert total == 2 * points  # and no point twice
            status, param = con.execute(
                "SELECT r.status, p.value FROM runs r JOIN params p USING (run_id) "
                "WHERE run_id = ?",
                [run_id],
            ).fetchone()
            assert (status, param) == ("FINISHED", str(worker))
            assert con.execute(
                "SELECT count(*) FROM artifacts WHERE run_id = ? AND path = 'who.txt'", [run_id]
            ).fetchone() == (1,)
    finally:
        con.close()


def test_normal_exit_without_flush_or_end_run_loses_nothing(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    script = textwrap.dedent(
        """
        import jupyter_mltrack as mlt
        run = mlt.start_run()
        for step in range(20_000):
            mlt.log_metric("m", step, step=step)
        print(run.info.run_id)
        # no end_run, no flush: the exit handler must write it all
        """
    )
    env = {**os.environ, "MLTRACK_STORE": str(store_dir), "MLTRACK_FLUSH_INTERVAL": "60"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    con = duckdb.connect(str(store_dir / "mltrack.duckdb"), read_only=True)
    try:
        assert con.execute(
            "SELECT count(*), max(step) FROM metrics WHERE run_id = ?", [run_id]
        ).fetchone() == (20_000, 19_999)
    finally:
        con.close()


HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.readline()  # hold the file until the test says so
    con.close()
    """
)


def test_batches_spool_while_the_store_is_locked_and_replay_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_mltrack.tracking.client import MltrackClient

    store_dir = tmp_path / "store"
    monkeypatch.setenv("MLTRACK_LOCK_TIMEOUT", "0.5")
    monkeypatch.setenv("MLTRACK_FLUSH_INTERVAL", "3600")  # only explicit flushes here
    client = MltrackClient(store_dir)
    run_id = client.create_run("0").info.run_id
    client.flush()
    client._session.store.close()  # type: ignore[attr-defined]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(store_dir / "mltrack.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        for step in range(1000):
            client.log_metric(run_id, "m", float(step), step=step)
        client.flush()  # the store is locked: this must spool, not lose or raise
        spooled = list((store_dir / "spool").glob("*.json"))
        assert spooled, "the locked store should have sent the batch to the spool"
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    client.flush()  # the store is free again: the spool is replayed
    assert list((store_dir / "spool").glob("*.json")) == []
    history = client.get_metric_history(run_id, "m")
    assert history.steps.tolist() == list(range(1000))
