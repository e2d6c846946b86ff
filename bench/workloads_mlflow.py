"""The MLflow workers of the tracking benchmark: SQLite in-process, or ``mlflow server``."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from workloads_common import (
    MLFLOW_BATCH_LIMIT,
    SEARCH_FILTER,
    SEARCH_ORDER,
    RunSpec,
    Sizes,
    Target,
    budgeted_lifecycles,
    check,
    check_lifecycle_frame,
    expected_top,
    lifecycles,
    median,
    perf,
    repeat,
    run_specs,
)


def _mlflow(target: Target, workload: str) -> tuple[Any, Any, str]:
    """MLflow on this worker's copy of the template database, or on the bench's ``mlflow
    server`` (each workload in its own experiment there); returns (mlflow, client, exp)."""
    import mlflow
    from mlflow import MlflowClient

    if target.server:
        mlflow.set_tracking_uri(target.extra["tracking_uri"])
        client = MlflowClient()
        exp = client.create_experiment(f"bench-{workload}-{uuid.uuid4().hex[:8]}")
    else:
        mlflow.set_tracking_uri(f"sqlite:///{target.tmp / 'mlflow.db'}")
        client = MlflowClient()
        exp = client.create_experiment(
            f"bench-{workload}", artifact_location=(target.tmp / "mlartifacts").as_uri()
        )
    return mlflow, client, exp


def _mlflow_db(target: Target) -> Path:
    """The SQLite file behind MLflow on this worker's path."""
    return Path(target.extra["mlflow_db"]) if target.server else target.tmp / "mlflow.db"


def _mlflow_metrics(keys: list[str], start: int, stop: int, ts: int) -> list[Any]:
    from mlflow.entities import Metric

    return [Metric(k, s * 1e-3, ts, s) for s in range(start, stop) for k in keys]


def mlflow_log_metric(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Fluent ``mlflow.log_metric`` latency; each call is durable when it returns."""
    mlflow, client, exp = _mlflow(target, "log_metric")
    run = mlflow.start_run(experiment_id=exp, run_name="latency")
    for i in range(5):  # warm-up
        mlflow.log_metric("warmup", 0.5, step=i)

    log_metric = mlflow.log_metric
    per_call: list[float] = []
    t_start = perf()
    for step in range(sizes.mlflow_log_metric_calls):
        t0 = perf()
        log_metric("loss", 0.25, step=step)
        per_call.append(perf() - t0)
    t_durable = perf()

    calls = sizes.mlflow_log_metric_calls
    check(len(client.get_metric_history(run.info.run_id, "loss")) == calls, "MLflow lost points")
    mlflow.end_run()
    return {
        "calls": calls,
        "block": 1,
        "per_call_median_s": median(per_call),
        "per_call_mean_s": (t_durable - t_start) / calls,
        "loop_s": t_durable - t_start,
        "durable_s": t_durable - t_start,
    }


def mlflow_points_batch(target: Target, sizes: Sizes) -> dict[str, Any]:
    """``mlflow_points`` points through ``MlflowClient.log_batch``, 1,000 per call."""
    _, client, exp = _mlflow(target, "points_batch")
    run_id = client.create_run(exp, run_name="points").info.run_id
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    steps = sizes.mlflow_points // len(keys)
    ts = int(time.time() * 1000)
    steps_per_call = MLFLOW_BATCH_LIMIT // len(keys)

    t0 = perf()
    for start in range(0, steps, steps_per_call):
        metrics = _mlflow_metrics(keys, start, min(start + steps_per_call, steps), ts)
        client.log_batch(run_id, metrics=metrics)
    t_durable = perf()

    check(len(client.get_metric_history(run_id, keys[-1])) == steps, "MLflow lost points")
    return {"points": steps * len(keys), "chunk": MLFLOW_BATCH_LIMIT, "durable_s": t_durable - t0}


def mlflow_points_loop(target: Target, sizes: Sizes) -> dict[str, Any]:
    """``mlflow_loop_points`` points, one fluent ``mlflow.log_metric`` call each."""
    mlflow, client, exp = _mlflow(target, "points_loop")
    run = mlflow.start_run(experiment_id=exp, run_name="points-loop")
    keys = [f"metric_{k}" for k in range(sizes.metric_keys)]
    steps = max(1, sizes.mlflow_loop_points // len(keys))
    log_metric = mlflow.log_metric

    t0 = perf()
    for step in range(steps):
        for key in keys:
            log_metric(key, step * 1e-3, step=step)
    t_durable = perf()

    check(len(client.get_metric_history(run.info.run_id, keys[0])) == steps, "lost points")
    mlflow.end_run()
    return {"points": steps * len(keys), "durable_s": t_durable - t0}


def mlflow_history(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Write one (shorter) metric history, then time ``MlflowClient.get_metric_history``."""
    _, client, exp = _mlflow(target, "history")
    run_id = client.create_run(exp, run_name="history").info.run_id
    ts = int(time.time() * 1000)
    points = min(sizes.mlflow_history_points, sizes.history_points)
    for start in range(0, points, MLFLOW_BATCH_LIMIT):
        stop = min(start + MLFLOW_BATCH_LIMIT, points)
        client.log_batch(run_id, metrics=_mlflow_metrics(["loss"], start, stop, ts))

    timing = repeat(lambda: client.get_metric_history(run_id, "loss"), sizes.mlflow_history_repeats)
    history = timing.pop("result")
    check(len(history) == points, "wrong history length")
    return {"points": points, **timing}


def mlflow_runs(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Create runs through MLflow's API (``mlflow_api_runs`` of them, timed), put the rest
    straight into its SQLite tables (setup), then time a filtered search and
    ``mlflow.search_runs``."""
    mlflow, client, exp = _mlflow(target, "runs")
    from mlflow.entities import Metric, Param, RunTag

    specs = run_specs(sizes.runs)
    through_api = min(sizes.mlflow_api_runs, sizes.runs)
    ts = int(time.time() * 1000)

    t0 = perf()
    for spec in specs[:through_api]:
        run_id = client.create_run(exp, run_name=spec.name, start_time=ts).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in spec.metrics.items()],
            params=[Param(k, v) for k, v in spec.params.items()],
            tags=[RunTag(k, v) for k, v in spec.tags.items()],
        )
    setup_s = perf() - t0
    artifact_root = client.get_experiment(exp).artifact_location
    _mlflow_insert_runs(_mlflow_db(target), exp, artifact_root, specs[through_api:], ts)

    search = repeat(
        lambda: client.search_runs([exp], SEARCH_FILTER, order_by=SEARCH_ORDER, max_results=100),
        sizes.mlflow_query_repeats,
    )
    top = [r.info.run_name for r in search.pop("result")]
    check(top == expected_top(specs), "MLflow search_runs returned unexpected runs")

    frame = repeat(lambda: mlflow.search_runs(experiment_ids=[exp]), sizes.mlflow_frame_repeats)
    df = frame.pop("result")
    check(len(df) == sizes.runs, f"DataFrame has {len(df)} rows, expected {sizes.runs}")
    return {
        "runs": sizes.runs,
        "api_runs": through_api,
        "setup_s": setup_s,
        "search": search,
        "search_top": top,
        "frame": frame,
        "frame_columns": len(df.columns),
    }


def _mlflow_insert_runs(
    db_path: Path, exp: str, artifact_root: str, specs: list[RunSpec], ts: int
) -> None:
    """Runs with their params, metrics and tags straight into MLflow's tables (setup: its API
    takes tens of milliseconds a run; the search check confirms MLflow reads them as runs)."""
    import sqlite3

    if not specs:
        return
    runs, tags, params, metrics = [], [], [], []
    for spec in specs:
        run_id = uuid.uuid4().hex
        runs.append((
            run_id, spec.name, "LOCAL", "bench", "", "bench", "FINISHED", ts, ts + 1, "",
            "active", f"{artifact_root}/{run_id}/artifacts", int(exp),
        ))  # fmt: skip
        tags += [(k, v, run_id) for k, v in {**spec.tags, "mlflow.runName": spec.name}.items()]
        params += [(k, v, run_id) for k, v in spec.params.items()]
        metrics += [(k, v, ts, run_id, 0, 0) for k, v in spec.metrics.items()]
    con = sqlite3.connect(db_path, timeout=120)  # the server may hold the file a moment
    try:
        con.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            runs,
        )
        con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
        con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
        for table in ("metrics", "latest_metrics"):
            con.executemany(
                f"INSERT INTO {table} (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
            )
        con.commit()
    finally:
        con.close()


def mlflow_lifecycle(target: Target, sizes: Sizes) -> dict[str, Any]:
    """The same lifecycle with ``mlflow.start_run()`` etc., on fewer runs (then scaled)."""
    mlflow, _, exp = _mlflow(target, "lifecycle")
    warm = _mlflow(target, "lifecycle-warm-up")[2]
    mlflow.set_experiment(experiment_id=warm)
    lifecycles(mlflow, 0, 2, {"team": "bench", "stage": "warm-up"})
    mlflow.set_experiment(experiment_id=exp)

    result = budgeted_lifecycles(
        mlflow,
        sizes.mlflow_lifecycle_runs,
        sizes.mlflow_lifecycle_budget_s,
        {"team": "bench", "stage": "timed"},
        None,
    )
    check_lifecycle_frame(mlflow.search_runs(experiment_ids=[exp]), result["runs"], "MLflow")
    return result


def mlflow_prepare(target: Target, sizes: Sizes) -> dict[str, Any]:
    """Create the migrated template database the MLflow workers (and its server) copy."""
    from mlflow import MlflowClient

    t0 = perf()
    MlflowClient(tracking_uri=f"sqlite:///{target.tmp / 'mlflow.db'}").search_experiments()
    return {"migrate_s": perf() - t0}
