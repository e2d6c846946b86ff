"""Metric histories (whole, or downsampled for charts) and the change feed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tornado import web

from ..entities import MetricHistory
from ..errors import MltrackError
from ..store.duckdb import ui_queries
from ..validation import check_key
from . import parsing
from .handlers import NativeHandler
from .owned_store import ChangeLog, Changes

# How often a waiting change-feed request looks for news.
_POLL_S = 0.2
#: the most points (series times points per series) one metric-histories answer may hold
MAX_HISTORY_POINTS = 1_000_000


class RunMetricHistoryHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """Every point of one metric of a run, as columns (JSON, or Arrow with format=arrow)."""
        key = check_key(self.required("key"), "metric key")
        fmt = parsing.choice(self.query("format"), "format", ("json", "arrow"), "json")
        history: MetricHistory = await self.call(self.store.get_metric_history, run_id, key)
        if fmt == "arrow":
            import pyarrow as pa

            self.send_arrow(
                pa.table(
                    {
                        "step": pa.array(history.steps, pa.int64()),
                        "value": pa.array(history.values, pa.float64()),
                        "timestamp": pa.array(history.timestamps, pa.int64()),
                    }
                )
            )
            return
        self.send_json(
            {
                "run_id": run_id,
                "key": key,
                "step": history.steps.tolist(),
                "value": history.values.tolist(),
                "timestamp": history.timestamps.tolist(),
            }
        )


class MetricHistoriesHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """Histories of several runs and keys, each downsampled to at most ``points`` points."""
        config = self.mltrack_config
        run_ids = self.query_list("run_id")
        keys = self.query_list("key")
        points = self.integer("points", config.default_points, 4, config.max_points)
        x_axis = parsing.choice(self.query("x"), "x", tuple(ui_queries.X_AXES), "step")
        total = len(run_ids) * len(keys) * points
        if total > MAX_HISTORY_POINTS:
            raise MltrackError(
                f"{len(run_ids) * len(keys)} series of up to {points} points is more than the "
                f"{MAX_HISTORY_POINTS} points one request may ask for; ask for fewer points, "
                "runs or keys"
            )
        series = await self.call(
            ui_queries.metric_histories, self.owned_store, run_ids, keys, points, x_axis
        )
        self.send_json({"x": x_axis, "points": points, "series": series})


class ChangesHandler(NativeHandler):
    """The change feed: what was written since a cursor.

    ``GET changes`` (no cursor) answers ``reset: true`` with the current cursor: load
    everything, then ask again with ``since=<cursor>``. With ``wait=<seconds>`` the request is
    held until something changes or the time is up (a long poll), so a view stays live with one
    open request.
    """

    @property
    def change_log(self) -> ChangeLog:
        changes: ChangeLog = self.store.changes  # type: ignore[attr-defined]
        return changes

    @web.authenticated
    async def get(self) -> None:
        log = self.change_log
        since = self.query("since")
        wait = parsing.number(
            self.query("wait"), "wait", 0.0, 0.0, float(self.mltrack_config.changes_max_wait)
        )
        changes = log.since(since)  # checks the cursor before any waiting
        seq = log.seq_of(since)
        if not changes.reset and seq == log.seq and wait > 0:
            deadline = time.monotonic() + wait
            while log.seq == seq and time.monotonic() < deadline:
                await asyncio.sleep(_POLL_S)
            changes = log.since(since)
        self.send_json(await self._describe(changes))

    async def _describe(self, changes: Changes) -> dict[str, Any]:
        out: dict[str, Any] = {"cursor": changes.cursor, "reset": changes.reset}
        state = await self.call(
            ui_queries.changed, self.owned_store, sorted(changes.runs), sorted(changes.metrics)
        )
        experiments = []
        for experiment_id in sorted(changes.experiments, key=int):
            try:
                experiments.append(await self.call(self.store.get_experiment, experiment_id))
            except MltrackError:
                continue  # an experiment cannot vanish today, but a feed must not fail on one
        out["experiments"] = [e.to_dict() for e in experiments]
        out.update(state)
        return out
