"""``RunTable``: runs as a sortable, filterable, selectable table that pages.

Only one page of runs (``page_size`` rows, at most :data:`MAX_PAGE_SIZE`) is ever read and sent
to the browser: a store with 10,000 runs costs the same as one with 20. The grid of widgets is
built once per page size and column set and then only has its values changed, so turning a page
sends a few small updates, not a new table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_string import LabelStyle
from traitlets import Bool, Int, List, Unicode, observe, validate

from ..entities import Run
from ..errors import MltrackError
from ..tracking.client import MltrackClient
from . import data, static
from .base import StaticFallback, close_tree

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 200
_LONG = 28  # cells longer than this get their full text as a tooltip
_ARROW = {True: " ▲", False: " ▼"}


class RunTable(StaticFallback, widgets.VBox):
    """A table of runs: sort by a column header, filter with the search grammar, select rows.

    Parameters
    ----------
    filter:
        A search filter (``metrics.acc > 0.9 and params.model = 'svm'``). An invalid filter
        raises here; typed into the table's filter box, its error shows under the box.
    columns:
        Columns to show: run attributes (``run_name``, ``status``, ``start_time``, ``duration``
        …) and ``metrics.KEY`` / ``params.KEY`` / ``tags.KEY``. By default: name, status, start,
        duration and the metrics and params most runs of the first page have.
    experiment_ids, experiment_names, all_experiments:
        Which experiments to search; by default the current experiment (as ``mlt.search_runs``).
    page_size:
        Rows per page (1 to 200).
    sort_column, sort_ascending:
        The initial order (by default newest first).
    client:
        The :class:`~jupyter_mltrack.MltrackClient` to read through (default: the fluent API's).

    Attributes
    ----------
    selected_run_ids:
        The selected runs' ids in the order they were selected, across pages and filters;
        assign to select from Python. ``Compare(table)`` compares them.
    """

    filter = Unicode("", help="The search filter the rows match.")
    sort_column = Unicode("", help="The column the rows are sorted by ('' for newest first).")
    sort_ascending = Bool(False, help="Whether the sort column sorts ascending.")
    page = Int(0, help="The page shown, from 0.")
    page_size = Int(DEFAULT_PAGE_SIZE, help="Rows per page.")
    selected_run_ids = List(Unicode(), help="Ids of the selected runs, in selection order.")
    error = Unicode("", help="Why the last change could not be shown ('' when it could).")

    def __init__(
        self,
        filter: str = "",
        columns: list[str] | None = None,
        *,
        experiment_ids: list[str] | str | None = None,
        experiment_names: list[str] | str | None = None,
        all_experiments: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        sort_column: str | None = None,
        sort_ascending: bool = False,
        client: MltrackClient | None = None,
    ):
        if not isinstance(filter, str):
            raise MltrackError(f"filter must be a string, got {type(filter).__name__}")
        _check_page_size(page_size)
        if not isinstance(sort_ascending, bool):
            raise MltrackError(f"sort_ascending must be True or False, got {sort_ascending!r}")
        self._quiet = 0
        self._syncing = False
        self._client = data.resolve_client(client)
        self._experiment_ids = data.experiment_ids(
            self._client, experiment_ids, experiment_names, all_experiments
        )
        self._fixed_columns = data.check_columns(columns) if columns is not None else None
        self._columns: list[str] = []
        self._runs: list[Run] = []
        self._tokens: list[str | None] = [None]  # token of each page seen so far
        self._has_next = False
        self._last_page: int | None = None

        self._filter_box = widgets.Text(
            value=filter,
            placeholder="filter: metrics.acc > 0.9 and params.model = 'svm'",
            continuous_update=False,  # search on Enter or leaving the box, not on each key
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self._filter_box.add_class("mltrack-filter")
        self._refresh_button = widgets.Button(
            description="refresh", tooltip="read the runs again", layout=_auto()
        )
        self._error_html = widgets.HTML()
        self._grid = widgets.GridBox(layout=widgets.Layout(grid_gap="0px 12px", width="100%"))
        self._grid.add_class("mltrack-grid")
        self._empty = widgets.HTML()
        self._prev = widgets.Button(description="◀ prev", layout=_auto())
        self._next = widgets.Button(description="next ▶", layout=_auto())
        self._page_label = widgets.Label()
        self._selection_label = widgets.Label()
        self._clear = widgets.Button(description="clear selection", layout=_auto())
        self._compare_button = widgets.Button(
            description="compare selected", button_style="primary", layout=_auto()
        )
        self._compare_box = widgets.VBox()
        self._select_all = widgets.Checkbox(
            indent=False, tooltip="select every run on this page", layout=_cell_layout()
        )
        self._header_buttons: list[widgets.Button] = []
        self._row_checks: list[widgets.Checkbox] = []
        self._row_cells: list[list[widgets.Label]] = []
        self._row_layouts: list[widgets.Layout] = []
        # shared styles: one model each instead of one per cell
        self._label_style = LabelStyle()
        self._check_style = CheckboxStyle()
        self._header_layout = widgets.Layout(width="auto", margin="1px 0px")

        super().__init__(
            children=[
                widgets.HBox([self._filter_box, self._refresh_button]),
                self._error_html,
                self._grid,
                self._empty,
                widgets.HBox(
                    [
                        self._prev,
                        self._page_label,
                        self._next,
                        widgets.HTML(layout=widgets.Layout(flex="1 1 auto")),
                        self._selection_label,
                        self._clear,
                        self._compare_button,
                    ],
                    layout=widgets.Layout(align_items="center"),
                ),
                self._compare_box,
            ]
        )
        self.add_class("mltrack-run-table")
        with self._batch():
            self.filter = filter
            self.page_size = page_size
            self.sort_column = data.check_columns(sort_column)[0] if sort_column else ""
            self.sort_ascending = sort_ascending
        self._load(reset=True, raise_errors=True)

        self._filter_box.observe(self._on_filter_box, names="value")
        self._refresh_button.on_click(lambda _b: self.refresh())
        self._prev.on_click(lambda _b: self.prev_page())
        self._next.on_click(lambda _b: self.next_page())
        self._clear.on_click(lambda _b: self.clear_selection())
        self._compare_button.on_click(lambda _b: self._show_compare())
        self._select_all.observe(self._on_select_all, names="value")

    # public API ----------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        """The columns shown."""
        return list(self._columns)

    @property
    def runs(self) -> list[Run]:
        """The runs of the page shown."""
        return list(self._runs)

    @property
    def run_ids(self) -> list[str]:
        """Ids of the runs of the page shown, in table order."""
        return [r.info.run_id for r in self._runs]

    @property
    def rows(self) -> list[dict[str, str]]:
        """The page shown as text, one dict (column -> value) per row."""
        return [{c: data.cell_text(r, c) for c in self._columns} for r in self._runs]

    @property
    def has_next_page(self) -> bool:
        return self._has_next

    def refresh(self) -> None:
        """Read the page again (runs logged since appear; the page number is kept)."""
        self._tokens, self._last_page = [None], None
        self._load(reset=self._fixed_columns is None)

    def next_page(self) -> None:
        if self._has_next:
            self.page += 1

    def prev_page(self) -> None:
        if self.page > 0:
            self.page -= 1

    def sort_by(self, column: str | None, ascending: bool | None = None) -> None:
        """Sort by ``column`` (None: newest first). Without ``ascending``, a column sorts
        ascending first, and sorting again by the same column flips the direction."""
        if column is None or column == "":
            with self._batch():
                self.sort_column, self.sort_ascending = "", False
            return
        (name,) = data.check_columns([column])
        if ascending is None:
            ascending = not self.sort_ascending if name == self.sort_column else True
        if not isinstance(ascending, bool):
            raise MltrackError(f"ascending must be True, False or None, got {ascending!r}")
        with self._batch():
            self.sort_column, self.sort_ascending = name, ascending

    def select(self, run_ids: Any, selected: bool = True) -> None:
        """Add runs to the selection (or, with ``selected=False``, remove them)."""
        ids = [data.run_id_of(r) for r in ([run_ids] if isinstance(run_ids, str) else run_ids)]
        if selected:
            self.selected_run_ids = list(dict.fromkeys([*self.selected_run_ids, *ids]))
        else:
            drop = set(ids)
            self.selected_run_ids = [i for i in self.selected_run_ids if i not in drop]

    def clear_selection(self) -> None:
        self.selected_run_ids = []

    def compare(self) -> Any:
        """A :class:`~jupyter_mltrack.widgets.Compare` of the selected runs."""
        from .compare import Compare

        return Compare(self.selected_run_ids, client=self._client)

    def static_html(self) -> str:
        selected = set(self.selected_run_ids)
        rows = [
            ["✓" if r.info.run_id in selected else ""]
            + [data.cell_text(r, c) for c in self._columns]
            for r in self._runs
        ]
        parts = [
            static.table(
                ["", *(data.column_title(c) for c in self._columns)],
                rows,
                caption=self._caption(),
                css_class="mltrack-run-table-static",
            )
        ]
        if not self._runs:
            parts.append(static.note("no runs match"))
        return static.section(*parts, css_class="mltrack-run-table")

    def __repr__(self) -> str:
        return f"RunTable({self._range_text()}, filter={self.filter!r}, " + (
            f"{len(self.selected_run_ids)} selected)"
        )

    # trait validation and reactions --------------------------------------------------------
    @validate("page_size")
    def _valid_page_size(self, proposal: Any) -> int:
        return _check_page_size(proposal["value"])

    @validate("page")
    def _valid_page(self, proposal: Any) -> int:
        page = proposal["value"]
        if page < 0:
            raise MltrackError(f"page must be 0 or more, got {page}")
        return int(page)

    @validate("sort_column")
    def _valid_sort_column(self, proposal: Any) -> str:
        column: str = proposal["value"]
        if column:
            (column,) = data.check_columns([column])
            data.order_clause(column, True)  # raises for a column the store cannot sort by
        return column

    @observe("filter", "sort_column", "sort_ascending", "page_size")
    def _on_query(self, change: Any) -> None:
        if change["name"] == "filter" and self._filter_box.value != change["new"]:
            self._filter_box.value = change["new"]
            return  # the box's observer takes it from here
        if not self._quiet:
            self._requery()

    @observe("page")
    def _on_page(self, change: Any) -> None:
        if not self._quiet:
            self._load(reset=False)

    @observe("selected_run_ids")
    def _on_selection(self, change: Any) -> None:
        self._show_selection()

    def _on_filter_box(self, change: Any) -> None:
        if self.filter != change["new"]:
            self.filter = change["new"]
        elif not self._quiet:
            self._requery()

    # loading -------------------------------------------------------------------------------
    @contextmanager
    def _batch(self) -> Iterator[None]:
        """Change several query traits, then load once."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1
        if not self._quiet and hasattr(self, "_grid") and self._columns:
            self._requery()

    def _requery(self) -> None:
        self._quiet += 1
        try:
            self.page = 0
        finally:
            self._quiet -= 1
        self._tokens = [None]
        self._last_page = None
        self._load(reset=True)

    def _fetch(self, page: int) -> tuple[list[Run], int, str | None]:
        order = None
        if self.sort_column:
            order = [data.order_clause(self.sort_column, self.sort_ascending)]

        def get(token: str | None) -> tuple[list[Run], str | None]:
            return data.fetch_page(
                self._client, self._experiment_ids, self.filter, order, self.page_size, token
            )

        while len(self._tokens) <= page:  # walk forward to a page not seen yet
            last = len(self._tokens) - 1
            runs, token = get(self._tokens[last])
            if token is None:  # the wanted page is past the end: show the last one
                return runs, last, None
            self._tokens.append(token)
        runs, token = get(self._tokens[page])
        if not runs and page > 0:  # runs went away since the token was made
            del self._tokens[page:]
            return self._fetch(page - 1)
        if token is not None and len(self._tokens) == page + 1:
            self._tokens.append(token)
        return runs, page, token

    def _load(self, reset: bool, raise_errors: bool = False) -> None:
        """Fetch the page ``self.page`` and show it; an error leaves the last rows in place."""
        try:
            runs, page, token = self._fetch(self.page)
        except MltrackError as exc:
            if raise_errors:
                raise
            self.error = exc.message
            self._error_html.value = static.note(exc.message, error=True)
            return
        self.error = ""
        self._error_html.value = ""
        if page != self.page:
            self._quiet += 1
            try:
                self.page = page
            finally:
                self._quiet -= 1
        self._runs, self._has_next = runs, token is not None
        if token is None:
            self._last_page = page
        columns = self._fixed_columns
        if columns is None:
            columns = data.default_columns(runs) if (reset or not self._columns) else self._columns
        if columns != self._columns or len(self._row_checks) != self.page_size:
            self._columns = list(columns)
            self._build_grid()
        self._render()

    # drawing -------------------------------------------------------------------------------
    def _build_grid(self) -> None:
        # the old cells' models would otherwise stay open in the kernel and the browser
        for widget in [
            *self._header_buttons,
            *self._row_checks,
            *(label for row in self._row_cells for label in row),
            *self._row_layouts,
        ]:
            widget.close()
        self._header_buttons = []
        for column in self._columns:
            button = widgets.Button(layout=self._header_layout)
            if data.sortable(column):
                button.on_click(lambda _b, c=column: self.sort_by(c))
            else:
                button.disabled = True
            self._header_buttons.append(button)
        self._row_layouts, self._row_checks, self._row_cells = [], [], []
        for _ in range(self.page_size):
            layout = _cell_layout()
            check = widgets.Checkbox(
                indent=False, layout=layout, style=self._check_style, _dom_classes=["mltrack-check"]
            )
            check.observe(self._on_row_check, names="value")
            self._row_layouts.append(layout)
            self._row_checks.append(check)
            self._row_cells.append(
                [
                    widgets.Label(
                        layout=layout, style=self._label_style, _dom_classes=["mltrack-cell"]
                    )
                    for _ in self._columns
                ]
            )
        self._grid.layout.grid_template_columns = "2em " + " ".join(
            ["fit-content(18em)"] * len(self._columns)
        )
        cells: list[widgets.Widget] = [self._select_all, *self._header_buttons]
        for check, row in zip(self._row_checks, self._row_cells):
            cells.append(check)
            cells.extend(row)
        self._grid.children = cells

    def _render(self) -> None:
        for column, button in zip(self._columns, self._header_buttons):
            arrow = _ARROW[self.sort_ascending] if column == self.sort_column else ""
            button.description = data.column_title(column) + arrow
            button.tooltip = f"sort by {column}" if data.sortable(column) else column
        for i, layout in enumerate(self._row_layouts):
            if i >= len(self._runs):
                layout.display = "none"
                continue
            run = self._runs[i]
            for column, label in zip(self._columns, self._row_cells[i]):
                text = data.cell_text(run, column)
                label.value = text
                if column == "run_name":
                    label.tooltip = run.info.run_id
                else:
                    label.tooltip = text if len(text) > _LONG else None
            layout.display = None
        self._empty.value = static.note("no runs match") if not self._runs else ""
        self._page_label.value = self._range_text()
        self._prev.disabled = self.page == 0
        self._next.disabled = not self._has_next
        self._show_selection()

    def _show_selection(self) -> None:
        selected = set(self.selected_run_ids)
        self._syncing = True
        try:
            for i, check in enumerate(self._row_checks):
                check.value = i < len(self._runs) and self._runs[i].info.run_id in selected
            self._select_all.value = bool(self._runs) and all(
                r.info.run_id in selected for r in self._runs
            )
        finally:
            self._syncing = False
        self._selection_label.value = f"{len(selected)} selected"
        self._compare_button.disabled = not selected
        self._clear.disabled = not selected

    def _on_row_check(self, change: Any) -> None:
        if self._syncing:
            return
        index = self._row_checks.index(change["owner"])
        if index < len(self._runs):
            self.select([self._runs[index].info.run_id], bool(change["new"]))

    def _on_select_all(self, change: Any) -> None:
        if not self._syncing:
            self.select(self.run_ids, bool(change["new"]))

    def _show_compare(self) -> None:
        for old in self._compare_box.children:
            close_tree(old)
        try:
            self._compare_box.children = [self.compare()]
        except MltrackError as exc:
            self._compare_box.children = [widgets.HTML(static.note(exc.message, error=True))]

    def _range_text(self) -> str:
        if not self._runs:
            return "no runs"
        first = self.page * self.page_size + 1
        last = first + len(self._runs) - 1
        total = f" of {last}" if self._last_page == self.page else ""
        return f"runs {first}-{last}{total}"

    def _caption(self) -> str:
        parts = [self._range_text()]
        if self.filter:
            parts.append(f"filter: {self.filter}")
        if self.sort_column:
            parts.append(f"sorted by {self.sort_column} {'▲' if self.sort_ascending else '▼'}")
        return " · ".join(parts)


def _check_page_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise MltrackError(f"page_size must be an integer from 1 to {MAX_PAGE_SIZE}, got {value!r}")
    return value


def _auto() -> widgets.Layout:
    return widgets.Layout(width="auto")


def _cell_layout() -> widgets.Layout:
    return widgets.Layout(width="auto", margin="0px")
