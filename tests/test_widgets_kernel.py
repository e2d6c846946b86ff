"""The widgets in a real kernel: a live chart that follows a training cell without blocking it,
and the demo notebook, executed, leaving static renderings for viewers without a kernel."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "widgets_demo.ipynb"
TIMEOUT_S = 240  # one cell at most, on a loaded 2-core machine
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def kernel_env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRACK_", "JPY_"))}
    env["MLTRACK_STORE"] = str(store)
    return env


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Any]:
    manager, client = start_new_kernel(
        kernel_name="python3", env=kernel_env(tmp_path / "store"), cwd=str(tmp_path)
    )
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def execute(client: Any, code: str) -> list[dict[str, Any]]:
    """Run ``code``; every iopub message until the kernel is idle again, whatever its parent
    (a thread's messages need not carry the cell's). Fails on an error in the cell."""
    msg_id = client.execute(code)
    seen = []
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=TIMEOUT_S)
        seen.append(msg)
        if msg["msg_type"] == "error":
            raise AssertionError("\n".join(msg["content"]["traceback"]))
        if (
            msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
            and msg["parent_header"].get("msg_id") == msg_id
        ):
            return seen
    raise AssertionError(f"the cell did not finish in {TIMEOUT_S} s: {code}")


def printed(messages: list[dict[str, Any]]) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")


@pytest.mark.slow
def test_live_chart_follows_a_training_cell_without_blocking_it(kernel: Any) -> None:
    shown = execute(
        kernel,
        "import jupyter_mltrack as mlt\n"
        "from jupyter_mltrack import widgets\n"
        "run = mlt.start_run(run_name='live')\n"
        "live = widgets.LiveMetrics(run, 'loss', interval=0.2)\n"
        "display(live)\n"
        "print('FIGURE', live.figure.model_id)",
    )
    figure_id = re.search(r"FIGURE (\w+)", printed(shown)).group(1)  # type: ignore[union-attr]
    (display,) = [m for m in shown if m["msg_type"] == "display_data"]
    assert WIDGET_VIEW in display["content"]["data"]
    assert "mltrack-live-metrics" in display["content"]["data"]["text/html"]
    display_id = display["content"]["transient"]["display_id"]

    # the loop waits for nothing but the chart itself: it runs until the chart has drawn 25
    # points, which only the polling thread can make happen while this cell is still running
    during = execute(
        kernel,
        "import time\n"
        "deadline, step = time.monotonic() + 90, 0\n"
        "def drawn():\n"
        "    return len(live.figure.data[0].y) if live.figure.data else 0\n"
        "while drawn() < 25 and time.monotonic() < deadline:\n"
        "    mlt.log_metric('loss', 1 / (step + 1), step=step)\n"
        "    step += 1\n"
        "    time.sleep(0.02)\n"
        "print('DRAWN', drawn(), 'LOGGED', step, 'RUNNING', live.running)",
    )
    assert "DRAWN" in printed(during)
    found = re.search(r"DRAWN (\d+) LOGGED (\d+) RUNNING True", printed(during))
    assert found is not None, printed(during)
    drawn, logged = int(found.group(1)), int(found.group(2))
    assert 25 <= drawn <= logged
    # the chart's updates reached the front end while the cell ran, before its output
    order = [m["msg_type"] for m in during]
    updates = [
        i
        for i, m in enumerate(during)
        if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == figure_id
    ]
    assert updates and updates[0] < order.index("stream")

    # ending the run stops the chart; after the cell, the displayed copy is replaced by one whose
    # static rendering holds the final chart (what nbconvert and viewers keep)
    ended = execute(kernel, "mlt.end_run()")
    (update,) = [m for m in ended if m["msg_type"] == "update_display_data"]
    assert update["content"]["transient"]["display_id"] == display_id
    html = update["content"]["data"]["text/html"]
    assert f"live · FINISHED · loss: {logged} points · not polling" in html
    assert 'class="plotly-graph-div"' in html
    assert "RUNNING False" in printed(execute(kernel, "print('RUNNING', live.running)"))


@pytest.mark.slow
def test_demo_notebook_leaves_static_tables_and_figures(tmp_path: Path) -> None:
    nb = nbformat.read(DEMO, as_version=4)
    # saved the way JupyterLab saves by default: outputs, without widget state
    NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute(env=kernel_env(tmp_path / "store"))
    displays = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "display_data"
    ]
    assert len(displays) == 5  # table, comparison, live chart, artifacts, registration
    for out in displays:
        assert WIDGET_VIEW in out.data and out.data["text/html"].strip()

    html, _ = HTMLExporter().from_notebook_node(nb)
    # a viewer without a widget manager shows the static renderings, not empty boxes
    assert 'type="application/vnd.jupyter.widget-view+json"' not in html
    table = re.search(r'<table class="mltrack-run-table-static".*?</table>', html, re.S)
    assert table is not None
    rows = re.findall(r"<tr>.*?</tr>", table.group(0).split("<tbody>")[1], re.S)
    assert len(rows) == 4 and all("sgd l" in row for row in rows)
    assert "sorted by metrics.accuracy" in table.group(0)
    assert 'class="mltrack-compare-params"' in html and "params: 2 of 2 shown" in html
    assert html.count('class="plotly-graph-div"') == 4  # 3 in the comparison, 1 live chart
    assert re.search(r"live sgd · FINISHED · loss: 40 points", html)
    assert "artifacts of sgd" in html and "confusion.png" in html
    assert "data:image/png;base64," in html
    assert "models of run sgd" in html and "models:/m-" in html
