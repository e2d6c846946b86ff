"""The model registry's Python face: a thin layer over the store's registry methods.

The CLI (``jupyter mltrack models …``) and the fluent helpers call this class, so each face
behaves the same. Every change passes the acting user to the store, which records it with the
time in the registry's history.
"""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import Approval, ModelVersion, RegisteredModel, RegistryEvent
from ..errors import ErrorCode, MltrackError
from ..validation import check_max_results
from .mlmodel import ModelMeta
from .uris import (
    default_store,
    file_uri_to_path,
    parse_models_uri,
    resolve_model_uri,
    resolve_version,
    version_for_reference,
)

if TYPE_CHECKING:
    from ..store.contract import AbstractStore

_PAGE = 1000


def current_user() -> str:
    """Who is acting: ``$MLTRACK_USER`` if set (shared service accounts), else the login."""
    if os.environ.get("MLTRACK_USER", "").strip():
        return os.environ["MLTRACK_USER"].strip()
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


@dataclass
class AliasSpan:
    """One stretch of time an alias pointed at one version (``until`` None: still does)."""

    alias: str
    version: str
    since: int
    until: int | None
    set_by: str | None
    ended_by: str | None = None


class ModelRegistry:
    """Registered models, versions, aliases, stages and reviews.

    Parameters
    ----------
    store:
        The store to keep the registry in (default: the fluent API's store); every store has the
        registry methods of :class:`~jupyter_mltrack.store.registry_contract.AbstractRegistryStore`,
        and the lineage reads its runs too.
    user:
        Recorded as the author of every change (default: :func:`current_user`).
    """

    def __init__(self, store: AbstractStore | None = None, user: str | None = None):
        self.store: AbstractStore = store if store is not None else default_store()
        if user is not None and (not isinstance(user, str) or not user.strip()):
            raise MltrackError(f"user must be a non-empty string, got {user!r}")
        self.user = user or current_user()

    # registered models -------------------------------------------------------------------
    def create_registered_model(
        self, name: str, description: str | None = None, tags: dict[str, Any] | None = None
    ) -> RegisteredModel:
        """Create a registered model; RESOURCE_ALREADY_EXISTS if the name is taken."""
        return self.store.create_registered_model(name, tags, description, user=self.user)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(name)

    def search_registered_models(
        self, filter_string: str | None = None, max_results: int = 10_000
    ) -> list[RegisteredModel]:
        """Registered models matching a filter (``name LIKE 'fraud%'``), all pages."""
        return self._all_pages(self.store.search_registered_models, filter_string, max_results)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        return self.store.update_registered_model(name, description, user=self.user)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.store.rename_registered_model(name, new_name, user=self.user)

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with all its versions (its history is kept)."""
        self.store.delete_registered_model(name, user=self.user)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.store.set_registered_model_tag(name, key, value, user=self.user)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.store.delete_registered_model_tag(name, key, user=self.user)

    # versions ----------------------------------------------------------------------------
    def register_model(
        self,
        model_uri: str | os.PathLike[str],
        name: str,
        description: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a model as a new version of ``name`` (created if it does not exist).

        ``model_uri`` may be ``models:/m-<id>``, ``runs:/<run>/<path>``, another version
        (``models:/<name>/<ref>``), or a local model directory. A local directory is first
        copied into the store as a logged model, so the version cannot change under the
        registry when the original folder does.
        """
        source, model_id, run_id = self._source_of(model_uri)
        try:
            self.store.create_registered_model(name, user=self.user)
        except MltrackError as exc:
            # another process registering the same name may have created it first
            if exc.code != ErrorCode.RESOURCE_ALREADY_EXISTS:
                raise
        return self.store.create_model_version(
            name,
            source,
            run_id=run_id,
            tags=tags,
            description=description,
            model_id=model_id,
            user=self.user,
        )

    def _source_of(self, model_uri: Any) -> tuple[str, str | None, str | None]:
        """(source, model id, run id) to record for a URI being registered."""
        if isinstance(model_uri, os.PathLike):
            model_uri = os.fspath(model_uri)
        if not isinstance(model_uri, str) or not model_uri.strip():
            raise MltrackError(f"model_uri must be a non-empty string, got {model_uri!r}")
        if model_uri.startswith("models:"):
            kind, name, ref = parse_models_uri(model_uri)
            if kind == "logged":
                logged = self.store.get_logged_model(ref)
                resolve_model_uri(model_uri, self.store)  # its files must be there
                return f"models:/{logged.model_id}", logged.model_id, logged.source_run_id
            version = resolve_version(self.store, name, kind, ref)
            return version.source, version.model_id, version.run_id
        resolved = resolve_model_uri(model_uri, self.store)
        if model_uri.startswith("runs:"):
            if resolved.model_id:
                return f"models:/{resolved.model_id}", resolved.model_id, resolved.run_id
            return model_uri, None, resolved.run_id
        return self._copy_into_store(resolved.path)

    def _copy_into_store(self, path: Path) -> tuple[str, str | None, str | None]:
        meta = ModelMeta.load(path)
        flavor = next((k for k in meta.flavors if k != "python_function"), "python_function")
        logged = self.store.create_logged_model("0", path.name or "model", model_type=flavor)
        target = file_uri_to_path(logged.artifact_uri)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(path, target, dirs_exist_ok=True)
        except OSError:
            self.store.finalize_logged_model(logged.model_id, "LOGGED_MODEL_UPLOAD_FAILED")
            raise
        self.store.finalize_logged_model(logged.model_id, "LOGGED_MODEL_READY")
        return f"models:/{logged.model_id}", logged.model_id, None

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.store.get_model_version(name, version)

    def get_version(self, name: str, ref: str | int) -> ModelVersion:
        """A version by number, ``@alias`` (or a bare alias), stage, or ``latest``."""
        return version_for_reference(self.store, name, ref)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return self.store.get_latest_versions(name, stages)

    def search_model_versions(
        self, filter_string: str | None = None, max_results: int = 100_000
    ) -> list[ModelVersion]:
        """Versions matching a filter (``name = 'fraud' AND tags.team = 'risk'``), all pages."""
        return self._all_pages(self.store.search_model_versions, filter_string, max_results)

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of a model, oldest first."""
        self.store.get_registered_model(name)  # RESOURCE_DOES_NOT_EXIST for an unknown name
        quoted = "'" + name.replace("'", "''") + "'"
        found = self.search_model_versions(f"name = {quoted}")
        return sorted(found, key=lambda v: int(v.version))

    def update_model_version(
        self, name: str, version: str | int, description: str | None
    ) -> ModelVersion:
        return self.store.update_model_version(name, version, description, user=self.user)

    def delete_model_version(self, name: str, version: str | int) -> None:
        self.store.delete_model_version(name, version, user=self.user)

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        self.store.set_model_version_tag(name, version, key, value, user=self.user)

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self.store.delete_model_version_tag(name, version, key, user=self.user)

    # aliases and stages ------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``alias`` at ``version`` (moving it if it pointed elsewhere)."""
        self.store.set_registered_model_alias(name, alias, version, user=self.user)

    def delete_alias(self, name: str, alias: str) -> None:
        self.store.delete_registered_model_alias(name, alias, user=self.user)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_model_version_by_alias(name, alias)

    def transition_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        """Move a version to a stage (None, Staging, Production, Archived).

        With ``archive_existing_versions``, versions already in Staging/Production move to
        Archived in the same transaction.
        """
        if not isinstance(archive_existing_versions, bool):
            raise MltrackError("archive_existing_versions must be True or False")
        return self.store.transition_model_version_stage(
            name, version, stage, archive_existing_versions, user=self.user
        )

    # reviews -----------------------------------------------------------------------------
    def review(
        self,
        name: str,
        version: str | int,
        comment: str | None = None,
        approval: str | None = None,
    ) -> ModelVersion:
        """Add a comment and/or an approval decision to a version's review trail."""
        if approval is not None:
            if not isinstance(approval, str) or approval.upper() not in Approval.ALL:
                raise MltrackError(
                    f"approval must be one of {', '.join(Approval.ALL)}, got {approval!r}"
                )
            approval = approval.upper()
        return self.store.review_model_version(
            name, version, comment=comment, approval=approval, user=self.user
        )

    def comment(self, name: str, version: str | int, text: str) -> ModelVersion:
        """Comment on a version."""
        if not isinstance(text, str) or not text.strip():
            raise MltrackError("a comment must be non-empty text")
        return self.review(name, version, comment=text)

    def approve(self, name: str, version: str | int, comment: str | None = None) -> ModelVersion:
        return self.review(name, version, comment, Approval.APPROVED)

    def reject(self, name: str, version: str | int, comment: str | None = None) -> ModelVersion:
        return self.review(name, version, comment, Approval.REJECTED)

    # history and lineage -----------------------------------------------------------------
    def history(
        self, name: str, version: str | int | None = None, kinds: list[str] | None = None
    ) -> list[RegistryEvent]:
        """Every recorded change of a model (or of one version), oldest first."""
        if kinds is not None and (
            not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)
        ):
            raise MltrackError("kinds must be a list of event kinds")
        return self.store.get_registry_history(name, version, kinds)

    def reviews(self, name: str, version: str | int) -> list[RegistryEvent]:
        """A version's review trail: comments and approval decisions, oldest first."""
        return self.history(name, version, ["review"])

    def alias_history(self, name: str, alias: str | None = None) -> list[AliasSpan]:
        """Which version held each alias, from when until when (oldest first).

        Read back from the recorded history, so it survives moves, deletes and renames.
        """
        events = self.history(name, kinds=["set_alias", "delete_alias", "delete_version"])
        open_spans: dict[str, AliasSpan] = {}
        spans: list[AliasSpan] = []
        for event in events:
            which = event.detail.get("alias")
            if which is None or (alias is not None and which != alias):
                continue
            current = open_spans.pop(which, None)
            if current is not None:
                current.until, current.ended_by = event.time, event.user_id
            if event.kind == "set_alias":
                span = AliasSpan(which, str(event.version), event.time, None, event.user_id)
                open_spans[which] = span
                spans.append(span)
        return spans

    def lineage(self, name: str, version: str | int) -> dict[str, Any]:
        """Where a version came from: version -> logged model -> run -> cell -> datasets."""
        mv = self.store.get_model_version(name, version)
        out: dict[str, Any] = {"version": mv, "logged_model": None, "run": None}
        out.update(cell=None, datasets=[])
        cell_id = None
        if mv.model_id:
            logged = self.store.get_logged_model(mv.model_id)
            out["logged_model"] = logged
            cell_id = logged.tags.get("mltrack.cell_id")
        if mv.run_id:
            run = self.store.get_run(mv.run_id)
            out["run"] = run
            out["datasets"] = list(run.inputs)
            if cell_id:
                cells = [c for c in self.store.get_cells(mv.run_id) if c.cell_id == cell_id]
                out["cell"] = cells[-1] if cells else None
        return out

    # helpers -----------------------------------------------------------------------------
    @staticmethod
    def _all_pages(search: Any, filter_string: str | None, max_results: int) -> list[Any]:
        # a total across pages (each page within the store's limit), so no upper bound here
        check_max_results(max_results, sys.maxsize)
        out: list[Any] = []
        token = None
        while len(out) < max_results:
            page, token = search(filter_string, min(_PAGE, max_results - len(out)), None, token)
            out.extend(page)
            if not token:
                break
        return out
