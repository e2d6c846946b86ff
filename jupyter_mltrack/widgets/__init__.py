"""Inline widgets: run tables, comparisons, live charts, an artifact browser, model registration.

Built on ipywidgets and plotly (``go.FigureWidget``, which needs the ``anywidget`` package). Every
widget reads through the tracking API (:class:`~jupyter_mltrack.MltrackClient`), so it works the
same on an embedded store and through a tracking server. Outside a live kernel (nbconvert, a
notebook viewer) each widget leaves a static rendering: an HTML table, a static plotly figure.

Names are imported on first use: ``import jupyter_mltrack.widgets`` does not import ipywidgets or
plotly until a widget is made.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "RunTable": "run_table",
    "Compare": "compare",
    "LiveMetrics": "live",
    "Artifacts": "artifacts",
    "Register": "register",
    "show_runs": "show",
    "show_compare": "show",
    "show_artifacts": "show",
    "show_register": "show",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_mltrack.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
