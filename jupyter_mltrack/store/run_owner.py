"""Which process owns a run: the tags that say so, and whether that process still runs.

A run records the process that owns it (``mltrack.pid``, ``mltrack.host`` and, on Linux,
``mltrack.process.start``, the process's start time, which tells a reused pid from the
original, and ``mltrack.host.id``, see :func:`host_id`). The tracking API writes these tags when
it creates a run and again when a process resumes one (the resuming process takes ownership); a
backend's reaper (:mod:`.duckdb.liveness`) reads them to end the runs of processes that died.
Standard library only: kernels import this.

The hostname alone does not say whether a pid can be checked from here: containers share
hostnames (and a host's containers each have their own pid namespace). ``mltrack.host.id`` names
the kernel boot and the pid namespace, the scope in which a pid means one process; the reaper
only checks runs whose host id equals this process's.
"""

from __future__ import annotations

import functools
import os
import socket

from ..errors import MltrackError

PID_TAG = "mltrack.pid"
HOST_TAG = "mltrack.host"
PROCESS_START_TAG = "mltrack.process.start"
HOST_ID_TAG = "mltrack.host.id"
END_REASON_TAG = "mltrack.end_reason"


def _read_first(*paths: str) -> str:
    for path in paths:
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                text = fh.read().strip()
        except OSError:
            continue
        if text:
            return text
    return ""


@functools.lru_cache(maxsize=1)
def host_id() -> str:
    """This host's identity for pid checks: hostname, boot id and pid namespace, hashed.

    Two processes get the same id only when a pid means the same process to both: the same
    machine since the same boot (``/proc/sys/kernel/random/boot_id``, else ``/etc/machine-id``)
    and the same pid namespace. Where none of that is readable (not Linux), the hostname alone.
    """
    boot = _read_first(
        "/proc/sys/kernel/random/boot_id", "/etc/machine-id", "/var/lib/dbus/machine-id"
    )
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    raw = "\n".join((socket.gethostname(), boot, namespace))
    import hashlib  # here, once (cached): kernels import this module on their first run

    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def owner_tags(pid: int | None = None) -> dict[str, str]:
    """The tags that make process ``pid`` (this one by default) the owner of a run."""
    if pid is None:
        # This process's tags never change while it lives (a fork gets a new pid): every run
        # it starts reads them from memory instead of /proc.
        pid = os.getpid()
        mine = _own_tags.get(pid)
        if mine is None:
            mine = _own_tags[pid] = _tags_of(pid)
        return dict(mine)
    _check_pid(pid)
    return _tags_of(pid)


_own_tags: dict[int, dict[str, str]] = {}


def _tags_of(pid: int) -> dict[str, str]:
    tags = {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), HOST_ID_TAG: host_id()}
    start = process_start_token(pid)
    if start is not None:
        tags[PROCESS_START_TAG] = start
    return tags


def process_start_token(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque string (Linux only; None elsewhere).

    Two processes that ever held the same pid have different tokens, so a token recorded with a
    run tells whether the process now holding that pid is still the run's owner.
    """
    _check_pid(pid)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    # fields[0] is field 3 (state), so field 22 (starttime, in clock ticks) is fields[19]
    return fields[19] if len(fields) > 19 else None


def _check_pid(pid: object) -> None:
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise MltrackError(f"pid must be an integer, got {type(pid).__name__}: {pid!r}")


def _process_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    return fields[0] if fields else None


def process_alive(pid: int, start_token: str | None = None) -> bool:
    """Whether the process ``pid`` (started at ``start_token``, when known) still runs.

    A zombie (killed, not yet waited for by its parent) counts as dead.
    """
    _check_pid(pid)
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    except OSError:
        return False
    if _process_state(pid) in ("Z", "X"):
        return False
    if start_token is not None:
        now = process_start_token(pid)
        if now is not None and now != start_token:
            return False  # the pid was reused by a newer process
    return True
