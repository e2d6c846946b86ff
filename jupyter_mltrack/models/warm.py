"""Warm models for the Jupyter server: load a registered version once, score it many times.

A notebook (or the lab extension) asks the server to score with ``<name>`` at a reference (a
version number, ``@alias`` or a bare alias, a stage, or ``latest``). The reference is resolved
on every request, so moving an alias takes effect at once; the loaded model is cached by the
version *and* its files' location, so a deleted and re-created version number never serves the
old model. At most ``max_models`` stay loaded (least recently used go first).

No tornado here: :mod:`jupyter_mltrack.server.models_handlers` is the thin HTTP face.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from ..entities import ModelVersion
from ..errors import MltrackError
from .example import SERVING_EXAMPLE_FILE
from .payload import predict_request
from .pyfunc_model import PyFuncModel, load_model_dir
from .uris import file_uri_to_path, version_for_reference

if TYPE_CHECKING:
    from ..store.registry_contract import AbstractRegistryStore

DEFAULT_MAX_MODELS = 4


class WarmModels:
    """A small cache of loaded model versions over one store.

    Parameters
    ----------
    store:
        A store with the registry methods (the server's own store).
    max_models:
        How many loaded models to keep at most.
    """

    def __init__(self, store: AbstractRegistryStore, max_models: int = DEFAULT_MAX_MODELS):
        if isinstance(max_models, bool) or not isinstance(max_models, int) or max_models < 1:
            raise MltrackError(f"max_models must be a positive integer, got {max_models!r}")
        self.store = store
        self.max_models = max_models
        self._models: OrderedDict[tuple[str, str, str], PyFuncModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str, str], threading.Lock] = {}

    def _key(self, version: ModelVersion) -> tuple[str, str, str]:
        where = self.store.get_model_version_download_uri(version.name, version.version)
        return (version.name, version.version, where)

    def get(self, name: str, ref: str) -> tuple[ModelVersion, PyFuncModel]:
        """The version ``ref`` points at now, and its loaded model (loaded once)."""
        version = version_for_reference(self.store, name, ref)
        key = self._key(version)
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return version, model
            gate = self._loading.setdefault(key, threading.Lock())
        # one loader per version; others wait for it instead of loading the same files again
        with gate:
            with self._lock:
                model = self._models.get(key)
            if model is None:
                model = load_model_dir(file_uri_to_path(key[2]))
                with self._lock:
                    self._models[key] = model
                    self._loading.pop(key, None)
                    while len(self._models) > self.max_models:
                        self._models.popitem(last=False)
        return version, model

    def predict(self, name: str, ref: str, body: bytes, content_type: str | None) -> dict[str, Any]:
        """Score a request body (MLflow's scoring formats) with the version ``ref`` names."""
        version, model = self.get(name, ref)
        answer = predict_request(model, body, content_type)
        return {"name": version.name, "version": version.version, **answer}

    def describe(self, name: str, ref: str) -> dict[str, Any]:
        """The version ``ref`` names, whether it is loaded, its signature and a request example
        (reads the example from the model files; does not load the model)."""
        import json

        version = version_for_reference(self.store, name, ref)
        key = self._key(version)
        path = file_uri_to_path(key[2])
        from .mlmodel import ModelMeta

        meta = ModelMeta.load(path)
        example_path = path / SERVING_EXAMPLE_FILE
        with self._lock:
            warm = key in self._models
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
            for key in doomed:
                del self._models[key]
        return len(doomed)
