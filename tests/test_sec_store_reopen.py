"""A DuckDB database invalidated by a fatal error is closed and reopened, not kept broken.

The fatal error is a real one: the store lives on a small tmpfs, a filler file leaves room for
DuckDB's write-ahead log to reach its automatic checkpoint size (16 MiB) but not for the
checkpoint that follows, and DuckDB raises ``FatalException`` ("Failed to create checkpoint …
No space left on device") and invalidates the database. The failing call must answer
STORE_UNAVAILABLE, the next one must work on a reopened file, and the failed batch must be
whole or absent, then stored once when sent again with its id: in the store itself and
through a real tracking server.

Mounting needs root (CI runs as root); elsewhere the tests are skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import TrackingServer, start_tracking_server

from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.store.batch import MetricSeriesRow, ParamRow, WriteBatch
from jupyter_mltrack.store.duckdb.store import DuckDBStore

DISK_BYTES = 64 * 1024**2
#: room left for the store: more than the WAL reaches before DuckDB checkpoints (16 MiB), less
#: than that WAL and the checkpoint's new blocks need together
FREE_BYTES = 24 * 1024**2
PARAMS_PER_BATCH = 100
MAX_BATCHES = 150  # about 32 fill the WAL to its checkpoint size


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, mounted for the test."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill the disk under DuckDB needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(disk)], check=True)


def _fill(disk: Path) -> Path:
    """Leave :data:`FREE_BYTES` free on ``disk``; the filler file is returned."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        fh.truncate(0)
        size = shutil.disk_usage(disk).free - FREE_BYTES
        chunk = b"\0" * 1024**2
        while size > 0:
            fh.write(chunk[: min(len(chunk), size)])
            size -= len(chunk)
    return filler


def _batch(run_id: str, n: int) -> WriteBatch:
    """Params that compress poorly (so the checkpoint needs room) and one metric point, whose
    step tells a batch stored twice from one stored once."""
    params = [
        ParamRow(run_id, f"p{n}_{i}", secrets.token_urlsafe(3750), None)
        for i in range(PARAMS_PER_BATCH)
    ]
    point = MetricSeriesRow(
        run_id, "progress", None, np.array([float(n)]), np.array([n]), np.array([1000 + n])
    )
    return WriteBatch(params=params, metric_series=[point], batch_id=uuid.uuid4().hex)


def _check_whole_or_absent(
    params: dict[str, str], steps: list[int], batches: list[WriteBatch], failed: int
) -> None:
    """Every batch before ``failed`` stored once; ``failed`` itself whole or not at all."""
    for n, batch in enumerate(batches):
        stored = [params.get(row.key) == row.value for row in batch.params]
        if n < failed:
            assert all(stored), f"batch {n} lost rows"
        else:
            assert all(stored) or not any(stored), "the failed batch was half-written"
            assert (n in steps) == all(stored), "the failed batch was half-written"
    assert sorted(set(steps)) == sorted(steps), "a batch was stored twice"


def test_the_store_reopens_after_duckdb_invalidates_it(small_disk: Path) -> None:
    import duckdb

    store = DuckDBStore(small_disk / "store", linger=None)  # held open, as the server holds it
    try:
        experiment_id = store.create_experiment("fill")
        run_id = store.create_run(experiment_id, None, "t", 1, {}).info.run_id
        filler = _fill(small_disk)
        batches: list[WriteBatch] = []
        failure: MltrackError | None = None
        for n in range(MAX_BATCHES):
            batches.append(_batch(run_id, n))
            try:
                store.write_batch(batches[-1])
            except MltrackError as exc:
                failure = exc
                break
        assert failure is not None, "the disk never filled"
        assert failure.code == ErrorCode.STORE_UNAVAILABLE, failure
        assert "failed and was closed" in failure.message
        assert isinstance(failure.__cause__, duckdb.FatalException), repr(failure.__cause__)
        failed = len(batches) - 1

        # the next call reopens the file (the disk still full): what was saved is there
        run = store.get_run(run_id)
        history = store.get_metric_history(run_id, "progress")
        _check_whole_or_absent(run.data.params, history.steps.tolist(), batches, failed)

        # with room again, the failed batch sent again is stored, once
        filler.unlink()
        store.write_batch(batches[failed])
        store.write_batch(_batch(run_id, failed + 1))
        history = store.get_metric_history(run_id, "progress")
        assert sorted(history.steps.tolist()) == list(range(failed + 2))
        assert len(store.get_run(run_id).data.params) == PARAMS_PER_BATCH * (failed + 2)
    finally:
        store.close()
    # and the file is sound for the next process
    reopened = DuckDBStore(small_disk / "store")
    try:
        assert len(reopened.get_metric_history(run_id, "progress").steps) == failed + 2
    finally:
        reopened.close()


def _batch_json(batch: WriteBatch) -> dict[str, Any]:
    series = batch.metric_series[0]
    step = int(series.steps[0])
    return {
        "params": [[r.run_id, r.key, r.value, None] for r in batch.params],
        "metrics": [[series.run_id, series.key, float(step), step, 1000 + step, None]],
        "batch_id": batch.batch_id,
    }


def test_the_server_answers_503_then_recovers_without_a_restart(
    small_disk: Path, tmp_path: Path
) -> None:
    server = start_tracking_server(small_disk / "store", tmp_path / "server")
    try:
        post = server.api
        experiment = post("POST", "/experiments", json={"name": "fill"}).json()["experiment"]
        run = post("POST", "/runs", json={"experiment_id": experiment["experiment_id"]})
        run_id = run.json()["run"]["info"]["run_id"]
        filler = _fill(small_disk)
        batches: list[WriteBatch] = []
        answer = None
        for n in range(MAX_BATCHES):
            batches.append(_batch(run_id, n))
            answer = post("POST", "/batches", json=_batch_json(batches[-1]))
            if answer.status_code != 200:
                break
        assert answer is not None and answer.status_code == 503, answer and answer.text
        error = answer.json()
        assert set(error) == {"error_code", "message"}, error
        assert error["error_code"] == "STORE_UNAVAILABLE", error
        assert "failed and was closed" in error["message"], error
        assert "FATAL" in error["message"], error  # DuckDB invalidated the database
        failed = len(batches) - 1

        # the next request is answered by a reopened store, without a restart
        got = post("GET", f"/runs/{run_id}")
        assert got.status_code == 200, got.text
        params = got.json()["run"]["data"]["params"]
        steps = _steps(server, run_id)
        _check_whole_or_absent(params, steps, batches, failed)

        filler.unlink()
        for batch in (batches[failed], _batch(run_id, failed + 1)):
            sent = post("POST", "/batches", json=_batch_json(batch))
            assert sent.status_code == 200, sent.text
        assert sorted(_steps(server, run_id)) == list(range(failed + 2))
        assert not server.server_errors(), server.log()[-4000:]
    finally:
        server.stop()


def _steps(server: TrackingServer, run_id: str) -> list[int]:
    answer = server.api("GET", f"/runs/{run_id}/metric-history", params={"key": "progress"})
    assert answer.status_code == 200, answer.text
    return [int(step) for step in answer.json()["step"]]
