"""The ML Tracking sidebar introduces itself once per workspace.

On a fresh workspace (nothing saved in JupyterLab's state) the extension opens its sidebar, so
people find it; it records that in the workspace's state, and afterwards the workspace's own
layout (say, the file browser the user went back to) is left alone.

The page is opened directly, not through ``open_lab`` (which shows the sidebar itself), and each
test uses a workspace of its own, so nothing another test saved can hide the behaviour.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

from lab import LabServer

INTRODUCED = "jupyter-mltrack:plugin:introduced"
SIDEBAR = ".jp-mltrack-Sidebar"
FILE_BROWSER = "#filebrowser"


def open_workspace(browser: Any, lab: LabServer, workspace: str, reset: bool) -> Any:
    """A page with JupyterLab in ``workspace`` (fresh with ``reset``), once it has restored."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    path = f"lab/workspaces/{workspace}"
    url = lab.lab_url(path) if reset else f"{lab.url}{path}?token={lab.token}"
    page.goto(url)
    page.wait_for_function("() => window.jupyterapp", timeout=90_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")
    page.wait_for_function(
        "() => window.jupyterapp.commands.hasCommand('mltrack:show-sidebar')", timeout=60_000
    )
    return page


def saved_workspace(lab: LabServer, workspace: str) -> dict[str, Any]:
    """The workspace's data as the server holds it ({} before the first save)."""
    name = urllib.parse.quote(workspace)
    answer = lab.get_json(f"lab/api/workspaces/{name}")
    data = answer.get("data", {})
    return data if isinstance(data, dict) else {}


def wait_saved(lab: LabServer, workspace: str, check: Any, timeout: float = 30.0) -> None:
    """Wait until the saved workspace passes ``check`` (JupyterLab saves it after a delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check(saved_workspace(lab, workspace)):
            return
        time.sleep(0.3)
    raise AssertionError(f"workspace {workspace} never saved as expected")


def test_sidebar_is_shown_the_first_time(browser: Any, lab: LabServer) -> None:
    workspace = f"first-{uuid.uuid4().hex[:8]}"
    page = open_workspace(browser, lab, workspace, reset=True)
    try:
        # nobody asked for it: the extension shows its sidebar on a fresh workspace
        page.wait_for_selector(SIDEBAR, state="visible", timeout=20_000)
        wait_saved(lab, workspace, lambda data: data.get(INTRODUCED) is True)
    finally:
        page.context.close()


def test_sidebar_is_not_forced_on_a_workspace_that_has_seen_it(
    browser: Any, lab: LabServer
) -> None:
    workspace = f"again-{uuid.uuid4().hex[:8]}"
    page = open_workspace(browser, lab, workspace, reset=True)
    try:
        page.wait_for_selector(SIDEBAR, state="visible", timeout=20_000)
        # the user goes back to the file browser; the workspace remembers that
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute('filebrowser:activate'); }"
        )
        page.wait_for_selector(FILE_BROWSER, state="visible")
        wait_saved(
            lab,
            workspace,
            lambda data: (
                data.get(INTRODUCED) is True
                and data.get("layout-restorer:data", {}).get("left", {}).get("current")
                == "filebrowser"
            ),
        )
    finally:
        page.context.close()
    page = open_workspace(browser, lab, workspace, reset=False)
    try:
        page.wait_for_selector(FILE_BROWSER, state="visible")
        page.wait_for_timeout(1500)  # time enough for the extension to have (wrongly) acted
        assert page.locator(SIDEBAR).is_hidden()
    finally:
        page.context.close()
