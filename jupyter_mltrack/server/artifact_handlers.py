"""Run artifacts over HTTP: listing, download (streamed, with Range), upload, preview.

Paths travel in the ``path`` query argument and are checked by
:func:`jupyter_mltrack.validation.check_artifact_path` and the store's
:func:`~jupyter_mltrack.artifacts.safe_join`, so ``..``, absolute paths and symlinks that lead
out of a run's folder are refused. Downloads go out as attachments under a sandboxing CSP, so an
HTML artifact can never run as a page of the Jupyter origin.

An upload is received into ``<store>/.uploads`` and then written beside its target and renamed
over it (:func:`jupyter_mltrack.artifacts.copy_into`), so readers never see a partial file; each
upload first removes what crashed uploads left in ``.uploads`` over an hour ago.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from tornado import web

from ..artifacts import media_type_of
from ..entities import ArtifactInfo
from ..errors import MltrackError
from ..store.contract import AbstractStore
from ..store.duckdb import ui_queries
from ..validation import check_artifact_path
from . import parsing
from .handlers import NativeHandler
from .preview import PreviewLimits, preview_file

CHUNK_BYTES = 256 * 1024
MAX_LISTED = 10_000
STALE_UPLOAD_S = 3600.0  # leftovers in <store>/.uploads older than this are removed


def list_tree(store: AbstractStore, run_id: str, path: str, recursive: bool) -> list[ArtifactInfo]:
    """A folder's entries; with ``recursive``, every file below it (at most MAX_LISTED)."""
    entries = store.list_artifacts(run_id, path)
    if not recursive:
        return entries
    files: list[ArtifactInfo] = []
    pending = entries
    while pending:
        entry = pending.pop(0)
        if entry.is_dir:
            pending.extend(store.list_artifacts(run_id, entry.path))
        else:
            files.append(entry)
            if len(files) > MAX_LISTED:
                raise MltrackError(f"more than {MAX_LISTED} files under {path!r}; list a subfolder")
    return sorted(files, key=lambda e: e.path)


class ArtifactListHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """One folder of a run's artifacts, or with recursive=true every file below it."""
        path = check_artifact_path(self.query("path"))
        recursive = parsing.flag(self.query("recursive"), "recursive")
        entries = await self.call(list_tree, self.store, run_id, path, recursive)
        self.send_json({"path": path, "files": [asdict(e) for e in entries]})


def clean_stale_uploads(uploads: Path, older_than_s: float = STALE_UPLOAD_S) -> list[Path]:
    """Remove what uploads left in ``uploads`` (a crash, a killed server) over an hour ago.

    An upload in progress writes its file continuously, so only a folder whose newest write is
    older than ``older_than_s`` goes. Returns the entries removed.
    """
    removed: list[Path] = []
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(uploads))
    except OSError:
        return removed
    for entry in entries:
        try:
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                newest = max(
                    [entry.stat(follow_symlinks=False).st_mtime]
                    + [c.stat(follow_symlinks=False).st_mtime for c in os.scandir(path)]
                )
            else:
                newest = entry.stat(follow_symlinks=False).st_mtime
            if newest >= cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            continue  # gone meanwhile, or not ours to remove: the next upload tries again
    return removed


class _Upload:
    """An upload being received into a temporary folder in the store directory."""

    def __init__(self, store_dir: Path, name: str, limit: int):
        uploads = store_dir / ".uploads"
        uploads.mkdir(exist_ok=True)
        clean_stale_uploads(uploads)
        self.folder = Path(tempfile.mkdtemp(dir=uploads))
        self.file = self.folder / name
        self._fh = open(self.file, "wb")  # noqa: SIM115 - closed in finish() or discard()
        self.limit = limit
        self.received = 0

    def write(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received <= self.limit:
            self._fh.write(chunk)

    @property
    def too_large(self) -> bool:
        return self.received > self.limit

    def finish(self) -> Path:
        self._fh.close()
        return self.file

    def discard(self) -> None:
        self._fh.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@web.stream_request_body
class ArtifactFileHandler(NativeHandler):
    """``GET``/``HEAD``: download one artifact file; ``PUT``: upload one (the raw body)."""

    buffers_json_body = False  # the upload streams to a file, within max_upload_bytes

    _upload: _Upload | None = None
    _body_complete = False

    @property
    def content_security_policy(self) -> str:
        # downloaded bytes must never act as a page of the Jupyter origin
        return super().content_security_policy + "; sandbox"

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.request.method == "PUT":
            # Jupyter checks credentials in prepare() only when the server disallows
            # unauthenticated access; @web.authenticated on put() would come after the body.
            # Refuse here, before a single byte of an anonymous upload is stored.
            if not self.current_user:
                raise web.HTTPError(403)
            await self._start_upload()

    async def _start_upload(self) -> None:
        limit = int(self.mltrack_config.max_upload_bytes)
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise web.HTTPError(
                413, f"upload of {declared} bytes is larger than the limit of {limit} bytes"
            )
        rel = check_artifact_path(self.required("path"))
        if not rel:
            raise MltrackError("path must name a file")
        run_id = self.path_kwargs["run_id"]
        await self.call(ui_queries.require_run, self.owned_store, run_id)
        # a little headroom so that an over-long body reaches put() and gets a clear 413
        self.request.connection.set_max_body_size(limit + CHUNK_BYTES)  # type: ignore[union-attr]
        self._upload = _Upload(self.store.store_dir, PurePosixPath(rel).name, limit)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if self.request.method == "PUT" and not self._body_complete:
            # Refused before the body was read: tornado will drop the connection rather than
            # read the rest, so tell the client not to reuse it for its next request.
            self.set_header("Connection", "close")
        super().write_error(status_code, **kwargs)

    def data_received(self, chunk: bytes) -> None:
        if self._upload is not None:
            self._upload.write(chunk)

    def on_finish(self) -> None:
        if self._upload is not None:
            self._upload.discard()

    def on_connection_close(self) -> None:
        if self._upload is not None:
            self._upload.discard()
        super().on_connection_close()

    @web.authenticated
    async def put(self, run_id: str) -> None:
        """Store the request body as the artifact ``path`` of the run (replacing it)."""
        self._body_complete = True
        upload = self._upload
        assert upload is not None  # set by prepare() for every PUT that gets here
        if upload.too_large:
            raise web.HTTPError(413, f"upload is larger than the limit of {upload.limit} bytes")
        rel = check_artifact_path(self.required("path"))
        parent = str(PurePosixPath(rel).parent)
        written = await self.call(
            self.store.save_artifact_files,
            run_id,
            upload.finish(),
            None if parent == "." else parent,
        )
        path, size, media_type = written[0]
        self.send_json({"path": path, "size": size, "media_type": media_type})

    @web.authenticated
    async def head(self, run_id: str) -> None:
        """The headers a GET would send: size, type, ranges."""
        await self._send(run_id, body=False)

    @web.authenticated
    async def get(self, run_id: str) -> None:
        """The artifact's bytes; a ``Range: bytes=a-b`` header gets 206 and just that part."""
        await self._send(run_id, body=True)

    async def _send(self, run_id: str, body: bool) -> None:
        rel = check_artifact_path(self.required("path"))
        target: Path = await self.call(self.store.artifact_file, run_id, rel)
        if target.is_dir():
            raise MltrackError(f"{rel!r} is a folder; list it with .../artifacts?path={quote(rel)}")
        size = target.stat().st_size
        try:
            wanted = parsing.byte_range(self.request.headers.get("Range"), size)
        except parsing.RangeNotSatisfiable as exc:
            self.set_status(416)
            self.set_header("Content-Range", f"bytes */{size}")
            self.finish(exc.to_dict())
            return
        first, last = wanted if wanted is not None else (0, size - 1)
        if wanted is not None:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {first}-{last}/{size}")
        media_type = media_type_of(rel)
        # set now: the first flush below sends the headers
        self.set_header("Content-Type", media_type)
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("Content-Length", str(last - first + 1))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header(
            "Content-Disposition",
            f"attachment; filename*=UTF-8''{quote(PurePosixPath(rel).name)}",
        )
        if body:
            remaining = last - first + 1
            with open(target, "rb") as fh:
                fh.seek(first)
                while remaining > 0:
                    chunk = fh.read(min(CHUNK_BYTES, remaining))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                    self.write(chunk)
                    await self.flush()
        self.finish(set_content_type=media_type)


class ArtifactPreviewHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """A bounded, JSON description of one artifact file for an inline view."""
        rel = check_artifact_path(self.required("path"))
        target: Path = await self.call(self.store.artifact_file, run_id, rel)
        if target.is_dir():
            raise MltrackError(f"{rel!r} is a folder; only files have previews")
        config = self.mltrack_config
        limits = PreviewLimits(
            max_bytes=config.preview_max_bytes,
            max_rows=config.preview_max_rows,
            max_image_bytes=config.preview_max_image_bytes,
        )
        preview: dict[str, Any] = await self.call(preview_file, target, rel, limits)
        self.send_json(preview)
