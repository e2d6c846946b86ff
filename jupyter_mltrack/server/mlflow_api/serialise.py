"""Entities to MLflow's proto3-style JSON (snake_case, int64 as numbers, absent when unset).

Artifact locations leave as ``mlflow-artifacts:/<path relative to the artifact root>``: the MLflow
client resolves those against the tracking URI, so uploads and downloads come back through the
artifact proxy of this server (and its authentication) rather than to a local path the client
cannot see.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ...entities import (
    DatasetInput,
    Experiment,
    LoggedModel,
    ModelVersion,
    RegisteredModel,
    Run,
    RunInfo,
)

PROXY_SCHEME = "mlflow-artifacts:/"


def proxy_uri(artifact_root: Path, location: str) -> str:
    """An artifact location as MLflow clients should see it.

    ``location`` is a ``file://`` URI under the artifact root, or a path relative to it; anything
    else (a location outside the root) is passed through unchanged.
    """
    root_uri = artifact_root.as_uri().rstrip("/") + "/"
    if location.startswith(root_uri):
        return PROXY_SCHEME + unquote(location[len(root_uri) :])
    if "://" in location or location.startswith("/"):
        return location
    return PROXY_SCHEME + location.lstrip("/")


def key_values(mapping: dict[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` as MLflow's ``[{"key": "k", "value": "v"}]``."""
    return [{"key": k, "value": v} for k, v in mapping.items()]


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def experiment(exp: Experiment, artifact_root: Path) -> dict[str, Any]:
    """An experiment message."""
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": proxy_uri(artifact_root, exp.artifact_location),
        "lifecycle_stage": exp.lifecycle_stage,
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
        "tags": key_values(exp.tags),
    }


def run_info(info: RunInfo, artifact_root: Path) -> dict[str, Any]:
    """A RunInfo message."""
    return _drop_none(
        {
            "run_id": info.run_id,
            "run_uuid": info.run_id,
            "experiment_id": info.experiment_id,
            "run_name": info.run_name,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": proxy_uri(artifact_root, info.artifact_uri),
            "lifecycle_stage": info.lifecycle_stage,
        }
    )


def json_number(value: float) -> float | str:
    """A double as proto3 JSON writes it: NaN and the infinities as strings."""
    if value == value and value not in (math.inf, -math.inf):
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def metric(key: str, value: float, timestamp: int, step: int) -> dict[str, Any]:
    """A Metric message."""
    return {"key": key, "value": json_number(value), "timestamp": timestamp, "step": step}


def dataset_input(item: DatasetInput) -> dict[str, Any]:
    """A DatasetInput message; the context travels as the ``mlflow.data.context`` tag."""
    tags = dict(item.tags)
    if item.context is not None:
        tags.setdefault("mlflow.data.context", item.context)
    ds = item.dataset
    return {
        "tags": key_values(tags),
        "dataset": _drop_none(
            {
                "name": ds.name,
                "digest": ds.digest,
                "source_type": ds.source_type,
                "source": ds.source,
                "schema": ds.schema,
                "profile": ds.profile,
            }
        ),
    }


def run(
    item: Run,
    artifact_root: Path,
    metric_points: dict[str, tuple[float, int, int]] | None = None,
) -> dict[str, Any]:
    """A Run message.

    Parameters
    ----------
    item:
        The run.
    artifact_root:
        The store's artifact root (for the run's ``mlflow-artifacts:/`` URI).
    metric_points:
        ``key -> (value, timestamp, step)`` of each latest metric, when the store provides them;
        otherwise the latest values go out with timestamp and step 0.
    """
    if metric_points is None:
        metrics = [metric(k, v, 0, 0) for k, v in item.data.metrics.items()]
    else:
        metrics = [metric(k, v, ts, step) for k, (v, ts, step) in metric_points.items()]
    return {
        "info": run_info(item.info, artifact_root),
        "data": {
            "metrics": metrics,
            "params": key_values(item.data.params),
            "tags": key_values(item.data.tags),
        },
        "inputs": {"dataset_inputs": [dataset_input(i) for i in item.inputs]},
        "outputs": {
            "model_outputs": [{"model_id": o["model_id"], "step": o["step"]} for o in item.outputs]
        },
    }


def logged_model(model: LoggedModel, artifact_root: Path) -> dict[str, Any]:
    """A LoggedModel message (info + data)."""
    return {
        "info": _drop_none(
            {
                "model_id": model.model_id,
                "experiment_id": model.experiment_id,
                "name": model.name,
                "artifact_uri": proxy_uri(artifact_root, model.artifact_uri),
                "status": model.status,
                "model_type": model.model_type,
                "source_run_id": model.source_run_id,
                "creation_timestamp_ms": model.creation_timestamp_ms,
                "last_updated_timestamp_ms": model.last_updated_timestamp_ms,
                "tags": key_values(model.tags),
            }
        ),
        "data": {"params": key_values(model.params), "metrics": []},
    }


def model_version(version: ModelVersion) -> dict[str, Any]:
    """A ModelVersion message. Versions are ready when created: a pending status would make
    the client poll for minutes."""
    return _drop_none(
        {
            "name": version.name,
            "version": version.version,
            "creation_timestamp": version.creation_timestamp,
            "last_updated_timestamp": version.last_updated_timestamp,
            "user_id": version.user_id,
            "current_stage": version.current_stage,
            "description": version.description,
            "source": version.source,
            "run_id": version.run_id,
            "status": version.status or "READY",
            "run_link": version.run_link,
            "model_id": version.model_id,
            "tags": key_values(version.tags),
            "aliases": list(version.aliases),
        }
    )


def registered_model(model: RegisteredModel) -> dict[str, Any]:
    """A RegisteredModel message, with its latest version per stage and its aliases."""
    return _drop_none(
        {
            "name": model.name,
            "creation_timestamp": model.creation_timestamp,
            "last_updated_timestamp": model.last_updated_timestamp,
            "description": model.description,
            "latest_versions": [model_version(v) for v in model.latest_versions],
            "tags": key_values(model.tags),
            "aliases": [{"alias": a, "version": v} for a, v in model.aliases.items()],
        }
    )
