"""The in-memory log buffer, its background flusher, and the durable spool.

Logging calls append a tuple to a list and return; a daemon thread ships what accumulated to the
store on a short timer, when the buffer grows large, and whenever someone calls :meth:`flush`
(reads, ``end_run``, interpreter exit). When the store cannot take a batch (another process
holds the file for too long, a server is down), the batch is written to the spool folder and
replayed by the next flush, so a point once logged is only lost if the process dies before the
next flush.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from ..entities import Cell
from ..errors import ErrorCode, MltrackError
from ..store.batch import (
    ArtifactRow,
    InputRow,
    MetricSeriesRow,
    ParamRow,
    RunUpdateRow,
    TagRow,
    WriteBatch,
    new_batch_id,
)
from ..store.contract import AbstractStore

log = logging.getLogger("jupyter_mltrack")

DEFAULT_FLUSH_INTERVAL_S = 1.0
# Past this many buffered metric points the flusher is woken early, bounding memory.
EARLY_FLUSH_POINTS = 200_000
# How long an early wake-up waits for more to flush together (seconds).
COALESCE_S = 0.05


class LogBuffer:
    """What was logged since the last flush. Thread-safe; appends are O(1).

    Metric points are kept per series (run, key, cell) in three lists, so a flush hands columns
    to Arrow instead of transposing a million tuples.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch = WriteBatch()
        self._series: dict[tuple, tuple[list, list, list]] = {}
        self._points = 0
        self.wake: threading.Event | None = None

    def add_metric(
        self, run_id: str, key: str, value: float, step: int, timestamp: int, cell: str | None
    ) -> None:
        with self._lock:
            series = self._series.get((run_id, key, cell))
            if series is None:
                series = self._series[(run_id, key, cell)] = ([], [], [])
            series[0].append(value)
            series[1].append(step)
            series[2].append(timestamp)
            self._points += 1
            points = self._points
        if points >= EARLY_FLUSH_POINTS and self.wake is not None:
            self.wake.set()

    def add_series(self, rows: list[MetricSeriesRow]) -> None:
        """Metric points already in columns."""
        self._extend("metric_series", rows, sum(len(r.values) for r in rows))

    def add_params(self, rows: list[ParamRow]) -> None:
        self._extend("params", rows)

    def add_tags(self, rows: list[TagRow]) -> None:
        self._extend("tags", rows)

    def add_artifacts(self, rows: list[ArtifactRow]) -> None:
        self._extend("artifacts", rows)

    def add_inputs(self, rows: list[InputRow]) -> None:
        self._extend("inputs", rows)

    def add_run_updates(self, rows: list[RunUpdateRow]) -> None:
        self._extend("run_updates", rows)

    def add_cells(self, cells: list[Cell]) -> None:
        self._extend("cells", cells)

    def add_batch(self, batch: WriteBatch) -> None:
        """Every row of ``batch`` at once (a flush takes all of it or none of it)."""
        with self._lock:
            self._batch.extend(batch)
            self._points += len(batch.metrics) + sum(len(s.values) for s in batch.metric_series)

    def _extend(self, kind: str, rows: list, points: int = 0) -> None:
        with self._lock:
            getattr(self._batch, kind).extend(rows)
            self._points += points
            total = self._points
        if total >= EARLY_FLUSH_POINTS and self.wake is not None:
            self.wake.set()

    def drain(self) -> WriteBatch:
        """Take everything buffered so far, leaving the buffer empty."""
        with self._lock:
            batch, self._batch = self._batch, WriteBatch()
            series, self._series = self._series, {}
            self._points = 0
        # the id that lets the store recognise this batch if it is ever sent again
        batch.batch_id = new_batch_id()
        batch.metric_series.extend(
            MetricSeriesRow(run_id, key, cell, values, steps, timestamps)
            for (run_id, key, cell), (values, steps, timestamps) in series.items()
        )
        return batch

    def __len__(self) -> int:
        return len(self._batch) + self._points


class Spool:
    """Batches on disk waiting to be written, one JSON file each.

    A file is claimed by renaming it before replay, so two processes never replay the same
    batch; claims left by a process that died are taken over.
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self._counter = 0

    def put(self, batch: WriteBatch) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._counter += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._counter}.json"
        tmp = self.folder / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(batch.to_json(), fh)  # NaN and ±inf survive Python's json round trip
            fh.flush()
            os.fsync(fh.fileno())
        final = self.folder / name
        os.replace(tmp, final)
        return final

    def pending(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.json")) + [
            p for p in sorted(self.folder.glob("*.claimed-*")) if not _pid_alive(p)
        ]

    def replay(self, store: AbstractStore) -> int:
        """Write every pending batch to ``store``; return how many were written."""
        done = 0
        for path in self.pending():
            claimed = path.with_name(f"{path.name.split('.json')[0]}.json.claimed-{os.getpid()}")
            try:
                os.replace(path, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            try:
                batch = WriteBatch.from_json(json.loads(claimed.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                # A file that cannot be read as a batch (cut short, edited, from a foreign
                # version) must not stop the replay of every file after it.
                self._quarantine(claimed, f"unreadable: {exc}")
                continue
            try:
                for warning in store.write_batch(batch, skip_invalid=True):
                    log.warning("jupyter-mltrack spool replay: %s", warning)
            except MltrackError as exc:
                if exc.code == ErrorCode.STORE_UNAVAILABLE:
                    os.replace(claimed, claimed.with_name(claimed.name.split(".claimed-")[0]))
                    raise
                # A batch the store refuses for good must not block every later flush: keep
                # it aside, whole, for a person to look at.
                self._quarantine(claimed, f"refused: {exc}")
                continue
            except BaseException:
                os.replace(claimed, claimed.with_name(claimed.name.split(".claimed-")[0]))
                raise
            claimed.unlink()
            done += 1
        return done

    def _quarantine(self, claimed: Path, why: str) -> None:
        """Move a claimed spool file to ``spool/failed/``, whole, for a person to look at."""
        failed = self.folder / "failed"
        failed.mkdir(exist_ok=True)
        os.replace(claimed, failed / claimed.name.split(".claimed-")[0])
        log.error("jupyter-mltrack: spooled batch %s (%s); kept in %s", claimed.name, why, failed)


def _pid_alive(path: Path) -> bool:
    try:
        pid = int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Flusher:
    """A daemon thread that moves the buffer to the store.

    Parameters
    ----------
    store, buffer, spool:
        Where batches go, where they come from, where they wait when the store cannot take them.
    interval:
        Seconds between timed flushes (``MLTRACK_FLUSH_INTERVAL``).
    """

    def __init__(
        self, store: AbstractStore, buffer: LogBuffer, spool: Spool, interval: float
    ) -> None:
        self.store = store
        self.buffer = buffer
        self.spool = spool
        self.interval = interval
        self._wake = threading.Event()
        buffer.wake = self._wake
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.last_error: Exception | None = None
        # What the store refused since someone last looked: raised to the caller at its next
        # logging call or flush (the background thread has no caller to raise to).
        self.refusals: list[str] = []
        self._refusals_lock = threading.Lock()

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="mltrack-flusher", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stopped:
            if self._wake.wait(self.interval) and not self._stopped:
                # Woken early (a run ended, the buffer grew large): wait a moment more so that
                # what comes next joins this flush. A sweep of short runs then makes one flush
                # per few hundred runs instead of one per run, and every flush's fixed cost
                # (statements, a commit, lookups that grow with the store) is paid less often.
                time.sleep(COALESCE_S)
            self._wake.clear()
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - the thread must survive to flush again
                log.warning("jupyter-mltrack background flush failed: %s", exc)

    def flush(self) -> None:
        """Write everything buffered (and anything spooled) to the store, or spool it.

        Returns once the data is durable: in the store, or in the spool when the store could
        not be reached (a warning says so).
        """
        with self._flush_lock:
            batch = self.buffer.drain()
            try:
                if self.spool.pending():
                    self.spool.replay(self.store)
                if len(batch):
                    warnings = self.store.write_batch(batch, skip_invalid=True)
                    for warning in warnings:
                        log.warning("jupyter-mltrack: %s", warning)
                    if warnings:
                        with self._refusals_lock:
                            self.refusals.extend(warnings)
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - whatever failed, the batch must survive
                self._spool(batch, exc)

    def _spool(self, batch: WriteBatch, exc: Exception) -> None:
        self.last_error = exc
        if len(batch):
            path = self.spool.put(batch)
            log.warning(
                "jupyter-mltrack: store unavailable (%s); %d rows spooled to %s and will be "
                "written by the next flush",
                exc,
                len(batch),
                path,
            )

    def take_refusals(self) -> list[str]:
        """The refusals so far, forgotten once taken."""
        with self._refusals_lock:
            taken, self.refusals = self.refusals, []
        return taken

    def wake(self) -> None:
        """Flush soon, in the background, without waiting for it."""
        if not self._wake.is_set():  # setting an Event takes its lock; testing it does not
            self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
