"""A real JupyterLab for the UI tests and the UI benchmark: a ``jupyter lab`` subprocess on a free
loopback port with a known token, a temporary notebook folder and a temporary store, and a
headless Chromium (Debian's, driven by Python Playwright) pointed at it.

Nothing here is a test; ``conftest.py`` turns it into fixtures and ``bench/bench_ui.py`` uses it
directly.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Flags that keep Chromium quiet and working as root in a container (see TOOLCHAIN.md).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
LIGHT = "JupyterLab Light"
DARK = "JupyterLab Dark"


def chromium_path() -> str:
    """Debian's chromium on PATH; a clear error when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError(
            "chromium is not installed: apt-get update && apt-get install -y chromium"
        )
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LabServer:
    """A ``jupyter lab`` subprocess serving ``root`` with the store ``store``."""

    root: Path
    store: Path
    home: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 240.0) -> LabServer:
        """Start JupyterLab and wait until it and the mltrack API answer."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.store.mkdir(parents=True, exist_ok=True)
        settings = self.home / "lab-settings"
        workspaces = self.home / "lab-workspaces"
        settings.mkdir(parents=True, exist_ok=True)
        workspaces.mkdir(parents=True, exist_ok=True)
        # no "get notified about Jupyter news?" toast over the screenshots
        notification = settings / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True, exist_ok=True)
        (notification / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        env = {
            **os.environ,
            "MLTRACK_STORE": str(self.store),
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
            # kernels log often enough for the sidebar to look live
            "MLTRACK_FLUSH_INTERVAL": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("MLTRACK_SERVER_URL", "MLTRACK_SERVER_TOKEN", "JPY_SESSION_NAME"):
            env.pop(name, None)
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={workspaces}",
        ]
        self.log_path = self.home / "jupyter-lab.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - the subprocess writes to it until stop()
        self.process = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log_tail()}")
            try:
                self.get_json("mltrack/api/info")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{self.log_tail()}")

    def get_json(self, path: str) -> Any:
        """GET a JSON route of the server (with the token)."""
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def lab_url(self, path: str = "lab") -> str:
        """The URL that opens ``path`` logged in, with a fresh workspace."""
        sep = "&" if "?" in path else "?"
        return f"{self.url}{path}{sep}reset&token={self.token}"

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop JupyterLab (and its kernels) and wait for it to exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def launch_browser(playwright: Any) -> Any:
    """Headless Debian Chromium."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
    )


def open_lab(
    browser: Any, lab: LabServer, path: str = "lab", theme: str = LIGHT, sidebar_width: int = 560
) -> Any:
    """A new page with JupyterLab loaded, the mltrack sidebar shown, in ``theme``."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(lab.lab_url(path))
    page.wait_for_selector("#jp-main-dock-panel", timeout=90_000)
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands", timeout=60_000)
    page.wait_for_function(
        "() => window.jupyterapp.commands.hasCommand('mltrack:show-sidebar')", timeout=60_000
    )
    set_theme(page, theme)
    execute(page, "mltrack:show-sidebar")
    page.wait_for_selector(".jp-mltrack-Sidebar", state="visible")
    widen_sidebar(page, sidebar_width)
    return page


def widen_sidebar(page: Any, width: int) -> None:
    """Drag the left area's edge so the runs table has room (as a user would)."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box is None:
        return
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(width, y, steps=5)
    page.mouse.up()


def execute(page: Any, command: str, args: dict[str, Any] | None = None) -> None:
    """Run a JupyterLab command in the page and wait for it (its result stays in the page:
    commands return widgets, which cannot travel back to Python)."""
    page.evaluate(
        "async ([command, args]) => { await window.jupyterapp.commands.execute(command, args); }",
        [command, args or {}],
    )


def set_theme(page: Any, theme: str) -> None:
    """Switch JupyterLab's theme and wait until it applies."""
    execute(page, "apputils:change-theme", {"theme": theme})
    page.wait_for_function(
        "theme => document.body.dataset.jpThemeName === theme", arg=theme, timeout=30_000
    )
    # let styles and charts settle in the new colours
    page.wait_for_timeout(300)


def run_all_cells(page: Any, notebook: str) -> None:
    """Open ``notebook`` (a path under the server's root) and run all its cells."""
    execute(page, "docmanager:open", {"path": notebook, "factory": "Notebook"})
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    # Run only once the kernel has started: running earlier asks which kernel to start.
    page.evaluate(
        """async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            const kernel = panel.sessionContext.session?.kernel;
            if (!kernel) { throw new Error('the notebook has no kernel'); }
            await kernel.info;
        }"""
    )
    # not awaited: the command's promise settles only when every cell has finished
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
