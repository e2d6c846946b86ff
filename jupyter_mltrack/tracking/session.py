"""One tracking session per store per process: the store, its buffer and its flusher.

The fluent API and every :class:`MltrackClient` on the same store share one session, so there is
one buffer to flush and one place that knows which runs this process may log to.
"""

from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..config import resolve_store_dir
from ..entities import Experiment, RunStatus
from ..errors import MltrackError
from ..store import open_store, rules
from ..store.batch import WriteBatch
from ..store.contract import AbstractStore
from ..store.duckdb import liveness
from .buffer import DEFAULT_FLUSH_INTERVAL_S, Flusher, LogBuffer, Spool


@dataclass
class RunState:
    """What this process knows of a run it logs to (kept so logging needs no store reads)."""

    run_id: str
    experiment_id: str
    status: str
    lifecycle_stage: str
    params: dict[str, str] = field(default_factory=dict)


class TrackingSession:
    """The store, buffer and flusher for one store directory."""

    def __init__(self, store_dir: Path):
        self.store_dir = store_dir
        self.store: AbstractStore = open_store(store_dir)
        liveness.reap_quietly(self.store)  # runs of processes that died are KILLED, not RUNNING
        self.buffer = LogBuffer()
        interval = float(os.environ.get("MLTRACK_FLUSH_INTERVAL", DEFAULT_FLUSH_INTERVAL_S))
        self.flusher = Flusher(self.store, self.buffer, Spool(store_dir / "spool"), interval)
        self.flusher.start()
        # atexit runs handlers last-registered first: registering again now, after the store
        # has imported DuckDB (whose own exit handler stops it from scanning Python objects),
        # makes the final flush run while DuckDB still takes them.
        atexit.unregister(_flush_and_close_all)
        atexit.register(_flush_and_close_all)
        self._runs: dict[str, RunState] = {}
        self._runs_lock = threading.Lock()
        # runs created in the buffer and perhaps not yet in the store
        self._unstored: set[str] = set()
        # active experiments this process started runs in, so starting one needs no read
        self._experiments: dict[str, Experiment] = {}

    def flush(self) -> None:
        """Make everything logged so far durable (refusals: see :meth:`raise_refusals`)."""
        with self._runs_lock:
            written = set(self._unstored)
        self.flusher.flush()
        with self._runs_lock:
            self._unstored -= written

    def raise_refusals(self) -> None:
        """Raise, once, what the store refused of this process's buffered writes.

        Called by the public ``flush()``: a read or an end of run flushes too, but must not fail
        for a refusal of other data (the flusher has logged a warning for each already).
        """
        refused = self.flusher.take_refusals()
        if refused:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise MltrackError(f"the store refused buffered data: {refused[0]}{more}")

    def ensure_stored(self, run_id: str) -> None:
        """Flush when ``run_id`` was created in the buffer, so the store has the run."""
        if run_id in self._unstored:
            self.flush()

    def add_new_run(self, batch: WriteBatch, state: RunState) -> None:
        """Buffer a run's creation (:meth:`AbstractStore.new_run`'s rows) and remember it."""
        with self._runs_lock:
            self._runs[state.run_id] = state
            self._unstored.add(state.run_id)
        self.buffer.add_batch(batch)

    def experiment(self, experiment_id: str) -> Experiment:
        """An experiment to start runs in, read from the store the first time.

        The store checks again when the run is written (another process may delete it).
        """
        found = self._experiments.get(experiment_id)
        if found is None:
            found = self.store.get_experiment(experiment_id)
            if found.lifecycle_stage == "active":
                self._experiments[experiment_id] = found
        return found

    def remember(self, state: RunState) -> None:
        with self._runs_lock:
            self._runs[state.run_id] = state

    def forget_runs(self) -> None:
        """Drop the cached state of every run and experiment (re-read on next use)."""
        with self._runs_lock:
            self._runs.clear()
            self._experiments.clear()

    @property
    def known_run_count(self) -> int:
        """How many runs this session has learnt of so far."""
        return len(self._runs)

    def runs_learnt_since(self, count: int) -> list[str]:
        """The ids of the runs learnt after the first ``count``, in the order learnt."""
        with self._runs_lock:
            return list(self._runs)[count:]

    def run_state(self, run_id: str) -> RunState:
        """This process's view of a run, read from the store the first time."""
        state = self._runs.get(run_id)
        if state is None:
            if not isinstance(run_id, str) or not run_id:
                raise MltrackError(f"run id must be a non-empty string, got {run_id!r}")
            run = self.store.get_run(run_id)
            state = RunState(
                run_id,
                run.info.experiment_id,
                run.info.status,
                run.info.lifecycle_stage,
                dict(run.data.params),
            )
            self.remember(state)
        return state

    def writable_run(self, run_id: str) -> RunState:
        """The run's state, if it can be logged to: active (not deleted) and RUNNING."""
        state = self._runs.get(run_id) or self.run_state(run_id)
        if state.status != RunStatus.RUNNING or state.lifecycle_stage != "active":
            # the store's rule, on this process's cache of the run (the hot path skips the call)
            rules.check_run_writable(run_id, state.lifecycle_stage, state.status)
        return state


_sessions: dict[Path, TrackingSession] = {}
_sessions_lock = threading.Lock()


def get_session(store: str | os.PathLike[str] | None = None) -> TrackingSession:
    """The session for a store directory (found by the rule in :mod:`jupyter_mltrack.config`)."""
    store_dir = resolve_store_dir(store)
    session = _sessions.get(store_dir)
    if session is None:
        with _sessions_lock:
            session = _sessions.get(store_dir)
            if session is None:
                session = _sessions[store_dir] = TrackingSession(store_dir)
    return session


def _flush_and_close_all() -> None:
    """At interpreter exit: flush every session, then release the database files."""
    for session in list(_sessions.values()):
        session.flusher.stop()
        session.flush()
        close = getattr(session.store, "close", None)
        if close is not None:
            close()


atexit.register(_flush_and_close_all)
