"""Opening the DuckDB file: retry on another process's lock, migrate, close when idle.

DuckDB lets one process hold a database file at a time (read-only openers included), so an
embedded store must not keep the file open: it opens on demand, keeps the connection for a short
linger (so a burst of reads or flushes pays for one open), and closes it when idle so that other
processes logging to the same store get their turn. A server that owns the store sets the linger
to ``None`` and keeps the file open.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ...errors import ErrorCode, MltrackError
from .schema import MIGRATIONS, SCHEMA_VERSION

DEFAULT_LINGER_S = 0.1
#: How long an idle connection is kept when no other process waits for the file: longer than
#: the flush interval, so a process that logs steadily does not reopen the file each flush.
DEFAULT_HOLD_S = 3.0
#: A wait announced this recently still counts (a waiter retries every 0.1 s at most).
WAITING_FRESH_S = 1.0
DEFAULT_LOCK_TIMEOUT_S = 120.0
#: How long one server-side search may hold the store before it is interrupted (seconds).
DEFAULT_QUERY_DEADLINE_S = 30.0
QUERY_DEADLINE_ENV = "MLTRACK_QUERY_DEADLINE"


def _default_lock_timeout() -> float:
    """``MLTRACK_LOCK_TIMEOUT`` seconds, else two minutes."""
    try:
        seconds = float(os.environ.get("MLTRACK_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT_S))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT_S
    # nan compares false with everything, so a wait bounded by it would never end
    return seconds if math.isfinite(seconds) and seconds >= 0 else DEFAULT_LOCK_TIMEOUT_S


def default_query_deadline() -> float:
    """``MLTRACK_QUERY_DEADLINE`` seconds, else 30 (0 or less: no deadline)."""
    try:
        seconds = float(os.environ.get(QUERY_DEADLINE_ENV, DEFAULT_QUERY_DEADLINE_S))
    except ValueError:
        return DEFAULT_QUERY_DEADLINE_S
    # nan would never expire and inf never fire: both read as the default
    return seconds if math.isfinite(seconds) else DEFAULT_QUERY_DEADLINE_S


_deadlines = threading.local()


@contextlib.contextmanager
def query_deadline(seconds: float | None) -> Iterator[None]:
    """Interrupt the store queries this thread runs once ``seconds`` have passed.

    Every call of the server shares the store's one connection, so a query that plans or runs
    for minutes (a huge filter) would stall every kernel and view. Inside this block,
    :meth:`Connector.connect` arms a timer that interrupts the connection at the deadline; the
    interrupted call raises INVALID_PARAMETER_VALUE (a 400: retrying the same search cannot
    help, and MLflow's clients retry 5xx answers). ``None`` or a value <= 0: no deadline.
    """
    previous = getattr(_deadlines, "value", None)
    _deadlines.value = (
        None if seconds is None or seconds <= 0 else (time.monotonic() + seconds, seconds)
    )
    try:
        yield
    finally:
        _deadlines.value = previous


class _Interrupter:
    """Interrupts one connection from the deadline on, until disarmed.

    DuckDB forgets an interrupt that arrives between two queries (each query starts afresh),
    so past the deadline the connection is interrupted again every few milliseconds: whichever
    query the call runs next is stopped.
    """

    _REPEAT_S = 0.005

    def __init__(self, con: Any, delay: float) -> None:
        self._con = con
        self._guard = threading.Lock()
        self._disarmed = threading.Event()
        self.fired = False
        self._thread = threading.Thread(
            target=self._run, args=(max(delay, 0.0),), name="mltrack-query-deadline", daemon=True
        )
        self._thread.start()

    def _run(self, delay: float) -> None:
        if self._disarmed.wait(delay):
            return
        while True:
            with self._guard:
                if self._disarmed.is_set():
                    return
                self.fired = True
                self._con.interrupt()
            if self._disarmed.wait(self._REPEAT_S):
                return

    def disarm(self) -> None:
        # under the guard: once this returns, no interrupt can reach a later query
        with self._guard:
            self._disarmed.set()


def _is_interrupt(exc: BaseException) -> bool:
    import duckdb

    return isinstance(exc, duckdb.InterruptException)


def _is_invalidating(exc: BaseException) -> bool:
    """Whether DuckDB invalidated the database behind this error.

    A fatal error (``FatalException``: a checkpoint or WAL write that fails on a full disk, an
    fsync that fails) invalidates the database instance, and so does an internal error met
    while executing or committing (``InternalException``). From then on every statement, even
    ``ROLLBACK``, raises ``FatalException`` ("database has been invalidated because of a
    previous fatal error…") until every connection to the file is closed and it is reopened.
    """
    import duckdb

    if isinstance(exc, (duckdb.FatalException, duckdb.InternalException)):
        return True
    return isinstance(exc, duckdb.Error) and "database has been invalidated" in str(exc)


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set" in text)


_engine_loaded = False


def preload_engine() -> None:
    """Load DuckDB and its Arrow scan path now rather than at the first flush.

    Both load parts of themselves lazily and register exit hooks when they do; Python refuses
    new exit hooks during shutdown, so a process whose first flush happens at exit would fail to
    write (its data would only reach the spool). A tiny in-memory Arrow scan loads everything.
    """
    global _engine_loaded
    if _engine_loaded:
        return
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(":memory:")
    try:
        con.register("warmup", pa.table({"key": pa.array(["k"]), "value": pa.array([1.0])}))
        con.execute("SELECT key, value FROM warmup").fetchall()
    finally:
        con.close()
    _engine_loaded = True


def _live_server(db_path: Path) -> str | None:
    """The URL of a live tracking server that owns this store, if one does."""
    from ..discovery import read_server_file

    info = read_server_file(db_path.parent)
    return str(info.get("url")) if info else None


def migrate(con: Any) -> int:
    """Bring the schema up to date; return the version found before migrating.

    Refuses a store whose schema is newer than this package knows, rather than writing to it.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at BIGINT)"
    )
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    found = int(row[0]) if row and row[0] is not None else 0
    if found > SCHEMA_VERSION:
        raise MltrackError(
            f"this store has schema version {found}, but this jupyter-mltrack only knows up to "
            f"{SCHEMA_VERSION}; upgrade jupyter-mltrack to use it",
            ErrorCode.INVALID_STATE,
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in MIGRATIONS[version - 1]:
                con.execute(statement)
            con.execute(
                "INSERT INTO schema_version VALUES (?, CAST(epoch_ms(now()) AS BIGINT))", [version]
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return found


class Connector:
    """Hands out this process's one connection to a store's DuckDB file.

    Parameters
    ----------
    db_path:
        The DuckDB file.
    linger:
        Seconds an idle connection stays open when another process waits for the file;
        ``None`` keeps it open until :meth:`close`.
    hold:
        Seconds an idle connection stays open when no other process waits. A process that
        finds the file locked says so by touching ``<db>.waiting`` beside it; holders look at
        that file every ``linger`` seconds, so a waiter gets the file about as soon as before,
        while a process that logs alone keeps its connection from one flush to the next.
    lock_timeout:
        How long to keep retrying while another process holds the file (default:
        ``MLTRACK_LOCK_TIMEOUT`` or 120 s). Past it, callers get STORE_UNAVAILABLE and the
        flusher spools.
    """

    def __init__(
        self,
        db_path: Path,
        linger: float | None = DEFAULT_LINGER_S,
        lock_timeout: float | None = None,
        hold: float = DEFAULT_HOLD_S,
    ):
        self.db_path = db_path
        self.linger = linger
        self.hold = max(hold, linger or 0.0)
        self._waiting = db_path.with_name(db_path.name + ".waiting")
        self.lock_timeout = _default_lock_timeout() if lock_timeout is None else lock_timeout
        self._lock = threading.RLock()
        self._con: Any = None
        self._last_used = 0.0
        self._closer: threading.Thread | None = None
        self._depth = 0  # nesting of connect() in the thread that holds the lock
        self._unusable = False  # the connection is closed when the outermost connect() ends
        self.schema_version_found: int | None = None

    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """Yield the open connection, held exclusively by the calling thread.

        Inside :func:`query_deadline`, the outermost ``connect`` of the thread is interrupted
        at the deadline and raises INVALID_PARAMETER_VALUE.

        When DuckDB invalidates the database (a fatal error such as a checkpoint failing on a
        full disk), the call raises STORE_UNAVAILABLE and the connection is closed: the next
        call reopens the file, so one such event does not stop a long-lived owner (the
        tracking server) until it restarts. DuckDB keeps a transaction whole or not at all, so
        the failed call left nothing half-written; it may be retried (a write batch sent again
        with its id is applied once).
        """
        with self._lock:
            if self._con is None:
                self._con = self._open_with_retry()
                self._start_closer()
            deadline: tuple[float, float] | None = getattr(_deadlines, "value", None)
            interrupter = None
            limit = 0.0
            if deadline is not None and self._depth == 0:
                limit = deadline[1]
                interrupter = _Interrupter(self._con, deadline[0] - time.monotonic())
            self._depth += 1
            try:
                yield self._con
            except Exception as exc:
                if interrupter is not None and interrupter.fired and _is_interrupt(exc):
                    raise MltrackError(
                        f"the query took longer than the server's limit of {limit:g} s "
                        "and was stopped; narrow the filter or ask for fewer results",
                        ErrorCode.INVALID_PARAMETER_VALUE,
                    ) from None
                if _is_invalidating(exc):
                    self._unusable = True
                    if self._depth == 1:
                        raise MltrackError(
                            f"the store database {self.db_path} failed and was closed; it "
                            "reopens on the next call. This call may not have been saved: "
                            f"retry it (if the disk is full, free space first). DuckDB: {exc}",
                            ErrorCode.STORE_UNAVAILABLE,
                        ) from exc
                raise
            finally:
                self._depth -= 1
                if interrupter is not None:
                    interrupter.disarm()
                self._last_used = time.monotonic()
                if self._depth == 0 and self._unusable:
                    self._discard()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """Yield the connection inside a transaction that commits, or rolls back on error."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - the error that failed the call is reported
                    # An invalidated database refuses even ROLLBACK. A connection that may
                    # still hold an open transaction is not used again (closing it rolls the
                    # transaction back).
                    self._unusable = True
                raise
            con.execute("COMMIT")

    def close(self) -> None:
        """Close the connection now (it reopens on the next use)."""
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _discard(self) -> None:
        """Drop a connection that must not be used again (the next call opens a new one)."""
        con, self._con = self._con, None
        self._unusable = False
        if con is not None:
            with contextlib.suppress(Exception):  # an invalidated database may refuse to close
                con.close()

    def _open_with_retry(self) -> Any:
        import duckdb

        deadline = time.monotonic() + self.lock_timeout
        delay = 0.002
        while True:
            try:
                con = duckdb.connect(str(self.db_path))
            except duckdb.Error as exc:
                # not only IOException: replaying the WAL of a database that failed can raise
                # a fatal or internal error, which is the store being unavailable too
                if not isinstance(exc, duckdb.IOException) or not _is_lock_conflict(exc):
                    raise MltrackError(
                        f"cannot open the store database {self.db_path}: {exc}",
                        ErrorCode.STORE_UNAVAILABLE,
                    ) from exc
                owner = _live_server(self.db_path)
                if owner is not None:
                    # A tracking server owns this store and keeps it open: waiting is pointless.
                    # The caller's batch goes to the spool, which that server replays.
                    raise MltrackError(
                        f"the store {self.db_path.parent} is owned by the tracking server at "
                        f"{owner}; log through it (new processes find it automatically)",
                        ErrorCode.STORE_UNAVAILABLE,
                    ) from exc
                if time.monotonic() >= deadline:
                    raise MltrackError(
                        f"the store {self.db_path} stayed locked by another process for "
                        f"{self.lock_timeout:.0f} s: {exc}",
                        ErrorCode.STORE_UNAVAILABLE,
                    ) from exc
                self._announce_waiting()
                # jitter keeps several waiting processes from retrying in lockstep
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)
                continue
            try:
                found = migrate(con)
            except BaseException as exc:
                con.close()
                if _is_invalidating(exc):
                    # another connection of this process still holds the invalidated database
                    # (DuckDB shares one instance per file within a process)
                    raise MltrackError(
                        f"cannot open the store database {self.db_path}: {exc}",
                        ErrorCode.STORE_UNAVAILABLE,
                    ) from exc
                raise
            if self.schema_version_found is None:
                self.schema_version_found = found
            return con

    def _announce_waiting(self) -> None:
        """Tell the process holding the file that this one waits (see ``hold``)."""
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self._waiting, flags, 0o600)
        except OSError:
            return  # a read-only folder, a symlink planted there: waiting still works, slower
        try:
            os.utime(fd) if os.utime in os.supports_fd else os.utime(self._waiting)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _someone_waits(self) -> bool:
        try:
            touched = os.stat(self._waiting).st_mtime
        except OSError:
            return False
        return time.time() - touched < WAITING_FRESH_S

    def _start_closer(self) -> None:
        if self.linger is None or (self._closer is not None and self._closer.is_alive()):
            return
        self._closer = threading.Thread(
            target=self._close_when_idle, name="mltrack-store-closer", daemon=True
        )
        self._closer.start()

    def _close_when_idle(self) -> None:
        assert self.linger is not None
        while True:
            time.sleep(self.linger)
            # A thread in connect() holds the lock; acquire without blocking so that a long read
            # does not pin this thread, and try again after the next linger.
            if not self._lock.acquire(blocking=False):
                continue
            try:
                if self._con is None:
                    return
                idle = time.monotonic() - self._last_used
                if idle >= self.hold or (idle >= self.linger and self._someone_waits()):
                    self._con.close()
                    self._con = None
                    return
            finally:
                self._lock.release()
