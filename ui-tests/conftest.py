"""Fixtures of the UI tests: one real JupyterLab for the session (tmp notebook folder, tmp store),
one headless Chromium, a fresh page per test, and the notebooks those tests watch run.

Run with ``.venv/bin/python -m pytest ui-tests -q`` (Debian's ``chromium`` must be installed).
Screenshots of every view, light and dark, land in ``ui-tests/screenshots/``; the README's in
``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from lab import (  # noqa: E402 - the helpers sit next to this file
    DARK,
    LIGHT,
    LabServer,
    execute,
    launch_browser,
    open_lab,
    run_all_cells,
    set_theme,
)
from notebooks import LIVE_EXPERIMENT, STOP_FILE, write_live_notebook  # noqa: E402

SCREENSHOTS = HERE / "screenshots"
README_SCREENSHOTS = REPO / "docs" / "screenshots"
DEMO_NOTEBOOK = REPO / "examples" / "demo.ipynb"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # each UI test drives a real browser: give them room on a slow machine
    for item in items:
        item.add_marker(pytest.mark.timeout(600))


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """JupyterLab with the extension, serving a folder with the live and demo notebooks."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    root.mkdir()
    write_live_notebook(root)
    if DEMO_NOTEBOOK.exists():
        shutil.copy(DEMO_NOTEBOOK, root / "demo.ipynb")
    server = LabServer(root=root, store=base / "store", home=base / "home").start()
    yield server
    server.stop()


# Browser fixtures are module-scoped: Playwright's sync API allows one instance at a time, and
# other test modules here start their own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, lab: LabServer) -> Iterator[Any]:
    """A fresh JupyterLab page (new workspace) with the mltrack sidebar shown."""
    page = open_lab(browser, lab)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def snap(page: Any, name: str, readme: bool = False, locator: Any = None) -> None:
    """Screenshot the page (or one element) in the light and the dark theme.

    Saved as ``ui-tests/screenshots/<name>-light.png`` and ``-dark.png``; with ``readme`` also
    under ``docs/screenshots/``. The page is left in the light theme.
    """
    SCREENSHOTS.mkdir(exist_ok=True)
    # toasts ("Registered …") would cover the view
    show_toasts = "show => document.querySelectorAll('.Toastify')"
    show_toasts += ".forEach(t => { t.style.display = show ? '' : 'none'; })"
    page.evaluate(show_toasts, False)
    for theme, suffix in ((LIGHT, "light"), (DARK, "dark")):
        set_theme(page, theme)
        # charts redraw in the new colours on the theme change
        page.wait_for_timeout(400)
        target = locator if locator is not None else page
        path = SCREENSHOTS / f"{name}-{suffix}.png"
        target.screenshot(path=str(path))
        # the README's copies change only on request, so a test run leaves the clone clean
        if readme and os.environ.get("MLTRACK_UPDATE_DOCS") == "1":
            README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, README_SCREENSHOTS / path.name)
    set_theme(page, LIGHT)
    page.evaluate(show_toasts, True)


def choose_experiment(page: Any, name: str) -> None:
    """Click an experiment in the sidebar (alone)."""
    item = page.locator(f".jp-mltrack-Experiments-item[data-experiment-name='{name}']")
    item.wait_for(timeout=60_000)
    if item.get_attribute("aria-selected") != "true":
        item.click()
    page.wait_for_function(
        "name => document.querySelector("
        "`.jp-mltrack-Experiments-item[data-experiment-name='${name}']`"
        ")?.getAttribute('aria-selected') === 'true'",
        arg=name,
    )


def record_failure(page: Any, lab: LabServer, name: str) -> None:
    """Keep what a failed flow looked like: a screenshot, and the server's log on stderr."""
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=str(SCREENSHOTS / f"failed-{name}.png"))
    except Exception as exc:  # noqa: BLE001 - the page may be gone; the log still helps
        print(f"no screenshot of the failure: {exc}", file=sys.stderr)
    print(f"--- jupyter lab log (last lines) ---\n{lab.log_tail(80)}", file=sys.stderr)


def save_notebook(page: Any) -> None:
    """Save the current notebook (so cell ids written by JupyterLab are on disk)."""
    execute(page, "docmanager:save")


def row(page: Any, run_name: str) -> Any:
    """The sidebar row of a run, by name."""
    return page.locator(f".jp-mltrack-RunTable-row[data-run-name='{run_name}']")


def cell_text(row_locator: Any, column: str) -> str:
    """The text in one column of a sidebar row (``metrics.loss``, ``params.lr`` …)."""
    return str(row_locator.locator(f"[data-column='{column}']").inner_text()).strip()


@dataclass
class LiveObservations:
    """What the sidebar showed while the live notebook ran (nobody pressed refresh)."""

    running_seen: bool = False
    loss_values: list[str] = field(default_factory=list)
    finished_seen: bool = False
    run_names: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def live_runs(browser: Any, lab: LabServer) -> LiveObservations:
    """Run ``live.ipynb`` in JupyterLab and watch its runs in the sidebar as they log.

    The notebook's last run logs until the stop file exists, so the sidebar is watched while
    that run is RUNNING: its row must appear, its loss value must change, and after the stop
    its status must turn FINISHED, all without a refresh.
    """
    page = open_lab(browser, lab)
    seen = LiveObservations()
    try:
        run_all_cells(page, "live.ipynb")
        choose_experiment(page, LIVE_EXPERIMENT)
        live_row = row(page, "lr-0.1")
        live_row.locator("[data-status='RUNNING']").wait_for(timeout=120_000)
        seen.running_seen = True
        # the loss column shows each new latest value as the kernel logs it
        deadline = time.monotonic() + 120
        while len(set(seen.loss_values)) < 3 and time.monotonic() < deadline:
            value = cell_text(live_row, "metrics.loss")
            if value and (not seen.loss_values or seen.loss_values[-1] != value):
                seen.loss_values.append(value)
            page.wait_for_timeout(200)
        snap(page, "sidebar-live")
        (lab.root / STOP_FILE).write_text("stop")
        live_row.locator("[data-status='FINISHED']").wait_for(timeout=120_000)
        seen.finished_seen = True
        # the last cell logs a model run; wait until every cell has run
        row(page, "with-model").locator("[data-status='FINISHED']").wait_for(timeout=180_000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-Notebook .jp-InputPrompt')]"
            ".every(p => /\\[\\d+\\]:/.test(p.textContent))",
            timeout=180_000,
        )
        save_notebook(page)
        seen.run_names = [
            str(name)
            for name in page.locator(".jp-mltrack-RunTable-row").evaluate_all(
                "rows => rows.map(r => r.dataset.runName)"
            )
        ]
    except Exception:
        record_failure(page, lab, "live")
        raise
    finally:
        page.context.close()
    return seen


@dataclass
class DemoRun:
    """The demo notebook after a run-all: its experiment and any error outputs."""

    experiment: str
    errors: list[str]


# Every code cell ran, or run-all stopped at an error: no cell waits ([*]) any more.
ALL_CODE_CELLS_DONE = """() => {
    const notebook = document.querySelector('.jp-Notebook');
    const prompts = [...notebook.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
    const busy = prompts.some(p => p.textContent.includes('*'));
    const stderr = 'application/vnd.jupyter.stderr';
    const failed = notebook.querySelector(`.jp-OutputArea-output[data-mime-type="${stderr}"]`);
    const numbered = prompts.every(p => /\\[\\d+\\]:/.test(p.textContent));
    return prompts.length > 0 && !busy && (failed !== null || numbered);
}"""


@pytest.fixture(scope="module")
def demo_runs(browser: Any, lab: LabServer) -> DemoRun:
    """Run the project's demo notebook in JupyterLab to the end (or its first error)."""
    if not DEMO_NOTEBOOK.exists():
        pytest.skip("examples/demo.ipynb does not exist yet")
    page = open_lab(browser, lab)
    try:
        run_all_cells(page, "demo.ipynb")
        page.wait_for_function(ALL_CODE_CELLS_DONE, timeout=300_000)
        stderr = "application/vnd.jupyter.stderr"
        outputs = page.locator(f".jp-OutputArea-output[data-mime-type='{stderr}']")
        errors = [t for t in outputs.all_inner_texts() if "Traceback" in t or "Error" in t]
        save_notebook(page)
    except Exception:
        record_failure(page, lab, "demo")
        raise
    finally:
        page.context.close()
    return DemoRun("digits-notebook", errors)


@pytest.fixture(scope="session")
def big_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A second JupyterLab whose store holds one experiment of 10,000 runs."""
    from big_store import make_big_store

    base = tmp_path_factory.mktemp("big")
    make_big_store(base / "store", 10_000)
    (base / "notebooks").mkdir()
    server = LabServer(root=base / "notebooks", store=base / "store", home=base / "home").start()
    yield server
    server.stop()
