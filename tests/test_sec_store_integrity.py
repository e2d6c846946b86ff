"""Store integrity: objects keep their own files, replays write once, resumed runs stay alive.

Each test here failed before its fix:

- a run id may not be a folder name the store keeps (``models``); an experiment's artifact
  location may not lie over another's; ``gc`` removes only what belongs to the deleted run;
- every batch carries an id recorded with it, so a batch written again (a resend, a spool file
  replayed twice) stores its points once;
- resuming a run makes the resuming process its owner, and the reaper only judges runs whose
  host id (boot and pid namespace, not the hostname) is this host's;
- an unreadable spool file is put aside and replay goes on;
- restoring an experiment brings back only the runs deleted together with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from jupyter_mltrack.entities import RunStatus
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.store import run_owner
from jupyter_mltrack.store.batch import MetricRow, WriteBatch, new_batch_id
from jupyter_mltrack.store.contract import AbstractStore
from jupyter_mltrack.store.duckdb.liveness import reap_dead_runs
from jupyter_mltrack.store.duckdb.schema import SCHEMA_VERSION
from jupyter_mltrack.store.duckdb.store import DuckDBStore
from jupyter_mltrack.store.rest.store import RestStore
from jupyter_mltrack.tracking.buffer import LogBuffer, Spool
from jupyter_mltrack.tracking.client import MltrackClient

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import TrackingServer


def _path(uri: str) -> Path:
    return Path(url2pathname(urlparse(uri).path))


def _experiment(store: AbstractStore, **kwargs: Any) -> str:
    return store.create_experiment(f"integrity-{uuid.uuid4().hex[:12]}", **kwargs)


def _run(store: AbstractStore, experiment_id: str = "0", **kwargs: Any) -> str:
    return store.create_run(experiment_id, None, "u", 1, {}, **kwargs).info.run_id


def _batch(run_id: str, batch_id: str | None, points: int = 1) -> WriteBatch:
    return WriteBatch(
        metrics=[MetricRow(run_id, "loss", float(i), i, 1000 + i, None) for i in range(points)],
        batch_id=batch_id,
    )


def _dead_pid() -> int:
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(exited.stdout.strip())


# 3. objects keep their own files ---------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["models", "MODELS", "Models"])
def test_run_ids_that_name_store_folders_are_refused(store: AbstractStore, run_id: str) -> None:
    with pytest.raises(MltrackError, match="reserved") as caught:
        _run(store, run_id=run_id)
    assert caught.value.code == ErrorCode.INVALID_PARAMETER_VALUE


def test_artifact_locations_may_not_overlap(store: AbstractStore) -> None:
    base = f"loc-{uuid.uuid4().hex[:12]}"
    first = _experiment(store, artifact_location=f"{base}/a")
    run_id = _run(store, first)
    for clash in (
        f"{base}/a",  # the same folder
        f"{base}/a/inner",  # inside it
        base,  # around it
        f"{base}/a/{run_id}/artifacts/x",  # inside a run's folder
        f"{base}/a/models/m-1",  # inside the logged models' folder
        f"{base.upper()}/A",  # the same, on a case-insensitive file system
    ):
        with pytest.raises(MltrackError, match="overlaps") as caught:
            _experiment(store, artifact_location=clash)
        assert caught.value.code == ErrorCode.INVALID_PARAMETER_VALUE
    _experiment(store, artifact_location=f"{base}/b")  # a sibling is fine
    _experiment(store, artifact_location=f"{base}-a")  # so is a name that only starts alike


def test_a_default_location_taken_by_hand_is_not_shared(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    by_hand = store.create_experiment("by-hand", artifact_location="2")  # id 1, folder "2"
    second = store.create_experiment("second")  # id 2: its default folder "2" is taken
    assert store.get_experiment(by_hand).artifact_location == "2"
    assert store.get_experiment(second).artifact_location == "2-1"
    store.close()


def _legacy_run(store: DuckDBStore, run_id: str, artifact_path: str) -> None:
    """A run as an older version could make it, with any id (SQL: the API refuses it now)."""
    with store.connector.transaction() as con:
        con.execute(
            "INSERT INTO runs (run_id, experiment_id, run_name, status, start_time, "
            "lifecycle_stage, artifact_path) VALUES (?, 0, ?, 'FINISHED', 1, 'active', ?)",
            [run_id, run_id, artifact_path],
        )


def test_gc_of_a_run_over_the_models_folder_keeps_every_logged_model(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    model = store.create_logged_model("0", "net")
    model_file = _path(model.artifact_uri) / "model.pkl"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"weights")
    _legacy_run(store, "models", "0/models/artifacts")  # the folder over the models' folder
    store.save_artifact_bytes("models", "notes.txt", b"the run's own file")
    run_files = store.run_artifact_dir("models")
    assert model_file.parent.is_relative_to(run_files.parent)
    store.delete_run("models")
    result = store.gc()
    assert result["runs_removed"] == ["models"]
    assert model_file.read_bytes() == b"weights"  # the model's files stay
    assert not run_files.exists()  # the run's own files go
    store.close()


def test_gc_keeps_an_experiment_folder_inside_the_deleted_run(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    run_id = _run(store)
    store.save_artifact_bytes(run_id, "a.txt", b"a")
    with store.connector.transaction() as con:  # an older version let this location through
        con.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, creation_time, "
            "last_update_time) VALUES (7, 'inside', ?, 1, 1)",
            [f"0/{run_id}/nested"],
        )
    other = _run(store, "7")
    store.save_artifact_bytes(other, "b.txt", b"b")
    store.delete_run(run_id)
    store.gc()
    assert (store.run_artifact_dir(other) / "b.txt").read_bytes() == b"b"
    assert not (store.artifact_root / "0" / run_id / "artifacts").exists()
    store.close()


def test_gc_removes_the_deleted_runs_folder_and_nothing_else(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    doomed, kept = _run(store), _run(store)
    for run_id in (doomed, kept):
        store.save_artifact_bytes(run_id, "f.bin", b"12345")
    model = store.create_logged_model("0", "net", source_run_id=doomed)
    model_file = _path(model.artifact_uri) / "m"
    model_file.parent.mkdir(parents=True)
    model_file.write_bytes(b"m")
    store.delete_run(doomed)
    result = store.gc()
    assert result["runs_removed"] == [doomed] and result["bytes_freed"] == 5
    assert not (store.artifact_root / "0" / doomed).exists()
    assert (store.run_artifact_dir(kept) / "f.bin").exists() and model_file.exists()
    store.close()


# 5. a batch written again is stored once ----------------------------------------------------------


def test_the_same_batch_written_twice_stores_once(store: AbstractStore) -> None:
    run_id = _run(store)
    batch_id = new_batch_id()
    assert store.write_batch(_batch(run_id, batch_id, points=3)) == []
    assert store.write_batch(_batch(run_id, batch_id, points=3)) == []  # a resend: a no-op
    assert store.get_metric_history(run_id, "loss").steps.tolist() == [0, 1, 2]
    store.write_batch(_batch(run_id, new_batch_id(), points=1))  # another batch is written
    store.write_batch(_batch(run_id, None, points=1))  # and so is one without an id
    assert len(store.get_metric_history(run_id, "loss").steps) == 5


def test_a_refused_batch_leaves_its_id_unrecorded(store: AbstractStore) -> None:
    run_id = _run(store)
    batch_id = new_batch_id()
    bad = _batch(run_id, batch_id)
    bad.metrics.append(MetricRow("no-such-run", "loss", 1.0, 0, 1, None))
    with pytest.raises(MltrackError):
        store.write_batch(bad)
    store.write_batch(_batch(run_id, batch_id))  # the same id, now valid: written
    assert store.get_metric_history(run_id, "loss").steps.tolist() == [0]


@pytest.mark.parametrize("batch_id", ["", "a/b", "x" * 65, 42])
def test_bad_batch_ids_are_refused(store: AbstractStore, batch_id: Any) -> None:
    run_id = _run(store)
    with pytest.raises(MltrackError, match="batch id"):
        store.write_batch(_batch(run_id, batch_id))


def test_a_batch_posted_twice_to_the_server_stores_once(
    tmp_path: Path, tracking_server: TrackingServer
) -> None:
    client = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    run_id = _run(client)
    batch = {"batch_id": new_batch_id(), "metrics": [[run_id, "loss", 0.5, 1, 1000, None]]}
    for _ in range(2):
        answer = tracking_server.api("POST", "/batches", json=batch)
        assert answer.ok, answer.text
    assert client.get_metric_history(run_id, "loss").steps.tolist() == [1]
    bad = tracking_server.api("POST", "/batches", json={**batch, "batch_id": "../x"})
    assert bad.status_code == 400 and "batch id" in bad.text
    client.close()


def test_drained_batches_carry_an_id_through_the_spool(tmp_path: Path) -> None:
    buffer = LogBuffer()
    buffer.add_metric("r", "loss", 1.0, 0, 1, None)
    first = buffer.drain()
    buffer.add_metric("r", "loss", 2.0, 1, 2, None)
    second = buffer.drain()
    assert first.batch_id and second.batch_id and first.batch_id != second.batch_id
    path = Spool(tmp_path / "spool").put(first)
    assert WriteBatch.from_json(json.loads(path.read_text())).batch_id == first.batch_id


def test_a_replay_cut_between_write_and_unlink_stores_once(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    run_id = _run(store)
    buffer = LogBuffer()
    for step in range(10):
        buffer.add_metric(run_id, "loss", float(step), step, 1000 + step, None)
    batch = buffer.drain()
    spool = Spool(tmp_path / "store" / "spool")
    path = spool.put(batch)  # the batch was spooled...
    store.write_batch(WriteBatch.from_json(json.loads(path.read_text())), skip_invalid=True)
    # ...replayed, and the process died before unlinking the file: the next replay sees it again
    assert spool.replay(store) == 1
    assert spool.pending() == []
    assert store.get_metric_history(run_id, "loss").steps.tolist() == list(range(10))
    store.close()


def test_a_rest_client_resending_a_batch_stores_once(
    tmp_path: Path, tracking_server: TrackingServer
) -> None:
    client = RestStore(tmp_path / "client", tracking_server.url, tracking_server.token)
    run_id = _run(client)
    batch = _batch(run_id, new_batch_id(), points=2)
    client.write_batch(batch)
    client.write_batch(WriteBatch.from_json(batch.to_json()))  # the answer was lost: resent
    assert client.get_metric_history(run_id, "loss").steps.tolist() == [0, 1]
    client.close()


def test_gc_forgets_batch_ids_after_a_month(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    run_id = _run(store)
    old, recent = new_batch_id(), new_batch_id()
    store.write_batch(_batch(run_id, old))
    store.write_batch(_batch(run_id, recent))
    with store.connector.transaction() as con:
        con.execute("UPDATE write_batches SET applied_time = 0 WHERE batch_id = ?", [old])
    assert store.gc()["rows_removed"] == 1
    store.write_batch(_batch(run_id, recent))  # still known: a no-op
    store.write_batch(_batch(run_id, old))  # forgotten: written again
    assert len(store.get_metric_history(run_id, "loss").steps) == 3
    store.close()


def test_an_older_store_migrates_forward(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    run_id = _run(store)
    with store.connector.transaction() as con:  # back to schema 2, as an older version left it
        con.execute("DROP TABLE write_batches")
        con.execute("ALTER TABLE experiments DROP COLUMN deleted_time")
        con.execute("DELETE FROM schema_version WHERE version > 2")
    store.close()
    store = DuckDBStore(tmp_path / "store")
    assert store.info()["schema_version"] == SCHEMA_VERSION
    batch_id = new_batch_id()
    store.write_batch(_batch(run_id, batch_id))
    store.write_batch(_batch(run_id, batch_id))
    assert store.get_metric_history(run_id, "loss").steps.tolist() == [0]
    store.close()


# 6. resumed runs belong to the resuming process -----------------------------------------------


def test_resuming_a_run_takes_it_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLTRACK_FLUSH_INTERVAL", "3600")
    store_dir = tmp_path / "store"
    raw = DuckDBStore(store_dir)
    dead = str(_dead_pid())
    owner = {**run_owner.owner_tags(), run_owner.PID_TAG: dead}
    owner.pop(run_owner.PROCESS_START_TAG, None)
    run_id = raw.create_run("0", "old", "u", 1, owner).info.run_id
    raw.update_run(run_id, status=RunStatus.FAILED)
    raw.close()
    client = MltrackClient(store_dir)
    client.resume_run(run_id)  # a new process picks the run up
    tags = client.get_run(run_id).data.tags
    assert tags[run_owner.PID_TAG] == str(os.getpid())
    assert tags[run_owner.HOST_ID_TAG] == run_owner.host_id()
    store = client._session.store
    assert isinstance(store, DuckDBStore)
    assert reap_dead_runs(store) == []  # the live resumed run is not reaped
    assert client.get_run(run_id).info.status == RunStatus.RUNNING
    client.set_terminated(run_id)
    client.flush()


def test_the_reaper_goes_by_host_id_not_hostname(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    dead = str(_dead_pid())
    here = {run_owner.PID_TAG: dead, run_owner.HOST_TAG: "same-name"}
    twin = store.create_run(
        "0", "twin", "u", 1, {**here, run_owner.HOST_ID_TAG: "another-container"}
    )
    legacy = store.create_run("0", "legacy", "u", 1, here)  # no host id: unknown, left alone
    mine = store.create_run("0", "mine", "u", 1, {**here, **{
        run_owner.HOST_ID_TAG: run_owner.host_id()}})  # fmt: skip
    assert reap_dead_runs(store) == [mine.info.run_id]
    for run in (twin, legacy):
        assert store.get_run(run.info.run_id).info.status == RunStatus.RUNNING
    store.close()


def test_host_id_names_the_pid_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    run_owner.host_id.cache_clear()
    here = run_owner.host_id()
    assert here == run_owner.host_id() and len(here) == 32
    monkeypatch.setattr(run_owner.os, "readlink", lambda path: "pid:[1]")
    run_owner.host_id.cache_clear()
    try:
        assert run_owner.host_id() != here  # same hostname and boot, another pid namespace
    finally:
        monkeypatch.undo()
        run_owner.host_id.cache_clear()
    assert run_owner.host_id() == here


# low: an unreadable spool file; restoring an experiment ---------------------------------------


def _spool_garbage_and_a_batch(spool_dir: Path, run_id: str) -> WriteBatch:
    spool_dir.mkdir(parents=True, exist_ok=True)
    (spool_dir / "00000000000000000001-1-1.json").write_text("{cut sh")
    (spool_dir / "00000000000000000002-1-1.json").write_text('{"metrics": 7}')
    batch = _batch(run_id, new_batch_id(), points=2)
    Spool(spool_dir).put(batch)
    return batch


def test_an_unreadable_spool_file_is_put_aside(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "store")
    run_id = _run(store)
    spool_dir = tmp_path / "store" / "spool"
    _spool_garbage_and_a_batch(spool_dir, run_id)
    spool = Spool(spool_dir)
    assert spool.replay(store) == 1
    assert spool.pending() == []
    assert sorted(p.name for p in (spool_dir / "failed").iterdir()) == [
        "00000000000000000001-1-1.json",
        "00000000000000000002-1-1.json",
    ]
    assert store.get_metric_history(run_id, "loss").steps.tolist() == [0, 1]
    store.close()


def test_the_server_replays_past_an_unreadable_spool_file_and_reaps(
    tmp_path: Path, tracking_server_factory: Callable[..., TrackingServer]
) -> None:
    store_dir = tmp_path / "store"
    raw = DuckDBStore(store_dir)
    run_id = _run(raw)
    dead = raw.create_run(
        "0", "dead", "u", 1, {**run_owner.owner_tags(), run_owner.PID_TAG: str(_dead_pid())}
    ).info.run_id
    raw.close()
    _spool_garbage_and_a_batch(store_dir / "spool", run_id)
    server = tracking_server_factory(store_dir=store_dir)
    client = RestStore(tmp_path / "client", server.url, server.token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if client.get_run(dead).info.status == RunStatus.KILLED and not list(
            (store_dir / "spool").glob("*.json")
        ):
            break
        time.sleep(0.2)
    assert client.get_metric_history(run_id, "loss").steps.tolist() == [0, 1]
    assert client.get_run(dead).info.status == RunStatus.KILLED
    assert len(list((store_dir / "spool" / "failed").iterdir())) == 2
    client.close()


def test_restoring_an_experiment_keeps_runs_deleted_before_it(store: AbstractStore) -> None:
    exp = _experiment(store)
    alone, together = _run(store, exp), _run(store, exp)
    store.delete_run(alone)
    store.delete_experiment(exp)
    assert store.get_run(together).info.lifecycle_stage == "deleted"
    store.delete_experiment(exp)  # twice: still one deletion
    store.restore_experiment(exp)
    assert store.get_run(together).info.lifecycle_stage == "active"
    assert store.get_run(alone).info.lifecycle_stage == "deleted"
