"""A Docker build context that serves one model: ``jupyter mltrack build-docker URI``.

The context holds everything the image needs, so ``docker build`` runs without access to the
store or to this machine's packages::

    Dockerfile              python:<model's python>-slim, installs requirements, runs the server
    .dockerignore
    model/                  the model directory (MLmodel, model files, requirements.txt, ...)
    requirements-serve.txt  what the scoring server itself needs (numpy, pandas, pyyaml)
    mltrack/jupyter_mltrack the scoring server's source (this package's Python files)

The package is vendored as source rather than installed from an index because it may not be
published where the image is built; only its Python files are copied.

The model's ``requirements.txt`` comes with the model, and pip reads options in it: an index to
install from, ``-r``/``-c`` includes, VCS and URL requirements, local paths. Only plain
``name[extras] <specifiers> ; <marker>`` lines are accepted unless the caller allows the rest
(``--allow-unsafe-requirements``), and the context gets the lines as checked. A symlink in the
model folder that leads out of it is refused, so the context holds nothing from elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..errors import ErrorCode, MltrackError
from . import env
from .mlmodel import ModelMeta
from .uris import ResolvedModel

DEFAULT_PORT = 8080
SERVE_PACKAGES = ("numpy", "pandas", "pyyaml", "cloudpickle")
_IMAGE_RE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")
_SPEC = r"(?:===|[<>=!~]=|[<>])\s*[A-Za-z0-9.*+!_-]+"
_PLAIN_REQUIREMENT_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"  # name
    r"(?:\s*\[\s*[A-Za-z0-9._-]+(?:\s*,\s*[A-Za-z0-9._-]+)*\s*\])?"  # extras
    rf"(?:\s*\(?\s*{_SPEC}(?:\s*,\s*{_SPEC})*\s*\)?)?"  # specifiers
    r"(?:\s*;[^@\\]*)?$"  # environment marker
)


def _python_version(model_dir: Path) -> str:
    """``major.minor`` of the Python the model was saved with (default: 3.11)."""
    import yaml

    path = model_dir / env.PYTHON_ENV_FILE
    if path.is_file():
        data = yaml.safe_load(path.read_text()) or {}
        match = re.match(r"^(\d+)\.(\d+)", str(data.get("python", "")))
        if match:
            return f"{match.group(1)}.{match.group(2)}"
    return "3.11"


def _requirement_name(line: str) -> str:
    return re.split(r"[<>=!~;\[ @]", line, maxsplit=1)[0].strip().lower().replace("_", "-")


def _serve_requirements(model_requirements: list[str]) -> list[str]:
    have = {_requirement_name(r) for r in model_requirements}
    return [
        pin
        for pin in (env.pinned(p) for p in SERVE_PACKAGES)
        if pin and _requirement_name(pin) not in have
    ]


def check_requirements(lines: list[str], allow_unsafe: bool = False) -> list[str]:
    """The model's requirement lines, if each is a plain ``name[extras] <specifiers>`` line.

    Raises
    ------
    MltrackError
        INVALID_PARAMETER_VALUE naming the first line that is a pip option (``--index-url``,
        ``-r``, ``-e``…), a URL, VCS or local-path requirement, unless ``allow_unsafe``.
    """
    if allow_unsafe:
        return lines
    for line in lines:
        if "://" in line or not _PLAIN_REQUIREMENT_RE.match(line):
            raise MltrackError(
                f"the model's {env.REQUIREMENTS_FILE} has the line {line!r}, which is not a "
                "plain requirement (a pip option, URL, VCS or local path); pass "
                "--allow-unsafe-requirements (allow_unsafe_requirements=True) to build with it"
            )
    return lines


def _check_links(model_dir: Path) -> None:
    """Refuse a symlink in the model folder that leads out of it."""
    for folder, dirs, files in os.walk(model_dir):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                target = path.resolve()
                if target != model_dir and model_dir not in target.parents:
                    raise MltrackError(
                        f"{path} is a symlink that leads out of the model folder (to {target}); "
                        "copy the file into the model folder instead"
                    )


def _vendor_package(dest: Path) -> list[str]:
    """Copy this package's Python files to ``dest/jupyter_mltrack``; return their paths."""
    root = Path(__file__).resolve().parent.parent
    copied = []
    for src in sorted(root.rglob("*.py")):
        rel = src.relative_to(root)
        if "__pycache__" in rel.parts or "labextension" in rel.parts:
            continue
        target = dest / "jupyter_mltrack" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        copied.append(str(Path("jupyter_mltrack") / rel))
    return copied


def dockerfile(python: str, port: int, base_image: str | None = None) -> str:
    """The Dockerfile text."""
    image = base_image or f"python:{python}-slim"
    return f"""\
# Serves one model with jupyter-mltrack's scoring server (MLflow's scoring protocol).
# Build: docker build -t my-model .    Run: docker run -p {port}:{port} my-model
FROM {image}

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PYTHONPATH=/opt/mltrack

# requirements first, so editing the model does not re-install them
COPY model/requirements.txt /opt/model/requirements.txt
COPY requirements-serve.txt /opt/requirements-serve.txt
RUN pip install --no-cache-dir -r /opt/model/requirements.txt -r /opt/requirements-serve.txt

COPY mltrack/ /opt/mltrack/
COPY model/ /opt/model/

USER 65534
EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \\
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ping')"
CMD ["python", "-m", "jupyter_mltrack.models.serve", "/opt/model", \\
     "--host", "0.0.0.0", "--port", "{port}"]
"""


def build_docker_context(
    resolved: ResolvedModel,
    output_dir: str | os.PathLike[str],
    port: int = DEFAULT_PORT,
    base_image: str | None = None,
    allow_unsafe_requirements: bool = False,
) -> dict[str, Any]:
    """Write a Docker build context that serves the model at ``resolved.path``.

    Parameters
    ----------
    resolved:
        The model, as :func:`jupyter_mltrack.models.uris.resolve_model_uri` found it.
    output_dir:
        The context directory to create (it must not exist, or be empty).
    port:
        The port the container listens on.
    base_image:
        The image to build from (default: ``python:<the model's major.minor>-slim``).
    allow_unsafe_requirements:
        Let the model's ``requirements.txt`` hold pip options, URL, VCS and local-path lines
        (they are refused by default: pip would follow them while building the image).

    Returns
    -------
    dict
        ``context`` (the directory), ``files`` written, and the ``build`` command to run.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise MltrackError(f"port must be an integer from 1 to 65535, got {port!r}")
    if base_image is not None and (
        not isinstance(base_image, str) or not _IMAGE_RE.match(base_image)
    ):
        raise MltrackError(f"base image {base_image!r} is not a valid image reference")
    out = Path(output_dir).expanduser().resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MltrackError(
            f"{out} already exists and is not an empty folder", ErrorCode.RESOURCE_ALREADY_EXISTS
        )
    model_dir = resolved.path.resolve()
    ModelMeta.load(model_dir)  # a model directory, or a clear error before writing anything
    _check_links(model_dir)
    model_requirements = check_requirements(
        env.read_requirements(model_dir), allow_unsafe_requirements
    )
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model_dir, out / "model", ignore=shutil.ignore_patterns("__pycache__"))
    if not allow_unsafe_requirements or not (out / "model" / env.REQUIREMENTS_FILE).is_file():
        # pip gets exactly the lines that were checked
        text = "".join(f"{line}\n" for line in model_requirements)
        (out / "model" / env.REQUIREMENTS_FILE).write_text(text)
    serve_requirements = _serve_requirements(model_requirements)
    (out / "requirements-serve.txt").write_text("\n".join(serve_requirements) + "\n")
    vendored = _vendor_package(out / "mltrack")
    python = _python_version(model_dir)
    (out / "Dockerfile").write_text(dockerfile(python, port, base_image))
    (out / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\n")
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return {
        "context": str(out),
        "model": resolved.uri,
        "version": resolved.version,
        "python": python,
        "port": port,
        "vendored_modules": len(vendored),
        "files": files,
        "build": f"docker build -t <image-name> {out}",
    }
