"""The JupyterLab extension in a real JupyterLab, driven through headless Chromium.

Each test is a flow a user goes through: watch runs appear while a notebook logs, filter them,
open a run and its charts, preview an image artifact, compare three runs, register a model and
set an alias, jump from a run to its cell. Screenshots of every view are saved in both themes
(``ui-tests/screenshots/``): whoever changes a view looks at them.
"""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest
from conftest import DemoRun, LiveObservations, choose_experiment, row, snap
from lab import LabServer, widen_sidebar
from notebooks import LIVE_EXPERIMENT


def open_run(page: Any, run_name: str) -> None:
    """Open a run's view from the sidebar (double-click) and wait for it."""
    row(page, run_name).dblclick()
    page.locator(".jp-mltrack-RunView h1", has_text=run_name).wait_for()


def tab(page: Any, label: str) -> None:
    page.locator(".jp-mltrack-Tab", has_text=label).first.click()


# live sidebar ---------------------------------------------------------------------------------


def test_runs_appear_live_with_status_and_metric_updates(live_runs: LiveObservations) -> None:
    assert live_runs.running_seen, "the last run never showed as RUNNING in the sidebar"
    assert len(set(live_runs.loss_values)) >= 3, (
        f"the loss column did not follow the kernel: {live_runs.loss_values}"
    )
    assert live_runs.finished_seen, "the run did not turn FINISHED in the sidebar"
    assert {"lr-0.5", "lr-0.2", "lr-0.1", "with-model"} <= set(live_runs.run_names)


def test_filter_box_filters_and_shows_errors_inline(page: Any, live_runs: LiveObservations) -> None:
    choose_experiment(page, LIVE_EXPERIMENT)
    rows = page.locator(".jp-mltrack-RunTable-row")
    rows.first.wait_for()
    box = page.locator(".jp-mltrack-Filter-input")

    box.fill("params.lr = '0.2'")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mltrack-RunTable-row').length === 1"
    )
    assert rows.first.get_attribute("data-run-name") == "lr-0.2"
    assert "1 run" in page.locator(".jp-mltrack-Sidebar-count").inner_text()

    box.fill("metrics.loss < 0.5 and params.optimizer = 'sgd'")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mltrack-RunTable-row').length === 3"
    )
    names = set(rows.evaluate_all("rows => rows.map(r => r.dataset.runName)"))
    assert names == {"lr-0.5", "lr-0.2", "lr-0.1"}
    snap(page, "sidebar-filter", locator=page.locator(".jp-mltrack-SidebarWidget"))

    box.fill("metrics.loss <<< 1")
    box.press("Enter")
    error = page.locator(".jp-mltrack-Filter-error")
    error.wait_for()
    assert error.inner_text().strip(), "the filter error is empty"
    assert box.get_attribute("aria-invalid") == "true"
    assert rows.count() == 0
    snap(page, "sidebar-filter-error", locator=page.locator(".jp-mltrack-SidebarWidget"))

    page.locator(".jp-mltrack-Filter-clear").click()
    error.wait_for(state="detached")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mltrack-RunTable-row').length >= 4"
    )


def test_sort_and_column_picker(page: Any, live_runs: LiveObservations) -> None:
    choose_experiment(page, LIVE_EXPERIMENT)
    row(page, "lr-0.5").wait_for()
    page.locator(".jp-mltrack-RunTable-head[data-column='params.lr']").click()
    page.wait_for_function(
        "() => document.querySelector('.jp-mltrack-RunTable-row')?.dataset.runName === 'lr-0.1'"
    )
    page.locator(".jp-mltrack-RunTable-head[data-column='params.lr']").click()
    page.wait_for_function(
        "() => document.querySelector('.jp-mltrack-RunTable-row')?.dataset.runName === 'lr-0.5'"
    )
    # add the 'C' param of the model run as a column
    page.locator(".jp-mltrack-ToolButton", has_text="Columns").click()
    picker = page.locator(".jp-mltrack-ColumnPicker")
    picker.locator("label[title='params.C'] input").check()
    picker.locator("button", has_text="Apply").click()
    head = page.locator(".jp-mltrack-RunTable-head[data-column='params.C']")
    head.wait_for()
    assert row(page, "with-model").locator("[data-column='params.C']").inner_text() == "1.0"


# run view -------------------------------------------------------------------------------------


def test_run_view_metric_chart_and_image_artifact(page: Any, live_runs: LiveObservations) -> None:
    choose_experiment(page, LIVE_EXPERIMENT)
    open_run(page, "lr-0.2")
    view = page.locator(".jp-mltrack-RunView")
    assert view.locator(".jp-mltrack-KeyValue", has_text="optimizer").count() >= 1
    snap(page, "run-overview")

    tab(page, "Metrics")
    chart = view.locator(".jp-mltrack-MetricChart[data-metric='loss']")
    chart.locator(".main-svg").first.wait_for()
    # one line of 30 points: plotly draws it as one path in the scatter layer
    chart.locator(".scatterlayer .trace path.js-line").first.wait_for()
    assert "30 points" in chart.locator(".jp-mltrack-MetricChart-foot").inner_text()
    assert view.locator(".jp-mltrack-SingleValue[data-metric='accuracy']").count() == 1
    # log scale and smoothing redraw the same chart
    view.locator(".jp-mltrack-ChartControls input[type='checkbox']").check()
    chart.locator(".yaxislayer-above").first.wait_for()
    snap(page, "run-metrics", readme=True)

    tab(page, "Artifacts")
    view.locator(".jp-mltrack-ArtifactTree-item[data-path='plots']").click()
    view.locator(".jp-mltrack-ArtifactTree-item[data-path='plots/loss.png']").click()
    image = view.locator(".jp-mltrack-Preview-image img")
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100", arg=image.element_handle()
    )
    snap(page, "run-artifact-image", readme=True)

    view.locator(".jp-mltrack-ArtifactTree-item[data-path='config.json']").click()
    # JSON in JupyterLab's own JSON viewer
    view.locator(".jp-mltrack-Preview[data-path='config.json'] .jp-RenderedJSON").wait_for()
    view.locator(".jp-mltrack-Preview[data-path='config.json']", has_text="steps").wait_for()

    tab(page, "Cells")
    card = view.locator(".jp-mltrack-CellCard[data-cell-id='train']")
    card.wait_for()
    assert "def train" in card.locator(".jp-mltrack-CellCard-source").inner_text()
    snap(page, "run-cells")


# compare --------------------------------------------------------------------------------------


def test_compare_three_runs(page: Any, live_runs: LiveObservations) -> None:
    choose_experiment(page, LIVE_EXPERIMENT)
    row(page, "lr-0.5").click()
    row(page, "lr-0.2").click(modifiers=["Control"])
    row(page, "lr-0.1").click(modifiers=["Control"])
    assert "3 selected" in page.locator(".jp-mltrack-Sidebar-count").inner_text()
    page.locator(".jp-mltrack-compare-button").click()

    view = page.locator(".jp-mltrack-CompareView[data-runs='3']")
    view.wait_for()
    headers = view.locator(".jp-mltrack-CompareTable thead th").all_inner_texts()
    assert {"lr-0.5", "lr-0.2", "lr-0.1"} <= {h.strip() for h in headers}
    assert view.locator("tr[data-key='params.batch_size']").count() == 1
    view.locator(".jp-mltrack-CompareTable-toggle input").check()
    view.locator("tr[data-key='params.batch_size']").wait_for(state="detached")
    assert view.locator("tr[data-key='params.lr']").count() == 1
    snap(page, "compare-table")

    tab(page, "Metric curves")
    curves = view.locator(".jp-mltrack-Curves")
    curves.locator(".main-svg").first.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-mltrack-Curves .scatterlayer .trace').length === 3"
    )
    snap(page, "compare-curves", readme=True)

    tab(page, "Parallel coordinates")
    view.locator(".jp-mltrack-Parallel .main-svg").first.wait_for()
    assert view.locator(".jp-mltrack-Parallel .parcoords").count() >= 1
    snap(page, "compare-parallel")

    tab(page, "Scatter")
    view.locator(".jp-mltrack-Scatter .scatterlayer .trace").first.wait_for()
    snap(page, "compare-scatter")


# notebook -------------------------------------------------------------------------------------


def test_jump_from_run_to_its_cell(page: Any, live_runs: LiveObservations) -> None:
    choose_experiment(page, LIVE_EXPERIMENT)
    row(page, "lr-0.2").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Open the notebook at the run").click()
    # the notebook opens (it is not open in this page) with the run's first cell active
    active = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active")
    active.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-Cell.jp-mod-active')?.textContent.includes('def train')"
    )
    assert page.locator(".lm-DockPanel-tabBar .lm-mod-current", has_text="live.ipynb").count() == 1
    snap(page, "jump-to-cell")

    # and from the run view's Cells tab, the last-run cell of lr-0.1
    open_run(page, "lr-0.1")
    tab(page, "Cells")
    card = page.locator(".jp-mltrack-RunView .jp-mltrack-CellCard[data-cell-id='last-run']")
    card.locator(".jp-mltrack-jump").click()
    page.wait_for_function(
        "() => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-Cell.jp-mod-active')?.textContent.includes('until_stopped=True')"
    )


# registry -------------------------------------------------------------------------------------


def _registry_served(lab: LabServer) -> bool:
    try:
        lab.get_json("mltrack/api/registered-models")
    except urllib.error.HTTPError as error:
        return error.code != 404
    return True


def test_register_a_model_and_set_an_alias(
    page: Any, lab: LabServer, live_runs: LiveObservations
) -> None:
    if not _registry_served(lab):
        pytest.skip("the server does not serve the registry routes yet")
    choose_experiment(page, LIVE_EXPERIMENT)
    open_run(page, "with-model")
    tab(page, "Data & models")
    register = page.locator(".jp-mltrack-RunView .jp-mltrack-register").first
    if register.count() == 0:
        pytest.skip("this build has no mlt.log_model: the run logged no model to register")
    snap(page, "run-models")
    register.click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("ui-classifier")
    dialog.locator(".jp-mod-accept").click()
    page.locator(".jp-toast-message", has_text="Registered ui-classifier version 1").wait_for()

    page.locator(".jp-mltrack-Sidebar-title .jp-mltrack-ToolButton", has_text="Registry").click()
    registry = page.locator(".jp-mltrack-Registry")
    registry.locator("li[data-model='ui-classifier']").click()
    version = registry.locator(".jp-mltrack-VersionDetail[data-version='1']")
    version.wait_for()
    # a bad alias gets the server's complaint, in place
    version.locator(".jp-mltrack-AliasInput").fill("not an alias!")
    version.locator("button", has_text="Set alias").click()
    version.locator(".jp-mltrack-Error").wait_for()
    version.locator(".jp-mltrack-AliasInput").fill("champion")
    version.locator("button", has_text="Set alias").click()
    version.locator(".jp-mltrack-Alias[data-alias='champion']").wait_for()
    registry.locator("li[data-model='ui-classifier']", has_text="@champion→v1").wait_for()
    # the server agrees
    answer = lab.get_json("mltrack/api/registered-models/ui-classifier/aliases/champion")
    assert str(answer["model_version"]["version"]) == "1"
    # the lineage goes back to the run
    assert "with-model" in version.locator(".jp-mltrack-KeyValue").first.inner_text()
    # a comment with an approval lands in the review trail, newest first, with the alias change
    reviews = version.locator(".jp-mltrack-Reviews")
    reviews.locator("textarea").fill("Holdout accuracy checked; ship it.")
    reviews.locator("select").select_option("APPROVED")
    reviews.locator("button[type='submit']").click()
    review = reviews.locator(".jp-mltrack-Events li[data-kind='review']")
    review.wait_for()
    assert "Holdout accuracy checked; ship it." in review.inner_text()
    assert (
        review.locator(".jp-mltrack-Approval[data-approval='APPROVED']").inner_text() == "approved"
    )
    assert reviews.locator(".jp-mltrack-Events li").first.get_attribute("data-kind") == "review"
    assert (
        "@champion" in reviews.locator(".jp-mltrack-Events li[data-kind='set_alias']").inner_text()
    )
    reviews.scroll_into_view_if_needed()
    snap(page, "registry", readme=True)


# the demo notebook ----------------------------------------------------------------------------


def test_demo_notebook_runs_cleanly_in_jupyterlab(demo_runs: DemoRun) -> None:
    assert not demo_runs.errors, f"the demo notebook failed:\n{demo_runs.errors[0][-3000:]}"


def test_demo_notebook_runs_show_as_a_tree_with_a_rendered_snapshot(
    page: Any, demo_runs: DemoRun
) -> None:
    choose_experiment(page, demo_runs.experiment)
    parent = row(page, "grid-search")
    parent.wait_for()
    # nested runs sit under their parent, indented
    child = page.locator(".jp-mltrack-RunTable-row", has_text="svc C=1.0").first
    child.wait_for()
    parent_indent = parent.locator(".jp-mltrack-RunTable-name").evaluate(
        "n => parseFloat(getComputedStyle(n).paddingLeft)"
    )
    child_indent = child.locator(".jp-mltrack-RunTable-name").evaluate(
        "n => parseFloat(getComputedStyle(n).paddingLeft)"
    )
    assert child_indent > parent_indent
    widen_sidebar(page, 860)
    snap(page, "sidebar", readme=True, locator=page.locator(".jp-mltrack-SidebarWidget"))
    widen_sidebar(page, 560)

    open_run(page, "grid-search")
    tab(page, "Artifacts")
    view = page.locator(".jp-mltrack-RunView")
    notebooks = view.locator(".jp-mltrack-ArtifactTree-item[data-path='notebook']")
    if notebooks.count():
        notebooks.click()
        snapshot = view.locator(".jp-mltrack-ArtifactTree-item[data-path$='.ipynb']").first
        snapshot.click()
        view.locator(".jp-mltrack-NotebookPreview .jp-RenderedMarkdown").first.wait_for()
        snap(page, "run-notebook-artifact")


# scale ----------------------------------------------------------------------------------------


def test_sidebar_pages_through_10000_runs(browser: Any, big_lab: LabServer) -> None:
    from lab import open_lab

    page = open_lab(browser, big_lab)
    try:
        choose_experiment(page, "big-sweep")
        page.locator(".jp-mltrack-RunTable-row").first.wait_for()
        assert "10,000 runs" in page.locator(".jp-mltrack-Sidebar-count").inner_text()
        # virtualised: a few dozen rows exist in the page, not ten thousand
        assert page.locator(".jp-mltrack-RunTable-row").count() < 120
        snap(page, "sidebar-10k", locator=page.locator(".jp-mltrack-SidebarWidget"))
        # scrolling to the end of what is loaded fetches the next page
        loaded = page.evaluate(
            "() => document.querySelector('.jp-mltrack-RunTable-body').offsetHeight"
        )
        page.locator(".jp-mltrack-RunTable").evaluate("t => { t.scrollTop = t.scrollHeight; }")
        page.wait_for_function(
            "h => document.querySelector('.jp-mltrack-RunTable-body').offsetHeight > h",
            arg=loaded,
        )
        # sorting ten thousand runs by a metric is the server's job (shown flat: a tree would
        # put a child under its parent, whatever its value)
        page.locator(".jp-mltrack-ToolButton[aria-pressed='true'][title*='flat']").click()
        page.locator(".jp-mltrack-RunTable-head[data-column='metrics.accuracy']").click()
        page.locator(".jp-mltrack-RunTable-head[data-column='metrics.accuracy']").click()
        first_accuracy = (
            "() => document.querySelector("
            "'.jp-mltrack-RunTable-row [data-column=\"metrics.accuracy\"]'"
            ")?.textContent.trim()"
        )
        page.wait_for_function(f"{first_accuracy} === '0.949'")
    finally:
        page.context.close()


def test_compare_100_runs(browser: Any, big_lab: LabServer) -> None:
    from lab import execute, open_lab

    experiments = big_lab.get_json("mltrack/api/experiments")["experiments"]
    big = next(e["experiment_id"] for e in experiments if e["name"] == "big-sweep")
    runs = big_lab.get_json(f"mltrack/api/runs?experiment_id={big}&max_results=100")["runs"]
    page = open_lab(browser, big_lab)
    try:
        execute(page, "mltrack:compare-runs", {"runIds": [r["run_id"] for r in runs]})
        view = page.locator(".jp-mltrack-CompareView[data-runs='100']")
        view.wait_for()
        assert view.locator(".jp-mltrack-CompareTable thead th").count() == 101
        tab(page, "Metric curves")
        page.wait_for_function(
            "() => document.querySelectorAll('.jp-mltrack-Curves .scatterlayer .trace')"
            ".length === 100"
        )
        tab(page, "Parallel coordinates")
        view.locator(".jp-mltrack-Parallel .main-svg").first.wait_for()
        snap(page, "compare-100-parallel")
    finally:
        page.context.close()


def test_settings_schema_is_served(lab: LabServer) -> None:
    settings = lab.get_json("lab/api/settings/jupyter-mltrack:plugin")
    schema = settings["schema"]
    properties = json.loads(schema) if isinstance(schema, str) else schema
    assert {"refreshInterval", "defaultColumns", "chartPoints"} <= set(properties["properties"])
