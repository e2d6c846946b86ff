"""Where a store's tracking server is: the environment and ``<store>/server.json``.

A running tracking server advertises itself twice: in its own environment (inherited by the
kernels it starts: ``MLTRACK_STORE``, ``MLTRACK_SERVER_URL``, ``MLTRACK_SERVER_TOKEN``) and in
``server.json`` inside the store directory (read by scripts started by hand). The file is
readable by its owner only, removed on a clean shutdown, and ignored once the process that
wrote it is gone. Standard library only: kernels import this.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import now_ms
from ..config import resolve_store_dir

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
        "hostname": socket.gethostname(),
        "store": str(Path(store_dir).resolve()),
        "started": now_ms(),
    }
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(tmp, 0o600)  # in case the file existed with wider permissions
    os.replace(tmp, path)
    return path


def remove_server_file(store_dir: Path) -> None:
    """Remove ``server.json`` if this process wrote it (never another server's)."""
    path = Path(store_dir) / SERVER_FILE
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def read_server_file(store_dir: Path) -> dict[str, Any] | None:
    """The live server advertised in ``<store>/server.json``, or None.

    A file whose process is gone (the server was killed), that names another host, or that
    this very process wrote (a server never talks to itself over HTTP) counts as absent.
    """
    path = Path(store_dir) / SERVER_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    pid = data.get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or pid <= 0:
        return None
    if data.get("hostname") != socket.gethostname() or not _pid_alive(pid):
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
