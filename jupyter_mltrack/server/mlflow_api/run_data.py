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
from ...validation import MAX_PARAM_VALUE_LENGTH, check_name, param_value_to_str
from . import messages
from .fields import Fields, tag_value
from .handler import MlflowHandler

# MLflow's per-request limits for runs/log-batch (its client splits larger logs to fit them)
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000


def metric_rows(run_id: str, f: Fields) -> list[MetricRow]:
    """The metric points of a log-batch as WriteBatch rows; every field checked.

    A log-batch carries up to 1,000 points, and their checks ran longer than the DuckDB insert:
    points whose fields already have their usual types (a key seen before, a float, int step
    and timestamp) take a fast path; anything else goes through :func:`metric_row`, which
    accepts proto3's other spellings (int64 as strings, "NaN") or raises MLflow's error naming
    the field (``metrics[3].timestamp``).
    """
    rows = []
    for i, item in enumerate(f.raw_list("metrics")):
        if type(item) is dict:
            key, value = item.get("key"), item.get("value")
            step, timestamp = item.get("step", 0), item.get("timestamp")
            if (
                type(value) is float
                and type(step) is int
                and type(timestamp) is int
                and timestamp >= 0
                and type(key) is str
            ):
                key = messages.key(key, f"metrics[{i}].name")
                rows.append(rules.metric_row(run_id, key, value, step, timestamp, None))
                continue
        rows.append(metric_row(run_id, f.item("metrics", i, item), "name"))
    return rows


def metric_row(run_id: str, item: Fields, key_path: str = "name") -> MetricRow:
    """One metric point as a WriteBatch row, checked in MLflow's order with its messages:
    first the request's fields (present, of their types), then the point (a valid key, which
    MLflow calls ``name`` there, a timestamp of at least 0)."""
    raw_key = item.required_string("key")
    if not item.has("value"):
        raise messages.missing(item.path("value"))
    value = item.number("value")
    if not item.has("timestamp"):
        raise messages.missing(item.path("timestamp"))
    timestamp = item.required_integer("timestamp")
    step = item.integer("step", 0)
    key = messages.key(raw_key, item.path(key_path))
    if timestamp < 0:
        raise messages.error(
            messages.invalid_value(
                item.path("timestamp"),
                timestamp,
                f"metric '{key}' (value={value}). "
                "Timestamp must be a nonnegative long (64-bit integer) ",
            )
        )
    return rules.metric_row(run_id, key, value, step, timestamp, None)


def param_row(run_id: str, item: Fields) -> ParamRow:
    """One param; a param without a value is logged as "" (MLflow's proto default)."""
    raw_key = item.required_string("key")
    value = item.string("value", "") or ""
    key = messages.key(raw_key, item.path("key"), "Param key")
    if len(value) > MAX_PARAM_VALUE_LENGTH:
        raise messages.exceeds_length("Param value", MAX_PARAM_VALUE_LENGTH)
    return ParamRow(run_id, key, param_value_to_str(key, value), None)


def tag_row(run_id: str, item: Fields) -> TagRow:
    raw_key = item.required_string("key")
    value = item.string("value", "") or ""
    key = messages.key(raw_key, item.path("key"))
    return TagRow(run_id, key, tag_value(value, item.path("value")), None)


async def raise_param_changes(handler: MlflowHandler, run_id: str, params: list[ParamRow]) -> None:
    """Raise MLflow's log-batch error naming every param whose value would change.

    The store stops at the first one; MLflow lists them all, so after the store refused the
    batch this reads the run's params once (only on this error path, never on a good batch).
    """
    run = await handler.call(handler.store.get_run, run_id)
    logged = run.data.params
    changes = [(p.key, logged[p.key], p.value) for p in params if p.key in logged]
    changes = [change for change in changes if change[1] != change[2]]
    if changes:
        raise messages.params_changed(run_id, changes)


class LogBatch(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """Metrics, params and tags of one run, written together or not at all."""
        f = self.fields()
        run_id = f.required_string("run_id")
        metrics, params, tags = f.raw_list("metrics"), f.objects("params"), f.objects("tags")
        for what, items, limit in (
            ("metrics", metrics, MAX_METRICS_PER_BATCH),
            ("params", params, MAX_PARAMS_TAGS_PER_BATCH),
            ("tags", tags, MAX_PARAMS_TAGS_PER_BATCH),
            ("metrics, params, and tags", [*metrics, *params, *tags], MAX_ENTITIES_PER_BATCH),
        ):
            if len(items) > limit:
                raise messages.batch_limit(what, limit, len(items))
        batch = WriteBatch(
            metrics=metric_rows(run_id, f),
            params=[param_row(run_id, p) for p in params],
            tags=[tag_row(run_id, t) for t in tags],
        )
        seen: set[str] = set()
        duplicates = []
        for row in batch.params:
            if row.key in seen:
                duplicates.append(row.key)
            seen.add(row.key)
        if duplicates:
            raise messages.duplicate_params(duplicates)
        if not len(batch):
            # nothing to write, but the run must still exist (MLflow answers 404 otherwise)
            await self.call(self.store.get_run, run_id)
            self.ok()
            return
        try:
            await self.call(self.store.write_batch, batch, False)
        except MltrackError as exc:
            if batch.params and messages.is_param_change(exc):
                await raise_param_changes(self, run_id, batch.params)
            raise
        self.ok()


class LogMetric(MlflowHandler):
    @web.authenticated
    async def post(self) -> None:
        """One metric point."""
        f = self.fields()
        run_id = f.required_string("run_id", "run_uuid")
        row = metric_row(run_id, f)
        await self.call(self.store.write_batch, WriteBatch(metrics=[row]), False)
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
        """Remove one tag of a run.

        MLflow refuses a key the run does not have (RESOURCE_DOES_NOT_EXIST) and a deleted run
        (INVALID_PARAMETER_VALUE); the store's write path takes a deletion of a missing tag as
        a no-op, so this route reads the run first. The read and the write are two
        transactions: a tag removed in between is simply removed once.
        """
        f = self.fields()
        run_id = f.required_string("run_id")
        key = f.required_string("key")
        run = await self.call(self.store.get_run, run_id)
        if run.info.lifecycle_stage != "active":
            raise messages.run_not_active(run_id, run.info.lifecycle_stage)
        if key not in run.data.tags:
            raise messages.no_run_tag(key, run_id)
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
        text = f.required_string("model_json")
        try:
            model: Any = json.loads(text)
        except ValueError:
            model = None
        if not isinstance(model, dict):
            raise messages.error(
                f"Malformed model info. \n {messages.cut(text)} \n is not a valid JSON."
            )
        missing = {"artifact_path", "flavors", "utc_time_created", "run_id"} - set(model)
        if missing:
            raise messages.error(f"Model json is missing mandatory fields: {missing}")
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
