"""MLflow's artifact proxy (``api/2.0/mlflow-artifacts``), run artifact listing, server-info.

``mlflow-artifacts:/X`` is ``<artifact root>/X``. Every path from a request goes through
:func:`jupyter_mltrack.artifacts.safe_join`, so ``..``, absolute paths and symlinks cannot leave
the artifact root. Uploads stream to a temporary file next to their target and are renamed into
place when complete, so a reader never sees half a file, and an upload over the size limit is
refused before its body is read when it declares its length. Downloads are sent as
``application/octet-stream`` attachments: an HTML artifact must not run as a page of the Jupyter
origin.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tornado import web
from tornado.http1connection import HTTP1Connection

from ... import artifacts as artifact_files
from ...clock import now_ms
from ...errors import MltrackError
from ...store.batch import ArtifactRow, WriteBatch
from ...store.contract import AbstractStore
from ...validation import check_artifact_path
from ..base import CONFIG_SETTING
from . import messages
from .handler import MlflowHandler
from .serialise import proxy_uri

#: upload limit when the server's configuration sets none
DEFAULT_MAX_UPLOAD_BYTES = 1024**3
#: name of the configuration trait that sets the upload limit
UPLOAD_LIMIT_TRAIT = "max_upload_bytes"
_CHUNK = 1024 * 1024


def run_of_artifact(store: AbstractStore, artifact_root: Path, rel: str) -> tuple[str, str] | None:
    """The run whose artifact folder holds ``rel`` (a path under the artifact root), and the
    path inside that folder; None when ``rel`` belongs to no run (e.g. a logged model's files).

    Run folders are ``<experiment location>/<run id>/artifacts``; the candidate run is checked
    against the store, so a look-alike path never indexes a file into the wrong run.
    """
    parts = rel.split("/")
    for i in range(len(parts) - 2, 0, -1):
        if parts[i] != "artifacts":
            continue
        run_id = parts[i - 1]
        try:
            run = store.get_run(run_id)
        except MltrackError:
            continue
        if run.info.artifact_uri == (artifact_root / "/".join(parts[: i + 1])).as_uri():
            return run_id, "/".join(parts[i + 1 :])
    return None


def index_upload(store: AbstractStore, artifact_root: Path, rel: str, size: int) -> None:
    """Record an uploaded file in its run's artifact index (a no-op outside run folders)."""
    found = run_of_artifact(store, artifact_root, rel)
    if found is None or not found[1]:
        return
    run_id, path = found
    row = ArtifactRow(run_id, path, size, artifact_files.media_type_of(path), None, now_ms())
    # skip_invalid: the file is stored either way; a deleted run just keeps it unindexed
    store.write_batch(WriteBatch(artifacts=[row]), True)


def content_disposition(name: str) -> str:
    """An attachment header for any file name: an ASCII fallback plus the UTF-8 name (RFC 6266);
    a raw non-Latin-1 name would make the header unencodable."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@web.stream_request_body
class ArtifactFile(MlflowHandler):
    """PUT, GET and DELETE of one file under the artifact root."""

    buffers_json_body = False  # the upload streams to a file, within max_upload_bytes

    _tmp: Path | None = None
    _out: Any = None
    _received = 0
    _too_large = False

    @property
    def max_upload_bytes(self) -> int:
        config = self.settings.get(CONFIG_SETTING)
        value = getattr(config, UPLOAD_LIMIT_TRAIT, None)
        return int(value) if value else DEFAULT_MAX_UPLOAD_BYTES

    def _target(self, path: str) -> tuple[str, Path]:
        rel = check_artifact_path(path)
        if not rel:
            raise MltrackError("an artifact path is required")
        return rel, artifact_files.safe_join(self.artifact_root, rel)

    async def prepare(self) -> None:  # type: ignore[override]
        # Authentication happens in the base prepare(), before any byte of the body is read.
        await super().prepare()
        if self.current_user is None:
            raise web.HTTPError(403)
        if self.request.method != "PUT":
            return
        limit = self.max_upload_bytes
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise web.HTTPError(
                413, f"upload of {declared} bytes is over the server's limit of {limit} bytes"
            )
        # a chunked upload without a length is cut off by the connection at the limit
        if isinstance(self.request.connection, HTTP1Connection):
            self.request.connection.set_max_body_size(limit)
        _, target = self._target(self.path_args[0])
        if target.is_dir():
            raise MltrackError(f"artifact path {self.path_args[0]!r} is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = target.with_name(f".{target.name}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self._out = open(self._tmp, "wb")  # noqa: SIM115 - closed in put() or on_finish()

    def data_received(self, chunk: bytes) -> None:
        if self._out is None:
            return  # GET/DELETE bodies are ignored
        self._received += len(chunk)
        if self._received > self.max_upload_bytes:
            self._too_large = True
            return
        self._out.write(chunk)

    def _discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def on_finish(self) -> None:
        self._discard()

    def on_connection_close(self) -> None:
        self._discard()
        super().on_connection_close()

    @web.authenticated
    async def put(self, path: str) -> None:
        """Store the request body as the file ``path``."""
        if self._too_large:
            raise web.HTTPError(
                413, f"upload is over the server's limit of {self.max_upload_bytes} bytes"
            )
        rel, target = self._target(path)
        assert self._out is not None and self._tmp is not None
        self._out.close()
        self._out = None
        os.replace(self._tmp, target)
        self._tmp = None
        await self.call(index_upload, self.store, self.artifact_root, rel, self._received)
        self.ok()

    @web.authenticated
    async def get(self, path: str) -> None:
        """Stream the file ``path``."""
        rel, target = self._target(path)
        if not target.is_file():
            raise messages.no_artifact(rel)
        # headers go out with the first chunk, so the type must be set before it
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(target.stat().st_size))
        self.set_header("Content-Disposition", content_disposition(target.name))
        self.set_header("X-Content-Type-Options", "nosniff")
        with open(target, "rb") as source:
            while chunk := source.read(_CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish(set_content_type="application/octet-stream")

    @web.authenticated
    async def delete(self, path: str) -> None:
        """Remove the file or folder ``path``; one that is not there is already removed (as
        MLflow answers)."""
        _, target = self._target(path)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        self.ok()


class ArtifactListing(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """One folder's entries, paths relative to it; ``{}`` for a file or a missing path."""
        rel = check_artifact_path(self.fields().string("path", ""))
        entries = artifact_files.list_dir(self.artifact_root, rel)
        cut = len(rel) + 1 if rel else 0
        files = []
        for entry in entries:
            item: dict[str, Any] = {"path": entry.path[cut:], "is_dir": entry.is_dir}
            if not entry.is_dir:
                item["file_size"] = entry.file_size
            files.append(item)
        self.ok({"files": files} if files else {})


class ListRunArtifacts(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """One folder of a run's artifacts (the tracking API's ``artifacts/list``)."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        path = check_artifact_path(f.string("path", ""))
        run = await self.call(self.store.get_run, run_id)
        entries = await self.call(self.store.list_artifacts, run_id, path)
        files = []
        for entry in entries:
            item: dict[str, Any] = {"path": entry.path, "is_dir": entry.is_dir}
            if not entry.is_dir:
                item["file_size"] = entry.file_size
            files.append(item)
        self.ok({"root_uri": proxy_uri(self.artifact_root, run.info.artifact_uri), "files": files})


class ServerInfo(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """What MLflow clients probe before uploads: no multipart, no workspaces."""
        self.ok(
            {
                "store_type": "SqlStore",
                "workspaces_enabled": False,
                "trace_archival_enabled": False,
                "multipart_uploads_enabled": False,
                "multipart_downloads_enabled": False,
                "presigned_upload_run_id_supported": False,
                "presigned_upload_model_id_supported": False,
                "features_enabled": {"gateway": False},
            }
        )


ROUTES: list[tuple[str, type]] = [
    (r"api/2\.0/mlflow-artifacts/artifacts/?", ArtifactListing),
    (r"api/2\.0/mlflow-artifacts/artifacts/(.+)", ArtifactFile),
    (r"api/2\.0/mlflow/artifacts/list", ListRunArtifacts),
    (r"api/3\.0/mlflow/server-info", ServerInfo),
]
