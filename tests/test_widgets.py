"""The run table and the comparison, checked through their models from Python.

Interactions are driven the way the front end drives them (a header button clicked, a checkbox
ticked, text typed into the filter box) on a real embedded store in a temporary folder.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from IPython.utils.capture import capture_output
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import ErrorCode, InvalidFilterError, MltrackError
from jupyter_mltrack.magics.testing import test_shell
from jupyter_mltrack.store.batch import (
    MetricRow,
    MetricSeriesRow,
    ParamRow,
    RunUpdateRow,
    WriteBatch,
)
from jupyter_mltrack.tracking.client import MltrackClient
from jupyter_mltrack.widgets import Compare, RunTable, show_compare, show_runs
from jupyter_mltrack.widgets.downsample import downsample
from jupyter_mltrack.widgets.run_table import MAX_PAGE_SIZE

N_RUNS = 45
EVIL = "<img src=x onerror=alert(1)>"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass
class Grid:
    client: MltrackClient
    experiment_id: str
    ids: list[str]  # in creation order: run i has acc = i / 100


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing here may reach ~/.mltrack or a tracking server of the machine
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "default-store"))
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    monkeypatch.delenv("MLTRACK_SERVER_TOKEN", raising=False)


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    """45 finished runs: numeric, categorical, constant and oddly named params; acc and loss."""
    client = MltrackClient(tmp_path_factory.mktemp("grid") / "store")
    exp = client.create_experiment("grid")
    store = client.store
    batch = WriteBatch()
    ids = []
    for i in range(N_RUNS):
        name = EVIL if i == 7 else f"run-{i:02d}"
        run_id = store.create_run(exp, name, "tester", 1_000_000 + i * 1000, {}).info.run_id
        ids.append(run_id)
        params = {"lr": str(i / 10), "model": ("svm", "knn", "tree")[i % 3], "same": "1"}
        params["odd key"] = str(i % 2)
        batch.params += [ParamRow(run_id, k, v, None) for k, v in params.items()]
        batch.metrics.append(MetricRow(run_id, "acc", i / 100, 0, 0, None))
        steps = np.arange(20)
        batch.metric_series.append(
            MetricSeriesRow(
                run_id, "loss", None, 1.0 / (steps + 1) + i, steps, np.zeros(20, dtype=np.int64)
            )
        )
        batch.run_updates.append(RunUpdateRow(run_id, "FINISHED", 1_000_500 + i * 1000))
    store.write_batch(batch)
    yield Grid(client, exp, ids)


def table_of(grid: Grid, **kwargs) -> RunTable:
    kwargs.setdefault("client", grid.client)
    return RunTable(experiment_ids=[grid.experiment_id], **kwargs)


def accs(table: RunTable) -> list[float]:
    return [float(row["metrics.acc"]) for row in table.rows]


# run table -------------------------------------------------------------------------------------
def test_the_table_shows_one_page_and_pages_through_the_rest(grid: Grid) -> None:
    table = table_of(grid, page_size=20)
    # newest first by default; only one page is read and held
    assert table.run_ids == list(reversed(grid.ids))[:20]
    assert len(table.rows) == 20 and table.has_next_page
    assert table.columns[:4] == ["run_name", "status", "start_time", "duration"]
    assert {"metrics.acc", "metrics.loss", "params.lr", "params.model"} <= set(table.columns)
    # the grid holds a header row and one row of widgets per row of the page, never more
    assert len(table._grid.children) == (len(table.columns) + 1) * 21
    seen = list(table.run_ids)
    table._next.click()
    assert table.page == 1 and len(table.rows) == 20
    table.next_page()
    assert table.page == 2 and len(table.rows) == N_RUNS - 40 and not table.has_next_page
    assert table._next.disabled and "runs 41-45 of 45" in table._page_label.value
    seen += table.run_ids
    table._prev.click()
    seen += table.run_ids
    assert sorted(set(seen)) == sorted(grid.ids)
    # rows past the end of the last page are hidden, not removed
    table.page = 2
    hidden = [layout.display for layout in table._row_layouts]
    assert hidden == [None] * 5 + ["none"] * 15
    # a page past the end shows the last page
    table.page = 50
    assert table.page == 2
    # a new page size starts again at the first page, with a new grid (the old one closed)
    old_cells = list(table._grid.children[1:])
    table.page_size = 7
    assert table.page == 0 and len(table.rows) == 7
    assert len(table._grid.children) == (len(table.columns) + 1) * 8
    assert all(cell.comm is None for cell in old_cells)
    # closing the table closes everything inside it
    inside = [table._filter_box, table._select_all, *table._grid.children[1:]]
    table.close()
    assert table.comm is None and all(w.comm is None for w in inside)


def test_header_buttons_sort_and_flip(grid: Grid) -> None:
    table = table_of(grid, page_size=10)
    acc_button = table._header_buttons[table.columns.index("metrics.acc")]
    acc_button.click()
    assert (table.sort_column, table.sort_ascending) == ("metrics.acc", True)
    assert accs(table) == sorted(accs(table)) and accs(table)[0] == 0.0
    assert acc_button.description.endswith("▲")
    acc_button.click()
    assert table.sort_ascending is False and accs(table)[0] == pytest.approx(0.44)
    assert acc_button.description.endswith("▼")
    # paging keeps the order
    table.next_page()
    assert accs(table)[0] == pytest.approx(0.34)
    # sorting starts again at the first page; a key with a space sorts too (quoted for the store)
    table.sort_by("params.odd key", ascending=True)
    assert table.page == 0 and {r["params.odd key"] for r in table.rows} == {"0"}
    table.sort_by("run_name")
    names = [r["run_name"] for r in table.rows]
    assert names == sorted(names)
    # the order can be given up front, and dropped again
    newest = table_of(grid, sort_column="metrics.acc", sort_ascending=True, page_size=3)
    assert accs(newest) == [0.0, 0.01, 0.02]
    newest.sort_by(None)
    assert newest.run_ids == list(reversed(grid.ids))[:3]
    # computed columns cannot be sorted: the button is disabled and the API says why
    duration = table._header_buttons[table.columns.index("duration")]
    assert duration.disabled
    with pytest.raises(MltrackError, match="cannot sort by 'duration'"):
        table.sort_by("duration")
    with pytest.raises(MltrackError, match="unknown column"):
        table.sort_column = "bogus"


def test_filter_box_runs_the_search_and_shows_errors_inline(grid: Grid) -> None:
    table = table_of(grid, filter="params.model = 'svm'", page_size=50)
    assert len(table.rows) == 15 and {r["params.model"] for r in table.rows} == {"svm"}
    shown = table.run_ids
    # typed into the box (what the browser does on Enter)
    table._filter_box.value = "metrics.acc >= 0.40 and params.model != 'svm'"
    assert table.filter == table._filter_box.value and table.error == ""
    assert sorted(accs(table)) == [0.40, 0.41, 0.43, 0.44]
    shown = table.run_ids
    # a broken filter: the error shows under the box, escaped; the last rows stay
    table._filter_box.value = "metrics.acc > '<b>'"
    assert table.error and "<b>" in table.error
    assert "&lt;b&gt;" in table._error_html.value and "<b>" not in table._error_html.value
    assert table.run_ids == shown
    table._filter_box.value = "metrics.acc >"
    assert "Invalid filter" in table.error
    # fixing it clears the error; setting the trait from Python updates the box
    table.filter = "params.model = 'tree' and metrics.acc < 0.1"
    assert table._filter_box.value == table.filter and table.error == ""
    assert sorted(accs(table)) == [0.02, 0.05, 0.08]
    table.filter = "params.model = 'none'"
    assert table.rows == [] and "no runs match" in table._empty.value
    assert "no runs match" in table.static_html()
    # from Python (and so from the magics) a bad filter raises at once
    with pytest.raises(InvalidFilterError):
        table_of(grid, filter="params.model = ")


def test_selection_spans_pages_and_feeds_the_comparison(grid: Grid) -> None:
    table = table_of(grid, page_size=10, sort_column="metrics.acc", sort_ascending=True)
    assert table._compare_button.disabled and table.selected_run_ids == []
    table._row_checks[0].value = True
    table._row_checks[3].value = True
    first = [table.run_ids[0], table.run_ids[3]]
    assert table.selected_run_ids == first
    table.next_page()
    assert not any(c.value for c in table._row_checks)  # checkboxes show this page's runs
    table._row_checks[1].value = True
    assert table.selected_run_ids == [*first, table.run_ids[1]]
    assert table._selection_label.value == "3 selected" and not table._compare_button.disabled
    table.prev_page()
    assert [c.value for c in table._row_checks[:4]] == [True, False, False, True]
    table._row_checks[0].value = False
    assert table.selected_run_ids[0] == first[1] and len(table.selected_run_ids) == 2
    # select the whole page, then assign from Python
    table._select_all.value = True
    assert set(table.run_ids) <= set(table.selected_run_ids)
    table.selected_run_ids = [grid.ids[0], grid.ids[2]]
    assert [c.value for c in table._row_checks[:3]] == [True, False, True]
    assert not table._select_all.value
    # the selection survives a new filter, and feeds Compare
    table.filter = "params.model = 'knn'"
    assert table.selected_run_ids == [grid.ids[0], grid.ids[2]]
    table._compare_button.click()
    (shown,) = table._compare_box.children
    assert isinstance(shown, Compare) and shown.run_ids == [grid.ids[0], grid.ids[2]]
    assert Compare(table, client=grid.client).run_ids == shown.run_ids
    table._clear.click()
    assert table.selected_run_ids == [] and table._compare_button.disabled
    table._show_compare()  # the button is disabled, but the path must still explain itself
    assert "no runs to compare" in table._compare_box.children[0].value


def test_columns_rendering_and_escaping(grid: Grid) -> None:
    table = table_of(
        grid,
        columns=["run_name", "attributes.status", "params.model", "metrics.acc", "tags.none"],
        filter="metrics.acc = 0.07",
    )
    assert table.columns == ["run_name", "status", "params.model", "metrics.acc", "tags.none"]
    assert table.rows == [
        {"run_name": EVIL, "status": "FINISHED", "params.model": "knn", "metrics.acc": "0.07",
         "tags.none": ""}
    ]  # fmt: skip
    assert [b.description for b in table._header_buttons][:2] == ["run", "status"]
    # a Label shows text: the name is in the model as is; the tooltip holds the run id
    label = table._row_cells[0][0]
    assert label.value == EVIL and label.tooltip == grid.ids[7]
    html = table.static_html()
    assert EVIL not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    bundle = table._repr_mimebundle_()
    assert bundle[WIDGET_VIEW]["model_id"] == table.model_id
    assert bundle["text/html"] == html and "0.07" in html
    assert "1 selected" not in repr(table) and "RunTable(runs 1-1 of 1" in repr(table)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"filter": 3}, "filter must be a string"),
        ({"columns": []}, "columns must be a non-empty list"),
        ({"columns": ["metrics."]}, "unknown column"),
        ({"columns": [3]}, "a column name must be a string"),
        ({"page_size": 0}, f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}"),
        ({"page_size": 10_000}, "page_size must be an integer"),
        ({"page_size": True}, "page_size must be an integer"),
        ({"sort_column": "duration"}, "cannot sort by"),
        ({"sort_ascending": "yes"}, "sort_ascending must be True or False"),
        ({"experiment_names": ["no-such-experiment"]}, "no experiment named"),
        ({"experiment_names": [""]}, "experiment_names must be a list"),
        ({"all_experiments": True}, "not both"),
        ({"all_experiments": 1}, "all_experiments must be True or False"),
        ({"client": "store"}, "client must be an MltrackClient"),
    ],
)
def test_run_table_refuses_bad_arguments(grid: Grid, kwargs: dict, message: str) -> None:
    with pytest.raises(MltrackError, match=message):
        table_of(grid, **kwargs)


def test_bad_trait_values_are_refused(grid: Grid) -> None:
    table = table_of(grid, page_size=5)
    for trait, value, message in [
        ("page", -1, "page must be 0 or more"),
        ("page_size", 0, "page_size must be"),
        ("page_size", MAX_PAGE_SIZE + 1, "page_size must be"),
    ]:
        with pytest.raises(MltrackError, match=message):
            setattr(table, trait, value)
    with pytest.raises(MltrackError, match="must be a run id"):
        table.select([None])
    assert table.page == 0 and table.page_size == 5 and len(table.rows) == 5


def test_every_experiment_and_experiments_by_name(grid: Grid, store: Path) -> None:
    mlt.set_experiment("elsewhere")
    with mlt.start_run(run_name="solo"):
        mlt.log_metric("acc", 1.0)
    mlt.set_experiment("empty")
    # the fluent API's current experiment by default, as mlt.search_runs
    assert RunTable().rows == []
    assert [r["run_name"] for r in RunTable(experiment_names="elsewhere").rows] == ["solo"]
    everything = RunTable(all_experiments=True, columns=["run_name"])
    assert [r["run_name"] for r in everything.rows] == ["solo"]


# comparison ------------------------------------------------------------------------------------
def test_params_table_and_only_differences(grid: Grid) -> None:
    ids = [grid.ids[0], grid.ids[3], grid.ids[6]]  # same model (svm), different lr and odd key
    compare = Compare(ids, client=grid.client)
    assert compare.run_ids == ids
    keys = [k for k, _ in compare.param_rows]
    assert keys == ["lr", "model", "odd key", "same"]
    assert dict(compare.param_rows)["lr"] == ["0.0", "0.3", "0.6"]
    full_html = compare._table_html.value
    assert "params: 4 of 4 shown (2 differ)" in full_html
    # ticked in the browser
    compare._only_box.value = True
    assert compare.only_differences is True
    assert [k for k, _ in compare.param_rows] == ["lr", "odd key"]
    assert [k for k, _ in compare.metric_rows] == ["acc", "loss"]
    shown = compare._table_html.value
    assert "params: 2 of 4 shown" in shown and ">same<" not in shown and ">model<" not in shown
    assert shown in compare.static_html()
    # run names are escaped in the table headers and the static rendering
    evil = Compare([grid.ids[7], grid.ids[1]], client=grid.client)
    assert "&lt;img src=x onerror=alert(1)&gt;" in evil._table_html.value
    assert EVIL not in evil._table_html.value and EVIL not in evil.static_html()
    compare.only_differences = False
    assert compare._only_box.value is False and len(compare.param_rows) == 4
    # runs that agree on everything: nothing is left when only differences are shown
    twin = Compare([grid.ids[1]], client=grid.client)
    twin.only_differences = True
    assert twin.param_rows == [] and "params: all runs agree" in twin._table_html.value


def test_curves_scatter_and_parallel_coordinates(grid: Grid) -> None:
    ids = grid.ids[:6]
    compare = Compare(ids, client=grid.client)
    # curves of the first metric by default, one per run
    assert compare.metric == "acc" and len(compare.curves.data) == 6
    compare._metric_pick.value = "loss"
    assert compare.metric == "loss"
    assert [len(t.y) for t in compare.curves.data] == [20] * 6
    assert compare.curves.data[2].y[0] == pytest.approx(1.0 + 2)
    assert compare.curves.layout.yaxis.title.text == "loss"
    # scatter: a differing numeric param against the metric, one point per run
    assert (compare.scatter_x, compare.scatter_y) == ("params.lr", "metrics.acc")
    (points,) = compare.scatter.data
    assert list(points.x) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert list(points.y) == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    compare._x_pick.value = "params.model"
    assert list(compare.scatter.data[0].x) == ["svm", "knn", "tree", "svm", "knn", "tree"]
    compare.scatter_y = "metrics.loss"
    assert compare._y_pick.value == "metrics.loss"
    # parallel coordinates: differing params (text as categories) and every metric
    (par,) = compare.parallel.data
    dims = {d.label: d for d in par.dimensions}
    assert list(dims) == ["params.lr", "params.model", "params.odd key", "metrics.acc",
                          "metrics.loss"]  # fmt: skip
    assert list(dims["params.model"].ticktext) == ["knn", "svm", "tree"]
    assert list(dims["params.model"].values) == [1, 0, 2, 1, 0, 2]
    assert par.line.colorbar.title.text == "loss"  # coloured by the chosen metric
    # the static rendering carries the table and the three figures
    html = compare.static_html()
    assert html.count('class="plotly-graph-div"') == 3
    assert "cdn.plot.ly" in html and "params: 4 of 4 shown" in html


def test_long_curves_are_downsampled_keeping_extremes(store: Path) -> None:
    values = np.sin(np.linspace(0, 40, 100_000))
    values[12_345] = 7.5  # a spike a plain stride would drop
    values[77_777] = -9.0
    with mlt.start_run() as run:
        mlt.log_metric_series("signal", values)
    compare = Compare([run.info.run_id], max_points=500)
    (trace,) = compare.curves.data
    assert len(trace.y) <= 500
    assert max(trace.y) == 7.5 and min(trace.y) == -9.0
    assert list(trace.x) == sorted(trace.x)
    # the static figure is smaller still
    static_points = re.findall(r'"y":\{"dtype":"f8","bdata":"([^"]+)"', compare.static_html())
    assert static_points, "the static figure carries the curve"


@pytest.mark.parametrize(
    ("runs", "kwargs", "message"),
    [
        ([], {}, "no runs to compare"),
        ("", {}, "must be a run id or a Run"),
        ([None], {}, "must be a run id or a Run"),
        (3, {}, "runs must be a list"),
        (["0" * 32], {}, "does not exist|not found|no run"),
        (["x"] * 1 + [f"{i:032x}" for i in range(60)], {}, "at most 50 runs"),
        (None, {"max_points": 5}, "max_points must be an integer of at least 10"),
        (None, {"metric": "nope"}, "none of the runs has a metric 'nope'"),
        (None, {"metric": 3}, "metric must be a metric key"),
    ],
)
def test_compare_refuses_bad_arguments(grid: Grid, runs, kwargs: dict, message: str) -> None:
    with pytest.raises(MltrackError, match=message):
        Compare(grid.ids[:2] if runs is None else runs, client=grid.client, **kwargs)


def test_compare_refuses_bad_axes_and_unknown_runs_have_a_code(grid: Grid) -> None:
    compare = Compare(grid.ids[:2], client=grid.client)
    with pytest.raises(MltrackError, match="scatter_x must be"):
        compare.scatter_x = "params.nope"
    with pytest.raises(MltrackError, match=r"scatter_y must be metrics\.KEY"):
        compare.scatter_y = "params.lr"
    assert compare.scatter_x == "params.lr"
    with pytest.raises(MltrackError) as info:
        Compare(["f" * 32], client=grid.client)
    assert info.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST


# downsampling and display ----------------------------------------------------------------------
def test_downsample_keeps_each_buckets_extremes() -> None:
    x = np.arange(10_001)
    y = np.cos(x / 300.0)
    y[5000], y[9999] = 50.0, math.nan
    xs, ys = downsample(x, y, 200)
    assert len(xs) <= 200 and ys.max() == 50.0 and ys.min() == pytest.approx(y[:9999].min())
    assert np.all(np.diff(xs) > 0)
    _, short_y = downsample([1, 2, 3], [3.0, 1.0, 2.0], 10)
    assert list(short_y) == [3.0, 1.0, 2.0]
    all_nan = downsample(np.arange(100), np.full(100, math.nan), 10)[1]
    assert 0 < len(all_nan) <= 10
    for bad in (1, 2.5, True):
        with pytest.raises(MltrackError, match="max_points"):
            downsample(x, y, bad)  # type: ignore[arg-type]
    with pytest.raises(MltrackError, match="equal length"):
        downsample([1, 2], [1.0], 10)


def test_show_functions_display_the_live_view_and_a_static_copy(
    grid: Grid, tmp_path_factory: pytest.TempPathFactory
) -> None:
    test_shell(tmp_path_factory.getbasetemp() / "ipython")  # a real IPython to display into
    with capture_output() as captured:
        table = show_runs(
            "params.model = 'svm'", experiment_ids=[grid.experiment_id], client=grid.client
        )
        compare = show_compare(grid.ids[:2], client=grid.client)
    first, second = (out.data for out in captured.outputs)
    assert first[WIDGET_VIEW]["model_id"] == table.model_id
    assert second[WIDGET_VIEW]["model_id"] == compare.model_id
    assert "mltrack-run-table-static" in first["text/html"] and "svm" in first["text/html"]
    assert 'class="plotly-graph-div"' in second["text/html"]
    with pytest.raises(InvalidFilterError):
        show_runs("params.model = ", experiment_ids=[grid.experiment_id], client=grid.client)


def test_importing_the_package_imports_no_widget_library() -> None:
    code = (
        "import sys, jupyter_mltrack, jupyter_mltrack.widgets as w\n"
        "assert sorted(w.__all__) == sorted(dir(w))\n"
        "heavy = [m for m in ('ipywidgets', 'plotly', 'anywidget') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "w.RunTable\n"
        "assert 'ipywidgets' in sys.modules\n"
        "try:\n"
        "    w.Nope\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "has no attribute 'Nope'" in done.stdout
