"""``Compare``: runs side by side: their params and metrics, metric curves overlaid, a scatter of
one value against another, and parallel coordinates over all of them.

Curves are downsampled (min/max per bucket) before they leave the kernel, so comparing runs that
logged 100,000 steps each sends a few thousand points.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from traitlets import Bool, Unicode, observe, validate

from ..errors import MltrackError
from ..tracking.client import MltrackClient
from . import charts, data, static
from .base import StaticFallback

MAX_RUNS = 50
MAX_DIMENSIONS = 10  # params and metrics each, in parallel coordinates
_MISSING = ""


class Compare(StaticFallback, widgets.VBox):
    """Compare runs: params table (with "only differences"), curves, scatter, parallel coordinates.

    Parameters
    ----------
    runs:
        Run ids or Runs (at most 50), or a :class:`RunTable` (its selected runs).
    metric:
        The metric whose curves are drawn first (default: the first metric, alphabetically).
    max_points:
        Points per curve at most; longer histories are downsampled keeping each bucket's
        minimum and maximum.
    client:
        The :class:`~jupyter_mltrack.MltrackClient` to read through (default: the fluent API's).

    Attributes
    ----------
    curves, scatter, parallel:
        The three plotly figures as shown (``go.Figure``; they are redrawn when a control
        changes). They reach the browser as plotly's mime bundle in ``Output`` widgets, not
        as FigureWidgets, which would each ship plotly.js (5 MB) along.
    """

    only_differences = Bool(False, help="Show only the params and metrics that differ.")
    metric = Unicode("", help="The metric whose curves are overlaid.")
    scatter_x = Unicode("", help="The scatter plot's x axis: params.KEY or metrics.KEY.")
    scatter_y = Unicode("", help="The scatter plot's y axis: metrics.KEY.")

    def __init__(
        self,
        runs: Any,
        *,
        metric: str | None = None,
        max_points: int = charts.DEFAULT_MAX_POINTS,
        client: MltrackClient | None = None,
    ):
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 10:
            raise MltrackError(f"max_points must be an integer of at least 10, got {max_points!r}")
        if metric is not None and not isinstance(metric, str):
            raise MltrackError(f"metric must be a metric key, got {metric!r}")
        self._ready = False
        self._client = data.resolve_client(client)
        self._runs = data.resolve_runs(self._client, runs, MAX_RUNS)
        self._max_points = max_points
        self._labels = [charts.run_label(r, self._runs) for r in self._runs]
        self._colors = [charts.PALETTE[i % len(charts.PALETTE)] for i in range(len(self._runs))]
        self._param_keys = sorted({k for r in self._runs for k in r.data.params})
        self._metric_keys = sorted({k for r in self._runs for k in r.data.metrics})
        axes = [f"params.{k}" for k in self._param_keys]
        axes += [f"metrics.{k}" for k in self._metric_keys]

        self._only_box = widgets.Checkbox(description="only differences", indent=False)
        self._only_box.add_class("mltrack-only-differences")
        self._table_html = widgets.HTML()
        self._table_html.add_class("mltrack-compare-table")
        self._metric_pick = widgets.Dropdown(
            options=self._metric_keys, description="metric", layout=widgets.Layout(width="22em")
        )
        self._x_pick = widgets.Dropdown(
            options=axes, description="x", layout=widgets.Layout(width="22em")
        )
        self._y_pick = widgets.Dropdown(
            options=[f"metrics.{k}" for k in self._metric_keys],
            description="y",
            layout=widgets.Layout(width="22em"),
        )
        # plain figures shown through Output widgets: they change only when a control does
        self.curves = charts.figure("metric curves", xaxis_title="step")
        self.scatter = charts.figure("scatter")
        # axis titles sit above the axes: room for them under the figure's title
        self.parallel = charts.figure(
            "parallel coordinates", height=420, margin={"l": 70, "r": 40, "t": 90, "b": 30}
        )
        self._curves_out, self._scatter_out, self._parallel_out = (
            widgets.Output(layout=widgets.Layout(min_height=f"{f.layout.height}px"))
            for f in (self.curves, self.scatter, self.parallel)
        )
        names = ", ".join(self._labels[:6]) + (" …" if len(self._labels) > 6 else "")
        super().__init__(
            children=[
                widgets.HTML(static.heading(f"Comparing {len(self._runs)} runs: {names}")),
                self._only_box,
                self._table_html,
                self._metric_pick,
                self._curves_out,
                widgets.HBox([self._x_pick, self._y_pick]),
                self._scatter_out,
                self._parallel_out,
            ]
        )
        self.add_class("mltrack-compare")
        first_metric = self._metric_keys[0] if self._metric_keys else ""
        self.metric = metric if metric is not None else first_metric
        self.scatter_x = self._default_x()
        self.scatter_y = f"metrics.{self.metric}" if self.metric else ""
        self._ready = True
        self._draw_table()
        self._draw_curves()
        self._draw_scatter()
        self._draw_parallel()
        self._sync_controls()
        self._only_box.observe(self._from_control, names="value")
        self._metric_pick.observe(self._from_control, names="value")
        self._x_pick.observe(self._from_control, names="value")
        self._y_pick.observe(self._from_control, names="value")

    # public API ----------------------------------------------------------------------------
    @property
    def run_ids(self) -> list[str]:
        return [r.info.run_id for r in self._runs]

    @property
    def param_rows(self) -> list[tuple[str, list[str]]]:
        """The params table as shown: (key, value per run); only differing keys when
        ``only_differences`` is set."""
        rows = [(k, [r.data.params.get(k, _MISSING) for r in self._runs]) for k in self._param_keys]
        return [row for row in rows if not self.only_differences or _differs(row[1])]

    @property
    def metric_rows(self) -> list[tuple[str, list[str]]]:
        """The latest metric values as shown (formatted), like :attr:`param_rows`."""
        rows = [
            (k, [static.number(r.data.metrics.get(k)) for r in self._runs])
            for k in self._metric_keys
        ]
        return [row for row in rows if not self.only_differences or _differs(row[1])]

    def static_html(self) -> str:
        return static.section(
            static.heading(f"Comparing {len(self._runs)} runs"),
            self._tables_html(),
            static.figure(self.curves),
            static.figure(self.scatter),
            static.figure(self.parallel),
            css_class="mltrack-compare",
        )

    def __repr__(self) -> str:
        return f"Compare({len(self._runs)} runs, metric={self.metric!r})"

    # traits --------------------------------------------------------------------------------
    @validate("metric")
    def _valid_metric(self, proposal: Any) -> str:
        key: str = proposal["value"]
        if key and key not in self._metric_keys:
            raise MltrackError(
                f"none of the runs has a metric {key!r}; they have {self._metric_keys}"
            )
        return key

    @validate("scatter_x")
    def _valid_x(self, proposal: Any) -> str:
        key: str = proposal["value"]
        if key and self._values(key) is None:
            raise MltrackError(
                f"scatter_x must be params.KEY or metrics.KEY of the runs, got {key!r}"
            )
        return key

    @validate("scatter_y")
    def _valid_y(self, proposal: Any) -> str:
        key: str = proposal["value"]
        if key and (not key.startswith("metrics.") or self._values(key) is None):
            raise MltrackError(f"scatter_y must be metrics.KEY of the runs, got {key!r}")
        return key

    @observe("only_differences")
    def _on_only(self, change: Any) -> None:
        if self._ready:
            self._draw_table()
            self._sync_controls()

    @observe("metric")
    def _on_metric(self, change: Any) -> None:
        if self._ready:
            self._draw_curves()
            self._draw_parallel()
            self._sync_controls()

    @observe("scatter_x", "scatter_y")
    def _on_axes(self, change: Any) -> None:
        if self._ready:
            self._draw_scatter()
            self._sync_controls()

    def _from_control(self, change: Any) -> None:
        trait = {
            self._only_box: "only_differences",
            self._metric_pick: "metric",
            self._x_pick: "scatter_x",
            self._y_pick: "scatter_y",
        }[change["owner"]]
        if change["new"] is not None and getattr(self, trait) != change["new"]:
            setattr(self, trait, change["new"])

    def _sync_controls(self) -> None:
        self._only_box.value = self.only_differences
        for pick, value in (
            (self._metric_pick, self.metric),
            (self._x_pick, self.scatter_x),
            (self._y_pick, self.scatter_y),
        ):
            if value and pick.value != value:
                pick.value = value

    # values --------------------------------------------------------------------------------
    def _values(self, key: str) -> list[Any] | None:
        """Each run's value of ``params.KEY`` / ``metrics.KEY`` (None where missing); None if
        no run has it."""
        if key.startswith("params.") and key[7:] in self._param_keys:
            return [r.data.params.get(key[7:]) for r in self._runs]
        if key.startswith("metrics.") and key[8:] in self._metric_keys:
            return [r.data.metrics.get(key[8:]) for r in self._runs]
        return None

    def _default_x(self) -> str:
        differing = [k for k, vals in self.param_rows if _differs(vals)]
        numeric = [k for k in differing if _floats(self._values(f"params.{k}") or []) is not None]
        for choice in (numeric, differing, self._param_keys):
            if choice:
                return f"params.{choice[0]}"
        others = [k for k in self._metric_keys if k != self.metric]
        return f"metrics.{(others or self._metric_keys or [''])[0]}" if self._metric_keys else ""

    # drawing -------------------------------------------------------------------------------
    def _tables_html(self) -> str:
        headers = ["", *self._labels]
        parts = []
        for title, all_keys, rows in (
            ("params", self._param_keys, self.param_rows),
            ("metrics", self._metric_keys, self.metric_rows),
        ):
            if not all_keys:
                parts.append(static.note(f"no {title}"))
                continue
            differ = sum(_differs(values) for _, values in rows)
            caption = f"{title}: {len(rows)} of {len(all_keys)} shown"
            if not self.only_differences:
                caption += f" ({differ} differ)"
            if self.only_differences and not rows:
                parts.append(static.note(f"{title}: all runs agree"))
                continue
            marked = [i for i, (_, values) in enumerate(rows) if _differs(values)]
            parts.append(
                static.table(
                    headers,
                    [[key, *values] for key, values in rows],
                    caption=caption,
                    highlight=marked,
                    css_class=f"mltrack-compare-{title}",
                )
            )
        return "".join(parts)

    def _draw_table(self) -> None:
        self._table_html.value = self._tables_html()

    def _draw_curves(self) -> None:
        traces = []
        if self.metric:
            for run, label, color in zip(self._runs, self._labels, self._colors):
                if self.metric not in run.data.metrics:
                    continue
                hist = data.history(self._client, run.info.run_id, self.metric)
                traces.append(charts.curve(hist, label, color, self._max_points))
        self.curves.data = ()
        self.curves.update_layout(yaxis_title=charts.plain(self.metric) if self.metric else None)
        if traces:
            self.curves.add_traces(traces)
        charts.message(self.curves, "" if traces else "no metrics to draw")
        charts.show(self._curves_out, self.curves)

    def _draw_scatter(self) -> None:
        xs, ys = self._values(self.scatter_x), self._values(self.scatter_y)
        self.scatter.data = ()
        if xs is None or ys is None:
            charts.message(self.scatter, "no values to plot")
            charts.show(self._scatter_out, self.scatter)
            return
        numeric = _floats(xs)
        points = [
            (charts.plain(str(x)) if numeric is None else numeric[i], _axis_value(y), label, color)
            for i, (x, y, label, color) in enumerate(zip(xs, ys, self._labels, self._colors))
            if x is not None and y is not None
        ]
        self.scatter.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                text=[charts.plain(p[2]) for p in points],
                mode="markers+text",
                textposition="top center",
                marker={"color": [p[3] for p in points], "size": 10},
                showlegend=False,
            )
        )
        self.scatter.update_layout(
            xaxis_title=charts.plain(self.scatter_x),
            yaxis_title=charts.plain(self.scatter_y),
            xaxis_type="-",
        )
        charts.message(self.scatter, "" if points else "no run has both values")
        charts.show(self._scatter_out, self.scatter)

    def _draw_parallel(self) -> None:
        dimensions = []
        differing = [k for k in self._param_keys if _differs(self._values(f"params.{k}") or [])]
        for key in (differing or self._param_keys)[:MAX_DIMENSIONS]:
            dimensions.append(_dimension(f"params.{key}", self._values(f"params.{key}") or []))
        for key in self._metric_keys[:MAX_DIMENSIONS]:
            dimensions.append(_dimension(f"metrics.{key}", self._values(f"metrics.{key}") or []))
        self.parallel.data = ()
        if not dimensions:
            charts.message(self.parallel, "no params or metrics to draw")
            charts.show(self._parallel_out, self.parallel)
            return
        line: dict[str, Any] = {"color": list(range(len(self._runs))), "colorscale": "Viridis"}
        metric_values = self._values(f"metrics.{self.metric}") if self.metric else None
        color_values = _floats(metric_values) if metric_values else None
        if color_values is not None:
            present = [v for v in color_values if not math.isnan(v)]
            fill = min(present) if present else 0.0
            line = {
                "color": [fill if math.isnan(v) else v for v in color_values],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": {"text": charts.plain(self.metric)}},
            }
        # plotly outlines parcoords text in the page colour, which a transparent page makes white
        plain = {"shadow": "none"}
        self.parallel.add_trace(
            go.Parcoords(
                dimensions=dimensions, line=line, tickfont=plain, labelfont=plain, rangefont=plain
            )
        )
        charts.message(self.parallel, "")
        charts.show(self._parallel_out, self.parallel)


def _axis_value(value: Any) -> Any:
    """A value for a scatter axis: text (a param) becomes a category, escaped for Plotly."""
    return charts.plain(value) if isinstance(value, str) else value


def _differs(values: list[Any]) -> bool:
    return len(set(values)) > 1


def _floats(values: list[Any]) -> list[float] | None:
    """The values as floats (NaN where missing), or None if a present one is not a number."""
    out = []
    for v in values:
        if v is None or v == _MISSING:
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            return None
    return out if any(not math.isnan(v) for v in out) else None


def _dimension(label: str, values: list[Any]) -> dict[str, Any]:
    """One parallel-coordinates axis: numbers as they are, text as categories.

    Labels and category names are escaped: Plotly reads them as HTML.
    """
    numbers = _floats(values)
    short = charts.plain(label if len(label) <= 24 else label[:23] + "…")
    if numbers is not None:
        return {"label": short, "values": numbers}
    categories = sorted({str(v) for v in values if v is not None})
    codes = {c: i for i, c in enumerate(categories)}
    return {
        "label": short,
        "values": [codes[str(v)] if v is not None else math.nan for v in values],
        "tickvals": list(range(len(categories))),
        "ticktext": [charts.plain(c if len(c) <= 16 else c[:15] + "…") for c in categories],
    }
