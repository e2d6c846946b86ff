"""MLflow's experiment routes: ``api/2.0/mlflow/experiments/*``."""

from __future__ import annotations

from tornado import web

from ...entities import Experiment, ViewType
from ...store import rules
from . import messages, serialise
from .fields import Fields, tag_value
from .handler import MlflowHandler

#: proto enum numbers of ViewType, for clients that send numbers
VIEW_TYPE_NUMBERS = {1: ViewType.ACTIVE_ONLY, 2: ViewType.DELETED_ONLY, 3: ViewType.ALL}
#: MLflow's default page size for experiment search
DEFAULT_MAX_RESULTS = 1000


def page_size(f: Fields, default: int, limit: int) -> int:
    """``max_results`` of a tracking search, refused with the tracking store's texts."""
    max_results = f.integer("max_results", default)
    assert max_results is not None
    if max_results < 1:
        raise messages.not_positive(max_results)
    if max_results > limit:
        raise messages.too_many(max_results, limit)
    return max_results


async def active_experiment(handler: MlflowHandler, experiment_id: str) -> Experiment:
    """The experiment, refused as MLflow refuses a change to a deleted one."""
    exp = await handler.call(handler.store.get_experiment, experiment_id)
    if exp.lifecycle_stage != "active":
        raise messages.experiment_not_active(experiment_id, exp.lifecycle_stage)
    return exp


class CreateExperiment(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Create an experiment; answer its id."""
        f = self.fields()
        name = f.required_string("name")
        location = f.string("artifact_location") or None
        tags = f.tags()
        experiment_id = await self.call(self.store.create_experiment, name, location, tags)
        self.ok({"experiment_id": experiment_id})


class GetExperiment(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """One experiment by id."""
        experiment_id = self.fields().required_string("experiment_id")
        exp = await self.call(self.store.get_experiment, experiment_id)
        self.ok({"experiment": serialise.experiment(exp, self.artifact_root)})


class GetExperimentByName(MlflowHandler):
    @web.authenticated
    async def get(self) -> None:
        """One experiment by name; RESOURCE_DOES_NOT_EXIST (the client's None) when missing."""
        name = self.fields().required_string("experiment_name")
        exp = await self.call(self.store.get_experiment_by_name, name)
        if exp is None:
            raise messages.experiment_name_not_found(name)
        self.ok({"experiment": serialise.experiment(exp, self.artifact_root)})


class SearchExperiments(MlflowHandler):
    auth_actions = {"POST": "read"}  # a search, sent as POST too

    async def _search(self) -> None:
        f = self.fields()
        view_type = f.choice("view_type", ViewType.CHOICES, ViewType.ACTIVE_ONLY, VIEW_TYPE_NUMBERS)
        max_results = page_size(f, DEFAULT_MAX_RESULTS, rules.EXPERIMENTS_MAX_RESULTS)
        items, token = await self.search(
            self.store.search_experiments,
            view_type,
            f.string("filter") or None,
            max_results,
            f.strings("order_by") or None,
            f.string("page_token") or None,
        )
        answer: dict = {"experiments": [serialise.experiment(e, self.artifact_root) for e in items]}
        if token:
            answer["next_page_token"] = token
        self.ok(answer)

    @web.authenticated
    async def post(self) -> None:
        """Experiments matching a filter, one page."""
        await self._search()

    @web.authenticated
    async def get(self) -> None:
        """The same search, fields in the query string."""
        await self._search()


class UpdateExperiment(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Rename an experiment."""
        f = self.fields()
        experiment_id = f.required_string("experiment_id")
        new_name = f.required_string("new_name")
        await self.call(self.store.rename_experiment, experiment_id, new_name)
        self.ok()


class DeleteExperiment(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Mark an experiment (and its runs) deleted."""
        await self.call(
            self.store.delete_experiment, self.fields().required_string("experiment_id")
        )
        self.ok()


class RestoreExperiment(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Bring a deleted experiment (and its runs) back."""
        await self.call(
            self.store.restore_experiment, self.fields().required_string("experiment_id")
        )
        self.ok()


class SetExperimentTag(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Set one tag of an active experiment (MLflow refuses a deleted one; the store, which
        lets the lab tag any experiment, does not: this route reads the experiment first)."""
        f = self.fields()
        experiment_id = f.required_string("experiment_id")
        raw_key = f.required_string("key")
        value = f.string("value", "") or ""
        key = messages.key(raw_key, "key")
        value = tag_value(value, "value")
        await active_experiment(self, experiment_id)
        await self.call(self.store.set_experiment_tag, experiment_id, key, value)
        self.ok()


class DeleteExperimentTag(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Remove one tag of an active experiment.

        MLflow refuses a key the experiment does not have (RESOURCE_DOES_NOT_EXIST) and a
        deleted experiment; the store takes a missing key as a no-op, so this route reads the
        experiment first (a read, then the write, in two transactions).
        """
        f = self.fields()
        experiment_id = f.required_string("experiment_id")
        key = f.required_string("key")
        exp = await active_experiment(self, experiment_id)
        if key not in exp.tags:
            raise messages.no_experiment_tag(key, experiment_id)
        await self.call(self.store.delete_experiment_tag, experiment_id, key)
        self.ok()


ROUTES: list[tuple[str, type]] = [
    ("experiments/create", CreateExperiment),
    ("experiments/get", GetExperiment),
    ("experiments/get-by-name", GetExperimentByName),
    ("experiments/search", SearchExperiments),
    ("experiments/update", UpdateExperiment),
    ("experiments/delete", DeleteExperiment),
    ("experiments/restore", RestoreExperiment),
    ("experiments/set-experiment-tag", SetExperimentTag),
    ("experiments/delete-experiment-tag", DeleteExperimentTag),
]
