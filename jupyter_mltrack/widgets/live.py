"""``LiveMetrics``: a chart of a run's metrics that follows the run while it logs.

A background thread polls the run's metric histories (through the tracking API, so it sees what
this process logged, what another process logged, and what reached a tracking server) and
updates a plotly ``FigureWidget``. The kernel is never blocked: a training loop in the same cell
or another keeps running, and ipykernel sends widget updates from threads. Polling stops when the
run ends; the chart's last state then also replaces the static rendering saved in the notebook.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import ipywidgets as widgets
import numpy as np
from traitlets import Bool, Unicode

from ..entities import MetricHistory, RunStatus
from ..errors import MltrackError
from ..tracking.client import MltrackClient
from ..validation import check_key
from . import charts, data, static
from .base import StaticFallback
from .downsample import downsample

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 3600.0
X_AXES = ("step", "time")


class LiveMetrics(StaticFallback, widgets.VBox):
    """A live chart of a run's metrics.

    Parameters
    ----------
    run:
        The run (an id or a Run); by default the active run.
    keys:
        Metric keys to draw (a key or a list); by default every metric of the run, including
        ones it starts logging later.
    interval:
        Seconds between polls (0.1 to 3600).
    max_points:
        Points per curve at most: longer histories are downsampled (min and max per bucket)
        before they are sent to the browser.
    x:
        ``"step"`` or ``"time"`` (wall-clock time of each point).
    client:
        The :class:`~jupyter_mltrack.MltrackClient` to read through (default: the fluent API's).
    start:
        Start polling now (unless the run has already ended). ``refresh()`` polls once by hand.
    """

    running = Bool(False, help="Whether the chart is polling.")
    status = Unicode("", help="The run's status at the last poll.")

    def __init__(
        self,
        run: Any = None,
        keys: str | list[str] | None = None,
        *,
        interval: float = 1.0,
        max_points: int = charts.DEFAULT_MAX_POINTS,
        x: str = "step",
        client: MltrackClient | None = None,
        start: bool = True,
    ):
        if isinstance(interval, bool) or not isinstance(interval, (int, float)):
            raise MltrackError(f"interval must be a number of seconds, got {interval!r}")
        if not MIN_INTERVAL_S <= interval <= MAX_INTERVAL_S:
            raise MltrackError(
                f"interval must be {MIN_INTERVAL_S} to {MAX_INTERVAL_S} seconds, got {interval}"
            )
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 10:
            raise MltrackError(f"max_points must be an integer of at least 10, got {max_points!r}")
        if x not in X_AXES:
            raise MltrackError(f"x must be one of {', '.join(X_AXES)}, got {x!r}")
        if not isinstance(start, bool):
            raise MltrackError(f"start must be True or False, got {start!r}")
        if isinstance(keys, str):
            keys = [keys]
        if keys is not None:
            if not isinstance(keys, (list, tuple)) or not keys:
                raise MltrackError(f"keys must be a metric key or a non-empty list, got {keys!r}")
            keys = list(dict.fromkeys(check_key(k, "metric key") for k in keys))
        self._client = data.resolve_client(client)
        run_obj = data.resolve_run(self._client, run)
        self._run_id = run_obj.info.run_id
        self._run_name = run_obj.info.run_name
        self._fixed_keys = keys
        self.interval = float(interval)
        self._max_points = max_points
        self._x = x
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[str, tuple[int, float, float]] = {}
        self._points: dict[str, int] = {}
        self._traces: dict[str, int] = {}  # metric key -> index of its trace
        self._changes = 0
        self._changes_at_display = 0
        self._finalized = False
        self._problem = ""

        self.figure = charts.figure(
            f"{self._run_name or self._run_id[:8]}: live metrics",
            widget=True,  # updated trace by trace from the polling thread
            xaxis_title="step" if x == "step" else "time",
        )
        self._status_html = widgets.HTML()
        self._stop_button = widgets.Button(description="stop", layout=widgets.Layout(width="auto"))
        self._stop_button.on_click(lambda _b: self.stop())
        super().__init__(
            children=[self.figure, widgets.HBox([self._status_html, self._stop_button])]
        )
        self.add_class("mltrack-live-metrics")
        self.refresh()  # the chart shows what is there at once, before any poll
        if start and self.status not in RunStatus.TERMINAL:
            self.start()
        self._hook()

    # public API ----------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def metric_keys(self) -> list[str]:
        """The metric keys drawn so far."""
        return list(self._traces)

    @property
    def points(self) -> dict[str, int]:
        """Points each drawn metric has in the store (before downsampling)."""
        return dict(self._points)

    def refresh(self) -> bool:
        """Poll once: read the run's status and metric histories and redraw what changed.

        Returns
        -------
        bool
            Whether the chart changed.
        """
        with self._lock:
            run = self._client.get_run(self._run_id)  # flushes this process's buffer first
            keys = self._fixed_keys if self._fixed_keys is not None else sorted(run.data.metrics)
            changed = False
            for key in keys:
                if key not in run.data.metrics:
                    continue  # not logged yet
                hist = data.history(self._client, self._run_id, key)
                mark = _mark(hist)
                if self._seen.get(key) == mark:
                    continue
                self._seen[key], self._points[key] = mark, len(hist)
                self._draw(key, hist)
                changed = True
            self.status = run.info.status
            self._problem = ""
            if changed:
                self._changes += 1
            self._show_status()
            return changed

    def start(self) -> None:
        """Poll in the background every ``interval`` seconds until the run ends or ``stop()``."""
        old = self._thread
        if old is not None and old.is_alive():
            if not self._stop_event.is_set():
                return  # already polling
            old.join()  # stopping: let it finish its last poll, then start afresh
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._poll, name="mltrack-live-metrics", daemon=True)
        self.running = True
        self._thread.start()
        self._show_status()

    def stop(self) -> None:
        """Stop polling (the chart keeps what it shows)."""
        self._stop_event.set()
        self.running = False
        self._show_status()

    def close(self) -> None:
        if "_stop_event" in self.__dict__:  # not when __init__ refused its arguments
            self.stop()
            self._unhook()
        super().close()

    def static_html(self) -> str:
        return static.section(
            static.figure(self.figure),
            static.note(self._status_text()),
            css_class="mltrack-live-metrics",
        )

    def __repr__(self) -> str:
        return f"LiveMetrics(run={self._run_id!r}, keys={self.metric_keys}, running={self.running})"

    def _ipython_display_(self) -> None:
        self._changes_at_display = self._changes
        super()._ipython_display_()

    # polling -------------------------------------------------------------------------------
    def _poll(self) -> None:
        try:
            while not self._stop_event.wait(self.interval):
                try:
                    self.refresh()
                except MltrackError as exc:
                    # e.g. the store is busy or the server restarts: say so and try again
                    self._problem = exc.message
                    self._show_status()
                    continue
                except Exception as exc:  # noqa: BLE001 - a thread has nobody to raise to
                    self._problem = f"stopped: {type(exc).__name__}: {exc}"
                    self._show_status()
                    return
                if self.status in RunStatus.TERMINAL:
                    return  # the run ended: the chart is final
        finally:
            self.running = False
            self._show_status()

    def _draw(self, key: str, hist: MetricHistory) -> None:
        if self._x == "time":
            xs: Any = np.asarray(hist.timestamps, dtype="datetime64[ms]")
            xs, ys = downsample(xs.astype(np.int64), hist.values, self._max_points)
            xs = xs.astype("datetime64[ms]")
        else:
            xs, ys = downsample(hist.steps, hist.values, self._max_points)
        index = self._traces.get(key)
        if index is None:
            color = charts.PALETTE[len(self._traces) % len(charts.PALETTE)]
            self.figure.add_scatter(
                x=xs, y=ys, name=charts.plain(key), mode="lines", line={"color": color}
            )
            self._traces[key] = len(self.figure.data) - 1
            return
        with self.figure.batch_update():
            self.figure.data[index].x = xs
            self.figure.data[index].y = ys

    def _status_text(self) -> str:
        counts = ", ".join(f"{k}: {n} points" for k, n in self._points.items()) or "no metrics yet"
        state = f"polling every {self.interval:g} s" if self.running else "not polling"
        parts = [self._run_name or self._run_id, self.status, counts, state]
        if self._problem:
            parts.append(self._problem)
        return " · ".join(p for p in parts if p)

    def _show_status(self) -> None:
        self._status_html.value = static.note(self._status_text(), error=bool(self._problem))
        self._stop_button.disabled = not self.running

    # the final static rendering ----------------------------------------------------------------
    def _shell(self) -> Any:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - ipywidgets depends on IPython
            return None
        return get_ipython()

    def _hook(self) -> None:
        shell = self._shell()
        if shell is not None:
            shell.events.register("post_run_cell", self._after_cell)

    def _unhook(self) -> None:
        shell = self._shell()
        if shell is not None:
            try:
                shell.events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass  # already removed

    def _after_cell(self, *_args: Any) -> None:
        """After each cell: once the run has ended (or the chart stopped), save the chart's
        last state as the static rendering of each displayed copy."""
        if self._finalized:
            return
        if self.running:
            try:
                self.refresh()  # the poll thread may not have seen the end of the run yet
            except MltrackError:
                return  # try again after the next cell
            except Exception:  # logged: never fail the user's cells for a chart
                log.warning("jupyter-mltrack: live chart stopped", exc_info=True)
                self.stop()
                self._finalized = True
                self._unhook()
                return
            if self.status not in RunStatus.TERMINAL:
                return
            self.stop()
        self._finalized = True
        self._unhook()
        if self._changes != self._changes_at_display:
            self.refresh_static()


def _mark(hist: MetricHistory) -> tuple[int, float, float]:
    """What tells a changed history from an unchanged one without comparing every point."""
    if not len(hist):
        return (0, 0.0, 0.0)
    return (len(hist), float(hist.steps[-1]), float(hist.values[-1]))
