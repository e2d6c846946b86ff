"""The fluent API: ``mlt.start_run()``, ``mlt.log_metric()`` … on the active run.

Shaped like MLflow's fluent API. Like MLflow, logging with no active run starts one. Each call
is a thin layer over :class:`MltrackClient` with the active run's id filled in.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..clock import now_ms
from ..config import resolve_store_dir
from ..entities import (
    ArtifactInfo,
    Cell,
    Dataset,
    Experiment,
    Metric,
    MetricHistory,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from ..errors import ErrorCode, MltrackError
from ..store.run_owner import END_REASON_TAG
from ..validation import check_name
from .client import MltrackClient, PagedList

log = logging.getLogger("jupyter_mltrack")

_state_lock = threading.RLock()
_store: str | os.PathLike[str] | None = None
_client: MltrackClient | None = None
_experiment_id: str | None = None
_run_stack: list[ActiveRun] = []


class ActiveRun(Run):
    """The run :func:`start_run` returns; as a context manager it ends the run on exit.

    The run ends FINISHED, FAILED if the block raised, or KILLED on KeyboardInterrupt.
    """

    def __init__(self, run: Run):
        super().__init__(run.info, run.data, run.inputs)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if _run_stack and _run_stack[-1].info.run_id == self.info.run_id:
            end_run(status)
        else:
            _get_client().set_terminated(self.info.run_id, status)


def set_store(store: str | os.PathLike[str] | None) -> Path:
    """Choose the store directory for this process (None: back to the default rule).

    Returns the directory now in use.
    """
    global _store, _client, _experiment_id
    with _state_lock:
        if _run_stack:
            raise MltrackError(
                "cannot change the store while a run is active; end_run() first",
                ErrorCode.INVALID_STATE,
            )
        _store, _client, _experiment_id = store, None, None
    return get_store_dir()


def get_store_dir() -> Path:
    """The store directory in use: explicit ``set_store``, else $MLTRACK_STORE, else ~/.mltrack."""
    return resolve_store_dir(_store)


def _get_client() -> MltrackClient:
    global _client
    if _client is None:
        with _state_lock:
            if _client is None:
                _client = MltrackClient(_store)
    return _client


def client() -> MltrackClient:
    """The :class:`MltrackClient` the fluent API uses (made, and its store opened, on first use)."""
    return _get_client()


def existing_client() -> MltrackClient | None:
    """The fluent API's client if something has used it yet, else None; never opens a store.

    For hooks that run on every cell (capture, output recording): they must cost nothing, and
    open no store, while the fluent API is unused.
    """
    return _client


def flush() -> None:
    """Make everything logged so far durable before returning."""
    _get_client().flush()


# experiments -----------------------------------------------------------------------------
def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment the current one, creating it (by name) if it does not exist."""
    global _experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise MltrackError("set_experiment takes exactly one of experiment_name, experiment_id")
    c = _get_client()
    if experiment_id is not None:
        exp = c.get_experiment(str(experiment_id))
    else:
        check_name(experiment_name, "experiment name")
        found = c.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        if found is None:
            try:
                c.create_experiment(experiment_name)  # type: ignore[arg-type]
            except MltrackError as exc:
                # another process created it between our look-up and create: use theirs
                if exc.code != ErrorCode.RESOURCE_ALREADY_EXISTS:
                    raise
            found = c.get_experiment_by_name(experiment_name)  # type: ignore[arg-type]
        assert found is not None
        exp = found
    if exp.lifecycle_stage != "active":
        raise MltrackError(
            f"experiment {exp.name!r} is deleted; restore it first", ErrorCode.INVALID_STATE
        )
    _experiment_id = exp.experiment_id
    return exp


def get_experiment(experiment_id: str) -> Experiment:
    return _get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return _get_client().get_experiment_by_name(name)


def create_experiment(
    name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
) -> str:
    return _get_client().create_experiment(name, artifact_location, tags)


def delete_experiment(experiment_id: str) -> None:
    _get_client().delete_experiment(experiment_id)


def search_experiments(
    view_type: str = ViewType.ACTIVE_ONLY,
    max_results: int = 1000,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """Experiments matching a filter (``name LIKE 'demo%'``, ``tags.team = 'a'``)."""
    out: list[Experiment] = []
    token = None
    while True:
        page = _get_client().search_experiments(
            view_type, min(max_results - len(out), 1000), filter_string, order_by, token
        )
        out.extend(page)
        token = page.token
        if not token or len(out) >= max_results:
            return out


def current_experiment_id() -> str:
    """The experiment runs start in: ``set_experiment``, else $MLTRACK_EXPERIMENT_ID or
    $MLTRACK_EXPERIMENT_NAME, else Default ("0").

    MLflow's own variables are deliberately not read: ``mlflow.set_experiment`` writes
    ``MLFLOW_EXPERIMENT_ID`` into the environment, and an id from an MLflow server would point
    at an unrelated experiment here.
    """
    if _experiment_id is not None:
        return _experiment_id
    env_id = os.environ.get("MLTRACK_EXPERIMENT_ID")
    if env_id:
        return env_id
    env_name = os.environ.get("MLTRACK_EXPERIMENT_NAME")
    if env_name:
        return set_experiment(env_name).experiment_id
    return "0"


# runs ------------------------------------------------------------------------------------
def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run.

    Use it as a context manager to end the run when the block ends. With a run already active,
    pass ``nested=True`` to start a child run of it.
    """
    c = _get_client()
    with _state_lock:
        if _run_stack and not nested:
            raise MltrackError(
                f"run {_run_stack[-1].info.run_id} is already active; end_run() it first or "
                "pass nested=True to start a child run",
                ErrorCode.INVALID_STATE,
            )
        if parent_run_id is None and nested and _run_stack:
            parent_run_id = _run_stack[-1].info.run_id
        if run_id is not None:
            if any(r.info.run_id == run_id for r in _run_stack):
                raise MltrackError(f"run {run_id!r} is already active", ErrorCode.INVALID_STATE)
            run = c.resume_run(run_id)
            for key, value in (tags or {}).items():
                c.set_tag(run_id, key, value)
            if run_name is not None:
                run = c.update_run(run_id, name=run_name)
        else:
            run = c.create_run(
                str(experiment_id) if experiment_id is not None else current_experiment_id(),
                run_name=run_name,
                tags=tags,
                parent_run_id=parent_run_id,
                description=description,
            )
        active = ActiveRun(run)
        _run_stack.append(active)
    return active


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (FINISHED by default); does nothing when no run is active."""
    with _state_lock:
        if not _run_stack:
            return
        if status not in RunStatus.TERMINAL:
            raise MltrackError(
                f"end status must be one of {', '.join(RunStatus.TERMINAL)}, got {status!r}"
            )
        run = _run_stack[-1]
        _get_client().set_terminated(run.info.run_id, status)
        _run_stack.pop()


def end_all_runs(status: str, reason: str) -> list[str]:
    """End every active run, innermost first; return their ids in that order.

    Each run gets the tag ``mltrack.end_reason`` = ``reason`` and ends with ``status``. A run
    that cannot be ended (deleted meanwhile, say) is logged as a warning and left off the
    stack, so the runs around it still end.
    """
    if status not in RunStatus.TERMINAL:
        raise MltrackError(
            f"end status must be one of {', '.join(RunStatus.TERMINAL)}, got {status!r}"
        )
    ended: list[str] = []
    with _state_lock:
        while _run_stack:
            run_id = _run_stack[-1].info.run_id
            try:
                set_tag(END_REASON_TAG, reason)
                end_run(status)
            except MltrackError as exc:
                log.warning("jupyter-mltrack: could not end run %s: %s", run_id, exc)
                if _run_stack and _run_stack[-1].info.run_id == run_id:
                    _run_stack.pop()
            ended.append(run_id)
    return ended


def active_run() -> ActiveRun | None:
    """The active run, or None."""
    return _run_stack[-1] if _run_stack else None


def run_stack() -> list[ActiveRun]:
    """The active runs, outermost first (a copy: changing it changes nothing)."""
    with _state_lock:
        return list(_run_stack)


def _run_id() -> str:
    if _run_stack:
        return _run_stack[-1].info.run_id
    return start_run().info.run_id


# logging ---------------------------------------------------------------------------------
def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    """Log a metric point to the active run (buffered: returns in about a microsecond)."""
    run_id = _run_stack[-1].info.run_id if _run_stack else _run_id()
    (_client or _get_client()).log_metric(run_id, key, value, timestamp, step)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics at one step."""

    if not isinstance(metrics, Mapping):
        raise MltrackError(f"log_metrics takes a dict, got {type(metrics).__name__}")
    ts = timestamp if timestamp is not None else now_ms()
    items = [Metric(k, v, ts, 0 if step is None else step) for k, v in metrics.items()]
    _get_client().log_batch(_run_id(), metrics=items)


def log_metric_series(key: str, values: Any, steps: Any = None, timestamps: Any = None) -> None:
    """Log a whole series of one metric (arrays or lists) to the active run in one call."""
    _get_client().log_metric_series(_run_id(), key, values, steps, timestamps)


def log_param(key: str, value: Any) -> Any:
    """Log a param to the active run; returns ``value``."""
    return _get_client().log_param(_run_id(), key, value)


def log_params(params: Mapping[str, Any]) -> None:
    if not isinstance(params, Mapping):
        raise MltrackError(f"log_params takes a dict, got {type(params).__name__}")
    _get_client().log_batch(_run_id(), params=[Param(k, v) for k, v in params.items()])


def set_tag(key: str, value: Any) -> None:
    _get_client().set_tag(_run_id(), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    if not isinstance(tags, Mapping):
        raise MltrackError(f"set_tags takes a dict, got {type(tags).__name__}")
    _get_client().log_batch(_run_id(), tags=[RunTag(k, v) for k, v in tags.items()])


def delete_tag(key: str) -> None:
    _get_client().delete_tag(_run_id(), key)


def log_input(
    dataset: Dataset, context: str | None = None, tags: Mapping[str, Any] | None = None
) -> None:
    """Record a dataset the active run used (see :func:`jupyter_mltrack.data.from_pandas`)."""
    _get_client().log_input(_run_id(), dataset, context, tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _get_client().log_artifact(_run_id(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> None:
    _get_client().log_artifacts(_run_id(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> None:
    _get_client().log_text(_run_id(), text, artifact_file)


def log_dict(dictionary: dict, artifact_file: str) -> None:
    _get_client().log_dict(_run_id(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    """Save a matplotlib or plotly figure as an artifact."""
    _get_client().log_figure(_run_id(), figure, artifact_file)


def log_image(image: Any, artifact_file: str) -> None:
    """Save a numpy array or PIL image as an artifact."""
    _get_client().log_image(_run_id(), image, artifact_file)


def log_table(data: Any, artifact_file: str) -> None:
    """Save a DataFrame (or dict of columns) as .json, .csv or .parquet."""
    _get_client().log_table(_run_id(), data, artifact_file)


# reads -----------------------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    return _get_client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> MetricHistory:
    return _get_client().get_metric_history(run_id, key)


def list_artifacts(run_id: str, path: str | None = None) -> list[ArtifactInfo]:
    return _get_client().list_artifacts(run_id, path)


def get_cells(run_id: str) -> list[Cell]:
    return _get_client().get_cells(run_id)


def delete_run(run_id: str) -> None:
    _get_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    _get_client().restore_run(run_id)


def search_runs(
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    run_view_type: str = ViewType.ACTIVE_ONLY,
    max_results: int = 100_000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
) -> Any:
    """Search runs; a pandas DataFrame with MLflow's columns (``output_format="list"``: Runs).

    With no experiments named, searches the current experiment (all of them with
    ``search_all_experiments=True``).
    """
    c = _get_client()
    if output_format not in ("pandas", "list"):
        raise MltrackError(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    ids = [str(e) for e in (experiment_ids or [])]
    for name in experiment_names or []:
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise MltrackError(f"no experiment named {name!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
        ids.append(exp.experiment_id)
    if not ids:
        if search_all_experiments:
            ids = [
                e.experiment_id
                for e in search_experiments(view_type=ViewType.ALL, max_results=1_000_000)
            ]
        else:
            ids = [current_experiment_id()]
    if output_format == "pandas":
        return c.search_runs_frame(ids, filter_string, run_view_type, max_results, order_by)
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page: PagedList = c.search_runs(
            ids,
            filter_string,
            run_view_type,
            min(max_results - len(runs), 50_000),
            order_by,
            token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    return runs
