"""MLflow's model registry routes: registered models, versions, stages, aliases, tags.

Every change is made in the store's name of the Jupyter user who sent the request, so the
registry's history says who moved which alias to which version. Handlers read MLflow's fields
(and its defaults); the rules (names, versions, aliases, page sizes) are the store's, the same
for this API, the native one and Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from tornado import web

from ...errors import MltrackError
from ...store.rules import MODEL_VERSIONS_MAX_RESULTS, REGISTERED_MODELS_MAX_RESULTS
from . import messages, serialise
from .fields import Fields
from .handler import MlflowHandler

T = TypeVar("T")

# MLflow's default page sizes for registry searches (the limits are the store's)
MODELS_DEFAULT_MAX_RESULTS = 100
VERSIONS_DEFAULT_MAX_RESULTS = 10_000
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")


def registry_page_size(f: Fields, default: int, limit: int) -> int:
    """``max_results`` of a registry search: past the limit MLflow's request check refuses it
    (its generic text); below 1, the registry store's text."""
    max_results = f.integer("max_results", default)
    assert max_results is not None
    if max_results > limit:
        raise f.invalid("max_results")
    if max_results < 1:
        raise messages.error(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    return max_results


class MlflowRegistryHandler(MlflowHandler):
    def user(self) -> str | None:
        """The Jupyter user making the change (recorded in the registry's history)."""
        return self.acting_user()

    def name(self) -> str:
        return self.fields().required_string("name")


# registered models -----------------------------------------------------------------------------
class CreateRegisteredModel(MlflowRegistryHandler):
    @web.authenticated
    async def post(self) -> None:
        """Create a registered model (RESOURCE_ALREADY_EXISTS if the name is taken)."""
        f = self.fields()
        name = messages.registered_model_name(f.required_string("name"))
        model = await self.call(
            self.store.create_registered_model,
            name=name,
            description=f.string("description"),
            tags=f.tags(),
            user=self.user(),
        )
        self.ok({"registered_model": serialise.registered_model(model)})


class GetRegisteredModel(MlflowRegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        """A registered model with its latest versions and aliases."""
        model = await self.call(self.store.get_registered_model, self.name())
        self.ok({"registered_model": serialise.registered_model(model)})


class UpdateRegisteredModel(MlflowRegistryHandler):
    @web.authenticated
    async def patch(self) -> None:
        """Set a registered model's description."""
        f = self.fields()
        name = f.required_string("name")
        model = await self.call(
            self.store.update_registered_model,
            name=name,
            description=f.string("description"),
            user=self.user(),
        )
        self.ok({"registered_model": serialise.registered_model(model)})


class RenameRegisteredModel(MlflowRegistryHandler):
    @web.authenticated
    async def post(self) -> None:
        """Rename a registered model (its versions, tags and aliases follow)."""
        f = self.fields()
        name = f.required_string("name")
        new_name = messages.registered_model_name(f.required_string("new_name"))
        model = await self.call(
            self.store.rename_registered_model, name=name, new_name=new_name, user=self.user()
        )
        self.ok({"registered_model": serialise.registered_model(model)})


class DeleteRegisteredModel(MlflowRegistryHandler):
    @web.authenticated
    async def delete(self) -> None:
        """Delete a registered model and its versions."""
        await self.call(self.store.delete_registered_model, name=self.name(), user=self.user())
        self.ok()


class SetRegisteredModelTag(MlflowRegistryHandler):
    @web.authenticated
    async def post(self) -> None:
        """Set one tag of a registered model."""
        f = self.fields()
        await self.call(
            self.store.set_registered_model_tag,
            name=self.name(),
            key=f.required_string("key"),
            value=f.string("value", ""),
            user=self.user(),
        )
        self.ok()


class DeleteRegisteredModelTag(MlflowRegistryHandler):
    @web.authenticated
    async def delete(self) -> None:
        """Remove one tag of a registered model."""
        key = self.fields().required_string("key")
        await self.call(
            self.store.delete_registered_model_tag, name=self.name(), key=key, user=self.user()
        )
        self.ok()


class SearchRegisteredModels(MlflowRegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        """Registered models matching a filter (``name``, ``tags.*``), one page."""
        f = self.fields()
        items, token = await self.search(
            self.store.search_registered_models,
            filter_string=f.string("filter") or None,
            max_results=registry_page_size(
                f, MODELS_DEFAULT_MAX_RESULTS, REGISTERED_MODELS_MAX_RESULTS
            ),
            order_by=f.strings("order_by") or None,
            page_token=f.string("page_token") or None,
        )
        answer: dict[str, Any] = {
            "registered_models": [serialise.registered_model(m) for m in items]
        }
        if token:
            answer["next_page_token"] = token
        self.ok(answer)


class GetLatestVersions(MlflowRegistryHandler):
    auth_actions = {"POST": "read"}  # a read, sent as POST too

    async def _latest(self) -> None:
        f = self.fields()
        name = f.required_string("name")
        versions = await self.call(
            self.store.get_latest_versions, name=name, stages=f.strings("stages") or None
        )
        self.ok({"model_versions": [serialise.model_version(v) for v in versions]})

    @web.authenticated
    async def post(self) -> None:
        """The latest version in each of the given stages (all stages by default)."""
        await self._latest()

    @web.authenticated
    async def get(self) -> None:
        """The same, fields in the query string."""
        await self._latest()


class RegisteredModelAlias(MlflowRegistryHandler):
    @web.authenticated
    async def post(self) -> None:
        """Point an alias at a version (moving it if it pointed elsewhere)."""
        f = self.fields()
        name = f.required_string("name")
        alias = f.required_string("alias")
        version = f.required_string("version")
        await self.call(
            self.store.set_registered_model_alias,
            name=name,
            alias=alias,
            version=version,
            user=self.user(),
        )
        self.ok()

    @web.authenticated
    async def delete(self) -> None:
        """Remove an alias; removing one the model does not have does nothing, as in MLflow
        (the store refuses it, so this route reads the model first)."""
        f = self.fields()
        name = f.required_string("name")
        alias = f.required_string("alias")
        model = await self.call(self.store.get_registered_model, name)
        if alias not in model.aliases:
            self.ok()
            return
        await self.call(
            self.store.delete_registered_model_alias, name=name, alias=alias, user=self.user()
        )
        self.ok()

    @web.authenticated
    async def get(self) -> None:
        """The version an alias points at (an unknown alias: INVALID_PARAMETER_VALUE)."""
        f = self.fields()
        name = f.required_string("name")
        version = await self.call(
            self.store.get_model_version_by_alias, name=name, alias=f.required_string("alias")
        )
        self.ok({"model_version": serialise.model_version(version)})


# model versions --------------------------------------------------------------------------------
class VersionHandler(MlflowRegistryHandler):
    """A route on one version. MLflow names the version in every error about it: a version
    that is not a number, below 1 or of an unknown model is "Model Version (name=…,
    version=…) not found" (the store says which of the model or the version is missing)."""

    def name_version(self) -> tuple[str, str]:
        f = self.fields()
        name = f.required_string("name")
        version = f.string("version")
        if version is None and f.integer("version") is not None:
            version = str(f.integer("version"))
        if not version:
            raise messages.missing("version")
        if not _INTEGER.match(version.strip()):
            raise messages.version_not_integer(version)
        if int(version) < 1:
            raise messages.model_version_not_found(name, version)
        return name, version

    async def on_version(self, name: str, version: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """A store call on version ``version`` of ``name``, its not-found errors in MLflow's
        words."""
        try:
            return await self.call(fn, name=name, version=version, **kwargs)
        except MltrackError as exc:
            if messages.translate(exc).message.startswith("Registered Model with name="):
                raise messages.model_version_not_found(name, version) from None
            raise


class CreateModelVersion(VersionHandler):
    @web.authenticated
    async def post(self) -> None:
        """Register a new version of a model from a source (``models:/m-…``, ``runs:/…``)."""
        f = self.fields()
        name = f.required_string("name")
        source = f.required_string("source")
        # log_model sends the logged model but no run: the store fills in the model's run
        version = await self.call(
            self.store.create_model_version,
            name=name,
            source=source,
            run_id=f.string("run_id") or None,
            model_id=f.string("model_id") or None,
            run_link=f.string("run_link") or None,
            description=f.string("description"),
            tags=f.tags(),
            user=self.user(),
        )
        self.ok({"model_version": serialise.model_version(version)})


class GetModelVersion(VersionHandler):
    @web.authenticated
    async def get(self) -> None:
        """One version of a registered model."""
        name, version = self.name_version()
        mv = await self.on_version(name, version, self.store.get_model_version)
        self.ok({"model_version": serialise.model_version(mv)})


class UpdateModelVersion(VersionHandler):
    @web.authenticated
    async def patch(self) -> None:
        """Set a version's description."""
        name, version = self.name_version()
        mv = await self.on_version(
            name,
            version,
            self.store.update_model_version,
            description=self.fields().string("description"),
            user=self.user(),
        )
        self.ok({"model_version": serialise.model_version(mv)})


class DeleteModelVersion(VersionHandler):
    @web.authenticated
    async def delete(self) -> None:
        """Delete one version (its aliases go with it)."""
        name, version = self.name_version()
        await self.on_version(name, version, self.store.delete_model_version, user=self.user())
        self.ok()


class SearchModelVersions(MlflowRegistryHandler):
    @web.authenticated
    async def get(self) -> None:
        """Versions matching a filter (``name``, ``run_id``, ``source_path``, ``tags.*`` …)."""
        f = self.fields()
        items, token = await self.search(
            self.store.search_model_versions,
            filter_string=f.string("filter") or None,
            max_results=registry_page_size(
                f, VERSIONS_DEFAULT_MAX_RESULTS, MODEL_VERSIONS_MAX_RESULTS
            ),
            order_by=f.strings("order_by") or None,
            page_token=f.string("page_token") or None,
        )
        answer: dict[str, Any] = {"model_versions": [serialise.model_version(v) for v in items]}
        if token:
            answer["next_page_token"] = token
        self.ok(answer)


class TransitionModelVersionStage(VersionHandler):
    @web.authenticated
    async def post(self) -> None:
        """Move a version to a stage, optionally archiving the versions already there."""
        name, version = self.name_version()
        f = self.fields()
        mv = await self.on_version(
            name,
            version,
            self.store.transition_model_version_stage,
            stage=f.required_string("stage"),
            archive_existing_versions=f.boolean("archive_existing_versions", False),
            user=self.user(),
        )
        self.ok({"model_version": serialise.model_version(mv)})


class SetModelVersionTag(VersionHandler):
    @web.authenticated
    async def post(self) -> None:
        """Set one tag of a version."""
        name, version = self.name_version()
        f = self.fields()
        await self.on_version(
            name,
            version,
            self.store.set_model_version_tag,
            key=f.required_string("key"),
            value=f.string("value", ""),
            user=self.user(),
        )
        self.ok()


class DeleteModelVersionTag(VersionHandler):
    @web.authenticated
    async def delete(self) -> None:
        """Remove one tag of a version."""
        name, version = self.name_version()
        key = self.fields().required_string("key")
        await self.on_version(
            name, version, self.store.delete_model_version_tag, key=key, user=self.user()
        )
        self.ok()


class GetModelVersionDownloadUri(VersionHandler):
    @web.authenticated
    async def get(self) -> None:
        """Where a version's files are: a logged model's or a run's folder, via the proxy."""
        name, version = self.name_version()
        uri = await self.on_version(name, version, self.store.get_model_version_download_uri)
        self.ok({"artifact_uri": serialise.proxy_uri(self.artifact_root, uri)})


ROUTES: list[tuple[str, type]] = [
    (r"registered-models/create", CreateRegisteredModel),
    (r"registered-models/get", GetRegisteredModel),
    (r"registered-models/update", UpdateRegisteredModel),
    (r"registered-models/rename", RenameRegisteredModel),
    (r"registered-models/delete", DeleteRegisteredModel),
    (r"registered-models/set-tag", SetRegisteredModelTag),
    (r"registered-models/delete-tag", DeleteRegisteredModelTag),
    (r"registered-models/search", SearchRegisteredModels),
    (r"registered-models/get-latest-versions", GetLatestVersions),
    (r"registered-models/alias", RegisteredModelAlias),
    (r"model-versions/create", CreateModelVersion),
    (r"model-versions/get", GetModelVersion),
    (r"model-versions/update", UpdateModelVersion),
    (r"model-versions/delete", DeleteModelVersion),
    (r"model-versions/search", SearchModelVersions),
    (r"model-versions/transition-stage", TransitionModelVersionStage),
    (r"model-versions/set-tag", SetModelVersionTag),
    (r"model-versions/delete-tag", DeleteModelVersionTag),
    (r"model-versions/get-download-uri", GetModelVersionDownloadUri),
]
