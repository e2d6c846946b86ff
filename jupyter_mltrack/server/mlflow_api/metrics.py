"""MLflow's metric history route, paged (the client asks for 25,000 points a page)."""

from __future__ import annotations

from typing import Any

from tornado import web

from ...errors import MltrackError
from ...store import paging
from ...validation import check_key
from . import serialise
from .handler import MlflowHandler

#: the most points one page may hold, whatever the client asks for
MAX_PAGE = 100_000


class GetMetricHistory(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """Every point of one metric of one run, ordered by step then timestamp."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        key = check_key(f.required_string("metric_key"), "metric key")
        max_results = f.integer("max_results")
        if max_results is not None and not 1 <= max_results <= MAX_PAGE:
            raise MltrackError(f"max_results must be between 1 and {MAX_PAGE}, got {max_results}")
        offset = paging.decode(f.string("page_token") or None)
        history = await self.call(self.store.get_metric_history, run_id, key)
        end = len(history) if max_results is None else min(len(history), offset + max_results)
        # tolist() turns the numpy columns into Python numbers in one pass per column
        steps = history.steps[offset:end].tolist()
        values = history.values[offset:end].tolist()
        stamps = history.timestamps[offset:end].tolist()
        answer: dict[str, Any] = {
            "metrics": [serialise.metric(key, v, ts, s) for s, v, ts in zip(steps, values, stamps)]
        }
        if end < len(history):
            answer["next_page_token"] = paging.encode(end)
        self.ok(answer)


ROUTES: list[tuple[str, type]] = [("metrics/get-history", GetMetricHistory)]
