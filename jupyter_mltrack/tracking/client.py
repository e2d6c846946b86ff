"""The explicit-id tracking API: every call names its run or experiment.

The fluent API (``mlt.log_metric`` …) is a thin layer over this class that supplies the active
run. Writes of logged data are buffered (see :mod:`.buffer`); reads flush first, so a process
always reads what it wrote.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..clock import now_ms
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
from ..errors import MltrackError
from ..store import rules, run_owner
from ..store.batch import (
    ArtifactRow,
    InputRow,
    MetricSeriesRow,
    ParamRow,
    RunUpdateRow,
    TagRow,
)
from ..store.contract import AbstractStore
from ..validation import (
    INT64_MAX,
    INT64_MIN,
    check_artifact_path,
    check_key,
    check_metric_value,
    check_name,
    check_step,
    check_timestamp,
    param_value_to_str,
    tag_value_to_str,
)
from . import context, formats, lineage
from .session import RunState, TrackingSession, get_session


class PagedList(list):
    """A page of results; ``token`` fetches the next page (None on the last)."""

    def __init__(self, items: Iterable[Any], token: str | None):
        super().__init__(items)
        self.token = token


class MltrackClient:
    """Tracking operations on runs and experiments named by id.

    Parameters
    ----------
    store:
        The store directory; by default ``MLTRACK_STORE`` or ``~/.mltrack``.
    """

    def __init__(self, store: str | os.PathLike[str] | None = None):
        self._session: TrackingSession = get_session(store)

    @property
    def store_dir(self) -> Path:
        """Where this client's data goes."""
        return self._session.store_dir

    def flush(self) -> None:
        """Make everything logged so far durable.

        Raises
        ------
        MltrackError
            When the store refused something this process logged since the last ``flush()``
            (a param another process logged with another value, a run another process deleted):
            everything else was written; the refused rows were not, and the error names them.
        """
        self._session.flush()
        self._session.raise_refusals()

    @property
    def store(self) -> AbstractStore:
        """The store this client writes to, after a flush (so reads through it see every write).

        The one public way for other parts of the package (models, magics, widgets, the CLI)
        to reach the store behind a client.
        """
        self._session.flush()
        return self._session.store

    @property
    def session(self) -> TrackingSession:
        """The tracking session (store, buffer, flusher and run cache) behind this client."""
        return self._session

    # experiments ---------------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Create an experiment; return its id."""
        return self._session.store.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._session.store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self._session.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        items, token = self._session.store.search_experiments(
            view_type, filter_string, max_results, order_by, page_token
        )
        return PagedList(items, token)

    def all_experiments(
        self, view_type: str = ViewType.ACTIVE_ONLY, filter_string: str | None = None
    ) -> list[Experiment]:
        """Every matching experiment, read a page at a time (a store caps one page)."""
        found: list[Experiment] = []
        token = None
        while True:
            page = self.search_experiments(view_type, 1000, filter_string, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._session.store.rename_experiment(experiment_id, new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self._session.flush()
        self._session.store.delete_experiment(str(experiment_id))
        self._forget_runs()

    def restore_experiment(self, experiment_id: str) -> None:
        self._session.store.restore_experiment(str(experiment_id))
        self._forget_runs()

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        self._session.store.set_experiment_tag(experiment_id, key, value)

    # runs ----------------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str = "0",
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        description: str | None = None,
    ) -> Run:
        """Create a RUNNING run with MLflow's system tags (user, source, run name, parent).

        Buffered like everything logged to it: the id is made here and the run reaches the store
        with the next flush, in one transaction with whatever it logs meanwhile. Everything the
        store's rules can check without the store is checked now; what only the store can see
        (another process deleted the experiment) surfaces at the next logging call or flush.
        """
        user = _user()
        source_name, source_type = _source()
        system = {
            "mlflow.user": user,
            "mlflow.source.name": source_name,
            "mlflow.source.type": source_type,
        }
        if parent_run_id:
            system["mlflow.parentRunId"] = parent_run_id
        if description:
            system["mlflow.note.content"] = description
        # git commit and dirtiness, Python and library versions, owning process (never raises)
        found = lineage.collect(source_name)
        system.update(found.tags)
        session = self._session
        experiment = session.experiment(rules.check_experiment_id(experiment_id))
        # the run's name (given, from the mlflow.runName tag, or generated) is the store's rule
        rows, run = session.store.new_run(
            experiment,
            run_name,
            user,
            start_time if start_time is not None else now_ms(),
            {**system, **(tags or {})},
            parent_run_id,
        )
        session.add_new_run(
            rows, RunState(run.info.run_id, run.info.experiment_id, RunStatus.RUNNING, "active")
        )
        if found.diff:
            try:
                self._log_bytes(run.info.run_id, lineage.DIFF_ARTIFACT, found.diff)
            except (MltrackError, OSError) as exc:  # the run exists; a missing diff is no reason
                lineage.log.warning("jupyter-mltrack: could not store the git diff: %s", exc)
        return run

    def get_run(self, run_id: str) -> Run:
        """The run as stored, including everything this process has logged to it."""
        self._session.flush()
        return self._session.store.get_run(run_id)

    def resume_run(self, run_id: str) -> Run:
        """Set a run back to RUNNING so it can be logged to again (INVALID_STATE if deleted)."""
        self._session.flush()
        # checked before anything changes: a deleted run stays as it is
        if self._session.store.get_run(run_id).info.lifecycle_stage != "active":
            raise rules.deleted_run_error(run_id, "resuming it")
        # This process takes the run over: the owner tags name it, so the reaper judges the
        # run by this process's life, not by that of the process that started it.
        owner: dict[str, str | None] = {
            run_owner.PROCESS_START_TAG: None,
            run_owner.END_REASON_TAG: None,
            **run_owner.owner_tags(),
        }
        run = self._session.store.update_run(run_id, status=RunStatus.RUNNING, tags=owner)
        self._session.remember(
            RunState(
                run_id, run.info.experiment_id, RunStatus.RUNNING, "active", dict(run.data.params)
            )
        )
        return run

    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """End a run: its status and end time are written with the next flush, after what it
        logged (``flush()`` waits for it)."""
        if status not in RunStatus.TERMINAL:
            raise MltrackError(
                f"end status must be one of {', '.join(RunStatus.TERMINAL)}, got {status!r}"
            )
        if end_time is not None:
            check_timestamp(end_time)
        state = self._session.writable_run(run_id)
        self._session.buffer.add_run_updates(
            [RunUpdateRow(run_id, status, end_time if end_time is not None else now_ms())]
        )
        state.status = status
        # Durable at the next flush, which starts now in the background: a sweep of short
        # runs does not wait for the store once per run, and a run ends in the store (and the
        # UI) within moments.
        self._session.flusher.wake()

    def update_run(self, run_id: str, name: str | None = None, status: str | None = None) -> Run:
        """Rename a run or change its status."""
        self._session.flush()
        run = self._session.store.update_run(run_id, status=status, run_name=name)
        self._session.run_state(run_id).status = run.info.status
        return run

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (``restore_run`` brings it back; ``mltrack gc`` removes it)."""
        self._session.flush()
        self._session.store.delete_run(run_id)
        self._session.run_state(run_id).lifecycle_stage = "deleted"

    def restore_run(self, run_id: str) -> None:
        self._session.store.restore_run(run_id)
        self._session.run_state(run_id).lifecycle_stage = "active"

    # logging (buffered) --------------------------------------------------------------------
    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> None:
        """Log one metric point. Returns in about a microsecond; the write is buffered."""
        self._session.writable_run(run_id)
        key, value, step, timestamp = rules.check_metric_point(
            key,
            value,
            0 if step is None else step,
            int(time.time() * 1000) if timestamp is None else timestamp,  # clock.now_ms, inlined
        )
        self._session.buffer.add_metric(
            run_id, key, value, step, timestamp, context.current.cell_id
        )

    def log_metric_series(
        self,
        run_id: str,
        key: str,
        values: Any,
        steps: Any = None,
        timestamps: Any = None,
    ) -> None:
        """Log many points of one metric at once from arrays or lists.

        ``steps`` defaults to 0, 1, 2, …; ``timestamps`` to now. The fastest way to log a
        history that already exists as an array (a loss curve, a profile).
        """
        import numpy as np

        self._session.writable_run(run_id)
        check_key(key, "metric key")
        try:
            vals = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise MltrackError(f"metric {key!r}: values must be numbers") from None
        if vals.ndim != 1:
            raise MltrackError(f"metric {key!r}: values must be one-dimensional")
        n = len(vals)
        step_arr = np.arange(n, dtype=np.int64) if steps is None else np.asarray(steps)
        if timestamps is None:
            ts_arr = np.full(n, now_ms(), dtype=np.int64)
        else:
            ts_arr = np.asarray(timestamps)
        for name, arr in (("steps", step_arr), ("timestamps", ts_arr)):
            if arr.shape != (n,) or (n and arr.dtype.kind not in "iu"):
                raise MltrackError(f"metric {key!r}: {name} must be {n} integers")
        if n and ts_arr.min() < 0:
            raise MltrackError(f"metric {key!r}: timestamps must not be negative")
        self._session.buffer.add_series(
            [
                MetricSeriesRow(
                    run_id,
                    key,
                    context.current.cell_id,
                    vals.copy(),  # the caller may reuse its array after we return
                    step_arr.astype(np.int64),
                    ts_arr.astype(np.int64),
                )
            ],
        )

    def log_param(self, run_id: str, key: str, value: Any) -> Any:
        """Log a param; a param keeps its first value (changing it raises). Returns ``value``."""
        self.log_batch(run_id, params=[Param(key, value)])
        return value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.log_batch(run_id, tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self._session.writable_run(run_id)
        check_key(key, "tag key")
        self._session.buffer.add_tags([TagRow(run_id, key, None, context.current.cell_id)])

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Iterable[Param] = (),
        tags: Iterable[RunTag] = (),
    ) -> None:
        """Log many metrics, params and tags at once. Everything is checked before anything is
        buffered, so a bad item leaves the run unchanged."""
        state = self._session.writable_run(run_id)
        cell = context.current.cell_id
        series = _metric_series(metrics)
        param_rows = []
        pending: dict[str, str] = {}
        for p in params:
            check_key(p.key, "param key")
            text = param_value_to_str(p.key, p.value)
            old = pending.get(p.key, state.params.get(p.key))
            rules.check_param_unchanged(run_id, p.key, old, text)
            if old is None:
                pending[p.key] = text
                param_rows.append(ParamRow(run_id, p.key, text, cell))
        tag_rows = [
            TagRow(run_id, check_key(t.key, "tag key"), tag_value_to_str(t.key, t.value), cell)
            for t in tags
        ]
        state.params.update(pending)
        if series:
            self._session.buffer.add_series(
                [MetricSeriesRow(run_id, k, cell, *cols) for k, cols in series.items()]
            )
        if param_rows:
            self._session.buffer.add_params(param_rows)
        if tag_rows:
            self._session.buffer.add_tags(tag_rows)

    def log_input(
        self,
        run_id: str,
        dataset: Dataset,
        context_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record that a run used a dataset (``context_name``: e.g. "training")."""
        state = self._session.writable_run(run_id)
        if not isinstance(dataset, Dataset):
            raise MltrackError(
                f"log_input takes a jupyter_mltrack Dataset (see mlt.data.from_pandas), "
                f"got {type(dataset).__name__}"
            )
        check_name(dataset.name, "dataset name")
        check_name(dataset.digest, "dataset digest")
        tag_map = {check_key(k, "tag key"): tag_value_to_str(k, v) for k, v in (tags or {}).items()}
        if context_name is not None:
            tag_map["mlflow.data.context"] = tag_value_to_str("context", context_name)
        self._session.buffer.add_inputs(
            [
                InputRow(
                    run_id,
                    state.experiment_id,
                    dataset.name,
                    dataset.digest,
                    dataset.source_type,
                    dataset.source,
                    dataset.schema,
                    dataset.profile,
                    context_name,
                    json.dumps(tag_map),
                    context.current.cell_id,
                )
            ],
        )

    # artifacts -----------------------------------------------------------------------------
    def _index(self, run_id: str, written: list[tuple[str, int, str]]) -> None:
        cell = context.current.cell_id
        now = now_ms()
        self._session.buffer.add_artifacts(
            [ArtifactRow(run_id, rel, size, media, cell, now) for rel, size, media in written]
        )

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy a file into the run's artifacts (under ``artifact_path`` if given)."""
        self._session.writable_run(run_id)
        if not Path(local_path).is_file():
            raise MltrackError(f"log_artifact: {local_path} is not a file")
        self._session.ensure_stored(run_id)
        self._index(
            run_id, self._session.store.save_artifact_files(run_id, Path(local_path), artifact_path)
        )

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> None:
        """Copy a folder's files into the run's artifacts."""
        self._session.writable_run(run_id)
        if not Path(local_dir).is_dir():
            raise MltrackError(f"log_artifacts: {local_dir} is not a folder")
        self._session.ensure_stored(run_id)
        self._index(
            run_id, self._session.store.save_artifact_files(run_id, Path(local_dir), artifact_path)
        )

    def _log_bytes(self, run_id: str, artifact_file: str, data: bytes) -> None:
        self._session.writable_run(run_id)
        self._session.ensure_stored(run_id)  # the store writes files where the run's row says
        self._index(run_id, [self._session.store.save_artifact_bytes(run_id, artifact_file, data)])

    def _check_file(self, run_id: str, artifact_file: str) -> str:
        self._session.writable_run(run_id)
        rel = check_artifact_path(artifact_file, "artifact file")
        if not rel:
            raise MltrackError("artifact file name must not be empty")
        return rel

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        rel = self._check_file(run_id, artifact_file)
        if not isinstance(text, str):
            raise MltrackError(f"log_text takes a str, got {type(text).__name__}")
        self._log_bytes(run_id, rel, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: dict, artifact_file: str) -> None:
        rel = self._check_file(run_id, artifact_file)
        self._log_bytes(run_id, rel, formats.dict_bytes(dictionary, rel))

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        rel = self._check_file(run_id, artifact_file)
        self._log_bytes(run_id, rel, formats.figure_bytes(figure, rel))

    def log_image(self, run_id: str, image: Any, artifact_file: str) -> None:
        rel = self._check_file(run_id, artifact_file)
        self._log_bytes(run_id, rel, formats.image_bytes(image, rel))

    def log_table(self, run_id: str, data: Any, artifact_file: str) -> None:
        rel = self._check_file(run_id, artifact_file)
        self._log_bytes(run_id, rel, formats.table_bytes(data, rel))

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[ArtifactInfo]:
        """One folder of a run's artifacts (the root by default)."""
        self._session.flush()
        return self._session.store.list_artifacts(run_id, check_artifact_path(path))

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Copy an artifact file or folder to ``dst_path`` (a temporary folder by default)."""
        import shutil
        import tempfile

        self._session.flush()
        source = self._session.store.artifact_file(run_id, path)
        dst = Path(dst_path or tempfile.mkdtemp(prefix="mltrack-"))
        dst.mkdir(parents=True, exist_ok=True)
        target = dst / source.name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
        return str(target)

    # reads ---------------------------------------------------------------------------------
    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every point of one metric, ordered by step (columns, not objects: see MetricHistory)."""
        check_key(key, "metric key")
        self._session.flush()
        return self._session.store.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment_ids: list[str] | str,
        filter_string: str = "",
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs matching a filter (MLflow's grammar, plus OR and parentheses), one page."""
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        self._session.flush()
        items, token = self._session.store.search_runs(
            [str(e) for e in experiment_ids],
            filter_string,
            run_view_type,
            max_results,
            order_by,
            page_token,
        )
        return PagedList(items, token)

    def search_runs_frame(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: str = ViewType.ACTIVE_ONLY,
        max_results: int = 100_000,
        order_by: list[str] | None = None,
    ) -> Any:
        """Matching runs as a pandas DataFrame with MLflow's column names."""
        self._session.flush()
        return self._session.store.search_runs_frame(
            [str(e) for e in experiment_ids], filter_string, run_view_type, max_results, order_by
        )

    def get_cells(self, run_id: str) -> list[Cell]:
        """The notebook cells executed while the run was active, in order."""
        self._session.flush()
        return self._session.store.get_cells(run_id)

    def _forget_runs(self) -> None:
        # an experiment's lifecycle changed its runs' too: re-read their state on next use
        self._session.forget_runs()


def _metric_series(metrics: Iterable[Metric]) -> dict[str, tuple[list, list, list]]:
    """Check metric points and group them per key into (values, steps, timestamps) columns,
    the layout the buffer and the store's Arrow insert use.

    Runs per column rather than per point: a million points must cost well under a second.
    Anything with ``key``, ``value``, ``timestamp`` and ``step`` attributes is accepted (MLflow's
    Metric objects too); :class:`Metric` tuples take the fast path.
    """
    rows = metrics if isinstance(metrics, list) else list(metrics)
    if not rows:
        return {}
    if set(map(type, rows)) == {Metric}:
        keys, values, timestamps, steps = (list(col) for col in zip(*rows))
    else:
        keys = [m.key for m in rows]
        values = [m.value for m in rows]
        timestamps = [m.timestamp for m in rows]
        steps = [m.step for m in rows]
    for key in set(keys) if set(map(type, keys)) == {str} else keys:
        check_key(key, "metric key")
    # type sets and min/max run in C: a fraction of a per-item check in Python
    if set(map(type, values)) != {float}:
        values = [check_metric_value(k, v) for k, v in zip(keys, values)]
    if set(map(type, steps)) != {int} or min(steps) < INT64_MIN or max(steps) > INT64_MAX:
        steps = [check_step(s) for s in steps]
    if set(map(type, timestamps)) != {int} or min(timestamps) < 0 or max(timestamps) > INT64_MAX:
        timestamps = [check_timestamp(t) for t in timestamps]
    distinct = set(keys)
    if len(distinct) == 1:
        return {keys[0]: (values, steps, timestamps)}
    if len(rows) >= _GROUP_IN_NUMPY:
        return _group_in_numpy(list(distinct), keys, values, steps, timestamps)
    series: dict[str, tuple[list, list, list]] = {k: ([], [], []) for k in distinct}
    for key, value, step, ts in zip(keys, values, steps, timestamps):
        columns = series[key]
        columns[0].append(value)
        columns[1].append(step)
        columns[2].append(ts)
    return series


# Past this many points, grouping by key is a stable sort in numpy rather than a Python loop.
_GROUP_IN_NUMPY = 2_000


def _group_in_numpy(
    distinct: list[str], keys: list, values: list, steps: list, timestamps: list
) -> dict[str, tuple[Any, Any, Any]]:
    """:func:`_metric_series`'s grouping for many points: columns as numpy arrays per key,
    each in the order logged."""
    import numpy as np

    position = {key: i for i, key in enumerate(distinct)}
    codes = np.fromiter(map(position.__getitem__, keys), np.int32, len(keys))
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=len(distinct)))
    columns = [
        np.asarray(values, np.float64)[order],
        np.asarray(steps, np.int64)[order],
        np.asarray(timestamps, np.int64)[order],
    ]
    out = {}
    start = 0
    for key, stop in zip(distinct, bounds.tolist()):
        out[key] = (columns[0][start:stop], columns[1][start:stop], columns[2][start:stop])
        start = stop
    return out


@functools.cache
def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def _source() -> tuple[str, str]:
    """The notebook (Jupyter sets JPY_SESSION_NAME in kernels) or the script being run."""
    import sys

    notebook = lineage.notebook_path()
    if notebook:
        return notebook, "NOTEBOOK"
    script = sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>"
    if os.path.basename(script) == "ipykernel_launcher.py":
        # a kernel started outside a Jupyter session (nbclient, jupyter_client, VS Code …)
        return "<notebook>", "NOTEBOOK"
    return script, "LOCAL"
