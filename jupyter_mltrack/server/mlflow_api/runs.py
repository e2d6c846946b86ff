"""MLflow's run routes: create, get, update, delete, restore, search."""

from __future__ import annotations

from typing import Any

from tornado import web

from ...clock import now_ms
from ...entities import Run, RunStatus, ViewType
from ...errors import MltrackError
from ...store import rules
from . import messages, serialise
from .experiments import VIEW_TYPE_NUMBERS
from .fields import Fields
from .handler import MlflowHandler

#: proto enum numbers of RunStatus, for clients that send numbers
STATUS_NUMBERS = {
    1: RunStatus.RUNNING,
    2: RunStatus.SCHEDULED,
    3: RunStatus.FINISHED,
    4: RunStatus.FAILED,
    5: RunStatus.KILLED,
}
#: MLflow's default page size for run search
DEFAULT_MAX_RESULTS = 1000


class MlflowRunHandler(MlflowHandler):
    """Base of the MLflow routes that answer with whole runs (their MLflow JSON message)."""

    def run_message(self, run: Run) -> dict[str, Any]:
        return serialise.run(run, self.artifact_root)


class CreateRun(MlflowRunHandler):
    @web.authenticated
    async def post(self) -> None:
        """Create a RUNNING run; the client sends its own system tags (user, source, parent).

        The name (``run_name``, else the ``mlflow.runName`` tag, else a generated one) is the
        store's rule, the same for every face: the route passes both through as sent. The
        ``mlflow.parentRunId`` tag is stored verbatim and becomes the run's parent even when it
        names a run this store does not have (yet): MLflow never checks it, and runs copied
        children-first or imported in part carry such parents.
        """
        f = self.fields()
        experiment_id = f.string("experiment_id") or "0"
        start_time = f.integer("start_time")
        run_name = f.string("run_name") or None
        tags = f.tags()
        try:
            run = await self.call(
                self.store.create_run,
                experiment_id,
                run_name,
                f.string("user_id") or tags.get("mlflow.user"),
                now_ms() if start_time is None else start_time,
                tags,
                tags.get("mlflow.parentRunId") or None,
            )
        except MltrackError as exc:
            if messages.is_deleted_experiment(exc):
                raise messages.experiment_not_active(experiment_id) from None
            raise
        self.ok({"run": self.run_message(run)})


class GetRun(MlflowRunHandler):
    @web.authenticated
    async def get(self) -> None:
        """One run with its latest metrics, params, tags, inputs and outputs."""
        run_id = self.fields().required_string("run_id", "run_uuid")
        run = await self.call(self.store.get_run, run_id)
        self.ok({"run": self.run_message(run)})


class UpdateRun(MlflowRunHandler):
    @web.authenticated
    async def post(self) -> None:
        """Set a run's status, end time or name; answer its info.

        MLflow refuses to update a deleted run; the store lets the lab end one, so this route
        reads the run first (a read, then the write, in two transactions).
        """
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        end_time = f.integer("end_time")
        status = f.choice("status", RunStatus.ALL, None, STATUS_NUMBERS)
        run_name = f.string("run_name") or None
        if end_time is not None and end_time < 0:
            raise f.invalid("end_time")
        current = await self.call(self.store.get_run, run_id)
        if current.info.lifecycle_stage != "active":
            raise messages.run_not_active(run_id, current.info.lifecycle_stage)
        run = await self.call(self.store.update_run, run_id, status, end_time, run_name)
        self.ok({"run_info": serialise.run_info(run.info, self.artifact_root)})


class DeleteRun(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Mark a run deleted."""
        await self.call(self.store.delete_run, self.fields().required_string("run_id"))
        self.ok()


class RestoreRun(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Bring a deleted run back."""
        await self.call(self.store.restore_run, self.fields().required_string("run_id"))
        self.ok()


class SearchRuns(MlflowRunHandler):
    auth_actions = {"POST": "read"}  # a search, sent as POST

    @staticmethod
    def page_size(f: Fields) -> int:
        """``max_results``: past the limit MLflow's request check refuses it (its generic
        text), below 1 its store does (with its own)."""
        max_results = f.integer("max_results", DEFAULT_MAX_RESULTS)
        assert max_results is not None
        if max_results > rules.RUNS_MAX_RESULTS:
            raise f.invalid("max_results")
        if max_results < 1:
            raise messages.not_positive(max_results)
        return max_results

    @web.authenticated
    async def post(self) -> None:
        """Runs matching a filter (the store parses the grammar), ordered, one page."""
        f = self.fields()
        view_type = f.choice(
            "run_view_type", ViewType.CHOICES, ViewType.ACTIVE_ONLY, VIEW_TYPE_NUMBERS
        )
        items, token = await self.search(
            self.store.search_runs,
            f.strings("experiment_ids"),
            f.string("filter") or None,
            view_type,
            self.page_size(f),
            f.strings("order_by") or None,
            f.string("page_token") or None,
        )
        answer: dict[str, Any] = {"runs": [self.run_message(r) for r in items]}
        if token:
            answer["next_page_token"] = token
        self.ok(answer)


ROUTES: list[tuple[str, type]] = [
    ("runs/create", CreateRun),
    ("runs/get", GetRun),
    ("runs/update", UpdateRun),
    ("runs/delete", DeleteRun),
    ("runs/restore", RestoreRun),
    ("runs/search", SearchRuns),
]
