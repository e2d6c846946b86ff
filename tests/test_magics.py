"""Every ``%mltrack`` subcommand, driven in a real IPython shell, with good and bad arguments."""

from __future__ import annotations

import types

import pytest
from IPython.core.error import UsageError

import jupyter_mltrack as mlt
from jupyter_mltrack.magics import loaded
from jupyter_mltrack.magics.testing import reset, run, test_shell

SUBCOMMANDS = [
    "start_run", "end_run", "status", "experiment", "params", "param", "metric", "tag",
    "artifact", "runs", "compare", "artifacts", "register", "cells", "capture", "run", "help",
]  # fmt: skip


@pytest.fixture
def ip(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "store"))
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    shell = test_shell(tmp_path_factory.getbasetemp() / "ipython")
    reset(shell, tmp_path / "store")
    yield shell
    reset(shell, None)


def usage_error(result) -> str:
    """The UsageError a cell raised (asserting it did)."""
    assert isinstance(result.error_in_exec, UsageError), result.error_in_exec
    return str(result.error_in_exec)


def active_id() -> str:
    run = mlt.active_run()
    assert run is not None
    return run.info.run_id


# help and dispatch ---------------------------------------------------------------------------
def test_bare_magic_and_help_list_every_subcommand(ip, capsys):
    assert run(ip, "%mltrack").success
    shown = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f" {name} " in shown or f"%mltrack {name}" in shown
    assert "%%mltrack run" in shown
    assert run(ip, "%mltrack help").success
    assert capsys.readouterr().out == shown


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(ip, capsys, name):
    source = f"%%mltrack {name} --help\npass" if name == "run" else f"%mltrack {name} --help"
    result = run(ip, source)
    assert result.success
    out = capsys.readouterr().out
    assert out.startswith("usage: %")
    assert name in out.splitlines()[0]
    assert mlt.active_run() is None  # --help did nothing else (no run started for 'run')
    if name != "run":
        assert run(ip, f"%mltrack help {name}").success
        assert capsys.readouterr().out == out


def test_unknown_subcommand_suggests_the_nearest(ip, capsys):
    message = usage_error(run(ip, "%mltrack strat_run"))
    assert "unknown subcommand 'strat_run'" in message
    assert "did you mean 'start_run'" in message
    err = capsys.readouterr().err
    assert "UsageError" in err and "Traceback" not in err
    assert "did you mean 'metric'" in usage_error(run(ip, "%mltrack metrics a=1"))
    assert "did you mean" not in usage_error(run(ip, "%mltrack zzzzzz"))
    assert "did you mean 'compare'" in usage_error(run(ip, "%mltrack help compar"))


def test_unbalanced_quotes_and_unknown_options_are_usage_errors(ip):
    assert "cannot parse" in usage_error(run(ip, "%mltrack start_run --name 'oops"))
    assert "unrecognized arguments: --bogus" in usage_error(run(ip, "%mltrack start_run --bogus"))
    # options are not abbreviated: --nam would be ambiguous to a reader
    assert "unrecognized" in usage_error(run(ip, "%mltrack start_run --nam x"))
    assert mlt.active_run() is None


# runs ----------------------------------------------------------------------------------------
def test_start_run_with_every_option_and_end_run(ip, capsys):
    result = run(
        ip,
        "%mltrack start_run --name first --experiment exp-a --tag team=ml stage=dev "
        "--tag owner=me --description 'a first try'",
    )
    assert result.success, result.error_in_exec
    assert "started run first" in capsys.readouterr().out
    run_id = active_id()
    got = mlt.get_run(run_id)
    assert got.info.run_name == "first"
    assert got.info.experiment_id == mlt.get_experiment_by_name("exp-a").experiment_id
    assert {k: got.data.tags[k] for k in ("team", "stage", "owner")} == {
        "team": "ml",
        "stage": "dev",
        "owner": "me",
    }
    assert got.data.tags["mlflow.note.content"] == "a first try"
    assert run(ip, "%mltrack end_run --status FAILED").success
    assert "ended run first" in capsys.readouterr().out
    assert mlt.active_run() is None
    assert mlt.get_run(run_id).info.status == "FAILED"


def test_start_run_refuses_bad_input(ip):
    assert "expected key=value" in usage_error(run(ip, "%mltrack start_run --tag novalue"))
    assert "tag key" in usage_error(run(ip, "%mltrack start_run --tag 'bad key!=1'"))
    assert mlt.active_run() is None
    assert run(ip, "%mltrack start_run --name parent").success
    parent = active_id()
    message = usage_error(run(ip, "%mltrack start_run --name again"))
    assert "already active" in message and "nested=True" in message
    assert run(ip, "%mltrack start_run --name child --nested").success
    child = mlt.get_run(active_id())
    assert child.info.parent_run_id == parent
    assert "no run with id" in usage_error(
        run(ip, "%mltrack start_run --nested --resume 0123456789abcdef0123456789abcdef")
    )


def test_resume_continues_a_finished_run(ip, capsys):
    run(ip, "%mltrack start_run --name keep")
    run_id = active_id()
    run(ip, "%mltrack end_run")
    assert run(ip, f"%mltrack start_run --resume {run_id}").success
    assert "resumed run keep" in capsys.readouterr().out
    assert active_id() == run_id
    assert mlt.get_run(run_id).info.status == "RUNNING"


def test_end_run_refuses_bad_input(ip):
    assert "no run is active" in usage_error(run(ip, "%mltrack end_run"))
    run(ip, "%mltrack start_run")
    assert "invalid choice: 'RUNNING'" in usage_error(run(ip, "%mltrack end_run --status RUNNING"))
    assert "unrecognized arguments" in usage_error(run(ip, "%mltrack end_run now"))
    assert mlt.active_run() is not None


def test_experiment_sets_and_shows_the_current_experiment(ip, capsys):
    assert run(ip, "%mltrack experiment").success
    assert "'Default'" in capsys.readouterr().out
    assert run(ip, "%mltrack experiment 'my experiment'").success
    assert "'my experiment'" in capsys.readouterr().out
    run(ip, "%mltrack start_run")
    exp = mlt.get_experiment_by_name("my experiment")
    assert mlt.get_run(active_id()).info.experiment_id == exp.experiment_id
    run(ip, "%mltrack end_run")
    assert run(ip, "%mltrack experiment").success
    assert "'my experiment'" in capsys.readouterr().out
    assert "must not contain control characters" in usage_error(
        run(ip, "%mltrack experiment 'a\\x01b'".replace("\\x01", "\x01"))
    )
    assert "unrecognized arguments" in usage_error(run(ip, "%mltrack experiment a b"))


# logging -------------------------------------------------------------------------------------
def test_params_logs_notebook_variables_under_their_names(ip):
    ip.user_ns["cfg"] = types.SimpleNamespace(depth=7)
    run(ip, "lr = 0.05\nbatch_size = 64\n%mltrack start_run")
    assert run(ip, "%mltrack params lr batch_size cfg.depth").success
    assert mlt.get_run(active_id()).data.params == {
        "lr": "0.05",
        "batch_size": "64",
        "cfg.depth": "7",
    }
    message = usage_error(run(ip, "%mltrack params batchsize"))
    assert "no variable named 'batchsize'" in message and "did you mean 'batch_size'" in message
    assert "no attribute 'width'" in usage_error(run(ip, "%mltrack params cfg.width"))
    assert "not a variable name" in usage_error(run(ip, "%mltrack params 1x"))
    assert "the following arguments are required" in usage_error(run(ip, "%mltrack params"))
    run(ip, "lr = 0.5")
    assert "immutable" in usage_error(run(ip, "%mltrack params lr"))


def test_param_metric_and_tag_take_key_values(ip):
    run(ip, "%mltrack start_run")
    run_id = active_id()
    assert run(ip, "%mltrack param model=svm kernel='rbf poly'").success
    assert run(ip, "acc = 0.875\n%mltrack metric acc={acc} loss=1e-3 --step 3").success
    assert run(ip, "%mltrack metric acc=0.9 --step 4").success
    assert run(ip, "%mltrack tag note='hello there' phase=2").success
    got = mlt.get_run(run_id)
    assert got.data.params == {"model": "svm", "kernel": "rbf poly"}
    assert got.data.metrics == {"acc": 0.9, "loss": 0.001}
    assert got.data.tags["note"] == "hello there" and got.data.tags["phase"] == "2"
    history = mlt.get_metric_history(run_id, "acc")
    assert [(m.step, m.value) for m in history] == [(3, 0.875), (4, 0.9)]

    assert "must be a number, got 'high'" in usage_error(run(ip, "%mltrack metric acc=high"))
    assert "invalid int value" in usage_error(run(ip, "%mltrack metric acc=1 --step x"))
    assert "expected key=value" in usage_error(run(ip, "%mltrack param =3"))
    assert "expected key=value" in usage_error(run(ip, "%mltrack tag phase"))
    assert "holds characters" in usage_error(run(ip, "%mltrack param 'a*b=1'"))
    assert "cannot change it to 'tree'" in usage_error(run(ip, "%mltrack param model=tree"))
    # nothing of a refused line was logged
    assert mlt.get_run(run_id).data.metrics == {"acc": 0.9, "loss": 0.001}


def test_artifact_logs_files_folders_and_globs(ip, tmp_path, capsys):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.txt").write_text("a")
    (data / "b.txt").write_text("b")
    (data / "sub" / "c.txt").write_text("c")
    run(ip, "%mltrack start_run")
    run_id = active_id()
    assert run(ip, f"%mltrack artifact {data}/*.txt").success
    assert "logged 2 artifacts" in capsys.readouterr().out
    assert run(ip, f"%mltrack artifact {data / 'sub'} --dir extra").success
    assert run(ip, f"%mltrack artifact '{data / 'a.txt'}' --dir copies").success
    listed = {a.path for a in mlt.list_artifacts(run_id)}
    assert {"a.txt", "b.txt", "extra", "copies"} <= listed
    assert [a.path for a in mlt.list_artifacts(run_id, "extra/sub")] == ["extra/sub/c.txt"]
    assert "no file or folder matches" in usage_error(
        run(ip, f"%mltrack artifact {tmp_path}/missing*.bin")
    )
    assert "must not leave" in usage_error(run(ip, f"%mltrack artifact {data}/a.txt --dir ../x"))


def test_cell_magic_runs_the_cell_as_its_own_run(ip):
    result = run(ip, "%%mltrack run trial --tag kind=cell\nimport jupyter_mltrack as mlt\n"
                     "mlt.log_metric('score', 3.0)\n6 * 7")  # fmt: skip
    assert result.success, result.error_in_exec
    assert result.result == 42  # the last expression is the cell's value, as without the magic
    assert mlt.active_run() is None
    (trial,) = mlt.search_runs(output_format="list", filter_string="attributes.run_name = 'trial'")
    assert trial.info.status == "FINISHED"
    assert trial.data.metrics == {"score": 3.0} and trial.data.tags["kind"] == "cell"
    assert run(ip, "%%mltrack run quiet\n6 * 7;").result is None


def test_cell_magic_marks_a_failing_cell_failed_and_reraises(ip, capsys):
    result = run(ip, "%%mltrack run broken\nx = 1\nraise ValueError('bad data')")
    assert isinstance(result.error_in_exec, ValueError)  # the cell fails: Run All stops here
    err = capsys.readouterr()
    assert "bad data" in err.out + err.err
    (broken,) = mlt.search_runs(
        output_format="list", filter_string="attributes.run_name = 'broken'"
    )
    assert broken.info.status == "FAILED"
    assert broken.data.tags["mltrack.error.type"] == "ValueError"
    assert broken.data.tags["mltrack.error.message"] == "bad data"
    assert mlt.active_run() is None


def test_cell_magic_nesting_and_misuse(ip):
    run(ip, "%mltrack start_run --name outer")
    outer = active_id()
    assert "already active" in usage_error(run(ip, "%%mltrack run inner\npass"))
    # a run the cell leaves open above its own is ended with it
    result = run(ip, "%%mltrack run inner --nested\n%mltrack start_run --nested --name deeper")
    assert result.success, result.error_in_exec
    assert active_id() == outer
    for name in ("inner", "deeper"):
        (child,) = mlt.search_runs(
            output_format="list", filter_string=f"attributes.run_name = '{name}'"
        )
        assert child.info.status == "FINISHED"
    assert "put '%%mltrack run" in usage_error(run(ip, "%mltrack run"))
    assert "takes one subcommand, run" in usage_error(run(ip, "%%mltrack status\npass"))
    assert "takes one subcommand, run" in usage_error(run(ip, "%%mltrack\npass"))
    assert "unrecognized arguments" in usage_error(run(ip, "%%mltrack run a b\npass"))


# views ---------------------------------------------------------------------------------------
@pytest.fixture
def three_runs(ip):
    ids = {}
    for name, model, acc in (
        ("r-svm", "svm", 0.91),
        ("r-tree", "tree", 0.84),
        ("r-knn", "knn", 0.7),
    ):
        run(ip, f"%mltrack start_run --name {name}")
        run(ip, f"%mltrack param model={model}\n%mltrack metric acc={acc}")
        ids[name] = active_id()
        run(ip, "%mltrack end_run")
    return ids


def test_runs_prints_a_table_and_filters(ip, capsys, three_runs):
    capsys.readouterr()
    assert run(ip, "%mltrack runs").success
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["run", "name", "status", "started", "duration"]
    assert "m:acc" in table[0] and "p:model" in table[0]
    assert [line.split()[1] for line in table[2:]] == ["r-knn", "r-tree", "r-svm"]  # newest first
    assert run(ip, "%mltrack runs metrics.acc > 0.8 and params.model = 'svm'").success
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [r.split()[0] for r in rows] == [three_runs["r-svm"][:8]]
    assert run(ip, "%mltrack runs --max 1").success
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert run(ip, "%mltrack runs params.model = 'none'").success
    assert "no runs match" in capsys.readouterr().out
    assert run(ip, "%mltrack runs --all --experiment Default metrics.acc < 0.8").success
    assert "r-knn" in capsys.readouterr().out
    assert "Invalid filter" in usage_error(run(ip, "%mltrack runs metrics.acc >>> 1"))
    assert "--max must be at least 1" in usage_error(run(ip, "%mltrack runs --max 0"))
    assert "no experiment named" in usage_error(run(ip, "%mltrack runs --experiment nope"))


def test_compare_accepts_ids_prefixes_and_names(ip, capsys, three_runs):
    svm, tree = three_runs["r-svm"], three_runs["r-tree"]
    capsys.readouterr()
    assert run(ip, f"%mltrack compare {svm} {tree[:6]} r-knn").success
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [svm[:8], tree[:8], three_runs["r-knn"][:8]]
    differing = [line for line in lines if line.startswith("*")]
    assert any("param model" in line and "svm" in line and "tree" in line for line in differing)
    assert any("metric acc" in line and "0.91" in line for line in differing)
    assert "no run with id, id prefix or name 'r-missing'" in usage_error(
        run(ip, "%mltrack compare r-missing")
    )
    run(ip, "%mltrack start_run --name r-svm\n%mltrack end_run")
    assert "names several runs" in usage_error(run(ip, "%mltrack compare r-svm"))
    assert "required" in usage_error(run(ip, "%mltrack compare"))


def test_cells_lists_what_a_run_executed(ip, capsys):
    assert "no run is active" in usage_error(run(ip, "%mltrack cells"))
    run(ip, "%mltrack start_run --name celled", cell_id="c-1")
    run(ip, "x = 1", cell_id="c-2")
    assert run(ip, "%mltrack cells").success
    out = capsys.readouterr().out
    assert "c-1" in out and "c-2" in out and "x = 1" in out
    run(ip, "%mltrack end_run")
    assert run(ip, "%mltrack cells celled").success
    assert "%mltrack cells" in capsys.readouterr().out  # the listing cell itself was recorded


def test_status_shows_store_experiment_run_and_logged_items(ip, capsys):
    assert run(ip, "%mltrack status").success
    out = capsys.readouterr().out
    assert f"store       {mlt.get_store_dir()}" in out
    assert "active run  none" in out and "'Default'" in out
    run(ip, "%mltrack start_run --name shown\n%mltrack param p=1\n%mltrack metric m=2.5")
    run(ip, "%mltrack tag t=3\n%mltrack start_run --nested --name kid")
    assert run(ip, "%mltrack status").success
    out = capsys.readouterr().out
    assert "active run  kid" in out and "nesting     shown > kid" in out
    run(ip, "%mltrack end_run")
    assert run(ip, "%mltrack status").success
    out = capsys.readouterr().out
    assert "active run  shown" in out and "RUNNING" in out
    assert "1 params, 1 metrics, 1 tags" in out
    assert "p=1" in out and "m=2.5" in out and "t=3" in out
    assert "cells ran top to bottom" in out and "capture     outputs off" in out
    assert "unrecognized arguments" in usage_error(run(ip, "%mltrack status now"))


def test_capture_switches_output_capture(ip, capsys):
    ext = loaded(ip)
    assert run(ip, "%mltrack capture outputs").success
    assert "capture outputs: off" in capsys.readouterr().out
    assert run(ip, "%mltrack capture outputs on").success and ext.outputs.enabled
    assert run(ip, "%mltrack capture outputs on").success and ext.outputs.enabled
    assert run(ip, "%mltrack capture outputs off").success and not ext.outputs.enabled
    assert "invalid choice: 'images'" in usage_error(run(ip, "%mltrack capture images on"))
    assert "invalid choice: 'yes'" in usage_error(run(ip, "%mltrack capture outputs yes"))


def test_unload_removes_the_magic_and_the_hooks(ip):
    run(ip, "%mltrack start_run --name before")
    run_id = active_id()
    ip.extension_manager.unload_extension("jupyter_mltrack")
    try:
        assert loaded(ip) is None
        result = run(ip, "%mltrack status")
        assert not result.success
        run(ip, "y = 2", cell_id="after-unload")
        assert "after-unload" not in {c.cell_id for c in mlt.get_cells(run_id)}
    finally:
        ip.extension_manager.load_extension("jupyter_mltrack")
    run(ip, "z = 3", cell_id="after-reload")
    assert "after-reload" in {c.cell_id for c in mlt.get_cells(run_id)}


def test_artifacts_and_register_subcommands_in_a_terminal_shell(ip, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression

    ip.run_line_magic("mltrack", "start_run --name reg")
    (tmp_path / "notes.txt").write_text("hello")
    ip.run_line_magic("mltrack", f"artifact {tmp_path / 'notes.txt'}")
    capsys.readouterr()
    ip.run_line_magic("mltrack", "artifacts")
    assert "notes.txt  5 bytes" in capsys.readouterr().out
    result = ip.run_cell("%mltrack register --name m")
    assert "has logged no model" in usage_error(result)
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    mlt.log_model(model, "model")
    ip.run_line_magic("mltrack", "register")
    assert "logged models of this run: m-" in capsys.readouterr().out
    ip.run_line_magic("mltrack", "register --name churn --alias champion")
    assert "registered churn version 1 as @champion" in capsys.readouterr().out
    loaded = mlt.load_model("models:/churn@champion")
    assert list(loaded.predict([[0.0], [1.0]])) == [0, 1]
    ip.run_line_magic("mltrack", "end_run")
    result = ip.run_cell("%mltrack artifacts")
    assert "no run is active" in usage_error(result)
