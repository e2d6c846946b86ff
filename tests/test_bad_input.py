"""Every public call refuses bad input with a clear MltrackError, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack import ErrorCode, Metric, MltrackClient, MltrackError, Param


def _snapshot(run_id: str) -> tuple:
    run = mlt.get_run(run_id)
    return (run.data.metrics, run.data.params, run.data.tags, run.info.status)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mlt.log_metric("m", "abc"), "must be a number"),
        (lambda: mlt.log_metric("m", None), "must be a number"),
        (lambda: mlt.log_metric("m", [1.0]), "must be a number"),
        (lambda: mlt.log_metric("m", True), "must be a number"),
        (lambda: mlt.log_metric("m", 1.0, step=1.5), "step must be an integer"),
        (lambda: mlt.log_metric("m", 1.0, step="3"), "step must be an integer"),
        (lambda: mlt.log_metric("m", 1.0, timestamp=-5), "must not be negative"),
        (lambda: mlt.log_metric("", 1.0), "must not be empty"),
        (lambda: mlt.log_metric("   ", 1.0), "must not be empty"),
        (lambda: mlt.log_metric("k" * 251, 1.0), "limit is 250"),
        (lambda: mlt.log_metric("bad'quote", 1.0), "characters a key cannot hold"),
        (lambda: mlt.log_metric("new\nline", 1.0), "characters a key cannot hold"),
        (lambda: mlt.log_metric("../up", 1.0), "'..'"),
        (lambda: mlt.log_metric("/abs", 1.0), "start with '/'"),
        (lambda: mlt.log_metric(3, 1.0), "must be a string"),
        (lambda: mlt.log_metric(["k"], 1.0), "must be a string"),
        (lambda: mlt.log_metrics({("a",): 1.0}), "must be a string"),
        (lambda: mlt.log_param("p", "x" * 6001), "limit is 6000"),
        (lambda: mlt.log_param("p:x", 1), "characters a key cannot hold"),
        (lambda: mlt.set_tag("t", "v" * 8001), "limit is 8000"),
        (lambda: mlt.log_params(["p", 1]), "takes a dict"),
        (lambda: mlt.log_metrics({"ok": 1.0, "bad": "x"}), "must be a number"),
        (lambda: mlt.log_metric_series("s", [[1, 2]]), "one-dimensional"),
        (lambda: mlt.log_metric_series("s", ["a"]), "must be numbers"),
        (lambda: mlt.log_metric_series("s", [1, 2], steps=[1]), "steps must be 2 integers"),
        (lambda: mlt.log_metric_series("s", [1.0], steps=[0.5]), "steps must be 1 integers"),
        (lambda: mlt.log_text(b"bytes", "a.txt"), "takes a str"),
        (lambda: mlt.log_text("x", "/etc/passwd"), "must be relative"),
        (lambda: mlt.log_text("x", "../../escape.txt"), "must not leave"),
        (lambda: mlt.log_text("x", "a/../../b.txt"), "must not leave"),
        (lambda: mlt.log_text("x", ""), "must not be empty"),
        (lambda: mlt.log_text("x", "C:/win.txt"), "must be relative"),
        (lambda: mlt.log_text("x", "a\\b.txt"), "backslashes"),
        (lambda: mlt.log_dict(["not", "a", "dict"], "d.json"), "takes a dict"),
        (lambda: mlt.log_dict({"x": object()}, "d.json"), "not JSON-serialisable"),
        (lambda: mlt.log_figure("not a figure", "f.png"), "matplotlib or plotly"),
        (lambda: mlt.log_image("nope", "i.png"), "PIL image or a numpy array"),
        (lambda: mlt.log_image(__import__("numpy").ones((2, 2)) * 3.0, "i.png"), "[0, 1]"),
        (lambda: mlt.log_image(__import__("numpy").ones((2, 2, 5)), "i.png"), "not an image"),
        (lambda: mlt.log_image(__import__("numpy").zeros((2, 2)), "i.xyz"), "image format"),
        (lambda: mlt.log_table([1, 2], "t.json"), "DataFrame or a dict"),
        (lambda: mlt.log_table({"a": [1]}, "t.xlsx"), ".json, .csv or .parquet"),
        (lambda: mlt.log_artifact("/no/such/file"), "not a file"),
        (lambda: mlt.log_artifacts("/no/such/dir"), "not a folder"),
        (lambda: mlt.log_input("not a dataset"), "Dataset"),
        (lambda: mlt.end_run("DONE"), "end status"),
    ],
)
def test_bad_logging_call_changes_nothing(store: Path, call, message: str) -> None:
    run = mlt.start_run()
    mlt.log_metric("base", 1.0)
    mlt.log_param("p", "1")
    mlt.set_tag("t", "v")
    before = _snapshot(run.info.run_id)
    with pytest.raises(MltrackError) as info:
        call()
    assert message in str(info.value)
    assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE
    assert _snapshot(run.info.run_id) == before
    assert [a.path for a in mlt.list_artifacts(run.info.run_id)] == []


def test_changing_a_param_is_refused(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_param("lr", 0.1)
        with pytest.raises(MltrackError, match="immutable"):
            mlt.log_param("lr", 0.2)
        with pytest.raises(MltrackError, match="immutable"):
            mlt.log_params({"other": 1, "lr": 0.3})
        # the batch was refused whole: "other" was not logged either
    assert mlt.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_changing_a_param_from_another_process_is_refused_by_the_store(store: Path) -> None:
    from jupyter_mltrack.store.batch import MetricRow, ParamRow, WriteBatch
    from jupyter_mltrack.store.duckdb.store import DuckDBStore

    with mlt.start_run() as run:
        mlt.log_param("lr", 0.1)
    mlt.flush()
    other = DuckDBStore(store)
    batch = WriteBatch(
        params=[ParamRow(run.info.run_id, "lr", "0.5", None)],
        metrics=[MetricRow(run.info.run_id, "m", 1.0, 0, 0, None)],
    )
    with pytest.raises(MltrackError, match="cannot change it"):
        other.write_batch(batch)
    # the flusher's mode drops the bad row, keeps the rest, and says so
    warnings = other.write_batch(batch, skip_invalid=True)
    assert any("lr" in w for w in warnings)
    other.close()
    got = mlt.get_run(run.info.run_id)
    assert got.data.params == {"lr": "0.1"} and got.data.metrics == {"m": 1.0}


def test_logging_to_finished_deleted_or_missing_runs(store: Path) -> None:
    client = MltrackClient(store)
    run = client.create_run("0")
    rid = run.info.run_id
    client.set_terminated(rid)
    with pytest.raises(MltrackError, match="is FINISHED") as info:
        client.log_metric(rid, "m", 1.0)
    assert info.value.code == ErrorCode.INVALID_STATE
    with pytest.raises(MltrackError, match="is FINISHED"):
        client.log_param(rid, "p", 1)
    with pytest.raises(MltrackError, match="is FINISHED"):
        client.log_text(rid, "x", "a.txt")
    client.delete_run(rid)
    with pytest.raises(MltrackError, match="deleted"):
        client.log_metric(rid, "m", 1.0)
    with pytest.raises(MltrackError, match="no run") as missing:
        client.log_metric("0" * 32, "m", 1.0)
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    with pytest.raises(MltrackError, match="no run"):
        client.get_run("nope")
    assert client.get_run(rid).data.metrics == {}


def test_bad_experiments_and_runs(store: Path) -> None:
    client = MltrackClient(store)
    with pytest.raises(MltrackError, match="no experiment"):
        mlt.get_experiment("999")
    with pytest.raises(MltrackError, match="must be a number"):
        mlt.get_experiment("abc")
    with pytest.raises(MltrackError, match="must not be empty"):
        mlt.set_experiment("  ")
    with pytest.raises(MltrackError, match="exactly one"):
        mlt.set_experiment()
    with pytest.raises(MltrackError, match="no experiment"):
        mlt.start_run(experiment_id="12345")
    with pytest.raises(MltrackError, match="control characters"):
        client.create_experiment("bad\nname")
    with pytest.raises(MltrackError, match="no run"):
        mlt.start_run(run_id="f" * 32)
    # a parent this store does not have (yet) is kept as given, as MLflow does
    child = client.create_run("0", parent_run_id="missing")
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == "missing"
    exp = client.create_experiment("gone")
    client.delete_experiment(exp)
    with pytest.raises(MltrackError, match="deleted"):
        mlt.set_experiment("gone")
    with pytest.raises(MltrackError, match="deleted"):
        client.create_run(exp)
    # nothing refused was written: the only run is the one with the absent parent
    assert mlt.search_runs(experiment_ids=["0"])["run_id"].tolist() == [child.info.run_id]


def test_bad_search_arguments(store: Path) -> None:
    from jupyter_mltrack.errors import InvalidFilterError

    with pytest.raises(InvalidFilterError, match="position"):
        mlt.search_runs(filter_string="metrics.acc >")
    with pytest.raises(MltrackError, match="max_results"):
        mlt.search_runs(max_results=0)
    with pytest.raises(MltrackError, match="view_type"):
        mlt.search_runs(run_view_type="SOME")
    with pytest.raises(MltrackError, match="output_format"):
        mlt.search_runs(output_format="csv")
    with pytest.raises(MltrackError, match="no experiment named"):
        mlt.search_runs(experiment_names=["missing"])
    with pytest.raises(MltrackError, match="must be a number"):
        mlt.search_runs(experiment_ids=["x"])


def test_log_batch_is_all_or_nothing(store: Path) -> None:
    client = MltrackClient(store)
    rid = client.create_run("0").info.run_id
    with pytest.raises(MltrackError, match="must be a number"):
        client.log_batch(
            rid, metrics=[Metric("ok", 1.0, 0, 0), Metric("bad", "x", 0, 0)], params=[Param("p", 1)]
        )
    assert client.get_run(rid).data.metrics == {} and client.get_run(rid).data.params == {}


def test_store_refuses_newer_schema(tmp_path: Path) -> None:
    import duckdb

    from jupyter_mltrack.store.duckdb.schema import SCHEMA_VERSION
    from jupyter_mltrack.store.duckdb.store import DuckDBStore

    store_dir = tmp_path / "future"
    DuckDBStore(store_dir).info()  # create it, then pretend a newer version wrote it
    DuckDBStore(store_dir).close()
    con = duckdb.connect(str(store_dir / "mltrack.duckdb"))
    con.execute("INSERT INTO schema_version VALUES (?, 0)", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(MltrackError, match="upgrade jupyter-mltrack"):
        DuckDBStore(store_dir).info()


def test_ids_are_checked_to_their_last_character() -> None:
    """A final newline or a non-ASCII digit must not slip through an id check ("$" matches
    before a final newline; str.isdigit takes other scripts' digits)."""
    from jupyter_mltrack.server import parsing
    from jupyter_mltrack.store import rules
    from jupyter_mltrack.store.batch import check_batch_id

    for bad in ("abc\n", "abc\n\n", "a/b", ""):
        with pytest.raises(MltrackError, match="run id"):
            rules.check_run_id(bad)
        with pytest.raises(MltrackError):
            parsing.new_run_id(bad)
    with pytest.raises(MltrackError, match="batch id"):
        check_batch_id("batch\n")
    for bad in ("\u0661", "\u00b2", "1\n2"):  # ARABIC-INDIC ONE, SUPERSCRIPT TWO
        with pytest.raises(MltrackError, match="digits"):
            parsing.experiment_id(bad)
    assert rules.check_run_id("abc_1-X") == "abc_1-X" and parsing.experiment_id(" 7 ") == "7"
