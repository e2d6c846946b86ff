"""Save a model object as a model directory: flavor files, MLmodel, example, environment.

The directory is written under a temporary name next to its destination and renamed into place
at the end, so a reader never finds a half-written model. Before the rename the model is loaded
back and run on the input example: a model that cannot be reloaded fails at save time, not when
someone tries to serve it.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import uuid
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ErrorCode, MltrackError
from . import env
from .example import normalise_example, save_example
from .flavors import FLAVORS, detect_flavor, flavor_module, load_predictor
from .mlmodel import PYFUNC_FLAVOR, ModelMeta
from .signature import Signature, enforce_schema, infer_schema

log = logging.getLogger(__name__)


def as_signature(signature: Any) -> Signature | None:
    """Accept our :class:`Signature`, a dict in MLmodel layout, or MLflow's ModelSignature."""
    if signature is None or isinstance(signature, Signature):
        return signature
    if isinstance(signature, dict):
        return Signature.from_dict(signature)
    to_dict = getattr(signature, "to_dict", None)
    if callable(to_dict):  # mlflow.models.ModelSignature
        return Signature.from_dict(to_dict())
    raise MltrackError(
        f"signature must be a Signature, a dict with inputs/outputs, or an MLflow "
        f"ModelSignature, got {type(signature).__name__}"
    )


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _check_destination(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise MltrackError(
            f"cannot save a model to {path}: it already exists and is not an empty folder",
            ErrorCode.RESOURCE_ALREADY_EXISTS,
        )


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    flavor: str | None = None,
    input_example: Any = None,
    signature: Any = None,
    pip_requirements: list[str] | str | None = None,
    extra_pip_requirements: list[str] | str | None = None,
    metadata: dict[str, Any] | None = None,
    model_id: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
) -> ModelMeta:
    """Save ``model`` as a model directory at ``path``.

    Parameters
    ----------
    model:
        A scikit-learn estimator, a ``torch.nn.Module``, or any object with ``predict``.
    path:
        The directory to create (it must not exist, or be empty).
    flavor:
        ``"sklearn"``, ``"pytorch"`` or ``"pyfunc"``; detected from the model when omitted.
    input_example:
        A DataFrame, array or dict saved with the model; the signature is inferred from it when
        ``signature`` is not given, and the output signature from the model's prediction on it.
    signature:
        The model's signature (see :func:`as_signature` for accepted forms).
    pip_requirements:
        Replaces the inferred requirements (a list, or a requirements file's path).
    extra_pip_requirements:
        Added to the inferred (or given) requirements.
    metadata:
        Free-form metadata stored in the MLmodel file.
    model_id, run_id, artifact_path:
        Lineage recorded in the MLmodel file by :func:`jupyter_mltrack.log_model`.

    Returns
    -------
    ModelMeta
        What was written to the ``MLmodel`` file.
    """
    if model is None:
        raise MltrackError("model must not be None")
    dest = Path(path).expanduser().resolve()
    _check_destination(dest)
    name = flavor if flavor is not None else detect_flavor(model)
    if name not in FLAVORS:
        raise MltrackError(f"flavor must be one of {', '.join(FLAVORS)}, got {name!r}")
    module = flavor_module(name)
    if not module.matches(model):
        raise MltrackError(f"flavor={name!r} cannot save a {type(model).__name__}")
    requirements = env.check_requirements(pip_requirements)
    extra = env.check_requirements(extra_pip_requirements, "extra_pip_requirements")
    sig = as_signature(signature)
    example = normalise_example(input_example) if input_example is not None else None
    if metadata is not None and not isinstance(metadata, dict):
        raise MltrackError(f"metadata must be a dict, got {type(metadata).__name__}")
    if sig is None and example is not None:
        sig = Signature(infer_schema(example))

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = dest.parent / f".{dest.name}.saving-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        saved = module.save(model, work)
        flavors = saved.flavors
        example_info = save_example(work, example) if example is not None else None
        if not requirements:
            packages = list(saved.packages)
            own = env.distribution_of(type(model).__module__)
            if own and own not in packages and own != "jupyter-mltrack":
                packages.append(own)
            requirements = env.default_requirements(packages)
        pyfunc_conf = flavors[PYFUNC_FLAVOR]
        pyfunc_conf["env"] = env.write_env_files(work, [*requirements, *extra])
        pyfunc_conf["python_version"] = platform.python_version()
        meta = ModelMeta(
            flavors=flavors,
            signature=sig,
            saved_input_example_info=example_info,
            model_id=model_id,
            run_id=run_id,
            artifact_path=artifact_path,
            metadata={"mltrack_version": __version__, **(metadata or {})},
        )
        meta.model_size_bytes = _dir_size(work)
        meta.save(work)
        _check_reload(work, meta, example)
        if dest.exists():
            dest.rmdir()
        os.replace(work, dest)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return meta


def _check_reload(model_dir: Path, meta: ModelMeta, example: Any) -> None:
    """Load the saved model back; with an example, run it and record the output signature."""
    predictor = load_predictor(model_dir, meta)
    if example is None or meta.signature is None or meta.signature.outputs is not None:
        return
    data = enforce_schema(example, meta.signature.inputs) if meta.signature.inputs else example
    try:
        output = predictor.predict(data, None)
        meta.signature.outputs = infer_schema(output)
    except Exception as exc:  # noqa: BLE001 - the model's own errors; saving still succeeds
        log.warning("could not infer the output signature from the input example: %s", exc)
        return
    meta.save(model_dir)
