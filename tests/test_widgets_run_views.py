"""The widgets about one run: the live chart, the artifact browser and the registration form.

Checked through their models from Python on a real embedded store (a kernel and a browser drive
them in test_widgets_kernel.py and ui-tests/).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from tracking_fixtures import store  # noqa: F401 - fixture

import jupyter_mltrack as mlt
from jupyter_mltrack.errors import ErrorCode, MltrackError
from jupyter_mltrack.models.fluent import log_model, model_registry
from jupyter_mltrack.widgets import Artifacts, LiveMetrics, Register

WAIT_S = 60.0  # generous: a loaded 2-core machine


def wait_for(predicate, what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLTRACK_SERVER_URL", raising=False)
    monkeypatch.delenv("MLTRACK_SERVER_TOKEN", raising=False)


# live metrics ----------------------------------------------------------------------------------
def test_refresh_draws_what_was_logged_since(store: Path) -> None:
    run = mlt.start_run(run_name="training")
    mlt.log_metric("loss", 1.0, step=0)
    live = LiveMetrics(start=False)  # the active run
    assert live.run_id == run.info.run_id and not live.running
    assert live.metric_keys == ["loss"] and live.points == {"loss": 1}
    for step in range(1, 5):
        mlt.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
    assert live.refresh() is True  # reads through the buffer: no flush needed by the caller
    assert live.metric_keys == ["loss", "acc"] and live.points == {"loss": 5, "acc": 4}
    loss = live.figure.data[0]
    assert loss.name == "loss" and list(loss.x) == [0, 1, 2, 3, 4]
    assert list(loss.y) == pytest.approx([1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5])
    assert live.refresh() is False  # nothing new: nothing sent
    assert "loss: 5 points" in live._status_html.value and "RUNNING" in live._status_html.value
    mlt.end_run()
    live.refresh()
    assert live.status == "FINISHED"
    html = live.static_html()
    assert 'class="plotly-graph-div"' in html and "FINISHED" in html


def test_chosen_keys_time_axis_and_downsampling(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_metric_series("loss", np.linspace(5, 0, 50_000))
        mlt.log_metric("lr", 0.1)
    live = LiveMetrics(run, "loss", x="time", max_points=200)
    assert not live.running  # the run had ended: nothing to follow
    (trace,) = live.figure.data
    assert live.metric_keys == ["loss"] and live.points == {"loss": 50_000}
    assert len(trace.y) <= 200 and max(trace.y) == 5.0 and min(trace.y) == 0.0
    assert np.asarray(trace.x).dtype.kind == "M"  # wall-clock datetimes on the time axis


def test_polls_in_the_background_while_this_thread_logs(store: Path) -> None:
    run = mlt.start_run()
    live = LiveMetrics(run, ["loss"], interval=0.1)
    assert live.running
    step = 0

    def drawn() -> int:
        data = live.figure.data
        return len(data[0].y) if data else 0

    deadline = time.monotonic() + WAIT_S
    # the loop never waits on the chart: it logs, and the chart catches up on its own thread
    while drawn() < 30 and time.monotonic() < deadline:
        mlt.log_metric("loss", 1.0 / (step + 1), step=step)
        step += 1
        time.sleep(0.01)
    assert drawn() >= 30 and live.running
    assert any(t.name == "mltrack-live-metrics" for t in threading.enumerate())
    mlt.end_run()
    wait_for(lambda: not live.running, "the chart to stop when the run ended")
    assert live.status == "FINISHED" and live.points["loss"] == step
    assert len(live.figure.data[0].y) == step  # the last poll drew every point
    assert "not polling" in live._status_html.value
    live.close()


def test_stop_and_close_end_the_thread(store: Path) -> None:
    with mlt.start_run() as run:
        live = LiveMetrics(run, interval=0.1)
        assert live.running and not live._stop_button.disabled
        live._stop_button.click()
        wait_for(lambda: live._thread is not None and not live._thread.is_alive(), "stop")
        assert not live.running and live._stop_button.disabled
        live.start()
        assert live.running
        live.stop()
        live.start()  # at once: the stopping thread is waited for, not mistaken for a live one
        assert live.running and live._thread.is_alive() and not live._stop_event.is_set()
        live.close()
        wait_for(lambda: live._thread is not None and not live._thread.is_alive(), "close")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, "interval must be"),
        ({"interval": "1"}, "interval must be a number"),
        ({"interval": 10_000}, "interval must be"),
        ({"max_points": 3}, "max_points must be"),
        ({"x": "epoch"}, "x must be one of step, time"),
        ({"keys": []}, "keys must be a metric key or a non-empty list"),
        ({"keys": ["ok", ""]}, "metric key"),
        ({"keys": 5}, "keys must be"),
        ({"start": "yes"}, "start must be True or False"),
        ({"run": 42}, "run must be a run id or a Run"),
    ],
)
def test_live_metrics_refuses_bad_arguments(
    store: Path,
    kwargs: dict,
    message: str,
) -> None:
    with mlt.start_run(), pytest.raises(MltrackError, match=message):
        LiveMetrics(**kwargs)


def test_no_active_run_and_unknown_runs(store: Path) -> None:
    with pytest.raises(MltrackError, match="no run is active") as info:
        LiveMetrics()
    assert info.value.code == ErrorCode.INVALID_STATE
    with pytest.raises(MltrackError) as info:
        LiveMetrics("0" * 32)
    assert info.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST


# artifacts -------------------------------------------------------------------------------------
@pytest.fixture
def artifact_run(store: Path, tmp_path: Path) -> str:
    """A run with one artifact of each kind a preview knows, and a few it does not."""
    with mlt.start_run(run_name="with-artifacts") as run:
        gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))
        mlt.log_image(gradient, "plots/gradient.png")
        mlt.log_text("line one\n<script>alert('x')</script>\n", "notes/report.txt")
        mlt.log_table(pd.DataFrame({"class": ["a", "<b>"], "recall": [0.5, 0.75]}), "eval.csv")
        mlt.log_table(pd.DataFrame({"k": [1, 2, 3]}), "eval.json")
        mlt.log_dict({"alpha": 0.1, "layers": [3, 4]}, "config.json")
        mlt.log_figure(go.Figure(go.Bar(x=["a"], y=[1])), "plots/bar.html")
        blob = tmp_path / "weights.bin"
        blob.write_bytes(bytes(range(256)) * 8)
        mlt.log_artifact(blob)
    return run.info.run_id


def test_browse_folders_and_preview_each_kind(artifact_run: str) -> None:
    browser = Artifacts(artifact_run)
    names = [e.path for e in browser.entries]
    assert names == ["notes", "plots", "config.json", "eval.csv", "eval.json", "weights.bin"]
    assert browser.preview is None and "select a file" in browser._preview_box.children[0].value
    assert browser._up_button.disabled
    # picked in the list, as the browser does: a folder opens
    browser._listing.value = "plots"
    assert browser.path == "plots" and not browser._up_button.disabled
    assert [e.path for e in browser.entries] == ["plots/bar.html", "plots/gradient.png"]
    assert "with-artifacts / plots" in browser._crumbs.value
    # a file is previewed: an image goes to an Image widget as PNG bytes
    browser._listing.value = "plots/gradient.png"
    assert browser.selected == "plots/gradient.png" and browser.preview["kind"] == "image"
    image = browser._preview_box.children[1]
    assert image.format == "png" and image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in browser.static_html()
    # an HTML artifact goes into a sandboxed frame, escaped into srcdoc
    browser.navigate("plots/bar.html")
    shown = browser._preview_box.children[0].value
    assert '<iframe sandbox=""' in shown and "allow-scripts" not in shown and "srcdoc=" in shown
    assert "<script" not in shown.split("srcdoc=", 1)[1].split(">", 1)[0]
    browser._up_button.click()
    assert browser.path == "" and browser.selected == ""
    # text, escaped
    browser.navigate("notes/report.txt")
    assert browser.path == "notes" and browser.preview["kind"] == "text"
    shown = browser._preview_box.children[0].value
    assert "&lt;script&gt;" in shown and "<script>" not in shown
    assert "&lt;script&gt;" in browser.static_html() and "<script>" not in browser.static_html()
    # tables: CSV, and the JSON layout log_table writes
    browser.navigate("eval.csv")
    assert browser.preview["columns"] == ["class", "recall"]
    assert browser.preview["rows"] == [["a", "0.5"], ["<b>", "0.75"]]
    assert "&lt;b&gt;" in browser._preview_box.children[0].value
    browser.navigate("eval.json")
    assert "<th" in browser._preview_box.children[0].value
    browser.navigate("config.json")
    assert browser.preview["data"] == {"alpha": 0.1, "layers": [3, 4]}
    assert "&quot;layers&quot;" in browser._preview_box.children[0].value
    browser.navigate("weights.bin")
    assert browser.preview["kind"] == "binary"
    assert "no preview" in browser._preview_box.children[0].value
    # the traits can be set from Python too
    browser.selected = "eval.csv"
    assert browser.preview["kind"] == "table"
    browser.path = "notes"
    assert browser.selected == "" and [e.path for e in browser.entries] == ["notes/report.txt"]
    assert repr(browser) == f"Artifacts(run={artifact_run!r}, path='notes', selected='')"


def test_artifact_paths_are_checked(artifact_run: str) -> None:
    browser = Artifacts(artifact_run, "plots/gradient.png")
    assert browser.path == "plots" and browser.selected == "plots/gradient.png"
    for bad, message in [
        ("../secret", "must not leave"),
        ("/etc/passwd", "must be relative"),
        (3, "must be a string"),
    ]:
        with pytest.raises(MltrackError, match=message):
            browser.navigate(bad)  # type: ignore[arg-type]
    with pytest.raises(MltrackError) as info:
        browser.navigate("plots/missing.png")
    assert info.value.code == ErrorCode.RESOURCE_DOES_NOT_EXIST
    assert browser.path == "plots" and browser.selected == "plots/gradient.png"
    with pytest.raises(MltrackError, match="must not leave"):
        Artifacts(artifact_run, "../x")


def test_a_run_without_artifacts(store: Path) -> None:
    with mlt.start_run() as run:
        pass
    browser = Artifacts(run)
    assert browser.entries == [] and "no artifacts here" in browser.static_html()


# registration ----------------------------------------------------------------------------------
@pytest.fixture
def model_run(store: Path) -> str:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    with mlt.start_run(run_name="trained") as run:
        log_model(LogisticRegression().fit(x, [0, 0, 1, 1]), "classifier")
    return run.info.run_id


def test_register_a_logged_model_with_a_new_name_and_an_alias(model_run: str) -> None:
    form = Register(model_run)
    ((label, uri),) = form.models
    assert label.startswith("classifier (sklearn") and uri.startswith("models:/m-")
    assert form._name_box.value == "classifier"  # the model's own name, to start with
    assert not form._button.disabled and form.message == ""
    # filled in and clicked, as in the browser
    form._name_box.value = "digits"
    form._alias_box.value = "champion"
    form._button.click()
    assert form.last_version is not None and form.last_version.version == "1"
    assert form.last_version.aliases == ["champion"]
    assert "registered digits version 1 with alias @champion" in form.message
    registry = model_registry()
    assert registry.get_version_by_alias("digits", "champion").version == "1"
    assert registry.get_model_version("digits", "1").run_id == model_run
    # the name is now offered; registering again makes version 2 and can move the alias
    assert "digits" in form._name_box.options
    again = Register(model_run)
    assert again.registered_names == ["digits"]
    version = again.register(name="digits", alias="champion")
    assert version.version == "2"
    assert registry.get_version_by_alias("digits", "champion").version == "2"
    assert "registered digits version 2" in again.static_html()


def test_bad_names_and_aliases_register_nothing(model_run: str) -> None:
    form = Register(model_run)
    for alias in ("latest", "v3", "12", "two words", "x" * 300):
        form._alias_box.value = alias
        form._button.click()
        assert form.last_version is None and "alias" in form.message
        assert "color:var(--jp-error-color1" in form._result.value
    form._alias_box.value = ""
    form._name_box.value = "  "
    form._button.click()
    assert "registered model name" in form.message and form.last_version is None
    assert model_registry().search_registered_models() == []
    for kwargs, message in [
        ({"alias": "latest"}, "reserved"),
        ({"alias": "a b"}, "letters, digits"),
        ({"name": ""}, "registered model name"),
        ({"client": object()}, "client must be an MltrackClient"),
    ]:
        with pytest.raises(MltrackError, match=message):
            Register(model_run, **kwargs)
    with pytest.raises(MltrackError, match="registered model name"):
        form.register(name="")


def test_a_run_without_models_says_so(store: Path) -> None:
    with mlt.start_run() as run:
        mlt.log_metric("acc", 1.0)
    form = Register(run)
    assert form.models == [] and form._button.disabled
    assert "logged no models" in form.message and "logged no models" in form.static_html()
    with pytest.raises(MltrackError, match="choose a model"):
        form.register(name="x")
