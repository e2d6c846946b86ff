"""Runs whose owning process died: find them and mark them KILLED.

A run records the process that owns it (``mltrack.pid``, ``mltrack.host`` and, on Linux,
``mltrack.process.start``, the process's start time, which tells a reused pid from the original).
A process that ends normally ends its runs itself; one killed outright (SIGKILL, a crashed
kernel, a machine that lost power) leaves them RUNNING. The reaper here is called when a tracking
session starts and by the ``mltrack`` command line: a RUNNING run owned by a process on this host
that no longer exists is set to KILLED, with its end time set to the last moment it was known to
log something, so that no run shows RUNNING forever.

Runs owned by another host are left alone: their processes cannot be checked from here. The
host is told by ``mltrack.host.id`` (:func:`..run_owner.host_id`: boot id and pid namespace, not
the hostname, which containers share); a run without that tag (written by an older version) is
left alone too, since whether its pid can be checked from here is unknown.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING

from ...entities import RunStatus
from ...errors import MltrackError
from ..run_owner import (
    END_REASON_TAG,
    HOST_ID_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    host_id,
    process_alive,
)

if TYPE_CHECKING:
    from ..contract import AbstractStore
    from .store import DuckDBStore

log = logging.getLogger("jupyter_mltrack")


def reap_dead_runs(store: DuckDBStore, host: str | None = None) -> list[str]:
    """Mark KILLED every RUNNING run of ``host`` (this one by default) whose process is gone.

    Parameters
    ----------
    store:
        The embedded store to clean.
    host:
        Only runs whose ``mltrack.host.id`` tag equals this are checked (default:
        :func:`..run_owner.host_id`).

    Returns
    -------
    list of str
        The ids of the runs that were marked KILLED.
    """
    host = host or host_id()
    if not isinstance(host, str) or not host:
        raise MltrackError(f"host must be a non-empty string, got {host!r}")
    with store.connector.transaction() as con:
        rows = con.execute(
            "SELECT r.run_id, p.value, s.value FROM runs r "
            "JOIN tags h ON h.run_id = r.run_id AND h.key = ? "
            "JOIN tags p ON p.run_id = r.run_id AND p.key = ? "
            "LEFT JOIN tags s ON s.run_id = r.run_id AND s.key = ? "
            "WHERE r.status = ? AND h.value = ?",
            [HOST_ID_TAG, PID_TAG, PROCESS_START_TAG, RunStatus.RUNNING, host],
        ).fetchall()
        dead: list[tuple[str, str]] = []
        for run_id, pid_text, start in rows:
            try:
                pid = int(pid_text)
            except (TypeError, ValueError):
                continue  # not a tag we wrote: leave the run alone
            if not process_alive(pid, start):
                dead.append((run_id, pid_text))
        if not dead:
            return []
        ids = [run_id for run_id, _ in dead]
        hostname = socket.gethostname()
        # The end time is the last moment the run is known to have logged anything (its start
        # at least), not the moment someone noticed, so durations stay truthful.
        con.execute(
            "UPDATE runs SET status = ?, end_time = greatest(runs.start_time, coalesce(("
            "  SELECT max(t) FROM ("
            "    SELECT max(m.timestamp) AS t FROM metrics m WHERE m.run_id = runs.run_id"
            "    UNION ALL SELECT max(c.start_time + CAST(coalesce(c.duration_ms, 0) AS BIGINT))"
            "      FROM cells c WHERE c.run_id = runs.run_id"
            "    UNION ALL SELECT max(a.logged_time) FROM artifacts a WHERE a.run_id = runs.run_id"
            "  )), runs.start_time)) "
            "WHERE list_contains(?, run_id) AND status = ?",
            [RunStatus.KILLED, ids, RunStatus.RUNNING],
        )
        con.executemany(
            "INSERT OR REPLACE INTO tags VALUES (?, ?, ?, NULL)",
            [
                (
                    run_id,
                    END_REASON_TAG,
                    f"process {pid} on {hostname} exited without ending the run",
                )
                for run_id, pid in dead
            ],
        )
    return ids


def reap_quietly(store: AbstractStore) -> list[str]:
    """:func:`reap_dead_runs` for a session that is starting: never raises, logs problems.

    Stores other than the embedded one are skipped (their owner does the reaping).
    """
    from .store import DuckDBStore

    if not isinstance(store, DuckDBStore):
        return []
    started = time.monotonic()
    try:
        reaped = reap_dead_runs(store)
    except Exception as exc:  # noqa: BLE001 - housekeeping must not stop anyone from logging
        log.warning("jupyter-mltrack: could not check for runs of dead processes: %s", exc)
        return []
    if reaped:
        log.info(
            "jupyter-mltrack: marked %d run(s) of exited processes KILLED in %.0f ms",
            len(reaped),
            (time.monotonic() - started) * 1000,
        )
    return reaped
