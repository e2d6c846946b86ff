"""The ``MLmodel`` file: a model directory's description, in MLflow's YAML layout.

A model directory holds the model's files, the ``MLmodel`` file, and environment files. The
``MLmodel`` file names the model's flavors (ways to load it); the ``python_function`` flavor names
the module that loads it generically (``loader_module``), which is what lets
``mlflow.pyfunc.load_model`` load a model saved here and lets us load MLflow's.

Keys this package does not use are kept as they were read, so rewriting an MLflow ``MLmodel``
loses nothing. ``mlflow_version`` is MLflow's record of which MLflow saved a model; we are not
MLflow, so we do not write it (MLflow itself omits it when unknown) but keep it when present.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ErrorCode, MltrackError
from .signature import Signature

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"

_KNOWN = (
    "flavors",
    "signature",
    "saved_input_example_info",
    "model_uuid",
    "utc_time_created",
    "model_id",
    "run_id",
    "artifact_path",
    "model_size_bytes",
    "metadata",
    "is_signature_from_type_hint",
    "type_hint_from_example",
)


def model_file(model_dir: str | Path, name: Any, what: str = "file") -> Path:
    """``model_dir / name`` for a file name read from an ``MLmodel`` file, kept inside the folder.

    An ``MLmodel`` file comes with the model, so the names in it are not trusted: an absolute
    path, a ``..`` segment or a symlink that leads out of the model folder is refused.

    Raises
    ------
    MltrackError
        INVALID_PARAMETER_VALUE for a name that is not a relative path inside ``model_dir``.
    """
    if not isinstance(name, str) or not name.strip():
        raise MltrackError(f"the MLmodel file names no {what} (got {name!r})")
    base = Path(model_dir).resolve()
    rel = Path(name)
    if rel.is_absolute() or rel.drive or ".." in rel.parts:
        raise MltrackError(
            f"the MLmodel file names {what} {name!r}, which is not a path inside the model folder"
        )
    path = (base / rel).resolve()
    if path != base and base not in path.parents:
        raise MltrackError(f"the MLmodel file's {what} {name!r} leads out of the model folder")
    return path


def _utc_now() -> str:
    # MLflow writes a naive UTC timestamp in str(datetime) form: '2024-01-31 12:00:00.123456'
    return str(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))


@dataclass
class ModelMeta:
    """The content of an ``MLmodel`` file."""

    flavors: dict[str, dict[str, Any]]
    signature: Signature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    model_uuid: str | None = field(default_factory=lambda: uuid.uuid4().hex)
    utc_time_created: str | None = field(default_factory=_utc_now)
    model_id: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    model_size_bytes: int | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pyfunc_conf(self) -> dict[str, Any] | None:
        """The ``python_function`` flavor's settings, or None if the model has none."""
        return self.flavors.get(PYFUNC_FLAVOR)

    def to_dict(self) -> dict[str, Any]:
        """The YAML-ready mapping; None fields are left out, as MLflow leaves them out."""
        out: dict[str, Any] = dict(self.extra)
        out["flavors"] = self.flavors
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
            out["is_signature_from_type_hint"] = False
            out["type_hint_from_example"] = False
        for key in (
            "saved_input_example_info",
            "model_uuid",
            "utc_time_created",
            "model_id",
            "run_id",
            "artifact_path",
            "model_size_bytes",
            "metadata",
        ):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMeta:
        """Read the mapping of an ``MLmodel`` file (ours or MLflow's)."""
        if not isinstance(data, dict):
            raise MltrackError("an MLmodel file must hold a YAML mapping")
        flavors = data.get("flavors")
        if not isinstance(flavors, dict) or not all(isinstance(v, dict) for v in flavors.values()):
            raise MltrackError("an MLmodel file must have a 'flavors' mapping")
        signature = data.get("signature")
        size = data.get("model_size_bytes")
        return cls(
            flavors=flavors,
            signature=Signature.from_dict(signature) if signature else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            model_uuid=data.get("model_uuid"),
            utc_time_created=(
                str(data["utc_time_created"]) if data.get("utc_time_created") else None
            ),
            model_id=data.get("model_id"),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            model_size_bytes=int(size) if isinstance(size, int) else None,
            metadata=data.get("metadata"),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )

    def save(self, model_dir: str | Path) -> Path:
        """Write ``MLmodel`` into ``model_dir``; return the file's path."""
        import yaml

        path = Path(model_dir) / MLMODEL_FILE
        path.write_text(yaml.safe_dump(self.to_dict(), default_flow_style=False))
        return path

    @classmethod
    def load(cls, model_dir: str | Path) -> ModelMeta:
        """Read the ``MLmodel`` file of a model directory (or the file itself).

        Raises
        ------
        MltrackError
            RESOURCE_DOES_NOT_EXIST if there is no ``MLmodel`` file; INVALID_PARAMETER_VALUE if
            it is not valid YAML or lacks flavors.
        """
        import yaml

        path = Path(model_dir)
        if path.name != MLMODEL_FILE:
            path = path / MLMODEL_FILE
        if not path.is_file():
            raise MltrackError(
                f"{path.parent} is not a model directory: it has no {MLMODEL_FILE} file",
                ErrorCode.RESOURCE_DOES_NOT_EXIST,
            )
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise MltrackError(f"{path} is not valid YAML: {exc}") from None
        return cls.from_dict(data)
