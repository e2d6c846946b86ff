"""MLflow 3's logged-model routes (``api/2.0/mlflow/logged-models…``) and run outputs.

``mlflow.<flavor>.log_model`` always goes through these: create the logged model, link it to the
run (``runs/outputs``), upload its files under the model's ``mlflow-artifacts:/`` URI, mark it
READY, and tag it with its registered versions. Handlers read MLflow's fields (and its
defaults); the rules (names, keys, statuses, page sizes) are the store's.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from ... import artifacts as artifact_files
from ...store.registry_rules import LOGGED_MODEL_STATUSES as STATUSES
from ...store.rules import generate_name
from ...validation import check_artifact_path
from . import messages, serialise
from .fields import Fields
from .handler import MlflowHandler

STATUS_NUMBERS = {1: STATUSES[0], 2: STATUSES[1], 3: STATUSES[2]}  # MLflow's enum numbers
DEFAULT_MAX_RESULTS = 100  # MLflow's default page size (the limit is the store's)


def params_of(f: Fields, name: str = "params") -> dict[str, str]:
    """A list of ``{key, value}`` params as a dict (the store checks keys and values)."""
    return {item.required_string("key"): item.string("value") or "" for item in f.objects(name)}


def order_by_clauses(f: Fields) -> list[str] | None:
    """MLflow's ``[{field_name, ascending}]`` as the store's ``"<field> ASC|DESC"`` clauses."""
    clauses = []
    for item in f.objects("order_by"):
        field_name = item.required_string("field_name")
        clauses.append(f"{field_name} {'ASC' if item.boolean('ascending', True) else 'DESC'}")
    return clauses or None


class LoggedModelHandler(MlflowHandler):
    def model_message(self, model: Any) -> dict[str, Any]:
        return {"model": serialise.logged_model(model, self.artifact_root)}


class CreateLoggedModel(LoggedModelHandler):
    @web.authenticated
    async def post(self) -> None:
        """Create a PENDING logged model in an experiment. MLflow 3.17 refuses a name with
        any of ``/ : . % " '`` (the store takes those: the native API and Python keep them);
        no name at all gets a generated one."""
        f = self.fields()
        experiment_id = f.required_string("experiment_id")
        name = f.string("name")
        name = messages.logged_model_name(name) if name else generate_name()
        model = await self.call(
            self.store.create_logged_model,
            experiment_id=experiment_id,
            name=name,
            source_run_id=f.string("source_run_id") or None,
            model_type=f.string("model_type") or None,
            params=params_of(f),
            tags=f.tags(),
        )
        self.ok(self.model_message(model))


class LoggedModel(LoggedModelHandler):
    @web.authenticated
    async def get(self, model_id: str) -> None:
        """One logged model."""
        self.ok(self.model_message(await self.call(self.store.get_logged_model, model_id)))

    @web.authenticated
    async def patch(self, model_id: str) -> None:
        """Finalize: set the status (READY once its files are uploaded)."""
        status = self.fields().choice("status", STATUSES, None, STATUS_NUMBERS)
        if status is None:
            raise messages.missing("status")
        model = await self.call(self.store.finalize_logged_model, model_id, status)
        self.ok(self.model_message(model))

    @web.authenticated
    async def delete(self, model_id: str) -> None:
        """Delete a logged model (its registered versions keep their copies of the source)."""
        await self.call(self.store.delete_logged_model, model_id)
        self.ok()


class LoggedModelTags(LoggedModelHandler):
    @web.authenticated
    async def patch(self, model_id: str) -> None:
        """Set tags of a logged model."""
        tags = self.fields().tags()
        await self.call(self.store.set_logged_model_tags, model_id, tags)
        self.ok(self.model_message(await self.call(self.store.get_logged_model, model_id)))


class LoggedModelTag(MlflowHandler):
    @web.authenticated
    async def delete(self, model_id: str, key: str) -> None:
        """Remove one tag of a logged model."""
        await self.call(self.store.delete_logged_model_tag, model_id, key)
        self.ok()


class LoggedModelParams(MlflowHandler):
    @web.authenticated
    async def post(self, model_id: str) -> None:
        """Add params to a logged model (values never change once set)."""
        await self.call(self.store.log_logged_model_params, model_id, params_of(self.fields()))
        self.ok()


class SearchLoggedModels(MlflowHandler):
    auth_actions = {"POST": "read"}  # a search, sent as POST

    @web.authenticated
    async def post(self) -> None:
        """Logged models of some experiments matching a filter; ``list_artifacts`` of a run
        calls this too, with ``name = '<first path segment>'``."""
        f = self.fields()
        for dataset in f.objects("datasets"):
            dataset.required_string("dataset_name")
        items, token = await self.search(
            self.store.search_logged_models,
            experiment_ids=f.strings("experiment_ids"),
            filter_string=f.string("filter") or None,
            max_results=f.integer("max_results", DEFAULT_MAX_RESULTS),
            order_by=order_by_clauses(f),
            page_token=f.string("page_token") or None,
        )
        answer: dict[str, Any] = {
            "models": [serialise.logged_model(m, self.artifact_root) for m in items]
        }
        if token:
            answer["next_page_token"] = token
        self.ok(answer)


class LoggedModelArtifactDirectories(MlflowHandler):
    @web.authenticated
    async def get(self, model_id: str) -> None:
        """One folder of a logged model's files."""
        path = check_artifact_path(self.fields().string("artifact_directory_path", ""))
        model = await self.call(self.store.get_logged_model, model_id)
        root_uri = serialise.proxy_uri(self.artifact_root, model.artifact_uri)
        base = self.artifact_root / root_uri.removeprefix(serialise.PROXY_SCHEME)
        files = []
        for entry in artifact_files.list_dir(base, path):
            item: dict[str, Any] = {"path": entry.path, "is_dir": entry.is_dir}
            if not entry.is_dir:
                item["file_size"] = entry.file_size
            files.append(item)
        self.ok({"root_uri": root_uri, "files": files})


class LogOutputs(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Record the logged models a run produced (and at which step)."""
        f = self.fields()
        run_id = f.required_string("run_id")
        if f.raw("models") is None:
            raise messages.missing("models")
        outputs = [
            (m.required_string("model_id"), m.integer("step", 0)) for m in f.objects("models")
        ]
        await self.call(self.store.log_outputs, run_id, outputs)
        self.ok()


ROUTES: list[tuple[str, type]] = [
    # search before the {model_id} routes, which would otherwise take "search" as an id
    (r"logged-models/search", SearchLoggedModels),
    (r"logged-models", CreateLoggedModel),
    (r"logged-models/([^/]+)", LoggedModel),
    (r"logged-models/([^/]+)/tags", LoggedModelTags),
    (r"logged-models/([^/]+)/tags/(.+)", LoggedModelTag),
    (r"logged-models/([^/]+)/params", LoggedModelParams),
    (r"logged-models/([^/]+)/artifacts/directories", LoggedModelArtifactDirectories),
    (r"runs/outputs", LogOutputs),
]
