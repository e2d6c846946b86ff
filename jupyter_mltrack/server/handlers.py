"""The native REST API under ``{base_url}mltrack/api/``: experiments, runs, batches, info.

Each handler is an adapter: it reads the request (checked in :mod:`.parsing`), calls the store
(or a query of :mod:`jupyter_mltrack.store.duckdb.ui_queries`) on a worker thread, and sends JSON.
``openapi.yaml`` next to this file documents every route; a test holds the two together.
"""

from __future__ import annotations

import io
from typing import Any, TypeVar, cast

from tornado import web

from .. import __version__
from ..clock import now_ms
from ..entities import Run, ViewType
from ..errors import ErrorCode, MltrackError
from ..store import paging, rules
from ..store.duckdb import ui_queries
from ..store.duckdb.store import DuckDBStore
from ..validation import check_max_results
from . import parsing
from .base import DEFAULT_MAX_BATCH_BODY_BYTES, MltrackHandler

T = TypeVar("T")

ARROW_STREAM = "application/vnd.apache.arrow.stream"
#: the most runs one run-frame page holds (MLflow's search limit); a larger frame is read in
#: pages (``page_token``), up to the store's own limit (``rules.RUN_FRAME_MAX_RESULTS``)
RUN_FRAME_MAX_RESULTS = 50_000


class NativeHandler(MltrackHandler):
    """Base of the native routes: query-string helpers and the server's own store."""

    @property
    def owned_store(self) -> DuckDBStore:
        """The server's DuckDB store, for the queries only the server can run."""
        return cast(DuckDBStore, self.store)

    def query(self, name: str) -> str | None:
        """The last value of a query argument (None when absent)."""
        return self.get_query_argument(name, None)

    def query_list(self, name: str) -> list[str]:
        """Every value of a repeated (or comma-separated) query argument."""
        return parsing.listed(self.get_query_arguments(name))

    def required(self, name: str) -> str:
        value = self.query(name)
        if value is None or value == "":
            raise MltrackError(f"query argument {name!r} is required")
        return value

    def experiment_ids(self) -> list[str]:
        """The ``experiment_id`` arguments (none: the result is empty, as in the store)."""
        return [parsing.experiment_id(e) for e in self.query_list("experiment_id")]

    def view_type(self) -> str:
        return parsing.choice(
            self.query("view_type"), "view_type", ViewType.CHOICES, ViewType.ACTIVE_ONLY
        )

    def integer(
        self, name: str, default: int, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        """An integer query argument within bounds (``default`` when absent)."""
        return parsing.integer(self.query(name), name, default, minimum, maximum)

    def max_results(self, default: int, limit: int | None = None) -> int:
        """The ``max_results`` argument as an integer (``default`` when absent); the store
        checks its range, with one limit and one message for every face; ``limit`` is a
        route's own, lower cap."""
        value = self.integer("max_results", default)
        if limit is not None and value > limit:
            raise MltrackError(f"max_results must be at most {limit}, got {value}")
        return value

    def send_arrow(self, table: Any) -> None:
        """Send a pyarrow Table as an Arrow IPC stream."""
        import pyarrow as pa

        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        self.finish(sink.getvalue(), set_content_type=ARROW_STREAM)


# info ----------------------------------------------------------------------------------------


class InfoHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """The store's counts and location, the server's version and limits."""
        info = await self.call(self.store.info)
        config = self.mltrack_config
        self.send_json(
            {
                **info,
                "version": __version__,
                "limits": {
                    "max_upload_bytes": config.max_upload_bytes,
                    "preview_max_bytes": config.preview_max_bytes,
                    "preview_max_rows": config.preview_max_rows,
                    "preview_max_image_bytes": config.preview_max_image_bytes,
                    "default_points": config.default_points,
                    "max_points": config.max_points,
                },
            }
        )


class GcHandler(NativeHandler):
    @web.authenticated
    async def post(self) -> None:
        """Remove deleted runs for good (deleted at least ``older_than_ms`` ago)."""
        body = self.json_body()
        parsing.known_fields(body, ("older_than_ms",))
        older = parsing.optional_int(body, "older_than_ms")
        self.send_json(await self.call(self.store.gc, older))


# experiments ---------------------------------------------------------------------------------


class ExperimentsHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """Experiments matching a filter, one page."""
        experiments, token = await self.search(
            self.store.search_experiments,
            self.view_type(),
            self.query("filter"),
            self.max_results(1000),
            self.get_query_arguments("order_by") or None,
            self.query("page_token"),
        )
        self.send_json(
            {"experiments": [e.to_dict() for e in experiments], "next_page_token": token}
        )

    @web.authenticated
    async def post(self) -> None:
        """Create an experiment."""
        body = self.json_body()
        parsing.known_fields(body, ("name", "artifact_location", "tags"))
        name = body.get("name")  # the store checks it, as it checks every face's
        tags = cast(dict[str, str], parsing.tag_map(body.get("tags")))
        location = parsing.optional_str(body, "artifact_location")
        experiment_id = await self.call(self.store.create_experiment, name, location, tags)
        experiment = await self.call(self.store.get_experiment, experiment_id)
        self.send_json({"experiment": experiment.to_dict()}, status=201)


class ExperimentByNameHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """The experiment with this name; 404 if there is none."""
        name = self.required("name")
        experiment = await self.call(self.store.get_experiment_by_name, name)
        if experiment is None:
            raise MltrackError(f"no experiment named {name!r}", ErrorCode.RESOURCE_DOES_NOT_EXIST)
        self.send_json({"experiment": experiment.to_dict()})


class _OneExperiment(NativeHandler):
    async def _send(self, experiment_id: str) -> None:
        experiment = await self.call(self.store.get_experiment, experiment_id)
        self.send_json({"experiment": experiment.to_dict()})


class ExperimentHandler(_OneExperiment):
    @web.authenticated
    async def get(self, experiment_id: str) -> None:
        """One experiment."""
        await self._send(parsing.experiment_id(experiment_id))

    @web.authenticated
    async def patch(self, experiment_id: str) -> None:
        """Rename an experiment, set its tags, delete tags (a null value)."""
        experiment_id = parsing.experiment_id(experiment_id)
        body = self.json_body()
        parsing.known_fields(body, ("name", "tags"))
        tags = parsing.tag_map(body.get("tags"), allow_delete=True)
        name = body.get("name")
        # one store call, one transaction: a refused rename leaves the tags as they were too
        await self.call(self.store.update_experiment, experiment_id, name, tags)
        await self._send(experiment_id)

    @web.authenticated
    async def delete(self, experiment_id: str) -> None:
        """Mark an experiment (and so its runs) deleted."""
        experiment_id = parsing.experiment_id(experiment_id)
        await self.call(self.store.delete_experiment, experiment_id)
        await self._send(experiment_id)


class ExperimentRestoreHandler(_OneExperiment):
    @web.authenticated
    async def post(self, experiment_id: str) -> None:
        """Bring a deleted experiment back."""
        experiment_id = parsing.experiment_id(experiment_id)
        await self.call(self.store.restore_experiment, experiment_id)
        await self._send(experiment_id)


# runs ----------------------------------------------------------------------------------------


class RunsHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """One page of a runs table with the chosen metric, param and tag columns."""
        table = await self.search(
            ui_queries.run_table,
            self.owned_store,
            self.experiment_ids(),
            self.query("filter"),
            self.view_type(),
            self.get_query_arguments("order_by") or None,
            self.max_results(100),
            self.query("page_token"),
            self.query_list("metric"),
            self.query_list("param"),
            self.query_list("tag"),
        )
        self.send_json(table)

    @web.authenticated
    async def post(self) -> None:
        """Create a RUNNING run."""
        body = self.json_body()
        parsing.known_fields(
            body,
            ("experiment_id", "run_name", "user_id", "start_time", "tags", "parent_run_id",
             "run_id"),
        )  # fmt: skip
        experiment_id = parsing.experiment_id(body.get("experiment_id", "0"))
        run_name = body.get("run_name")
        start_time = parsing.optional_int(body, "start_time")
        parent = body.get("parent_run_id")
        run_id = body.get("run_id")
        run = await self.call(
            self.store.create_run,
            experiment_id,
            run_name,
            parsing.optional_str(body, "user_id"),
            now_ms() if start_time is None else start_time,
            cast(dict[str, str], parsing.tag_map(body.get("tags"))),
            None if parent is None else parsing.new_run_id(parent, "parent_run_id"),
            None if run_id is None else parsing.new_run_id(run_id),
        )
        self.send_json({"run": run.to_dict()}, status=201)


class _OneRun(NativeHandler):
    async def _send(self, run_id: str) -> None:
        run: Run = await self.call(self.store.get_run, run_id)
        self.send_json({"run": run.to_dict()})


class RunDetailHandler(_OneRun):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """A run's details: info, latest metrics, params, tags, dataset inputs."""
        await self._send(run_id)

    @web.authenticated
    async def patch(self, run_id: str) -> None:
        """Rename a run, change its status or end time, set or delete (null) its tags."""
        body = self.json_body()
        parsing.known_fields(body, ("run_name", "status", "end_time", "tags"))
        tags = parsing.tag_map(body.get("tags"), allow_delete=True)
        status = parsing.optional_str(body, "status")
        end_time = parsing.optional_int(body, "end_time")
        run_name = body.get("run_name")
        # one store call, one transaction: status, name and tags change together or not at all
        run = await self.call(self.store.update_run, run_id, status, end_time, run_name, tags)
        self.send_json({"run": run.to_dict()})

    @web.authenticated
    async def delete(self, run_id: str) -> None:
        """Mark a run deleted (restore brings it back; gc removes it)."""
        await self.call(self.store.delete_run, run_id)
        await self._send(run_id)


class RunRestoreHandler(_OneRun):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        """Bring a deleted run back."""
        await self.call(self.store.restore_run, run_id)
        await self._send(run_id)


class RunLoggedModelRecordsHandler(NativeHandler):
    @web.authenticated
    async def post(self, run_id: str) -> None:
        """Append a model's MLmodel metadata to the run's ``mlflow.log-model.history`` tag
        (what ``RestStore.append_logged_model_record`` sends; the store checks the record)."""
        body = self.json_body()
        parsing.known_fields(body, ("model",))
        await self.call(self.store.append_logged_model_record, run_id, body.get("model"))
        self.send_json({})


class RunCellsHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """The notebook cells executed while the run was active, in order."""
        cells = await self.call(self.store.get_cells, run_id)
        self.send_json({"cells": [vars(c) for c in cells]})


class RunItemsHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """What a run logged, each item with the cell it came from (``cell_id``: one cell's)."""
        cell_id = rules.check_cell_id(self.query("cell_id"))
        rows = await self.call(self.store.get_logged_items, run_id, cell_id)
        self.send_json({"items": [dict(zip(rules.ITEM_FIELDS, r)) for r in rows]})


class RunItemCellHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """The executed cell that logged one item (a metric's point at ``step``, or its latest)."""
        step_text = self.query("step")
        step = None if step_text in (None, "") else self.integer("step", 0)
        kind, key, step = rules.check_item(self.required("kind"), self.required("key"), step)
        found, cell = await self.call(self.store.get_item_cell, run_id, kind, key, step)
        self.send_json({"found": found, "cell": None if cell is None else vars(cell)})


class RunLineageHandler(NativeHandler):
    @web.authenticated
    async def get(self, run_id: str) -> None:
        """A run's ancestors, children and dataset inputs."""
        self.send_json(await self.call(ui_queries.lineage, self.owned_store, run_id))


class RunSearchHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """Full runs matching a filter, one page (what ``RestStore.search_runs`` reads)."""
        found, token = await self.search(
            self.store.search_runs,
            self.experiment_ids(),
            self.query("filter"),
            self.view_type(),
            self.max_results(1000),
            self.get_query_arguments("order_by") or None,
            self.query("page_token"),
        )
        self.send_json({"runs": [r.to_dict() for r in found], "next_page_token": token})


class RunFrameHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """One page of the matching runs as a table (Arrow IPC stream), MLflow's column names;
        the next page's token, if any, in the stream's schema metadata (``next_page_token``)."""
        import pyarrow as pa

        page_size = check_max_results(
            self.max_results(RUN_FRAME_MAX_RESULTS), RUN_FRAME_MAX_RESULTS
        )
        offset = paging.decode(self.query("page_token"))
        end = offset + page_size
        # one run more than the page tells whether another page exists
        frame = await self.search(
            self.store.search_runs_frame,
            self.experiment_ids(),
            self.query("filter"),
            self.view_type(),
            page_size + 1,
            self.get_query_arguments("order_by") or None,
            offset,
        )
        table = pa.Table.from_pandas(frame.iloc[:page_size], preserve_index=False)
        if len(frame) > page_size:
            metadata = {**(table.schema.metadata or {}), b"next_page_token": paging.encode(end)}
            table = table.replace_schema_metadata(metadata)
        self.send_arrow(table)


class RunColumnsHandler(NativeHandler):
    @web.authenticated
    async def get(self) -> None:
        """The metric, param and tag keys a runs table of these experiments can show."""
        self.send_json(
            await self.call(ui_queries.run_columns, self.owned_store, self.experiment_ids())
        )


class BatchesHandler(NativeHandler):
    body_limit_setting = "max_batch_body_bytes"
    body_limit_default = DEFAULT_MAX_BATCH_BODY_BYTES

    @web.authenticated
    async def post(self) -> None:
        """Apply a write batch in one transaction: an Arrow IPC stream (``Content-Type:
        application/vnd.apache.arrow.stream``, see ``store/wire.py``) or, with any other
        type, ``WriteBatch.to_json``. Both are checked value by value before anything is
        written; both bodies take the batch body limit. The checks run on a worker thread, as
        the write does: a sweep's batch of thousands of runs takes them tens of milliseconds."""
        skip_invalid = parsing.flag(self.query("skip_invalid"), "skip_invalid")
        media_type = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type == ARROW_STREAM:
            batch = await self.call(parsing.batch_from_arrow, self.request_body())
        else:
            batch = await self.call(parsing.batch_from_json, self.json_body())
        warnings = await self.call(self.store.write_batch, batch, skip_invalid)
        self.send_json({"warnings": warnings})
