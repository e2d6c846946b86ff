"""Plotly pieces the comparison and the live chart share: figures, colours, curve traces.

Two ways to put a figure in a widget. A ``go.FigureWidget`` (an anywidget) updates trace by trace,
which a live chart needs, but each one ships plotly.js (about 5 MB) to the browser in its state.
A figure that only changes when the user picks another axis goes into an ``Output`` widget as
plotly's mime bundle instead (rendered by plotly's JupyterLab extension): a few kilobytes.
"""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio

from ..entities import MetricHistory, Run
from .downsample import downsample

DEFAULT_MAX_POINTS = 1000
CONFIG = {"displaylogo": False, "responsive": True}  # plotly.js options of every chart
# plotly's default qualitative palette: one colour per run, the same in every chart of a widget
PALETTE = (
    "#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a",
    "#19d3f3", "#ff6692", "#b6e880", "#ff97ff", "#fecb52",
)  # fmt: skip


def plain(text: str) -> str:
    """``text`` for a Plotly label: Plotly reads legends, titles and hover text as HTML.

    Only ``&``, ``<`` and ``>`` are escaped: Plotly decodes those entities back to the
    characters, while quotes need no escaping in text and ``&quot;`` would show as typed.
    """
    return html.escape(text, quote=False)


def figure(title: str, height: int = 360, widget: bool = False, **layout: Any) -> Any:
    """An empty figure (a FigureWidget with ``widget``) with the package's layout defaults.

    ``title`` is plain text (escaped here).

    Backgrounds are transparent and text and grid lines a middle grey, so one figure reads on
    JupyterLab's light and dark themes alike (plotly does not follow the notebook's theme).
    """
    fig = go.FigureWidget() if widget else go.Figure()
    axis = {"gridcolor": _GRID, "zerolinecolor": _ZERO_LINE, "linecolor": _ZERO_LINE}
    fig.update_layout(
        title={"text": plain(title), "x": 0.01, "font": {"size": 14}},
        height=height,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        template="plotly_white",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": _TEXT},
        legend={"orientation": "h", "y": -0.2},
        xaxis=axis,
        yaxis=axis,
    )
    if layout:
        fig.update_layout(**layout)
    return fig


_TEXT = "#777777"
_GRID = "rgba(128,128,128,0.2)"
_ZERO_LINE = "rgba(128,128,128,0.45)"


def run_label(run: Run, runs: list[Run]) -> str:
    """A run's name, with a short id when another run of ``runs`` has the same name."""
    name = run.info.run_name or run.info.run_id[:8]
    if sum(r.info.run_name == run.info.run_name for r in runs) > 1:
        return f"{name} ({run.info.run_id[:6]})"
    return name


def curve(history: MetricHistory, name: str, color: str | None, max_points: int) -> go.Scatter:
    """A metric history as one line, downsampled to ``max_points``; ``name`` is plain text."""
    xs, ys = downsample(history.steps, history.values, max_points)
    return go.Scatter(
        x=xs,
        y=ys,
        name=plain(name),
        mode="lines+markers" if len(ys) < 30 else "lines",
        line={"color": color} if color else None,
    )


def message(fig: go.Figure, text: str) -> None:
    """Show ``text`` in the middle of an empty figure (no data to draw)."""
    fig.update_layout(
        annotations=[
            {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
        ]
        if text
        else [],
        xaxis={"visible": not text},
        yaxis={"visible": not text},
    )


def mime_bundle(fig: go.Figure) -> dict[str, Any]:
    """The figure as plotly's mime type (JSON-clean: arrays travel as plotly's typed arrays)."""
    plain = json.loads(pio.to_json(fig, validate=False))
    spec = {"data": plain.get("data", []), "layout": plain.get("layout", {}), "config": CONFIG}
    return {"application/vnd.plotly.v1+json": spec, "text/plain": f"<{len(spec['data'])} traces>"}


def show(out: widgets.Output, fig: go.Figure) -> None:
    """Make ``out`` show ``fig`` (replacing what it showed)."""
    out.outputs = ({"output_type": "display_data", "data": mime_bundle(fig), "metadata": {}},)
