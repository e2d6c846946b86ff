"""Where a run came from: source, git state, Python and libraries, owning process; and which cell
logged each item.

:func:`collect` gathers the tags every new run gets (called by ``MltrackClient.create_run``):

==============================  =============================================================
``mlflow.source.git.commit``    the commit checked out (when the source is in a git repository)
``mlflow.source.git.branch``    the branch, when not detached
``mlflow.source.git.repoURL``   the ``origin`` remote, when there is one, without credentials
                                (``https://user:TOKEN@host/…`` is recorded as ``https://host/…``)
``mltrack.git.dirty``           ``true`` when tracked files differ from the commit; the diff is
                                then stored as the artifact ``lineage/git.diff``
``mltrack.python.version``      e.g. ``3.11.9``
``mltrack.libraries``           JSON ``{"numpy": "2.1.0", …}`` of the main libraries imported
``mltrack.notebook``            the notebook's path, when Jupyter gives it (JPY_SESSION_NAME)
``mltrack.pid``, ``mltrack.host``, ``mltrack.process.start``  the owning process (see
                                :mod:`jupyter_mltrack.store.duckdb.liveness`)
==============================  =============================================================

The repository is the one holding the notebook or script (the working directory for ``-c`` and
interactive sessions); ``MLTRACK_GIT_LINEAGE=0`` leaves git out. Lineage must be cheap and must
never fail a run: git runs in a subprocess with a short timeout, its answers are cached per
source (until HEAD or the index changes, or a few seconds pass, so a loop that starts a hundred
runs does not start four hundred git processes), and any problem only leaves the git tags out.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..entities import Cell
from ..errors import ErrorCode, MltrackError
from ..store.run_owner import owner_tags

if TYPE_CHECKING:
    from ..store.contract import AbstractStore

log = logging.getLogger("jupyter_mltrack")

GIT_TIMEOUT_S = 2.0
GIT_CACHE_TTL_S = 5.0
MAX_DIFF_BYTES = 2_000_000
DIFF_ARTIFACT = "lineage/git.diff"

# import name -> distribution name, for the libraries worth recording when a kernel imported them
MAIN_LIBRARIES: dict[str, str] = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "polars": "polars",
    "pyarrow": "pyarrow",
    "sklearn": "scikit-learn",
    "statsmodels": "statsmodels",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "torch": "torch",
    "torchvision": "torchvision",
    "lightning": "lightning",
    "pytorch_lightning": "pytorch-lightning",
    "tensorflow": "tensorflow",
    "keras": "keras",
    "jax": "jax",
    "flax": "flax",
    "transformers": "transformers",
    "datasets": "datasets",
    "optuna": "optuna",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "plotly": "plotly",
    "duckdb": "duckdb",
    "mlflow": "mlflow",
    "jupyter_mltrack": "jupyter-mltrack",
}


@dataclass(frozen=True)
class GitInfo:
    """The git state of a source tree."""

    root: str
    commit: str
    branch: str | None
    repo_url: str | None
    dirty: bool
    diff: bytes = b""


@dataclass
class Lineage:
    """What :func:`collect` found: tags for a new run, and the diff to store as an artifact."""

    tags: dict[str, str] = field(default_factory=dict)
    diff: bytes | None = None


# --- git ------------------------------------------------------------------------------------
_git_cache: dict[str, tuple[float, tuple, GitInfo | None]] = {}
_git_lock = threading.Lock()


def _git(cwd: str, *args: str) -> str | None:
    """Output of one git command, or None when git is missing, fails or takes too long."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            # never ask for credentials or open an editor from inside a kernel
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")


def _stamp(root: str) -> tuple:
    """Changes when a commit, checkout or ``git add`` happens (HEAD or the index is written)."""
    out: list[int | None] = []
    for name in ("HEAD", "index"):
        try:
            out.append(os.stat(os.path.join(root, ".git", name)).st_mtime_ns)
        except OSError:
            out.append(None)
    return tuple(out)


def strip_credentials(url: str) -> str:
    """A remote URL without the secrets people put in it, safe to record in a run's tags.

    For web URLs (``http``, ``https``, ``ftp``) the whole user part goes (a token is often the
    user name alone, ``https://TOKEN@host/…``) and so does the query (``?private_token=…``); for
    other schemes (``ssh://git:PASSWORD@host/…``) only the password. ``git@host:path`` (scp
    style) holds no secret and is kept as it is.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        return "" if "@" in url else url  # unparseable: record nothing that might be secret
    if not parts.scheme or not parts.netloc or ("@" not in parts.netloc and not parts.query):
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if parts.scheme.lower() in ("http", "https", "ftp", "ftps"):
        query = ""
    elif parts.username and "@" in parts.netloc:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _read_git(cwd: str) -> GitInfo | None:
    head = _git(cwd, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD")
    if head is None:
        return None  # not a repository, no commit yet, or no git
    lines = head.splitlines()
    if len(lines) < 3:
        return None
    root, commit, branch = lines[0], lines[1], lines[2]
    url = _git(cwd, "config", "--get", "remote.origin.url")
    status = _git(cwd, "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status and status.strip())
    diff = b""
    if dirty:
        text = _git(cwd, "diff", "HEAD")
        diff = (text or "").encode("utf-8")
        if len(diff) > MAX_DIFF_BYTES:
            diff = diff[:MAX_DIFF_BYTES] + (
                f"\n# jupyter-mltrack: diff truncated at {MAX_DIFF_BYTES} bytes\n".encode()
            )
    return GitInfo(
        root=root,
        commit=commit,
        branch=None if branch == "HEAD" else branch,
        repo_url=strip_credentials((url or "").strip()) or None,
        dirty=dirty,
        diff=diff,
    )


def git_info(path: str | os.PathLike[str] | None = None) -> GitInfo | None:
    """The git state of the repository holding ``path`` (a file or folder; default: cwd).

    None when ``path`` is not inside a git repository with at least one commit, when it is a
    file the repository ignores (a script inside a virtualenv is not versioned by the project
    around it), or when git is not installed. Answers are cached (see the module docstring).
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise MltrackError(f"path must be a str or path, got {type(path).__name__}")
    source_file, cwd = _where(os.fspath(path) if path is not None else None)
    key = source_file or cwd
    now = time.monotonic()
    cached = _git_cache.get(key)
    if cached is not None:
        when, stamp, info = cached
        root = info.root if info is not None else cwd
        if now - when < GIT_CACHE_TTL_S and stamp == _stamp(root):
            return info
    info = _read_git(cwd)
    # check-ignore exits 0 (output not None) for an ignored file: the repository does not own it
    if info is not None and source_file is not None:
        info = None if _git(cwd, "check-ignore", "-q", source_file) is not None else info
    with _git_lock:
        _git_cache[key] = (now, _stamp(info.root if info is not None else cwd), info)
    return info


def _where(path: str | None) -> tuple[str | None, str]:
    """(the source file, resolved, if ``path`` is one; the folder git runs in) for ``path``.

    Remembered per path for as long as the git answers are (resolving a path costs a system
    call per component, and every new run asks).
    """
    now = time.monotonic()
    key = path if path is not None else os.getcwd()
    known = _where_cache.get(key)
    if known is not None and now - known[0] < GIT_CACHE_TTL_S:
        return known[1], known[2]
    target = Path(key)
    source_file = str(target.resolve()) if target.is_file() else None
    if target.is_file() or not target.exists():
        target = target.parent
    cwd = str(target.resolve()) if target.exists() else os.getcwd()
    _where_cache[key] = (now, source_file, cwd)
    return source_file, cwd


_where_cache: dict[str, tuple[float, str | None, str]] = {}


def git_enabled() -> bool:
    """Whether runs record git lineage: ``MLTRACK_GIT_LINEAGE=0`` (or false/no/off) turns it off.

    A dirty tree's diff is stored with each run; where diffs may hold secrets, or a test suite
    counts artifacts, switch it off.
    """
    return os.environ.get("MLTRACK_GIT_LINEAGE", "1").strip().lower() not in (
        "0",
        "false",
        "no",
        "off",
    )


def clear_cache() -> None:
    """Forget cached git answers and library versions (tests, or after installing packages)."""
    with _git_lock:
        _git_cache.clear()
        _where_cache.clear()
        _libraries_cache.clear()
    _versions.clear()


# --- environment ----------------------------------------------------------------------------
_versions: dict[str, str | None] = {}


def _version_of(module_name: str) -> str | None:
    if module_name in _versions:
        return _versions[module_name]
    version: str | None = None
    module = sys.modules.get(module_name)
    attr = getattr(module, "__version__", None)
    if isinstance(attr, str):
        version = attr
    else:
        from importlib import metadata

        try:
            version = metadata.version(MAIN_LIBRARIES.get(module_name, module_name))
        except Exception:  # noqa: BLE001 - metadata can be missing or broken; skip the library
            version = None
    _versions[module_name] = version
    return version


def imported_library_versions() -> dict[str, str]:
    """Versions of the main ML libraries this process has imported, by distribution name."""
    out: dict[str, str] = {}
    for module_name, dist in MAIN_LIBRARIES.items():
        if module_name in sys.modules:
            version = _version_of(module_name)
            if version:
                out[dist] = version
    return out


def _libraries_json() -> str:
    """:func:`imported_library_versions` as JSON, made again only when a library was imported."""
    present = tuple(name for name in MAIN_LIBRARIES if name in sys.modules)
    known = _libraries_cache.get(present)
    if known is None:
        known = _libraries_cache[present] = json.dumps(imported_library_versions(), sort_keys=True)
    return known


_libraries_cache: dict[tuple[str, ...], str] = {}


def notebook_path() -> str | None:
    """The notebook this kernel runs, when Jupyter says (it sets ``JPY_SESSION_NAME``)."""
    name = os.environ.get("JPY_SESSION_NAME", "").strip()
    return name or None


def collect(source: str | None = None) -> Lineage:
    """Lineage tags for a new run whose code is ``source`` (a notebook or script path).

    Never raises: whatever cannot be found is left out (and logged at debug level).
    """
    result = Lineage()
    try:
        result.tags.update(owner_tags())  # the owning process, for the reaper
        result.tags["mltrack.python.version"] = platform.python_version()
        result.tags["mltrack.libraries"] = _libraries_json()
        notebook = notebook_path()
        if notebook:
            result.tags["mltrack.notebook"] = notebook
        where = source if source and os.path.exists(source) else None
        git = git_info(where) if git_enabled() else None
        if git is not None:
            result.tags["mlflow.source.git.commit"] = git.commit
            if git.branch:
                result.tags["mlflow.source.git.branch"] = git.branch
            if git.repo_url:
                result.tags["mlflow.source.git.repoURL"] = git.repo_url
            result.tags["mltrack.git.dirty"] = "true" if git.dirty else "false"
            if git.dirty and git.diff:
                result.diff = git.diff
    except Exception as exc:  # noqa: BLE001 - lineage is best effort, never a reason to fail
        log.debug("jupyter-mltrack: lineage incomplete: %s", exc)
    return result


# --- which cell logged what -----------------------------------------------------------------
@dataclass(frozen=True)
class LoggedItem:
    """One thing a run logged and the cell it came from.

    ``kind`` is param, tag, metric, artifact or input; ``key`` its key (an artifact's path, an
    input's dataset name). A metric logged from several cells has one item per cell, with the
    value of that cell's last point and the steps it logged.
    """

    kind: str
    key: str
    cell_id: str | None
    value: str | None
    first_step: int | None = None
    last_step: int | None = None
    points: int = 1


def _store_of(store: str | os.PathLike[str] | None) -> AbstractStore:
    """The store a client of ``store`` logs to (embedded or a tracking server), flushed."""
    from . import fluent
    from .client import MltrackClient

    client = fluent.client() if store is None else MltrackClient(store)
    return client.store  # flushed: reads see what this process logged, too


def logged_items(
    run_id: str, cell_id: str | None = None, store: str | os.PathLike[str] | None = None
) -> list[LoggedItem]:
    """What a run logged, each item with the cell it came from (only ``cell_id``'s if given).

    Parameters
    ----------
    run_id:
        The run.
    cell_id:
        A cell id as recorded (see :func:`jupyter_mltrack.get_cells`); None for all items.
    store:
        The store directory; default: the one the fluent API uses.
    """
    from ..store import rules

    if not isinstance(run_id, str) or not run_id:
        raise MltrackError(f"run id must be a non-empty string, got {run_id!r}")
    rules.check_cell_id(cell_id)
    rows = _store_of(store).get_logged_items(run_id, cell_id)
    return [
        LoggedItem(kind, key, cell, value, s0, s1, int(n))
        for kind, key, cell, value, s0, s1, n in rows
    ]


def cell_of(
    run_id: str,
    kind: str,
    key: str,
    step: int | None = None,
    store: str | os.PathLike[str] | None = None,
) -> Cell | None:
    """The executed cell that logged one item of a run; None if logged outside a cell.

    Parameters
    ----------
    run_id:
        The run.
    kind:
        ``"param"``, ``"tag"``, ``"metric"``, ``"artifact"`` or ``"input"``.
    key:
        The item's key (an artifact's path, an input's dataset name).
    step:
        For a metric, the step of the point asked about; default: its latest point.
    store:
        The store directory; default: the one the fluent API uses.

    Raises
    ------
    MltrackError
        RESOURCE_DOES_NOT_EXIST when the run or the item does not exist.
    """
    from ..store import rules

    if not isinstance(run_id, str) or not run_id:
        raise MltrackError(f"run id must be a non-empty string, got {run_id!r}")
    # checked before flushing: a mistake should not wait for (or depend on) the store
    kind, key, step = rules.check_item(kind, key, step)
    found, cell = _store_of(store).get_item_cell(run_id, kind, key, step)
    if not found:
        at = f" at step {step}" if step is not None else ""
        raise MltrackError(
            f"run {run_id!r} has no {kind} {key!r}{at}", ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
    return cell
