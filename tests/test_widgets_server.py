"""The widgets through a tracking server: the same widgets, reading over its REST API.

A client of the server's store directory finds the running server (its ``server.json``) and talks
to it; the widgets only see the tracking API, so nothing in them changes.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from jupyter_mltrack.errors import MltrackError
from jupyter_mltrack.store.rest.store import RestStore
from jupyter_mltrack.tracking.client import MltrackClient
from jupyter_mltrack.widgets import Artifacts, Compare, LiveMetrics, RunTable

if TYPE_CHECKING:
    from conftest import TrackingServer


@pytest.fixture
def client(
    tracking_server: TrackingServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> MltrackClient:
    monkeypatch.setenv("MLTRACK_STORE", str(tmp_path / "not-used"))
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    monkeypatch.delenv("MLTRACK_SERVER_TOKEN", raising=False)
    found = MltrackClient(tracking_server.store_dir)
    assert isinstance(found.session.store, RestStore)  # through the server, not the file
    return found


def test_table_comparison_chart_and_artifacts_through_the_server(
    client: MltrackClient, tracking_server: TrackingServer
) -> None:
    exp = client.create_experiment(f"widgets-{uuid.uuid4().hex[:8]}")
    ids = []
    for i in range(5):
        run = client.create_run(exp, run_name=f"remote-{i}")
        run_id = run.info.run_id
        client.log_param(run_id, "depth", i % 2)
        client.log_metric_series(run_id, "loss", np.linspace(1, 0, 3000) + i)
        client.log_text(run_id, f"run {i}\n", "notes/summary.txt")
        if i < 4:
            client.set_terminated(run_id)
        ids.append(run_id)

    table = RunTable(
        experiment_ids=[exp],
        client=client,
        page_size=2,
        sort_column="params.depth",
        sort_ascending=True,
    )
    assert len(table.rows) == 2 and table.has_next_page
    assert [r["params.depth"] for r in table.rows] == ["0", "0"]
    table.next_page()
    table.next_page()
    assert len(table.rows) == 1 and not table.has_next_page
    table._filter_box.value = "params.depth ="
    assert "Invalid filter" in table.error  # the server's 400 shows inline like the store's error
    table._filter_box.value = "params.depth = '1'"
    assert table.error == "" and len(table.rows) == 2
    table._select_all.value = True

    compare = Compare(table, client=client, max_points=100)
    assert sorted(compare.run_ids) == sorted([ids[1], ids[3]])
    assert [len(t.y) for t in compare.curves.data] == [100, 100]
    compare.only_differences = True
    assert compare.param_rows == []

    live = LiveMetrics(ids[4], client=client, interval=0.2, start=False)
    assert live.points == {"loss": 3000} and live.status == "RUNNING"
    client.log_metric(ids[4], "loss", -5.0, step=3000)
    assert live.refresh() and live.points == {"loss": 3001} and min(live.figure.data[0].y) == -5

    browser = Artifacts(ids[2], "notes/summary.txt", client=client)
    assert browser.preview["kind"] == "text" and browser.preview["text"] == "run 2\n"
    with pytest.raises(MltrackError, match="must not leave"):
        browser.navigate("../other")
    client.set_terminated(ids[4])
    assert tracking_server.server_errors() == []
