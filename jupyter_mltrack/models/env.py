"""The environment a model needs, captured next to it as MLflow captures it.

Three files: ``requirements.txt`` (pinned pip requirements), ``python_env.yaml`` (Python version,
build tools, ``-r requirements.txt``) and ``conda.yaml`` (the same for conda). Versions are the
ones installed when the model is saved, so the model can be rebuilt where it was trained.
"""

from __future__ import annotations

import os
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any

from ..errors import MltrackError

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"

# Every pyfunc model is loaded through numpy/pandas by the loader, whatever its flavor.
BASE_PACKAGES = ("numpy", "pandas")
_REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~;: '\"@/+*]*$")


def pinned(distribution: str) -> str | None:
    """``name==version`` for an installed distribution, or None if it is not installed.

    A local version label (``2.13.0+cpu``) is dropped, as MLflow drops it, because pip cannot
    install such a pin from PyPI.
    """
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
    return f"{distribution}=={version.split('+', 1)[0]}"


def distribution_of(module_name: str) -> str | None:
    """The installed distribution that provides a top-level module (``sklearn`` -> ...)."""
    top = module_name.split(".", 1)[0]
    if top in ("__main__", "builtins") or not top:
        return None
    found = metadata.packages_distributions().get(top)
    return found[0] if found else None


def check_requirements(requirements: Any, what: str = "pip_requirements") -> list[str]:
    """A list of requirement strings, or a path to a requirements file, as a checked list."""
    if requirements is None:
        return []
    if isinstance(requirements, (str, os.PathLike)):
        path = Path(requirements)
        if not path.is_file():
            raise MltrackError(
                f"{what} must be a list of requirements or a requirements file; "
                f"{str(requirements)!r} is not a file"
            )
        lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
        requirements = [ln for ln in lines if ln]
    if not isinstance(requirements, (list, tuple)):
        raise MltrackError(f"{what} must be a list of strings, got {type(requirements).__name__}")
    out = []
    for item in requirements:
        if not isinstance(item, str) or not item.strip():
            raise MltrackError(f"{what} must hold non-empty strings, got {item!r}")
        if not _REQUIREMENT_RE.match(item.strip()) or "\n" in item:
            raise MltrackError(f"{what}: {item!r} is not a pip requirement")
        out.append(item.strip())
    return out


def default_requirements(packages: list[str]) -> list[str]:
    """Pinned requirements for a flavor's packages plus the loader's, installed ones only."""
    out: list[str] = []
    for name in [*packages, *BASE_PACKAGES]:
        pin = pinned(name)
        if pin and pin not in out:
            out.append(pin)
    return out


def write_env_files(model_dir: Path, requirements: list[str]) -> dict[str, str]:
    """Write the three environment files; return the ``env`` entry of the pyfunc flavor."""
    import yaml

    python = platform.python_version()
    (model_dir / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n")
    build = [p for p in (pinned("pip"), pinned("setuptools"), "wheel") if p]
    python_env = {
        "python": python,
        "build_dependencies": build,
        "dependencies": [f"-r {REQUIREMENTS_FILE}"],
    }
    (model_dir / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False))
    pip_pin = pinned("pip")
    conda = {
        "name": "mltrack-env",
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python}",
            pip_pin.replace("==", "<=") if pip_pin else "pip",
            {"pip": list(requirements)},
        ],
    }
    (model_dir / CONDA_FILE).write_text(yaml.safe_dump(conda, sort_keys=False))
    return {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}


def read_requirements(model_dir: Path) -> list[str]:
    """The requirements a model directory lists (empty if it has no requirements file)."""
    path = Path(model_dir) / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text().splitlines()]
    return [ln for ln in lines if ln]
