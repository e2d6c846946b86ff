"""Per-cell capture in a real IPython shell: cells, attribution, outputs, snapshot, order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.magics import loaded
from jupyter_mltrack.magics.snapshot import python_source, to_ipynb, to_py
from jupyter_mltrack.magics.testing import reset, run, test_shell
from jupyter_mltrack.tracking import lineage

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def ip(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "store"))
    for name in ("JPY_SESSION_NAME", "MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    shell = test_shell(tmp_path_factory.getbasetemp() / "ipython")
    reset(shell, tmp_path / "store")
    yield shell
    reset(shell, None)


def active_id() -> str:
    run_ = mlt.active_run()
    assert run_ is not None
    return run_.info.run_id


def artifact_bytes(run_id: str, path: str) -> bytes:
    return Path(mlt.client().download_artifacts(run_id, path)).read_bytes()


# cells and attribution -----------------------------------------------------------------------
def test_every_cell_of_an_active_run_is_recorded(ip):
    run(ip, "before = 1", cell_id="c0")  # no run yet: not recorded anywhere
    run(ip, "%mltrack start_run --name cells", cell_id="c1")
    run_id = active_id()
    run(ip, "import time\nx = 2", cell_id="c2")
    run(ip, "   ", cell_id="c-empty")  # IPython skips empty cells entirely
    failed = run(ip, "raise KeyError('nope')", cell_id="c3")
    assert not failed.success
    run(ip, "1 +", cell_id="c4")  # a syntax error fails before execution
    run(ip, "%mltrack end_run", cell_id="c5")
    run(ip, "after = 1", cell_id="c6")  # the run has ended: not recorded

    cells = mlt.get_cells(run_id)
    assert [c.cell_id for c in cells] == ["c1", "c2", "c3", "c4", "c5"]
    assert [c.seq for c in cells] == [0, 1, 2, 3, 4]
    counts = [c.execution_count for c in cells]
    assert counts == sorted(counts) and len(set(counts)) == 5
    assert cells[1].source == "import time\nx = 2"
    assert [c.outcome for c in cells] == ["ok", "ok", "error", "error", "ok"]
    assert (cells[2].error_type, cells[2].error_message) == ("KeyError", "'nope'")
    assert cells[3].error_type == "SyntaxError"
    assert all(c.duration_ms is not None and c.duration_ms >= 0 for c in cells)
    starts = [c.start_time for c in cells]
    assert starts == sorted(starts)
    assert loaded(ip).recorder.runs == {}  # the ended run is no longer tracked


def test_cells_without_a_front_end_id_are_named_by_execution_count(ip):
    run(ip, "%mltrack start_run")
    run_id = active_id()
    result = run(ip, "y = 3")
    run(ip, "%mltrack end_run")
    cells = mlt.get_cells(run_id)
    assert cells[1].cell_id == f"exec-{result.execution_count}"
    assert cells[1].execution_count == result.execution_count


def test_logged_items_carry_the_cell_they_came_from(ip, tmp_path):
    report = tmp_path / "report.txt"
    report.write_text("done")
    run(ip, "import jupyter_mltrack as mlt\n%mltrack start_run", cell_id="start")
    run_id = active_id()
    run(ip, "%mltrack param lr=0.1\n%mltrack tag stage=fit", cell_id="params")
    run(ip, "for i in range(3):\n    mlt.log_metric('loss', 1.0 / (i + 1), step=i)", cell_id="fit")
    run(ip, "mlt.log_metric('loss', 0.2, step=3)\nmlt.log_text('hi', 'notes/hi.txt')", "more")
    run(ip, f"%mltrack artifact {report}", cell_id="files")
    run(ip, "mlt.log_metric('loss', 0.1, step=4)", cell_id="fit")  # the fit cell, run again

    assert lineage.cell_of(run_id, "param", "lr").cell_id == "params"
    assert lineage.cell_of(run_id, "tag", "stage").cell_id == "params"
    assert lineage.cell_of(run_id, "artifact", "notes/hi.txt").cell_id == "more"
    assert lineage.cell_of(run_id, "artifact", "report.txt").cell_id == "files"
    first_fit = lineage.cell_of(run_id, "metric", "loss", step=1)
    assert (first_fit.cell_id, first_fit.seq) == ("fit", 2)
    assert lineage.cell_of(run_id, "metric", "loss", step=3).cell_id == "more"
    latest = lineage.cell_of(run_id, "metric", "loss")  # the latest point: the second fit run
    assert (latest.cell_id, latest.seq) == ("fit", 5)
    assert lineage.cell_of(run_id, "tag", "mlflow.runName") is None  # set by start_run itself

    fit_items = lineage.logged_items(run_id, cell_id="fit")
    assert [(i.kind, i.key, i.first_step, i.last_step, i.points) for i in fit_items] == [
        ("metric", "loss", 0, 4, 4),
        # running the fit cell again marked the run out of order, from that cell
        ("tag", "mltrack.cells.out_of_order", None, None, 1),
        ("tag", "mltrack.cells.out_of_order_reason", None, None, 1),
    ]
    kinds = {(i.kind, i.key, i.cell_id) for i in lineage.logged_items(run_id)}
    assert {("param", "lr", "params"), ("metric", "loss", "more"), ("tag", "stage", "params")} <= (
        kinds
    )
    run(ip, "%mltrack end_run")


def test_cell_lineage_queries_validate_their_input(ip):
    run(ip, "%mltrack start_run\n%mltrack param a=1")
    run_id = active_id()
    with pytest.raises(MltrackError, match="item kind must be one of"):
        lineage.cell_of(run_id, "metrics", "a")
    with pytest.raises(MltrackError) as missing:
        lineage.cell_of(run_id, "param", "b")
    assert missing.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    with pytest.raises(MltrackError, match="step only applies to metrics"):
        lineage.cell_of(run_id, "param", "a", step=1)
    with pytest.raises(MltrackError, match="step must be an integer"):
        lineage.cell_of(run_id, "metric", "a", step="1")
    with pytest.raises(MltrackError, match="key must be a non-empty string"):
        lineage.cell_of(run_id, "param", "")
    with pytest.raises(MltrackError) as no_run:
        lineage.logged_items("0" * 32)
    assert no_run.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    with pytest.raises(MltrackError, match="cell id must be"):
        lineage.logged_items(run_id, cell_id="")


def test_runs_started_and_ended_inside_one_cell_get_that_cell(ip):
    source = (
        "import jupyter_mltrack as mlt\n"
        "for c in (0.1, 1.0, 10.0):\n"
        "    with mlt.start_run(run_name=f'grid-{c}'):\n"
        "        mlt.log_param('C', c)\n"
    )
    assert run(ip, source, cell_id="grid").success
    runs = mlt.search_runs(output_format="list")
    assert sorted(r.info.run_name for r in runs) == ["grid-0.1", "grid-1.0", "grid-10.0"]
    for r in runs:
        (cell,) = mlt.get_cells(r.info.run_id)
        assert (cell.cell_id, cell.source, cell.seq) == ("grid", source, 0)
        assert lineage.cell_of(r.info.run_id, "param", "C").cell_id == "grid"
        names = {a.path for a in mlt.list_artifacts(r.info.run_id, "notebook")}
        assert names == {"notebook/snapshot.py", "notebook/snapshot.ipynb"}


def test_nested_runs_all_record_the_cell(ip):
    run(ip, "%mltrack start_run --name parent", cell_id="p")
    parent = active_id()
    run(ip, "%mltrack start_run --nested --name child", cell_id="c")
    child = active_id()
    run(ip, "z = 1", cell_id="both")
    run(ip, "%mltrack end_run", cell_id="end-child")
    run(ip, "w = 1", cell_id="parent-only")
    run(ip, "%mltrack end_run")
    assert [c.cell_id for c in mlt.get_cells(child)] == ["c", "both", "end-child"]
    parent_cells = [c.cell_id for c in mlt.get_cells(parent)]
    assert parent_cells[:5] == ["p", "c", "both", "end-child", "parent-only"]


def test_a_cell_run_from_inside_a_cell_counts_once(ip):
    run(ip, "%mltrack start_run")
    run_id = active_id()
    run(ip, "%%capture\nget_ipython().run_cell('inner = 1')", cell_id="outer")
    run(ip, "%mltrack end_run")
    cells = mlt.get_cells(run_id)
    assert len(cells) == 3 and cells[1].cell_id == "outer"
    assert ip.user_ns["inner"] == 1


def test_resumed_runs_continue_their_cell_sequence(ip):
    run(ip, "%mltrack start_run --name again", cell_id="a1")
    run_id = active_id()
    run(ip, "%mltrack end_run", cell_id="a2")
    run(ip, f"%mltrack start_run --resume {run_id}", cell_id="b1")
    run(ip, "%mltrack end_run", cell_id="b2")
    # as a new kernel would: nothing remembered, the sequence is read back from the store
    loaded(ip).recorder.runs.clear()
    run(ip, f"%mltrack start_run --resume {run_id}", cell_id="c1")
    run(ip, "%mltrack end_run", cell_id="c2")
    cells = mlt.get_cells(run_id)
    assert [(c.seq, c.cell_id) for c in cells] == list(
        enumerate(["a1", "a2", "b1", "b2", "c1", "c2"])
    )
    snapshot = json.loads(artifact_bytes(run_id, "notebook/snapshot.ipynb"))
    assert [c["metadata"]["mltrack"]["cell_id"] for c in snapshot["cells"]] == [
        "a1", "a2", "b1", "b2", "c1", "c2",
    ]  # fmt: skip


def test_nothing_is_opened_while_no_run_was_ever_started(ip, tmp_path):
    for i in range(3):
        assert run(ip, f"v{i} = {i}").success
    assert not (tmp_path / "store").exists()


# notebook snapshot ---------------------------------------------------------------------------
def test_end_run_stores_a_runnable_snapshot_in_execution_order(ip, tmp_path):
    run(ip, "%mltrack start_run --name snap", cell_id="top")
    run_id = active_id()
    run(ip, "x = 2", cell_id="define")
    run(ip, "!echo shell\n%time y = x * 21", cell_id="magic-lines")
    run(ip, "if x:\n    %time z = 1\nprint('y is', y)", cell_id="printer")
    run(ip, "x = x + undefined_name", cell_id="broken")
    run(ip, "print('y is', y)", cell_id="printer")  # executed again: appears twice
    run(ip, "%mltrack end_run", cell_id="bottom")

    script = artifact_bytes(run_id, "notebook/snapshot.py").decode()
    assert script.index("x = 2") < script.index("!echo") < script.index("undefined_name")
    assert "# !echo shell" in script and "# %time y = x * 21" in script
    assert "    pass  # %time z = 1" in script
    assert "(error: NameError: name 'undefined_name' is not defined)" in script
    path = tmp_path / "snapshot.py"
    # the IPython lines are comments: give y the value %time would have, then run it
    path.write_text(script.replace("# %time y = x * 21", "y = x * 21"))
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1 and "NameError" in done.stderr  # the failing cell fails again
    assert done.stdout == "y is 42\n"

    notebook = nbformat.reads(artifact_bytes(run_id, "notebook/snapshot.ipynb").decode(), 4)
    nbformat.validate(notebook)
    sources = [c.source for c in notebook.cells]
    assert sources[1:] == [
        "x = 2",
        "!echo shell\n%time y = x * 21",
        "if x:\n    %time z = 1\nprint('y is', y)",
        "x = x + undefined_name",
        "print('y is', y)",
        "%mltrack end_run",
    ]
    ids = [c.id for c in notebook.cells]
    assert len(set(ids)) == len(ids) and "printer-2" in ids
    (error,) = notebook.cells[4].outputs
    assert (error.output_type, error.ename) == ("error", "NameError")
    assert notebook.metadata.mltrack.run_id == run_id
    counts = [c.execution_count for c in notebook.cells]
    assert counts == sorted(counts)


def test_python_source_comments_out_ipython_syntax():
    assert python_source("a = 1\nprint(a)") == "a = 1\nprint(a)"
    assert python_source("%matplotlib inline\nimport os") == "# %matplotlib inline\nimport os"
    assert python_source("files = !ls\nos?") == "# files = !ls\n# os?"
    assert python_source("%%bash\necho hi") == "# %%bash\n# echo hi"
    assert python_source("%%time\nx = 1\n%who") == "# %%time\nx = 1\n# %who"
    assert python_source("for i in r:\n    !echo $i") == "for i in r:\n    pass  # !echo $i"
    # a modulo is not a magic, and a string that looks like one stays as it is
    assert python_source("a = 5 % 3\ns = '%s' % a") == "a = 5 % 3\ns = '%s' % a"
    with pytest.raises(MltrackError, match="source must be a str"):
        python_source(None)  # type: ignore[arg-type]


def test_snapshot_builders_take_any_cells():
    from jupyter_mltrack.entities import Cell

    cells = [
        Cell("r", 0, "same", 1, "a = 1", 10, 1.0, "ok"),
        Cell("r", 1, "same", 2, "a = 2", 20, 1.0, "ok"),
        Cell("r", 2, None, None, "%%html\n<b>", 30, None, "error", "Boom", "bad"),
        Cell("r", 3, "x" * 80 + "/?", 3, "", 40, 0.5, "ok"),
    ]
    notebook = nbformat.reads(to_ipynb(cells, "r", "name", "/nb.ipynb"), 4)
    nbformat.validate(notebook)
    assert [c.id for c in notebook.cells][:3] == ["same", "same-2", "cell-2"]
    assert all(len(c.id) <= 64 for c in notebook.cells)
    script = to_py(cells, "r", "name")
    compile(script, "snapshot.py", "exec")
    assert "# <b>" in script and "(error: Boom: bad)" in script


def test_snapshot_is_taken_when_the_run_ends_in_code(ip):
    run(ip, "import jupyter_mltrack as mlt\nr = mlt.start_run(run_name='code')", cell_id="s")
    run_id = active_id()
    run(ip, "mlt.end_run()", cell_id="e")
    script = artifact_bytes(run_id, "notebook/snapshot.py").decode()
    assert "r = mlt.start_run(run_name='code')" in script and "mlt.end_run()" in script


# out-of-order execution ----------------------------------------------------------------------
def test_rerunning_a_completed_cell_marks_the_run_out_of_order(ip, capsys):
    run(ip, "%mltrack start_run", cell_id="s")
    run_id = active_id()
    run(ip, "a = 1", cell_id="one")
    run(ip, "1 / 0", cell_id="two")  # failed: running it again after a fix is in order
    run(ip, "b = 2", cell_id="two")
    run(ip, "%mltrack status", cell_id="st")
    run(ip, "%mltrack status", cell_id="st")  # bookkeeping cells never count
    assert "cells ran top to bottom" in capsys.readouterr().out
    assert "mltrack.cells.out_of_order" not in mlt.get_run(run_id).data.tags
    run(ip, "a = 5", cell_id="one")
    run(ip, "%mltrack status")
    assert "OUT OF ORDER: cell [" in capsys.readouterr().out
    tags = mlt.get_run(run_id).data.tags
    assert tags["mltrack.cells.out_of_order"] == "true"
    assert "ran again after it had completed" in tags["mltrack.cells.out_of_order_reason"]


def test_cells_above_an_executed_cell_are_out_of_order(ip, tmp_path, monkeypatch, capsys):
    notebook = tmp_path / "analysis.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"# cell {i}", id=f"p{i}") for i in range(4)]
    notebook.write_text(nbformat.writes(nb))
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))
    run(ip, "%mltrack start_run", cell_id="p0")
    run_id = active_id()
    assert mlt.get_run(run_id).data.tags["mltrack.notebook"] == str(notebook)
    assert mlt.get_run(run_id).data.tags["mlflow.source.name"] == str(notebook)
    run(ip, "a = 1", cell_id="p1")
    run(ip, "c = 3", cell_id="p3")
    run(ip, "new = 0", cell_id="not-saved-yet")  # unknown position: no conclusion
    assert "mltrack.cells.out_of_order" not in mlt.get_run(run_id).data.tags
    run(ip, "b = 2", cell_id="p2")
    reason = mlt.get_run(run_id).data.tags["mltrack.cells.out_of_order_reason"]
    assert "at position 3 ran after" in reason and "at position 4" in reason
    run(ip, "%mltrack end_run")
    snapshot = json.loads(artifact_bytes(run_id, "notebook/snapshot.ipynb"))
    assert snapshot["metadata"]["mltrack"]["notebook"] == str(notebook)


# rich outputs --------------------------------------------------------------------------------
@pytest.fixture
def inline_matplotlib(ip):
    """matplotlib's inline backend, as in a kernel (``%matplotlib inline`` needs a kernel)."""
    import matplotlib
    from matplotlib_inline.backend_inline import configure_inline_support, flush_figures

    previous = matplotlib.get_backend()
    matplotlib.use("module://matplotlib_inline.backend_inline")
    configure_inline_support(ip, "module://matplotlib_inline.backend_inline")
    yield

    if flush_figures in ip.events.callbacks["post_execute"]:
        ip.events.unregister("post_execute", flush_figures)
    matplotlib.use(previous)


def test_displayed_images_and_figures_become_artifacts_of_their_cell(ip, inline_matplotlib):
    run(ip, "import matplotlib.pyplot as plt\nfrom IPython import display")
    run(ip, "%mltrack start_run\n%mltrack capture outputs on", cell_id="setup")
    run_id = active_id()
    result = run(ip, "plt.plot([1, 3, 2])\nplt.show()", cell_id="plot")
    assert result.success, result.error_in_exec
    listed = {a.path: a for a in mlt.list_artifacts(run_id, "outputs")}
    (figure,) = listed.values()
    assert figure.path.endswith(".png") and figure.cell_id == "plot"
    assert artifact_bytes(run_id, figure.path).startswith(PNG_MAGIC)

    run(
        ip,
        "fig = plt.figure()\nplt.plot([0, 1])\nfig",  # a figure as the cell's value (Out[n])
        cell_id="value",
    )
    plotly = {"data": [{"type": "bar", "y": [1, 2]}], "layout": {}}
    ip.user_ns["plotly_bundle"] = {"application/vnd.plotly.v1+json": plotly}
    run(ip, "display.display(plotly_bundle, raw=True)", cell_id="plotly")
    run(ip, "display.display(display.SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"/>'))", "svg")
    run(ip, "print('text is not an image')", cell_id="text")
    by_cell = {a.cell_id: a.path for a in mlt.list_artifacts(run_id, "outputs")}
    assert set(by_cell) == {"plot", "value", "plotly", "svg"}
    assert by_cell["value"].endswith(".png") and by_cell["svg"].endswith(".svg")
    assert json.loads(artifact_bytes(run_id, by_cell["plotly"])) == plotly

    run(ip, "%mltrack capture outputs off")
    run(ip, "plt.plot([1, 2])\nplt.show()", cell_id="after-off")
    assert len(mlt.list_artifacts(run_id, "outputs")) == 4
    run(ip, "%mltrack end_run")


def test_outputs_without_an_active_run_are_left_alone(ip):
    run(ip, "%mltrack capture outputs on\nfrom IPython import display")
    result = run(ip, "display.display(display.SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"/>'))")
    assert result.success
    assert mlt.active_run() is None
