"""Flavors: how each kind of model is written to a model directory and read back.

Each flavor module offers ``matches(model)``, ``save(model, model_dir)`` (returning the
``MLmodel`` flavor entries and the packages to pin) and ``load_native(model_dir, meta)``, plus
``load_predictor(model_dir, meta)`` for the generic ``predict`` face. Flavor modules import
their framework (torch, scikit-learn) only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from ...errors import MltrackError
from ..mlmodel import ModelMeta, model_file

FLAVORS = ("sklearn", "pytorch", "pyfunc")
# what each flavor name is called in an MLmodel file
_MLMODEL_KEYS = {"sklearn": "sklearn", "pytorch": "pytorch"}


@dataclass
class SavedFlavor:
    """What a flavor wrote: its MLmodel flavor entries and the distributions it needs."""

    flavors: dict[str, dict[str, Any]]
    packages: list[str] = field(default_factory=list)


class Predictor(Protocol):
    """The generic face of a loaded model (MLflow's ``_load_pyfunc`` result)."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any: ...


def flavor_module(name: str) -> ModuleType:
    """The module of a flavor by name (sklearn, pytorch, pyfunc)."""
    if name not in FLAVORS:
        raise MltrackError(f"flavor must be one of {', '.join(FLAVORS)}, got {name!r}")
    return importlib.import_module(f"{__name__}.{name}")


def _mro_modules(model: Any) -> list[str]:
    return [getattr(c, "__module__", "") or "" for c in type(model).__mro__]


def detect_flavor(model: Any) -> str:
    """The flavor for a model object: PyTorch modules, scikit-learn estimators, or any object
    with a ``predict`` method (a custom Python model).

    Looks at the class hierarchy's module names, so neither torch nor sklearn is imported.
    """
    modules = _mro_modules(model)
    if any(m == "torch.nn.modules.module" for m in modules):
        return "pytorch"
    if any(m.startswith("sklearn.") for m in modules):
        return "sklearn"
    if callable(getattr(model, "predict", None)):
        return "pyfunc"
    raise MltrackError(
        f"cannot tell how to save a {type(model).__module__}.{type(model).__name__}: it is not a "
        "scikit-learn estimator or a torch module and has no predict method; "
        f"pass flavor= one of {', '.join(FLAVORS)}"
    )


def load_predictor(model_dir: Path, meta: ModelMeta) -> Predictor:
    """The generic predictor of a model directory, by its flavors.

    Flavors this package knows (ours and MLflow's scikit-learn and PyTorch layouts) are loaded
    here; any other ``python_function`` loader module is imported and asked, as MLflow does.
    """
    from . import pyfunc

    for name, key in _MLMODEL_KEYS.items():
        if key in meta.flavors:
            return flavor_module(name).load_predictor(model_dir, meta)  # type: ignore[no-any-return]
    conf = meta.pyfunc_conf
    if conf is None:
        raise MltrackError(
            f"the model in {model_dir} has no python_function flavor, so it cannot be loaded "
            f"generically (its flavors: {', '.join(meta.flavors) or 'none'})"
        )
    loader = conf.get("loader_module")
    if loader == pyfunc.LOADER_MODULE:
        return pyfunc.load_predictor(model_dir, meta)
    if not isinstance(loader, str) or not loader:
        raise MltrackError(f"the model in {model_dir} names no python_function loader_module")
    try:
        module = importlib.import_module(loader)
    except ImportError as exc:
        raise MltrackError(
            f"the model in {model_dir} is loaded by {loader}, which cannot be imported here "
            f"({exc}); install the package that provides it"
        ) from None
    data_path = model_file(model_dir, conf["data"], "data") if "data" in conf else model_dir
    # MLflow's loader_module protocol names the module's entry point ``_load_pyfunc``
    load = getattr(module, "_load_pyfunc", None)
    if not callable(load):
        raise MltrackError(
            f"the model in {model_dir} names {loader} as its loader_module, which has no "
            "_load_pyfunc function"
        )
    return load(str(data_path))


def load_native(model_dir: Path, meta: ModelMeta) -> Any:
    """The framework's own model object (an estimator, a torch module, the custom object)."""
    from . import pyfunc

    for name, key in _MLMODEL_KEYS.items():
        if key in meta.flavors:
            return flavor_module(name).load_native(model_dir, meta)
    conf = meta.pyfunc_conf or {}
    if conf.get("loader_module") == pyfunc.LOADER_MODULE:
        return pyfunc.load_native(model_dir, meta)
    return load_predictor(model_dir, meta)
