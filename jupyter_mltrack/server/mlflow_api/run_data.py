"""MLflow's logging routes: log-batch and friends, inputs, outputs, the log-model record.

Every write goes through the store's one write path, ``write_batch(batch, skip_invalid=False)``:
the whole request is checked before anything is written, and the store refuses the batch as a
whole (unknown or deleted run, a param whose value would change). Unlike the Python API, MLflow
lets clients keep logging to a FINISHED run, and the store's check is on the lifecycle only, so
that works here as it does against ``mlflow server``.
"""

from __future__ import annotations

import json
from typing import Any

from tornado import web

from ...errors import MltrackError
from ...store import rules
from ...store.batch import InputRow, MetricRow, ParamRow, TagRow, WriteBatch
from ...validation import (
    check_key,
    check_name,
    param_value_to_str,
    tag_value_to_str,
)
from .fields import Fields
from .handler import MlflowHandler

# MLflow's per-request limits for runs/log-batch (its client splits larger logs to fit them)
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000


def metric_rows(run_id: str, items: list[Any]) -> list[MetricRow]:
    """The metric points of a request (a JSON list) as WriteBatch rows; every field checked.

    A log-batch carries up to 1,000 points, and their checks ran longer than the DuckDB insert:
    points whose fields already have their usual types (a known key, a float, int step and
    timestamp) take a fast path; anything else goes through :func:`metric_row`, which accepts
    proto3's other spellings (int64 as strings, "NaN") or raises the error that names the field.
    """
    rows = []
    for item in items:
        if type(item) is dict:
            key, value = item.get("key"), item.get("value")
            step, timestamp = item.get("step", 0), item.get("timestamp")
            if type(value) is float and type(step) is int and type(timestamp) is int:
                # proto3's usual spellings: the store's rule checks the rest
                rows.append(rules.metric_row(run_id, key, value, step, timestamp, None))
                continue
            rows.append(metric_row(run_id, Fields(item)))
        else:
            raise MltrackError(f"field 'metrics' must be a list of objects, got an item {item!r}")
    return rows


def metric_row(run_id: str, item: Fields) -> MetricRow:
    """One metric point of a request as a WriteBatch row; every field checked."""
    key = check_key(item.required_string("key"), "metric key")
    value = item.number("value")
    if value is None:
        raise MltrackError(f"metric {key!r} has no value")
    timestamp = item.integer("timestamp")
    if timestamp is None:
        raise MltrackError(f"metric {key!r} has no timestamp")
    return rules.metric_row(run_id, key, value, item.integer("step", 0), timestamp, None)


def param_row(run_id: str, item: Fields) -> ParamRow:
    key = check_key(item.required_string("key"), "param key")
    if not item.has("value"):
        raise MltrackError(f"param {key!r} has no value")
    return ParamRow(run_id, key, param_value_to_str(key, item.string("value")), None)


def tag_row(run_id: str, item: Fields) -> TagRow:
    key = check_key(item.required_string("key"), "tag key")
    return TagRow(run_id, key, tag_value_to_str(key, item.string("value", "")), None)


class LogBatch(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Metrics, params and tags of one run, written together or not at all."""
        f = self.fields()
        run_id = f.required_string("run_id")
        metrics = f.raw_list("metrics")
        params, tags = f.objects("params"), f.objects("tags")
        if len(metrics) > MAX_METRICS_PER_BATCH:
            raise MltrackError(
                f"a batch may hold at most {MAX_METRICS_PER_BATCH} metrics, got {len(metrics)}"
            )
        if len(params) > MAX_PARAMS_TAGS_PER_BATCH or len(tags) > MAX_PARAMS_TAGS_PER_BATCH:
            raise MltrackError(
                f"a batch may hold at most {MAX_PARAMS_TAGS_PER_BATCH} params and "
                f"{MAX_PARAMS_TAGS_PER_BATCH} tags, got {len(params)} and {len(tags)}"
            )
        if len(metrics) + len(params) + len(tags) > MAX_ENTITIES_PER_BATCH:
            raise MltrackError(
                f"a batch may hold at most {MAX_ENTITIES_PER_BATCH} metrics, params and tags"
            )
        batch = WriteBatch(
            metrics=metric_rows(run_id, metrics),
            params=[param_row(run_id, p) for p in params],
            tags=[tag_row(run_id, t) for t in tags],
        )
        if not len(batch):
            # nothing to write, but the run must still exist (MLflow answers 404 otherwise)
            await self.call(self.store.get_run, run_id)
        await self.call(self.store.write_batch, batch, False)
        self.ok()


class LogMetric(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """One metric point."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        await self.call(self.store.write_batch, WriteBatch(metrics=[metric_row(run_id, f)]), False)
        self.ok()


class LogParam(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """One param; logging a different value for an existing key is refused."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        await self.call(self.store.write_batch, WriteBatch(params=[param_row(run_id, f)]), False)
        self.ok()


class SetTag(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Set one tag of a run."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        await self.call(self.store.write_batch, WriteBatch(tags=[tag_row(run_id, f)]), False)
        self.ok()


class DeleteTag(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Remove one tag of a run."""
        f = self.fields()
        run_id = f.required_string("run_id")
        key = check_key(f.required_string("key"), "tag key")
        await self.call(
            self.store.write_batch, WriteBatch(tags=[TagRow(run_id, key, None, None)]), False
        )
        self.ok()


def input_row(run_id: str, item: Fields) -> InputRow:
    """One DatasetInput message as a WriteBatch input row."""
    tags = item.tags()
    ds = item.object("dataset")
    name = check_name(ds.required_string("name"), "dataset name")
    digest = check_name(ds.required_string("digest"), "dataset digest")
    return InputRow(
        run_id,
        None,  # the store fills in the run's experiment
        name,
        digest,
        ds.string("source_type") or "local",
        ds.string("source", ""),
        ds.string("schema"),
        ds.string("profile"),
        tags.get("mlflow.data.context"),
        json.dumps(tags),
        None,
    )


class LogInputs(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Record the datasets a run used."""
        f = self.fields()
        run_id = f.required_string("run_id")
        rows = [input_row(run_id, d) for d in f.objects("datasets")]
        for model in f.objects("models"):
            model.required_string("model_id")
        if rows:
            await self.call(self.store.write_batch, WriteBatch(inputs=rows), False)
        else:
            await self.call(self.store.get_run, run_id)
        self.ok()


class LogModelRecord(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Append a model's metadata to the run's ``mlflow.log-model.history`` tag."""
        f = self.fields()
        run_id = f.required_string("run_id")
        try:
            model: Any = json.loads(f.required_string("model_json"))
        except ValueError as exc:
            raise MltrackError(f"model_json is not valid JSON: {exc}") from None
        if not isinstance(model, dict):
            raise MltrackError("model_json must be a JSON object")
        await self.call(self.store.append_logged_model_record, run_id, model)
        self.ok()


ROUTES: list[tuple[str, type]] = [
    ("runs/log-batch", LogBatch),
    ("runs/log-metric", LogMetric),
    ("runs/log-parameter", LogParam),
    ("runs/set-tag", SetTag),
    ("runs/delete-tag", DeleteTag),
    ("runs/log-inputs", LogInputs),
    ("runs/log-model", LogModelRecord),
]
