"""What every widget of the package shares: a static rendering beside the live view.

A widget's display bundle carries the live view (``application/vnd.jupyter.widget-view+json``)
and a ``text/html`` rendering of its current state. JupyterLab shows the live view; where no
widget manager runs (GitHub's viewer, nbviewer, ``jupyter nbconvert`` of a notebook saved without
widget state, which is how JupyterLab saves by default) the HTML shows instead of an empty box.

``jupyter nbconvert --execute`` stores widget state by default, and its HTML then draws the
widgets with a widget manager loaded from a CDN instead; pass
``--ExecutePreprocessor.store_widget_state=False`` for the static renderings.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from . import static

log = logging.getLogger(__name__)


class StaticFallback:
    """Mixin for an ipywidgets container: adds ``text/html`` to its display bundle.

    Subclasses implement :meth:`static_html`. Each display gets a display id, so
    :meth:`refresh_static` can later replace the saved rendering with the current state (a live
    chart does so when its run ends).
    """

    def static_html(self) -> str:
        """The widget's current state as an HTML fragment (user strings escaped)."""
        raise NotImplementedError

    def _static_or_note(self) -> str:
        try:
            return self.static_html()
        except Exception as exc:  # noqa: BLE001 - a broken fallback must not break the live view
            log.warning("jupyter-mltrack: no static rendering for %s: %s", type(self).__name__, exc)
            return static.note(f"{type(self).__name__}: no static rendering ({exc})", error=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs) or {}  # type: ignore[misc]
        bundle["text/html"] = self._static_or_note()
        return bundle

    def _ipython_display_(self) -> None:
        # IPython calls this instead of formatting the object, so we can keep a display id
        from IPython.display import display

        display_id = uuid.uuid4().hex
        self._display_ids().append(display_id)
        display(self._repr_mimebundle_(), raw=True, display_id=display_id)

    def _display_ids(self) -> list[str]:
        ids: list[str] | None = self.__dict__.get("_mltrack_display_ids")
        if ids is None:
            ids = self.__dict__["_mltrack_display_ids"] = []
        return ids

    def close(self) -> None:
        """Close this widget and every widget inside it, so none lingers in the kernel."""
        for child in list(getattr(self, "children", None) or ()):
            close_tree(child)
        super().close()  # type: ignore[misc]

    def refresh_static(self) -> None:
        """Replace every displayed copy of this widget with one carrying the current state.

        Front ends redraw the live view; saved notebooks and nbconvert keep the new static HTML.
        """
        if not self._display_ids():
            return
        from IPython.display import update_display

        bundle = self._repr_mimebundle_()
        for display_id in self._display_ids():
            update_display(bundle, raw=True, display_id=display_id)


def close_tree(widget: Any) -> None:
    """Close ``widget`` and, for a container, everything in it."""
    if not isinstance(widget, StaticFallback):  # ours close their own insides
        for child in list(getattr(widget, "children", None) or ()):
            close_tree(child)
    widget.close()
