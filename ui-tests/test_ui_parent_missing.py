"""A run whose parent is not in the store (copied before its parent, or part of a partial import)
sits at the top level of the runs table with a visible note, while a nested run whose parent is
there stays under it.

The runs are logged with the stock MLflow client through the lab server's MLflow face, the way
a copy from another MLflow server would arrive. Screenshots (light and dark):
``ui-tests/screenshots/sidebar-parent-missing-*.png``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import choose_experiment, row, snap
from lab import LabServer

EXPERIMENT = "copied-runs"


@pytest.fixture(scope="module")
def copied_runs(lab: LabServer) -> Iterator[str]:
    """An experiment with a parent and its child, and a run whose parent never arrived; the
    missing parent's id is yielded."""
    from mlflow import MlflowClient
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_TOKEN", lab.token)
        mp.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        mp.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        client = MlflowClient(tracking_uri=f"{lab.url}mltrack")
        experiment_id = client.create_experiment(EXPERIMENT)
        parent = client.create_run(experiment_id, run_name="sweep")
        client.create_run(
            experiment_id, run_name="sweep-trial", tags={MLFLOW_PARENT_RUN_ID: parent.info.run_id}
        )
        missing = uuid.uuid4().hex
        client.create_run(
            experiment_id, run_name="copied-trial", tags={MLFLOW_PARENT_RUN_ID: missing}
        )
        yield missing


def _indent(row_locator: Any) -> float:
    return float(
        row_locator.locator(".jp-mltrack-RunTable-name").evaluate(
            "n => parseFloat(getComputedStyle(n).paddingLeft)"
        )
    )


def test_a_run_whose_parent_is_missing_is_a_top_level_row_with_a_note(
    page: Any, copied_runs: str
) -> None:
    choose_experiment(page, EXPERIMENT)
    orphan, parent, child = row(page, "copied-trial"), row(page, "sweep"), row(page, "sweep-trial")
    for item in (orphan, parent, child):
        item.wait_for()
    # the tree is on: the child sits under its parent, the copied run at the top level
    assert _indent(child) > _indent(parent)
    assert _indent(orphan) == _indent(parent)
    note = orphan.locator(".jp-mltrack-RunTable-orphan")
    assert note.inner_text().strip() == "parent missing"
    assert copied_runs in str(note.get_attribute("title"))
    assert note.is_visible()
    assert child.locator(".jp-mltrack-RunTable-orphan").count() == 0
    assert parent.locator(".jp-mltrack-RunTable-orphan").count() == 0
    # shown flat, the note stays: the parent is missing either way
    page.locator(".jp-mltrack-ToolButton[aria-pressed='true'][title*='flat']").click()
    orphan.locator(".jp-mltrack-RunTable-orphan").wait_for()
    page.locator(".jp-mltrack-ToolButton[aria-pressed='false'][title*='under']").click()
    snap(page, "sidebar-parent-missing", locator=page.locator(".jp-mltrack-SidebarWidget"))
