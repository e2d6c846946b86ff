"""Artifact files on disk under a store's artifact root.

Every path that comes from a caller is resolved against the run's folder and checked to stay
inside it after symlinks are followed, so neither ``..`` nor a planted symlink can reach outside.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .entities import ArtifactInfo
from .errors import ErrorCode, MltrackError
from .validation import check_artifact_path

# Types the standard table lacks or gets wrong for the files runs log most.
_EXTRA_TYPES = {
    ".ipynb": "application/x-ipynb+json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".md": "text/markdown",
    ".parquet": "application/vnd.apache.parquet",
    ".diff": "text/x-diff",
    ".log": "text/plain",
}


def media_type_of(path: str) -> str:
    """A best guess at a file's media type from its name."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in _EXTRA_TYPES:
        return _EXTRA_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def safe_join(base: Path, relative: str) -> Path:
    """Join a checked relative artifact path to ``base``; refuse anything that escapes it."""
    rel = check_artifact_path(relative)
    target = (base / rel) if rel else base
    base_real = os.path.realpath(base)
    target_real = os.path.realpath(target)
    if target_real != base_real and not target_real.startswith(base_real + os.sep):
        raise MltrackError(f"artifact path {relative!r} resolves outside the run's artifact folder")
    return target


def copy_into(base: Path, local_path: Path, artifact_dir: str | None) -> list[tuple[str, int, str]]:
    """Copy a file, or a folder's files, under ``base/artifact_dir``.

    Returns ``(relative path, size, media type)`` for each file written.
    """
    local = Path(local_path)
    if not local.exists():
        raise MltrackError(
            f"cannot log artifact: {local} does not exist", ErrorCode.RESOURCE_DOES_NOT_EXIST
        )
    dest_dir_rel = check_artifact_path(artifact_dir)
    written: list[tuple[str, int, str]] = []
    if local.is_dir():
        files = sorted(p for p in local.rglob("*") if p.is_file())
        pairs = [(p, p.relative_to(local).as_posix()) for p in files]
    else:
        pairs = [(local, local.name)]
    for src, name in pairs:
        rel = f"{dest_dir_rel}/{name}" if dest_dir_rel else name
        dest = safe_join(base, rel)
        with _replacing(dest) as fh, open(src, "rb") as source:
            shutil.copyfileobj(source, fh, _COPY_CHUNK)
        written.append((rel, dest.stat().st_size, media_type_of(rel)))
    return written


def write_bytes(base: Path, relative: str, data: bytes) -> tuple[str, int, str]:
    """Write ``data`` as the artifact ``relative``; return (path, size, media type)."""
    rel = check_artifact_path(relative)
    if not rel:
        raise MltrackError("artifact file name must not be empty")
    dest = safe_join(base, rel)
    with _replacing(dest) as fh:
        fh.write(data)
    return rel, len(data), media_type_of(rel)


_COPY_CHUNK = 1024 * 1024


@contextlib.contextmanager
def _replacing(dest: Path) -> Iterator[BinaryIO]:
    """A new file beside ``dest`` that replaces it when the block ends without an error.

    Readers see the old file or the new one, never a partial one, and a crash leaves the old
    file whole (and a hidden ``.NAME.*.tmp`` file that :func:`list_dir` does not show). The
    temporary file is created exclusively, so it never follows a link someone placed there.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; artifacts get the usual mode
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_umask() -> int:
    # os.umask can only be read by setting it: do so once, at import, not in a server's threads
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def list_dir(base: Path, path: str) -> list[ArtifactInfo]:
    """List one folder of a run's artifacts (not recursive), folders first."""
    folder = safe_join(base, path)
    if not folder.is_dir():
        return []
    prefix = check_artifact_path(path)
    entries: list[ArtifactInfo] = []
    for child in sorted(folder.iterdir(), key=lambda p: (not p.is_dir(), p.name)):
        if child.name.startswith(".") and ".tmp" in child.name:
            continue
        rel = f"{prefix}/{child.name}" if prefix else child.name
        if child.is_dir():
            entries.append(ArtifactInfo(path=rel, is_dir=True))
        else:
            entries.append(
                ArtifactInfo(
                    path=rel,
                    is_dir=False,
                    file_size=child.stat().st_size,
                    media_type=media_type_of(rel),
                )
            )
    return entries
