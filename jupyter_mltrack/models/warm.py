"""Warm models for the Jupyter server: load a registered version once, score it many times.

A notebook (or the lab extension) asks the server to score with ``<name>`` at a reference (a
version number, ``@alias`` or a bare alias, a stage, or ``latest``). The reference is resolved
on every request, so moving an alias takes effect at once; the loaded model is cached by the
version *and* its files' location, so a deleted and re-created version number never serves the
old model. At most ``max_models`` stay loaded (least recently used go first).

Loading a model runs its code (unpickling is code), so the server never loads one itself:
each warm version lives in its own worker process (:mod:`jupyter_mltrack.models._warm_worker`)
that loads it and scores requests sent over a pipe. Only versions whose files lie inside the
store's artifact root are loaded; anything else is refused before a file is read. A worker that
crashes or takes too long is stopped and answered with a 5xx; the next request starts a new
one. :meth:`WarmModels.close` stops them all (the server calls it when it stops).

No tornado here: :mod:`jupyter_mltrack.server.models_handlers` is the thin HTTP face.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import ModelVersion
from ..errors import ErrorCode, MltrackError
from ._warm_worker import read_frame, write_frame
from .example import SERVING_EXAMPLE_FILE
from .uris import check_within_root, version_for_reference

if TYPE_CHECKING:
    from ..store.registry_contract import AbstractRegistryStore

DEFAULT_MAX_MODELS = 4
DEFAULT_LOAD_TIMEOUT_S = 300.0
DEFAULT_PREDICT_TIMEOUT_S = 120.0
_STOP_GRACE_S = 5.0


class ModelWorkerError(MltrackError):
    """An error a worker reported (with its status), or a worker that died or hung."""

    def __init__(self, message: str, code: ErrorCode, status: int):
        super().__init__(message, code)
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status


def _reported(reply: dict[str, Any]) -> ModelWorkerError:
    try:
        code = ErrorCode(reply.get("code"))
    except ValueError:
        code = ErrorCode.INTERNAL_ERROR
    status = reply.get("status")
    return ModelWorkerError(
        str(reply.get("message")), code, status if isinstance(status, int) else 500
    )


class ModelWorker:
    """One worker process with one model loaded in it; requests to it are served one at a time.

    Parameters
    ----------
    model_dir:
        The model directory (already checked to be inside the artifact root).
    load_timeout, predict_timeout:
        Seconds to wait for the model to load and for each answer.
    """

    def __init__(self, model_dir: Path, load_timeout: float, predict_timeout: float):
        self.model_dir = model_dir
        self.predict_timeout = predict_timeout
        self._lock = threading.Lock()
        self._frames: queue.Queue[bytes | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mltrack.models._warm_worker", str(model_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        reader = threading.Thread(target=self._read, name=f"mltrack-warm-{self.proc.pid}")
        reader.daemon = True
        reader.start()
        ready = self._reply(load_timeout, "loading the model")
        if not ready.get("ok"):
            self.stop()
            raise _reported(ready)
        self.pid = int(ready["pid"])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                frame = read_frame(self.proc.stdout)
            except (OSError, ValueError):
                frame = None
            self._frames.put(frame)
            if frame is None:
                return

    def _reply(self, timeout: float, doing: str) -> dict[str, Any]:
        try:
            frame = self._frames.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise ModelWorkerError(
                f"the model's worker process took more than {timeout:g} s {doing}; it was "
                "stopped, and the next request starts it again",
                ErrorCode.INTERNAL_ERROR,
                503,
            ) from None
        if frame is None:
            try:
                code = self.proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.kill()
                code = self.proc.returncode
            raise ModelWorkerError(
                f"the model's worker process exited (code {code}) while {doing}; the next "
                "request starts it again",
                ErrorCode.INTERNAL_ERROR,
                500,
            )
        return json.loads(frame)  # type: ignore[no-any-return]

    @property
    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def predict(self, body: bytes, content_type: str | None) -> dict[str, Any]:
        """Send one scoring request; the worker's answer, or its error raised here."""
        with self._lock:
            assert self.proc.stdin is not None
            try:
                write_frame(self.proc.stdin, json.dumps({"content_type": content_type}).encode())
                write_frame(self.proc.stdin, body)
            except (BrokenPipeError, OSError, ValueError):
                pass  # the worker is gone: its end of stream says so below
            reply = self._reply(self.predict_timeout, "predicting")
        if not reply.get("ok"):
            raise _reported(reply)
        return reply["answer"]  # type: ignore[no-any-return]

    def kill(self) -> None:
        """Stop the process at once."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        """Close its stdin (it exits after the request in progress); kill it if it lingers."""
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            self.kill()


class WarmModels:
    """A small cache of model versions, each loaded in its own worker process, over one store.

    Parameters
    ----------
    store:
        A store with the registry methods (the server's own store).
    max_models:
        How many loaded models to keep at most.
    artifact_root:
        The only folder model files are loaded from (default: the store's ``artifact_root``).
    load_timeout, predict_timeout:
        Seconds a worker may take to load its model, and to answer one request.
    """

    def __init__(
        self,
        store: AbstractRegistryStore,
        max_models: int = DEFAULT_MAX_MODELS,
        artifact_root: str | os.PathLike[str] | None = None,
        load_timeout: float = DEFAULT_LOAD_TIMEOUT_S,
        predict_timeout: float = DEFAULT_PREDICT_TIMEOUT_S,
    ):
        if isinstance(max_models, bool) or not isinstance(max_models, int) or max_models < 1:
            raise MltrackError(f"max_models must be a positive integer, got {max_models!r}")
        root = artifact_root if artifact_root is not None else getattr(store, "artifact_root", None)
        if root is None:
            raise MltrackError("warm models need the store's artifact root to load models from")
        self.store = store
        self.max_models = max_models
        self.artifact_root = Path(root)
        self.load_timeout = load_timeout
        self.predict_timeout = predict_timeout
        self._models: OrderedDict[tuple[str, str, str], ModelWorker] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}
        self._closed = False

    def _key(self, version: ModelVersion) -> tuple[str, str, str]:
        where = self.store.get_model_version_download_uri(version.name, version.version)
        return (version.name, version.version, where)

    def _model_dir(self, key: tuple[str, str, str]) -> Path:
        # refused before anything of the model is read
        return check_within_root(self.artifact_root, key[2])

    def get(self, name: str, ref: str) -> tuple[ModelVersion, ModelWorker]:
        """The version ``ref`` points at now, and the worker it is loaded in (started once)."""
        version = version_for_reference(self.store, name, ref)
        key = self._key(version)
        model_dir = self._model_dir(key)
        with self._lock:
            worker = self._models.get(key)
            if worker is not None and worker.alive:
                self._models.move_to_end(key)
                return version, worker
            gate = self._loading.setdefault(key, threading.Lock())
        # one loader per version; others wait for it instead of loading the same files again
        doomed: list[ModelWorker] = []
        with gate:
            with self._lock:
                worker = self._models.get(key)
                if worker is not None and not worker.alive:
                    del self._models[key]  # crashed: started again below
                    worker = None
            if worker is None:
                try:
                    worker = ModelWorker(model_dir, self.load_timeout, self.predict_timeout)
                finally:
                    with self._lock:
                        self._loading.pop(key, None)
                with self._lock:
                    if self._closed:
                        doomed.append(worker)
                    else:
                        self._models[key] = worker
                    while len(self._models) > self.max_models:
                        doomed.append(self._models.popitem(last=False)[1])
        for old in doomed:
            old.stop()
        if self._closed:
            raise MltrackError("the server is stopping", ErrorCode.STORE_UNAVAILABLE)
        return version, worker

    def predict(self, name: str, ref: str, body: bytes, content_type: str | None) -> dict[str, Any]:
        """Score a request body (MLflow's scoring formats) with the version ``ref`` names."""
        version, worker = self.get(name, ref)
        try:
            answer = worker.predict(body, content_type)
        except ModelWorkerError as exc:
            if exc.status >= 500:
                self._forget(worker)
            raise
        return {"name": version.name, "version": version.version, **answer}

    def _forget(self, worker: ModelWorker) -> None:
        with self._lock:
            for key, held in list(self._models.items()):
                if held is worker:
                    del self._models[key]
        worker.kill()

    def describe(self, name: str, ref: str) -> dict[str, Any]:
        """The version ``ref`` names, whether it is loaded, its signature and a request example
        (reads the MLmodel file and the example as data; does not load the model)."""
        version = version_for_reference(self.store, name, ref)
        key = self._key(version)
        path = self._model_dir(key)
        from .mlmodel import ModelMeta

        meta = ModelMeta.load(path)
        example_path = path / SERVING_EXAMPLE_FILE
        with self._lock:
            worker = self._models.get(key)
            warm = worker is not None and worker.alive
        return {
            "name": version.name,
            "version": version.version,
            "aliases": list(version.aliases),
            "stage": version.current_stage,
            "model_id": version.model_id,
            "run_id": version.run_id,
            "warm": warm,
            "flavors": [k for k in meta.flavors if k != "python_function"],
            "signature": meta.signature.to_dict() if meta.signature is not None else None,
            "request_example": json.loads(example_path.read_text())
            if example_path.is_file()
            else None,
        }

    def evict(self, name: str | None = None) -> int:
        """Unload every model (or every version of ``name``); return how many were unloaded."""
        with self._lock:
            doomed = [k for k in self._models if name is None or k[0] == name]
            workers = [self._models.pop(key) for key in doomed]
        for worker in workers:
            worker.stop()
        return len(doomed)

    def close(self) -> None:
        """Stop every worker; later requests are refused (the server is stopping)."""
        with self._lock:
            self._closed = True
        self.evict()
