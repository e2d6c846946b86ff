"""``Artifacts``: browse a run's artifact folders and preview files: images, text, tables, JSON.

Previews are bounded (the first rows of a table, the first 200 KB of text, images up to 5 MB) and
an artifact's HTML is shown in a sandboxed frame, never inserted into the notebook's page.
"""

from __future__ import annotations

import base64
import json
import posixpath
from typing import Any

import ipywidgets as widgets
from traitlets import Unicode, observe

from ..entities import ArtifactInfo
from ..errors import ErrorCode, MltrackError
from ..tracking.client import MltrackClient
from ..validation import check_artifact_path
from . import data, static
from .base import StaticFallback

MAX_STATIC_IMAGE = 1_000_000  # bytes of an image embedded in the static rendering
MAX_JSON_TEXT = 200_000


class Artifacts(StaticFallback, widgets.VBox):
    """A browser of one run's artifacts.

    Parameters
    ----------
    run:
        The run (an id or a Run); by default the active run.
    path:
        A folder to open, or a file to open its folder and preview it ('' for the root).
    client:
        The :class:`~jupyter_mltrack.MltrackClient` to read through (default: the fluent API's).
    """

    path = Unicode("", help="The folder shown ('' for the run's artifact root).")
    selected = Unicode("", help="The file previewed ('' for none).")

    def __init__(self, run: Any = None, path: str = "", *, client: MltrackClient | None = None):
        self._quiet = 0
        self._client = data.resolve_client(client)
        run_obj = data.resolve_run(self._client, run)
        self._run_id = run_obj.info.run_id
        self._run_name = run_obj.info.run_name or self._run_id[:8]
        self._entries: list[ArtifactInfo] = []
        self._preview: dict[str, Any] | None = None

        self._crumbs = widgets.HTML()
        self._up_button = widgets.Button(description="▲ up", layout=widgets.Layout(width="auto"))
        self._refresh_button = widgets.Button(
            description="refresh", layout=widgets.Layout(width="auto")
        )
        self._listing = widgets.Select(rows=14, layout=widgets.Layout(width="24em"))
        self._listing.add_class("mltrack-artifact-list")
        self._preview_box = widgets.VBox(layout=widgets.Layout(flex="1 1 auto", width="auto"))
        self._preview_box.add_class("mltrack-artifact-preview")
        self._error_html = widgets.HTML()
        super().__init__(
            children=[
                widgets.HBox(
                    [self._up_button, self._refresh_button, self._crumbs],
                    layout=widgets.Layout(align_items="center"),
                ),
                self._error_html,
                widgets.HBox([self._listing, self._preview_box]),
            ]
        )
        self.add_class("mltrack-artifacts")
        self.navigate(path)
        self._up_button.on_click(lambda _b: self.up())
        self._refresh_button.on_click(lambda _b: self.navigate(self.selected or self.path))
        self._listing.observe(self._on_pick, names="value")

    # public API ----------------------------------------------------------------------------
    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def entries(self) -> list[ArtifactInfo]:
        """The entries of the folder shown (folders first)."""
        return list(self._entries)

    @property
    def preview(self) -> dict[str, Any] | None:
        """The preview of the selected file: ``kind`` (image, text, json, table, html, binary)
        and what that kind carries (see ``jupyter_mltrack.server.preview``)."""
        return self._preview

    def navigate(self, path: str = "") -> None:
        """Show a folder, or a file's folder with the file previewed."""
        rel = check_artifact_path(path)
        folder, chosen = rel, ""
        if rel:
            parent = posixpath.dirname(rel)
            match = next((e for e in data.list_folder(self._client, self._run_id, parent)
                          if e.path == rel), None)  # fmt: skip
            if match is None:
                raise MltrackError(
                    f"run {self._run_id!r} has no artifact {rel!r}",
                    ErrorCode.RESOURCE_DOES_NOT_EXIST,
                )
            if not match.is_dir:
                folder, chosen = parent, rel
        self._go(folder, chosen)

    def up(self) -> None:
        """Go to the parent folder."""
        if self.path:
            self._go(posixpath.dirname(self.path), "")

    def static_html(self) -> str:
        rows = [
            [_name(e, self.path), "" if e.is_dir else static.size(e.file_size), e.media_type or ""]
            for e in self._entries
        ]
        where = f"{self._run_name}/{self.path}" if self.path else self._run_name
        parts = [
            static.table(
                ["name", "size", "type"],
                rows,
                caption=f"artifacts of {where}",
                css_class="mltrack-artifacts-static",
            )
        ]
        if not self._entries:
            parts.append(static.note("no artifacts here"))
        if self._preview is not None:
            parts.append(_preview_html(self._preview, static_image=True))
        return static.section(*parts, css_class="mltrack-artifacts")

    def __repr__(self) -> str:
        return f"Artifacts(run={self._run_id!r}, path={self.path!r}, selected={self.selected!r})"

    # reactions -----------------------------------------------------------------------------
    @observe("path", "selected")
    def _on_path(self, change: Any) -> None:
        if not self._quiet:
            self.navigate(change["new"] or (self.path if change["name"] == "selected" else ""))

    def _on_pick(self, change: Any) -> None:
        if self._quiet or change["new"] is None:
            return
        entry = next((e for e in self._entries if e.path == change["new"]), None)
        if entry is None:
            return
        try:
            self._go(entry.path if entry.is_dir else self.path, "" if entry.is_dir else entry.path)
        except MltrackError as exc:
            self._error_html.value = static.note(exc.message, error=True)

    # drawing -------------------------------------------------------------------------------
    def _go(self, folder: str, chosen: str) -> None:
        entries = data.list_folder(self._client, self._run_id, folder)
        preview = None
        if chosen:
            entry = next((e for e in entries if e.path == chosen), None)
            if entry is not None:
                preview = data.preview(self._client, self._run_id, entry)
        self._quiet += 1
        try:
            self.path, self.selected = folder, chosen
            self._entries, self._preview = entries, preview
            self._listing.options = [(_label(e, folder), e.path) for e in entries]
            self._listing.value = chosen or None
        finally:
            self._quiet -= 1
        self._error_html.value = ""
        self._up_button.disabled = not folder
        parts = [self._run_name, *(folder.split("/") if folder else [])]
        self._crumbs.value = (
            '<span style="font-family:var(--jp-code-font-family,monospace)">'
            + " / ".join(static.esc(p) for p in parts)
            + "</span>"
        )
        for old in self._preview_box.children:
            old.close()
        self._preview_box.children = _preview_widgets(preview, bool(entries))


def _name(entry: ArtifactInfo, folder: str) -> str:
    name = posixpath.relpath(entry.path, folder) if folder else entry.path
    return name + "/" if entry.is_dir else name


def _label(entry: ArtifactInfo, folder: str) -> str:
    # folders end in "/"; no icons: a browser without an emoji font shows boxes
    if entry.is_dir:
        return _name(entry, folder)
    return f"{_name(entry, folder)}  ({static.size(entry.file_size)})"


def _preview_widgets(preview: dict[str, Any] | None, any_entries: bool) -> list[widgets.Widget]:
    if preview is None:
        text = "select a file to preview it" if any_entries else "no artifacts here"
        return [widgets.HTML(static.note(text))]
    if preview.get("kind") == "image":
        fmt = (preview.get("media_type") or "image/png").split("/", 1)[1]
        image = widgets.Image(
            value=base64.b64decode(preview["data"]),
            format=fmt,
            # natural size up to the pane's width (a flex box would stretch it)
            layout=widgets.Layout(
                max_width="100%", width="auto", height="auto", align_self="flex-start"
            ),
        )
        return [widgets.HTML(_title(preview)), image]
    return [widgets.HTML(_preview_html(preview, static_image=False))]


def _title(preview: dict[str, Any]) -> str:
    bits = [preview.get("path", ""), static.size(preview.get("size")), preview.get("media_type")]
    return static.note(" · ".join(str(b) for b in bits if b))


def _preview_html(preview: dict[str, Any], static_image: bool) -> str:
    """A preview as HTML (images only when ``static_image``: the live view uses an Image)."""
    kind = preview.get("kind")
    out = [_title(preview)]
    truncated = static.note("(only the beginning is shown)") if preview.get("truncated") else ""
    if kind == "image":
        raw = preview.get("data", "")
        if static_image and len(raw) * 3 // 4 <= MAX_STATIC_IMAGE:
            media = static.esc(preview.get("media_type") or "image/png")
            alt = static.esc(preview.get("path", "image"))
            out.append(f'<img alt="{alt}" style="max-width:100%" src="data:{media};base64,{raw}"/>')
        else:
            out.append(static.note("image not embedded in the static view (too large)"))
    elif kind == "text":
        out += [static.pre(preview.get("text", "")), truncated]
    elif kind == "json":
        doc: Any = preview.get("data")
        if _is_split_table(doc):  # log_table's JSON layout: show it as the table it is
            rows = doc["data"][:50]
            out.append(static.table([str(c) for c in doc["columns"]], rows))
            if len(doc["data"]) > len(rows):
                out.append(static.note(f"first {len(rows)} of {len(doc['data'])} rows"))
        else:
            text = json.dumps(doc, indent=2, ensure_ascii=False)
            out.append(static.pre(text[:MAX_JSON_TEXT]))
    elif kind == "table":
        out += [static.table(preview.get("columns", []), preview.get("rows", [])), truncated]
    elif kind == "html":
        # an empty sandbox, as the lab's run view uses: the artifact's scripts never run, so a
        # logged page cannot act in the notebook (nor phish from inside the frame with script)
        out += [
            '<iframe sandbox="" style="width:100%;height:420px;border:1px solid '
            f'var(--jp-border-color2,#ddd)" srcdoc="{static.esc(preview.get("text", ""))}">'
            "</iframe>",
            truncated,
        ]
    else:
        out.append(static.note(f"no preview: {preview.get('reason', 'unknown format')}"))
    return "".join(out)


def _is_split_table(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and isinstance(doc.get("columns"), list)
        and isinstance(doc.get("data"), list)
        and all(isinstance(r, list) for r in doc["data"])
    )
