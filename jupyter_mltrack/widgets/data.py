"""What the widgets read and write, through the tracking API only.

Widgets never touch a store class: they call :class:`~jupyter_mltrack.MltrackClient` (the fluent
API's client unless one is passed), so a widget works unchanged on an embedded store and through
a tracking server. This module also holds the run-table column rules (which columns exist, how a
column sorts, how a value reads), so the table widget and its static rendering agree.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..entities import ArtifactInfo, MetricHistory, Run, ViewType
from ..errors import ErrorCode, MltrackError
from ..tracking import fluent
from ..tracking.client import MltrackClient
from . import static

if TYPE_CHECKING:
    from ..models.registry_api import ModelRegistry

# attribute columns a run table can show, with their titles
ATTRIBUTE_COLUMNS = {
    "run_name": "run",
    "run_id": "run id",
    "status": "status",
    "user_id": "user",
    "start_time": "started",
    "end_time": "ended",
    "duration": "duration",
    "experiment_id": "experiment",
    "lifecycle_stage": "stage",
}
# the ones the search grammar can order by (duration is computed; experiment ids are not ordered)
_SORTABLE_ATTRIBUTES = {"run_name", "run_id", "status", "user_id", "start_time", "end_time"}
_PREFIXES = ("metrics.", "params.", "tags.")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_ATTRIBUTES = ("run_name", "status", "start_time", "duration")
MAX_DEFAULT_KEYS = 6  # metrics and params each, in a table built without explicit columns

# artifact previews: how much is read, and the largest file fetched for a preview at all
MAX_PREVIEW_DOWNLOAD = 50_000_000


def resolve_client(client: MltrackClient | None) -> MltrackClient:
    """``client``, or the fluent API's client when None."""
    if client is None:
        return fluent.client()
    if not isinstance(client, MltrackClient):
        raise MltrackError(f"client must be an MltrackClient, got {type(client).__name__}")
    return client


def run_id_of(run: Any, what: str = "run") -> str:
    """The id of a run given as an id or a :class:`~jupyter_mltrack.entities.Run`."""
    if isinstance(run, Run):
        return run.info.run_id
    if isinstance(run, str) and run.strip():
        return run.strip()
    raise MltrackError(f"{what} must be a run id or a Run, got {run!r}")


def resolve_run(client: MltrackClient, run: Any, what: str = "run") -> Run:
    """The run named by ``run`` (an id or a Run), or the active run when ``run`` is None."""
    if run is None:
        active = fluent.active_run()
        if active is None:
            raise MltrackError(
                f"no run is active: pass the {what} (a run id or a Run)", ErrorCode.INVALID_STATE
            )
        run = active.info.run_id
    return client.get_run(run_id_of(run, what))


def resolve_runs(client: MltrackClient, runs: Any, limit: int) -> list[Run]:
    """Runs named by a sequence of ids / Runs (duplicates dropped, order kept)."""
    if isinstance(runs, (str, Run)):
        runs = [runs]
    selected = getattr(runs, "selected_run_ids", None)
    if selected is not None:  # a RunTable: compare what is selected in it
        runs = list(selected)
    if not isinstance(runs, Iterable):
        raise MltrackError(f"runs must be a list of run ids or Runs, got {type(runs).__name__}")
    ids = list(dict.fromkeys(run_id_of(r) for r in runs))
    if not ids:
        raise MltrackError("no runs to compare: pass at least one run id")
    if len(ids) > limit:
        raise MltrackError(f"at most {limit} runs can be compared at once, got {len(ids)}")
    return [client.get_run(i) for i in ids]


def experiment_ids(
    client: MltrackClient,
    ids: Any = None,
    names: Any = None,
    all_experiments: bool = False,
) -> list[str]:
    """The experiments a run table searches.

    Named ones (by id and by name); every experiment with ``all_experiments``; else the fluent
    API's current experiment, as ``mlt.search_runs`` does.
    """
    if not isinstance(all_experiments, bool):
        raise MltrackError(f"all_experiments must be True or False, got {all_experiments!r}")
    out = [str(i) for i in _str_list(ids, "experiment_ids", allow_int=True)]
    for name in _str_list(names, "experiment_names"):
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise MltrackError(f"no experiment named {name!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
        out.append(exp.experiment_id)
    if all_experiments:
        if out:
            raise MltrackError("pass experiments or all_experiments=True, not both")
        return [e.experiment_id for e in client.all_experiments(ViewType.ALL)]
    if not out:
        out = [fluent.current_experiment_id()]
    return list(dict.fromkeys(out))


def _str_list(value: Any, what: str, allow_int: bool = False) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    ok = (str, int) if allow_int else (str,)
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, ok) and not isinstance(v, bool) and str(v).strip() for v in value
    ):
        raise MltrackError(f"{what} must be a list of non-empty strings, got {value!r}")
    return list(value)


# run-table columns -----------------------------------------------------------------------------
def check_columns(columns: Any) -> list[str]:
    """Validated column names: run attributes, or ``metrics.KEY`` / ``params.KEY`` / ``tags.KEY``.

    ``attributes.start_time`` is accepted as ``start_time``; duplicates are dropped.
    """
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, (list, tuple)) or not columns:
        raise MltrackError(f"columns must be a non-empty list of column names, got {columns!r}")
    out: list[str] = []
    for col in columns:
        if not isinstance(col, str):
            raise MltrackError(f"a column name must be a string, got {col!r}")
        name = col.strip()
        name = name[len("attributes.") :] if name.startswith("attributes.") else name
        if name in ATTRIBUTE_COLUMNS or (
            name.startswith(_PREFIXES) and name.split(".", 1)[1].strip()
        ):
            out.append(name)
            continue
        valid = ", ".join(ATTRIBUTE_COLUMNS)
        raise MltrackError(
            f"unknown column {col!r}: use metrics.KEY, params.KEY, tags.KEY or one of {valid}"
        )
    return list(dict.fromkeys(out))


def column_title(column: str) -> str:
    return ATTRIBUTE_COLUMNS.get(column, column)


def sortable(column: str) -> bool:
    return column in _SORTABLE_ATTRIBUTES or column.startswith(_PREFIXES)


def order_clause(column: str, ascending: bool) -> str:
    """The search ``order_by`` clause that sorts by ``column``."""
    if not sortable(column):
        raise MltrackError(f"cannot sort by {column!r}")
    direction = "ASC" if ascending else "DESC"
    if column in _SORTABLE_ATTRIBUTES:
        return f"{column} {direction}"
    prefix, key = column.split(".", 1)
    if not _BARE_KEY.fullmatch(key):
        key = "`" + key.replace("`", "``") + "`"  # the grammar's quoting of odd keys
    return f"{prefix}.{key} {direction}"


def cell_text(run: Run, column: str) -> str:
    """How one run's value in ``column`` reads in a table ('' when it has none)."""
    info, data = run.info, run.data
    if column.startswith("metrics."):
        return static.number(data.metrics.get(column[len("metrics.") :]))
    if column.startswith("params."):
        return data.params.get(column[len("params.") :], "")
    if column.startswith("tags."):
        return data.tags.get(column[len("tags.") :], "")
    if column in ("start_time", "end_time"):
        return static.when(getattr(info, column))
    if column == "duration":
        return static.duration(info.start_time, info.end_time)
    value = getattr(info, column, None)
    return "" if value is None else str(value)


def default_columns(runs: Sequence[Run]) -> list[str]:
    """The attributes, then the metrics and params most of ``runs`` have (a few of each)."""
    metrics = Counter(k for r in runs for k in r.data.metrics)
    params = Counter(k for r in runs for k in r.data.params)

    def top(counter: Counter[str]) -> list[str]:
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
        return sorted(k for k, _ in ranked[:MAX_DEFAULT_KEYS])

    return [
        *DEFAULT_ATTRIBUTES,
        *(f"metrics.{k}" for k in top(metrics)),
        *(f"params.{k}" for k in top(params)),
    ]


def fetch_page(
    client: MltrackClient,
    experiment_ids: list[str],
    filter_string: str,
    order_by: list[str] | None,
    page_size: int,
    token: str | None,
) -> tuple[list[Run], str | None]:
    """One page of runs and the token of the next (None on the last page)."""
    page = client.search_runs(
        experiment_ids, filter_string, ViewType.ACTIVE_ONLY, page_size, order_by, token
    )
    return list(page), page.token


# metrics and artifacts ---------------------------------------------------------------------------
def history(client: MltrackClient, run_id: str, key: str) -> MetricHistory:
    return client.get_metric_history(run_id, key)


def list_folder(client: MltrackClient, run_id: str, path: str) -> list[ArtifactInfo]:
    return client.list_artifacts(run_id, path or None)


def preview(client: MltrackClient, run_id: str, entry: ArtifactInfo) -> dict[str, Any]:
    """A bounded description of an artifact file for display (see ``server.preview``).

    Files over :data:`MAX_PREVIEW_DOWNLOAD` are not fetched at all.
    """
    # pure Python, shared with the server's preview route so both faces agree (no tornado import)
    from ..server.preview import PreviewLimits, preview_file

    base = {"path": entry.path, "size": entry.file_size, "media_type": entry.media_type}
    if entry.file_size is not None and entry.file_size > MAX_PREVIEW_DOWNLOAD:
        return {**base, "kind": "binary", "reason": "too large to preview here"}
    limits = PreviewLimits(max_bytes=200_000, max_rows=50, max_image_bytes=5_000_000)
    with tempfile.TemporaryDirectory(prefix="mltrack-preview-") as tmp:
        local = client.download_artifacts(run_id, entry.path, tmp)
        return preview_file(Path(local), entry.path, limits)


# models and the registry -----------------------------------------------------------------------
def registry(client: MltrackClient) -> ModelRegistry:
    """The model registry of the client's store (flushed: a model logged a moment ago is in it)."""
    from ..models.registry_api import ModelRegistry

    return ModelRegistry(client.store)


def model_choices(client: MltrackClient, run: Run, reg: ModelRegistry) -> list[tuple[str, str]]:
    """(label, model URI) of each model a run logged: its logged models, then any artifact
    folder holding an MLmodel file (MLflow 2's layout)."""
    run_id = run.info.run_id
    quoted = "'" + run_id.replace("'", "''") + "'"
    models, _ = reg.store.search_logged_models(
        [run.info.experiment_id], f"source_run_id = {quoted}", 100
    )
    out = [
        (f"{m.name} ({m.model_type or 'model'}, {m.model_id})", f"models:/{m.model_id}")
        for m in models
        if m.status == "LOGGED_MODEL_READY"
    ]
    names = {m.name for m in models}
    folders = [e for e in client.list_artifacts(run_id) if e.is_dir and e.path not in names]
    for folder in folders[:20]:
        inside = client.list_artifacts(run_id, folder.path)
        if any(e.path == f"{folder.path}/MLmodel" for e in inside):
            out.append((f"{folder.path} (run artifacts)", f"runs:/{run_id}/{folder.path}"))
    return out


def registered_names(reg: ModelRegistry) -> list[str]:
    """Names of the registered models (for the name picker)."""
    return sorted(m.name for m in reg.search_registered_models(max_results=1000))
