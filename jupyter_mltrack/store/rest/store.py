"""The REST client of a tracking server, with the same interface as the embedded store.

While a Jupyter server with the extension owns a store, every other process reaches that store
through this class: kernels the server started find it in their environment
(``MLTRACK_SERVER_URL``, ``MLTRACK_SERVER_TOKEN``), scripts started by hand in the
``server.json`` file the server keeps in the store directory. Errors come back as the
:class:`MltrackError` the server raised, with the same code; a server that cannot be reached
(refused, timed out, shutting down, 5xx) is STORE_UNAVAILABLE, which makes the background
flusher spool the batch and replay it later. After a failure the client looks for the server
again (it may have restarted on another port or with another token) before giving up.

Write batches travel as one Arrow IPC stream each (:mod:`..wire`), encoded in the flusher
thread; a server that does not take Arrow (415, a bare 404, or an older server of ours that
reads every body as JSON) gets JSON from then on. Metric histories and run frames come back as
Arrow.

This module is imported by kernels: it must not import tornado or jupyter_server, and it
imports ``requests`` and ``pyarrow`` only when they are first needed.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
import weakref
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ...artifacts import safe_join
from ...entities import (
    ArtifactInfo,
    Cell,
    Dataset,
    DatasetInput,
    Experiment,
    MetricHistory,
    Run,
    RunData,
    RunInfo,
)
from ...errors import ErrorCode, MltrackError
from ...validation import check_artifact_path
from .. import paging, rules
from ..batch import MetricSeriesRow, WriteBatch
from ..contract import AbstractStore
from ..discovery import SERVER_FILE, TOKEN_ENV, ServerAddress, find_server
from .registry_methods import RestRegistryMixin

CONNECT_TIMEOUT_S = 5.0
# Generous: a large batch or a big table may take a while; a write that times out after it
# was sent is spooled and sent again, so timing out early risks writing it twice.
READ_TIMEOUT_S = 300.0
_UPLOAD_CHUNK = 1024 * 1024
# A server on this machine is reached directly, whatever HTTP(S)_PROXY says.
_NO_PROXY = {"http": None, "https": None}
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


# Decoding --------------------------------------------------------------------------------------


def _float(value: Any) -> float:
    # the server sends NaN and infinities as the strings "NaN", "Infinity", "-Infinity"
    return float(value) if isinstance(value, str) else value


def _experiment(data: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=data["experiment_id"],
        name=data["name"],
        artifact_location=data["artifact_location"],
        lifecycle_stage=data["lifecycle_stage"],
        creation_time=data["creation_time"],
        last_update_time=data["last_update_time"],
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
    )


_RUN_INFO_FIELDS = tuple(f.name for f in fields(RunInfo))
_DATASET_FIELDS = tuple(f.name for f in fields(Dataset))


def _run(data: dict[str, Any]) -> Run:
    info = RunInfo(**{name: data["info"].get(name) for name in _RUN_INFO_FIELDS})
    run_data = RunData(
        metrics={k: _float(v) for k, v in data["data"]["metrics"].items()},
        params=dict(data["data"]["params"]),
        tags=dict(data["data"]["tags"]),
    )
    inputs = [
        DatasetInput(
            Dataset(**{name: i["dataset"].get(name) for name in _DATASET_FIELDS}),
            i.get("context"),
            dict(i.get("tags") or {}),
        )
        for i in data.get("inputs", [])
    ]
    return Run(info=info, data=run_data, inputs=inputs, outputs=list(data.get("outputs") or []))


def _cell(data: dict[str, Any]) -> Cell:
    values = dict(data)
    if values.get("duration_ms") is not None:
        values["duration_ms"] = _float(values["duration_ms"])
    return Cell(**values)


def _dumps(data: Any) -> bytes:
    # Strict JSON: a NaN that reached here unconverted is a bug, not something to send as a
    # bare token (see wire_batch and openapi.yaml for the one wire form of non-finite numbers)
    return json.dumps(data, allow_nan=False, separators=(",", ":")).encode("utf-8")


_NON_FINITE_TEXT = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _wire_number(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else _NON_FINITE_TEXT[value]


#: metric points per request: a million points is 24 MB of Arrow (about 40 MB as JSON), inside
#: the server's body limit for batches (``max_batch_body_bytes``, 64 MiB by default)
MAX_POINTS_PER_REQUEST = 1_000_000
#: runs per ``/run-frame`` request: the route's limit (a larger frame comes in pages)
RUN_FRAME_PAGE_SIZE = 50_000
#: the media type of Arrow IPC streams (``wire.MEDIA_TYPE``; not imported, pyarrow loads late)
ARROW_STREAM = "application/vnd.apache.arrow.stream"


def split_batch(batch: WriteBatch, max_points: int = MAX_POINTS_PER_REQUEST) -> list[WriteBatch]:
    """The batch as requests of at most ``max_points`` metric points each.

    A batch within the limit goes whole. A larger one (a long ``log_metric_series``) goes as
    parts: the first carries every row but the metric points, and each part its own id derived
    from the batch's (``<id>-<n>``), so a part sent again after an ambiguous failure is still
    applied once. The parts are separate transactions: a failure part-way leaves the earlier
    parts written, and the flusher's retry of the whole batch skips them by id.
    """
    if len(batch) <= max_points:
        return [batch]
    import numpy as np

    first = WriteBatch(
        runs=batch.runs,  # created before any row names them
        params=batch.params,
        tags=batch.tags,
        artifacts=batch.artifacts,
        inputs=batch.inputs,
        cells=batch.cells,
        run_updates=[],  # ending a run goes last, after all its points
    )
    parts = [first]
    parts += [
        WriteBatch(metrics=batch.metrics[start : start + max_points])
        for start in range(0, len(batch.metrics), max_points)
    ]
    current = WriteBatch()
    for row in batch.metric_series:
        values, steps, stamps = (np.asarray(c) for c in (row.values, row.steps, row.timestamps))
        start = 0
        while start < len(values):
            stop = start + max_points - len(current)  # what the current part has room for
            current.metric_series.append(
                MetricSeriesRow(
                    row.run_id,
                    row.key,
                    row.cell_id,
                    values[start:stop],
                    steps[start:stop],
                    stamps[start:stop],
                )
            )
            start = stop
            if len(current) >= max_points:
                parts.append(current)
                current = WriteBatch()
    current.run_updates = list(batch.run_updates)
    parts.append(current)
    parts = [p for p in parts if len(p)]
    if batch.batch_id is not None:
        for n, part in enumerate(parts):
            part.batch_id = f"{batch.batch_id[:56]}-{n}"
    return parts


def wire_batch(batch: WriteBatch) -> dict[str, Any]:
    """A batch as the server's ``/batches`` route takes it: NaN and ±inf as strings.

    The one wire form of non-finite numbers, both ways (openapi.yaml): "NaN", "Infinity",
    "-Infinity". Series are checked as a whole first, so a finite history costs one pass.
    """
    import numpy as np

    data = batch.to_json()
    data["metrics"] = [[*row[:2], _wire_number(row[2]), *row[3:]] for row in data["metrics"]]
    for row in data["metric_series"]:
        values = row[3]
        if values and not np.isfinite(np.asarray(values, dtype=np.float64)).all():
            row[3] = [_wire_number(v) for v in values]
    return data


def _path_arg(value: str) -> str:
    return quote(value, safe="")


# The client ------------------------------------------------------------------------------------


class RestStore(RestRegistryMixin, AbstractStore):
    """A store served by a jupyter-mltrack tracking server.

    Parameters
    ----------
    store_dir:
        The local store directory: where the spool lives and where the server is looked up.
    url:
        The server's ``…/mltrack`` URL; found with :func:`find_server` when omitted.
    token:
        The Jupyter token; sent as ``Authorization: token <token>``.
    """

    def __init__(self, store_dir: str | Path, url: str | None = None, token: str | None = None):
        self.store_dir = Path(store_dir).expanduser().resolve()
        if url is None:
            found = find_server(self.store_dir)
            if found is None:
                raise MltrackError(
                    f"no tracking server owns the store {self.store_dir}",
                    ErrorCode.STORE_UNAVAILABLE,
                )
            self._address = found
        else:
            self._address = ServerAddress(url.rstrip("/"), token or "")
        self._local = threading.local()
        # servers (by URL) that refused an Arrow batch: they get JSON
        self._json_only: set[str] = set()
        self._cache_root: Path | None = None
        self._artifact_root: str | None = None  # the server's, read once when first needed
        self._cache_lock = threading.Lock()

    #: metric points per ``/batches`` request (larger batches go in parts: :func:`split_batch`)
    max_points_per_request = MAX_POINTS_PER_REQUEST
    #: runs per ``/run-frame`` request (:meth:`_search_runs_frame` reads the pages)
    run_frame_page_size = RUN_FRAME_PAGE_SIZE

    def __repr__(self) -> str:
        return f"RestStore({self._address.url!r}, store_dir={str(self.store_dir)!r})"

    @property
    def url(self) -> str:
        """The server's ``…/mltrack`` URL in use."""
        return self._address.url

    def close(self) -> None:
        """Close this thread's HTTP connections (others close when their threads end)."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # HTTP --------------------------------------------------------------------------------------
    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            # one session per thread: the flusher thread and the caller's thread log at once
            session = self._local.session = requests.Session()
        return session

    def _rediscover(self) -> bool:
        """Look for the server again; True if it is now somewhere else (or has a new token)."""
        found = find_server(self.store_dir, prefer_file=True)
        if found is None or found == self._address:
            return False
        self._address = found
        self.close()
        return True

    def _request(
        self,
        method: str,
        route: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: Any = None,
        stream: bool = False,
        content_type: str | None = None,
        answer_statuses: tuple[int, ...] = (),
    ) -> Any:
        """Send one request to ``<url>/api<route>``; return the response or raise MltrackError.

        A response whose status is in ``answer_statuses`` is returned, not raised, for the
        caller to look at.
        """
        import requests

        headers = {}
        if body is not None:
            data = _dumps(body)
            content_type = "application/json"
        if content_type is not None:
            headers["Content-Type"] = content_type
        for attempt in (1, 2):
            address = self._address
            headers.pop("Authorization", None)
            if address.token:
                headers["Authorization"] = f"token {address.token}"
            if hasattr(data, "seek"):
                data.seek(0)
            try:
                response = self._session().request(
                    method,
                    f"{address.url}/api{route}",
                    params=params,
                    data=data,
                    headers=headers,
                    stream=stream,
                    timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
                    proxies=_NO_PROXY if _is_loopback(address.url) else None,
                )
            except requests.RequestException as exc:
                if attempt == 1 and self._rediscover():
                    continue
                if attempt == 1 and method != "POST" and isinstance(exc, requests.ConnectionError):
                    # a kept-alive connection the server had closed: try once on a fresh one
                    # (never for POST, which a retry could apply twice)
                    self.close()
                    continue
                raise MltrackError(
                    f"cannot reach the tracking server at {address.url}: {exc}",
                    ErrorCode.STORE_UNAVAILABLE,
                ) from None
            if response.status_code in (401, 403) and attempt == 1 and self._rediscover():
                continue
            if response.status_code >= 400 and response.status_code not in answer_statuses:
                raise self._error(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, response: Any) -> MltrackError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            message, code_text = str(body.get("message") or body), body.get("error_code")
        else:
            message, code_text = response.text[:300], None
        where = self._address.url
        if status in (401, 403):
            # the data is fine; the server did not accept us: keep batches in the spool
            return MltrackError(
                f"the tracking server at {where} refused the request ({status}): {message}; "
                f"check {TOKEN_ENV} or the token in {self.store_dir / SERVER_FILE}",
                ErrorCode.STORE_UNAVAILABLE,
            )
        if status >= 500:
            return MltrackError(
                f"the tracking server at {where} failed ({status}): {message}",
                ErrorCode.STORE_UNAVAILABLE,
            )
        try:
            code = ErrorCode(code_text)
        except ValueError:
            code = ErrorCode.INTERNAL_ERROR
            message = f"unexpected answer {status} from {where}: {message}"
        return MltrackError(message, code)

    def _get(self, route: str, **params: Any) -> Any:
        return self._request("GET", route, params=_params(params)).json()

    def _send(self, method: str, route: str, body: Any = None, **params: Any) -> Any:
        return self._request(method, route, params=_params(params), body=body).json()

    def _arrow(self, route: str, **params: Any) -> Any:
        import pyarrow as pa

        # read whole, not in requests' 10 kB pieces (a 200k-point history is 4.8 MB)
        with self._request("GET", route, params=_params(params), stream=True) as response:
            content = response.raw.read(decode_content=True)
        return pa.ipc.open_stream(content).read_all()

    # experiments -------------------------------------------------------------------------------
    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        body = {"name": name, "artifact_location": artifact_location, "tags": tags}
        return str(self._send("POST", "/experiments", body)["experiment"]["experiment_id"])

    def _get_experiment(self, experiment_id: str) -> Experiment:
        return _experiment(self._get(f"/experiments/{_path_arg(experiment_id)}")["experiment"])

    def _get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            return _experiment(self._get("/experiment-by-name", name=name)["experiment"])
        except MltrackError as exc:
            if exc.code == ErrorCode.RESOURCE_DOES_NOT_EXIST:
                return None
            raise

    def _search_experiments(
        self,
        view_type: str,
        filter_string: str | None,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Experiment], str | None]:
        data = self._get(
            "/experiments",
            view_type=view_type,
            filter=filter_string,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        return [_experiment(e) for e in data["experiments"]], data.get("next_page_token")

    def _update_experiment(
        self, experiment_id: str, name: str | None, tags: dict[str, str | None]
    ) -> None:
        body: dict[str, Any] = {"tags": tags}
        if name is not None:
            body["name"] = name
        self._send("PATCH", f"/experiments/{_path_arg(experiment_id)}", body)

    def _set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        if stage == "deleted":
            self._send("DELETE", f"/experiments/{_path_arg(experiment_id)}")
        else:
            self._send("POST", f"/experiments/{_path_arg(experiment_id)}/restore")

    # runs --------------------------------------------------------------------------------------
    def _run_artifact_uri(self, experiment: Experiment, run_id: str) -> str:
        # the server's layout: <artifact root>/<experiment location>/<run id>/artifacts
        root = self._server_artifact_root()
        return (Path(root) / experiment.artifact_location / run_id / "artifacts").as_uri()

    def _server_artifact_root(self) -> str:
        root = self._artifact_root
        if root is None:
            root = self._artifact_root = str(self._info()["artifact_root"])
        return root

    def _get_run(self, run_id: str) -> Run:
        return _run(self._get(f"/runs/{_path_arg(run_id)}")["run"])

    def _update_run(
        self,
        run_id: str,
        status: str | None,
        end_time: int | None,
        run_name: str | None,
        tags: dict[str, str | None],
    ) -> Run:
        body = {"status": status, "end_time": end_time, "run_name": run_name}
        changes: dict[str, Any] = {k: v for k, v in body.items() if v is not None}
        if tags:
            changes["tags"] = tags
        return _run(self._send("PATCH", f"/runs/{_path_arg(run_id)}", changes)["run"])

    def _set_run_lifecycle(self, run_id: str, stage: str) -> None:
        if stage == "deleted":
            self._send("DELETE", f"/runs/{_path_arg(run_id)}")
        else:
            self._send("POST", f"/runs/{_path_arg(run_id)}/restore")

    def _write_batch(self, batch: WriteBatch, skip_invalid: bool) -> list[str]:
        warnings: list[str] = []
        for part in split_batch(batch, self.max_points_per_request):
            warnings.extend(self._post_batch(part, "true" if skip_invalid else "false"))
        return warnings

    def _post_batch(self, part: WriteBatch, skip_invalid: str) -> list[str]:
        """Send one part as Arrow, or as JSON to a server that does not take Arrow."""
        if self._address.url not in self._json_only:
            body = _arrow_batch(part)
            if body is not None:
                response = self._request(
                    "POST",
                    "/batches",
                    params={"skip_invalid": skip_invalid},
                    data=body,
                    content_type=ARROW_STREAM,
                    answer_statuses=(400, 404, 415),
                )
                if not _refuses_arrow(response):
                    if response.status_code >= 400:
                        raise self._error(response)
                    return list(response.json()["warnings"])
                # refused unread (nothing was written): this server gets JSON from now on
                self._json_only.add(self._address.url)
        answer = self._send("POST", "/batches", wire_batch(part), skip_invalid=skip_invalid)
        return list(answer["warnings"])

    def _append_logged_model_record(self, run_id: str, model: dict[str, Any]) -> None:
        self._send("POST", f"/runs/{_path_arg(run_id)}/logged-model-records", {"model": model})

    # reads -------------------------------------------------------------------------------------
    def _get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        import numpy as np

        table = self._arrow(f"/runs/{_path_arg(run_id)}/metric-history", key=key, format="arrow")
        # columns as the embedded store gives them: int64/float64 arrays of one's own
        # (Arrow's views of the answer are read-only; a copy costs about a millisecond)
        columns = [
            np.array(table.column(name).to_numpy(), dtype=dtype)
            for name, dtype in (("step", np.int64), ("value", np.float64), ("timestamp", np.int64))
        ]
        return MetricHistory(key, *columns)

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Run], str | None]:
        data = self._get(
            "/run-search",
            experiment_id=_ids(experiment_ids),
            filter=filter_string,
            view_type=view_type,
            max_results=max_results,
            order_by=order_by,
            page_token=page_token,
        )
        return [_run(r) for r in data["runs"]], data.get("next_page_token")

    def _search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        view_type: str,
        max_results: int,
        order_by: list[str] | None,
        offset: int,
    ) -> Any:
        tables = []
        rows, token = 0, (paging.encode(offset) if offset else None)
        while True:
            # pages of at most the route's limit, until the runs asked for (or all) are in
            table = self._arrow(
                "/run-frame",
                experiment_id=_ids(experiment_ids),
                filter=filter_string,
                view_type=view_type,
                max_results=min(self.run_frame_page_size, max_results - rows),
                order_by=order_by,
                page_token=token,
            )
            tables.append(table)
            rows += table.num_rows
            token = (table.schema.metadata or {}).get(b"next_page_token")
            if not token or rows >= max_results:
                break
            token = token.decode()
        if len(tables) == 1:
            return tables[0].to_pandas()
        return _frame_of_pages(tables)

    def _list_artifacts(self, run_id: str, path: str) -> list[ArtifactInfo]:
        data = self._get(f"/runs/{_path_arg(run_id)}/artifacts", path=path)
        return [ArtifactInfo(**entry) for entry in data["files"]]

    def _get_cells(self, run_id: str) -> list[Cell]:
        return [_cell(c) for c in self._get(f"/runs/{_path_arg(run_id)}/cells")["cells"]]

    def _get_logged_items(self, run_id: str, cell_id: str | None) -> list[tuple]:
        data = self._get(f"/runs/{_path_arg(run_id)}/items", cell_id=cell_id)
        return [tuple(item[name] for name in rules.ITEM_FIELDS) for item in data["items"]]

    def _get_item_cell(
        self, run_id: str, kind: str, key: str, step: int | None
    ) -> tuple[bool, Cell | None]:
        data = self._get(f"/runs/{_path_arg(run_id)}/item-cell", kind=kind, key=key, step=step)
        cell = data.get("cell")
        return bool(data["found"]), (None if cell is None else _cell(cell))

    # artifact files ----------------------------------------------------------------------------
    def _upload(self, run_id: str, rel: str, data: Any) -> tuple[str, int, str]:
        answer = self._request(
            "PUT", f"/runs/{_path_arg(run_id)}/artifacts/file", params={"path": rel}, data=data
        ).json()
        return answer["path"], answer["size"], answer["media_type"]

    def _save_artifact_files(
        self, run_id: str, local_path: Path, artifact_path: str
    ) -> list[tuple[str, int, str]]:
        local, folder = local_path, artifact_path
        if local.is_dir():
            files = sorted(p for p in local.rglob("*") if p.is_file())
            pairs = [(p, p.relative_to(local).as_posix()) for p in files]
        else:
            pairs = [(local, local.name)]
        written = []
        for src, name in pairs:
            rel = f"{folder}/{name}" if folder else name
            with open(src, "rb") as fh:
                written.append(self._upload(run_id, check_artifact_path(rel), fh))
        return written

    def _save_artifact_bytes(self, run_id: str, path: str, data: bytes) -> tuple[str, int, str]:
        return self._upload(run_id, path, data)

    def _cache_dir(self) -> Path:
        with self._cache_lock:
            if self._cache_root is None:
                self._cache_root = Path(tempfile.mkdtemp(prefix="mltrack-artifacts-"))
                weakref.finalize(self, shutil.rmtree, self._cache_root, True)
        # a fresh folder per download: a caller may still be using an earlier copy
        return Path(tempfile.mkdtemp(dir=self._cache_root))

    def _download(self, run_id: str, rel: str, dest: Path) -> None:
        response = self._request(
            "GET", f"/runs/{_path_arg(run_id)}/artifacts/file", params={"path": rel}, stream=True
        )
        dest.parent.mkdir(parents=True, exist_ok=True)
        # a new file only: never through a symbolic link, never over a file already there
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(dest, flags | getattr(os, "O_BINARY", 0), 0o600)
        with response, os.fdopen(fd, "wb") as fh:
            for chunk in response.iter_content(_UPLOAD_CHUNK):
                fh.write(chunk)

    def _artifact_file(self, run_id: str, path: str) -> Path:
        """A local copy of an artifact file, or of a folder's files, downloaded now.

        Every path the server lists is checked before anything is written: relative, without
        ``..``, inside the folder asked for, and landing inside the download folder.
        """
        rel = check_artifact_path(path)
        files = self._get(f"/runs/{_path_arg(run_id)}/artifacts", path=rel, recursive="true")[
            "files"
        ]
        cache = self._cache_dir()
        if files or not rel:
            # a folder: its files, below a local folder of the same name
            root = cache / (rel.rsplit("/", 1)[-1] if rel else "artifacts")
            planned = [_local_target(root, rel, entry) for entry in files]
            root.mkdir()
            for inner in planned:
                remote = f"{rel}/{inner}" if rel else inner
                self._download(run_id, remote, safe_join(root, inner))
            return root
        target = cache / rel.rsplit("/", 1)[-1]
        self._download(run_id, rel, target)
        return target

    # housekeeping ------------------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
        return {**self._get("/info"), "server_url": self._address.url}

    def _gc(self, older_than_ms: int | None) -> dict[str, Any]:
        result: dict[str, Any] = self._send("POST", "/gc", {"older_than_ms": older_than_ms})
        return result


def _arrow_batch(part: WriteBatch) -> memoryview | None:
    """The part as an Arrow IPC stream, or None if a value would not travel unchanged (it goes
    as JSON then, and the server names the bad field as it always has)."""
    from .. import wire

    try:
        return wire.encode(part)
    except wire.WireError:
        return None


def _refuses_arrow(response: Any) -> bool:
    """Whether a server answered an Arrow batch by not taking Arrow at all (nothing written):
    415, a 404 that is not one of our errors (no such route for this type), or the 400 with
    which servers before Arrow batches refuse any body that is not JSON."""
    status = response.status_code
    if status == 415:
        return True
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error_code") if isinstance(body, dict) else None
    if status == 404:
        return code is None
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    return status == 400 and message.startswith("request body is not valid JSON")


_FRAME_KINDS = ("metrics.", "params.", "tags.")


def _frame_of_pages(tables: list[Any]) -> Any:
    """The run frame's pages as one DataFrame, columns in the frame's order (the run's
    attributes, then ``metrics.*``, ``params.*``, ``tags.*``, each sorted by key); a column that
    only some pages have is null in the others."""
    import pyarrow as pa

    table = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="default"
    )
    names = table.column_names
    attributes = [n for n in names if not n.startswith(_FRAME_KINDS)]
    logged = sorted(
        (n for n in names if n.startswith(_FRAME_KINDS)),
        key=lambda n: (_FRAME_KINDS.index(n.split(".", 1)[0] + "."), n.split(".", 1)[1].encode()),
    )
    return table.select(attributes + logged).to_pandas()


def _local_target(root: Path, folder: str, entry: Any) -> str:
    """Where a listed file goes below ``root``: its path inside ``folder``, checked.

    The listing comes from the server, which this client does not trust to name local files.
    """
    remote = entry.get("path") if isinstance(entry, dict) else None
    try:
        remote = check_artifact_path(remote, "artifact path from the server")
    except MltrackError as exc:
        raise MltrackError(f"refused the server's listing: {exc.message}") from None
    if folder and not remote.startswith(folder + "/"):
        raise MltrackError(
            f"refused the server's listing: {remote!r} is not inside the folder {folder!r}"
        )
    inner = remote[len(folder) + 1 :] if folder else remote
    if not inner:
        raise MltrackError(f"refused the server's listing: empty file path in {folder!r}")
    safe_join(root, inner)  # no escape through what already exists below root either
    return inner


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc.rsplit(":", 1)[0] in _LOOPBACK


def _ids(experiment_ids: list[str]) -> list[str]:
    return list(experiment_ids)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    """Query arguments without the unset ones (lists become repeated arguments)."""
    return {k: v for k, v in params.items() if v is not None and v != ""}
