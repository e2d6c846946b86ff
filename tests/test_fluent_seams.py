"""The public seams the kernel side (magics, widgets, models, CLI) reaches the tracking core by:
``fluent.run_stack()``, ``current_experiment_id()``, ``existing_client()``, ``end_all_runs()``,
and ``MltrackClient.store`` / ``.session``. Pinned here, partly in a real IPython shell."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack.entities import RunStatus
from jupyter_mltrack.magics import loaded
from jupyter_mltrack.magics.testing import reset, run, test_shell
from jupyter_mltrack.tracking import fluent
from jupyter_mltrack.tracking.client import MltrackClient
from jupyter_mltrack.tracking.session import get_session


# fluent seams --------------------------------------------------------------------------------
def test_run_stack_is_a_copy_outermost_first(store: Path) -> None:
    assert fluent.run_stack() == []
    outer = mlt.start_run(run_name="outer")
    inner = mlt.start_run(run_name="inner", nested=True)
    stack = fluent.run_stack()
    assert [r.info.run_id for r in stack] == [outer.info.run_id, inner.info.run_id]
    assert all(isinstance(r, fluent.ActiveRun) for r in stack)
    stack.clear()  # changing the copy changes nothing
    assert mlt.active_run() is not None
    assert mlt.active_run().info.run_id == inner.info.run_id
    mlt.end_run()
    assert [r.info.run_id for r in fluent.run_stack()] == [outer.info.run_id]


def test_current_experiment_id_follows_set_experiment_then_the_environment(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fluent.current_experiment_id() == "0"
    monkeypatch.setenv("MLTRACK_EXPERIMENT_NAME", "from-env")
    by_name = fluent.current_experiment_id()
    assert mlt.get_experiment(by_name).name == "from-env"  # created on first use
    monkeypatch.setenv("MLTRACK_EXPERIMENT_ID", "42")
    assert fluent.current_experiment_id() == by_name  # set_experiment (by the env name) won
    chosen = mlt.set_experiment("chosen")
    assert fluent.current_experiment_id() == chosen.experiment_id
    run_ = mlt.start_run()
    assert run_.info.experiment_id == chosen.experiment_id
    mlt.end_run()


def test_existing_client_opens_no_store(tmp_path: Path) -> None:
    mlt.set_store(tmp_path / "lazy")
    try:
        assert fluent.existing_client() is None
        assert not (tmp_path / "lazy").exists()  # asking opened nothing
        mlt.log_metric("m", 1.0)
        found = fluent.existing_client()
        assert found is fluent.client()
        mlt.end_run()
    finally:
        mlt.set_store(None)


def test_end_all_runs_ends_innermost_first_with_the_reason(store: Path) -> None:
    assert fluent.end_all_runs(RunStatus.KILLED, "nothing to end") == []
    outer = mlt.start_run(run_name="outer").info.run_id
    middle = mlt.start_run(run_name="middle", nested=True).info.run_id
    inner = mlt.start_run(run_name="inner", nested=True).info.run_id
    assert fluent.end_all_runs(RunStatus.KILLED, "kernel restart") == [inner, middle, outer]
    assert fluent.run_stack() == []
    for run_id in (outer, middle, inner):
        got = mlt.get_run(run_id)
        assert got.info.status == RunStatus.KILLED
        assert got.data.tags["mltrack.end_reason"] == "kernel restart"
        assert got.info.end_time is not None


def test_end_all_runs_still_ends_the_others_when_one_was_deleted(
    store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outer = mlt.start_run(run_name="outer").info.run_id
    gone = mlt.start_run(run_name="gone", nested=True).info.run_id
    mlt.delete_run(gone)
    with caplog.at_level(logging.WARNING, logger="jupyter_mltrack"):
        ended = fluent.end_all_runs(RunStatus.FAILED, "shutdown")
    assert ended == [gone, outer]
    assert fluent.run_stack() == []
    assert any(gone in r.getMessage() for r in caplog.records)
    got = mlt.get_run(outer)
    assert got.info.status == RunStatus.FAILED
    assert got.data.tags["mltrack.end_reason"] == "shutdown"
    assert "mltrack.end_reason" not in mlt.get_run(gone).data.tags


def test_end_all_runs_rejects_a_status_that_does_not_end_a_run(store: Path) -> None:
    run_id = mlt.start_run().info.run_id
    with pytest.raises(mlt.MltrackError, match="end status"):
        fluent.end_all_runs(RunStatus.RUNNING, "why")
    assert [r.info.run_id for r in fluent.run_stack()] == [run_id]  # checked before anything
    assert "mltrack.end_reason" not in mlt.get_run(run_id).data.tags


# client seams --------------------------------------------------------------------------------
def test_client_store_flushes_before_returning_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLTRACK_FLUSH_INTERVAL", "3600")  # no background flush during the test
    client = MltrackClient(tmp_path / "store")
    assert client.session is get_session(tmp_path / "store")  # one session per store
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "loss", 0.5, step=3)
    with pytest.raises(mlt.MltrackError, match="no run"):  # the run itself is still buffered
        client.session.store.get_metric_history(run_id, "loss")
    history = client.store.get_metric_history(run_id, "loss")
    assert history.values.tolist() == [0.5] and history.steps.tolist() == [3]
    client.set_terminated(run_id)
    client.session.flush()


# in a real IPython shell ---------------------------------------------------------------------
@pytest.fixture
def ip(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "store"))
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("MLTRACK_EXPERIMENT_ID", "MLTRACK_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    shell = test_shell(tmp_path_factory.getbasetemp() / "ipython")
    reset(shell, tmp_path / "store")
    yield shell
    reset(shell, None)


def test_magics_read_the_stack_and_experiment_through_the_seams(ip, capsys):
    assert run(ip, "%mltrack experiment").success
    assert "(id 0)" in capsys.readouterr().out
    assert run(ip, "import jupyter_mltrack as mlt\nexp = mlt.set_experiment('seams')").success
    assert run(ip, "%mltrack start_run --name outer").success
    assert run(ip, "%mltrack start_run --name inner --nested").success
    assert [r.info.run_name for r in fluent.run_stack()] == ["outer", "inner"]
    capsys.readouterr()
    assert run(ip, "%mltrack status").success
    out = capsys.readouterr().out
    assert f"experiment  'seams' (id {fluent.current_experiment_id()})" in out
    assert "nesting     outer > inner" in out


def test_the_kernel_going_away_ends_every_run_innermost_first(ip, caplog):
    assert run(ip, "%mltrack start_run --name outer").success
    source = "import jupyter_mltrack as mlt\nmlt.start_run(run_name='doomed', nested=True)"
    assert run(ip, source).success
    assert run(ip, "mlt.start_run(run_name='inner', nested=True)").success
    outer, doomed, inner = (r.info.run_id for r in fluent.run_stack())
    assert run(ip, f"mlt.delete_run({doomed!r})").success  # deleted while active
    ext = loaded(ip)
    assert ext is not None
    with caplog.at_level(logging.WARNING, logger="jupyter_mltrack"):
        ended = ext.end_all("kernel restart")
    assert ended[:3] == [inner, doomed, outer]
    assert fluent.run_stack() == []
    assert any(doomed in r.getMessage() for r in caplog.records)
    for run_id in (outer, inner):
        got = mlt.get_run(run_id)
        assert got.info.status == RunStatus.KILLED
        assert got.data.tags["mltrack.end_reason"] == "kernel restart"
        assert mlt.get_cells(run_id)  # the recorder took its cells and snapshot too
