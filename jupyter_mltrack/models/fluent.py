"""The fluent model API: ``mlt.log_model``, ``mlt.load_model``, ``mlt.save_model``,
``mlt.register_model``, ``mlt.model_registry``.

``log_model`` follows MLflow 3: the model becomes a *logged model* of the active run, with its
files kept with the model (``<experiment>/models/<model id>/artifacts``), not in the run's
artifacts; ``runs:/<run>/<name>`` still finds it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import ModelVersion
from ..errors import MltrackError
from ..validation import check_name
from . import env
from .mlmodel import ModelMeta
from .pyfunc_model import PyFuncModel, load_model_dir
from .registry_api import ModelRegistry
from .save import save_model as _save_model
from .signature import Signature
from .uris import default_store, file_uri_to_path, resolve_model_uri

if TYPE_CHECKING:
    from .serve import ScoringServer

__all__ = [
    "ModelInfo",
    "load_model",
    "log_model",
    "model_registry",
    "register_model",
    "save_model",
    "serve_model",
]

LOGGED = "LOGGED_MODEL_READY"
FAILED = "LOGGED_MODEL_UPLOAD_FAILED"


@dataclass
class ModelInfo:
    """What :func:`log_model` logged (MLflow's ``ModelInfo``, trimmed)."""

    model_id: str
    model_uri: str
    name: str
    run_id: str
    flavor: str
    local_path: Path
    signature: Signature | None
    registered_model_version: ModelVersion | None = None

    @property
    def runs_uri(self) -> str:
        """``runs:/<run>/<name>``, the run-relative URI of the same model."""
        return f"runs:/{self.run_id}/{self.name}"


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    flavor: str | None = None,
    input_example: Any = None,
    signature: Any = None,
    pip_requirements: list[str] | str | None = None,
    extra_pip_requirements: list[str] | str | None = None,
    metadata: dict[str, Any] | None = None,
) -> ModelMeta:
    """Save a model as a model directory at ``path`` (MLflow's layout; see
    :func:`jupyter_mltrack.models.save.save_model` for the parameters)."""
    return _save_model(
        model,
        path,
        flavor=flavor,
        input_example=input_example,
        signature=signature,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
    )


def log_model(
    model: Any,
    name: str,
    input_example: Any = None,
    signature: Any = None,
    registered_model_name: str | None = None,
    pip_requirements: list[str] | str | None = None,
    flavor: str | None = None,
    extra_pip_requirements: list[str] | str | None = None,
    tags: dict[str, Any] | None = None,
) -> ModelInfo:
    """Log a model from the active run (starting one if none is active).

    Parameters
    ----------
    model:
        A scikit-learn estimator, a ``torch.nn.Module``, or any object with ``predict``.
    name:
        The model's name within the run (``runs:/<run>/<name>``).
    input_example, signature, pip_requirements, extra_pip_requirements, flavor:
        As for :func:`save_model`.
    registered_model_name:
        Also register the model as a new version of this registered model.
    tags:
        Tags of the logged model.

    Returns
    -------
    ModelInfo
        The model's id, ``models:/<id>`` URI, and the registered version if one was made.
    """
    from ..tracking import context, fluent

    check_name(name, "model name")
    if "/" in name or name in (".", ".."):
        raise MltrackError(f"model name {name!r} must not contain '/'")
    if registered_model_name is not None:
        check_name(registered_model_name, "registered model name")
    if tags is not None and not isinstance(tags, dict):
        raise MltrackError(f"tags must be a dict, got {type(tags).__name__}")
    from .flavors import detect_flavor, flavor_module

    # check what can be checked before anything is written to the store
    flavor_name = flavor if flavor is not None else detect_flavor(model)
    if not flavor_module(flavor_name).matches(model):
        raise MltrackError(f"flavor={flavor_name!r} cannot save a {type(model).__name__}")
    env.check_requirements(pip_requirements)
    env.check_requirements(extra_pip_requirements, "extra_pip_requirements")
    active = fluent.active_run() or fluent.start_run()
    run_id, experiment_id = active.info.run_id, active.info.experiment_id
    store = default_store()
    model_tags = {str(k): v for k, v in (tags or {}).items()}
    if context.current.cell_id:
        model_tags["mltrack.cell_id"] = context.current.cell_id
    logged = store.create_logged_model(
        experiment_id, name, source_run_id=run_id, model_type=flavor_name, tags=model_tags
    )
    target = file_uri_to_path(logged.artifact_uri)
    try:
        meta = _save_model(
            model,
            target,
            flavor=flavor_name,
            input_example=input_example,
            signature=signature,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            model_id=logged.model_id,
            run_id=run_id,
            artifact_path=name,
        )
    except BaseException:
        store.finalize_logged_model(logged.model_id, FAILED)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        raise
    store.finalize_logged_model(logged.model_id, LOGGED)
    store.log_outputs(run_id, [(logged.model_id, 0)])
    info = ModelInfo(
        model_id=logged.model_id,
        model_uri=f"models:/{logged.model_id}",
        name=name,
        run_id=run_id,
        flavor=flavor_name,
        local_path=target,
        signature=meta.signature,
    )
    if registered_model_name is not None:
        info.registered_model_version = ModelRegistry(store).register_model(
            info.model_uri, registered_model_name
        )
    return info


def load_model(model_uri: str | os.PathLike[str]) -> PyFuncModel:
    """Load a model by URI for prediction.

    ``model_uri`` is ``runs:/<run>/<name>``, ``models:/<name>/<version>``,
    ``models:/<name>@<alias>``, ``models:/<name>/<stage>``, ``models:/m-<id>``, or a local
    model directory (ours or one saved by MLflow).
    """
    if isinstance(model_uri, (str, os.PathLike)) and not str(model_uri).startswith(
        ("runs:", "models:")
    ):
        # a local directory: no store needed
        return load_model_dir(resolve_model_uri(model_uri).path)
    return load_model_dir(resolve_model_uri(model_uri, default_store()).path)


def register_model(
    model_uri: str | os.PathLike[str],
    name: str,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Register a model as a new version of ``name`` (see :meth:`ModelRegistry.register_model`)."""
    return ModelRegistry(default_store()).register_model(model_uri, name, description, tags)


def model_registry(user: str | None = None) -> ModelRegistry:
    """The registry of the fluent API's store, for aliases, stages, reviews and history."""
    return ModelRegistry(default_store(), user)


def serve_model(
    model_uri: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0
) -> ScoringServer:
    """Serve a model on a background thread, e.g. to try the production model from a notebook.

    Returns the running :class:`~jupyter_mltrack.models.serve.ScoringServer`; its ``url`` takes
    MLflow's scoring requests at ``/invocations``; call ``stop()`` (or use it in ``with``) to
    end it. Port 0 picks a free port.
    """
    from .serve import ScoringServer

    uri = str(model_uri)
    local = not uri.startswith(("runs:", "models:"))
    resolved = (
        resolve_model_uri(model_uri) if local else resolve_model_uri(model_uri, default_store())
    )
    info = {"uri": resolved.uri, "name": resolved.name, "version": resolved.version}
    model = load_model_dir(resolved.path)
    return ScoringServer(model, host, port, info, log_requests=False).start()
