"""The inline widgets in a real JupyterLab, driven in headless Chromium.

A notebook logs a few runs, then shows each widget: the run table, a comparison, a live chart
of a run that trains in the next cell, an artifact browser and the registration form. The test
sorts the table by clicking a header, selects rows and compares them, ticks "only differences",
registers a model, and saves screenshots of each widget in the light and the dark theme to
``ui-tests/screenshots/`` (look at them: a test cannot tell a readable chart from an unreadable
one).

The widgets' notebook uses its own embedded store (``widget-store`` in the lab's folder): the
lab's store belongs to its tracking server, whose REST client has no model registry yet, and the
registration form needs one. The widgets through the server are covered by
``tests/test_widgets_server.py``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
from lab import DARK, LIGHT, LabServer, set_theme  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SLOW_MS = 180_000  # a cold kernel importing plotly on a loaded 2-core machine

SETUP = """\
import numpy as np
from sklearn.linear_model import LogisticRegression

import jupyter_mltrack as mlt
from jupyter_mltrack import widgets
from jupyter_mltrack.models.fluent import log_model

mlt.set_store("widget-store")  # embedded: see the test's docstring
mlt.set_experiment("browser")
ids = []
grid = [(0.1, "sgd"), (0.01, "sgd"), (0.1, "adam"), (0.001, "adam")]
for i, (lr, optimizer) in enumerate(grid):
    with mlt.start_run(run_name=f"run-{i}") as run:
        mlt.log_params({"lr": lr, "optimizer": optimizer, "epochs": 10})
        mlt.log_metric_series("loss", np.exp(-lr * 20 * np.arange(60)) + 0.05 * i)
        mlt.log_metric("accuracy", 0.95 - 0.05 * i)
        picture = np.outer(np.linspace(0, 255, 48), np.ones(96)).astype(np.uint8)
        mlt.log_image(picture, "plots/gradient.png")
        mlt.log_text(f"run {i}: lr={lr} optimizer={optimizer}", "notes.txt")
        mlt.log_table({"class": ["a", "b"], "recall": [0.9, 0.8 - i / 10]}, "scores.csv")
        if i == 0:
            x = np.random.default_rng(0).random((30, 2))
            log_model(LogisticRegression().fit(x, x[:, 0] > 0.5), "classifier")
        ids.append(run.info.run_id)
"""
CELLS = [
    SETUP,
    "table = widgets.RunTable(\n"
    "    columns=['run_name', 'metrics.accuracy', 'params.lr', 'params.optimizer', 'status'],\n"
    ")\n"
    "table",
    "compare = widgets.Compare(ids[:3], metric='loss')\ncompare",
    "mlt.set_experiment('browser-live')  # keeps the table's experiment as it was\n"
    "live_run = mlt.start_run(run_name='live')\n"
    "live = widgets.LiveMetrics(live_run, ['loss', 'accuracy'], interval=0.3)\n"
    "live",
    "import time\n"
    "for step in range(40):\n"
    "    mlt.log_metrics({'loss': 1 / (step + 1), 'accuracy': step / 40}, step=step)\n"
    "    time.sleep(0.05)\n"
    "mlt.end_run()",
    "widgets.Artifacts(ids[0], 'plots/gradient.png')",
    "widgets.Register(ids[0], name='browser-model', alias='champion')",
]


def write_notebook(folder: Path) -> str:
    cells = [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
         "outputs": [], "source": source}
        for i, source in enumerate(CELLS)
    ]  # fmt: skip
    name = f"widgets-{uuid.uuid4().hex[:8]}.ipynb"  # a fresh name: no kernel to re-attach to
    (folder / name).write_text(
        json.dumps(
            {
                "nbformat": 4,
                "nbformat_minor": 5,
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    },
                    "language_info": {"name": "python"},
                },
                "cells": cells,
            }
        )
    )
    return name


# ``lab`` (one JupyterLab for the session) and ``browser`` (one Chromium per module) come from
# conftest.py; the page is this module's own: no sidebar, and tall enough for the comparison,
# whose screenshot must not be cut by the viewport.
@pytest.fixture(scope="module")
def widgets_page(browser: Any, lab: LabServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(lab.lab_url())
    page.wait_for_selector("#jp-main-dock-panel", timeout=SLOW_MS)
    page.wait_for_function(
        "() => window.jupyterapp?.commands.hasCommand('apputils:change-theme')", timeout=SLOW_MS
    )
    page.evaluate("async () => { await window.jupyterapp.restored; }")  # plugins started
    set_theme(page, LIGHT)
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def shoot(page: Any, locator: Any, name: str) -> None:
    """Screenshots of ``locator`` in the light and the dark theme (then back to light)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for theme, suffix in ((LIGHT, "light"), (DARK, "dark")):
        set_theme(page, theme)
        locator.scroll_into_view_if_needed()
        path = SCREENSHOTS / f"widgets-{name}-{suffix}.png"
        locator.screenshot(path=str(path))
        assert path.stat().st_size > 2000
    set_theme(page, LIGHT)


def accept_kernel_dialog(page: Any) -> None:
    """Accept the "Select Kernel" dialog (its default is the notebook's kernel) if it comes."""
    accept = page.locator(".jp-Dialog .jp-mod-accept")
    try:
        accept.wait_for(state="visible", timeout=20_000)
    except playwright_api.TimeoutError:
        return  # no dialog this time
    accept.click()
    accept.wait_for(state="detached")


def cell_output(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")


def test_widgets_render_and_respond_in_jupyterlab(lab: LabServer, widgets_page: Any) -> None:
    page = widgets_page
    name = write_notebook(lab.root)
    page.evaluate(
        "path => { void window.jupyterapp.commands.execute('docmanager:open', "
        "{path, factory: 'Notebook'}); }",
        name,
    )
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    accept_kernel_dialog(page)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=SLOW_MS)
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    # the last cell's widget appears once every cell above it has run
    page.wait_for_selector(".mltrack-register", state="visible", timeout=SLOW_MS)
    errors = page.locator(".jp-Notebook .jp-OutputArea-output[data-mime-type*='error']")
    assert errors.count() == 0, errors.first.inner_text()

    # run table: click the accuracy header to sort ascending, again for descending
    table = cell_output(page, 1).locator(".mltrack-run-table")
    header = table.locator(".mltrack-grid button", has_text="metrics.accuracy")
    first_name = table.locator(".mltrack-grid .mltrack-cell").first

    header.click()
    page.wait_for_function(
        "b => b.textContent.includes('▲')", arg=header.element_handle(), timeout=30_000
    )
    assert re.fullmatch(r"run-3", first_name.inner_text())  # the least accurate first
    header.click()
    page.wait_for_function("b => b.textContent.includes('▼')", arg=header.element_handle())
    page.wait_for_function(
        "el => el.textContent === 'run-0'", arg=first_name.element_handle(), timeout=30_000
    )
    shoot(page, table, "run-table")
    # select two rows, then compare them from the table
    boxes = table.locator(".mltrack-grid .mltrack-check input")
    boxes.nth(0).check()
    boxes.nth(1).check()
    table.get_by_text("2 selected").wait_for(timeout=30_000)  # counted in the kernel
    table.get_by_role("button", name="compare selected").click()
    nested = table.locator(".mltrack-compare")
    nested.wait_for(timeout=SLOW_MS)
    assert "Comparing 2 runs: run-0, run-1" in nested.inner_text()

    # comparison: "only differences" hides the params every run shares
    compare = cell_output(page, 2).locator(".mltrack-compare").first
    params = compare.locator("table.mltrack-compare-params")
    assert params.locator("td", has_text="epochs").count() == 1
    compare.locator(".mltrack-only-differences input").check()
    params.locator("caption", has_text="2 of 3 shown").wait_for(timeout=30_000)
    assert params.locator("td", has_text="epochs").count() == 0
    assert compare.locator(".js-plotly-plot").count() == 3  # curves, scatter, parallel axes
    shoot(page, compare, "compare")

    # live chart: it followed the training cell and stopped when the run ended
    live = cell_output(page, 3).locator(".mltrack-live-metrics")
    live.get_by_text(re.compile(r"live · FINISHED · loss: 40 points")).wait_for(timeout=SLOW_MS)
    assert live.locator(".js-plotly-plot .scatterlayer .trace").count() == 2
    shoot(page, live, "live-metrics")

    # artifacts: the image is previewed; up to the root, and picking the CSV shows a table
    artifacts = cell_output(page, 5).locator(".mltrack-artifacts")
    artifacts.locator(".mltrack-artifact-preview img").wait_for()
    shoot(page, artifacts, "artifacts")
    listing = artifacts.locator(".mltrack-artifact-list select")
    artifacts.get_by_role("button", name="▲ up").click()  # from plots/ to the run's root
    listing.locator("option", has_text="scores.csv").wait_for(state="attached")
    labels = listing.locator("option").all_inner_texts()
    listing.select_option(index=next(i for i, t in enumerate(labels) if "scores.csv" in t))
    artifacts.locator(".mltrack-artifact-preview th", has_text="recall").wait_for()
    shoot(page, artifacts, "artifacts-table")

    # registration: the logged model is offered; registering answers in the form
    register = cell_output(page, 6).locator(".mltrack-register")
    offered = register.locator(".mltrack-register-model select").inner_text()
    assert "classifier (sklearn" in offered.replace("\xa0", " ")  # ipywidgets keeps spaces
    register.get_by_role("button", name="register").click()
    register.get_by_text("registered browser-model version 1 with alias @champion").wait_for()
    shoot(page, register, "register")
