"""The server's store: the embedded DuckDB store, held open, that records what changed.

The server is the one writer of its store (DESIGN.md), so every change passes through it. Two
things follow, both kept here rather than in the handlers:

- a change log (:class:`ChangeLog`): each write records the experiments, runs and metric keys it
  touched under a sequence number, and the change feed reports what changed since a cursor;
- an orderly stop: :meth:`OwnedStore.shutdown` waits for the store call in progress (calls are
  serialised on the connection's lock), then refuses every later call with STORE_UNAVAILABLE,
  so a client either gets an answer or knows its batch was not written and spools it.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..entities import ModelVersion, Run
from ..errors import ErrorCode, MltrackError
from ..models.uris import check_version_source
from ..store.batch import WriteBatch
from ..store.duckdb.connection import Connector
from ..store.duckdb.store import DuckDBStore

# How many writes the log remembers; a client further behind is told to reload everything.
DEFAULT_RETAINED = 20_000


@dataclass
class Changes:
    """What changed between two cursors."""

    cursor: str
    reset: bool
    experiments: set[str] = field(default_factory=set)
    runs: set[str] = field(default_factory=set)
    metrics: set[tuple[str, str]] = field(default_factory=set)


class ChangeLog:
    """Experiments, runs and (run, metric key) pairs changed by each write, in order.

    A cursor is ``<epoch>.<sequence>``; the epoch is new each time the server starts, so a
    cursor from before a restart reads as "reload everything" rather than as a position.
    """

    def __init__(self, retained: int = DEFAULT_RETAINED):
        self.epoch = secrets.token_hex(4)
        self._lock = threading.Lock()
        self._seq = 0
        self._entries: deque[tuple[int, frozenset[str], frozenset[str], frozenset[tuple]]] = deque(
            maxlen=retained
        )

    @property
    def cursor(self) -> str:
        """The cursor of the latest change."""
        return f"{self.epoch}.{self._seq}"

    def record(
        self,
        experiments: set[str] | None = None,
        runs: set[str] | None = None,
        metrics: set[tuple[str, str]] | None = None,
    ) -> None:
        """Note one write's changes."""
        with self._lock:
            self._seq += 1
            self._entries.append(
                (
                    self._seq,
                    frozenset(experiments or ()),
                    frozenset(runs or ()),
                    frozenset(metrics or ()),
                )
            )

    def since(self, cursor: str | None) -> Changes:
        """Everything changed after ``cursor``; ``reset`` when the cursor cannot be served.

        Raises
        ------
        MltrackError
            If the cursor is not one this server could have given.
        """
        with self._lock:
            now = Changes(cursor=f"{self.epoch}.{self._seq}", reset=True)
            if not cursor:
                return now
            epoch, _, seq_text = cursor.partition(".")
            if not seq_text.isdigit() or not epoch:
                raise MltrackError(f"invalid change cursor {cursor!r}")
            seq = int(seq_text)
            if epoch != self.epoch:
                return now  # from before a restart
            if seq > self._seq:
                raise MltrackError(f"change cursor {cursor!r} is ahead of the server")
            oldest = self._entries[0][0] if self._entries else self._seq + 1
            if seq < oldest - 1:
                return now  # older than what the log still holds
            now.reset = False
            for entry_seq, experiments, runs, metrics in self._entries:
                if entry_seq > seq:
                    now.experiments |= experiments
                    now.runs |= runs
                    now.metrics |= metrics
            return now

    def seq_of(self, cursor: str | None) -> int | None:
        """The sequence number in a cursor of this epoch (None otherwise)."""
        if not cursor:
            return None
        epoch, _, seq_text = cursor.partition(".")
        return int(seq_text) if epoch == self.epoch and seq_text.isdigit() else None

    @property
    def seq(self) -> int:
        return self._seq


class _OwnedConnector(Connector):
    """A connector that, once shut, refuses to open the file again."""

    def __init__(self, db_path: Path):
        super().__init__(db_path, linger=None)
        self.shut = False

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        # The flag is read under the lock, so a call queued behind the one in progress at
        # shutdown is refused rather than reopening the file.
        with self._lock:
            if self.shut:
                raise MltrackError(
                    "the tracking server is shutting down; try again when it is back",
                    ErrorCode.STORE_UNAVAILABLE,
                )
            with super().connect() as con:
                yield con

    def shutdown(self) -> None:
        with self._lock:
            self.shut = True
            self.close()


class OwnedStore(DuckDBStore):
    """The DuckDB store as the server owns it: open until shutdown, recording its changes.

    Parameters
    ----------
    store_dir:
        The store directory.
    """

    def __init__(self, store_dir: str | Path):
        super().__init__(store_dir, linger=None)
        self._owned = _OwnedConnector(self.db_path)
        self.connector = self._owned
        self.changes = ChangeLog()

    def open(self) -> None:
        """Open (and migrate) the database file now rather than on the first request."""
        with self.connector.connect():
            pass

    def shutdown(self) -> None:
        """Let the call in progress finish, close the file, refuse every later call."""
        self._owned.shutdown()

    # every write records what it touched (the backend half of each write, see contract.py) --
    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: dict[str, str]
    ) -> str:
        experiment_id = super()._create_experiment(name, artifact_location, tags)
        self.changes.record(experiments={experiment_id})
        return experiment_id

    def _update_experiment(
        self, experiment_id: str, name: str | None, tags: dict[str, str | None]
    ) -> None:
        super()._update_experiment(experiment_id, name, tags)
        self.changes.record(experiments={experiment_id})

    def _set_experiment_lifecycle(self, experiment_id: str, stage: str) -> None:
        super()._set_experiment_lifecycle(experiment_id, stage)
        self.changes.record(experiments={experiment_id})

    def _update_run(self, run_id: str, *args: Any) -> Run:
        run = super()._update_run(run_id, *args)
        self.changes.record(runs={run_id})
        return run

    def _set_run_lifecycle(self, run_id: str, stage: str) -> None:
        super()._set_run_lifecycle(run_id, stage)
        self.changes.record(runs={run_id})

    def _append_logged_model_record(self, run_id: str, model: dict[str, Any]) -> None:
        super()._append_logged_model_record(run_id, model)
        self.changes.record(runs={run_id})

    def _create_model_version(self, name: str, source: str, *args: Any) -> ModelVersion:
        # What the server registers it may later load (the warm-model route): as MLflow's
        # server does, a version's files must lie inside this store's artifact root
        check_version_source(self.artifact_root, source)
        return super()._create_model_version(name, source, *args)

    def _write_batch(self, batch: WriteBatch, skip_invalid: bool) -> list[str]:
        warnings = super()._write_batch(batch, skip_invalid)
        # the store drops the rows of invalid runs from the batch, so what is left was written
        if len(batch):
            metrics = {(row.run_id, row.key) for row in batch.metrics}
            metrics.update((row.run_id, row.key) for row in batch.metric_series)
            self.changes.record(runs=batch.run_ids(), metrics=metrics)
        return warnings

    def reap_dead_runs(self) -> list[str]:
        """Mark KILLED the RUNNING runs whose processes on this host died (see liveness)."""
        from ..store.duckdb.liveness import reap_dead_runs

        reaped = reap_dead_runs(self)
        if reaped:
            self.changes.record(runs=set(reaped))
        return reaped

    def _gc(self, older_than_ms: int | None) -> dict[str, Any]:
        result = super()._gc(older_than_ms)
        if result["runs_removed"]:
            self.changes.record(runs=set(result["runs_removed"]))
        return result
