"""The native registry API: logged models, registered models, versions, aliases, stages, history.

Every :class:`~jupyter_mltrack.store.registry_contract.AbstractRegistryStore` method has a route
here, which is what :class:`~jupyter_mltrack.store.rest.registry_methods.RestRegistryMixin`
calls, so ``mlt.log_model`` and the registry work the same in a kernel that logs through the
server.
Handlers parse (JSON shapes and types), call the store on a worker thread and serialise the
entities as plain JSON objects (their dataclass fields); the rules (names, versions, stages,
aliases, page sizes) are the store's: :class:`AbstractRegistryStore` applies them for every face.

Model names may hold almost any printable character, ``/`` included: clients percent-encode
each path segment (``a%2Fb``) and tornado decodes the path arguments before they reach a verb.

Who acted (recorded in the registry's history) is decided by :func:`recorded_user`: always the
authenticated identity, with a different name the client declares (``?user=``) added as
``"<identity> (on behalf of <name>)"``, never in its place.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from tornado import web

from ..errors import MltrackError
from ..validation import check_name
from . import parsing
from .handlers import NativeHandler


def _string_map(value: Any, what: str) -> dict[str, str]:
    """A ``{key: "value"}`` object (params of a logged model); the store checks the keys."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MltrackError(f"{what} must be an object of key: value, got {value!r}")
    for key, text in value.items():
        if not isinstance(text, str):
            raise MltrackError(f"{what} {key!r} value must be a string, got {text!r}")
    return value


def _outputs(value: Any) -> list[tuple[str, int]]:
    """``[{"model_id": ..., "step": ...}]`` as the store's ``[(model id, step)]``."""
    if not isinstance(value, list):
        raise MltrackError("outputs must be a list of {model_id, step} objects")
    out = []
    for i, item in enumerate(value):
        where = f"outputs[{i}]"
        if not isinstance(item, dict):
            raise MltrackError(f"{where} must be an object with model_id and step")
        parsing.known_fields(item, ("model_id", "step"), where)
        model_id = item.get("model_id")
        if not isinstance(model_id, str) or not model_id:
            raise MltrackError(f"{where} model_id must be a non-empty string, got {model_id!r}")
        step = item.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, int):
            raise MltrackError(f"{where} step must be an integer, got {step!r}")
        out.append((model_id, step))
    return out


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise MltrackError(f"{name} must be true or false, got {value!r}")
    return value


class NativeRegistryHandler(NativeHandler):
    """Base of the registry routes: the entity envelopes and who acts."""

    def description(self, body: dict[str, Any]) -> str | None:
        return parsing.optional_str(body, "description")

    def send_entity(self, key: str, entity: Any, status: int = 200) -> None:
        self.send_json({key: asdict(entity)}, status=status)

    def send_page(self, key: str, items: list[Any], token: str | None) -> None:
        self.send_json({key: [asdict(i) for i in items], "next_page_token": token})


# logged models -------------------------------------------------------------------------------


class LoggedModelsHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        """Logged models of some experiments matching a filter, one page."""
        found, token = await self.call(
            self.store.search_logged_models,
            self.experiment_ids(),
            self.query("filter"),
            parsing.integer(self.query("max_results"), "max_results", 100),
            self.get_query_arguments("order_by") or None,
            self.query("page_token"),
        )
        self.send_page("logged_models", found, token)

    @web.authenticated
    async def post(self) -> None:
        """Create a logged model (PENDING until its files are written and it is finalized)."""
        body = self.json_body()
        parsing.known_fields(
            body, ("experiment_id", "name", "source_run_id", "model_type", "params", "tags")
        )
        model = await self.call(
            self.store.create_logged_model,
            parsing.experiment_id(body.get("experiment_id", "0")),
            body.get("name"),
            source_run_id=parsing.optional_str(body, "source_run_id"),
            model_type=parsing.optional_str(body, "model_type"),
            params=_string_map(body.get("params"), "param"),
            tags=parsing.tag_map(body.get("tags")),
        )
        self.send_entity("logged_model", model, status=201)


class LoggedModelHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, model_id: str) -> None:
        """One logged model."""
        self.send_entity("logged_model", await self.call(self.store.get_logged_model, model_id))

    @web.authenticated
    async def patch(self, model_id: str) -> None:
        """Set a logged model's status (finalize it) and set or delete (null) its tags."""
        body = self.json_body()
        parsing.known_fields(body, ("status", "tags"))
        status = parsing.optional_str(body, "status")
        tags = parsing.tag_map(body.get("tags"), allow_delete=True)
        if status is not None:
            # first: the store checks the status, so a bad one changes nothing
            await self.call(self.store.finalize_logged_model, model_id, status)
        kept = {k: v for k, v in tags.items() if v is not None}
        if kept:
            await self.call(self.store.set_logged_model_tags, model_id, kept)
        for key in (k for k, v in tags.items() if v is None):
            await self.call(self.store.delete_logged_model_tag, model_id, key)
        self.send_entity("logged_model", await self.call(self.store.get_logged_model, model_id))

    @web.authenticated
    async def delete(self, model_id: str) -> None:
        """Delete a logged model's record (its files stay where they are)."""
        await self.call(self.store.delete_logged_model, model_id)
        self.send_json({})


class LoggedModelParamsHandler(NativeRegistryHandler):
    @web.authenticated
    async def post(self, model_id: str) -> None:
        """Log params of a logged model; a param, once logged, cannot change."""
        body = self.json_body()
        parsing.known_fields(body, ("params",))
        params = _string_map(body.get("params"), "param")
        await self.call(self.store.log_logged_model_params, model_id, params)
        self.send_entity("logged_model", await self.call(self.store.get_logged_model, model_id))


class RunOutputsHandler(NativeRegistryHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        """Record logged models a run produced (at a step)."""
        body = self.json_body()
        parsing.known_fields(body, ("outputs",))
        await self.call(self.store.log_outputs, run_id, _outputs(body.get("outputs")))
        self.send_json({"run": (await self.call(self.store.get_run, run_id)).to_dict()})


# registered models ---------------------------------------------------------------------------


class RegisteredModelsHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        """Registered models matching a filter, one page."""
        found, token = await self.call(
            self.store.search_registered_models,
            self.query("filter"),
            parsing.integer(self.query("max_results"), "max_results", 100),
            self.get_query_arguments("order_by") or None,
            self.query("page_token"),
        )
        self.send_page("registered_models", found, token)

    @web.authenticated
    async def post(self) -> None:
        """Create a registered model (RESOURCE_ALREADY_EXISTS if the name is taken)."""
        body = self.json_body()
        parsing.known_fields(body, ("name", "tags", "description"))
        model = await self.call(
            self.store.create_registered_model,
            body.get("name"),
            tags=parsing.tag_map(body.get("tags")),
            description=self.description(body),
            user=self.acting_user(),
        )
        self.send_entity("registered_model", model, status=201)


class RegisteredModelHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        """A registered model with its aliases and latest version per stage."""
        model = await self.call(self.store.get_registered_model, name)
        self.send_entity("registered_model", model)

    @web.authenticated
    async def patch(self, name: str) -> None:
        """Set the description, set or delete (null) tags, then rename (``new_name``)."""
        body = self.json_body()
        parsing.known_fields(body, ("new_name", "description", "tags"))
        tags = parsing.tag_map(body.get("tags"), allow_delete=True)
        new_name = body.get("new_name")
        if new_name is not None:
            # the store's rule, applied before the description and tags change: a bad new name
            # must leave the model as it was
            check_name(new_name, "registered model name")
        user = self.acting_user()
        if "description" in body:
            await self.call(
                self.store.update_registered_model, name, self.description(body), user=user
            )
        for key, value in tags.items():
            if value is None:
                await self.call(self.store.delete_registered_model_tag, name, key, user=user)
            else:
                await self.call(self.store.set_registered_model_tag, name, key, value, user=user)
        if new_name is not None:
            await self.call(self.store.rename_registered_model, name, new_name, user=user)
            name = new_name
        model = await self.call(self.store.get_registered_model, name)
        self.send_entity("registered_model", model)

    @web.authenticated
    async def delete(self, name: str) -> None:
        """Delete a registered model with its versions and aliases."""
        await self.call(self.store.delete_registered_model, name, user=self.acting_user())
        self.send_json({})


class RegistryHistoryHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        """Every recorded change of a model (or of one ``version``), oldest first."""
        events = await self.call(
            self.store.get_registry_history,
            name,
            self.query("version"),
            self.query_list("kind") or None,
        )
        self.send_json({"events": [asdict(e) for e in events]})


# versions ------------------------------------------------------------------------------------


class ModelVersionsHandler(NativeRegistryHandler):
    @web.authenticated
    async def post(self, name: str) -> None:
        """Create the next version of a registered model."""
        body = self.json_body()
        parsing.known_fields(
            body, ("source", "run_id", "tags", "run_link", "description", "model_id")
        )
        version = await self.call(
            self.store.create_model_version,
            name,
            body.get("source"),
            run_id=parsing.optional_str(body, "run_id"),
            tags=parsing.tag_map(body.get("tags")),
            run_link=parsing.optional_str(body, "run_link"),
            description=self.description(body),
            model_id=parsing.optional_str(body, "model_id"),
            user=self.acting_user(),
        )
        self.send_entity("model_version", version, status=201)


class LatestVersionsHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, name: str) -> None:
        """The latest version in each stage (or in the ``stage`` arguments only)."""
        found = await self.call(
            self.store.get_latest_versions, name, self.query_list("stage") or None
        )
        self.send_json({"model_versions": [asdict(v) for v in found]})


class ModelVersionSearchHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        """Versions of any registered model matching a filter, one page."""
        found, token = await self.call(
            self.store.search_model_versions,
            self.query("filter"),
            parsing.integer(self.query("max_results"), "max_results", 10_000),
            self.get_query_arguments("order_by") or None,
            self.query("page_token"),
        )
        self.send_page("model_versions", found, token)


class ModelVersionHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        """One model version."""
        found = await self.call(self.store.get_model_version, name, version)
        self.send_entity("model_version", found)

    @web.authenticated
    async def patch(self, name: str, version: str) -> None:
        """Set a version's description and set or delete (null) its tags."""
        body = self.json_body()
        parsing.known_fields(body, ("description", "tags"))
        tags = parsing.tag_map(body.get("tags"), allow_delete=True)
        user = self.acting_user()
        if "description" in body:
            await self.call(
                self.store.update_model_version, name, version, self.description(body), user=user
            )
        for key, value in tags.items():
            if value is None:
                await self.call(self.store.delete_model_version_tag, name, version, key, user=user)
            else:
                await self.call(
                    self.store.set_model_version_tag, name, version, key, value, user=user
                )
        found = await self.call(self.store.get_model_version, name, version)
        self.send_entity("model_version", found)

    @web.authenticated
    async def delete(self, name: str, version: str) -> None:
        """Delete one version (aliases pointing at it go with it)."""
        await self.call(self.store.delete_model_version, name, version, user=self.acting_user())
        self.send_json({})


class ModelVersionStageHandler(NativeRegistryHandler):
    @web.authenticated
    async def patch(self, name: str, version: str) -> None:
        """Move a version to a stage, optionally archiving the others in that stage."""
        body = self.json_body()
        parsing.known_fields(body, ("stage", "archive_existing_versions"))
        found = await self.call(
            self.store.transition_model_version_stage,
            name,
            version,
            body.get("stage"),
            _boolean(body, "archive_existing_versions"),
            user=self.acting_user(),
        )
        self.send_entity("model_version", found)


class ModelVersionReviewsHandler(NativeRegistryHandler):
    @web.authenticated
    async def post(self, name: str, version: str) -> None:
        """Comment on a version and/or set its approval (NONE, PENDING, APPROVED, REJECTED)."""
        body = self.json_body()
        parsing.known_fields(body, ("comment", "approval"))
        found = await self.call(
            self.store.review_model_version,
            name,
            version,
            comment=parsing.optional_str(body, "comment"),
            approval=parsing.optional_str(body, "approval"),
            user=self.acting_user(),
        )
        self.send_entity("model_version", found)


class ModelVersionDownloadUriHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, name: str, version: str) -> None:
        """Where the version's files are: a file URI under the store's artifact root."""
        uri = await self.call(self.store.get_model_version_download_uri, name, version)
        self.send_json({"artifact_uri": uri})


class ModelAliasHandler(NativeRegistryHandler):
    @web.authenticated
    async def get(self, name: str, alias: str) -> None:
        """The version an alias points at."""
        found = await self.call(self.store.get_model_version_by_alias, name, alias)
        self.send_entity("model_version", found)

    @web.authenticated
    async def put(self, name: str, alias: str) -> None:
        """Point an alias at a version (moving it if it pointed elsewhere)."""
        body = self.json_body()
        parsing.known_fields(body, ("version",))
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, (str, int)):
            raise MltrackError(f"version must be a version number, got {version!r}")
        user = self.acting_user()
        await self.call(self.store.set_registered_model_alias, name, alias, version, user=user)
        found = await self.call(self.store.get_model_version_by_alias, name, alias)
        self.send_entity("model_version", found)

    @web.authenticated
    async def delete(self, name: str, alias: str) -> None:
        """Remove an alias (the version stays)."""
        await self.call(
            self.store.delete_registered_model_alias, name, alias, user=self.acting_user()
        )
        self.send_json({})


_MODEL = "/api/registered-models/{name}"
_VERSION = _MODEL + "/versions/{version}"

REGISTRY_ROUTES: list[tuple[str, type]] = [
    ("/api/logged-models", LoggedModelsHandler),
    ("/api/logged-models/{model_id}", LoggedModelHandler),
    ("/api/logged-models/{model_id}/params", LoggedModelParamsHandler),
    ("/api/runs/{run_id}/outputs", RunOutputsHandler),
    ("/api/registered-models", RegisteredModelsHandler),
    (_MODEL, RegisteredModelHandler),
    (_MODEL + "/history", RegistryHistoryHandler),
    (_MODEL + "/versions", ModelVersionsHandler),
    (_MODEL + "/latest-versions", LatestVersionsHandler),
    (_MODEL + "/aliases/{alias}", ModelAliasHandler),
    ("/api/model-versions", ModelVersionSearchHandler),
    (_VERSION, ModelVersionHandler),
    (_VERSION + "/stage", ModelVersionStageHandler),
    (_VERSION + "/reviews", ModelVersionReviewsHandler),
    (_VERSION + "/download-uri", ModelVersionDownloadUriHandler),
]
"""The routes, as OpenAPI path templates (see :mod:`.routes`)."""
