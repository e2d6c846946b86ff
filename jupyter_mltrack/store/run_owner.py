"""Which process owns a run: the tags that say so, and whether that process still runs.

A run records the process that owns it (``mltrack.pid``, ``mltrack.host`` and, on Linux,
``mltrack.process.start``, the process's start time, which tells a reused pid from the
original). The tracking API writes these tags; a backend's reaper
(:mod:`.duckdb.liveness`) reads them to end the runs of processes that died. Standard library
only: kernels import this.
"""

from __future__ import annotations

import os

from ..errors import MltrackError

PID_TAG = "mltrack.pid"
HOST_TAG = "mltrack.host"
PROCESS_START_TAG = "mltrack.process.start"
END_REASON_TAG = "mltrack.end_reason"


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
