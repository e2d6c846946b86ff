"""The write batch every store accepts, and one typed row per kind of logged item.

All writes of logged data go through one method, :meth:`AbstractStore.write_batch`, as in MLflow
where ``log_metric`` and friends default to ``log_batch``: a backend implements one write path,
and the buffered logger, the REST handlers and the spool all speak it.

Rows are named tuples: a construction site with a missing or misplaced field fails mypy, while
the hot logging path still pays for one tuple allocation per call, and the JSON wire form (the
spool, the REST client) stays a list per row.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..entities import Cell
from ..errors import MltrackError


class MetricRow(NamedTuple):
    """One metric point."""

    run_id: str
    key: str
    value: float
    step: int
    timestamp: int
    cell_id: str | None


class MetricSeriesRow(NamedTuple):
    """One metric's points in columns, as the buffer collects them.

    ``values``, ``steps`` and ``timestamps`` are equal-length lists or numpy arrays.
    """

    run_id: str
    key: str
    cell_id: str | None
    values: Any
    steps: Any
    timestamps: Any


class ParamRow(NamedTuple):
    """A param (immutable once logged: see :func:`.rules.check_param_unchanged`)."""

    run_id: str
    key: str
    value: str
    cell_id: str | None


class TagRow(NamedTuple):
    """A tag set, or deleted when ``value`` is None; tag rows apply in order."""

    run_id: str
    key: str
    value: str | None
    cell_id: str | None


class ArtifactRow(NamedTuple):
    """An artifact file already written under the run's artifact folder, for the index."""

    run_id: str
    path: str
    size: int
    media_type: str | None
    cell_id: str | None
    logged_time: int


class InputRow(NamedTuple):
    """A dataset a run used (MLflow's dataset input); ``experiment_id`` None means the run's."""

    run_id: str
    experiment_id: str | None
    name: str
    digest: str
    source_type: str | None
    source: str | None
    schema: str | None
    profile: str | None
    context: str | None
    tags_json: str | None
    cell_id: str | None


class RunCreateRow(NamedTuple):
    """A new RUNNING run, made by the client (its id too) and written with the rest of a batch.

    Its tags (system tags, ``mlflow.runName``, the parent's id) travel as :class:`TagRow` rows
    of the same batch; the store checks the experiment, the parent and the id set-based.
    """

    run_id: str
    experiment_id: str
    run_name: str
    user_id: str | None
    start_time: int
    parent_run_id: str | None


class RunUpdateRow(NamedTuple):
    """A run's status change (ending it, or setting it RUNNING again)."""

    run_id: str
    status: str
    end_time: int | None


@dataclass
class WriteBatch:
    """Everything buffered since the last flush, applied by the store in one transaction.

    ``batch_id`` (made when the buffer is drained, kept through the spool and the wire) is
    recorded by the store in the same transaction as the rows: a batch sent again after an
    ambiguous failure (a timeout, a cut-off answer, a crash between write and unlink of a spool
    file) is recognised and not applied twice. None: no such protection (a one-off write).
    """

    metrics: list[MetricRow] = field(default_factory=list)
    metric_series: list[MetricSeriesRow] = field(default_factory=list)
    params: list[ParamRow] = field(default_factory=list)
    tags: list[TagRow] = field(default_factory=list)
    artifacts: list[ArtifactRow] = field(default_factory=list)
    inputs: list[InputRow] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    run_updates: list[RunUpdateRow] = field(default_factory=list)
    # created first, so every other row of the batch may name them
    runs: list[RunCreateRow] = field(default_factory=list)
    batch_id: str | None = None

    def __len__(self) -> int:
        return (
            len(self.metrics)
            + sum(len(series.values) for series in self.metric_series)
            + len(self.params)
            + len(self.tags)
            + len(self.artifacts)
            + len(self.inputs)
            + len(self.cells)
            + len(self.run_updates)
            + len(self.runs)
        )

    def extend(self, other: WriteBatch) -> None:
        """Append every row of ``other`` (kept in order, kind by kind)."""
        for kind in ROW_KINDS:
            getattr(self, kind).extend(getattr(other, kind))

    def run_ids(self) -> set[str]:
        """Every run the batch writes to."""
        ids: set[str] = set()
        for rows in (
            self.metrics,
            self.metric_series,
            self.params,
            self.tags,
            self.artifacts,
            self.inputs,
            self.run_updates,
            self.runs,
        ):
            ids.update(row.run_id for row in rows)
        ids.update(c.run_id for c in self.cells)
        return ids

    def drop_runs(self, run_ids: set[str] | dict[str, Any]) -> None:
        """Remove every row of these runs (the flusher drops what a store refused)."""
        self.metrics = [r for r in self.metrics if r.run_id not in run_ids]
        self.metric_series = [r for r in self.metric_series if r.run_id not in run_ids]
        self.params = [r for r in self.params if r.run_id not in run_ids]
        self.tags = [r for r in self.tags if r.run_id not in run_ids]
        self.artifacts = [r for r in self.artifacts if r.run_id not in run_ids]
        self.inputs = [r for r in self.inputs if r.run_id not in run_ids]
        self.run_updates = [r for r in self.run_updates if r.run_id not in run_ids]
        self.cells = [c for c in self.cells if c.run_id not in run_ids]
        self.runs = [r for r in self.runs if r.run_id not in run_ids]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (for the spool and the REST client): a list per row."""
        data: dict[str, Any] = {
            "metrics": [list(r) for r in self.metrics],
            "metric_series": [
                [
                    r.run_id,
                    r.key,
                    r.cell_id,
                    _as_list(r.values),
                    _as_list(r.steps),
                    _as_list(r.timestamps),
                ]
                for r in self.metric_series
            ],
            "params": [list(r) for r in self.params],
            "tags": [list(r) for r in self.tags],
            "artifacts": [list(r) for r in self.artifacts],
            "inputs": [list(r) for r in self.inputs],
            "cells": [vars(c) for c in self.cells],
            "run_updates": [list(r) for r in self.run_updates],
        }
        if self.runs:  # only when present: a batch without new runs keeps its older form
            data["runs"] = [list(r) for r in self.runs]
        if self.batch_id is not None:
            data["batch_id"] = self.batch_id
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WriteBatch:
        """Inverse of :meth:`to_json` (for trusted input: the spool; the server checks its own)."""
        return cls(
            metrics=[MetricRow(*r) for r in data.get("metrics", [])],
            metric_series=[MetricSeriesRow(*r) for r in data.get("metric_series", [])],
            params=[ParamRow(*r) for r in data.get("params", [])],
            tags=[TagRow(*r) for r in data.get("tags", [])],
            artifacts=[ArtifactRow(*r) for r in data.get("artifacts", [])],
            inputs=[InputRow(*r) for r in data.get("inputs", [])],
            cells=[Cell(**c) for c in data.get("cells", [])],
            run_updates=[RunUpdateRow(*r) for r in data.get("run_updates", [])],
            runs=[RunCreateRow(*r) for r in data.get("runs", [])],
            batch_id=data.get("batch_id"),
        )


#: the row lists of a WriteBatch, in the order the store applies them
ROW_KINDS = (
    "runs",
    "metrics",
    "metric_series",
    "params",
    "tags",
    "artifacts",
    "inputs",
    "cells",
    "run_updates",
)


def new_batch_id() -> str:
    """A fresh batch id (random, 32 hex digits)."""
    return uuid.uuid4().hex


BATCH_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch: "$" would allow a final newline


def check_batch_id(batch_id: object) -> str | None:
    """A batch id: None, or 1-64 letters, digits, '_' or '-'."""
    if batch_id is None:
        return None
    if not isinstance(batch_id, str) or not BATCH_ID_RE.fullmatch(batch_id):
        raise MltrackError(f"batch id must be 1-64 letters, digits, '_' or '-', got {batch_id!r}")
    return batch_id


def _as_list(values: Any) -> list:
    return values.tolist() if hasattr(values, "tolist") else list(values)
