"""MLflow's metric history route, paged (the client asks for 25,000 points a page).

Each page is read with LIMIT/OFFSET, never the whole history: a client paging through a
million points reads each point once, not once per page.
"""

from __future__ import annotations

from typing import Any, cast

from tornado import web

from ...errors import ErrorCode, MltrackError
from ...store import paging
from ...store.duckdb import ui_queries
from ...store.duckdb.store import DuckDBStore
from . import messages, serialise
from .handler import MlflowHandler

#: the most points one page may hold, whatever the client asks for
MAX_PAGE = 100_000


class GetMetricHistory(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """One page of the points of a metric of a run, ordered by step then timestamp
        (``max_results`` absent: pages of :data:`MAX_PAGE` points). A run or key this store
        does not have has no points: ``{}``, as MLflow answers."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        key = f.required_string("metric_key")
        page_token = f.string("page_token")
        max_results = f.integer("max_results")
        if max_results is not None and max_results < 1:
            raise messages.not_positive(max_results, period=True)
        if max_results is not None and max_results > MAX_PAGE:
            raise f.invalid("max_results")
        offset = paging.decode(page_token or None)
        limit = MAX_PAGE if max_results is None else max_results
        try:
            steps, values, stamps, more = await self.call(
                ui_queries.metric_history_page,
                cast(DuckDBStore, self.store),
                run_id,
                key,
                offset,
                limit,
            )
        except MltrackError as exc:
            if exc.code != ErrorCode.RESOURCE_DOES_NOT_EXIST:
                raise
            self.ok()
            return
        answer: dict[str, Any] = {
            "metrics": [serialise.metric(key, v, ts, s) for s, v, ts in zip(steps, values, stamps)]
        }
        if more:
            answer["next_page_token"] = paging.encode(offset + len(steps))
        self.ok(answer)


ROUTES: list[tuple[str, type]] = [("metrics/get-history", GetMetricHistory)]
