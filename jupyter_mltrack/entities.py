"""Plain data objects returned by the API, mirroring MLflow's entities.

They carry no behaviour beyond conversion to and from JSON-ready dicts, so every face of the
store (Python, REST, widgets) serialises them the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple


class RunStatus:
    """Run statuses, as in MLflow."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    ALL = (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)
    TERMINAL = (FINISHED, FAILED, KILLED)


class ViewType:
    """Which lifecycle stages a search returns."""

    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"
    CHOICES = (ACTIVE_ONLY, DELETED_ONLY, ALL)


class Metric(NamedTuple):
    """One point of a metric's history.

    A named tuple rather than a dataclass: bulk logging builds a million of these, and a tuple
    is several times cheaper to create than a frozen dataclass.
    """

    key: str
    value: float
    timestamp: int
    step: int


@dataclass(frozen=True)
class Param:
    key: str
    value: str


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str


@dataclass
class Experiment:
    """An experiment: a named group of runs."""

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        return out


@dataclass
class RunInfo:
    """What a run is: ids, name, status, times, where its artifacts live."""

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str | None
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    parent_run_id: str | None = None

    @property
    def run_uuid(self) -> str:
        """MLflow's older name for ``run_id``."""
        return self.run_id


@dataclass
class RunData:
    """What a run logged: latest metric values, params and tags, each as a dict."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Dataset:
    """A dataset a run used: identified by name and digest."""

    name: str
    digest: str
    source_type: str = "local"
    source: str = ""
    schema: str | None = None
    profile: str | None = None


@dataclass
class DatasetInput:
    dataset: Dataset
    context: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """A run: its info, its data and its dataset inputs."""

    info: RunInfo
    data: RunData
    inputs: list[DatasetInput] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        info = asdict(self.info)
        info["run_uuid"] = self.info.run_id
        return {
            "info": info,
            "data": {
                "metrics": dict(self.data.metrics),
                "params": dict(self.data.params),
                "tags": dict(self.data.tags),
            },
            "inputs": [asdict(i) for i in self.inputs],
            "outputs": list(self.outputs),
        }


@dataclass
class ArtifactInfo:
    """One entry of an artifact listing; ``path`` is relative to the run's artifact root."""

    path: str
    is_dir: bool
    file_size: int | None = None
    media_type: str | None = None
    cell_id: str | None = None


@dataclass
class Cell:
    """One executed notebook cell of a run."""

    run_id: str
    seq: int
    cell_id: str | None
    execution_count: int | None
    source: str | None
    start_time: int
    duration_ms: float | None
    outcome: str
    error_type: str | None = None
    error_message: str | None = None


class ModelStage:
    """Registry stages, as in MLflow; input is matched case-insensitively."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    ALL = (NONE, STAGING, PRODUCTION, ARCHIVED)


class Approval:
    """A model version's review state."""

    NONE = "NONE"
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    ALL = (NONE, PENDING, APPROVED, REJECTED)


@dataclass
class LoggedModel:
    """A model logged from a run (MLflow 3's LoggedModel): its files live at ``artifact_uri``."""

    model_id: str
    experiment_id: str
    name: str
    artifact_uri: str
    status: str
    source_run_id: str | None
    creation_timestamp_ms: int
    last_updated_timestamp_ms: int
    model_type: str | None = None
    artifact_path: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelVersion:
    """One version of a registered model."""

    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    status: str = "READY"
    description: str | None = None
    user_id: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    approval: str = "NONE"
    tags: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)


@dataclass
class RegisteredModel:
    """A named model in the registry, with its aliases and latest version per stage."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    latest_versions: list[ModelVersion] = field(default_factory=list)


@dataclass
class RegistryEvent:
    """One recorded registry change: who did what, when (``detail`` holds old/new values)."""

    seq: int
    time: int
    user_id: str | None
    name: str
    version: str | None
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class MetricHistory:
    """A metric's full history, held as columns (numpy arrays) rather than objects.

    A 100k-point history would take longer to turn into 100k Python objects than to read, so the
    columns stay as arrays; iterate to get :class:`Metric` objects one at a time, or call
    :meth:`to_pandas`.
    """

    def __init__(self, key: str, steps: Any, values: Any, timestamps: Any):
        self.key = key
        self.steps = steps
        self.values = values
        self.timestamps = timestamps

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Metric]:
        for step, value, ts in zip(
            self.steps.tolist(), self.values.tolist(), self.timestamps.tolist()
        ):
            yield Metric(self.key, value, ts, step)

    def __getitem__(self, index: int) -> Metric:
        return Metric(
            self.key,
            float(self.values[index]),
            int(self.timestamps[index]),
            int(self.steps[index]),
        )

    def __repr__(self) -> str:
        return f"MetricHistory(key={self.key!r}, points={len(self)})"

    def to_pandas(self) -> Any:
        """The history as a DataFrame with columns step, value, timestamp."""
        import pandas as pd

        return pd.DataFrame(
            {"step": self.steps, "value": self.values, "timestamp": self.timestamps}
        )
