"""Make a widget and display it: what the ``%mltrack`` magics call.

Each function displays the widget below the running cell and returns it, so a caller that
displays it again (or returns it as a cell's value) would show it twice: magics should call
these and return nothing.
"""

from __future__ import annotations

from typing import Any

from .artifacts import Artifacts
from .compare import Compare
from .register import Register
from .run_table import RunTable


def _display(widget: Any) -> None:
    from IPython.display import display

    display(widget)


def show_runs(filter_string: str = "", **kwargs: Any) -> RunTable:
    """Display a :class:`RunTable` of the runs matching ``filter_string``.

    ``kwargs`` go to :class:`RunTable` (``columns``, ``experiment_names``, ``all_experiments``,
    ``page_size`` …). An invalid filter raises :class:`~jupyter_mltrack.MltrackError`.
    """
    table = RunTable(filter_string, **kwargs)
    _display(table)
    return table


def show_compare(run_ids: Any, **kwargs: Any) -> Compare:
    """Display a :class:`Compare` of runs (ids or Runs); ``kwargs`` go to :class:`Compare`."""
    compare = Compare(run_ids, **kwargs)
    _display(compare)
    return compare


def show_artifacts(run_id: Any = None, path: str = "", **kwargs: Any) -> Artifacts:
    """Display an :class:`Artifacts` browser of a run (default: the active run)."""
    browser = Artifacts(run_id, path, **kwargs)
    _display(browser)
    return browser


def show_register(run_id: Any = None, **kwargs: Any) -> Register:
    """Display a :class:`Register` form for a run's models (default: the active run)."""
    form = Register(run_id, **kwargs)
    _display(form)
    return form
