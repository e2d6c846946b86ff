"""Per-cell capture: every cell executed while a run is active is recorded as one of its cells.

IPython's ``pre_run_cell`` event marks the start: the cell's id goes into
:data:`jupyter_mltrack.tracking.context.current` so that everything logged while it runs carries
it. ``post_run_cell`` records the cell (id, execution count, source, start, duration, outcome)
for each run it belongs to, through the log buffer like any logged item, and takes the notebook
snapshot of each run that ended in it.

A cell belongs to a run when the run was active (on the fluent API's stack, or started by this
process and still RUNNING) when the cell started or finished, or was started while it ran
(``with mlt.start_run():`` in a loop, ``%%mltrack run``). Both hooks are a few microseconds when
no run is active; the store is read only when a run appears that this recorder has not seen.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..clock import now_ms
from ..entities import Cell, RunStatus
from ..store.batch import RunUpdateRow
from ..tracking import context, fluent, lineage
from ..tracking.session import TrackingSession
from .artifact_io import set_tags_any_state
from .order import NotebookPositions, OrderTracker
from .snapshot import write_snapshot

log = logging.getLogger("jupyter_mltrack")

OUT_OF_ORDER_TAG = "mltrack.cells.out_of_order"
OUT_OF_ORDER_REASON_TAG = "mltrack.cells.out_of_order_reason"


@dataclass
class _Pending:
    """What ``pre_run_cell`` noted about the cell now running."""

    cell_id: str
    front_id: str | None
    source: str
    execution_count: int | None
    start_ms: int
    t0: float
    stack: list[fluent.ActiveRun]
    session: TrackingSession | None
    session_runs: int


@dataclass
class RunTrack:
    """What the recorder keeps for one run it records cells for."""

    session: TrackingSession
    next_seq: int
    complete: bool  # every cell of the run is in ``cells`` (it started under this recorder)
    run_name: str | None = None
    cells: list[Cell] = field(default_factory=list)
    order: OrderTracker = field(default_factory=OrderTracker)


def _fluent_session() -> TrackingSession | None:
    """The fluent API's session, or None while nothing has used the fluent API (no store opened)."""
    client = fluent.existing_client()
    return client.session if client is not None else None


class CellRecorder:
    """Records executed cells for the active runs of one IPython shell.

    Parameters
    ----------
    shell:
        The InteractiveShell whose ``pre_run_cell``/``post_run_cell`` events to follow.
    """

    def __init__(self, shell: Any):
        self.shell = shell
        self.runs: dict[str, RunTrack] = {}
        self.current: _Pending | None = None
        self.positions = NotebookPositions()
        self._infos: list[Any] = []
        self._registered = False
        self._warned = False

    # registration ----------------------------------------------------------------------------
    def register(self) -> None:
        """Start following the shell's cells."""
        if not self._registered:
            self.shell.events.register("pre_run_cell", self.pre_run_cell)
            self.shell.events.register("post_run_cell", self.post_run_cell)
            self._registered = True

    def unregister(self) -> None:
        """Stop following the shell's cells."""
        if self._registered:
            self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
            self._registered = False
        context.current.cell_id = None

    # hooks ---------------------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        """IPython ``pre_run_cell``: note the cell and make it the current cell."""
        self._infos.append(info)
        if len(self._infos) > 1:
            return  # a cell run from inside a cell (%%capture, run_cell): part of the outer one
        stored = bool(getattr(info, "store_history", False))
        count = self.shell.execution_count - 1 if stored else None
        front_id = getattr(info, "cell_id", None) or None
        cell_id = front_id or (f"exec-{count}" if count is not None else f"exec-{time.time_ns()}")
        context.current.cell_id = cell_id
        session = _fluent_session()
        self.current = _Pending(
            cell_id=cell_id,
            front_id=front_id,
            source=getattr(info, "raw_cell", "") or "",
            execution_count=count,
            start_ms=now_ms(),
            t0=time.perf_counter(),
            stack=fluent.run_stack(),
            session=session,
            session_runs=session.known_run_count if session is not None else 0,
        )

    def post_run_cell(self, result: Any) -> None:
        """IPython ``post_run_cell``: record the finished cell for each of its runs."""
        if not self._infos:
            return
        info = getattr(result, "info", None) if result is not None else None
        if result is None:
            self._infos.pop()  # the cell's coroutine failed before it produced a result
        elif self._infos and info is self._infos[-1]:
            self._infos.pop()
        elif any(i is info for i in self._infos):
            del self._infos[next(k for k, i in enumerate(self._infos) if i is info) :]
        else:
            return  # an empty cell: IPython skips pre_run_cell for it
        if self._infos:
            return
        pending, self.current = self.current, None
        context.current.cell_id = None
        if pending is None:
            return
        try:
            self._record(pending, result)
        except Exception as exc:  # noqa: BLE001 - a hook that raises would break every cell
            if not self._warned:
                self._warned = True
                log.warning("jupyter-mltrack: could not record the cell: %s", exc)

    # recording -----------------------------------------------------------------------------
    def _record(self, pending: _Pending, result: Any) -> None:
        duration_ms = (time.perf_counter() - pending.t0) * 1000.0
        session = _fluent_session()
        if session is None and not self.runs:
            return  # no run was ever started here: nothing to record, no store to open
        stack_now = fluent.run_stack()
        runs = self._runs_of_cell(pending, session, stack_now)
        if not runs:
            return
        error = None
        if result is not None:
            error = result.error_before_exec or result.error_in_exec
        execution_count = pending.execution_count
        outcome = "ok" if error is None and result is not None else "error"
        error_type = type(error).__name__ if error is not None else None
        error_message = str(error)[:2000] if error is not None else None
        if result is None:
            error_type, error_message = "Cancelled", "the cell did not finish"
        position = self.positions.position(pending.front_id)
        by_session: dict[int, tuple[TrackingSession, list[Cell]]] = {}
        for run_id in runs:
            track = self.runs[run_id]
            cell = Cell(
                run_id,
                track.next_seq,
                pending.cell_id,
                execution_count,
                pending.source,
                pending.start_ms,
                duration_ms,
                outcome,
                error_type,
                error_message,
            )
            track.next_seq += 1
            track.cells.append(cell)
            by_session.setdefault(id(track.session), (track.session, []))[1].append(cell)
            reason = track.order.observe(
                pending.front_id, pending.source, execution_count, outcome == "ok", position
            )
            if reason:
                set_tags_any_state(
                    track.session,
                    run_id,
                    {OUT_OF_ORDER_TAG: "true", OUT_OF_ORDER_REASON_TAG: reason},
                    pending.cell_id,
                )
        for target, cells in by_session.values():
            target.buffer.add_cells(cells)
        for run_id in runs:
            if self._status(run_id) != RunStatus.RUNNING:
                self.finalize(run_id)

    def _runs_of_cell(
        self, pending: _Pending, session: TrackingSession | None, stack_now: list[fluent.ActiveRun]
    ) -> list[str]:
        """The runs this cell belongs to, each tracked (first sight reads the store once)."""
        active = {r.info.run_id: r for r in itertools.chain(pending.stack, stack_now)}
        ordered = list(dict.fromkeys([*active, *self.runs]))
        # runs the session learnt of while the cell ran: started (or first touched) by it
        learnt: list[str] = []
        if session is not None:
            if session is not pending.session:
                learnt = session.runs_learnt_since(0)
            elif session.known_run_count > pending.session_runs:
                learnt = session.runs_learnt_since(pending.session_runs)
        learnt = [k for k in learnt if k not in active and k not in self.runs]
        unseen_active = [
            run_id
            for run_id, run in active.items()
            if run_id not in self.runs and run.info.start_time < pending.start_ms
        ]
        for run_id, run in active.items():
            if run_id not in self.runs and run.info.start_time >= pending.start_ms:
                # started in this cell: its cells so far are exactly this one
                assert session is not None
                self.runs[run_id] = RunTrack(session, 0, True, run.info.run_name)
        if (learnt or unseen_active) and session is not None:
            facts = self._facts(session, learnt + unseen_active)
            for run_id in unseen_active:
                next_seq = facts.get(run_id, (0, 0))[1]
                self.runs[run_id] = RunTrack(session, next_seq, False, active[run_id].info.run_name)
            for run_id in learnt:
                if run_id in facts and facts[run_id][0] >= pending.start_ms:
                    self.runs[run_id] = RunTrack(session, facts[run_id][1], True)
                    ordered.append(run_id)
        return [run_id for run_id in ordered if run_id in self.runs]

    @staticmethod
    def _facts(session: TrackingSession, run_ids: list[str]) -> dict[str, tuple[int, int]]:
        from ..store.duckdb.lineage_queries import run_facts
        from ..store.duckdb.store import DuckDBStore

        session.flush()  # runs started in the cell may still be in the buffer
        if isinstance(session.store, DuckDBStore):
            return run_facts(session.store, run_ids)
        out = {}
        for run_id in run_ids:  # other stores: the public reads, one run at a time
            run = session.store.get_run(run_id)
            cells = session.store.get_cells(run_id)
            out[run_id] = (run.info.start_time, (cells[-1].seq + 1) if cells else 0)
        return out

    def _status(self, run_id: str) -> str:
        return self.runs[run_id].session.run_state(run_id).status  # read once, then cached

    # ending --------------------------------------------------------------------------------
    def finalize(self, run_id: str) -> list[str]:
        """A run ended: store its notebook snapshot and the libraries it ended with.

        Returns the snapshot's artifact paths. The run is no longer tracked afterwards.
        """
        track = self.runs.pop(run_id, None)
        if track is None:
            return []
        cells = track.cells
        if not track.complete:
            track.session.flush()
            cells = track.session.store.get_cells(run_id)
        libraries = json.dumps(lineage.imported_library_versions(), sort_keys=True)
        set_tags_any_state(track.session, run_id, {"mltrack.libraries": libraries}, None)
        return write_snapshot(track.session, run_id, cells, track.run_name, lineage.notebook_path())

    def end_all(self, status: str, reason: str) -> list[str]:
        """End every run still active here (the kernel is going away); return their ids.

        Each run gets ``mltrack.end_reason``, its snapshot, and ``status``; what was buffered is
        flushed before this returns.
        """
        ended = fluent.end_all_runs(status, reason)
        for run_id in list(self.runs):
            track = self.runs[run_id]
            if self._status(run_id) == RunStatus.RUNNING:
                set_tags_any_state(track.session, run_id, {fluent.END_REASON_TAG: reason}, None)
                track.session.buffer.add_run_updates([RunUpdateRow(run_id, status, now_ms())])
                track.session.run_state(run_id).status = status
                ended.append(run_id)
            self.finalize(run_id)
            track.session.flush()
        session = _fluent_session()
        if session is not None:
            session.flush()
        return ended

    # reads ---------------------------------------------------------------------------------
    def out_of_order(self, run_id: str) -> str | None:
        """Why the run's cells are out of order, or None."""
        track = self.runs.get(run_id)
        return track.order.reason if track is not None else None
