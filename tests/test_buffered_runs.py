"""Run creation and ending travel in the buffer with everything else a run logs.

A run is made by the client (id, name, system tags) and reaches the store with the next flush,
in one transaction with its params and metrics; the store checks set-based what only it can see.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import jupyter_mltrack as mlt
from jupyter_mltrack import MltrackClient, MltrackError, Param
from jupyter_mltrack.errors import ErrorCode
from jupyter_mltrack.store.batch import ParamRow, WriteBatch
from jupyter_mltrack.store.duckdb import writes
from jupyter_mltrack.store.duckdb.store import DuckDBStore


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MltrackClient:
    """A client whose flusher never fires on its own: the test decides when data moves."""
    monkeypatch.setenv("MLTRACK_FLUSH_INTERVAL", "3600")
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    return MltrackClient(tmp_path / "store")


def _sweep(client: MltrackClient, experiment_id: str, runs: int) -> list[str]:
    ids = []
    for i in range(runs):
        run_id = client.create_run(experiment_id, run_name=f"trial-{i}").info.run_id
        client.log_batch(run_id, params=[Param("i", i), Param("lr", 0.1)])
        client.log_metric(run_id, "loss", 1.0 / (i + 1), step=0)
        client.set_terminated(run_id)
        ids.append(run_id)
    return ids


def test_a_run_reaches_the_store_with_the_next_flush_and_its_data(client: MltrackClient) -> None:
    exp = client.create_experiment("buffered")
    run = client.create_run(exp, run_name="first", tags={"team": "a"})
    client.log_metric(run.info.run_id, "loss", 0.5)
    raw = client.session.store
    with pytest.raises(MltrackError) as missing:
        raw.get_run(run.info.run_id)  # nothing has reached the store yet
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST

    client.flush()
    stored = raw.get_run(run.info.run_id)
    # the run as returned at creation is the run as stored
    assert stored.info == run.info
    assert stored.data.tags == run.data.tags
    assert stored.data.tags["team"] == "a" and stored.data.tags["mlflow.runName"] == "first"
    assert stored.data.metrics == {"loss": 0.5}


def test_reads_flush_first_and_a_run_ends_in_the_same_way(client: MltrackClient) -> None:
    exp = client.create_experiment("reads")
    run_id = client.create_run(exp).info.run_id
    client.set_terminated(run_id)
    got = client.get_run(run_id)  # a read in the same process sees every buffered write
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    with pytest.raises(MltrackError, match="FINISHED"):
        client.log_metric(run_id, "late", 1.0)  # ended is ended, before any flush too


def test_checks_that_need_no_store_happen_at_the_call(client: MltrackClient) -> None:
    exp = client.create_experiment("checked")
    with pytest.raises(MltrackError, match="no experiment"):
        client.create_run("987654")
    with pytest.raises(MltrackError, match="differ"):
        client.create_run(exp, run_name="a", tags={"mlflow.runName": "b"})
    with pytest.raises(MltrackError, match="control characters"):
        client.create_run(exp, run_name="bad\nname")
    client.delete_experiment(exp)
    with pytest.raises(MltrackError) as deleted:
        client.create_run(exp)
    assert deleted.value.code == ErrorCode.INVALID_STATE
    client.flush()
    assert client.search_runs([exp], max_results=10) == []  # nothing refused was buffered


def test_a_sweep_lands_whole_in_one_flush(client: MltrackClient) -> None:
    exp = client.create_experiment("sweep")
    ids = _sweep(client, exp, 300)
    client.flush()
    runs = {r.info.run_id: r for r in client.search_runs([exp], max_results=1000)}
    assert set(runs) == set(ids)
    for i, run_id in enumerate(ids):
        run = runs[run_id]
        assert run.info.status == "FINISHED" and run.info.run_name == f"trial-{i}"
        assert run.data.params == {"i": str(i), "lr": "0.1"}
        assert run.data.metrics == {"loss": 1.0 / (i + 1)}


class _CountingConnection:
    """A DuckDB connection that counts the statements run through it."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.statements = 0

    def execute(self, *args: Any) -> Any:
        self.statements += 1
        return self._con.execute(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _statements_to_write(client: MltrackClient, experiment_id: str, runs: int) -> int:
    _sweep(client, experiment_id, runs)
    batch: WriteBatch = client.session.buffer.drain()
    store = client.session.store
    assert isinstance(store, DuckDBStore)
    with store.connector.transaction() as con:
        counting = _CountingConnection(con)
        assert writes.apply(counting, batch, skip_invalid=False) == []
    return counting.statements


def test_a_flush_takes_the_same_statements_for_ten_runs_or_a_thousand(
    client: MltrackClient,
) -> None:
    exp = client.create_experiment("statements")
    few = _statements_to_write(client, exp, 10)
    many = _statements_to_write(client, exp, 1000)
    assert few == many
    assert len(client.search_runs([exp], max_results=2000)) == 1010


def test_a_conflict_only_the_store_sees_is_an_error_at_the_next_flush(
    client: MltrackClient,
) -> None:
    exp = client.create_experiment("conflict")
    run_id = client.create_run(exp).info.run_id
    client.flush()
    # another writer sets the param first (a second handle on the file, as another process)
    other = DuckDBStore(client.store_dir)
    other.write_batch(WriteBatch(params=[ParamRow(run_id, "lr", "0.1", None)]))
    other.close()
    client.log_param(run_id, "lr", 0.5)  # this process has not seen it: buffered
    client.log_metric(run_id, "kept", 1.0)
    with pytest.raises(MltrackError, match="lr"):
        client.flush()
    client.flush()  # said once; the rest was written
    run = client.get_run(run_id)
    assert run.data.params == {"lr": "0.1"} and run.data.metrics == {"kept": 1.0}


def test_an_experiment_deleted_elsewhere_drops_the_run_with_an_error_at_flush(
    client: MltrackClient,
) -> None:
    exp = client.create_experiment("deleted-elsewhere")
    client.create_run(exp)  # the session now knows the experiment as active
    client.flush()
    other = DuckDBStore(client.store_dir)
    other.delete_experiment(exp)
    other.close()
    doomed = client.create_run(exp).info.run_id  # accepted from the session's knowledge
    client.log_metric(doomed, "loss", 1.0)
    with pytest.raises(MltrackError, match="deleted"):
        client.flush()
    with pytest.raises(MltrackError) as missing:
        client.session.store.get_run(doomed)
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST


def test_a_batch_that_creates_a_taken_run_id_is_refused_whole(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    exp = store.create_experiment("taken")
    existing = store.create_run(exp, None, None, 1, {})
    rows, _ = store.new_run(store.get_experiment(exp), None, None, 2, {}, None, "fresh")
    again, _ = store.new_run(
        store.get_experiment(exp), None, None, 2, {}, None, existing.info.run_id
    )
    rows.extend(again)
    with pytest.raises(MltrackError) as taken:
        store.write_batch(rows)
    assert taken.value.code == ErrorCode.RESOURCE_ALREADY_EXISTS
    with pytest.raises(MltrackError):
        store.get_run("fresh")  # one transaction: the good run was not written either
    store.close()


ENDER = textwrap.dedent(
    """
    import sys, time
    import jupyter_mltrack as mlt
    mlt.set_experiment("killed")
    with mlt.start_run(run_name="ended") as run:
        mlt.log_param("p", 1)
        mlt.log_metric("loss", 0.25)
    print(run.info.run_id, flush=True)
    time.sleep(600)  # never flushes by hand; killed below
    """
)


def test_sigkill_after_a_flush_interval_loses_nothing(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    env = {**os.environ, "MLTRACK_STORE": str(store_dir), "MLTRACK_FLUSH_INTERVAL": "0.2"}
    env.pop("MLTRACK_SERVER_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", ENDER], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        time.sleep(1.0)  # several flush intervals
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    store = DuckDBStore(store_dir)
    run = store.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.end_time is not None
    assert run.data.params == {"p": "1"} and run.data.metrics == {"loss": 0.25}
    store.close()


def test_the_fluent_sweep_ends_every_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    mlt.set_store(tmp_path / "store")
    try:
        mlt.set_experiment("fluent")
        for i in range(50):
            with mlt.start_run():
                mlt.log_params({"i": i})
                mlt.log_metric("m", i)
        mlt.flush()
        df = mlt.search_runs()
        assert len(df) == 50 and set(df["status"]) == {"FINISHED"}
        assert sorted(df["params.i"].astype(int)) == list(range(50))
    finally:
        mlt.set_store(None)


def test_a_step_or_timestamp_past_64_bits_is_refused_at_the_call(client: MltrackClient) -> None:
    """Such a point used to be buffered and then fail the whole flush it travelled in (the run
    it was logged to, created in the same batch, never reached the store)."""
    exp = client.create_experiment("int64")
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "ok", 1.0, step=2**63 - 1)
    for bad in ({"step": 2**63}, {"step": -(2**63) - 1}, {"timestamp": 2**63}):
        with pytest.raises(MltrackError, match="64 bits"):
            client.log_metric(run_id, "x", 1.0, **bad)
    with pytest.raises(MltrackError, match="64 bits"):
        client.log_batch(run_id, metrics=[mlt.Metric("y", 1.0, 5, 2**64)])
    client.flush()
    assert client.get_run(run_id).data.metrics == {"ok": 1.0}
