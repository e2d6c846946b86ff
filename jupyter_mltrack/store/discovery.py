"""Where a store's tracking server is: the environment and ``<store>/server.json``.

A running tracking server advertises itself twice: in its own environment (inherited by the
kernels it starts: ``MLTRACK_STORE``, ``MLTRACK_SERVER_URL``, ``MLTRACK_SERVER_TOKEN``) and in
``server.json`` inside the store directory (read by scripts started by hand). The file is
readable by its owner only, removed on a clean shutdown, and ignored once the process that
wrote it is gone. Standard library only: kernels import this.

The file is trusted only as far as it can be: a reader ignores it unless it is a regular file
(not a symbolic link) owned by the reading user and writable by no one else, since whoever can
write it can send the reader's data and token to a server of their choosing. It records the
writer's process start time (``process_start``, Linux) beside its pid, so a crashed server's
file does not stay "alive" when a new process reuses the pid; a file without it (written by an
older version) is judged by its pid alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import now_ms
from ..config import resolve_store_dir
from .run_owner import process_alive, process_start_token

URL_ENV = "MLTRACK_SERVER_URL"
TOKEN_ENV = "MLTRACK_SERVER_TOKEN"
SERVER_FILE = "server.json"


@dataclass(frozen=True)
class ServerAddress:
    """Where a tracking server answers: ``url`` ends in ``/mltrack``."""

    url: str
    token: str


def write_server_file(store_dir: Path, url: str, token: str, base_url: str) -> Path:
    """Advertise a server in ``<store>/server.json``, readable by the owner only (mode 0600).

    Returns
    -------
    Path
        The file written.
    """
    path = Path(store_dir) / SERVER_FILE
    tmp = path.with_name(f".{SERVER_FILE}.{os.getpid()}.tmp")
    data = {
        "url": url,
        "token": token,
        "base_url": base_url,
        "pid": os.getpid(),
        "process_start": process_start_token(os.getpid()),
        "hostname": socket.gethostname(),
        "store": str(Path(store_dir).resolve()),
        "started": now_ms(),
    }
    # a new file (never one someone placed there, nor a symbolic link's target), 0600 from birth
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # left by a crash of a process with this pid
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def remove_server_file(store_dir: Path) -> None:
    """Remove ``server.json`` if this process wrote it (never another server's)."""
    path = Path(store_dir) / SERVER_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


def _read_trusted(path: Path) -> str | None:
    """The text of ``path`` if this user may trust it: a regular file (not a symbolic link)
    that this user owns and no one else can write; else None."""
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return None  # absent, or a symbolic link
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())  # of the file opened, not of whatever the name now means
        if not stat.S_ISREG(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            return None
        try:
            return fh.read(1 << 20).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def read_server_file(store_dir: Path) -> dict[str, Any] | None:
    """The live server advertised in ``<store>/server.json``, or None.

    A file whose process is gone (the server was killed, or its pid now belongs to a process
    started later), that names another host, that this very process wrote (a server never
    talks to itself over HTTP), or that this user cannot trust (owned by someone else, writable
    by others, a symbolic link) counts as absent.
    """
    text = _read_trusted(Path(store_dir) / SERVER_FILE)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    pid = data.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid == os.getpid() or pid <= 0:
        return None
    start = data.get("process_start")
    if start is not None and not isinstance(start, str):
        return None
    if data.get("hostname") != socket.gethostname() or not process_alive(pid, start):
        return None
    return data


def find_server(store_dir: Path, prefer_file: bool = False) -> ServerAddress | None:
    """The tracking server that owns ``store_dir``, if one runs.

    The environment (set by the server for kernels it starts) names the server of the
    default store, ``$MLTRACK_STORE``; ``server.json`` names the server of its own directory.
    ``prefer_file`` reads the file first: after a failure it is the fresher of the two.
    """
    store_dir = Path(store_dir).resolve()
    from_env = None
    url = os.environ.get(URL_ENV, "").strip()
    if url and resolve_store_dir(None) == store_dir:
        from_env = ServerAddress(url.rstrip("/"), os.environ.get(TOKEN_ENV, ""))
    if from_env is not None and not prefer_file:
        return from_env
    data = read_server_file(store_dir)
    if data is not None:
        return ServerAddress(str(data["url"]).rstrip("/"), str(data.get("token") or ""))
    return from_env
