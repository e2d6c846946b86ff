"""What a client, a kernel widget and the scoring server no longer take on trust.

Each test fails on the code before the fix: HTML artifacts with running scripts, run names read
as HTML by Plotly, a ``server.json`` anyone could write or a reused pid keeps alive, server paths
that leave the download cache, credentials of a git remote in run tags, uploads copied into place,
a scoring server answering any Host, and a registry audit trail naming whoever ``?user=`` says.
"""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import pytest
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack.widgets import Artifacts, Compare, LiveMetrics

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    monkeypatch.delenv("MLTRACK_SERVER_TOKEN", raising=False)


def _strings(value: object) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


# 8. HTML artifacts in kernel widgets ------------------------------------------------------------
def test_html_artifact_frame_runs_no_script(store: Path) -> None:  # noqa: F811 - fixture
    with mlt.start_run(run_name="page") as run:
        mlt.log_text("<p>hi</p><script>parent.alert(1)</script>", "page.html")
    browser = Artifacts(run.info.run_id, "page.html")
    live = browser._preview_box.children[0].value
    saved = browser.static_html()  # what the notebook keeps
    for html in (live, saved):
        assert '<iframe sandbox=""' in html
        assert "allow-scripts" not in html and "allow-same-origin" not in html


# run names in Plotly labels ---------------------------------------------------------------------
def test_run_names_and_keys_are_escaped_in_plotly_labels(store: Path) -> None:  # noqa: F811
    ids = []
    for i in range(2):
        with mlt.start_run(run_name=EVIL) as run:
            mlt.log_param("p", EVIL if i else "plain")
            mlt.log_param("lr", str(i))
            for step in range(3):
                mlt.log_metric("loss", 1.0 / (step + 1 + i), step=step)
        ids.append(run.info.run_id)
    compare = Compare(ids, metric="loss")
    compare.scatter_x = "params.p"
    for fig in (compare.curves, compare.scatter, compare.parallel):
        texts = _strings(json.loads(fig.to_json()))
        assert not any("<img" in t for t in texts), texts
    names = [t.name for t in compare.curves.data]
    assert names and all(n.startswith(ESCAPED) for n in names)
    assert all(t.startswith(ESCAPED) for t in compare.scatter.data[0].text)
    assert EVIL not in compare.static_html()

    live = LiveMetrics(ids[0], start=False)
    texts = _strings(json.loads(live.figure.to_json()))
    assert any(ESCAPED in t for t in texts) and not any("<img" in t for t in texts)
    assert isinstance(live.figure, go.FigureWidget)
