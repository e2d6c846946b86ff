"""Optional capture of a cell's rich outputs: displayed images and figures become run artifacts.

``%mltrack capture outputs on`` wraps the shell's display publisher (what ``display()``,
``plt.show()`` and inline matplotlib go through) and its display hook (a cell's ``Out[n]``
value). Every image
or plotly figure shown while a run is active is stored as an artifact of the active run under
``outputs/``, indexed with the cell that showed it. The wrappers pass everything on unchanged;
``off`` removes them.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Any

from ..tracking import fluent
from .artifact_io import write_artifact
from .capture import CellRecorder

log = logging.getLogger("jupyter_mltrack")

# MIME types captured, most preferred first, with the file suffix each is stored under
CAPTURED: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/svg+xml": "svg",
    "application/vnd.plotly.v1+json": "plotly.json",
    "image/gif": "gif",
}
_BINARY = {"image/png", "image/jpeg", "image/gif"}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _payload(mime: str, value: Any) -> bytes | None:
    """The bytes of one output as a file, or None when it cannot be decoded."""
    if mime in _BINARY:
        if isinstance(value, bytes):
            if value[:4] in (b"\x89PNG", b"GIF8") or value[:2] == b"\xff\xd8":
                return value
            value = value.decode("ascii", errors="replace")
        if not isinstance(value, str):
            return None
        try:
            return base64.b64decode(value, validate=False)
        except (binascii.Error, ValueError):
            return None
    if isinstance(value, (dict, list)):
        return json.dumps(value).encode()
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return None


class OutputCapture:
    """Stores displayed images and figures of cells as artifacts of the active run.

    Parameters
    ----------
    shell:
        The InteractiveShell whose display publisher and display hook to follow.
    recorder:
        The shell's :class:`CellRecorder`, which knows the cell now running.
    """

    def __init__(self, shell: Any, recorder: CellRecorder):
        self.shell = shell
        self.recorder = recorder
        self.enabled = False
        self._counters: dict[str, int] = {}
        self._wrapped: list[tuple[Any, str]] = []

    def enable(self) -> None:
        """Start capturing (idempotent)."""
        if self.enabled:
            return
        self._wrap(self.shell.display_pub, "publish", self._from_publish)
        self._wrap(self.shell.displayhook, "write_format_data", self._from_displayhook)
        self.enabled = True

    def disable(self) -> None:
        """Stop capturing and restore the shell's own methods."""
        for owner, name in self._wrapped:
            try:
                delattr(owner, name)  # drops the instance attribute: the class method shows again
            except AttributeError:
                pass
        self._wrapped.clear()
        self.enabled = False

    def _wrap(self, owner: Any, name: str, observe: Any) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                observe(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - capture must never break a display
                log.warning("jupyter-mltrack: could not capture an output: %s", exc)
            return original(*args, **kwargs)

        setattr(owner, name, wrapper)
        self._wrapped.append((owner, name))

    def _from_publish(self, *args: Any, **kwargs: Any) -> None:
        data = kwargs.get("data", args[0] if args else None)
        if isinstance(data, dict):
            self.store(data)

    def _from_displayhook(self, *args: Any, **kwargs: Any) -> None:
        data = kwargs.get("format_dict", args[0] if args else None)
        if isinstance(data, dict):
            self.store(data)

    def store(self, data: dict[str, Any]) -> str | None:
        """Store one displayed MIME bundle if it holds an image or figure; return its path."""
        run = fluent.active_run()
        client = fluent.existing_client()
        if run is None or client is None:
            return None
        mime = next((m for m in CAPTURED if m in data), None)
        if mime is None:
            return None
        payload = _payload(mime, data[mime])
        if not payload:
            return None
        run_id = run.info.run_id
        pending = self.recorder.current
        cell_id = pending.cell_id if pending is not None else None
        if pending is not None and pending.execution_count is not None:
            label = f"cell-{pending.execution_count}"
        else:
            label = _SAFE.sub("-", cell_id or "no-cell")[:40]
        if run_id not in self._counters:
            # a resumed run may hold outputs of an earlier kernel: never overwrite them
            self._counters[run_id] = len(client.store.list_artifacts(run_id, "outputs"))
        n = self._counters[run_id] + 1
        self._counters[run_id] = n
        path = f"outputs/{label}-{n}.{CAPTURED[mime]}"
        return write_artifact(client.session, run_id, path, payload, cell_id)
