"""Model URIs resolved to local model directories.

Accepted forms:

- ``runs:/<run_id>/<path>``: the model logged under ``<path>`` by that run (a logged model of
  that name, or a folder of the run's artifacts);
- ``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/<stage>``,
  ``models:/<name>/latest``: a registered model version;
- ``models:/m-<id>``: a logged model by id;
- a local path or ``file://`` URI of a model directory.

Local paths need no store, so serving a model directory never opens one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from ..entities import ModelStage, ModelVersion
from ..errors import ErrorCode, MltrackError
from .mlmodel import MLMODEL_FILE

if TYPE_CHECKING:
    from ..store.contract import AbstractStore
    from ..store.registry_contract import AbstractRegistryStore


@dataclass
class ResolvedModel:
    """Where a model URI's files are, and which registry entries it came through."""

    uri: str
    path: Path
    name: str | None = None
    version: str | None = None
    model_id: str | None = None
    run_id: str | None = None


def default_store() -> AbstractStore:
    """The fluent API's store, flushed: the run (and what was logged to it) is in it first."""
    from ..tracking import fluent

    return fluent.client().store


def file_uri_to_path(uri: str) -> Path:
    """A local path from a ``file:`` URI or a plain path."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise MltrackError(f"{uri!r} is a file URI on another host; only local files work")
        return Path(url2pathname(unquote(parsed.path)))
    if "://" in uri:
        raise MltrackError(
            f"cannot read model files from {uri!r}: only local files and file:// URIs are supported"
        )
    return Path(uri).expanduser()


def _quoted(text: str) -> str:
    # the filter grammar escapes a quote by doubling it
    return "'" + text.replace("'", "''") + "'"


def parse_models_uri(uri: str) -> tuple[str, str, str]:
    """Split a ``models:/`` URI into (kind, name, reference).

    ``kind`` is ``logged`` (reference: the model id), ``alias``, ``version``, ``stage`` or
    ``latest``.
    """
    body = uri[len("models:") :].lstrip("/")
    if not body:
        raise MltrackError(f"{uri!r} names no model; use models:/<name>/<version>")
    if "/" not in body and "@" not in body:
        if body.startswith("m-"):
            return "logged", body, body
        raise MltrackError(
            f"{uri!r} names no version; use models:/<name>/<version>, models:/<name>@<alias>, "
            "models:/<name>/<stage> or models:/<name>/latest"
        )
    name, sep, ref = body.rpartition("@")
    if sep and name and "/" not in ref:
        if not ref:
            raise MltrackError(f"{uri!r} has an empty alias")
        return "alias", name, ref
    name, _, ref = body.rpartition("/")
    if not name or not ref:
        raise MltrackError(f"{uri!r} must look like models:/<name>/<version>")
    kind, canonical = classify_reference(ref)
    return kind, name, canonical


def classify_reference(ref: str) -> tuple[str, str]:
    """(kind, canonical reference) for the part after ``models:/<name>/``."""
    if ref.isdigit():
        if int(ref) < 1:
            raise MltrackError(f"model version must be a positive integer, got {ref!r}")
        return "version", str(int(ref))
    if ref.lower() == "latest":
        return "latest", "latest"
    for stage in ModelStage.ALL:
        if ref.lower() == stage.lower():
            return "stage", stage
    raise MltrackError(
        f"{ref!r} is not a version number, a stage ({', '.join(ModelStage.ALL)}) or 'latest'; "
        f"to name an alias write models:/<name>@{ref}"
    )


def resolve_version(store: AbstractRegistryStore, name: str, kind: str, ref: str) -> ModelVersion:
    """The registered model version a reference points at."""
    if kind == "version":
        return store.get_model_version(name, ref)
    if kind == "alias":
        return store.get_model_version_by_alias(name, ref)
    stages = [ref] if kind == "stage" else None
    versions = store.get_latest_versions(name, stages)
    if not versions:
        where = f"in stage {ref}" if kind == "stage" else "at all"
        raise MltrackError(
            f"registered model {name!r} has no version {where}", ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
    return max(versions, key=lambda v: int(v.version))


def version_for_reference(store: AbstractRegistryStore, name: str, ref: str | int) -> ModelVersion:
    """A version by number, ``@alias`` (or a bare alias), stage, or ``latest``."""
    if not isinstance(name, str) or not name:
        raise MltrackError(f"registered model name must be a non-empty string, got {name!r}")
    ref = str(ref).strip()
    if not ref:
        raise MltrackError("a model version reference must not be empty")
    if ref.startswith("@"):
        return store.get_model_version_by_alias(name, ref[1:])
    try:
        kind, canonical = classify_reference(ref)
    except MltrackError:
        return store.get_model_version_by_alias(name, ref)
    return resolve_version(store, name, kind, canonical)


def _model_dir(path: Path, uri: str) -> Path:
    if not (path / MLMODEL_FILE).is_file():
        where = "" if uri.startswith("file:") or Path(uri) == path else f"{uri!r} resolves to "
        raise MltrackError(
            f"{where}{path} is not a model directory: it has no {MLMODEL_FILE} file",
            ErrorCode.RESOURCE_DOES_NOT_EXIST,
        )
    return path


def _resolve_run(uri: str, store: AbstractStore) -> ResolvedModel:
    body = uri[len("runs:") :].lstrip("/")
    run_id, _, sub = body.partition("/")
    sub = sub.strip("/")
    if not run_id:
        raise MltrackError(f"{uri!r} names no run; use runs:/<run_id>/<path>")
    run = store.get_run(run_id)
    base = file_uri_to_path(run.info.artifact_uri)
    candidate = base / sub if sub else base
    if (candidate / MLMODEL_FILE).is_file():
        return ResolvedModel(uri, candidate, run_id=run_id)
    # MLflow 3 keeps a logged model's files with the model, not the run: find it by name
    found, _ = store.search_logged_models(
        [run.info.experiment_id],
        f"source_run_id = {_quoted(run_id)} AND name = {_quoted(sub)}",
        max_results=1,
    )
    if not found:
        raise MltrackError(
            f"run {run_id!r} logged no model named {sub!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
    model = found[0]
    path = _model_dir(file_uri_to_path(model.artifact_uri), uri)
    return ResolvedModel(uri, path, model_id=model.model_id, run_id=run_id)


def resolve_model_uri(
    uri: str | os.PathLike[str], store: AbstractStore | None = None
) -> ResolvedModel:
    """The local model directory a URI (or path) points at.

    Parameters
    ----------
    uri:
        Any of the forms in this module's docstring.
    store:
        The store to resolve ``runs:/`` and ``models:/`` URIs against (default: the fluent
        API's store). Not opened for local paths.

    Raises
    ------
    MltrackError
        INVALID_PARAMETER_VALUE for a malformed URI; RESOURCE_DOES_NOT_EXIST when the run,
        model, version or directory does not exist.
    """
    if isinstance(uri, os.PathLike):
        uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri.strip():
        raise MltrackError(f"model URI must be a non-empty string, got {uri!r}")
    uri = uri.strip()
    if uri.startswith("runs:"):
        return _resolve_run(uri, store if store is not None else default_store())
    if uri.startswith("models:"):
        kind, name, ref = parse_models_uri(uri)
        reg = store if store is not None else default_store()
        if kind == "logged":
            logged = reg.get_logged_model(ref)
            path = _model_dir(file_uri_to_path(logged.artifact_uri), uri)
            return ResolvedModel(uri, path, model_id=logged.model_id, run_id=logged.source_run_id)
        version = resolve_version(reg, name, kind, ref)
        where = reg.get_model_version_download_uri(name, version.version)
        path = _model_dir(file_uri_to_path(where), uri)
        return ResolvedModel(uri, path, name, version.version, version.model_id, version.run_id)
    path = file_uri_to_path(uri).resolve()
    if not path.exists():
        raise MltrackError(f"no model at {path}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
    return ResolvedModel(uri, _model_dir(path, uri))


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def check_within_root(root: str | os.PathLike[str], location: str) -> Path:
    """The local folder ``location`` (a path or ``file:`` URI) names, if it is inside ``root``.

    Both are resolved first (symlinks followed, ``..`` collapsed), so neither a ``..`` segment
    nor a symlink leads out. Used before a server reads a model version's files: a model's
    files are code (pickles), so only files in the store's own artifact root are ever loaded.

    Raises
    ------
    MltrackError
        INVALID_PARAMETER_VALUE when ``location`` is not a local path or lies outside ``root``.
    """
    base = Path(root).expanduser().resolve()
    path = file_uri_to_path(location).resolve()
    if not _inside(base, path):
        raise MltrackError(
            f"{location!r} is outside the store's artifact root; only models stored there "
            "are loaded by the server"
        )
    return path


def check_version_source(root: str | os.PathLike[str], source: str) -> str:
    """``source`` if a model version may be registered with it, for a store rooted at ``root``.

    Accepted, as MLflow's server accepts them: ``runs:/<run id>/<path>`` and ``models:/…``
    without ``..`` segments, and a local path or ``file:`` URI inside the artifact root.
    Other schemes (``s3://``…) pass when they have no ``..`` segment; this package never reads
    them. A relative local path is refused (it would depend on the server's working folder).

    Raises
    ------
    MltrackError
        INVALID_PARAMETER_VALUE for a source that leads out of the artifact root.
    """
    scheme = urlparse(source).scheme.lower()
    if scheme in ("runs", "models") or (scheme not in ("", "file") and len(scheme) > 1):
        segments = unquote(source.partition(":")[2]).replace("\\", "/").split("/")
        if ".." in segments:
            raise MltrackError(f"model version source {source!r} must not contain '..'")
        return source
    if scheme == "" and not Path(source).expanduser().is_absolute():
        raise MltrackError(
            f"model version source {source!r} is a relative path; use runs:/, models:/ or an "
            "absolute path inside the store's artifact root"
        )
    check_within_root(root, source)
    return source
