"""Static renderings: what a widget leaves where no kernel runs it (nbconvert, notebook viewers).

Every user string (run names, params, tags, artifact names) is escaped here: these fragments are
inserted into pages as HTML. The styles use JupyterLab's theme variables with light fallbacks, so
the same fragment reads in JupyterLab's light and dark themes and on a plain page.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..clock import now_ms
from .downsample import downsample

#: Points per curve in a static figure: it is stored in the notebook file, so keep it small.
STATIC_MAX_POINTS = 300

_TABLE = (
    "border-collapse:collapse;font-size:var(--jp-content-font-size1,13px);"
    "color:var(--jp-content-font-color1,#222);margin:4px 0"
)
_TH = (
    "text-align:left;padding:2px 8px;border-bottom:1px solid var(--jp-border-color1,#bbb);"
    "background:var(--jp-layout-color2,#f3f3f3);white-space:nowrap"
)
_TD = (
    "text-align:left;padding:2px 8px;border-bottom:1px solid var(--jp-border-color2,#e0e0e0);"
    "white-space:nowrap;max-width:24em;overflow:hidden;text-overflow:ellipsis"
)
# translucent, so the row stays readable on light and dark backgrounds
_DIFF = "background:rgba(255,176,0,0.18)"
_CAPTION = "caption-side:top;text-align:left;padding:2px 0;color:var(--jp-ui-font-color2,#666)"


def esc(value: Any) -> str:
    """``value`` as text that is safe inside HTML content and attribute values."""
    return html.escape("" if value is None else str(value), quote=True)


def number(value: Any) -> str:
    """A metric value in 4 significant digits ('' for a missing value)."""
    if value is None:
        return ""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.4g}"


def when(ms: int | None) -> str:
    """A time in milliseconds as local ``YYYY-MM-DD HH:MM:SS``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else ""


def duration(start: int | None, end: int | None) -> str:
    """How long a run ran (up to now if it still runs)."""
    if not start:
        return ""
    seconds = max(0.0, ((end or now_ms()) - start) / 1000)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


def size(n: int | None) -> str:
    """A file size in B, KB, MB or GB."""
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    value, unit = n / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    caption: str | None = None,
    highlight: Iterable[int] = (),
    css_class: str = "mltrack-static-table",
) -> str:
    """An HTML table; every header and cell is escaped.

    Parameters
    ----------
    headers:
        Column titles.
    rows:
        Cell values, one sequence per row (converted with ``str``; None is empty).
    caption:
        Text above the table.
    highlight:
        Indices of rows to mark (a comparison's differing rows).
    css_class:
        The table's class, for tests and user styles.
    """
    marked = set(highlight)
    head = "".join(f'<th style="{_TH}">{esc(h)}</th>' for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = f' style="{_DIFF}"' if i in marked else ""
        cells = "".join(f'<td style="{_TD}" title="{esc(v)}">{esc(v)}</td>' for v in row)
        body.append(f"<tr{style}>{cells}</tr>")
    cap = f'<caption style="{_CAPTION}">{esc(caption)}</caption>' if caption else ""
    return (
        f'<table class="{esc(css_class)}" style="{_TABLE}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def note(text: str, error: bool = False) -> str:
    """A line of (escaped) text; red for an error."""
    color = "var(--jp-error-color1,#c62828)" if error else "var(--jp-ui-font-color2,#666)"
    return f'<div style="color:{color};margin:2px 0">{esc(text)}</div>'


def heading(text: str) -> str:
    return f'<div style="font-weight:bold;margin:8px 0 2px 0">{esc(text)}</div>'


def pre(text: str, max_height: str = "24em") -> str:
    """Preformatted (escaped) text in a scrolling box."""
    return (
        f'<pre style="max-height:{max_height};overflow:auto;margin:0;padding:4px;'
        "background:var(--jp-layout-color2,#f5f5f5);color:var(--jp-content-font-color1,#222);"
        f'white-space:pre-wrap">{esc(text)}</pre>'
    )


def figure(fig: Any, max_points: int = STATIC_MAX_POINTS) -> str:
    """A plotly figure (or FigureWidget) as a static HTML fragment with plotly.js from its CDN.

    Long curves are downsampled again (to ``max_points``), since the fragment is saved in the
    notebook file.
    """
    import plotly.graph_objects as go

    static = go.Figure(fig)
    for trace in static.data:
        xs, ys = getattr(trace, "x", None), getattr(trace, "y", None)
        if trace.type == "scatter" and xs is not None and ys is not None and len(ys) > max_points:
            trace.x, trace.y = downsample(xs, ys, max_points)
    return str(
        static.to_html(
            full_html=False,
            include_plotlyjs="cdn",
            config={"displaylogo": False, "responsive": True},
        )
    )


def section(*parts: str, css_class: str) -> str:
    """Fragments wrapped in one div (its class names the widget it stands for)."""
    return f'<div class="{esc(css_class)}">{"".join(parts)}</div>'
